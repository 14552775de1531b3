//! GRPO as an [`Objective`] of the one training loop (DeepSeekMath, arXiv 2402.03300, Alg. 1;
//! TRL's `GRPOTrainer` as the reference): each generation samples `G` completions of
//! `prompts_per_step` prompts with the current policy, scores them with the rewards, turns the
//! scores into advantages (GRPO's group normalisation or a label-free estimator), and the next
//! μ = `num_iterations` updates minimise the clipped surrogate over them, split into the run's
//! `grad_accum_steps` micro-batches.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use kiln_model::Transformer;
use kiln_model::rng::Rng;
use kiln_model::sampling::SamplingConfig;
use kiln_model::tokenizer::TextTokenizer;
use serde::{Deserialize, Serialize};

use super::advantage::{Advantage, AdvantageEstimator, AdvantageInput, group_stds};
use super::config::GrpoConfig;
use super::loss::{LossBatch, LossSettings, grpo_loss};
use super::reward::{Completion, WeightedReward, score_all};
use super::rollout::{
    Prompt, Rollout, RolloutSettings, ScoringBatch, completion_logprobs, sample_rollouts,
};
use crate::error::TrainError;
use crate::objective::{Metrics, MicroLoss, Objective, model_device};

/// What a GRPO run is given besides its configuration.
pub struct GrpoParts<'a> {
    /// The training prompts (sampled with the run's data generator).
    pub prompts: &'a [Prompt],
    /// The policy's tokenizer: completions are decoded for the rewards.
    pub tokenizer: &'a TextTokenizer,
    pub rewards: Vec<WeightedReward>,
    /// How scores become advantages ([`super::GroupAdvantage`] for GRPO).
    pub estimator: Box<dyn AdvantageEstimator>,
    /// The frozen reference policy π_ref (the initial policy, loaded again on resume), required
    /// when β > 0 and refused otherwise: no reference is kept when it is not used.
    pub reference: Option<Transformer>,
    /// Token ids that end a completion (the checkpoint's EOS ids).
    pub stop_tokens: Vec<u32>,
    /// The longest sequence the policy may see (its context).
    pub max_len: usize,
    /// Where the completions log goes (`completions.jsonl`), written every
    /// `log_completions_every` steps.
    pub completions_log: Option<PathBuf>,
}

/// The rollouts of one generation, reused by its μ updates (and saved in checkpoints between
/// them, so a resumed run updates on exactly the same samples).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Generation {
    rollouts: Vec<Rollout>,
    advantages: Vec<Advantage>,
    /// log π_ref of each rollout's tokens (β > 0).
    ref_logprobs: Option<Vec<Vec<f32>>>,
    /// Rollouts that enter the loss (all, or those of groups with a non-zero advantage).
    kept: Vec<usize>,
    /// Statistics of the generation, logged with each of its updates.
    metrics: Metrics,
}

/// The GRPO engine's loss.
pub struct GrpoObjective<'a> {
    config: GrpoConfig,
    parts: GrpoParts<'a>,
    rollout: RolloutSettings,
    grad_accum_steps: usize,
    generation: Option<Generation>,
    /// Active completion tokens of the current update (DAPO's normaliser).
    update_tokens: usize,
    /// Per micro-batch `[loss, clip_low, clip_high, clip_region, kl, entropy_sum, tokens]`,
    /// read at logged steps only.
    micro_stats: Vec<Tensor<1>>,
    update_started: Instant,
}

impl<'a> GrpoObjective<'a> {
    /// A GRPO objective whose updates each take `grad_accum_steps` micro-batches (the run's
    /// `TrainConfig::grad_accum_steps`).
    ///
    /// # Errors
    /// An invalid configuration, β > 0 without a reference policy (or a reference with β = 0),
    /// no prompts, or a prompt too long to leave room for a completion (named by its index).
    pub fn new(
        config: GrpoConfig,
        parts: GrpoParts<'a>,
        grad_accum_steps: usize,
    ) -> Result<Self, TrainError> {
        config.validate().map_err(TrainError::Invalid)?;
        if (config.beta > 0.0) != parts.reference.is_some() {
            return Err(TrainError::Invalid(format!(
                "beta = {} {}",
                config.beta,
                if config.beta > 0.0 {
                    "needs a reference policy for its KL term"
                } else {
                    "has no KL term: no reference policy should be loaded"
                }
            )));
        }
        if parts.prompts.is_empty() {
            return Err(TrainError::Invalid(
                "there are no prompts to train on".into(),
            ));
        }
        if let Some((i, p)) = parts
            .prompts
            .iter()
            .enumerate()
            .find(|(_, p)| p.ids.is_empty() || p.ids.len() >= parts.max_len)
        {
            return Err(TrainError::Invalid(format!(
                "prompt {} has {} tokens; the policy's context of {} tokens needs at least one \
                 prompt token and room for the completion",
                i + 1,
                p.ids.len(),
                parts.max_len
            )));
        }
        let completions = config.prompts_per_step * config.num_generations;
        if grad_accum_steps == 0 || grad_accum_steps > completions {
            return Err(TrainError::Invalid(format!(
                "grad_accum_steps = {grad_accum_steps} must lie in 1..={completions} (the \
                 completions of one step)"
            )));
        }
        let rollout = RolloutSettings {
            group_size: config.num_generations,
            max_completion_length: config.max_completion_length,
            sampling: SamplingConfig {
                temperature: config.temperature as f64,
                top_k: config.top_k,
                top_p: config.top_p as f64,
            },
            stop_tokens: parts.stop_tokens.clone(),
            pad_token: 0,
            max_len: parts.max_len,
        };
        Ok(Self {
            config,
            parts,
            rollout,
            grad_accum_steps,
            generation: None,
            update_tokens: 0,
            micro_stats: Vec::new(),
            update_started: Instant::now(),
        })
    }

    /// Samples, scores and weighs a new generation with `model`.
    fn generate(
        &mut self,
        model: &Transformer,
        step: usize,
        rng: &mut Rng,
    ) -> Result<Generation, TrainError> {
        let c = &self.config;
        let g = c.num_generations;
        let chosen = choose_prompts(self.parts.prompts.len(), c.prompts_per_step, rng);
        let seed = rng.next_u64();
        let clock = Instant::now();
        let rollouts = sample_rollouts(model, self.parts.prompts, &chosen, &self.rollout, seed)
            .map_err(|e| TrainError::Invalid(format!("rollout at step {}: {e}", step + 1)))?;
        let generation_secs = clock.elapsed().as_secs_f64();

        let texts = rollouts
            .iter()
            .map(|r| self.parts.tokenizer.decode(&r.tokens))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TrainError::Invalid(e.to_string()))?;
        let completions: Vec<Completion<'_>> = rollouts
            .iter()
            .zip(&texts)
            .enumerate()
            .map(|(i, (r, text))| {
                let prompt = &self.parts.prompts[r.prompt];
                Completion {
                    prompt_index: i / g,
                    prompt: &prompt.text,
                    text,
                    gold: prompt.gold.as_deref(),
                    truncated: r.truncated,
                }
            })
            .collect();
        let scored = score_all(&self.parts.rewards, &completions);
        let advantages = self.parts.estimator.advantages(&AdvantageInput {
            completions: &completions,
            rewards: &scored,
            group_size: g,
        });
        assert_eq!(
            advantages.len(),
            rollouts.len(),
            "one advantage per completion"
        );

        // DAPO's dynamic sampling: a group whose advantages are all zero adds nothing but cost.
        let all: Vec<usize> = (0..rollouts.len()).collect();
        let mut kept = all.clone();
        let mut dropped = 0;
        if c.drop_zero_std_groups {
            kept = all
                .chunks(g)
                .filter(|group| {
                    group
                        .iter()
                        .any(|&i| advantages[i] != zero_advantage(advantages[i]))
                })
                .flatten()
                .copied()
                .collect();
            dropped = (rollouts.len() - kept.len()) / g;
            // A batch of nothing cannot make an update: keep it (a zero-gradient step).
            if kept.is_empty() {
                kept = all;
            }
        }

        let clock = Instant::now();
        let ref_logprobs = match &self.parts.reference {
            Some(reference) => Some(self.score(reference, &rollouts)),
            None => None,
        };
        let reference_secs = clock.elapsed().as_secs_f64();

        let mut metrics = generation_metrics(&scored, &rollouts, &advantages, g);
        metrics.insert("time/generation".into(), generation_secs);
        metrics.insert("time/reference".into(), reference_secs);
        metrics.insert("groups/dropped".into(), dropped as f64);
        let generation = Generation {
            rollouts,
            advantages,
            ref_logprobs,
            kept,
            metrics,
        };
        if self.config.log_completions_every > 0
            && (step + 1) % self.config.log_completions_every == 0
            && let Some(path) = &self.parts.completions_log
        {
            write_completions(
                path,
                step + 1,
                self.parts.prompts,
                &generation,
                &texts,
                &scored,
            )?;
        }
        Ok(generation)
    }

    /// log π of every rollout token under `model` (no autodiff), in micro-batch chunks.
    fn score(&self, model: &Transformer, rollouts: &[Rollout]) -> Vec<Vec<f32>> {
        let mut out = Vec::with_capacity(rollouts.len());
        let size = rollouts.len().div_ceil(self.grad_accum_steps);
        for chunk in rollouts.chunks(size.max(1)) {
            let refs: Vec<&Rollout> = chunk.iter().collect();
            let batch = ScoringBatch::new(self.parts.prompts, &refs, model);
            let c = batch.targets.dims()[1];
            let (logp, _) = completion_logprobs(model, &batch, self.rollout.sampling.temperature);
            let logp: Vec<f32> = logp.into_data().try_into_vec_as().expect("f32 log-probs");
            for (i, r) in chunk.iter().enumerate() {
                out.push(logp[i * c..i * c + r.tokens.len()].to_vec());
            }
        }
        out
    }

    /// The rollouts of micro-batch `micro`: an even share of the kept ones.
    fn micro_rows(&self, micro: usize) -> Vec<usize> {
        let kept = &self.generation.as_ref().expect("generated").kept;
        let (n, parts) = (kept.len(), self.grad_accum_steps);
        kept[micro * n / parts..(micro + 1) * n / parts].to_vec()
    }

    fn counts(&self, r: &Rollout) -> bool {
        !(self.config.mask_truncated_completions && r.truncated)
    }
}

/// An advantage with the same weight and nothing to push.
fn zero_advantage(a: Advantage) -> Advantage {
    Advantage {
        pos: 0.0,
        neg: 0.0,
        weight: a.weight,
    }
}

impl Objective for GrpoObjective<'_> {
    fn begin_step(
        &mut self,
        model: &Transformer,
        step: usize,
        rng: &mut Rng,
    ) -> Result<(), TrainError> {
        if self.generation.is_none() || step % self.config.num_iterations == 0 {
            let generation = self.generate(&model.valid(), step, rng)?;
            self.generation = Some(generation);
        }
        let generation = self.generation.as_ref().expect("generated");
        self.update_tokens = generation
            .kept
            .iter()
            .map(|&i| &generation.rollouts[i])
            .filter(|r| self.counts(r))
            .map(|r| r.tokens.len())
            .sum();
        self.micro_stats.clear();
        self.update_started = Instant::now();
        Ok(())
    }

    fn micro_batch(
        &mut self,
        model: &Transformer,
        _step: usize,
        micro: usize,
        _rng: &mut Rng,
    ) -> Result<MicroLoss, TrainError> {
        let mut rows = self.micro_rows(micro);
        // More micro-batches than kept completions (after dynamic sampling): this one takes a
        // completion with weight 0, so the loop still gets a loss connected to the model.
        let silent = rows.is_empty();
        if silent {
            rows = self.micro_rows(self.grad_accum_steps - 1)[..1].to_vec();
        }
        let generation = self.generation.as_ref().expect("generated");
        let rollouts: Vec<&Rollout> = rows.iter().map(|&i| &generation.rollouts[i]).collect();
        let batch = ScoringBatch::new(self.parts.prompts, &rollouts, model);
        let device = model_device(model);
        let [n, c] = batch.targets.dims();
        let row_mask: Vec<f32> = rollouts
            .iter()
            .map(|r| if self.counts(r) && !silent { 1.0 } else { 0.0 })
            .collect();
        let mask = batch.mask.clone()
            * Tensor::<1>::from_data(TensorData::new(row_mask, [n]), &device).unsqueeze_dim(1);
        let padded = |values: Vec<&[f32]>| {
            let mut data = vec![0.0f32; n * c];
            for (i, v) in values.into_iter().enumerate() {
                data[i * c..i * c + v.len()].copy_from_slice(v);
            }
            Tensor::<2>::from_data(TensorData::new(data, [n, c]), &device)
        };
        let old_logp = (self.config.num_iterations > 1)
            .then(|| padded(rollouts.iter().map(|r| r.logprobs.as_slice()).collect()));
        let ref_logp = generation
            .ref_logprobs
            .as_ref()
            .map(|all| padded(rows.iter().map(|&i| all[i].as_slice()).collect()));
        let per_row = |f: &dyn Fn(&Advantage) -> f32| {
            let v: Vec<f32> = rows.iter().map(|&i| f(&generation.advantages[i])).collect();
            Tensor::<1>::from_data(TensorData::new(v, [n]), &device)
        };
        let (adv_pos, adv_neg, weight) = (
            per_row(&|a| a.pos),
            per_row(&|a| a.neg),
            per_row(&|a| a.weight),
        );

        let (logp, entropy) = completion_logprobs(model, &batch, self.rollout.sampling.temperature);
        let settings = LossSettings {
            loss_type: self.config.loss_type,
            epsilon: self.config.epsilon,
            epsilon_high: self.config.epsilon_high(),
            beta: self.config.beta,
            max_completion_length: self.config.max_completion_length,
            dapo_tokens: self.update_tokens as f32,
            grad_accum_steps: self.grad_accum_steps,
        };
        let out = grpo_loss(
            LossBatch {
                logp,
                old_logp,
                ref_logp,
                mask: mask.clone(),
                adv_pos,
                adv_neg,
                weight,
            },
            &settings,
        );
        let tokens: usize = rollouts
            .iter()
            .filter(|r| self.counts(r) && !silent)
            .map(|r| r.tokens.len())
            .sum();
        self.micro_stats.push(Tensor::cat(
            vec![
                out.stats_tensor(),
                (entropy * mask.clone()).sum(),
                mask.sum(),
            ],
            0,
        ));
        Ok(MicroLoss {
            loss: out.loss,
            tokens,
        })
    }

    fn scales_for_accumulation(&self) -> bool {
        // Every loss type divides by the accumulation itself, as TRL's does.
        false
    }

    fn reported_loss(&self, micro_losses: &[f64]) -> f64 {
        micro_losses.iter().sum()
    }

    fn step_metrics(&mut self) -> Metrics {
        let mut metrics = self
            .generation
            .as_ref()
            .map(|g| g.metrics.clone())
            .unwrap_or_default();
        if self.micro_stats.is_empty() {
            return metrics;
        }
        let parts = self.micro_stats.len();
        let stats: Vec<f32> = Tensor::cat(std::mem::take(&mut self.micro_stats), 0)
            .into_data()
            .try_into_vec_as()
            .expect("f32 statistics");
        let mean = |k: usize| stats.chunks(7).map(|s| s[k] as f64).sum::<f64>() / parts as f64;
        let (entropy, tokens) = stats
            .chunks(7)
            .fold((0.0, 0.0), |(e, t), s| (e + s[5] as f64, t + s[6] as f64));
        metrics.insert("clip_ratio/low_mean".into(), mean(1));
        metrics.insert("clip_ratio/high_mean".into(), mean(2));
        metrics.insert("clip_ratio/region_mean".into(), mean(3));
        if self.config.beta > 0.0 {
            metrics.insert("kl".into(), mean(4));
        }
        metrics.insert("entropy".into(), entropy / tokens.max(1.0));
        metrics.insert(
            "time/update".into(),
            self.update_started.elapsed().as_secs_f64(),
        );
        metrics
    }

    fn state(&self) -> serde_json::Value {
        // With μ = 1 every update generates afresh: nothing to keep.
        match &self.generation {
            Some(g) if self.config.num_iterations > 1 => {
                serde_json::to_value(g).expect("a generation serialises")
            }
            _ => serde_json::Value::Null,
        }
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), TrainError> {
        self.generation = if state.is_null() {
            None
        } else {
            Some(serde_json::from_value(state.clone()).map_err(|e| {
                TrainError::Invalid(format!("the checkpoint's GRPO rollouts do not parse: {e}"))
            })?)
        };
        Ok(())
    }
}

/// `count` prompt indices out of `n`, without repeats while there are enough prompts.
fn choose_prompts(n: usize, count: usize, rng: &mut Rng) -> Vec<usize> {
    let mut pool: Vec<usize> = (0..n).collect();
    (0..count)
        .map(|k| {
            if k % n == 0 {
                pool = (0..n).collect();
            }
            let remaining = n - k % n;
            let pick = rng.below(remaining);
            pool.swap_remove(pick)
        })
        .collect()
}

/// What TRL logs of a generation: each reward's mean and std, the total's, the share of groups
/// with nothing to learn, completion lengths and truncation.
fn generation_metrics(
    scored: &super::reward::ScoredRewards,
    rollouts: &[Rollout],
    advantages: &[Advantage],
    group_size: usize,
) -> Metrics {
    let mut m = BTreeMap::new();
    for (name, scores) in scored.names.iter().zip(&scored.per_reward) {
        let (mean, std) = mean_std(scores);
        m.insert(format!("rewards/{name}/mean"), mean);
        m.insert(format!("rewards/{name}/std"), std);
    }
    let (reward, _) = mean_std(&scored.total);
    m.insert("reward".into(), reward);
    let stds = group_stds(&scored.total, group_size);
    m.insert(
        "reward_std".into(),
        stds.iter().map(|&s| s as f64).sum::<f64>() / stds.len().max(1) as f64,
    );
    m.insert(
        "frac_reward_zero_std".into(),
        stds.iter().filter(|s| s.abs() <= 1e-8).count() as f64 / stds.len().max(1) as f64,
    );
    m.insert("rewards/non_finite".into(), scored.non_finite as f64);
    let lengths: Vec<usize> = rollouts.iter().map(|r| r.tokens.len()).collect();
    let n = lengths.len().max(1) as f64;
    m.insert(
        "completions/mean_length".into(),
        lengths.iter().sum::<usize>() as f64 / n,
    );
    m.insert(
        "completions/min_length".into(),
        lengths.iter().copied().min().unwrap_or(0) as f64,
    );
    m.insert(
        "completions/max_length".into(),
        lengths.iter().copied().max().unwrap_or(0) as f64,
    );
    m.insert(
        "completions/clipped_ratio".into(),
        rollouts.iter().filter(|r| r.truncated).count() as f64 / n,
    );
    m.insert("num_tokens".into(), lengths.iter().sum::<usize>() as f64);
    m.insert(
        "advantage/mean".into(),
        advantages.iter().map(|a| a.value() as f64).sum::<f64>() / n,
    );
    m
}

/// Mean and population std of the scores that apply (NaN where none does, as TRL's
/// `nanmean`).
fn mean_std(scores: &[Option<f32>]) -> (f64, f64) {
    let v: Vec<f64> = scores.iter().flatten().map(|&s| s as f64).collect();
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
    (mean, var.sqrt())
}

/// Appends one JSON line per completion: step, prompt, completion, each reward, advantage.
fn write_completions(
    path: &std::path::Path,
    step: usize,
    prompts: &[Prompt],
    generation: &Generation,
    texts: &[String],
    scored: &super::reward::ScoredRewards,
) -> Result<(), TrainError> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(TrainError::io(path))?;
    let mut out = String::new();
    for (i, r) in generation.rollouts.iter().enumerate() {
        let rewards: serde_json::Map<String, serde_json::Value> = scored
            .names
            .iter()
            .zip(&scored.per_reward)
            .map(|(name, s)| (name.clone(), serde_json::json!(s[i])))
            .collect();
        let line = serde_json::json!({
            "step": step,
            "prompt": prompts[r.prompt].text,
            "completion": texts[i],
            "rewards": rewards,
            "reward": scored.total[i],
            "advantage": generation.advantages[i].value(),
            "truncated": r.truncated,
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    file.write_all(out.as_bytes()).map_err(TrainError::io(path))
}
