//! Metadata: one list of entries per language, read from a folder of `<lang>.txt` files.
//!
//! MetaCLIP 2 (Chuang et al., arXiv 2507.22062, §3.1) keeps one metadata list per language
//! (the reference writes `data/metadata/{lang}.json`); kiln stores each list as a plain UTF-8
//! file, one entry per line, so it can be read, diffed and edited with standard tools.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::error::{Error, Result};
use super::normalise::python_strip;

/// Longest entry kept, in characters (MetaCLIP 2 `build_metadata.py` drops longer ones).
pub const MAX_ENTRY_CHARS: usize = 256;

/// The entries of one language, in file order, without duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanguageMetadata {
    /// Language code: the file stem, e.g. `en` for `en.txt`.
    pub lang: String,
    /// Entries, each stripped of surrounding whitespace, first occurrence kept.
    pub entries: Vec<String>,
    /// Blank lines skipped.
    pub blank_lines: u64,
    /// Repeated entries skipped.
    pub duplicates: u64,
}

/// Metadata of every language, sorted by language code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub languages: Vec<LanguageMetadata>,
}

impl LanguageMetadata {
    /// Builds a language's metadata from entries (stripped, blanks and duplicates skipped).
    /// An entry that holds a tab, a newline or a carriage return is an error, because it
    /// could never match (`spacing()` turns those into spaces) and it would break the COUNTS
    /// format; `line_of(i)` names the offending line.
    pub fn from_entries<I, S>(lang: &str, entries: I, path: &Path) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut seen = HashSet::new();
        let mut out = LanguageMetadata {
            lang: lang.to_owned(),
            entries: Vec::new(),
            blank_lines: 0,
            duplicates: 0,
        };
        for (i, raw) in entries.into_iter().enumerate() {
            let entry = python_strip(raw.as_ref());
            if entry.is_empty() {
                out.blank_lines += 1;
                continue;
            }
            if entry.contains(['\t', '\n', '\r']) {
                return Err(Error::format(
                    path,
                    i as u64 + 1,
                    "metadata entry holds a tab or line break",
                ));
            }
            if seen.insert(entry.to_owned()) {
                out.entries.push(entry.to_owned());
            } else {
                out.duplicates += 1;
            }
        }
        Ok(out)
    }

    /// Reads `<lang>.txt`: UTF-8, one entry per line (`\n` or `\r\n`).
    pub fn read(lang: &str, path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let text = match std::str::from_utf8(&bytes) {
            Ok(text) => text,
            Err(e) => {
                let line = bytes[..e.valid_up_to()]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count();
                return Err(Error::format(path, line as u64 + 1, "invalid UTF-8"));
            }
        };
        Self::from_entries(lang, text.lines(), path)
    }
}

impl Metadata {
    /// Reads every `<lang>.txt` in `dir`. Other files are ignored.
    pub fn read_dir(dir: &Path) -> Result<Self> {
        let mut files: Vec<(String, PathBuf)> = Vec::new();
        for item in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let path = item.map_err(|e| Error::io(dir, e))?.path();
            if path.extension().is_some_and(|e| e == "txt")
                && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
            {
                files.push((stem.to_owned(), path));
            }
        }
        if files.is_empty() {
            return Err(Error::EmptyMetadata { path: dir.into() });
        }
        files.sort();
        let languages = files
            .iter()
            .map(|(lang, path)| LanguageMetadata::read(lang, path))
            .collect::<Result<Vec<_>>>()?;
        Ok(Metadata { languages })
    }

    /// Builds metadata from `(lang, entries)` pairs (used by tests and the builder).
    pub fn from_languages(mut languages: Vec<LanguageMetadata>) -> Self {
        languages.sort_by(|a, b| a.lang.cmp(&b.lang));
        Metadata { languages }
    }

    /// Total number of entries over all languages.
    pub fn len(&self) -> usize {
        self.languages.iter().map(|l| l.entries.len()).sum()
    }

    /// Whether no language has an entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_skips_blanks_and_duplicates() {
        let m = LanguageMetadata::from_entries(
            "en",
            [" cat ", "", "dog", "cat", "  ", "hot dog"],
            Path::new("en.txt"),
        )
        .unwrap();
        assert_eq!(m.entries, ["cat", "dog", "hot dog"]);
        assert_eq!((m.blank_lines, m.duplicates), (2, 1));
    }

    #[test]
    fn tab_in_entry_names_the_line() {
        let err = LanguageMetadata::from_entries("en", ["a", "b\tc"], Path::new("en.txt"))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "en.txt:2: metadata entry holds a tab or line break");
    }

    #[test]
    fn reads_a_folder_and_reports_bad_utf8_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("en.txt"), "cat\r\ndog\n").unwrap();
        std::fs::write(dir.path().join("de.txt"), "Katze\n").unwrap();
        std::fs::write(dir.path().join("README"), "not metadata").unwrap();
        let m = Metadata::read_dir(dir.path()).unwrap();
        let langs: Vec<_> = m.languages.iter().map(|l| l.lang.as_str()).collect();
        assert_eq!(langs, ["de", "en"]);
        assert_eq!(m.languages[1].entries, ["cat", "dog"]);

        std::fs::write(dir.path().join("fr.txt"), b"chat\nchi\xffen\n").unwrap();
        let err = Metadata::read_dir(dir.path()).unwrap_err().to_string();
        assert!(err.ends_with("fr.txt:2: invalid UTF-8"), "{err}");
    }

    #[test]
    fn empty_folder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Metadata::read_dir(dir.path()),
            Err(Error::EmptyMetadata { .. })
        ));
    }
}
