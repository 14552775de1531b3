//! The streaming, multi-threaded passes over shards: `count` and `sample`.
//!
//! MetaCLIP 2 (arXiv 2507.22062, §3.1) curates in three stages, each shardable: count matches
//! per shard (reference `curate.py:count_per_shard`), sum the counts (`global_count`), then
//! sample each shard against the global probabilities (`curate`). One reader thread streams
//! batches of lines; a rayon pool parses them in parallel, normalising each text as its line
//! is parsed (while it is in cache), orders each batch's records by language and matches them
//! 16 at a time (whose table lookups overlap), where parsing put their texts. Counting adds
//! into counts of each thread's own, summed at the end; sampling consumes each batch's
//! outcomes in input order. Either way outputs do not depend on the number of threads.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{channel, sync_channel};

use rayon::ThreadPool;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::atomic::AtomicFile;
use super::counts::{Counts, DistinctCounts};
use super::error::{Error, Result};
use super::input::{Batch, read_batches_into};
use super::matcher::{Matcher, TextBatch};
use super::normalise::normalise_append;
use super::record::parse_line;
use super::sample::{Matched, Sampler};
use super::words::PADDING;

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

/// Counts per pool thread, each added to by its own thread only (plain increments: an
/// atomic one is a full barrier, which stops the count updates of a chunk from overlapping
/// their cache misses), summed once the scan is done.
struct ThreadCounts {
    per_thread: Vec<Mutex<DistinctCounts>>,
}

impl ThreadCounts {
    fn new(matcher: &Matcher, threads: usize) -> Self {
        ThreadCounts {
            per_thread: (0..threads.max(1))
                .map(|_| Mutex::new(DistinctCounts::zeros(matcher)))
                .collect(),
        }
    }

    /// The counts of the calling pool thread.
    fn mine(&self) -> std::sync::MutexGuard<'_, DistinctCounts> {
        let i = rayon::current_thread_index().unwrap_or(0) % self.per_thread.len();
        self.per_thread[i]
            .lock()
            .expect("a counting thread panicked")
    }

    /// The sum over the threads, in the memory of the first thread's counters (no new
    /// megabytes to map and fill).
    fn sum(self) -> Counts {
        let mut per_thread = self
            .per_thread
            .into_iter()
            .map(|c| c.into_inner().expect("a counting thread panicked"));
        let mut total = per_thread
            .next()
            .expect("at least one thread")
            .into_counts();
        for c in per_thread {
            c.add_to(&mut total);
        }
        total
    }
}

/// Lines parsed by one rayon task: 16 per batch, enough for two threads to share evenly.
/// Counting matches a chunk of texts where they lie when they come from one task, and copies
/// the others, so larger tasks leave fewer chunks to copy (4,096 against 1,024: paired
/// CPU-time ratios 0.954 and 0.986 on one thread, 1.008 on two; 16,384: 1.024 against 4,096).
const PARSE_LINES: usize = 4096;

/// Lines matched together ([`Matcher::find_batch`]): enough for their table lookups to
/// overlap, few enough for the slots they load to stay in L1 cache until they are read.
const CHUNK_LINES: usize = 16;

/// A record of a language with metadata, as parsed from its line.
struct Parsed<'a> {
    /// Line in the batch.
    line: u32,
    lang: u32,
    identified: bool,
    /// The record's id (sample mode only).
    id: String,
    text: Cow<'a, str>,
}

/// A record to match: what matching needs of a [`Parsed`] and no more (16 bytes, where a
/// `Parsed` takes 64): its language, and where its text, already normalised, lies: at
/// `start..end` of the spaced text of parse task `task` ([`ParsedForCount`],
/// [`ParsedForSample`]).
#[derive(Clone, Copy)]
struct Located {
    lang: u32,
    task: u32,
    start: u32,
    end: u32,
}

/// What a parse task hands on for counting: the records to match, their texts normalised
/// in `spaced` ([`SpacedTexts`]) in language order (so that matching, in language order too,
/// reads each language's texts of the task straight through); and the line counts of the
/// others.
struct ParsedForCount {
    spaced: String,
    recs: Vec<Located>,
    lines: LineStats,
}

/// The normalised texts of one parse task's records (`strip` + `spacing()`), one after
/// another, written while each line is still in cache from parsing it; [`PADDING`] bytes
/// follow the last once [`Self::finish`]ed.
struct SpacedTexts {
    text: String,
    task: u32,
}

impl SpacedTexts {
    /// For parse task `task`, of `lines` lines of `batch` (its texts take about as many
    /// bytes as their lines).
    fn new(batch: &Batch, task: u32, lines: usize) -> Self {
        SpacedTexts {
            text: String::with_capacity(batch.bytes() / batch.len().max(1) * lines),
            task,
        }
    }

    /// Appends `text` normalised; returns where it lies.
    fn push(&mut self, lang: u32, text: &str) -> Located {
        let start = self.text.len() as u32;
        normalise_append(text, &mut self.text);
        let end = u32::try_from(self.text.len()).expect("a parse task's texts exceed 4 GiB");
        Located {
            lang,
            task: self.task,
            start,
            end,
        }
    }

    fn finish(mut self) -> String {
        self.text.extend(std::iter::repeat_n('\0', PADDING));
        self.text
    }
}

/// A record to sample: where its normalised text lies, and what its outcome needs.
struct ToSample {
    at: Located,
    line: u32,
    identified: bool,
    id: String,
}

/// What a parse task hands on for sampling: its records, their texts normalised in `spaced`
/// ([`SpacedTexts`]).
struct ParsedForSample {
    spaced: String,
    recs: Vec<ToSample>,
}

/// Parses the lines `first..first + out.len()` of `batch` (parse task `task`): the outcome
/// of each line that needs no matching goes into `out`; the others are normalised and
/// returned.
fn parse_lines(
    matcher: &Matcher,
    batch: &Batch,
    task: u32,
    first: usize,
    out: &mut [Outcome],
) -> ParsedForSample {
    let mut spaced = SpacedTexts::new(batch, task, out.len());
    let mut recs = Vec::with_capacity(out.len());
    for (j, o) in out.iter_mut().enumerate() {
        let line = first + j;
        match parse_one(matcher, batch.line_str(line), line as u32, true) {
            Ok(p) => recs.push(ToSample {
                at: spaced.push(p.lang, &p.text),
                line: p.line,
                identified: p.identified,
                id: p.id,
            }),
            Err(outcome) => *o = outcome,
        }
    }
    ParsedForSample {
        spaced: spaced.finish(),
        recs,
    }
}

/// Line `line` parsed, or its outcome if it needs no matching; the record's id is kept
/// only if `keep_id` (sampling groups alt-texts by it; counting needs none, and saves an
/// allocation per line).
fn parse_one<'a>(
    matcher: &Matcher,
    line_str: Option<&'a str>,
    line: u32,
    keep_id: bool,
) -> std::result::Result<Parsed<'a>, Outcome> {
    let Some(line_str) = line_str else {
        return Err(Outcome::InvalidUtf8);
    };
    // A byte-order mark (first line of some files) is not part of the record.
    let line_str = line_str.strip_prefix('\u{feff}').unwrap_or(line_str);
    // (A record's first byte is most often its `{`: no need to trim it.)
    if !line_str.starts_with('{') && line_str.trim().is_empty() {
        return Err(Outcome::Empty);
    }
    let Ok(rec) = parse_line(line_str) else {
        return Err(Outcome::Malformed);
    };
    let resolved = matcher.resolve(rec.lang.as_deref(), &rec.text);
    let id = if keep_id {
        rec.id.into_owned()
    } else {
        String::new()
    };
    match resolved.lang {
        Some(lang) => Ok(Parsed {
            line,
            lang,
            identified: resolved.identified,
            id,
            text: rec.text,
        }),
        None => Err(Outcome::Record {
            id,
            identified: resolved.identified,
            matched: None,
            no_metadata: true,
        }),
    }
}

/// The indices of `parsed` ordered by language (stably: a counting sort), and where each
/// language's start in that order (and the end of the last), so that the
/// chunks matched one after another use the tables and automaton of one language, which
/// then stay in cache from chunk to chunk, where in input order those of every language
/// compete for it. (On the throughput example's 97 languages: Aho-Corasick time −60 %, word
/// lookups −13 %, less the cost of the extra pass: 4–8 % less CPU time in all, medians of
/// paired runs on plain and gzip input.)
fn by_language<T>(
    parsed: &[T],
    lang: impl Fn(&T) -> u32,
    languages: usize,
) -> (Vec<u32>, Vec<u32>) {
    let mut start = vec![0u32; languages + 1];
    for p in parsed {
        start[lang(p) as usize + 1] += 1;
    }
    for l in 0..languages {
        start[l + 1] += start[l];
    }
    let starts = start.clone();
    let mut order = vec![0u32; parsed.len()];
    for (i, p) in parsed.iter().enumerate() {
        let at = &mut start[lang(p) as usize];
        order[*at as usize] = i as u32;
        *at += 1;
    }
    (order, starts)
}

/// A rayon task's scratch space, reused from chunk to chunk.
#[derive(Default)]
struct Worker {
    texts: TextBatch,
    /// Where the texts of a chunk lie, and their languages.
    ranges: Vec<Range<usize>>,
    langs: Vec<u32>,
}

impl Worker {
    /// Matches the records `recs`, whose normalised texts lie in the spaced texts of the
    /// parse tasks (`spaced(task)`): afterwards `self.texts.ids(k)` are the entry ids of the
    /// `k`th, in any order and with repeats. A chunk whose texts all come from one task (most)
    /// is matched where they lie; the others are copied together first.
    fn match_spaced<'t>(
        &mut self,
        matcher: &Matcher,
        spaced: impl Fn(u32) -> &'t str,
        recs: impl Iterator<Item = Located> + Clone,
    ) {
        self.ranges.clear();
        self.langs.clear();
        let mut task = None;
        let mut one_task = true;
        for r in recs.clone() {
            self.ranges.push(r.start as usize..r.end as usize);
            self.langs.push(r.lang);
            one_task &= *task.get_or_insert(r.task) == r.task;
        }
        match task {
            Some(task) if one_task => matcher.find_spaced_any_order(
                spaced(task),
                &self.ranges,
                &self.langs,
                &mut self.texts,
            ),
            _ => {
                self.texts.clear();
                for (r, range) in recs.zip(&self.ranges) {
                    self.texts
                        .push_spaced(r.lang, &spaced(r.task)[range.clone()]);
                }
                matcher.find_batch_any_order(&mut self.texts);
            }
        }
    }

    /// Matches the records `recs` and adds their matches to the counts of this thread;
    /// `matched[k]` says whether `recs[k]` matched anything.
    fn count_chunk(
        &mut self,
        matcher: &Matcher,
        tasks: &[ParsedForCount],
        recs: &[Located],
        counts: &ThreadCounts,
        matched: &mut [bool],
    ) {
        // Counting drops repeats itself, cheaper than sorting each text's ids.
        self.match_spaced(matcher, |t| &tasks[t as usize].spaced, recs.iter().copied());
        let mut counts = counts.mine();
        for (t, r) in recs.iter().enumerate() {
            counts.prefetch(r.lang, self.texts.ids(t));
        }
        for (t, (r, m)) in recs.iter().zip(matched).enumerate() {
            let ids = self.texts.ids(t);
            counts.add(r.lang, ids);
            *m = !ids.is_empty();
        }
    }

    /// Matches the records `recs[order[k]]`, writing each one's match, if any, with its
    /// sorted entry ids, to `out[k]`.
    fn sample_chunk(
        &mut self,
        matcher: &Matcher,
        tasks: &[ParsedForSample],
        recs: &[ToSample],
        order: &[u32],
        out: &mut [Option<Matched>],
    ) {
        let located = order.iter().map(|&i| recs[i as usize].at);
        self.match_spaced(matcher, |t| &tasks[t as usize].spaced, located);
        for (t, o) in out.iter_mut().enumerate() {
            let ids = self.texts.ids(t);
            *o = (!ids.is_empty()).then(|| {
                let mut entries = ids.to_vec();
                entries.sort_unstable();
                entries.dedup();
                Matched {
                    lang: recs[order[t] as usize].at.lang,
                    entries,
                }
            });
        }
    }
}

/// [`LineStats`] being gathered; matched records per language are counted by language
/// index, and named only at the end.
struct Tally {
    stats: LineStats,
    matched_per_lang: Vec<u64>,
}

impl Tally {
    fn new(matcher: &Matcher) -> Self {
        Tally {
            stats: LineStats::default(),
            matched_per_lang: vec![0; matcher.languages().len()],
        }
    }

    fn note(&mut self, outcome: &Outcome) {
        let s = &mut self.stats;
        s.lines += 1;
        match outcome {
            Outcome::Empty => s.empty += 1,
            Outcome::InvalidUtf8 => s.invalid_utf8 += 1,
            Outcome::Malformed => s.malformed += 1,
            Outcome::Record {
                identified,
                matched,
                no_metadata,
                ..
            } => {
                s.identified += u64::from(*identified);
                match matched {
                    Some(m) => {
                        s.matched += 1;
                        self.matched_per_lang[m.lang as usize] += 1;
                    }
                    None if *no_metadata => s.no_metadata += 1,
                    None => s.unmatched += 1,
                }
            }
        }
    }

    /// A record parsed for matching (its match is noted by [`Self::note_matched`]).
    fn note_parsed(&mut self, identified: bool) {
        self.stats.lines += 1;
        self.stats.identified += u64::from(identified);
    }

    /// Of `records` parsed records of language `lang`, `matched` matched.
    fn note_matched(&mut self, lang: usize, records: u64, matched: u64) {
        self.stats.matched += matched;
        self.stats.unmatched += records - matched;
        self.matched_per_lang[lang] += matched;
    }

    /// Adds the line counts of `other`, which noted no matched record.
    fn add_lines(&mut self, other: &LineStats) {
        let s = &mut self.stats;
        s.lines += other.lines;
        s.empty += other.empty;
        s.invalid_utf8 += other.invalid_utf8;
        s.malformed += other.malformed;
        s.no_metadata += other.no_metadata;
        s.identified += other.identified;
    }

    fn finish(self, matcher: &Matcher) -> LineStats {
        let mut stats = self.stats;
        stats.matched_per_lang = matcher
            .languages()
            .iter()
            .zip(self.matched_per_lang)
            .filter(|(_, n)| *n > 0)
            .map(|(l, n)| (l.lang.clone(), n))
            .collect();
        stats
    }
}

/// The pool that matches, with `opts.threads` threads.
fn pool(opts: Options) -> Result<ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
        .map_err(|e| Error::Invalid(format!("thread pool: {e}")))
}

/// Streams the inputs' batches to `each`, in order, while a thread of its own reads the
/// next ones; batches go back to the reader once done with, so their buffers are reused.
fn stream(
    inputs: &[PathBuf],
    progress: &dyn Progress,
    mut each: impl FnMut(&Batch) -> Result<()>,
) -> Result<()> {
    std::thread::scope(|s| {
        let (tx, rx) = sync_channel::<Batch>(2);
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
        for batch in rx {
            if let Err(e) = each(&batch) {
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

/// Streams the inputs through the matcher and hands each batch's outcomes, with the
/// matched records' sorted entry ids, in input order, to `consume`.
fn scan(
    matcher: &Matcher,
    inputs: &[PathBuf],
    pool: &ThreadPool,
    progress: &dyn Progress,
    mut consume: impl FnMut(&Batch, &mut Vec<Outcome>) -> Result<()>,
) -> Result<()> {
    let mut outcomes = Vec::new();
    let mut matches = Vec::new();
    stream(inputs, progress, |batch| {
        outcomes.clear();
        outcomes.resize_with(batch.len(), || Outcome::Empty);
        pool.install(|| {
            let mut tasks: Vec<ParsedForSample> = outcomes
                .par_chunks_mut(PARSE_LINES)
                .enumerate()
                .map(|(c, out)| parse_lines(matcher, batch, c as u32, c * PARSE_LINES, out))
                .collect();
            let mut recs: Vec<ToSample> = tasks.iter_mut().flat_map(|t| t.recs.drain(..)).collect();
            let (order, _) = by_language(&recs, |r| r.at.lang, matcher.languages().len());
            matches.clear();
            matches.resize_with(recs.len(), || None);
            matches
                .par_chunks_mut(CHUNK_LINES)
                .zip(order.par_chunks(CHUNK_LINES))
                .for_each_init(Worker::default, |worker, (out, order)| {
                    worker.sample_chunk(matcher, &tasks, &recs, order, out)
                });
            // Back in input order.
            for (m, &i) in matches.iter_mut().zip(&order) {
                let r = &mut recs[i as usize];
                outcomes[r.line as usize] = Outcome::Record {
                    id: std::mem::take(&mut r.id),
                    identified: r.identified,
                    matched: m.take(),
                    no_metadata: false,
                };
            }
        });
        consume(batch, &mut outcomes)
    })
}

/// Stage 1 (reference `count_per_shard`): counts matches per entry over the inputs.
///
/// Counting needs no outcome per line in input order, so unlike [`sample`] it keeps none:
/// each parse task tallies the lines it needs not match, and matched records are tallied
/// per language from a flag each (3–4 % of the time went into putting outcomes back in
/// order).
pub fn count(
    matcher: &Matcher,
    inputs: &[PathBuf],
    opts: Options,
    progress: &dyn Progress,
) -> Result<(Counts, LineStats)> {
    let pool = pool(opts)?;
    let counts = ThreadCounts::new(matcher, pool.current_num_threads());
    let mut tally = Tally::new(matcher);
    let mut matched = Vec::new();
    stream(inputs, progress, |batch| {
        pool.install(|| {
            let tasks: Vec<ParsedForCount> = (0..batch.len().div_ceil(PARSE_LINES))
                .into_par_iter()
                .map(|c| parse_counting(matcher, batch, c as u32, c * PARSE_LINES))
                .collect();
            let mut parsed = Vec::with_capacity(tasks.iter().map(|t| t.recs.len()).sum());
            for task in &tasks {
                parsed.extend_from_slice(&task.recs);
                tally.add_lines(&task.lines);
            }
            // The records moved into language order, so that matching reads them one after
            // another.
            let (order, starts) = by_language(&parsed, |r| r.lang, matcher.languages().len());
            let recs: Vec<Located> = order.iter().map(|&i| parsed[i as usize]).collect();
            matched.clear();
            matched.resize(recs.len(), false);
            matched
                .par_chunks_mut(CHUNK_LINES)
                .zip(recs.par_chunks(CHUNK_LINES))
                .for_each_init(Worker::default, |worker, (matched, recs)| {
                    worker.count_chunk(matcher, &tasks, recs, &counts, matched)
                });
            for (lang, range) in starts.windows(2).enumerate() {
                let (a, b) = (range[0] as usize, range[1] as usize);
                let hits = matched[a..b].iter().filter(|&&m| m).count();
                tally.note_matched(lang, (b - a) as u64, hits as u64);
            }
        });
        Ok(())
    })?;
    Ok((counts.sum(), tally.finish(matcher)))
}

/// Parses the lines `first..first + PARSE_LINES` of `batch` (those it has; parse task
/// `task`) for counting: the records to match, normalised, and the line counts of the others
/// (and of those records' parsing).
fn parse_counting(matcher: &Matcher, batch: &Batch, task: u32, first: usize) -> ParsedForCount {
    let lines = first..(first + PARSE_LINES).min(batch.len());
    let mut spaced = SpacedTexts::new(batch, task, lines.len());
    let mut tally = Tally {
        stats: LineStats::default(),
        // Only matched records are tallied per language, and none are here.
        matched_per_lang: Vec::new(),
    };
    let mut parsed = Vec::with_capacity(lines.len());
    for line in lines {
        match parse_one(matcher, batch.line_str(line), line as u32, false) {
            Ok(p) => {
                tally.note_parsed(p.identified);
                parsed.push((p.lang, p.text));
            }
            Err(outcome) => tally.note(&outcome),
        }
    }
    // Normalised in language order, so that each language's texts of this task are one run
    // of `spaced`, which matching (in language order too) then reads straight through.
    let (order, _) = by_language(&parsed, |p| p.0, matcher.languages().len());
    let recs = order
        .into_iter()
        .map(|i| {
            let (lang, text) = &parsed[i as usize];
            spaced.push(*lang, text)
        })
        .collect();
    ParsedForCount {
        spaced: spaced.finish(),
        recs,
        lines: tally.stats,
    }
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
    let mut tally = Tally::new(matcher);
    let mut group = Group {
        id: String::new(),
        lines: Vec::new(),
    };
    let mut started = false;
    scan(
        matcher,
        inputs,
        &pool(opts)?,
        progress,
        |batch, outcomes| {
            for (i, o) in outcomes.drain(..).enumerate() {
                tally.note(&o);
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
    stats.lines = tally.finish(matcher);
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

    /// Records are matched grouped by language, but outcomes come back in input order: with
    /// every entry kept, the sample is exactly the matched lines, in order, and the counts
    /// are those of each line matched on its own.
    #[test]
    fn grouping_by_language_keeps_input_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("shard.tsv");
        let texts = [
            ("en", "a black cat"),
            ("ja", "黒猫です"),
            ("en", "nothing"),
            ("fr", "un chat"),
            ("ja", "犬"),
            ("en", "dog"),
            ("ja", "猫"),
        ];
        let m = matcher();
        let (mut input, mut want) = (String::new(), String::new());
        let mut want_counts = Counts::zeros(&m);
        for i in 0..70_000 {
            let (lang, text) = texts[(i * 7 + i / 3) % texts.len()];
            let line = format!("{i}\t{lang}\t{text}\n");
            input.push_str(&line);
            if let Some(li) = m.language_index(lang) {
                let ids = m.matched_entries(lang, text);
                if !ids.is_empty() {
                    want.push_str(&line);
                }
                let entries = &m.languages()[li as usize].entries;
                for e in ids {
                    let id = entries.iter().position(|x| x == e).unwrap();
                    want_counts.per_lang[li as usize][id] += 1;
                }
            }
        }
        std::fs::write(&p, input).unwrap();
        let (counts, _) = count(
            &m,
            std::slice::from_ref(&p),
            Options::default(),
            &NoProgress,
        )
        .unwrap();
        assert_eq!(counts.per_lang, want_counts.per_lang);
        let probs = Probabilities {
            per_lang: vec![vec![1.0; 3], vec![1.0; 2]],
        };
        let out = dir.path().join("kept.tsv");
        let sampler = Sampler::new(probs, Rule::Metaclip1, 0);
        sample(&m, &sampler, &[p], &out, 0, Options::default(), &NoProgress).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), want);
    }

    /// Counting matches each parse task's normalised texts where they lie (or, for a chunk
    /// of records from two tasks, copied together): over texts that all differ, in three
    /// languages, across several tasks, the counts are those of each line matched alone.
    #[test]
    fn counting_in_place_matches_each_text() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("shard.tsv");
        let m = matcher();
        let words = [
            "cat", "dog", "black", "猫", "黒猫", "x", ",", "  ", "de", "chat",
        ];
        let (mut input, mut want) = (String::new(), Counts::zeros(&m));
        for i in 0..PARSE_LINES * 3 + 17 {
            let lang = ["en", "ja", "fr", "en"][i % 4 * (i % 7) % 4];
            let text: Vec<&str> = (0..i % 13).map(|k| words[(i * 31 + k * k) % 10]).collect();
            let text = text.join(if i % 3 == 0 { "" } else { " " });
            input.push_str(&format!("{i}\t{lang}\t{text}\n"));
            if let Some(li) = m.language_index(lang) {
                let entries = &m.languages()[li as usize].entries;
                for e in m.matched_entries(lang, &text) {
                    let id = entries.iter().position(|x| x == e).unwrap();
                    want.per_lang[li as usize][id] += 1;
                }
            }
        }
        std::fs::write(&p, input).unwrap();
        let (counts, stats) = count(&m, &[p], Options::default(), &NoProgress).unwrap();
        assert_eq!(counts.per_lang, want.per_lang);
        assert!(stats.matched > 500 && stats.unmatched > 500, "{stats:?}");
    }

    /// Counting tallies lines its own way (per parse task, and matched records per language
    /// from flags); sampling keeps an outcome per line. Both must give the same line
    /// statistics, over many parse tasks and every kind of line.
    #[test]
    fn counting_and_sampling_tally_lines_alike() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("shard.tsv");
        let mut s = Vec::new();
        for i in 0..5_000 {
            let line: &[u8] = match i % 9 {
                0 => b"\t\tthe cat and the dog sat on the mat in the house",
                1 => b"\tja\t\xe9\xbb\x92\xe7\x8c\xab",
                2 => b"\tfr\tun chat",
                3 => b"\ten\tnothing",
                4 => b"",
                5 => b"\ten\tbad \xff",
                6 => b"\t{\"id\": 1",
                7 => b"\tja\tnothing",
                _ => b"\ten\tblack cat",
            };
            // Blank lines have no id either.
            if !line.is_empty() {
                s.extend_from_slice(format!("{}", i / 3).as_bytes());
                s.extend_from_slice(line);
            }
            s.push(b'\n');
        }
        std::fs::write(&p, s).unwrap();
        let m = matcher();
        let (_, counted) = count(
            &m,
            std::slice::from_ref(&p),
            Options::default(),
            &NoProgress,
        )
        .unwrap();
        let probs = Probabilities {
            per_lang: vec![vec![1.0; 3], vec![1.0; 2]],
        };
        let sampler = Sampler::new(probs, Rule::Metaclip1, 0);
        let out = dir.path().join("kept.tsv");
        let sampled = sample(&m, &sampler, &[p], &out, 0, Options::default(), &NoProgress)
            .unwrap()
            .lines;
        assert_eq!(counted, sampled);
        assert!(counted.identified > 0 && counted.no_metadata > 0 && counted.malformed > 0);
        assert!(counted.matched > 0 && counted.unmatched > 0 && counted.invalid_utf8 > 0);
        assert_eq!(counted.lines, 5_000);
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
