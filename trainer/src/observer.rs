//! How the training loop reports progress without printing: the caller supplies an observer.

use serde::{Deserialize, Serialize};

/// Held-out loss at one step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvalMetrics {
    /// Mean cross-entropy in nats per token.
    pub loss: f64,
    /// `exp(loss)`.
    pub perplexity: f64,
    /// Tokens scored.
    pub tokens: usize,
}

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Updates done.
    pub step: usize,
    /// Training loss of this step's batch (nats per token).
    pub loss: f64,
    /// Learning rate of this step.
    pub lr: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Training throughput since the previous record.
    pub tokens_per_sec: f64,
    /// Seconds since the run (or this resumption) started.
    pub elapsed_sec: f64,
    /// Held-out loss, when evaluated at this step.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub eval_loss: Option<f64>,
    /// Held-out perplexity, when evaluated at this step.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub eval_perplexity: Option<f64>,
    /// The objective's own metrics (GRPO's rewards, clip ratios, …), by name.
    #[serde(flatten, default)]
    pub extra: std::collections::BTreeMap<String, f64>,
}

/// Receives the events of a training run. Every method has an empty default.
pub trait TrainObserver {
    /// After every update (cheap: called each step, for progress bars).
    fn on_step(&mut self, _step: usize, _loss: f64, _tokens_per_sec: f64) {}
    /// A record to log (every `log_every` steps and at every evaluation).
    fn on_log(&mut self, _record: &LogRecord) {}
    /// A checkpoint was completed at `step`.
    fn on_checkpoint(&mut self, _step: usize, _path: &std::path::Path) {}
}

/// An observer that ignores everything.
pub struct Silent;

impl TrainObserver for Silent {}
