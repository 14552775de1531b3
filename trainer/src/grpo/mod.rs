//! The GRPO engine (Shao et al. 2024, arXiv 2402.03300; TRL's `GRPOTrainer` as the reference
//! implementation): rewards as plug-ins, group-relative advantages with an estimator seam for
//! label-free methods, the clipped surrogate with its loss aggregations and the k3 KL.

pub mod advantage;
pub mod config;
pub mod loss;
pub mod objective;
pub mod reward;
pub mod rollout;

pub use advantage::{Advantage, AdvantageEstimator, AdvantageInput, GroupAdvantage, ScaleRewards};
pub use objective::{GrpoObjective, GrpoParts};
pub use reward::{Completion, Reward, ScoredRewards, WeightedReward, score_all};
pub use rollout::{Prompt, Rollout};
