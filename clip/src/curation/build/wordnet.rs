//! English entries from WordNet 3.0 (Debian `wordnet-base`, DATA.md §4 b6).
//!
//! MetaCLIP 1 (arXiv 2309.16671, §3.1; reference `metaclip1/build_metadata.py`) takes every
//! lemma name of every synset, with `_` turned into a space. The lemma names are the words
//! of the `data.{noun,verb,adj,adv}` synset lines, as written there (case kept); adjective
//! syntactic markers such as `(a)` or `(ip)` are not part of the name.

use std::path::Path;

use crate::curation::error::{Error, Result};

/// The lemma names of one `data.*` file, in file order (with repeats).
pub fn lemmas(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        // The licence header lines start with two spaces.
        if line.starts_with("  ") || line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(' ').collect();
        let bad = || Error::format(path, i as u64 + 1, "not a WordNet synset line");
        let count = fields
            .get(3)
            .and_then(|w| usize::from_str_radix(w, 16).ok())
            .ok_or_else(bad)?;
        for k in 0..count {
            let word = fields.get(4 + 2 * k).ok_or_else(bad)?;
            let word = word.split_once('(').map_or(*word, |(w, _)| w);
            out.push(word.replace('_', " "));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_synset_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("data.adj");
        std::fs::write(
            &p,
            "  1 This software and database is being provided\n\
             00002312 00 a 02 abaxial 0 dorsal 4 002 ;c 06037666 n 0000 | facing away\n\
             00003131 00 s 02 Hot_Dog(p) 0 New_York 0 000 | x\n",
        )
        .unwrap();
        assert_eq!(
            lemmas(&p).unwrap(),
            ["abaxial", "dorsal", "Hot Dog", "New York"]
        );
        std::fs::write(&p, "00002312 00 a zz abaxial\n").unwrap();
        assert!(
            lemmas(&p)
                .unwrap_err()
                .to_string()
                .ends_with("data.adj:1: not a WordNet synset line")
        );
    }
}
