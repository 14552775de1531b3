//! Typed errors of the curation pipeline. Every error that comes from a file names the file
//! and, where there is one, the 1-based line.

use std::path::PathBuf;

/// Result alias for the curation module.
pub type Result<T> = std::result::Result<T, Error>;

/// What can go wrong while curating. Bad *data* lines (invalid UTF-8, empty, malformed
/// records) are not errors: they are skipped and counted in [`crate::curation::LineStats`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Reading a file failed at a given line (for example a truncated gzip stream).
    #[error("{path}:{line}: {source}")]
    IoAt {
        path: PathBuf,
        line: u64,
        #[source]
        source: std::io::Error,
    },
    /// A line of one of kiln's own formats (metadata, COUNTS) is not valid.
    #[error("{path}:{line}: {message}")]
    Format {
        path: PathBuf,
        line: u64,
        message: String,
    },
    /// A metadata folder holds no `<lang>.txt` file.
    #[error("{path}: no metadata (expected one `<lang>.txt` file per language)")]
    EmptyMetadata { path: PathBuf },
    /// The automaton for a language could not be built.
    #[error("building the automaton for language `{lang}`: {message}")]
    Automaton { lang: String, message: String },
    /// The global counts have no English entry, so `t_en` cannot be turned into the tail
    /// proportion that sets every other language's threshold (MetaCLIP 2 `global_count`).
    #[error(
        "the counts hold no English (`en`) matches: t_en cannot set the per-language thresholds"
    )]
    NoEnglishCounts,
    /// Drawing a plot failed.
    #[error("plotting {path}: {message}")]
    Plot { path: PathBuf, message: String },
    /// An argument is out of range.
    #[error("invalid argument: {0}")]
    Invalid(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn format(path: impl Into<PathBuf>, line: u64, message: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            line,
            message: message.into(),
        }
    }
}
