//! Errors of the trainer.

use std::path::PathBuf;

/// What can stop a training run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A checkpoint is missing, truncated, corrupted, or from another model.
    #[error("{path}: {reason}")]
    Checkpoint { path: PathBuf, reason: String },
    /// The loss (or the gradient norm) stopped being a finite number.
    #[error(
        "training diverged at step {step}: the loss is {loss} (gradient norm {grad_norm}); the run \
         stopped before applying this update, the last good checkpoint is kept"
    )]
    NonFinite {
        step: usize,
        loss: f64,
        grad_norm: f64,
    },
    /// The data or the configuration cannot train the model.
    #[error("{0}")]
    Invalid(String),
}

impl TrainError {
    /// Wraps an I/O error with the file it concerns.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
