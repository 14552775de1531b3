//! kiln-trainer: the training machinery shared by kiln's models: AdamW with linear warm-up and
//! cosine decay, global-norm gradient clipping, gradient accumulation, held-out evaluation,
//! atomic checkpoints that resume exactly, the metrics log and its plots.
//!
//! The library never prints: progress goes to a [`TrainObserver`].

pub mod checkpoint;
pub mod clip;
pub mod config;
pub mod data;
pub mod error;
pub mod fsutil;
pub mod grpo;
pub mod metrics;
pub mod objective;
pub mod observer;
pub mod plot;
pub mod schedule;
pub mod sft;
pub mod trainer;

pub use checkpoint::CheckpointDir;
pub use config::TrainConfig;
pub use error::TrainError;
pub use objective::{NextToken, Objective};
pub use observer::{EvalMetrics, LogRecord, TrainObserver};
pub use trainer::{TrainState, Trainer};
