//! The shard workflow of issue 6 on the committed multilingual input: count per shard, merge,
//! sample per shard against the merged counts; the kept set equals that of one pass over the
//! whole input, for both rules; the report and its plots are written.

use std::path::{Path, PathBuf};

use kiln_clip::curation::report::Report;
use kiln_clip::curation::{
    Counts, Matcher, Metadata, NoProgress, Options, Probabilities, Rule, Sampler, Thresholds,
    count, merge_files, sample,
};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/reference")
}

#[test]
fn sharded_run_equals_single_pass() {
    let matcher = Matcher::new(&Metadata::read_dir(&data().join("metadata")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = std::fs::read_to_string(data().join("input.jsonl")).unwrap();
    let lines: Vec<&str> = input.lines().collect();
    // Cut at image boundaries (alt-texts of one image stay together), gzip one shard.
    let id = |l: &str| l.split('"').nth(3).unwrap().to_owned();
    let mut cuts = vec![0];
    for target in [200, 450] {
        let mut c = target;
        while id(lines[c]) == id(lines[c - 1]) {
            c += 1;
        }
        cuts.push(c);
    }
    cuts.push(lines.len());
    let mut shards = Vec::new();
    for (i, w) in cuts.windows(2).enumerate() {
        let body = lines[w[0]..w[1]].join("\n") + "\n";
        let p = if i == 1 {
            let p = dir.path().join("shard1.jsonl.gz");
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), Default::default());
            std::io::Write::write_all(&mut enc, body.as_bytes()).unwrap();
            std::fs::write(&p, enc.finish().unwrap()).unwrap();
            p
        } else {
            let p = dir.path().join(format!("shard{i}.jsonl"));
            std::fs::write(&p, body).unwrap();
            p
        };
        shards.push(p);
    }

    let mut count_files = Vec::new();
    for (i, s) in shards.iter().enumerate() {
        let (c, _) = count(
            &matcher,
            std::slice::from_ref(s),
            Options::default(),
            &NoProgress,
        )
        .unwrap();
        let p = dir.path().join(format!("counts{i}.tsv"));
        c.write(&matcher, &p).unwrap();
        count_files.push(p);
    }
    let total = dir.path().join("total.tsv");
    merge_files(&count_files, &total).unwrap();
    let counts = Counts::read(&matcher, &total).unwrap();
    let (whole, _) = count(
        &matcher,
        &[data().join("input.jsonl")],
        Options::default(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(counts, whole);

    let thresholds = Thresholds::compute(&matcher, &counts, 20).unwrap();
    let probs = Probabilities::new(&matcher, &counts, &thresholds);
    for rule in [Rule::Metaclip1, Rule::Metaclip2] {
        let sampler = Sampler::new(probs.clone(), rule, 11);
        let mut kept_shards = String::new();
        for (i, s) in shards.iter().enumerate() {
            let out = dir.path().join(format!("kept{i}.jsonl"));
            sample(
                &matcher,
                &sampler,
                std::slice::from_ref(s),
                &out,
                0,
                Options::default(),
                &NoProgress,
            )
            .unwrap();
            kept_shards.push_str(&std::fs::read_to_string(out).unwrap());
        }
        let out = dir.path().join("kept_all.jsonl.gz");
        let stats = sample(
            &matcher,
            &sampler,
            &[data().join("input.jsonl")],
            &out,
            0,
            Options { threads: 2 },
            &NoProgress,
        )
        .unwrap();
        let mut whole = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(std::fs::File::open(&out).unwrap()),
            &mut whole,
        )
        .unwrap();
        assert_eq!(kept_shards, whole, "{rule:?}");
        assert!(
            stats.kept_texts > 0 && stats.kept_texts < stats.lines.matched,
            "{stats:?}"
        );
        if rule == Rule::Metaclip2 {
            assert_eq!(stats.kept_texts, stats.kept_images);
        }
    }

    let mut report = Report::new(&matcher, &counts, &thresholds);
    report
        .count_kept(&matcher, &[dir.path().join("kept_all.jsonl.gz")])
        .unwrap();
    let en = report.languages.iter().find(|l| l.lang == "en").unwrap();
    assert_eq!(en.threshold, 20);
    assert!(en.head_share_after < en.head_share_before);
    assert!(en.kept_texts.unwrap() > 0);
    let out = dir.path().join("report");
    let files = report.write(&matcher, &counts, &out, 3).unwrap();
    assert_eq!(files.len(), 5);
    for f in &files[1..] {
        assert_eq!(&std::fs::read(f).unwrap()[..4], b"\x89PNG");
    }
    if let Ok(keep) = std::env::var("KILN_KEEP_REPORT") {
        for f in &files {
            std::fs::copy(f, Path::new(&keep).join(f.file_name().unwrap())).unwrap();
        }
    }
}
