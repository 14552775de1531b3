//! Held-out scores of a policy on a task from K sampled completions per problem: pass@1 (the
//! mean share of correct samples, the unbiased pass@1 estimator of Chen et al. 2021 with
//! k = 1), pass@K (any sample correct), majority@K (the most frequent extracted answer is
//! correct: TTRL's and RESTRAIN's maj@K) and mean completion length.

use serde::Serialize;

use crate::task::{Problem, Task};
use crate::vote::Votes;

/// One sampled completion of a problem.
pub struct Sample<'a> {
    pub text: &'a str,
    /// Completion length in tokens.
    pub tokens: usize,
}

/// The scores of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    pub task: String,
    pub problems: usize,
    /// K, the samples per problem.
    pub samples: usize,
    pub pass_at_1: f64,
    pub pass_at_k: f64,
    pub majority_at_k: f64,
    /// Share of samples from which the task could read an answer at all.
    pub answered: f64,
    pub mean_completion_tokens: f64,
}

/// Scores `samples[i]` (the K completions of `problems[i]`) against the gold answers.
///
/// # Panics
/// If the lengths differ, a problem has no gold answer, or a problem has no samples.
pub fn score(task: &dyn Task, problems: &[Problem], samples: &[Vec<Sample<'_>>]) -> EvalReport {
    assert_eq!(problems.len(), samples.len());
    let k = samples.first().map_or(0, Vec::len);
    let (mut pass1, mut pass_k, mut maj, mut answered, mut tokens) = (0.0, 0.0, 0.0, 0usize, 0);
    for (p, group) in problems.iter().zip(samples) {
        assert!(!group.is_empty(), "problem {} has no samples", p.id);
        let gold = p
            .gold
            .as_deref()
            .unwrap_or_else(|| panic!("problem {} has no gold answer", p.id));
        let answers: Vec<Option<String>> =
            group.iter().map(|s| task.extract_answer(s.text)).collect();
        let correct = answers
            .iter()
            .filter(|a| a.as_deref().is_some_and(|a| task.is_correct(gold, a)))
            .count();
        pass1 += correct as f64 / group.len() as f64;
        pass_k += f64::from(u8::from(correct > 0));
        let votes = Votes::tally(&answers);
        if let Some(j) = votes.majority() {
            maj += f64::from(u8::from(task.is_correct(gold, &votes.candidates[j])));
        }
        answered += answers.iter().filter(|a| a.is_some()).count();
        tokens += group.iter().map(|s| s.tokens).sum::<usize>();
    }
    let n = problems.len().max(1) as f64;
    let all = samples.iter().map(Vec::len).sum::<usize>().max(1) as f64;
    EvalReport {
        task: task.name().to_owned(),
        problems: problems.len(),
        samples: k,
        pass_at_1: pass1 / n,
        pass_at_k: pass_k / n,
        majority_at_k: maj / n,
        answered: answered as f64 / all,
        mean_completion_tokens: tokens as f64 / all,
    }
}

impl EvalReport {
    /// The report as a two-column table.
    pub fn table(&self) -> String {
        let k = self.samples;
        format!(
            "task                 {}\nproblems             {}\nsamples per problem  {k}\n\
             pass@1               {:.4}\npass@{k:<16}{:.4}\nmajority@{k:<12}{:.4}\n\
             answered             {:.4}\nmean length (tokens) {:.1}\n",
            self.task,
            self.problems,
            self.pass_at_1,
            self.pass_at_k,
            self.majority_at_k,
            self.answered,
            self.mean_completion_tokens
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arithmetic::{Arithmetic, Difficulty};

    fn problem(gold: &str) -> Problem {
        Problem {
            id: format!("p{gold}"),
            prompt: "Q".into(),
            gold: Some(gold.into()),
            demonstration: None,
        }
    }

    #[test]
    fn scores_match_hand_counts() {
        let task = Arithmetic::new("arith-easy", Difficulty::by_name("arith-easy").unwrap());
        let problems = [problem("3"), problem("5")];
        let s = |text: &'static str| Sample { text, tokens: 4 };
        // Problem 1: 2 of 4 right, and the majority (3, two votes against 4 and none) right.
        // Problem 2: 1 of 4 right; the majority answer 6 (two votes) wrong.
        let samples = vec![
            vec![s("Answer: 3"), s("Answer: 3"), s("Answer: 4"), s("no idea")],
            vec![
                s("Answer: 6"),
                s("Answer: 5"),
                s("Answer: 6"),
                s("Answer: 7"),
            ],
        ];
        let r = score(&task, &problems, &samples);
        assert_eq!(r.samples, 4);
        assert!((r.pass_at_1 - (0.5 + 0.25) / 2.0).abs() < 1e-12);
        assert_eq!(r.pass_at_k, 1.0);
        assert_eq!(r.majority_at_k, 0.5);
        assert!((r.answered - 7.0 / 8.0).abs() < 1e-12);
        assert_eq!(r.mean_completion_tokens, 4.0);
        assert!(r.table().contains("majority@4"));
    }
}
