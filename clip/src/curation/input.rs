//! Streaming input: shards read line by line, in batches, from plain or gzip files.
//!
//! Memory is bounded by the batch size, not by the shard: MetaCLIP curates billions of
//! alt-texts (arXiv 2507.22062, §3.1) in shards, and so does kiln.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;

use super::error::{Error, Result};

/// Lines per batch handed to the matching threads: many, so that each language's records in
/// a batch, matched together, are many too (`pipeline`: with 97 languages, ordering batches
/// of 16 Ki lines by language saved nothing measurable, of 64 Ki lines ~4 %).
pub const BATCH_LINES: usize = 64 * 1024;
/// Bytes per batch, at most (a batch ends at the first line that crosses it).
pub const BATCH_BYTES: usize = 8 << 20;
/// Bytes asked of the input per read: as large as its reader's buffer, which a read that
/// size bypasses, so that input (inflated, for gzip) lands in the batch without a copy.
const READ_BYTES: usize = 1 << 20;

/// A run of consecutive lines from one input.
#[derive(Debug, Default)]
pub struct Batch {
    /// The lines are `data[..len]`; the rest, zero-filled once, is room that input is read
    /// into directly (no copy through a reader's buffer), kept when the batch is reused.
    data: Vec<u8>,
    len: usize,
    ends: Vec<usize>,
    /// Whether all of `data[..len]` is valid UTF-8.
    utf8: bool,
}

impl Batch {
    /// Number of lines.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the batch has no line.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Bytes of the batch (lines with their terminators).
    pub fn bytes(&self) -> usize {
        self.len
    }

    /// Line `i`, without its `\n` or `\r\n`.
    pub fn line(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        let mut line = &self.data[start..self.ends[i]];
        line = line.strip_suffix(b"\n").unwrap_or(line);
        line.strip_suffix(b"\r").unwrap_or(line)
    }

    /// Line `i` as text, or `None` if it is not valid UTF-8.
    pub fn line_str(&self, i: usize) -> Option<&str> {
        let line = self.line(i);
        if self.utf8 {
            // SAFETY: all of `data[..len]` is valid UTF-8 (checked when the batch was filled), and
            // a line is cut from it at ASCII bytes (`\n`, `\r`), which never fall inside a
            // multi-byte character, so the line is valid UTF-8 too.
            Some(unsafe { std::str::from_utf8_unchecked(line) })
        } else {
            simdutf8::basic::from_utf8(line).ok()
        }
    }
}

/// Opens an input: `-` is standard input; a name ending in `.gz`, or a file starting with
/// the gzip magic, is decompressed (concatenated gzip members too).
pub fn open(path: &Path) -> Result<Box<dyn BufRead + Send>> {
    let raw: Box<dyn Read + Send> = if path == Path::new("-") {
        Box::new(std::io::stdin())
    } else {
        Box::new(File::open(path).map_err(|e| Error::io(path, e))?)
    };
    let mut reader = BufReader::with_capacity(1 << 20, raw);
    let gz = path.extension().is_some_and(|e| e == "gz")
        || reader
            .fill_buf()
            .map_err(|e| Error::io(path, e))?
            .starts_with(&[0x1f, 0x8b]);
    // The decoder inflates straight from `reader`'s megabyte buffer (`flate2::read`'s would
    // copy it into a 32 KiB one first): each call then has input enough to fill the output
    // asked for, so it copies its 32 KiB history window once per megabyte, not per 80 KiB.
    Ok(if gz {
        Box::new(BufReader::with_capacity(
            1 << 20,
            MultiGzDecoder::new(reader),
        ))
    } else {
        Box::new(reader)
    })
}

/// Reads the inputs in order and calls `sink` with each batch; stops at the first error of
/// either.
pub fn read_batches(inputs: &[PathBuf], sink: impl FnMut(Batch) -> Result<()>) -> Result<()> {
    read_batches_into(inputs, Batch::default, sink)
}

/// [`read_batches`], filling batches that `fresh` hands out (cleared first), so that a caller
/// can recycle the buffers of batches it is done with instead of allocating new ones.
///
/// Input is read into a batch a megabyte at a time, straight into its buffer, and split into
/// lines by one vectorised search per read, not line by line; the bytes after a full batch's
/// last line start the next batch.
pub fn read_batches_into(
    inputs: &[PathBuf],
    mut fresh: impl FnMut() -> Batch,
    mut sink: impl FnMut(Batch) -> Result<()>,
) -> Result<()> {
    for path in inputs {
        let mut reader = open(path)?;
        let mut lines_before: u64 = 0;
        let mut carry = Vec::new();
        let mut eof = false;
        loop {
            let mut batch = fresh();
            batch.ends.clear();
            // `batch.data[..filled]` is input read so far.
            let mut filled = carry.len();
            if batch.data.len() < filled {
                batch.data.resize(filled, 0);
            }
            batch.data[..filled].copy_from_slice(&carry);
            carry.clear();
            // Bytes of `batch.data` already searched for line ends, and validated as UTF-8.
            let (mut searched, mut validated) = (0, 0);
            let mut utf8 = true;
            loop {
                let mut full = false;
                for i in memchr::memchr_iter(b'\n', &batch.data[searched..filled]) {
                    let end = searched + i + 1;
                    batch.ends.push(end);
                    if batch.ends.len() >= BATCH_LINES || end >= BATCH_BYTES {
                        full = true;
                        break;
                    }
                }
                // The lines read so far validated while still in cache (not once the whole
                // batch is read: megabytes by then out of it). Cut at line ends, which are
                // ASCII, the pieces are valid exactly when the whole is.
                let upto = batch.ends.last().copied().unwrap_or(0);
                if utf8 && upto > validated {
                    utf8 = simdutf8::basic::from_utf8(&batch.data[validated..upto]).is_ok();
                    validated = upto;
                }
                if full {
                    let end = *batch.ends.last().expect("a line");
                    carry.extend_from_slice(&batch.data[end..filled]);
                    filled = end;
                    break;
                }
                searched = filled;
                if eof {
                    // A last line without a line end.
                    if batch.ends.last().copied().unwrap_or(0) < filled {
                        batch.ends.push(filled);
                    }
                    break;
                }
                if batch.data.len() < filled + READ_BYTES {
                    batch.data.resize(filled + READ_BYTES, 0);
                }
                let line = lines_before + batch.ends.len() as u64 + 1;
                let n = loop {
                    match reader.read(&mut batch.data[filled..filled + READ_BYTES]) {
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        got => {
                            break got.map_err(|source| Error::IoAt {
                                path: path.clone(),
                                line,
                                source,
                            })?;
                        }
                    }
                };
                eof = n == 0;
                filled += n;
            }
            batch.len = filled;
            lines_before += batch.ends.len() as u64;
            // Validating many lines at once is far cheaper than line by line.
            batch.utf8 = utf8
                && (validated >= filled
                    || simdutf8::basic::from_utf8(&batch.data[validated..filled]).is_ok());
            let done = eof && carry.is_empty();
            if !batch.is_empty() {
                sink(batch)?;
            }
            if done {
                break;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn collect(inputs: &[PathBuf]) -> Vec<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        read_batches(inputs, |b| {
            out.push((0..b.len()).map(|i| b.line(i).to_vec()).collect());
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn plain_and_gzip_with_a_last_line_cut_short() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.jsonl");
        std::fs::write(&plain, b"one\r\ntwo\n\nthree").unwrap();
        let gz = dir.path().join("b.tsv.gz");
        let mut enc = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), Default::default());
        enc.write_all(b"x\ty\tz\n").unwrap();
        enc.finish().unwrap();
        let got = collect(&[plain, gz]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], [&b"one"[..], b"two", b"", b"three"]);
        assert_eq!(got[1], [&b"x\ty\tz"[..]]);
    }

    /// Lines cut across the input buffers and across batches (by line count and by bytes)
    /// come out whole, in order, each once.
    #[test]
    fn batches_split_at_line_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("many.tsv");
        let mut want = Vec::new();
        for i in 0..BATCH_LINES * 5 / 2 {
            let len = if i % 4_000 == 7 { 3_000 } else { i % 97 };
            want.push(format!("{i}\t{}", "é".repeat(len)).into_bytes());
        }
        // 9,000 lines of 1 KiB: past BATCH_BYTES before BATCH_LINES.
        for i in 0..9_000 {
            want.push(format!("{i:<1023}").into_bytes());
        }
        let mut bytes = want.join(&b"\n"[..]);
        bytes.extend_from_slice(b"\r\nlast line, no line end");
        want.push(b"last line, no line end".to_vec());
        std::fs::write(&path, &bytes).unwrap();
        let batches = collect(&[path]);
        assert!(batches.len() >= 4);
        assert_eq!(batches[0].len(), BATCH_LINES);
        assert!(
            batches
                .iter()
                .any(|b| b.len() < BATCH_LINES - 1 && b.len() > 1000)
        );
        assert_eq!(batches.concat(), want);
    }

    /// A recycled batch is read into over what it held before: its lines and its UTF-8
    /// check must cover only the new input (here a long batch ending in invalid bytes is
    /// followed by a shorter, valid one in the same buffer).
    #[test]
    fn recycled_batches_hold_only_their_own_input() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reuse.tsv");
        let mut want: Vec<Vec<u8>> = Vec::new();
        for i in 0..BATCH_LINES {
            let mut line = format!("{i}\ten\tsome text of a line").into_bytes();
            if i + 10 >= BATCH_LINES {
                line.extend_from_slice(b" \xff\xfe");
            }
            want.push(line);
        }
        for i in 0..BATCH_LINES / 2 {
            want.push(format!("{i}\tja\tvalid").into_bytes());
        }
        std::fs::write(&path, want.join(&b"\n"[..])).unwrap();
        let spare = std::cell::RefCell::new(Vec::new());
        let (mut lines, mut valid) = (Vec::new(), Vec::new());
        read_batches_into(
            &[path],
            || spare.borrow_mut().pop().unwrap_or_default(),
            |b| {
                lines.extend((0..b.len()).map(|i| b.line(i).to_vec()));
                valid.extend((0..b.len()).map(|i| b.line_str(i).is_some()));
                spare.borrow_mut().push(b);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(lines, want);
        let invalid: Vec<usize> = (0..valid.len()).filter(|&i| !valid[i]).collect();
        assert_eq!(invalid, (BATCH_LINES - 10..BATCH_LINES).collect::<Vec<_>>());
    }

    /// A batch is validated a read at a time: a character cut by a read must not make a
    /// valid batch look invalid (which would send every line down the slow path), and an
    /// invalid line in its first megabyte must still be found.
    #[test]
    fn validation_by_reads_judges_the_batch_whole() {
        let dir = tempfile::tempdir().unwrap();
        for bad_line in [None, Some(5)] {
            let path = dir.path().join("reads.tsv");
            let mut bytes = Vec::new();
            for i in 0..30_000 {
                // 3-byte characters, so that reads of 2^20 bytes cut some.
                bytes.extend_from_slice(format!("{i}\t{}\n", "日本".repeat(i % 40)).as_bytes());
                if Some(i) == bad_line {
                    bytes.extend_from_slice(b"bad \xe6\x97\n");
                }
            }
            assert!(bytes.len() > 2 * READ_BYTES);
            std::fs::write(&path, &bytes).unwrap();
            let (mut lines, mut flags) = (Vec::new(), Vec::new());
            read_batches(&[path], |b| {
                lines.extend((0..b.len()).map(|i| b.line_str(i).map(str::len)));
                flags.push(b.utf8);
                Ok(())
            })
            .unwrap();
            let bad: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].is_none()).collect();
            assert_eq!(bad, bad_line.map(|i| i + 1).into_iter().collect::<Vec<_>>());
            assert_eq!(flags, [bad_line.is_none()]);
        }
    }

    #[test]
    fn invalid_utf8_marks_only_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.tsv");
        std::fs::write(&path, b"1\ten\tcaf\xc3\xa9\n2\ten\tbad \xff\n3\ten\tok").unwrap();
        let mut lines = Vec::new();
        read_batches(&[path], |b| {
            lines.extend((0..b.len()).map(|i| b.line_str(i).map(str::to_owned)));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            lines,
            [Some("1\ten\tcafé".into()), None, Some("3\ten\tok".into())]
        );
    }

    #[test]
    fn truncated_gzip_is_an_error_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("c.jsonl.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), Default::default());
        for i in 0..1000 {
            writeln!(enc, "line {i} with some text").unwrap();
        }
        let bytes = enc.finish().unwrap();
        std::fs::write(&gz, &bytes[..bytes.len() / 2]).unwrap();
        let err = read_batches(&[gz], |_| Ok(())).unwrap_err().to_string();
        assert!(err.contains("c.jsonl.gz:"), "{err}");
    }

    #[test]
    fn missing_file_names_it() {
        let err = read_batches(&[PathBuf::from("/nonexistent/x.jsonl")], |_| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("/nonexistent/x.jsonl:"), "{err}");
    }
}
