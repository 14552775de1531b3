//! Task rewards as trainer's [`Reward`] plug-ins: the gold-label reward of plain GRPO
//! (RESTRAIN's upper-bound baseline, `../shared/papers/reasoning.md` §1.4) and a format
//! reward for completions that state an answer at all.

use std::sync::Arc;

use kiln_trainer::grpo::{Completion, Reward};

use crate::task::Task;

/// 1 when the completion's extracted answer verifies against the gold answer, 0 when it is
/// wrong or there is none; `None` for a sample without a gold answer (the reward does not
/// apply: TRL's `None`, so a mixed batch of labelled and unlabelled prompts works).
pub struct CorrectnessReward {
    task: Arc<dyn Task>,
}

impl CorrectnessReward {
    pub fn new(task: Arc<dyn Task>) -> Self {
        Self { task }
    }
}

impl Reward for CorrectnessReward {
    fn name(&self) -> &str {
        "correctness"
    }

    fn score(&self, completions: &[Completion<'_>]) -> Vec<Option<f32>> {
        completions
            .iter()
            .map(|c| {
                let gold = c.gold?;
                let ok = self
                    .task
                    .extract_answer(c.text)
                    .is_some_and(|a| self.task.is_correct(gold, &a));
                Some(if ok { 1.0 } else { 0.0 })
            })
            .collect()
    }
}

/// 1 when an answer can be extracted from the completion (a `\boxed{}` or `Answer:` line
/// the task reads), 0 otherwise; needs no gold answer, so it always applies.
pub struct FormatReward {
    task: Arc<dyn Task>,
}

impl FormatReward {
    pub fn new(task: Arc<dyn Task>) -> Self {
        Self { task }
    }
}

impl Reward for FormatReward {
    fn name(&self) -> &str {
        "format"
    }

    fn score(&self, completions: &[Completion<'_>]) -> Vec<Option<f32>> {
        completions
            .iter()
            .map(|c| {
                Some(if self.task.extract_answer(c.text).is_some() {
                    1.0
                } else {
                    0.0
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use kiln_trainer::grpo::{WeightedReward, score_all};

    use super::*;
    use crate::arithmetic::{Arithmetic, Difficulty};

    fn completion<'a>(text: &'a str, gold: Option<&'a str>) -> Completion<'a> {
        Completion {
            prompt_index: 0,
            prompt: "Q: 12+7*3-4=?\n",
            text,
            gold,
            truncated: false,
        }
    }

    #[test]
    fn correctness_and_format_by_hand() {
        let task: Arc<dyn Task> = Arc::new(Arithmetic::new("arith-easy", Difficulty::EASY));
        let batch = [
            completion("7*3=21. 12+21=33. 33-4=29. Answer: 29", Some("29")),
            completion("Answer: 29.0", Some("29")),
            completion("Answer: 30", Some("29")),
            completion("I give up", Some("29")),
            completion("\\boxed{29}", None),
        ];
        let correct = CorrectnessReward::new(task.clone());
        let format = FormatReward::new(task);
        assert_eq!(correct.name(), "correctness");
        assert_eq!(format.name(), "format");
        assert_eq!(
            correct.score(&batch),
            vec![Some(1.0), Some(1.0), Some(0.0), Some(0.0), None]
        );
        assert_eq!(
            format.score(&batch),
            vec![Some(1.0), Some(1.0), Some(1.0), Some(0.0), Some(1.0)]
        );
        // Through the engine's weighted sum: correctness + 0.1 format.
        let rewards = vec![
            WeightedReward {
                reward: Box::new(correct),
                weight: 1.0,
            },
            WeightedReward {
                reward: Box::new(format),
                weight: 0.1,
            },
        ];
        let s = score_all(&rewards, &batch);
        assert_eq!(
            s.total,
            vec![Some(1.1), Some(1.1), Some(0.1), Some(0.0), Some(0.1)]
        );
    }
}
