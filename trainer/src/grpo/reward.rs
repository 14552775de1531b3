//! Rewards as plug-ins, as TRL's `reward_funcs`: each reward scores a whole batch of
//! completions at once (so batch-level rewards such as TTRL's majority vote or J1's
//! position-consistency reward see every sample), returns `None` where it does not apply
//! (TRL's `None`, used for multi-task batches), and carries a name under which the engine
//! logs its mean and standard deviation.

/// One sampled completion, as a reward sees it.
#[derive(Debug, Clone)]
pub struct Completion<'a> {
    /// Index of the prompt in the batch; the `G` completions of one prompt share it and lie
    /// next to each other.
    pub prompt_index: usize,
    /// The prompt as text.
    pub prompt: &'a str,
    /// The completion as text (without the prompt).
    pub text: &'a str,
    /// The prompt's gold answer, where the task has one.
    pub gold: Option<&'a str>,
    /// The completion hit the length limit before an end-of-sequence token.
    pub truncated: bool,
}

/// A reward function over a batch of completions.
pub trait Reward: Send + Sync {
    /// Name in the logs (`rewards/<name>/mean`).
    fn name(&self) -> &str;

    /// One score per completion, in order; `None` where the reward does not apply to that
    /// sample. A non-finite score is treated by the engine as `None` and counted.
    fn score(&self, completions: &[Completion<'_>]) -> Vec<Option<f32>>;
}

/// A reward with its weight in the sum (TRL's `reward_weights`).
pub struct WeightedReward {
    pub reward: Box<dyn Reward>,
    pub weight: f32,
}

/// The rewards of one batch: each function's scores and their weighted sum.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredRewards {
    /// `names[k]` is reward `k`'s name.
    pub names: Vec<String>,
    /// `per_reward[k][i]`: reward `k`'s score of completion `i` (`None`: not applicable or
    /// not finite).
    pub per_reward: Vec<Vec<Option<f32>>>,
    /// Weighted sum over the rewards that apply, per completion (TRL's `nansum`); `None` where
    /// no reward applies, so the completion is unscorable and gets advantage 0.
    pub total: Vec<Option<f32>>,
    /// Scores that were returned non-finite and dropped (a NaN never poisons the run).
    pub non_finite: usize,
}

/// Scores `completions` with every reward and sums them with their weights.
///
/// # Panics
/// If a reward returns a number of scores other than the number of completions (a bug in
/// that reward, named in the message).
pub fn score_all(rewards: &[WeightedReward], completions: &[Completion<'_>]) -> ScoredRewards {
    let n = completions.len();
    let mut non_finite = 0;
    let mut per_reward = Vec::with_capacity(rewards.len());
    for r in rewards {
        let mut scores = r.reward.score(completions);
        assert_eq!(
            scores.len(),
            n,
            "reward `{}` returned {} scores for {n} completions",
            r.reward.name(),
            scores.len()
        );
        for s in &mut scores {
            if s.is_some_and(|v| !v.is_finite()) {
                *s = None;
                non_finite += 1;
            }
        }
        per_reward.push(scores);
    }
    let total = (0..n)
        .map(|i| {
            rewards
                .iter()
                .zip(&per_reward)
                .filter_map(|(r, s)| s[i].map(|v| r.weight * v))
                .reduce(|a, b| a + b)
        })
        .collect();
    ScoredRewards {
        names: rewards
            .iter()
            .map(|r| r.reward.name().to_string())
            .collect(),
        per_reward,
        total,
        non_finite,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(&'static str, Vec<Option<f32>>);
    impl Reward for Fixed {
        fn name(&self) -> &str {
            self.0
        }
        fn score(&self, _: &[Completion<'_>]) -> Vec<Option<f32>> {
            self.1.clone()
        }
    }

    fn completions(n: usize) -> Vec<Completion<'static>> {
        (0..n)
            .map(|i| Completion {
                prompt_index: i / 2,
                prompt: "p",
                text: "c",
                gold: None,
                truncated: false,
            })
            .collect()
    }

    #[test]
    fn weighted_sum_skips_rewards_that_do_not_apply_and_drops_nan() {
        let rewards = vec![
            WeightedReward {
                reward: Box::new(Fixed("a", vec![Some(1.0), None, Some(f32::NAN), None])),
                weight: 2.0,
            },
            WeightedReward {
                reward: Box::new(Fixed("b", vec![Some(0.5), Some(3.0), None, None])),
                weight: 1.0,
            },
        ];
        let s = score_all(&rewards, &completions(4));
        assert_eq!(s.total, vec![Some(2.5), Some(3.0), None, None]);
        assert_eq!(s.non_finite, 1);
        assert_eq!(s.per_reward[0][2], None);
        assert_eq!(s.names, vec!["a", "b"]);
    }
}
