//! kiln's curation agrees exactly with the reference implementation.
//!
//! The fixture `tests/data/reference/expected.json` is written by
//! `tools/reference/curation_reference.py` (pyahocorasick + numpy, the MetaCLIP 2 reference
//! algorithm of `metaclip/curation/` with its known bugs fixed) from the committed input
//! `tests/data/reference/input.jsonl` (made by `tools/reference/curation_input.py`) and the
//! metadata in `tests/data/reference/metadata/`. Matched entries per text, counts, `p`,
//! thresholds and probabilities must all be equal, floats bit for bit.

use std::path::{Path, PathBuf};

use kiln_clip::curation::{
    Matcher, Metadata, NoProgress, Options, Probabilities, Thresholds, count, parse_line,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    texts: Vec<Text>,
    counts: Vec<(String, String, u64)>,
    settings: Vec<Setting>,
}

#[derive(Deserialize)]
struct Text {
    line: usize,
    lang: Option<String>,
    entries: Vec<String>,
}

#[derive(Deserialize)]
struct Setting {
    t_en: u64,
    p: f64,
    thresholds: std::collections::BTreeMap<String, u64>,
    probabilities: Vec<(String, String, f64)>,
}

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/reference")
}

fn setup() -> (Matcher, Fixture) {
    let metadata = Metadata::read_dir(&data().join("metadata")).unwrap();
    let matcher = Matcher::new(&metadata).unwrap();
    let fixture: Fixture =
        serde_json::from_str(&std::fs::read_to_string(data().join("expected.json")).unwrap())
            .unwrap();
    (matcher, fixture)
}

#[test]
fn matched_entries_per_text_agree() {
    let (matcher, fixture) = setup();
    let input = std::fs::read_to_string(data().join("input.jsonl")).unwrap();
    let lines: Vec<&str> = input.lines().collect();
    assert_eq!(lines.len(), fixture.texts.len());
    for text in &fixture.texts {
        let rec = parse_line(lines[text.line - 1]).unwrap();
        let resolved = matcher.resolve(rec.lang.as_deref(), &rec.text);
        let mut got: Vec<&str> = match resolved.lang {
            Some(l) => matcher.matched_entries(&matcher.languages()[l as usize].lang, &rec.text),
            None => Vec::new(),
        };
        got.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        assert_eq!(got, text.entries, "line {}: {}", text.line, rec.text);
        let lang = resolved
            .lang
            .filter(|_| !got.is_empty())
            .map(|l| matcher.languages()[l as usize].lang.clone());
        assert_eq!(lang, text.lang, "line {}", text.line);
    }
}

#[test]
fn counts_thresholds_and_probabilities_agree() {
    let (matcher, fixture) = setup();
    for threads in [1, 2] {
        let (counts, stats) = count(
            &matcher,
            &[data().join("input.jsonl")],
            Options { threads },
            &NoProgress,
        )
        .unwrap();
        let lines: Vec<(String, String, u64)> = counts
            .lines(&matcher)
            .into_iter()
            .map(|l| (l.lang, l.entry, l.count))
            .collect();
        assert_eq!(lines, fixture.counts);
        let matched = fixture
            .texts
            .iter()
            .filter(|t| !t.entries.is_empty())
            .count();
        assert_eq!(stats.matched as usize, matched);

        for setting in &fixture.settings {
            let th = Thresholds::compute(&matcher, &counts, setting.t_en).unwrap();
            assert_eq!(
                th.p.to_bits(),
                setting.p.to_bits(),
                "p at t_en={}",
                setting.t_en
            );
            assert_eq!(th.per_lang, setting.thresholds, "t_en={}", setting.t_en);
            let probs = Probabilities::new(&matcher, &counts, &th);
            for (lang, entry, p) in &setting.probabilities {
                let li = matcher.language_index(lang).unwrap() as usize;
                let ei = matcher.languages()[li]
                    .entries
                    .iter()
                    .position(|e| e == entry)
                    .unwrap();
                assert_eq!(
                    probs.per_lang[li][ei].to_bits(),
                    p.to_bits(),
                    "{lang} {entry} at t_en={}",
                    setting.t_en
                );
            }
        }
    }
}
