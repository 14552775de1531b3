//! Crash-safe file writes with the trainer's error type: a thin wrapper over the workspace's
//! one writer, [`kiln_fsutil`] (temporary file beside the target, fsync, rename, fsync the
//! folder), so that a fix to it lands once.

use std::path::Path;

pub use kiln_fsutil::sync_dir;

use crate::error::TrainError;

/// [`kiln_fsutil::write_atomic`], its error naming `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    kiln_fsutil::write_atomic(path, bytes).map_err(TrainError::io(path))
}
