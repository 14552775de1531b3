//! Hyper-parameters of the GRPO engine. Names and defaults follow TRL's `GRPOConfig` where TRL
//! has the knob, so a TRL user's settings carry over; each knob cites where it comes from.

use serde::{Deserialize, Serialize};

use super::advantage::ScaleRewards;

/// How per-token losses become one number: the variants differ only in the normaliser
/// (TRL `GRPOTrainer._compute_loss`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossType {
    /// Mean over each sequence's tokens, then over sequences (DeepSeekMath eq. 3). Favours
    /// short completions' tokens.
    Grpo,
    /// Sum over the micro-batch's active tokens / their count (token mean per micro-batch).
    Bnpo,
    /// Sum / (sequences · max_completion_length) (Dr. GRPO, arXiv 2503.20783 §3.1).
    DrGrpo,
    /// Sum / active tokens of the whole accumulated batch (DAPO, arXiv 2503.14476 eq. 8;
    /// TRL's default).
    Dapo,
}

/// Everything that decides how a GRPO run samples, scores and updates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrpoConfig {
    /// G: completions sampled per prompt (TRL `num_generations`, default 8). G ≥ 4 gives the
    /// group statistics something to work with; G = 2 makes every advantage ±0.707.
    pub num_generations: usize,
    /// Prompts per update (so `prompts_per_step · num_generations` completions per step).
    pub prompts_per_step: usize,
    /// Most tokens generated per completion (TRL `max_completion_length`, 256); also Dr. GRPO's
    /// constant normaliser L.
    pub max_completion_length: usize,
    /// Sampling temperature of the rollouts (TRL `temperature`, 1.0).
    pub temperature: f32,
    /// Nucleus sampling mass (TRL `top_p`, 1.0 = off).
    pub top_p: f32,
    /// Keep only the k most likely tokens (TRL `top_k`; 0 = off).
    pub top_k: usize,
    /// KL coefficient β against the frozen reference policy, k3 estimator (Schulman 2020;
    /// DeepSeekMath eq. 4). TRL's default is 0: no reference model is kept at all.
    pub beta: f32,
    /// μ: updates per generated batch (TRL `num_iterations`, DeepSeekMath Alg. 1). With μ > 1
    /// the sampling policy's log-probs are kept and the ratio is recomputed each update.
    pub num_iterations: usize,
    /// ε: lower clip of the importance ratio, 1 − ε (PPO, arXiv 1707.06347 eq. 7; TRL 0.2).
    pub epsilon: f32,
    /// ε_high: upper clip 1 + ε_high (DAPO's clip-higher recommends 0.28; `None` = ε).
    pub epsilon_high: Option<f32>,
    /// Advantage scaling (TRL `scale_rewards`: group, batch or none).
    pub scale_rewards: ScaleRewards,
    /// Loss aggregation (TRL `loss_type`, default dapo).
    pub loss_type: LossType,
    /// Exclude truncated completions (no EOS within the limit) from the loss (DAPO §3.4;
    /// TRL `mask_truncated_completions`, false).
    pub mask_truncated_completions: bool,
    /// DAPO's dynamic sampling (arXiv 2503.14476 §3.2): drop groups whose rewards are all
    /// equal, since their advantages are all zero.
    pub drop_zero_std_groups: bool,
    /// Write a completions log (prompt, completion, rewards, advantage) every this many
    /// steps (0: never; TRL `log_completions`).
    pub log_completions_every: usize,
}

impl Default for GrpoConfig {
    fn default() -> Self {
        Self {
            num_generations: 8,
            prompts_per_step: 4,
            max_completion_length: 256,
            temperature: 1.0,
            top_p: 1.0,
            top_k: 0,
            beta: 0.0,
            num_iterations: 1,
            epsilon: 0.2,
            epsilon_high: None,
            scale_rewards: ScaleRewards::Group,
            loss_type: LossType::Dapo,
            mask_truncated_completions: false,
            drop_zero_std_groups: false,
            log_completions_every: 0,
        }
    }
}

impl GrpoConfig {
    /// ε_high, defaulting to ε as TRL does.
    pub fn epsilon_high(&self) -> f32 {
        self.epsilon_high.unwrap_or(self.epsilon)
    }

    /// Checks the settings that would make the loss meaningless.
    pub fn validate(&self) -> Result<(), String> {
        if self.num_generations < 2 {
            return Err(
                "num_generations must be at least 2 (advantages compare within a group)".into(),
            );
        }
        if self.prompts_per_step == 0 || self.max_completion_length == 0 || self.num_iterations == 0
        {
            return Err(
                "prompts_per_step, max_completion_length and num_iterations must be positive"
                    .into(),
            );
        }
        if !(self.epsilon > 0.0 && self.epsilon < 1.0) || self.epsilon_high() <= 0.0 {
            return Err(format!(
                "epsilon must lie in (0, 1) and epsilon_high be positive (got {} and {})",
                self.epsilon,
                self.epsilon_high()
            ));
        }
        if !(self.beta >= 0.0 && self.beta.is_finite()) {
            return Err(format!(
                "beta must be a finite non-negative number (got {})",
                self.beta
            ));
        }
        if !(self.temperature >= 0.0 && self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err("temperature must be >= 0 and top_p in (0, 1]".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trl_names_parse_and_typos_are_refused() {
        let c: GrpoConfig = serde_json::from_str(
            r#"{"loss_type": "dr_grpo", "scale_rewards": "none", "epsilon_high": 0.28, "beta": 0.04}"#,
        )
        .unwrap();
        assert_eq!(c.loss_type, LossType::DrGrpo);
        assert_eq!(c.scale_rewards, ScaleRewards::None);
        assert_eq!(c.epsilon_high(), 0.28);
        assert_eq!(c.num_generations, 8);
        assert!(serde_json::from_str::<GrpoConfig>(r#"{"betta": 0.1}"#).is_err());
        assert!(
            GrpoConfig {
                num_generations: 1,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
    }
}
