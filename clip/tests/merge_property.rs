//! Count-merge equals a single-pass count over the concatenated shards (issue 6).
//!
//! Random shards of random records (JSONL and TSV, several languages, blank, malformed and
//! invalid-UTF-8 lines among them) are counted one by one, written as COUNTS files and merged
//! with `merge_files`; the result must be byte-identical to the COUNTS file of one pass over
//! the concatenation, whatever the number of threads.

use std::path::Path;

use kiln_clip::curation::{
    LanguageMetadata, Matcher, Metadata, NoProgress, Options, count, merge_files,
};
use proptest::prelude::*;

const WORDS: &[&str] = &[
    "cat",
    "black",
    "dog",
    "hot",
    "new",
    "york",
    "city",
    ",",
    ".",
    "!",
    "猫",
    "黒猫",
    "东京",
    "塔",
    "แมว",
    "ดำ",
    "Katze",
    "schwarze",
    "Hund",
    "zzz",
];

fn matcher() -> Matcher {
    let l = |lang: &str, e: &[&str]| {
        LanguageMetadata::from_entries(lang, e.iter(), Path::new("t")).unwrap()
    };
    Matcher::new(&Metadata::from_languages(vec![
        l(
            "en",
            &[
                "cat",
                "black cat",
                "dog",
                "hot dog",
                "new york",
                "york",
                "new york city",
            ],
        ),
        l("ja", &["猫", "黒猫"]),
        l("zh", &["东京", "东京塔", "塔", "猫"]),
        l("th", &["แมว", "แมวดำ"]),
        l("de", &["Katze", "schwarze Katze", "Hund"]),
    ]))
    .unwrap()
}

fn line() -> impl Strategy<Value = Vec<u8>> {
    let text = prop::collection::vec(prop::sample::select(WORDS), 0..6).prop_map(|w| w.join(" "));
    let lang = prop::sample::select(&["en", "ja", "zh", "th", "de", "fr", ""][..]);
    (0u8..10, 0u32..50, lang, text).prop_map(|(kind, id, lang, text)| match kind {
        0 => Vec::new(),
        1 => b"{\"id\": 1, \"text\": \xff}".to_vec(),
        2 => b"not a record".to_vec(),
        3..=5 => format!("{id}\t{lang}\t{text}").into_bytes(),
        _ => serde_json::json!({"id": id, "lang": lang, "text": text})
            .to_string()
            .into_bytes(),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn merge_of_shard_counts_equals_one_pass(
        shards in prop::collection::vec(prop::collection::vec(line(), 0..40), 1..5),
        threads in 1usize..3,
    ) {
        let m = matcher();
        let dir = tempfile::tempdir().unwrap();
        let mut all = Vec::new();
        let mut count_files = Vec::new();
        for (i, shard) in shards.iter().enumerate() {
            let mut bytes = Vec::new();
            for l in shard {
                bytes.extend_from_slice(l);
                bytes.push(b'\n');
            }
            all.extend_from_slice(&bytes);
            let p = dir.path().join(format!("shard{i}.txt"));
            std::fs::write(&p, &bytes).unwrap();
            let (c, _) = count(&m, &[p], Options { threads }, &NoProgress).unwrap();
            let out = dir.path().join(format!("counts{i}.tsv"));
            c.write(&m, &out).unwrap();
            count_files.push(out);
        }
        let merged = dir.path().join("merged.tsv");
        merge_files(&count_files, &merged).unwrap();

        let whole = dir.path().join("all.txt");
        std::fs::write(&whole, &all).unwrap();
        let (c, _) = count(&m, &[whole], Options { threads }, &NoProgress).unwrap();
        let single = dir.path().join("single.tsv");
        c.write(&m, &single).unwrap();
        prop_assert_eq!(std::fs::read(&merged).unwrap(), std::fs::read(&single).unwrap());
    }
}
