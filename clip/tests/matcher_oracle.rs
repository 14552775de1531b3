//! The matcher equals brute force: an entry matches a text exactly when its spaced form
//! (`get_spaced_metadata`) is a substring of the normalised text (strip + `spacing()`), the
//! MetaCLIP 1 reference's `entry in text` (`metaclip1/substr_matching.py`) with MetaCLIP 2's
//! padding. Random entries and texts over an alphabet that mixes spaced and unspaced scripts,
//! the wrapped punctuation, whitespace and CJK punctuation.

use std::path::Path;

use kiln_clip::curation::normalise::{normalise_into, python_strip};
use kiln_clip::curation::{LanguageMetadata, Matcher, Metadata, spaced_entry};
use proptest::prelude::*;

const ENTRY_CHARS: &[char] = &[
    'a', 'b', 'c', ' ', ' ', ',', '.', '!', '`', '-', '(', '東', '京', 'ก', 'ข', '。', '，',
    '\u{a0}', 'é', 'ж',
];
/// Texts also hold the characters `spacing()` turns into spaces.
const TEXT_CHARS: &[char] = &[
    'a', 'b', 'c', ' ', ' ', ',', '.', '!', '`', '-', '(', '東', '京', 'ก', 'ข', '。', '，',
    '\u{a0}', 'é', 'ж', '\t', '\n', '\r',
];

fn string(alphabet: &'static [char], max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(alphabet), 0..max)
        .prop_map(|c| c.into_iter().collect())
}

/// Texts made of pieces that are often whole entries (so multi-word and overlapping matches
/// happen), random strings, and separators.
fn texts_from(entries: Vec<String>) -> impl Strategy<Value = (Vec<String>, Vec<String>)> {
    let piece = prop_oneof![
        3 => prop::sample::select(entries.clone()),
        1 => string(TEXT_CHARS, 6),
    ];
    let sep = prop::sample::select(&[" ", " ", "  ", ", ", "", "。", ".", "\t"][..]);
    let text = prop::collection::vec((piece, sep), 0..8).prop_map(|parts| {
        parts
            .into_iter()
            .flat_map(|(p, s)| [p, s.to_owned()])
            .collect::<String>()
    });
    (Just(entries), prop::collection::vec(text, 1..10))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn matcher_equals_brute_force(
        // Few entries, and enough that those without a space on a side go into an automaton
        // instead of being checked where their bytes occur.
        (entries, texts) in prop_oneof![
            prop::collection::vec(string(ENTRY_CHARS, 7), 1..40),
            prop::collection::vec(string(ENTRY_CHARS, 7), 400..600),
        ]
        .prop_flat_map(texts_from),
    ) {
        let lang = LanguageMetadata::from_entries("xx", entries.iter(), Path::new("t")).unwrap();
        let m = Matcher::new(&Metadata::from_languages(vec![lang.clone()])).unwrap();
        for text in &texts {
            let mut spaced = String::new();
            normalise_into(text, &mut spaced);
            let mut want: Vec<&str> = lang
                .entries
                .iter()
                .filter(|e| spaced.contains(&spaced_entry(e)))
                .map(String::as_str)
                .collect();
            want.sort();
            let mut got = m.matched_entries("xx", text);
            got.sort();
            prop_assert_eq!(got, want, "text {:?} spaced {:?}", text, spaced);
        }
        for e in &lang.entries {
            prop_assert_eq!(python_strip(e), e.as_str());
        }
    }
}
