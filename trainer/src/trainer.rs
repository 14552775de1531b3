//! The training loop for next-token prediction.
//!
//! Why not burn-train's `Learner`: kiln's resumption contract is "same loss to 1e-5 as the
//! uninterrupted run", which needs the data order (our RNG state), the optimiser and the
//! schedule restored together from one atomically written checkpoint, plus a non-finite loss
//! that stops *before* the update so the last checkpoint stays good. The `Learner` owns its
//! data loader, checkpointer and metric output (to a terminal UI or its own files), none of
//! which can carry that state, and library code here may not draw to the terminal. The parts
//! that are plain building blocks are Burn's: the AdamW optimiser and its burnpack records,
//! `GradientsAccumulator`, autodiff, and the module records. See `trainer/DESIGN.md`.

use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::tensor::Device;
use kiln_model::loss::cross_entropy;
use kiln_model::rng::Rng;
use kiln_model::{Transformer, TransformerConfig};

use crate::checkpoint::{CheckpointDir, CheckpointState};
use crate::clip::clip_global_norm;
use crate::config::TrainConfig;
use crate::data::TokenData;
use crate::error::TrainError;
use crate::objective::{Evaluation, Objective};
use crate::observer::{EvalMetrics, LogRecord, TrainObserver};
use crate::schedule::learning_rate;

/// Everything that changes while training: saved whole in each checkpoint.
pub struct TrainState {
    /// The model, on an autodiff device.
    pub model: Transformer,
    pub optimizer: ModuleOptimizer,
    /// Updates done.
    pub step: usize,
    /// Data-order RNG.
    pub rng: Rng,
    /// The objective's evaluation at the last step, when it evaluated there (not saved).
    pub last_eval: Option<Evaluation>,
}

/// A training run: the loop around an [`Objective`].
pub struct Trainer {
    pub config: TrainConfig,
    pub model_config: TransformerConfig,
    /// The autodiff device the model trains on.
    pub device: Device,
    /// Where checkpoints go (`None`: never saved).
    pub checkpoints: Option<CheckpointDir>,
    /// Checksum of the tokenizer, recorded in checkpoints.
    pub tokenizer_crc32: Option<u32>,
    /// Pause after this many updates (with a checkpoint), as if the run were stopped there.
    pub stop_at: Option<usize>,
}

impl Trainer {
    /// The AdamW optimiser of this run's config.
    pub fn optimizer(&self) -> ModuleOptimizer {
        let c = &self.config;
        AdamWConfig::new()
            .with_beta_1(c.beta1 as f32)
            .with_beta_2(c.beta2 as f32)
            .with_epsilon(c.epsilon as f32)
            .with_weight_decay(c.weight_decay as f32)
            .init()
    }

    /// A freshly initialised state, seeded by the config.
    pub fn fresh_state(&self) -> TrainState {
        self.device.seed(self.config.seed);
        let model = self.model_config.init(&self.device);
        self.state_from(model)
    }

    /// The state of a run that starts from trained weights (fine-tuning: SFT, RL): step 0,
    /// a new optimiser, the data generator seeded by the config. `model` must be on the
    /// run's autodiff device.
    pub fn state_from(&self, model: Transformer) -> TrainState {
        TrainState {
            model,
            optimizer: self.optimizer(),
            step: 0,
            rng: Rng::seed(self.config.seed ^ 0x6b69_6c6e),
            last_eval: None,
        }
    }

    /// The state saved in the latest checkpoint; the objective's own state is restored from
    /// it too.
    pub fn resume_state(&self, objective: &mut dyn Objective) -> Result<TrainState, TrainError> {
        let dir = self
            .checkpoints
            .as_ref()
            .ok_or_else(|| TrainError::Invalid("no checkpoint folder given".into()))?;
        let (path, saved) = dir.latest_state()?;
        if saved.tokenizer_crc32.is_some()
            && self.tokenizer_crc32.is_some()
            && saved.tokenizer_crc32 != self.tokenizer_crc32
        {
            return Err(TrainError::Checkpoint {
                path,
                reason: "the tokenizer differs from the one this checkpoint was trained with"
                    .into(),
            });
        }
        let config = serde_json::to_value(&self.model_config).expect("config serialises");
        let loaded = dir.load(
            self.model_config.init(&self.device),
            &config,
            Some(self.optimizer()),
        )?;
        objective.restore(&loaded.state.objective)?;
        Ok(TrainState {
            model: loaded.model,
            optimizer: loaded.optimizer.expect("optimizer requested"),
            step: loaded.state.step,
            rng: loaded.state.rng,
            last_eval: None,
        })
    }

    /// Trains from `state` until `config.steps` updates are done, taking each micro-batch's
    /// loss from `objective`.
    pub fn fit(
        &self,
        mut state: TrainState,
        objective: &mut dyn Objective,
        observer: &mut dyn TrainObserver,
    ) -> Result<TrainState, TrainError> {
        let c = &self.config;
        c.validate().map_err(TrainError::Invalid)?;
        let start = Instant::now();
        let (mut window_start, mut window_tokens) = (Instant::now(), 0usize);
        let end = self.stop_at.map_or(c.steps, |s| s.min(c.steps));
        while state.step < end {
            let lr = learning_rate(c, state.step);
            let mut accumulator = GradientsAccumulator::<Transformer>::new();
            state.model = state
                .model
                .with_activation(c.activation_at(&self.model_config, state.step));
            objective.begin_step(&state.model, state.step, &mut state.rng)?;
            let mut micro_losses = Vec::with_capacity(c.grad_accum_steps);
            for micro in 0..c.grad_accum_steps {
                // StochA's draws come from the device generator, reseeded from (seed, step,
                // micro-batch) so that a resumed run draws exactly what the uninterrupted one did.
                self.device
                    .seed(activation_seed(c.seed, state.step, micro as u64));
                let out = objective.micro_batch(&state.model, state.step, micro, &mut state.rng)?;
                let scaled = if objective.scales_for_accumulation() {
                    out.loss.clone().div_scalar(c.grad_accum_steps as f64)
                } else {
                    out.loss.clone()
                };
                let grads = GradientsParams::from_grads(scaled.backward(), &state.model);
                accumulator.accumulate(&state.model, grads);
                micro_losses.push(out.loss.into_scalar::<f32>() as f64);
                window_tokens += out.tokens;
            }
            let loss = objective.reported_loss(&micro_losses);
            let mut grads = accumulator.grads();
            let grad_norm = clip_global_norm(&state.model, &mut grads, c.grad_clip);
            if !loss.is_finite() || !grad_norm.is_finite() {
                return Err(TrainError::NonFinite {
                    step: state.step + 1,
                    loss,
                    grad_norm,
                });
            }
            state.model = state.optimizer.step(lr, state.model, grads);
            state.step += 1;
            let tokens_per_sec =
                window_tokens as f64 / window_start.elapsed().as_secs_f64().max(1e-9);
            observer.on_step(state.step, loss, tokens_per_sec);

            let last = state.step == end;
            state.last_eval = if state.step % c.eval_every == 0 || last {
                objective.evaluate(&state.model.valid())?
            } else {
                None
            };
            if state.step % c.log_every == 0 || state.last_eval.is_some() {
                let lm = state.last_eval.as_ref().and_then(|e| e.lm);
                let mut extra = objective.step_metrics();
                if let Some(e) = &state.last_eval {
                    extra.extend(e.metrics.iter().map(|(k, v)| (k.clone(), *v)));
                }
                observer.on_log(&LogRecord {
                    step: state.step,
                    loss,
                    lr,
                    grad_norm,
                    tokens_per_sec,
                    elapsed_sec: start.elapsed().as_secs_f64(),
                    eval_loss: lm.map(|e| e.loss),
                    eval_perplexity: lm.map(|e| e.perplexity),
                    extra,
                });
                (window_start, window_tokens) = (Instant::now(), 0);
            }
            if let Some(dir) = &self.checkpoints
                && (state.step % c.checkpoint_every == 0 || last)
            {
                let path = dir.save(
                    &state.model,
                    &state.optimizer,
                    self.checkpoint_state(&state, objective),
                )?;
                observer.on_checkpoint(state.step, &path);
            }
        }
        Ok(state)
    }

    fn checkpoint_state(&self, state: &TrainState, objective: &dyn Objective) -> CheckpointState {
        CheckpointState {
            format: 0,
            step: state.step,
            rng: state.rng.clone(),
            model_config: serde_json::to_value(&self.model_config).expect("config serialises"),
            tokenizer_crc32: self.tokenizer_crc32,
            objective: objective.state(),
            files: Vec::new(),
        }
    }
}

/// The seed of the device generator for one micro-batch: a SplitMix64 mix of its coordinates,
/// so nearby steps get unrelated streams.
fn activation_seed(seed: u64, step: usize, micro: u64) -> u64 {
    Rng::seed(seed ^ (step as u64).rotate_left(20) ^ micro.rotate_left(48)).next_u64()
}

/// Mean next-token loss of `model` over consecutive windows of `data`.
pub fn evaluate(
    model: &Transformer,
    data: &TokenData,
    batch_size: usize,
    seq_len: usize,
    max_batches: usize,
    device: &Device,
) -> EvalMetrics {
    let (mut nll, mut tokens) = (0.0, 0usize);
    for batch in data.eval_batches(batch_size, seq_len, max_batches, device) {
        let n = batch.targets.dims().iter().product::<usize>();
        let loss: f32 = cross_entropy(model.forward(batch.inputs), batch.targets).into_scalar();
        nll += loss as f64 * n as f64;
        tokens += n;
    }
    let loss = nll / tokens.max(1) as f64;
    EvalMetrics {
        loss,
        perplexity: loss.exp(),
        tokens,
    }
}
