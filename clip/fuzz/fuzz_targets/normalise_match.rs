//! Fuzz target: normalisation + matching (issue 6).
//!
//! Input: metadata entries (one per line) and texts, separated by a NUL byte. Checks that
//! nothing panics, that `spacing()` output is well formed, and that the matcher equals the
//! brute-force reference (`metaclip1/substr_matching.py`: spaced entry `in` spaced text) for
//! every text. Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run normalise_match -- -max_total_time=60`.
#![no_main]

use std::path::Path;

use kiln_clip::curation::normalise::normalise_into;
use kiln_clip::curation::{
    LanguageMetadata, Matcher, Metadata, TextBatch, parse_line, spaced_entry,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (meta, texts) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let meta = String::from_utf8_lossy(meta);
    let texts = String::from_utf8_lossy(texts);
    // Records: any line must parse or be rejected, never panic.
    for line in texts.split('\n') {
        let _ = parse_line(line);
    }
    let entries: Vec<&str> = meta
        .split('\n')
        .filter(|e| !e.contains(['\t', '\r']))
        .take(64)
        .collect();
    let Ok(lang) = LanguageMetadata::from_entries("xx", &entries, Path::new("fuzz")) else {
        return;
    };
    let matcher = Matcher::new(&Metadata::from_languages(vec![lang.clone()])).expect("builds");
    let mut spaced = String::new();
    // The given texts, and the entries themselves joined by the text's first piece, so that
    // multi-word and overlapping matches are exercised as well.
    let joined = entries.join(texts.split('\u{1}').next().unwrap_or(" "));
    for text in texts.split('\u{1}').take(16).chain([joined.as_str()]) {
        normalise_into(text, &mut spaced);
        assert!(spaced.starts_with(' ') && spaced.ends_with(' '));
        assert!(!spaced.contains(['\t', '\n', '\r']));
        let mut got = matcher.matched_entries("xx", text);
        got.sort_unstable();
        let mut want: Vec<&str> = lang
            .entries
            .iter()
            .filter(|e| spaced.contains(&spaced_entry(e)))
            .map(String::as_str)
            .collect();
        want.sort_unstable();
        assert_eq!(got, want, "text {text:?}");
        // The ids in any order with repeats (counting's path): the same set.
        let mut batch = TextBatch::default();
        batch.push(matcher.language_index("xx").expect("xx"), text);
        matcher.find_batch_any_order(&mut batch);
        let mut any: Vec<&str> = batch
            .ids(0)
            .iter()
            .map(|&i| lang.entries[i as usize].as_str())
            .collect();
        any.sort_unstable();
        any.dedup();
        assert_eq!(any, want, "any order, text {text:?}");
    }
});
