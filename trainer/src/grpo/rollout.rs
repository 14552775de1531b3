//! Rollouts: `G` sampled completions of each of a step's prompts (one left-padded batch through
//! the model's one generation loop), and the per-token log-probabilities of a set of them under
//! a policy, as the update and the reference policy need them.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};
use kiln_model::generate_batch::{BatchConfig, Finish, generate_batch};
use kiln_model::sampling::SamplingConfig;
use kiln_model::{Activation, ModelError, Transformer};
use serde::{Deserialize, Serialize};

use crate::objective::model_device;

/// A prompt of an RL run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    /// The prompt as text (what rewards and the completions log see).
    pub text: String,
    /// The prompt's token ids (what the policy sees; chat-rendered already where it applies).
    pub ids: Vec<u32>,
    /// The gold answer, for rewards that verify against one.
    pub gold: Option<String>,
}

/// One sampled completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    /// Index of its prompt in the run's prompt list.
    pub prompt: usize,
    /// The completion's token ids, the stop token included where it ended at one.
    pub tokens: Vec<u32>,
    /// log π_old of each token: the sampling policy's, at the sampling temperature.
    pub logprobs: Vec<f32>,
    /// It reached the length limit without a stop token.
    pub truncated: bool,
}

/// How rollouts are sampled.
#[derive(Debug, Clone)]
pub struct RolloutSettings {
    pub group_size: usize,
    pub max_completion_length: usize,
    pub sampling: SamplingConfig,
    pub stop_tokens: Vec<u32>,
    pub pad_token: u32,
    /// The longest sequence (prompt + completion) the policy may see.
    pub max_len: usize,
}

/// The activation RL runs a policy with, for rollouts and updates alike: the importance ratio
/// and the KL compare the same function on both sides, so StochA (whose draw differs between
/// an autodiff and a plain forward, and between calls) runs by its inference rule, RELU
/// (Lomeli et al. 2025, arXiv 2509.22358, §3: StochA models are used as RELU at inference).
pub fn policy_activation(activation: Activation) -> Activation {
    match activation {
        Activation::Stocha { .. } => Activation::Relu,
        other => other,
    }
}

/// Samples `settings.group_size` completions of each of `prompts` (indices into `all`), the
/// `G` completions of a prompt next to each other. Row `r` of the batch draws from the stream
/// `seed + r`.
///
/// # Errors
/// A prompt the model cannot continue (see [`generate_batch`]).
pub fn sample_rollouts(
    model: &Transformer,
    all: &[Prompt],
    prompts: &[usize],
    settings: &RolloutSettings,
    seed: u64,
) -> Result<Vec<Rollout>, ModelError> {
    let rows: Vec<Vec<u32>> = prompts
        .iter()
        .flat_map(|&p| std::iter::repeat_n(all[p].ids.clone(), settings.group_size))
        .collect();
    let config = BatchConfig {
        max_new_tokens: settings.max_completion_length,
        sampling: settings.sampling,
        seed,
        stop_tokens: settings.stop_tokens.clone(),
        max_len: settings.max_len,
        pad_token: settings.pad_token,
    };
    let model = model
        .clone()
        .with_activation(policy_activation(model.activation()));
    let generated = generate_batch(&model, &rows, &config, &model_device(&model), |_, _| true)?;
    Ok(generated
        .into_iter()
        .enumerate()
        .map(|(r, g)| Rollout {
            prompt: prompts[r / settings.group_size],
            tokens: g.tokens,
            logprobs: g.logprobs,
            truncated: g.finish == Finish::Length,
        })
        .collect())
}

/// A set of rollouts laid out for one forward pass: `[pad… prompt completion pad…]` per row.
pub struct ScoringBatch {
    /// `[n, P + C]`, P the longest prompt and C the longest completion.
    pub tokens: Tensor<2, Int>,
    /// Left padding of each row.
    pub padding: Vec<usize>,
    /// The completion ids, right-padded with 0. `[n, C]`
    pub targets: Tensor<2, Int>,
    /// 1 at completion tokens, 0 at padding. `[n, C]`
    pub mask: Tensor<2>,
    /// P.
    pub prompt_len: usize,
}

impl ScoringBatch {
    /// Lays out `rollouts` of `prompts` on `model`'s device.
    pub fn new(prompts: &[Prompt], rollouts: &[&Rollout], model: &Transformer) -> Self {
        let device = model_device(model);
        let n = rollouts.len();
        let p = rollouts
            .iter()
            .map(|r| prompts[r.prompt].ids.len())
            .max()
            .unwrap_or(1);
        let c = rollouts
            .iter()
            .map(|r| r.tokens.len())
            .max()
            .unwrap_or(0)
            .max(1);
        let (mut tokens, mut targets, mut mask) = (
            Vec::with_capacity(n * (p + c)),
            Vec::with_capacity(n * c),
            Vec::with_capacity(n * c),
        );
        let mut padding = Vec::with_capacity(n);
        for r in rollouts {
            let ids = &prompts[r.prompt].ids;
            padding.push(p - ids.len());
            tokens.extend(std::iter::repeat_n(0i64, p - ids.len()));
            tokens.extend(ids.iter().map(|&t| t as i64));
            for j in 0..c {
                let t = r.tokens.get(j).copied();
                tokens.push(t.unwrap_or(0) as i64);
                targets.push(t.unwrap_or(0) as i64);
                mask.push(if t.is_some() { 1.0f32 } else { 0.0 });
            }
        }
        Self {
            tokens: Tensor::from_data(TensorData::new(tokens, [n, p + c]), &device),
            padding,
            targets: Tensor::from_data(TensorData::new(targets, [n, c]), &device),
            mask: Tensor::from_data(TensorData::new(mask, [n, c]), &device),
            prompt_len: p,
        }
    }
}

/// log π(token) of every completion token of `batch` under `model` at `temperature` (TRL's
/// `_get_per_token_logps_and_entropies`: logits / T, log-softmax, gather), and the entropy of
/// each position's distribution (detached). Differentiable on an autodiff device.
///
/// # Shapes
/// - returns: `[n, C]` each
pub fn completion_logprobs(
    model: &Transformer,
    batch: &ScoringBatch,
    temperature: f64,
) -> (Tensor<2>, Tensor<2>) {
    let model = model
        .clone()
        .with_activation(policy_activation(model.activation()));
    let c = batch.targets.dims()[1];
    // The logit at position P − 1 + j predicts completion token j.
    let from = batch.prompt_len - 1;
    let logits = model
        .forward_left_padded(batch.tokens.clone(), batch.padding.clone(), from)
        .slice_dim(1, 0..c);
    let logits = if temperature > 0.0 {
        logits.div_scalar(temperature)
    } else {
        logits
    };
    let logp = log_softmax(logits, 2);
    let entropy = {
        let l = logp.clone().detach();
        (l.clone().exp() * l).sum_dim(2).squeeze_dim::<2>(2).neg()
    };
    let chosen = logp
        .gather(2, batch.targets.clone().unsqueeze_dim::<3>(2))
        .squeeze_dim::<2>(2);
    (chosen, entropy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;
    use kiln_model::TransformerConfig;

    /// The sampling log-probs a rollout carries are what scoring it afresh gives: so μ > 1 can
    /// use them as π_old without another forward pass.
    #[test]
    fn rollout_log_probs_equal_rescoring_them() {
        let device = Device::flex();
        let model = TransformerConfig::preset("tiny").unwrap().init(&device);
        let prompts = vec![
            Prompt {
                text: "a".into(),
                ids: vec![5, 9, 17],
                gold: None,
            },
            Prompt {
                text: "b".into(),
                ids: vec![4],
                gold: None,
            },
        ];
        let settings = RolloutSettings {
            group_size: 3,
            max_completion_length: 7,
            sampling: SamplingConfig {
                temperature: 0.8,
                ..Default::default()
            },
            stop_tokens: vec![2, 3, 6],
            pad_token: 0,
            max_len: 64,
        };
        let rollouts = sample_rollouts(&model, &prompts, &[1, 0], &settings, 11).unwrap();
        assert_eq!(rollouts.len(), 6);
        assert_eq!(rollouts[0].prompt, 1);
        assert_eq!(rollouts[5].prompt, 0);
        let refs: Vec<&Rollout> = rollouts.iter().collect();
        let batch = ScoringBatch::new(&prompts, &refs, &model);
        let (logp, entropy) = completion_logprobs(&model, &batch, 0.8);
        let c = batch.targets.dims()[1];
        let logp: Vec<f32> = logp.into_data().try_into_vec_as().unwrap();
        let entropy: Vec<f32> = entropy.into_data().try_into_vec_as().unwrap();
        for (i, r) in rollouts.iter().enumerate() {
            assert_eq!(
                r.truncated,
                !r.tokens.last().is_some_and(|t| [2, 3, 6].contains(t))
            );
            for (j, &want) in r.logprobs.iter().enumerate() {
                let got = logp[i * c + j];
                assert!(
                    (got - want).abs() < 1e-4,
                    "rollout {i} token {j}: {got} vs {want}"
                );
                assert!(entropy[i * c + j] > 0.0);
            }
        }
    }
}
