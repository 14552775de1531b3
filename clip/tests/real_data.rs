//! Tests on the real offline sources fetched by `.ci/fetch-curation-data.sh` into
//! `$KILN_DATA/curation`. Without `KILN_DATA` they are skipped in a developer checkout and
//! FAIL under `CI=true`, so CI cannot pass without running them.

use std::path::PathBuf;

use kiln_clip::curation::build::Sources;
use kiln_clip::curation::{LanguageMetadata, Matcher, Metadata};

fn curation_data() -> Option<PathBuf> {
    match std::env::var_os("KILN_DATA") {
        Some(d) => {
            let root = PathBuf::from(d).join("curation");
            assert!(
                root.join("metadata").is_dir(),
                "{} has no metadata: run .ci/fetch-curation-data.sh",
                root.display()
            );
            Some(root)
        }
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but KILN_DATA is not set: run .ci/fetch-curation-data.sh first")
        }
        None => {
            eprintln!("skipped: KILN_DATA is not set (run .ci/fetch-curation-data.sh)");
            None
        }
    }
}

#[test]
fn metadata_build_is_reproducible_and_holds_real_entries() {
    let Some(root) = curation_data() else { return };
    let on_disk = Metadata::read_dir(&root.join("metadata")).unwrap();
    let (built, report) = Sources { root: root.clone() }.build().unwrap();
    let names = |m: &Metadata| {
        m.languages
            .iter()
            .map(|l| l.lang.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&built), names(&on_disk));
    for (b, d) in built.languages.iter().zip(&on_disk.languages) {
        // (Not assert_eq!: a failure would print millions of entries.)
        assert!(
            b.entries == d.entries,
            "{}: the folder is not what the sources build",
            b.lang
        );
    }
    assert!(
        built.languages.len() >= 100,
        "{} languages",
        built.languages.len()
    );
    assert!(built.len() > 2_000_000, "{} entries", built.len());
    assert_eq!(report["de"].sources["wordlist"], 251_465);
    let has = |lang: &str, entry: &str| {
        let l = built.languages.iter().find(|l| l.lang == lang).unwrap();
        l.entries.binary_search(&entry.to_owned()).is_ok()
    };
    // WordNet, word list, emoji label, country name, number.
    for (lang, entry) in [
        ("en", "hot dog"),
        ("en", "nerd face"),
        ("en", "Germany"),
        ("en", "42"),
        ("de", "Deutschland"),
        ("de", "Strebergesicht"),
        ("fr", "Allemagne"),
        ("ja", "ドイツ"),
        ("zh", "德国"),
        ("th", "เยอรมนี"),
    ] {
        assert!(has(lang, entry), "{lang}: {entry}");
    }
}

#[test]
fn real_metadata_matches_real_text() {
    let Some(root) = curation_data() else { return };
    let dir = root.join("metadata");
    let languages = ["en", "de", "ja", "zh", "th"]
        .iter()
        .map(|l| LanguageMetadata::read(l, &dir.join(format!("{l}.txt"))).unwrap())
        .collect();
    let m = Matcher::new(&Metadata::from_languages(languages)).unwrap();
    let en = m.matched_entries("en", "A hot dog stand in Germany, at sunset.");
    for e in ["hot dog", "hot", "dog", "Germany", "sunset", "stand"] {
        assert!(en.contains(&e), "{e} not in {en:?}");
    }
    let zh = m.matched_entries("zh", "我在德国吃了一个热狗");
    assert!(zh.contains(&"德国"), "{zh:?}");
    let th = m.matched_entries("th", "ฉันไปเที่ยวเยอรมนีเมื่อปีที่แล้ว");
    assert!(th.contains(&"เยอรมนี"), "{th:?}");
    assert!(
        m.matched_entries("de", "Eine Katze in Deutschland")
            .contains(&"Deutschland")
    );
}
