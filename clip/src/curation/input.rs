//! Streaming input: shards read line by line, in batches, from plain or gzip files.
//!
//! Memory is bounded by the batch size, not by the shard: MetaCLIP curates billions of
//! alt-texts (arXiv 2507.22062, §3.1) in shards, and so does kiln.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::error::{Error, Result};

/// Lines per batch handed to the matching threads.
pub const BATCH_LINES: usize = 16 * 1024;
/// Bytes per batch, at most (a batch ends at the first line that crosses it).
pub const BATCH_BYTES: usize = 8 << 20;

/// A run of consecutive lines from one input.
#[derive(Debug, Default)]
pub struct Batch {
    data: Vec<u8>,
    ends: Vec<usize>,
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
        self.data.len()
    }

    /// Line `i`, without its `\n` or `\r\n`.
    pub fn line(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        let mut line = &self.data[start..self.ends[i]];
        line = line.strip_suffix(b"\n").unwrap_or(line);
        line.strip_suffix(b"\r").unwrap_or(line)
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
pub fn read_batches_into(
    inputs: &[PathBuf],
    mut fresh: impl FnMut() -> Batch,
    mut sink: impl FnMut(Batch) -> Result<()>,
) -> Result<()> {
    for path in inputs {
        let mut reader = open(path)?;
        let mut line_no: u64 = 0;
        loop {
            let mut batch = fresh();
            batch.data.clear();
            batch.ends.clear();
            while batch.ends.len() < BATCH_LINES && batch.data.len() < BATCH_BYTES {
                let n = reader
                    .read_until(b'\n', &mut batch.data)
                    .map_err(|source| Error::IoAt {
                        path: path.clone(),
                        line: line_no + 1,
                        source,
                    })?;
                if n == 0 {
                    break;
                }
                line_no += 1;
                batch.ends.push(batch.data.len());
            }
            let done = batch.ends.len() < BATCH_LINES && batch.data.len() < BATCH_BYTES;
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
