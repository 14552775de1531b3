//! Per-entry match counts and the COUNTS file format.
//!
//! MetaCLIP 2 (arXiv 2507.22062, §3.1; reference `curate.py:count_per_shard` and
//! `global_count`) counts, per language, how many alt-texts match each entry
//! (`entry_counts[lang][matched_ids] += 1`) shard by shard, then sums the shards. kiln keeps
//! the same counts and writes them as TSV `lang<TAB>entry<TAB>count`, one line for each entry
//! matched at least once, sorted by language then entry as UTF-8 bytes: shards merge exactly
//! (by [`merge_files`], or `sort -m` and a sum) and two results compare with `diff`.

use std::collections::{BinaryHeap, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};

use super::atomic::AtomicFile;
use super::error::{Error, Result};
use super::input;
use super::matcher::Matcher;
use super::memory::prefetch;

/// Counts of every entry of every language of a [`Matcher`], indexed like it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    /// `per_lang[l][e]`: alt-texts of language `l` that matched entry `e`.
    pub per_lang: Vec<Vec<u64>>,
}

/// One line of a COUNTS file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CountLine {
    pub lang: String,
    pub entry: String,
    pub count: u64,
}

impl Counts {
    /// All-zero counts for the languages of `matcher`.
    pub fn zeros(matcher: &Matcher) -> Self {
        Counts {
            per_lang: matcher
                .languages()
                .iter()
                .map(|l| vec![0; l.entries.len()])
                .collect(),
        }
    }

    /// Adds one matched alt-text.
    pub fn add(&mut self, lang: u32, ids: &[u32]) {
        let counts = &mut self.per_lang[lang as usize];
        for &id in ids {
            counts[id as usize] += 1;
        }
    }

    /// Adds another count of the same metadata.
    pub fn merge(&mut self, other: &Counts) {
        for (a, b) in self.per_lang.iter_mut().zip(&other.per_lang) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
    }

    /// The non-zero counts as sorted COUNTS lines.
    pub fn lines(&self, matcher: &Matcher) -> Vec<CountLine> {
        let mut out = Vec::new();
        for (lm, counts) in matcher.languages().iter().zip(&self.per_lang) {
            let mut lang_lines: Vec<CountLine> = counts
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(|(i, &count)| CountLine {
                    lang: lm.lang.clone(),
                    entry: lm.entries[i].clone(),
                    count,
                })
                .collect();
            lang_lines.sort_unstable_by(|a, b| a.entry.as_bytes().cmp(b.entry.as_bytes()));
            out.extend(lang_lines);
        }
        out.sort_by(|a, b| a.lang.as_bytes().cmp(b.lang.as_bytes()));
        out
    }

    /// Writes a COUNTS file atomically.
    pub fn write(&self, matcher: &Matcher, path: &Path) -> Result<()> {
        write_lines(&self.lines(matcher), path)
    }

    /// Reads a COUNTS file into counts aligned with `matcher`. A language or entry that the
    /// metadata does not have is an error naming the line: the counts came from other
    /// metadata.
    pub fn read(matcher: &Matcher, path: &Path) -> Result<Self> {
        let mut counts = Counts::zeros(matcher);
        let mut lookup: HashMap<u32, HashMap<&str, u32>> = HashMap::new();
        let mut reader = CountsReader::open(path)?;
        while let Some(line) = reader.next_line()? {
            let at = |msg: String| Error::format(path, reader.line_no, msg);
            let lang = matcher
                .language_index(&line.lang)
                .ok_or_else(|| at(format!("language `{}` has no metadata", line.lang)))?;
            let entries = lookup.entry(lang).or_insert_with(|| {
                matcher.languages()[lang as usize]
                    .entries
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (e.as_str(), i as u32))
                    .collect()
            });
            let id = entries.get(line.entry.as_str()).ok_or_else(|| {
                at(format!(
                    "entry `{}` is not in the `{}` metadata",
                    line.entry, line.lang
                ))
            })?;
            counts.per_lang[lang as usize][*id as usize] = line.count;
        }
        Ok(counts)
    }
}

/// Counts that take each text's matched ids in any order and with repeats (as
/// [`Matcher::find_batch_any_order`] gives them) and count an entry once per text, as the
/// reference's `set` of matches does: each counter carries the serial number of the last
/// text that counted it, so a repeat is found in the counter's own cache line, which the
/// increment loads anyway. (Sorting each text's ids to drop repeats had cost ~7 % of the
/// matching time and an eighth of its mispredicted branches.)
///
/// A counter is one `u64`, the count in the low half and the serial number in the high, so
/// that [`Self::into_counts`] makes plain counts of the counters where they lie: summing them
/// into a new all-zero [`Counts`] had cost a fresh allocation of 8 bytes per entry (24 MB
/// for the 2.96M-entry metadata), mapped page by page, and a pass over both, ~20 ms per
/// call. The counters are zeroed by writing them up front: left to be mapped lazily, zero
/// pages at a time, by the counting threads as they count, they cost more than that saved
/// on two threads (paired CPU-time ratio 1.04).
#[derive(Debug, Clone)]
pub(crate) struct DistinctCounts {
    /// `per_lang[l][e]`, as [`Counts::per_lang`]: a counter ([`count`], [`last`]).
    per_lang: Vec<Vec<u64>>,
    /// Serial number of the last text added; no counter's `last` is ahead of it.
    serial: u32,
    /// Counts folded out of `per_lang` when the serial numbers ran out (every 2^32 − 1
    /// texts), which also keeps every counter's count within a `u32`.
    folded: Option<Counts>,
}

/// The count of a [`DistinctCounts`] counter.
#[inline]
fn count(counter: u64) -> u64 {
    counter & u64::from(u32::MAX)
}

/// The serial number of the last text a [`DistinctCounts`] counter counted (0: none yet).
#[inline]
fn last(counter: u64) -> u32 {
    (counter >> 32) as u32
}

impl DistinctCounts {
    /// All-zero counts for the languages of `matcher`.
    pub(crate) fn zeros(matcher: &Matcher) -> Self {
        DistinctCounts {
            per_lang: matcher
                .languages()
                .iter()
                .map(|l| {
                    // Written, not allocated zeroed (see above).
                    #[allow(clippy::slow_vector_initialization)]
                    let mut counters = Vec::with_capacity(l.entries.len());
                    counters.resize(l.entries.len(), 0);
                    counters
                })
                .collect(),
            serial: 0,
            folded: None,
        }
    }

    /// Asks the CPU to start loading the counters that [`Self::add`] with the same
    /// arguments increments, so that the cache misses of many texts' counters overlap.
    pub(crate) fn prefetch(&self, lang: u32, ids: &[u32]) {
        let counters = &self.per_lang[lang as usize];
        for &id in ids {
            prefetch(&counters[id as usize]);
        }
    }

    /// Adds one matched alt-text whose matched entries are `ids`, in any order, repeats
    /// allowed.
    pub(crate) fn add(&mut self, lang: u32, ids: &[u32]) {
        if self.serial == u32::MAX {
            self.fold();
        }
        self.serial += 1;
        let serial = self.serial;
        let counters = &mut self.per_lang[lang as usize];
        for &id in ids {
            let c = &mut counters[id as usize];
            // Without a branch: whether an id repeats is as unpredictable as the text.
            *c = u64::from(serial) << 32 | (count(*c) + u64::from(last(*c) != serial));
        }
    }

    /// Moves the counts into `folded` and starts the serial numbers again.
    fn fold(&mut self) {
        let mut folded = self.folded.take().unwrap_or_else(|| Counts {
            per_lang: self.per_lang.iter().map(|c| vec![0; c.len()]).collect(),
        });
        self.add_to(&mut folded);
        for counters in &mut self.per_lang {
            counters.fill(0);
        }
        self.folded = Some(folded);
        self.serial = 0;
    }

    /// Adds these counts to `total` (of the same metadata).
    pub(crate) fn add_to(&self, total: &mut Counts) {
        if let Some(folded) = &self.folded {
            total.merge(folded);
        }
        for (t, counters) in total.per_lang.iter_mut().zip(&self.per_lang) {
            for (t, &c) in t.iter_mut().zip(counters) {
                *t += count(c);
            }
        }
    }

    /// The counts, in the counters' own memory.
    pub(crate) fn into_counts(self) -> Counts {
        let mut per_lang = self.per_lang;
        for counters in &mut per_lang {
            counters.iter_mut().for_each(|c| *c = count(*c));
        }
        let mut counts = Counts { per_lang };
        if let Some(folded) = &self.folded {
            counts.merge(folded);
        }
        counts
    }
}

/// Writes COUNTS lines (already sorted) atomically.
pub fn write_lines(lines: &[CountLine], path: &Path) -> Result<()> {
    let mut out = AtomicFile::create(path)?;
    let mut buf = String::new();
    for l in lines {
        buf.clear();
        buf.push_str(&l.lang);
        buf.push('\t');
        buf.push_str(&l.entry);
        buf.push('\t');
        buf.push_str(&l.count.to_string());
        buf.push('\n');
        out.write_all(buf.as_bytes())?;
    }
    out.commit()
}

/// Reads a COUNTS file line by line, checking its format and order.
pub struct CountsReader {
    path: PathBuf,
    reader: Box<dyn BufRead + Send>,
    /// 1-based number of the last line read.
    pub line_no: u64,
    prev: Option<(String, String)>,
    buf: Vec<u8>,
}

impl CountsReader {
    /// Opens a COUNTS file (gzip allowed).
    pub fn open(path: &Path) -> Result<Self> {
        Ok(CountsReader {
            path: path.to_owned(),
            reader: input::open(path)?,
            line_no: 0,
            prev: None,
            buf: Vec::new(),
        })
    }

    /// The next line, or `None` at the end. Lines must be sorted by (language, entry) as
    /// bytes, without repeats, with a positive count.
    pub fn next_line(&mut self) -> Result<Option<CountLine>> {
        self.buf.clear();
        let n = self
            .reader
            .read_until(b'\n', &mut self.buf)
            .map_err(|source| Error::IoAt {
                path: self.path.clone(),
                line: self.line_no + 1,
                source,
            })?;
        if n == 0 {
            return Ok(None);
        }
        self.line_no += 1;
        let err = |msg: &str| Error::format(&self.path, self.line_no, msg);
        let line = self.buf.strip_suffix(b"\n").unwrap_or(&self.buf);
        let line = std::str::from_utf8(line).map_err(|_| err("invalid UTF-8"))?;
        let mut parts = line.split('\t');
        let (Some(lang), Some(entry), Some(count), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(err("expected `lang<TAB>entry<TAB>count`"));
        };
        let count: u64 = count
            .parse()
            .ok()
            .filter(|&c| c > 0)
            .ok_or_else(|| err("count is not a positive integer"))?;
        let key = (lang.to_owned(), entry.to_owned());
        if let Some(prev) = &self.prev
            && (prev.0.as_bytes(), prev.1.as_bytes()) >= (key.0.as_bytes(), key.1.as_bytes())
        {
            return Err(err("not sorted by language then entry, or repeated"));
        }
        self.prev = Some(key.clone());
        Ok(Some(CountLine {
            lang: key.0,
            entry: key.1,
            count,
        }))
    }
}

/// Merges COUNTS files into one by summing the counts of equal (language, entry) keys.
/// Streams a k-way merge, so memory does not grow with the size of the inputs.
pub fn merge_files(inputs: &[PathBuf], out: &Path) -> Result<u64> {
    let mut readers = inputs
        .iter()
        .map(|p| CountsReader::open(p))
        .collect::<Result<Vec<_>>>()?;
    // Min-heap on (lang, entry) bytes, then input index.
    let mut heap = BinaryHeap::new();
    for (i, r) in readers.iter_mut().enumerate() {
        if let Some(l) = r.next_line()? {
            heap.push(std::cmp::Reverse((l.lang, l.entry, i, l.count)));
        }
    }
    let mut writer = AtomicFile::create(out)?;
    let mut written = 0u64;
    let mut current: Option<(String, String, u64)> = None;
    let flush = |w: &mut AtomicFile, c: &(String, String, u64)| {
        w.write_all(format!("{}\t{}\t{}\n", c.0, c.1, c.2).as_bytes())
    };
    while let Some(std::cmp::Reverse((lang, entry, i, count))) = heap.pop() {
        match &mut current {
            Some(c) if c.0 == lang && c.1 == entry => {
                c.2 = c.2.checked_add(count).ok_or_else(|| {
                    Error::format(&inputs[i], readers[i].line_no, "count overflows u64")
                })?;
            }
            _ => {
                if let Some(c) = current.take() {
                    flush(&mut writer, &c)?;
                    written += 1;
                }
                current = Some((lang, entry, count));
            }
        }
        if let Some(l) = readers[i].next_line()? {
            heap.push(std::cmp::Reverse((l.lang, l.entry, i, l.count)));
        }
    }
    if let Some(c) = current.take() {
        flush(&mut writer, &c)?;
        written += 1;
    }
    writer.commit()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curation::metadata::{LanguageMetadata, Metadata};

    fn matcher() -> Matcher {
        let l = |lang: &str, e: &[&str]| {
            LanguageMetadata::from_entries(lang, e.iter(), Path::new("t")).unwrap()
        };
        Matcher::new(&Metadata::from_languages(vec![
            l("en", &["cat", "Zebra", "dog"]),
            l("de", &["Katze"]),
        ]))
        .unwrap()
    }

    #[test]
    fn distinct_counts_count_an_entry_once_per_text() {
        let m = matcher();
        let en = m.language_index("en").unwrap();
        let mut d = DistinctCounts::zeros(&m);
        d.add(en, &[1, 0, 1, 1]);
        d.add(en, &[1]);
        d.add(en, &[]);
        // Across the fold when the serial numbers run out, nothing is lost or doubled.
        d.serial = u32::MAX - 1;
        d.add(en, &[0, 0]);
        d.add(en, &[0, 1, 0]);
        d.add(en, &[0]);
        assert_eq!(d.serial, 2);
        let mut total = Counts::zeros(&m);
        d.add_to(&mut total);
        assert_eq!(total.per_lang[en as usize][..2], [4, 3]);
        assert_eq!(d.clone().into_counts(), total);
        let mut want = Counts::zeros(&m);
        want.add(en, &[0, 1]);
        want.add(en, &[1]);
        want.add(en, &[0]);
        want.add(en, &[0, 1]);
        want.add(en, &[0]);
        assert_eq!(total, want);
    }

    /// Two threads' counters summed as `ThreadCounts::sum` does: the first's turned into
    /// counts in place, the second's added.
    #[test]
    fn sums_of_counters() {
        const FAR: usize = 512;
        let entries: Vec<String> = (0..3 * FAR + 5).map(|i| format!("w{i}")).collect();
        let l = LanguageMetadata::from_entries("en", entries.iter(), Path::new("t")).unwrap();
        let m = Matcher::new(&Metadata::from_languages(vec![l])).unwrap();
        let last = entries.len() as u32 - 1;
        let (mut a, mut b) = (DistinctCounts::zeros(&m), DistinctCounts::zeros(&m));
        a.add(0, &[3, last, 3]);
        a.add(0, &[last]);
        b.add(0, &[FAR as u32, 3]);
        let mut total = a.into_counts();
        b.add_to(&mut total);
        let mut want = Counts::zeros(&m);
        want.add(0, &[3, last]);
        want.add(0, &[last]);
        want.add(0, &[FAR as u32, 3]);
        assert_eq!(total, want);
    }

    #[test]
    fn write_read_roundtrip_sorted_by_bytes() {
        let m = matcher();
        let mut c = Counts::zeros(&m);
        let en = m.language_index("en").unwrap();
        c.add(en, &[0, 1]);
        c.add(en, &[1]);
        c.add(m.language_index("de").unwrap(), &[0]);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.tsv");
        c.write(&m, &p).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "de\tKatze\t1\nen\tZebra\t2\nen\tcat\t1\n"
        );
        assert_eq!(Counts::read(&m, &p).unwrap(), c);
    }

    #[test]
    fn merge_sums_and_validates() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.tsv");
        let b = dir.path().join("b.tsv");
        std::fs::write(&a, "de\tKatze\t1\nen\tcat\t2\n").unwrap();
        std::fs::write(&b, "en\tcat\t3\nen\tdog\t1\n").unwrap();
        let out = dir.path().join("total.tsv");
        assert_eq!(merge_files(&[a.clone(), b.clone()], &out).unwrap(), 3);
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "de\tKatze\t1\nen\tcat\t5\nen\tdog\t1\n"
        );
        std::fs::write(&b, "en\tdog\t1\nen\tcat\t3\n").unwrap();
        let err = merge_files(&[a.clone(), b.clone()], &out)
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("b.tsv:2: not sorted by language then entry, or repeated"),
            "{err}"
        );
        std::fs::write(&b, "en\tcat\tmany\n").unwrap();
        let err = merge_files(&[a, b], &out).unwrap_err().to_string();
        assert!(
            err.ends_with("b.tsv:1: count is not a positive integer"),
            "{err}"
        );
        // The failed merges left the earlier result intact.
        assert!(
            std::fs::read_to_string(&out)
                .unwrap()
                .contains("en\tcat\t5")
        );
    }

    #[test]
    fn unknown_entry_names_the_line() {
        let m = matcher();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.tsv");
        std::fs::write(&p, "en\tcat\t1\nen\tcow\t1\n").unwrap();
        let err = Counts::read(&m, &p).unwrap_err().to_string();
        assert!(
            err.ends_with("c.tsv:2: entry `cow` is not in the `en` metadata"),
            "{err}"
        );
    }
}
