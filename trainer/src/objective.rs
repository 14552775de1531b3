//! The loss seam of the one training loop: what differs between pre-training, SFT, GRPO and
//! judge training is how a micro-batch becomes a loss. The loop (`Trainer::fit`) owns
//! everything else: accumulation, clipping, the non-finite check, AdamW, the schedule,
//! checkpoints and logs.

use std::collections::BTreeMap;

use burn::tensor::{Device, Tensor};
use kiln_model::Transformer;
use kiln_model::loss::cross_entropy;
use kiln_model::rng::Rng;

use crate::config::TrainConfig;
use crate::data::TokenData;
use crate::error::TrainError;
use crate::observer::EvalMetrics;
use crate::trainer::evaluate;

/// One micro-batch's loss on the autodiff device.
pub struct MicroLoss {
    /// The loss to differentiate, already scaled for accumulation where the objective's
    /// normalisation needs it (see [`Objective::scales_for_accumulation`]). `[1]`
    pub loss: Tensor<1>,
    /// Tokens the loss covers (for the throughput figure).
    pub tokens: usize,
}

/// Named scalars an objective adds to a logged record (`metrics.jsonl`).
pub type Metrics = BTreeMap<String, f64>;

/// Turns micro-batches into losses.
pub trait Objective {
    /// Called once before each update's micro-batches with the model as it is then (GRPO
    /// generates its rollouts here). `rng` is the run's data-order generator, saved in every
    /// checkpoint.
    fn begin_step(
        &mut self,
        _model: &Transformer,
        _step: usize,
        _rng: &mut Rng,
    ) -> Result<(), TrainError> {
        Ok(())
    }

    /// The loss of micro-batch `micro` of update `step` (0-based).
    fn micro_batch(
        &mut self,
        model: &Transformer,
        step: usize,
        micro: usize,
        rng: &mut Rng,
    ) -> Result<MicroLoss, TrainError>;

    /// Whether the loop should divide each micro-batch's loss by the number of micro-batches
    /// (a mean-per-micro-batch objective), or the objective has normalised over the whole
    /// accumulated batch itself (DAPO's token count).
    fn scales_for_accumulation(&self) -> bool {
        true
    }

    /// The value to report as the step's loss, given the micro-batch losses read back (their
    /// mean by default).
    fn reported_loss(&self, micro_losses: &[f64]) -> f64 {
        micro_losses.iter().sum::<f64>() / micro_losses.len().max(1) as f64
    }

    /// Metrics of the update just made, for the log (read at logged steps only).
    fn step_metrics(&mut self) -> Metrics {
        Metrics::new()
    }

    /// A held-out evaluation of `model` (without autodiff), if the objective has one.
    fn evaluate(&mut self, _model: &Transformer) -> Result<Option<Evaluation>, TrainError> {
        Ok(None)
    }

    /// State beyond the loop's own that a checkpoint must hold for an exact resume (a rollout
    /// buffer reused over μ updates, say).
    fn state(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// Restores [`state`](Self::state) from a checkpoint.
    fn restore(&mut self, _state: &serde_json::Value) -> Result<(), TrainError> {
        Ok(())
    }
}

/// A held-out evaluation: the language-model loss where there is one, and named metrics.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    pub lm: Option<EvalMetrics>,
    pub metrics: Metrics,
}

/// Next-token cross-entropy on random windows of tokenised text, evaluated on held-out text:
/// language-model pre-training.
pub struct NextToken<'a> {
    train: &'a TokenData,
    valid: &'a TokenData,
    batch_size: usize,
    seq_len: usize,
    /// Held-out batches per evaluation (0: all).
    eval_batches: usize,
}

impl<'a> NextToken<'a> {
    /// The objective of a run with `config`'s batch shape, refusing data with token ids the
    /// model's vocabulary of `vocab_size` does not hold.
    pub fn new(
        train: &'a TokenData,
        valid: &'a TokenData,
        config: &TrainConfig,
        vocab_size: usize,
    ) -> Result<Self, TrainError> {
        let max = |d: &TokenData| d.tokens().iter().copied().max().unwrap_or(0) as usize;
        if vocab_size <= max(train).max(max(valid)) {
            return Err(TrainError::Invalid(
                "the data holds token ids beyond the model's vocabulary".into(),
            ));
        }
        Ok(Self {
            train,
            valid,
            batch_size: config.batch_size,
            seq_len: config.seq_len,
            eval_batches: config.eval_batches,
        })
    }
}

impl Objective for NextToken<'_> {
    fn micro_batch(
        &mut self,
        model: &Transformer,
        _step: usize,
        _micro: usize,
        rng: &mut Rng,
    ) -> Result<MicroLoss, TrainError> {
        let device = model_device(model);
        let batch = self
            .train
            .random_batch(self.batch_size, self.seq_len, rng, &device);
        Ok(MicroLoss {
            loss: cross_entropy(model.forward(batch.inputs), batch.targets),
            tokens: self.batch_size * self.seq_len,
        })
    }

    fn evaluate(&mut self, model: &Transformer) -> Result<Option<Evaluation>, TrainError> {
        let device = model_device(model);
        Ok(Some(Evaluation {
            lm: Some(evaluate(
                model,
                self.valid,
                self.batch_size,
                self.seq_len,
                self.eval_batches,
                &device,
            )),
            metrics: Metrics::new(),
        }))
    }
}

/// The device a model's parameters live on.
pub fn model_device(model: &Transformer) -> Device {
    use burn::module::Module;
    model
        .devices()
        .into_iter()
        .next()
        .expect("a model has parameters")
}
