//! Criterion bench of the curation matcher (issue 6): normalise + match alt-texts, in
//! batches of [`CHUNK`] as the curation passes match them, over
//! texts of the committed multilingual reference input against its metadata, and over a
//! large synthetic English metadata (100k one- to three-word entries) that does not fit in
//! cache, as real metadata does not.
//!
//! `cargo bench --bench matcher` (figures in BENCHMARKS.md).

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kiln_clip::curation::{LanguageMetadata, Matcher, Metadata, TextBatch, parse_line};

/// Texts per [`Matcher::find_batch`] call, as in the curation passes.
const CHUNK: usize = 16;

fn reference_texts(m: &Matcher) -> Vec<(u32, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/reference");
    std::fs::read_to_string(dir.join("input.jsonl"))
        .expect("reference input")
        .lines()
        .filter_map(|l| {
            let r = parse_line(l).ok()?;
            let lang = m.resolve(r.lang.as_deref(), &r.text).lang?;
            Some((lang, r.text.into_owned()))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/reference/metadata");
    let small = Matcher::new(&Metadata::read_dir(&dir).expect("metadata")).expect("matcher");
    let texts = reference_texts(&small);

    // Synthetic large English metadata: pseudo-words from a fixed generator.
    let word = |i: u64| {
        let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20;
        let mut w = String::new();
        for _ in 0..(3 + i % 6) {
            w.push((b'a' + (x % 26) as u8) as char);
            x /= 26;
        }
        w
    };
    let entries: Vec<String> = (0..100_000u64)
        .map(|i| match i % 10 {
            0 => format!("{} {}", word(i), word(i + 1)),
            1 => format!("{} {} {}", word(i), word(i + 1), word(i + 2)),
            _ => word(i),
        })
        .collect();
    let en = LanguageMetadata::from_entries("en", &entries, Path::new("synthetic")).unwrap();
    let large = Matcher::new(&Metadata::from_languages(vec![en])).unwrap();
    let large_texts: Vec<String> = (0..2_000u64)
        .map(|i| {
            (0..12)
                .map(|k| word((i * 7919 + k * 104_729) % 120_000))
                .collect::<Vec<_>>()
                .join(if i % 3 == 0 { ", " } else { " " })
        })
        .collect();
    let en_idx = large.language_index("en").unwrap();

    let mut g = c.benchmark_group("curation_match");
    g.throughput(Throughput::Elements(texts.len() as u64));
    g.bench_function("reference_input_9_languages", |b| {
        let mut batch = TextBatch::default();
        b.iter(|| {
            let mut n = 0;
            for chunk in texts.chunks(CHUNK) {
                batch.clear();
                for (lang, text) in chunk {
                    batch.push(*lang, black_box(text));
                }
                small.find_batch(&mut batch);
                n += (0..batch.len()).map(|i| batch.ids(i).len()).sum::<usize>();
            }
            n
        })
    });
    g.throughput(Throughput::Elements(large_texts.len() as u64));
    g.bench_function("synthetic_en_100k_entries", |b| {
        let mut batch = TextBatch::default();
        b.iter(|| {
            let mut n = 0;
            for chunk in large_texts.chunks(CHUNK) {
                batch.clear();
                for text in chunk {
                    batch.push(en_idx, black_box(text));
                }
                large.find_batch(&mut batch);
                n += (0..batch.len()).map(|i| batch.ids(i).len()).sum::<usize>();
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
