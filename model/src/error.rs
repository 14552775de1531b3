//! Errors of the model crate.

use std::path::PathBuf;

/// What can go wrong when building, loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A configuration file could not be read or parsed, or holds inconsistent values.
    #[error("{path}: {reason}")]
    Config { path: PathBuf, reason: String },
    /// A configuration built in code holds inconsistent values.
    #[error("invalid model config: {0}")]
    InvalidConfig(String),
    /// A tokenizer file could not be read, trained or used.
    #[error("{path}: {reason}")]
    Tokenizer { path: PathBuf, reason: String },
    /// A checkpoint file (safetensors, index or config of a Hugging Face model) is missing,
    /// malformed or does not fit the architecture; the reason names the tensor key.
    #[error("{path}: {reason}")]
    Checkpoint { path: PathBuf, reason: String },
    /// A prompt or request is unusable (empty prompt, too long, bad sampling values).
    #[error("{0}")]
    InvalidInput(String),
}
