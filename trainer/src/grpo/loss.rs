//! The clipped GRPO surrogate with the k3 KL penalty and TRL's four loss aggregations
//! (DeepSeekMath, arXiv 2402.03300, eq. 3; TRL `GRPOTrainer._compute_loss`).
//!
//! Per token: ρ = exp(log π_θ − log π_old), l = −(min(ρ, 1+ε_high)·A⁺ + max(ρ, 1−ε)·A⁻)
//! (= −min(ρA, clip(ρ, 1−ε, 1+ε_high)·A) for a single advantage, see
//! [`super::advantage::Advantage`]) + β·(π_ref/π_θ − log(π_ref/π_θ) − 1), times the
//! completion's weight, then aggregated by [`LossType`] over the completion mask.

use burn::tensor::Tensor;

use super::config::LossType;

/// The tensors of one micro-batch of `N` completions padded to `T` tokens.
pub struct LossBatch {
    /// log π_θ of each completion token, on the autodiff device. `[N, T]`
    pub logp: Tensor<2>,
    /// log π_old (the sampling policy); `None` means on-policy (μ = 1): π_old = π_θ detached,
    /// so ρ = 1 in value but not in gradient, as TRL. `[N, T]`
    pub old_logp: Option<Tensor<2>>,
    /// log π_ref of the frozen reference policy; needed when β > 0. `[N, T]`
    pub ref_logp: Option<Tensor<2>>,
    /// 1 at completion tokens that count, 0 at padding (and at masked truncated completions).
    /// `[N, T]`
    pub mask: Tensor<2>,
    /// A⁺, A⁻ and the weight of each completion. `[N]` each
    pub adv_pos: Tensor<1>,
    pub adv_neg: Tensor<1>,
    pub weight: Tensor<1>,
}

/// How the per-token losses are reduced.
#[derive(Debug, Clone, Copy)]
pub struct LossSettings {
    pub loss_type: LossType,
    pub epsilon: f32,
    pub epsilon_high: f32,
    pub beta: f32,
    /// Dr. GRPO's constant L.
    pub max_completion_length: usize,
    /// DAPO's normaliser: active completion tokens in the whole accumulated batch.
    pub dapo_tokens: f32,
    /// Micro-batches per update: `grpo`, `bnpo` and `dr_grpo` divide by it, as TRL does.
    pub grad_accum_steps: usize,
}

/// The loss and the per-micro-batch statistics TRL logs, all still on the device: read them
/// together with [`LossOutput::stats_tensor`] at a logged step.
pub struct LossOutput {
    pub loss: Tensor<1>,
    /// Masked means of: the low clip (ρ < 1−ε where A⁻ < 0), the high clip (ρ > 1+ε_high where
    /// A⁺ > 0), either, and the k3 KL (0 when β = 0). `[1]` each
    pub clip_low: Tensor<1>,
    pub clip_high: Tensor<1>,
    pub clip_region: Tensor<1>,
    pub kl: Tensor<1>,
}

impl LossOutput {
    /// `[loss, clip_low, clip_high, clip_region, kl]`, detached, for one host read.
    pub fn stats_tensor(&self) -> Tensor<1> {
        Tensor::cat(
            vec![
                self.loss.clone().detach(),
                self.clip_low.clone(),
                self.clip_high.clone(),
                self.clip_region.clone(),
                self.kl.clone(),
            ],
            0,
        )
    }
}

/// The GRPO loss of one micro-batch.
///
/// # Shapes
/// See [`LossBatch`]; the loss is `[1]`.
pub fn grpo_loss(batch: LossBatch, s: &LossSettings) -> LossOutput {
    let [n, _t] = batch.logp.dims();
    let mask = batch.mask;
    let old = batch
        .old_logp
        .unwrap_or_else(|| batch.logp.clone().detach());
    let ratio = (batch.logp.clone() - old).exp();
    let pos = batch.adv_pos.unsqueeze_dim::<2>(1);
    let neg = batch.adv_neg.unsqueeze_dim::<2>(1);
    let surrogate = ratio.clone().clamp_max(1.0 + s.epsilon_high) * pos.clone()
        + ratio.clone().clamp_min(1.0 - s.epsilon) * neg.clone();
    let mut per_token = surrogate.neg();
    let kl = if s.beta != 0.0 {
        let ref_logp = batch
            .ref_logp
            .expect("beta > 0 needs the reference policy's log-probs");
        let d = ref_logp - batch.logp.clone();
        let kl = d.clone().exp() - d - 1.0;
        per_token = per_token + kl.clone() * s.beta;
        Some(kl)
    } else {
        None
    };
    let per_token = per_token * batch.weight.unsqueeze_dim::<2>(1) * mask.clone();
    let accum = s.grad_accum_steps.max(1) as f64;
    let loss = match s.loss_type {
        LossType::Grpo => {
            let per_seq = per_token.sum_dim(1) / mask.clone().sum_dim(1).clamp_min(1.0);
            per_seq.mean().div_scalar(accum)
        }
        LossType::Bnpo => (per_token.sum() / mask.clone().sum().clamp_min(1.0)).div_scalar(accum),
        LossType::DrGrpo => per_token
            .sum()
            .div_scalar((n * s.max_completion_length) as f64 * accum),
        LossType::Dapo => per_token.sum().div_scalar(s.dapo_tokens.max(1.0) as f64),
    };

    let tokens = mask.clone().sum().clamp_min(1.0).detach();
    let masked_mean = |x: Tensor<2>| (x * mask.clone()).sum() / tokens.clone();
    let ratio = ratio.detach();
    let low = ratio
        .clone()
        .lower_elem(1.0 - s.epsilon)
        .bool_and(neg.lower_elem(0.0).expand(ratio.dims()))
        .float();
    let high = ratio
        .clone()
        .greater_elem(1.0 + s.epsilon_high)
        .bool_and(pos.greater_elem(0.0).expand(ratio.dims()))
        .float();
    let region = (low.clone() + high.clone()).clamp_max(1.0);
    let kl = match kl {
        Some(kl) => masked_mean(kl.detach()),
        None => tokens.zeros_like(),
    };
    LossOutput {
        loss,
        clip_low: masked_mean(low),
        clip_high: masked_mean(high),
        clip_region: masked_mean(region),
        kl,
    }
}
