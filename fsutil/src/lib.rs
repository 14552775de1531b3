//! kiln-fsutil: the one crash-safe file writer of the kiln workspace (DESIGN.md, "Runs, files
//! and formats"). A file is written to a temporary file in the target's folder, flushed,
//! fsynced and renamed over the target, and then the folder is fsynced so that the rename
//! itself survives a power cut: a reader sees the old file or the new one, never a mix, and a
//! failed write never destroys an existing file.
//!
//! Every crate writes through here (model's safetensors export, trainer's checkpoints, logs
//! and plots, clip's curation outputs, the CLI's run files), so a fix lands once. It depends
//! on the standard library only, so that every crate, however low, can use it.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Buffer size of [`AtomicFile::create`].
const DEFAULT_CAPACITY: usize = 64 * 1024;

/// A file being written; it replaces `path` only on [`AtomicFile::commit`]. Dropped without a
/// commit (an error on the way, a panic), it removes its temporary file and leaves `path` as
/// it was.
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    out: Option<BufWriter<File>>,
    committed: bool,
}

impl AtomicFile {
    /// Starts writing `path` (a temporary file beside it, with a 64 KiB buffer).
    pub fn create(path: &Path) -> io::Result<Self> {
        Self::with_capacity(path, DEFAULT_CAPACITY)
    }

    /// [`create`](Self::create) with a write buffer of `capacity` bytes.
    pub fn with_capacity(path: &Path, capacity: usize) -> io::Result<Self> {
        let tmp = temporary_name(path)?;
        let file = File::create(&tmp)?;
        Ok(Self {
            path: path.to_owned(),
            tmp,
            out: Some(BufWriter::with_capacity(capacity, file)),
            committed: false,
        })
    }

    /// The file this will replace.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Finishes the file: flush, fsync, rename over the target, fsync the folder.
    pub fn commit(mut self) -> io::Result<()> {
        let out = self.out.take().expect("an AtomicFile is committed once");
        let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&self.tmp, &self.path)?;
        self.committed = true;
        sync_dir(parent_dir(&self.path))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.as_mut().expect("written after commit").write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.out
            .as_mut()
            .expect("written after commit")
            .write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.as_mut().expect("written after commit").flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            drop(self.out.take());
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Writes a whole file atomically (see the crate documentation).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = AtomicFile::with_capacity(path, 0)?;
    file.write_all(bytes)?;
    file.commit()
}

/// Flushes a folder's entries (new names, renames) to disk. A no-op where folders cannot be
/// opened as files (Windows), which orders renames itself.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    if cfg!(unix) {
        File::open(dir)?.sync_all()
    } else {
        Ok(())
    }
}

/// fsyncs a file that was written by someone else (e.g. Burn's record writer).
pub fn sync_file(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// The folder holding `path` (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// `.<name>.tmp-<pid>-<n>` beside `path`: unique per process and per call, so concurrent
/// writers (threads, processes) never share a temporary file.
fn temporary_name(path: &Path) -> io::Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a file name", path.display()),
        )
    })?;
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    Ok(parent_dir(path).join(tmp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> usize {
        fs::read_dir(dir).unwrap().count()
    }

    #[test]
    fn replaces_content_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(entries(dir.path()), 1);
    }

    #[test]
    fn an_uncommitted_file_leaves_the_old_one_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.tsv");
        fs::write(&path, "old").unwrap();
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"new").unwrap();
        f.flush().unwrap();
        assert_eq!(entries(dir.path()), 2, "the temporary file sits beside it");
        drop(f);
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(entries(dir.path()), 1);
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"new").unwrap();
        f.commit().unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(entries(dir.path()), 1);
    }

    #[test]
    fn a_failed_rename_keeps_the_target_and_removes_the_temporary() {
        let dir = tempfile::tempdir().unwrap();
        // A folder in the way: the rename fails.
        let path = dir.path().join("taken");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("inside"), "x").unwrap();
        assert!(write_atomic(&path, b"data").is_err());
        assert!(path.is_dir());
        assert_eq!(entries(dir.path()), 1);
    }

    #[test]
    fn a_bare_file_name_writes_in_the_current_folder_and_no_name_is_an_error() {
        assert_eq!(parent_dir(Path::new("a.json")), Path::new("."));
        assert!(write_atomic(Path::new("/"), b"x").is_err());
        assert!(write_atomic(Path::new("/no/such/folder/a.json"), b"x").is_err());
    }
}
