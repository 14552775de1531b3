//! The [`Task`] trait every reasoning task implements, and the registry of tasks by name.
//!
//! A task gives prompts (with the gold answer where it has one), reads the final answer out
//! of a completion and verifies it. The rewards ([`crate::rewards`]) and the label-free
//! estimators ([`crate::ttrl`], [`crate::restrain`]) see tasks only through this trait.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::arithmetic::{Arithmetic, Difficulty};
use crate::error::TaskError;
use crate::game24::Game24;
use crate::gym::GymTask;

/// One prompt of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Stable identifier, unique within the task (`arith-easy-0-12`, `game24-1`, …).
    pub id: String,
    /// The text the policy continues.
    pub prompt: String,
    /// The gold answer, where the task has one (a label-free run ignores it).
    pub gold: Option<String>,
    /// A worked chain-of-thought completion that ends in the gold answer, for SFT, where
    /// the task can make one.
    pub demonstration: Option<String>,
}

/// A verifiable reasoning task.
pub trait Task: Send + Sync {
    /// The name it is registered under (`arith-easy`, `game24`, …).
    fn name(&self) -> &str;

    /// `n` problems, fixed by `seed`: generated tasks generate them, dataset tasks shuffle
    /// their items with the seed and take the first `n`.
    ///
    /// # Errors
    /// [`TaskError::TooMany`] when a dataset task holds fewer than `n` items.
    fn problems(&self, n: usize, seed: u64) -> Result<Vec<Problem>, TaskError>;

    /// The final answer of `completion`, normalised so that answers the verifier treats as
    /// the same compare equal (majority votes count them as one); `None` when the
    /// completion gives no answer.
    fn extract_answer(&self, completion: &str) -> Option<String>;

    /// Whether `answer` (as [`Task::extract_answer`] returns it) is correct for `gold`.
    fn is_correct(&self, gold: &str, answer: &str) -> bool;
}

/// The names [`task_by_name`] knows, for help texts and error messages.
pub const KNOWN_TASKS: &str = "arith-easy, arith-medium, arith-hard, arith-<steps>x<digits> \
                               (e.g. arith-3x1), game24, gym:FILE.jsonl \
                               (a reasoning-gym export, tools/reference/reasoning_gym_sample.py)";

/// The task called `name`. `data_dir` is kiln's data folder (`$KILN_DATA`): `game24` reads
/// `<data_dir>/reasoning/24.csv` (`.ci/fetch-reasoning-data.sh`); `gym:FILE` reads `FILE`.
///
/// # Errors
/// [`TaskError::UnknownTask`] (listing the known names) for a name no task has, and the
/// task's own loading errors (missing or malformed data).
pub fn task_by_name(name: &str, data_dir: &Path) -> Result<Box<dyn Task>, TaskError> {
    if let Some(path) = name.strip_prefix("gym:") {
        return Ok(Box::new(GymTask::from_jsonl(Path::new(path))?));
    }
    if let Some(level) = Difficulty::by_name(name) {
        return Ok(Box::new(Arithmetic::new(name, level)));
    }
    match name {
        "game24" => Ok(Box::new(Game24::from_csv(&Game24::default_path(data_dir))?)),
        _ => Err(TaskError::UnknownTask {
            name: name.to_owned(),
            known: KNOWN_TASKS.to_owned(),
        }),
    }
}

/// The first `n` of `items` after a seeded shuffle, or [`TaskError::TooMany`]: the rule of
/// every dataset task.
pub(crate) fn seeded_sample<T: Clone>(
    task: &str,
    items: &[T],
    n: usize,
    seed: u64,
) -> Result<Vec<T>, TaskError> {
    if n > items.len() {
        return Err(TaskError::TooMany {
            task: task.to_owned(),
            asked: n,
            available: items.len(),
        });
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    crate::rng::SplitMix64::new(seed).shuffle(&mut order);
    Ok(order[..n].iter().map(|&i| items[i].clone()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_list_the_known_ones() {
        let err = task_by_name("arith-impossible", Path::new("/nonexistent"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("arith-impossible"), "{err}");
        assert!(err.contains("arith-easy") && err.contains("game24") && err.contains("gym:"));
    }

    #[test]
    fn arithmetic_grades_parse_and_out_of_range_ones_are_unknown() {
        let t = task_by_name("arith-3x1", Path::new("/nonexistent")).unwrap();
        let p = &t.problems(1, 0).unwrap()[0];
        // Three operations on one-digit operands: four numbers in the prompt.
        let numbers = p
            .prompt
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty());
        assert!(
            numbers.clone().count() == 4 && numbers.clone().all(|n| n.len() == 1),
            "{p:?}"
        );
        for bad in ["arith-0x1", "arith-3x5", "arith-3", "arith-x1", "arith-9x1"] {
            assert!(
                task_by_name(bad, Path::new("/nonexistent")).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn generated_tasks_need_no_data() {
        let t = task_by_name("arith-medium", Path::new("/nonexistent")).unwrap();
        assert_eq!(t.name(), "arith-medium");
        assert_eq!(t.problems(3, 1).unwrap().len(), 3);
    }

    #[test]
    fn game24_without_its_csv_says_how_to_fetch_it() {
        let err = task_by_name("game24", Path::new("/nonexistent"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("fetch-reasoning-data.sh"), "{err}");
    }

    #[test]
    fn seeded_sample_refuses_too_many_and_is_deterministic() {
        let items: Vec<u32> = (0..10).collect();
        let a = seeded_sample("t", &items, 4, 9).unwrap();
        assert_eq!(a, seeded_sample("t", &items, 4, 9).unwrap());
        assert_ne!(a, seeded_sample("t", &items, 4, 10).unwrap());
        let err = seeded_sample("t", &items, 11, 0).unwrap_err().to_string();
        assert_eq!(err, "task `t` holds 10 problems, 11 were asked for");
    }
}
