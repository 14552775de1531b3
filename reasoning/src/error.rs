//! Errors of the reasoning crate: every one that concerns a file names it (and the line,
//! where there is one), so the CLI can report it in one line.

use std::path::PathBuf;

/// What can go wrong loading a task, its data or a RESTRAIN weights file.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A data file a task needs is not there.
    #[error("{path} not found: {hint}")]
    MissingData { path: PathBuf, hint: String },
    /// One line of a data file is malformed (1-based line number).
    #[error("{path}:{line}: {reason}")]
    Malformed {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// A whole file is malformed (no single line to blame).
    #[error("{path}: {reason}")]
    BadFile { path: PathBuf, reason: String },
    /// No task has this name.
    #[error("unknown task `{name}`; known tasks: {known}")]
    UnknownTask { name: String, known: String },
    /// A dataset task was asked for more problems than it holds.
    #[error("task `{task}` holds {available} problems, {asked} were asked for")]
    TooMany {
        task: String,
        asked: usize,
        available: usize,
    },
    /// A configuration value that cannot work.
    #[error("{0}")]
    Invalid(String),
}

impl TaskError {
    /// Wraps an I/O error with the file it concerns.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
