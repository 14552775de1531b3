//! The votes of one group of rollouts: the distinct extracted answers, their counts and the
//! majority (RESTRAIN §1.1 of `../shared/papers/reasoning.md`: answers {a_j}, counts c_j,
//! frequencies f_j = c_j / n, majority count M(x) = max_j c_j).

use kiln_trainer::grpo::Completion;

use crate::task::Task;

/// The votes of every group of a batch (`group_size` completions of one prompt in a row),
/// with answers as `task` extracts them.
///
/// # Panics
/// If `group_size` is 0 or does not divide the number of completions (the engine's batches
/// always have whole groups).
pub fn group_votes(
    task: &dyn Task,
    completions: &[Completion<'_>],
    group_size: usize,
) -> Vec<Votes> {
    assert!(
        group_size > 0 && completions.len().is_multiple_of(group_size),
        "{} completions do not form groups of {group_size}",
        completions.len()
    );
    completions
        .chunks(group_size)
        .map(|g| {
            let answers: Vec<Option<String>> =
                g.iter().map(|c| task.extract_answer(c.text)).collect();
            Votes::tally(&answers)
        })
        .collect()
}

/// The answers of the `n` rollouts of one prompt, tallied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Votes {
    /// The distinct answers a_j in order of first appearance.
    pub candidates: Vec<String>,
    /// c_j, the votes of `candidates[j]`.
    pub counts: Vec<usize>,
    /// For each rollout, the index of its answer in `candidates`; `None` when it gave none.
    pub choice: Vec<Option<usize>>,
}

impl Votes {
    /// Tallies one group. A rollout without an answer counts in n (the group size) and votes
    /// for no candidate: it can only lower every frequency, never form a candidate of its
    /// own (a group of silent rollouts has no pseudo-label to agree on).
    pub fn tally<S: AsRef<str>>(answers: &[Option<S>]) -> Self {
        let mut candidates: Vec<String> = Vec::new();
        let mut counts = Vec::new();
        let choice = answers
            .iter()
            .map(|a| {
                let a = a.as_ref()?.as_ref();
                Some(match candidates.iter().position(|c| c == a) {
                    Some(j) => {
                        counts[j] += 1;
                        j
                    }
                    None => {
                        candidates.push(a.to_owned());
                        counts.push(1);
                        candidates.len() - 1
                    }
                })
            })
            .collect();
        Self {
            candidates,
            counts,
            choice,
        }
    }

    /// n: the group size, rollouts without an answer included.
    pub fn n(&self) -> usize {
        self.choice.len()
    }

    /// M(x) = max_j c_j (0 when no rollout answered).
    pub fn majority_count(&self) -> usize {
        self.counts.iter().copied().max().unwrap_or(0)
    }

    /// The majority answer's index, or `None` when no rollout answered. A tie goes to the
    /// tied answer that appeared first in the group: deterministic, and (rollouts being
    /// sampled independently) not biased towards any answer.
    pub fn majority(&self) -> Option<usize> {
        let m = self.majority_count();
        self.counts.iter().position(|&c| c == m && m > 0)
    }

    /// f_j = c_j / n.
    pub fn frequencies(&self) -> Vec<f64> {
        let n = self.n() as f64;
        self.counts.iter().map(|&c| c as f64 / n).collect()
    }

    /// The rewards r_i = 1[ans(o_i) = a_j] of candidate `j`.
    pub fn rewards_for(&self, j: usize) -> Vec<f32> {
        self.choice
            .iter()
            .map(|c| if *c == Some(j) { 1.0 } else { 0.0 })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_by_hand() {
        let v = Votes::tally(&[Some("b"), None, Some("a"), Some("b"), Some("a"), Some("c")]);
        assert_eq!(v.candidates, vec!["b", "a", "c"]);
        assert_eq!(v.counts, vec![2, 2, 1]);
        assert_eq!(
            v.choice,
            vec![Some(0), None, Some(1), Some(0), Some(1), Some(2)]
        );
        assert_eq!(v.n(), 6);
        assert_eq!(v.majority_count(), 2);
        // Tie between "b" and "a": "b" appeared first.
        assert_eq!(v.majority(), Some(0));
        assert_eq!(v.frequencies(), vec![2.0 / 6.0, 2.0 / 6.0, 1.0 / 6.0]);
        assert_eq!(v.rewards_for(1), vec![0.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn silent_groups_have_no_majority() {
        let v = Votes::tally::<&str>(&[None, None]);
        assert_eq!(v.majority(), None);
        assert_eq!(v.majority_count(), 0);
        assert!(v.candidates.is_empty());
    }
}
