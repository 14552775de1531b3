//! Builds per-language metadata from real sources available offline.
//!
//! MetaCLIP 2 (Chuang et al., arXiv 2507.22062, §3.1; reference `metaclip/metadata/
//! build_metadata.py`) builds each language's metadata from Multilingual WordNet, Wikipedia
//! unigrams, bigrams and titles, plus the numbers 0–99; MetaCLIP 1 (arXiv 2309.16671, §3.1)
//! does the same for English with WordNet. Wikipedia is not available offline, so kiln builds
//! the same kind of lists from packaged sources (DATA.md; fetched by
//! `.ci/fetch-curation-data.sh`):
//!
//! | source | languages | stands in for |
//! |---|---|---|
//! | WordNet 3.0 lemma names (`wordnet-base`) | en | WordNet |
//! | Debian word lists (`wamerican`, `wngerman`, …) | 13 | Wikipedia unigrams |
//! | emoji labels and tags (`emojibase-data`, CLDR) | 29 locales | titles / phrases |
//! | country and language names (`iso-codes` + `.mo`) | ~160 locales | titles |
//! | the numbers 0–99 | every language above | numbers |
//!
//! As in the reference, pure-punctuation entries and entries longer than 256 characters are
//! dropped, and a word list longer than the MetaCLIP 2 unigram cap (251,465) is cut to a
//! seeded uniform subset of that size (word lists carry no frequencies to rank by).

mod emoji;
mod isocodes;
mod mo;
mod wordnet;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::lang::normalise_tag;
use super::metadata::{LanguageMetadata, MAX_ENTRY_CHARS, Metadata};
use super::normalise::python_strip;
use super::rng::Key;
use super::script::is_punctuation;

/// MetaCLIP 2's cap on unigrams per language (`build_metadata.py`).
pub const UNIGRAM_CAP: usize = 251_465;

/// Debian word lists: file under `usr/share/dict`, language.
pub const WORD_LISTS: &[(&str, &str)] = &[
    ("american-english", "en"),
    ("ngerman", "de"),
    ("french", "fr"),
    ("spanish", "es"),
    ("italian", "it"),
    ("portuguese", "pt"),
    ("dutch", "nl"),
    ("polish", "pl"),
    ("swedish", "sv"),
    ("danish", "da"),
    ("ukrainian", "uk"),
    ("bulgarian", "bg"),
    ("catalan", "ca"),
];

/// Where the fetched sources lie: `${KILN_DATA}/curation` as laid out by
/// `.ci/fetch-curation-data.sh` (Debian packages unpacked under `deb/`, npm under `npm/`).
#[derive(Debug, Clone)]
pub struct Sources {
    pub root: PathBuf,
}

/// How many entries each source gave a language, and what was dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LanguageReport {
    /// Entries written.
    pub entries: usize,
    /// Entries offered per source (before de-duplication).
    pub sources: BTreeMap<String, usize>,
    /// Entries dropped: only punctuation.
    pub punctuation: usize,
    /// Entries dropped: longer than 256 characters, or holding a tab or line break.
    pub too_long_or_control: usize,
    /// Word-list entries left out by the unigram cap.
    pub capped: usize,
}

/// Per-language report of a build.
pub type BuildReport = BTreeMap<String, LanguageReport>;

#[derive(Default)]
struct Lang {
    seen: HashSet<String>,
    entries: Vec<String>,
    report: LanguageReport,
}

impl Lang {
    fn add(&mut self, source: &str, raw: impl IntoIterator<Item = String>) {
        let mut offered = 0;
        for raw in raw {
            offered += 1;
            let e = python_strip(&raw);
            if e.is_empty() {
                continue;
            }
            if e.chars().all(is_punctuation) {
                self.report.punctuation += 1;
            } else if e.chars().count() > MAX_ENTRY_CHARS || e.contains(['\t', '\n', '\r']) {
                self.report.too_long_or_control += 1;
            } else if !self.seen.contains(e) {
                self.seen.insert(e.to_owned());
                self.entries.push(e.to_owned());
            }
        }
        *self.report.sources.entry(source.to_owned()).or_default() += offered;
    }
}

impl Sources {
    fn deb(&self, rel: &str) -> PathBuf {
        self.root.join("deb/usr/share").join(rel)
    }

    fn emoji_dir(&self) -> PathBuf {
        self.root.join("npm/emojibase-data/package")
    }

    /// Builds the metadata of every language found in the sources.
    pub fn build(&self) -> Result<(Metadata, BuildReport)> {
        let mut langs: BTreeMap<String, Lang> = BTreeMap::new();
        // WordNet (English).
        let mut wn = Vec::new();
        for pos in ["noun", "verb", "adj", "adv"] {
            wn.extend(wordnet::lemmas(&self.deb(&format!("wordnet/data.{pos}")))?);
        }
        entry(&mut langs, "en").add("wordnet", wn);

        // Word lists, capped like MetaCLIP 2's unigrams.
        for (file, code) in WORD_LISTS {
            let path = self.deb(&format!("dict/{file}"));
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            let mut words: Vec<String> = bytes
                .split(|&b| b == b'\n')
                .filter_map(|l| std::str::from_utf8(l).ok())
                .map(str::to_owned)
                .collect();
            let l = entry(&mut langs, code);
            if words.len() > UNIGRAM_CAP {
                l.report.capped += words.len() - UNIGRAM_CAP;
                words.sort_by_cached_key(|w| Key::new(0, 0, w).uniform(0, 0).to_bits());
                words.truncate(UNIGRAM_CAP);
                words.sort();
            }
            l.add("wordlist", words);
        }

        // Emoji labels and tags.
        let dir = self.emoji_dir();
        for item in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let path = item
                .map_err(|e| Error::io(&dir, e))?
                .path()
                .join("data.json");
            if path.is_file() {
                let locale = path.parent().and_then(Path::file_name).unwrap_or_default();
                let code = normalise_tag(&locale.to_string_lossy());
                entry(&mut langs, &code).add("emoji", emoji::labels(&path)?);
            }
        }

        // Country and language names: English from the JSON, the rest from `.mo`.
        for domain in isocodes::DOMAINS {
            let json = self.deb(&format!("iso-codes/json/iso_{domain}.json"));
            entry(&mut langs, "en").add("iso-codes", isocodes::english_names(&json, domain)?);
        }
        let locales = self.deb("locale");
        let mut locale_dirs: Vec<PathBuf> = std::fs::read_dir(&locales)
            .map_err(|e| Error::io(&locales, e))?
            .filter_map(|d| d.ok().map(|d| d.path()))
            .collect();
        locale_dirs.sort();
        for dir in locale_dirs {
            let code = normalise_tag(&dir.file_name().unwrap_or_default().to_string_lossy());
            for domain in isocodes::DOMAINS {
                let mo = dir.join(format!("LC_MESSAGES/iso_{domain}.mo"));
                if mo.is_file() {
                    entry(&mut langs, &code).add("iso-codes", isocodes::translated_names(&mo)?);
                }
            }
        }

        // Numbers 0–99 in every language.
        let mut report = BuildReport::new();
        let mut languages = Vec::new();
        for (code, mut l) in langs {
            // A language that no source names (an empty `.mo`) would hold numbers only.
            if l.entries.is_empty() {
                continue;
            }
            l.add("numbers", (0..100).map(|n| n.to_string()));
            l.entries.sort();
            l.report.entries = l.entries.len();
            let meta = LanguageMetadata::from_entries(&code, &l.entries, Path::new(&code))?;
            languages.push(meta);
            report.insert(code, l.report);
        }
        Ok((Metadata::from_languages(languages), report))
    }
}

fn entry<'a>(langs: &'a mut BTreeMap<String, Lang>, code: &str) -> &'a mut Lang {
    langs.entry(code.to_owned()).or_default()
}

/// Writes `<lang>.txt` for every language and `SOURCES.json` (the report) into `out`,
/// atomically file by file; `<lang>.txt` files of languages no longer built are removed.
pub fn write(metadata: &Metadata, report: &BuildReport, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let keep: HashSet<String> = metadata
        .languages
        .iter()
        .map(|l| format!("{}.txt", l.lang))
        .collect();
    for item in std::fs::read_dir(out).map_err(|e| Error::io(out, e))? {
        let path = item.map_err(|e| Error::io(out, e))?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.ends_with(".txt") && !keep.contains(name.as_ref()) {
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    for l in &metadata.languages {
        let mut text = l.entries.join("\n");
        text.push('\n');
        let path = out.join(format!("{}.txt", l.lang));
        kiln_fsutil::write_atomic(&path, text.as_bytes()).map_err(|e| Error::io(&path, e))?;
    }
    let json = serde_json::to_string_pretty(report).expect("report serialises");
    let path = out.join("SOURCES.json");
    kiln_fsutil::write_atomic(&path, json.as_bytes()).map_err(|e| Error::io(&path, e))
}
