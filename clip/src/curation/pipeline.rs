//! The streaming, multi-threaded passes over shards: `count` and `sample`.
//!
//! MetaCLIP 2 (arXiv 2507.22062, §3.1) curates in three stages, each shardable: count matches
//! per shard (reference `curate.py:count_per_shard`), sum the counts (`global_count`), then
//! sample each shard against the global probabilities (`curate`). One reader thread streams
//! batches of lines; a rayon pool parses and matches them in parallel; results are consumed in
//! input order, so outputs do not depend on the number of threads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, sync_channel};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::atomic::AtomicFile;
use super::counts::Counts;
use super::error::{Error, Result};
use super::input::{Batch, read_batches_into};
use super::matcher::{Matcher, Scratch};
use super::record::parse_line;
use super::sample::{Matched, Sampler};

/// Receives progress reports; the library never prints (DESIGN.md).
pub trait Progress: Sync {
    /// A batch of `lines` lines, `bytes` bytes, has been processed.
    fn advance(&self, lines: u64, bytes: u64) {
        let _ = (lines, bytes);
    }
}

/// Progress that goes nowhere.
pub struct NoProgress;
impl Progress for NoProgress {}

/// How many threads match in parallel; 0 means one per core.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub threads: usize,
}

/// What happened to the input lines. Bad lines are skipped and counted, never fatal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineStats {
    /// Lines read.
    pub lines: u64,
    /// Blank lines (skipped).
    pub empty: u64,
    /// Lines that are not valid UTF-8 (skipped).
    pub invalid_utf8: u64,
    /// Lines that are not a record (skipped).
    pub malformed: u64,
    /// Records whose language has no metadata (and no `other` list): dropped.
    pub no_metadata: u64,
    /// Records that matched no entry: dropped.
    pub unmatched: u64,
    /// Records that matched at least one entry.
    pub matched: u64,
    /// Records whose language came from identification.
    pub identified: u64,
    /// Matched records per language.
    pub matched_per_lang: BTreeMap<String, u64>,
}

/// Result of the sampling pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleStats {
    pub lines: LineStats,
    /// Images (runs of lines with one id) with at least one matched alt-text.
    pub images: u64,
    /// Images with at least one alt-text kept.
    pub kept_images: u64,
    /// Alt-texts kept (lines written).
    pub kept_texts: u64,
    /// Kept alt-texts per language.
    pub kept_per_lang: BTreeMap<String, u64>,
}

enum Outcome {
    Empty,
    InvalidUtf8,
    Malformed,
    Record {
        id: String,
        identified: bool,
        matched: Option<Matched>,
        no_metadata: bool,
    },
}

/// What a worker does with a matched record's entry ids.
#[derive(Clone, Copy)]
enum Mode<'a> {
    /// Add them to shared counts; the outcome carries no ids (no allocation per line).
    Count(&'a [Vec<AtomicU64>]),
    /// Keep them, and the record's id, for sampling.
    Sample,
}

fn classify(
    matcher: &Matcher,
    line: &[u8],
    (scratch, ids): &mut (Scratch, Vec<u32>),
    mode: Mode<'_>,
) -> Outcome {
    // Validation runs over every input byte; the SIMD validator is several times faster.
    let Ok(line) = simdutf8::basic::from_utf8(line) else {
        return Outcome::InvalidUtf8;
    };
    // A byte-order mark (first line of some files) is not part of the record.
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    if line.trim().is_empty() {
        return Outcome::Empty;
    }
    let Ok(rec) = parse_line(line) else {
        return Outcome::Malformed;
    };
    let resolved = matcher.resolve(rec.lang.as_deref(), &rec.text);
    let id = match mode {
        Mode::Sample => rec.id.into_owned(),
        Mode::Count(_) => String::new(),
    };
    let Some(lang) = resolved.lang else {
        return Outcome::Record {
            id,
            identified: resolved.identified,
            matched: None,
            no_metadata: true,
        };
    };
    matcher.find(lang, &rec.text, scratch, ids);
    let entries = match mode {
        Mode::Count(counts) => {
            let counts = &counts[lang as usize];
            for &e in ids.iter() {
                counts[e as usize].fetch_add(1, Ordering::Relaxed);
            }
            Vec::new()
        }
        Mode::Sample => ids.clone(),
    };
    Outcome::Record {
        id,
        identified: resolved.identified,
        matched: (!ids.is_empty()).then_some(Matched { lang, entries }),
        no_metadata: false,
    }
}

impl LineStats {
    fn note(&mut self, matcher: &Matcher, outcome: &Outcome) {
        self.lines += 1;
        match outcome {
            Outcome::Empty => self.empty += 1,
            Outcome::InvalidUtf8 => self.invalid_utf8 += 1,
            Outcome::Malformed => self.malformed += 1,
            Outcome::Record {
                identified,
                matched,
                no_metadata,
                ..
            } => {
                self.identified += u64::from(*identified);
                match matched {
                    Some(m) => {
                        self.matched += 1;
                        let lang = &matcher.languages()[m.lang as usize].lang;
                        match self.matched_per_lang.get_mut(lang) {
                            Some(n) => *n += 1,
                            None => {
                                self.matched_per_lang.insert(lang.clone(), 1);
                            }
                        }
                    }
                    None if *no_metadata => self.no_metadata += 1,
                    None => self.unmatched += 1,
                }
            }
        }
    }
}

/// Streams the inputs through the matcher and hands each batch's outcomes, in input order,
/// to `consume`.
fn scan(
    matcher: &Matcher,
    inputs: &[PathBuf],
    opts: Options,
    progress: &dyn Progress,
    mode: Mode<'_>,
    mut consume: impl FnMut(&Batch, &mut Vec<Outcome>) -> Result<()>,
) -> Result<()> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
        .map_err(|e| Error::Invalid(format!("thread pool: {e}")))?;
    std::thread::scope(|s| {
        let (tx, rx) = sync_channel::<Batch>(2);
        // Batches go back to the reader once consumed, so their buffers are reused.
        let (free_tx, free_rx) = channel::<Batch>();
        // A send fails only once the consumer below has stopped on an error of its own.
        let reader = s.spawn(move || {
            read_batches_into(
                inputs,
                || free_rx.try_recv().unwrap_or_default(),
                |b| {
                    tx.send(b)
                        .map_err(|_| Error::Invalid("consumer stopped".into()))
                },
            )
        });
        let mut result = Ok(());
        let mut outcomes = Vec::new();
        for batch in rx {
            pool.install(|| {
                (0..batch.len())
                    .into_par_iter()
                    .map_init(Default::default, |scratch, i| {
                        classify(matcher, batch.line(i), scratch, mode)
                    })
                    .collect_into_vec(&mut outcomes)
            });
            if let Err(e) = consume(&batch, &mut outcomes) {
                result = Err(e);
                break;
            }
            progress.advance(batch.len() as u64, batch.bytes() as u64);
            let _ = free_tx.send(batch);
        }
        let read = reader.join().expect("reader thread panicked");
        result.and(read)
    })
}

/// Stage 1 (reference `count_per_shard`): counts matches per entry over the inputs.
pub fn count(
    matcher: &Matcher,
    inputs: &[PathBuf],
    opts: Options,
    progress: &dyn Progress,
) -> Result<(Counts, LineStats)> {
    let atomic: Vec<Vec<AtomicU64>> = matcher
        .languages()
        .iter()
        .map(|l| (0..l.entries.len()).map(|_| AtomicU64::new(0)).collect())
        .collect();
    let mut stats = LineStats::default();
    scan(
        matcher,
        inputs,
        opts,
        progress,
        Mode::Count(&atomic),
        |_, outcomes| {
            for o in outcomes.iter() {
                stats.note(matcher, o);
            }
            Ok(())
        },
    )?;
    let per_lang = atomic
        .into_iter()
        .map(|l| l.into_iter().map(AtomicU64::into_inner).collect())
        .collect();
    Ok((Counts { per_lang }, stats))
}

/// The alt-texts of the image being read: runs of records with one id.
struct Group {
    id: String,
    lines: Vec<(Vec<u8>, Matched)>,
}

impl Group {
    fn flush(
        &mut self,
        matcher: &Matcher,
        sampler: &Sampler,
        epoch: u64,
        out: &mut AtomicFile,
        stats: &mut SampleStats,
    ) -> Result<()> {
        if self.lines.is_empty() {
            return Ok(());
        }
        let texts: Vec<&Matched> = self.lines.iter().map(|(_, m)| m).collect();
        let kept = sampler.select(&self.id, &texts, epoch);
        stats.images += 1;
        stats.kept_images += u64::from(!kept.is_empty());
        for i in kept {
            let (line, m) = &self.lines[i];
            out.write_all(line)?;
            out.write_all(b"\n")?;
            stats.kept_texts += 1;
            let lang = &matcher.languages()[m.lang as usize].lang;
            *stats.kept_per_lang.entry(lang.clone()).or_default() += 1;
        }
        self.lines.clear();
        Ok(())
    }
}

/// Stage 3 (reference `curate`): writes the kept input lines, verbatim and in input order,
/// to `out` (atomically; gzip if it ends in `.gz`). Lines of one image must be consecutive.
pub fn sample(
    matcher: &Matcher,
    sampler: &Sampler,
    inputs: &[PathBuf],
    out: &Path,
    epoch: u64,
    opts: Options,
    progress: &dyn Progress,
) -> Result<SampleStats> {
    let mut writer = AtomicFile::create(out)?;
    let mut stats = SampleStats::default();
    let mut group = Group {
        id: String::new(),
        lines: Vec::new(),
    };
    let mut started = false;
    scan(
        matcher,
        inputs,
        opts,
        progress,
        Mode::Sample,
        |batch, outcomes| {
            for (i, o) in outcomes.drain(..).enumerate() {
                stats.lines.note(matcher, &o);
                let Outcome::Record { id, matched, .. } = o else {
                    continue;
                };
                if !started || id != group.id {
                    group.flush(matcher, sampler, epoch, &mut writer, &mut stats)?;
                    group.id = id;
                    started = true;
                }
                if let Some(m) = matched {
                    group.lines.push((batch.line(i).to_vec(), m));
                }
            }
            Ok(())
        },
    )?;
    group.flush(matcher, sampler, epoch, &mut writer, &mut stats)?;
    writer.commit()?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curation::balance::Probabilities;
    use crate::curation::metadata::{LanguageMetadata, Metadata};
    use crate::curation::sample::Rule;

    fn matcher() -> Matcher {
        let l = |lang: &str, e: &[&str]| {
            LanguageMetadata::from_entries(lang, e.iter(), Path::new("t")).unwrap()
        };
        Matcher::new(&Metadata::from_languages(vec![
            l("en", &["cat", "dog", "black cat"]),
            l("ja", &["猫", "黒猫"]),
        ]))
        .unwrap()
    }

    #[test]
    fn bad_lines_are_skipped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("shard.jsonl");
        let mut data = Vec::new();
        data.extend_from_slice(
            "\u{feff}{\"id\":1,\"lang\":\"en\",\"text\":\"a black cat\"}\n".as_bytes(),
        );
        data.extend_from_slice(b"\n   \n");
        data.extend_from_slice(b"{\"id\":2,\"lang\":\"en\",\"text\":\"bad \xff utf8\"}\n");
        data.extend_from_slice(b"{\"id\":3,\"lang\":\"en\"\n");
        data.extend_from_slice(b"4\tja\t\xe9\xbb\x92\xe7\x8c\xab\xe3\x81\xa7\xe3\x81\x99\n");
        data.extend_from_slice(b"5\tfr\tun chat\n");
        data.extend_from_slice(b"6\ten\tno match here\n");
        // The shard ends in the middle of a record.
        data.extend_from_slice(b"{\"id\":7,\"lang\":\"en\",\"text\":\"a d");
        std::fs::write(&p, data).unwrap();
        let (counts, stats) = count(&matcher(), &[p], Options::default(), &NoProgress).unwrap();
        assert_eq!(
            stats,
            LineStats {
                lines: 9,
                empty: 2,
                invalid_utf8: 1,
                malformed: 2,
                no_metadata: 1,
                unmatched: 1,
                matched: 2,
                identified: 0,
                matched_per_lang: [("en".into(), 1), ("ja".into(), 1)].into(),
            }
        );
        assert_eq!(counts.per_lang, [vec![1, 0, 1], vec![1, 1]]);
    }

    #[test]
    fn results_do_not_depend_on_threads() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("shard.tsv");
        let mut s = String::new();
        for i in 0..40_000 {
            let text = ["a cat", "dog and cat", "黒猫", "nothing", "black cat!"][i % 5];
            let lang = if i % 5 == 2 { "ja" } else { "en" };
            s.push_str(&format!("{}\t{lang}\t{text}\n", i / 2));
        }
        std::fs::write(&p, s).unwrap();
        let m = matcher();
        let one = count(
            &m,
            std::slice::from_ref(&p),
            Options { threads: 1 },
            &NoProgress,
        )
        .unwrap();
        let two = count(
            &m,
            std::slice::from_ref(&p),
            Options { threads: 2 },
            &NoProgress,
        )
        .unwrap();
        assert_eq!(one, two);
        let probs = Probabilities {
            per_lang: vec![vec![0.5, 0.5, 0.5], vec![0.5, 0.5]],
        };
        let sampler = Sampler::new(probs, Rule::Metaclip2, 3);
        let outs: Vec<(SampleStats, Vec<u8>)> = [1, 2]
            .iter()
            .map(|&threads| {
                let out = dir.path().join(format!("kept{threads}.tsv"));
                let st = sample(
                    &m,
                    &sampler,
                    std::slice::from_ref(&p),
                    &out,
                    0,
                    Options { threads },
                    &NoProgress,
                )
                .unwrap();
                (st, std::fs::read(&out).unwrap())
            })
            .collect();
        assert_eq!(outs[0], outs[1]);
        let st = &outs[0].0;
        // 20,000 images of two alt-texts each, one or both matched, kept at p ≥ 0.5.
        assert_eq!(st.images, 20_000);
        assert_eq!(st.kept_images, st.kept_texts);
        assert!((12_000..16_000).contains(&st.kept_texts), "{st:?}");
    }
}
