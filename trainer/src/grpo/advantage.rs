//! Group-relative advantages (DeepSeekMath, arXiv 2402.03300, §4.1.2; TRL's
//! `GRPOTrainer._generate_and_score_completions`) and the advantage seam that label-free
//! methods such as RESTRAIN plug into.
//!
//! Â_i = (r_i − mean_g(r)) / (std + 1e-4), with `std` the unbiased (Bessel-corrected) standard
//! deviation of the group (`scale_rewards = group`), of the whole batch (`batch`, Lite-PPO), or
//! no scaling at all (`none`, Dr. GRPO, arXiv 2503.20783 §3.1), as TRL computes them.

use serde::{Deserialize, Serialize};

use super::reward::{Completion, ScoredRewards};

/// TRL's `scale_rewards`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScaleRewards {
    /// Divide by the group's standard deviation (GRPO; TRL's default).
    Group,
    /// Divide by the standard deviation over the whole batch (Lite-PPO, arXiv 2508.08221).
    Batch,
    /// Centre only (Dr. GRPO).
    None,
}

/// The `1e-4` TRL adds to the standard deviation.
pub const STD_EPS: f32 = 1e-4;

/// One completion's advantage, split so that a mixture of advantages (RESTRAIN's sum over
/// candidate pseudo-labels) keeps the per-candidate clip exactly.
///
/// PPO's per-token term for advantage A is `min(ρA, clip(ρ)A) = A·min(ρ, 1+ε_high)` when
/// A ≥ 0 and `A·max(ρ, 1−ε)` when A < 0. A weighted sum over candidates Σ_j w_j A_j therefore
/// equals `min(ρ, 1+ε_high)·A⁺ + max(ρ, 1−ε)·A⁻` with A⁺ = Σ_j w_j max(A_j, 0) and
/// A⁻ = Σ_j w_j min(A_j, 0): two numbers per completion carry any mixture, also for μ > 1
/// where the clip is active (RESTRAIN, arXiv 2510.02172, §3 final loss).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Advantage {
    /// A⁺ ≥ 0.
    pub pos: f32,
    /// A⁻ ≤ 0.
    pub neg: f32,
    /// Multiplies this completion's whole per-token loss, KL included (RESTRAIN's prompt
    /// weight u_x; 1 for plain GRPO).
    pub weight: f32,
}

impl Advantage {
    /// A single advantage `a` with weight 1.
    pub fn single(a: f32) -> Self {
        Self {
            pos: a.max(0.0),
            neg: a.min(0.0),
            weight: 1.0,
        }
    }

    /// The mixture Σ_j w_j A_j of candidate advantages, with weight `weight`.
    pub fn mixture(candidates: impl IntoIterator<Item = (f32, f32)>, weight: f32) -> Self {
        let (mut pos, mut neg) = (0.0, 0.0);
        for (w, a) in candidates {
            pos += w * a.max(0.0);
            neg += w * a.min(0.0);
        }
        Self { pos, neg, weight }
    }

    /// The effective advantage A⁺ + A⁻ (what ρ = 1 sees; the logged value).
    pub fn value(&self) -> f32 {
        self.pos + self.neg
    }
}

/// What an advantage estimator sees of a batch: `B` prompts with `G` completions each, the
/// completions of one prompt next to each other.
pub struct AdvantageInput<'a> {
    pub completions: &'a [Completion<'a>],
    pub rewards: &'a ScoredRewards,
    pub group_size: usize,
}

/// Turns a scored batch into one advantage per completion. GRPO's group normalisation is
/// [`GroupAdvantage`]; RESTRAIN implements this trait in kiln-reasoning.
pub trait AdvantageEstimator: Send + Sync {
    fn advantages(&self, input: &AdvantageInput<'_>) -> Vec<Advantage>;
}

/// GRPO's group-relative advantage with TRL's `scale_rewards`.
#[derive(Debug, Clone, Copy)]
pub struct GroupAdvantage {
    pub scale: ScaleRewards,
}

impl AdvantageEstimator for GroupAdvantage {
    fn advantages(&self, input: &AdvantageInput<'_>) -> Vec<Advantage> {
        group_advantages(&input.rewards.total, input.group_size, self.scale)
            .into_iter()
            .map(Advantage::single)
            .collect()
    }
}

/// Group-normalised advantages of `rewards` (`B·G` values, groups of `group_size` in a row).
/// An unscorable completion (`None`: no reward applies) is left out of its group's mean and
/// standard deviation and gets advantage 0, as TRL marks it NaN, uses `nanmean`/`nanstd` and
/// then zeroes it.
///
/// # Panics
/// If `rewards.len()` is not a multiple of `group_size` or `group_size` is 0.
pub fn group_advantages(
    rewards: &[Option<f32>],
    group_size: usize,
    scale: ScaleRewards,
) -> Vec<f32> {
    assert!(group_size > 0 && rewards.len() % group_size == 0);
    let batch_std = unbiased_std(&scored(rewards));
    rewards
        .chunks(group_size)
        .flat_map(|group| {
            let valid = scored(group);
            let mean = mean(&valid);
            let std = match scale {
                ScaleRewards::Group => Some(unbiased_std(&valid)),
                ScaleRewards::Batch => Some(batch_std),
                ScaleRewards::None => None,
            };
            group.iter().map(move |r| match (r, std) {
                (None, _) => 0.0,
                (Some(r), Some(s)) => (r - mean) / (s + STD_EPS),
                (Some(r), None) => r - mean,
            })
        })
        .collect()
}

fn scored(rewards: &[Option<f32>]) -> Vec<f32> {
    rewards.iter().flatten().copied().collect()
}

/// Per-group standard deviations (unbiased, over the scorable completions); TRL's logged
/// `reward_std` is their mean.
pub fn group_stds(rewards: &[Option<f32>], group_size: usize) -> Vec<f32> {
    rewards
        .chunks(group_size)
        .map(|g| unbiased_std(&scored(g)))
        .collect()
}

/// The groups whose rewards are all equal (zero spread within 1e-8, as TRL's
/// `torch.isclose(std, 0)`): no signal; DAPO's dynamic sampling drops them. A group with a
/// single scorable completion has NaN spread and is not counted, as in TRL.
pub fn zero_std_groups(rewards: &[Option<f32>], group_size: usize) -> Vec<bool> {
    group_stds(rewards, group_size)
        .into_iter()
        .map(|s| s.abs() <= 1e-8)
        .collect()
}

pub(crate) fn mean(x: &[f32]) -> f32 {
    x.iter().sum::<f32>() / x.len() as f32
}

/// `torch.std` (Bessel-corrected); NaN for one value, as torch gives.
pub(crate) fn unbiased_std(x: &[f32]) -> f32 {
    let m = mean(x);
    let ss: f32 = x.iter().map(|v| (v - m) * (v - m)).sum();
    (ss / (x.len() as f32 - 1.0)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(x: &[f32]) -> Vec<Option<f32>> {
        x.iter().copied().map(Some).collect()
    }

    #[test]
    fn unscorable_completions_leave_the_baseline_and_get_zero() {
        // Group [1, None, 0]: mean and std over [1, 0] only.
        let a = group_advantages(&[Some(1.0), None, Some(0.0)], 3, ScaleRewards::None);
        assert_eq!(a, vec![0.5, 0.0, -0.5]);
    }

    #[test]
    fn group_scaling_by_hand() {
        // Group [1, 0, 0, 1]: mean 0.5, unbiased std sqrt(1/3).
        let a = group_advantages(&some(&[1.0, 0.0, 0.0, 1.0]), 4, ScaleRewards::Group);
        let s = (1.0f32 / 3.0).sqrt() + STD_EPS;
        assert!((a[0] - 0.5 / s).abs() < 1e-6 && (a[1] + 0.5 / s).abs() < 1e-6);
    }

    #[test]
    fn none_centres_only_and_batch_uses_the_batch_std() {
        let r = some(&[1.0, 0.0, 3.0, 3.0]);
        assert_eq!(
            group_advantages(&r, 2, ScaleRewards::None),
            vec![0.5, -0.5, 0.0, 0.0]
        );
        let s = unbiased_std(&[1.0, 0.0, 3.0, 3.0]) + STD_EPS;
        let b = group_advantages(&r, 2, ScaleRewards::Batch);
        assert!((b[0] - 0.5 / s).abs() < 1e-6 && b[2] == 0.0);
    }

    #[test]
    fn mixture_splits_signs() {
        let a = Advantage::mixture([(0.5, 2.0), (0.25, -4.0), (0.25, 1.0)], 0.8);
        assert_eq!((a.pos, a.neg, a.weight), (1.25, -1.0, 0.8));
        assert_eq!(a.value(), 0.25);
        assert_eq!(Advantage::single(-0.3).value(), -0.3);
    }

    #[test]
    fn zero_variance_groups_are_found() {
        assert_eq!(
            zero_std_groups(&some(&[1.0, 1.0, 0.0, 1.0]), 2),
            vec![true, false]
        );
    }
}
