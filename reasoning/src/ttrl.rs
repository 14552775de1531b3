//! TTRL: test-time RL with the majority vote as the pseudo-label (Zuo et al. 2025, arXiv
//! 2504.16084; RESTRAIN's main baseline, `../shared/papers/reasoning.md` §1.4): every
//! rollout of a prompt is rewarded r_i = 1[ans(o_i) = majority answer], then GRPO's group
//! advantages apply. No gold answer is read.

use std::sync::Arc;

use kiln_trainer::grpo::advantage::group_advantages;
use kiln_trainer::grpo::{Advantage, AdvantageEstimator, AdvantageInput, ScaleRewards};

use crate::task::Task;
use crate::vote::{Votes, group_votes};

/// TTRL's advantage estimator.
pub struct Ttrl {
    task: Arc<dyn Task>,
    /// How the majority-vote rewards are scaled (TRL's `scale_rewards`).
    pub scale: ScaleRewards,
}

impl Ttrl {
    /// Majority votes over answers as `task` extracts them.
    pub fn new(task: Arc<dyn Task>, scale: ScaleRewards) -> Self {
        Self { task, scale }
    }

    /// The majority-vote rewards of one group: 1 for a rollout whose answer is the
    /// majority answer ([`Votes::majority`]: ties go to the answer seen first in the group),
    /// 0 otherwise, also for a rollout with no answer. A group where no rollout answered has
    /// all rewards 0 (and so advantages 0).
    pub fn group_rewards(votes: &Votes) -> Vec<f32> {
        match votes.majority() {
            Some(j) => votes.rewards_for(j),
            None => vec![0.0; votes.n()],
        }
    }
}

impl AdvantageEstimator for Ttrl {
    /// # Panics
    /// If the batch is not made of whole groups of `input.group_size`.
    fn advantages(&self, input: &AdvantageInput<'_>) -> Vec<Advantage> {
        let rewards: Vec<Option<f32>> =
            group_votes(self.task.as_ref(), input.completions, input.group_size)
                .iter()
                .flat_map(Self::group_rewards)
                .map(Some)
                .collect();
        group_advantages(&rewards, input.group_size, self.scale)
            .into_iter()
            .map(Advantage::single)
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use kiln_trainer::grpo::advantage::STD_EPS;
    use kiln_trainer::grpo::{Completion, ScoredRewards};

    use super::*;
    use crate::arithmetic::{Arithmetic, Difficulty};

    /// A batch whose completions answer `answers` (`None`: no answer line), groups in a row.
    pub(crate) fn completions<'a>(texts: &'a [String], group_size: usize) -> Vec<Completion<'a>> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| Completion {
                prompt_index: i / group_size,
                prompt: "Q: 1+1=?\n",
                text: t,
                gold: None,
                truncated: false,
            })
            .collect()
    }

    pub(crate) fn texts(answers: &[Option<&str>]) -> Vec<String> {
        answers
            .iter()
            .map(|a| a.map_or("no idea".to_owned(), |a| format!("Answer: {a}")))
            .collect()
    }

    pub(crate) fn no_rewards(n: usize) -> ScoredRewards {
        ScoredRewards {
            names: vec![],
            per_reward: vec![],
            total: vec![None; n],
            non_finite: 0,
        }
    }

    pub(crate) fn arith() -> Arc<dyn Task> {
        Arc::new(Arithmetic::new("arith-easy", Difficulty::EASY))
    }

    #[test]
    fn majority_rewards_and_advantages_by_hand() {
        // Group of 4: 2, 2, 3, none. Majority "2" (2 votes): rewards 1, 1, 0, 0.
        // Centred: ±0.5; unbiased std of [1,1,0,0] = sqrt(1/3).
        let t = texts(&[Some("2"), Some("2.0"), Some("3"), None]);
        let c = completions(&t, 4);
        let r = no_rewards(4);
        let input = AdvantageInput {
            completions: &c,
            rewards: &r,
            group_size: 4,
        };
        let none = Ttrl::new(arith(), ScaleRewards::None).advantages(&input);
        let values: Vec<f32> = none.iter().map(Advantage::value).collect();
        assert_eq!(values, vec![0.5, 0.5, -0.5, -0.5]);
        let group = Ttrl::new(arith(), ScaleRewards::Group).advantages(&input);
        let s = (1.0f32 / 3.0).sqrt() + STD_EPS;
        assert!((group[0].value() - 0.5 / s).abs() < 1e-6);
        assert!((group[3].value() + 0.5 / s).abs() < 1e-6);
        assert!(group.iter().all(|a| a.weight == 1.0));
    }

    #[test]
    fn ties_go_to_the_first_answer_and_silence_gets_zero() {
        let t = texts(&[Some("3"), Some("2"), Some("2"), Some("3"), None, None]);
        let c = completions(&t, 3);
        let r = no_rewards(6);
        let input = AdvantageInput {
            completions: &c,
            rewards: &r,
            group_size: 3,
        };
        let a = Ttrl::new(arith(), ScaleRewards::None).advantages(&input);
        let values: Vec<f32> = a.iter().map(Advantage::value).collect();
        // Group 1: "3","2","2": majority "2" → [0,1,1], mean 2/3.
        // Group 2: "3", none, none: majority "3" → [1,0,0], mean 1/3.
        let want = [
            -2.0 / 3.0,
            1.0 / 3.0,
            1.0 / 3.0,
            2.0 / 3.0,
            -1.0 / 3.0,
            -1.0 / 3.0,
        ];
        for (v, w) in values.iter().zip(want) {
            assert!((v - w).abs() < 1e-6, "{values:?}");
        }
        let tie = Votes::tally(&[Some("x"), Some("y"), Some("y"), Some("x")]);
        assert_eq!(Ttrl::group_rewards(&tie), vec![1.0, 0.0, 0.0, 1.0]);
        let silent = Votes::tally::<&str>(&[None, None]);
        assert_eq!(Ttrl::group_rewards(&silent), vec![0.0, 0.0]);
    }
}
