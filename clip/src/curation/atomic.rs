//! Atomic output files, gzip-compressed when the name ends in `.gz`: a thin layer over the
//! workspace's one crash-safe writer, [`kiln_fsutil::AtomicFile`] (temporary file beside the
//! target, fsync, rename, fsync the folder), so a reader never sees a half-written file and a
//! failed run never destroys an existing one (DESIGN.md, "Runs, files and formats").

use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;

use super::error::{Error, Result};

/// A file being written; it replaces `path` only on [`AtomicFile::commit`].
pub struct AtomicFile {
    out: Sink,
}

enum Sink {
    Plain(kiln_fsutil::AtomicFile),
    Gzip(GzEncoder<kiln_fsutil::AtomicFile>),
}

impl AtomicFile {
    /// Starts writing `path`; gzip-compressed when its name ends in `.gz`.
    pub fn create(path: &Path) -> Result<Self> {
        let file = kiln_fsutil::AtomicFile::with_capacity(path, 1 << 20)
            .map_err(|e| Error::io(path, e))?;
        let out = if path.extension().is_some_and(|e| e == "gz") {
            Sink::Gzip(GzEncoder::new(file, flate2::Compression::default()))
        } else {
            Sink::Plain(file)
        };
        Ok(AtomicFile { out })
    }

    fn path(&self) -> &Path {
        match &self.out {
            Sink::Plain(f) => f.path(),
            Sink::Gzip(w) => w.get_ref().path(),
        }
    }

    /// Writes bytes.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        let res = match &mut self.out {
            Sink::Plain(w) => w.write_all(bytes),
            Sink::Gzip(w) => w.write_all(bytes),
        };
        res.map_err(|e| Error::io(self.path(), e))
    }

    /// Finishes the file (the gzip trailer, then flush, fsync, rename over the target, fsync
    /// the folder).
    pub fn commit(self) -> Result<()> {
        let path = self.path().to_owned();
        let file = match self.out {
            Sink::Plain(f) => f,
            Sink::Gzip(w) => w.finish().map_err(|e| Error::io(&path, e))?,
        };
        file.commit().map_err(|e| Error::io(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.tsv");
        std::fs::write(&path, "old").unwrap();
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"new").unwrap();
        drop(f);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"new").unwrap();
        f.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    }

    #[test]
    fn gz_names_are_compressed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl.gz");
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"hello\n").unwrap();
        f.commit().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..2], &[0x1f, 0x8b]);
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(bytes.as_slice()),
            &mut text,
        )
        .unwrap();
        assert_eq!(text, "hello\n");
    }
}
