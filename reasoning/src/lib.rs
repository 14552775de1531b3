//! kiln-reasoning: verifiable reasoning tasks and the reasoning-training papers on top of
//! kiln-trainer's GRPO engine (DESIGN.md; notes in `../shared/papers/reasoning.md`).
//!
//! - [`task`]: the [`Task`] trait (prompts, gold answers, answer extraction, verifier) and
//!   [`task_by_name`]; the tasks are [`arithmetic`] (generated chains), [`game24`] (the
//!   1,362 puzzles of Tree of Thoughts) and [`gym`] (items exported from reasoning-gym).
//! - [`answer`]: the final answer of a completion (`\boxed{}` or `Answer:`) and number
//!   normalisation.
//! - [`rewards`]: [`Reward`](kiln_trainer::grpo::Reward) plug-ins (correctness, format).
//! - [`ttrl`] and [`restrain`]: label-free advantage estimators (TTRL's majority vote and
//!   RESTRAIN, arXiv 2510.02172) behind trainer's
//!   [`AdvantageEstimator`](kiln_trainer::grpo::AdvantageEstimator).
//!
//! The library never prints and has no burn dependency of its own: everything here is plain
//! Rust over strings and numbers.

pub mod answer;
pub mod arithmetic;
pub mod error;
pub mod eval;
pub mod game24;
pub mod gym;
pub mod restrain;
pub mod rewards;
pub mod rng;
pub mod task;
pub mod ttrl;
pub mod vote;

pub use error::TaskError;
pub use task::{Problem, Task, task_by_name};
