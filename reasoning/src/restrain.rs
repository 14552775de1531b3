//! RESTRAIN: label-free RL with self-restraint (Yu et al. 2025, arXiv 2510.02172; notes in
//! `../shared/papers/reasoning.md` §1.2), as an advantage estimator on kiln's GRPO engine.
//! Three components, each switchable for the paper's ablations:
//!
//! 1. **Pseudo-label weighting.** Every distinct answer a_j of a prompt's n rollouts is a
//!    candidate pseudo-label with weight w_j = g(f_j) / Σ_l g(f_l), f_j = c_j / n, and
//!    g(f) = exp(−(f − k)² / (2σ²)) (a Gaussian centred at k, bandwidth σ). Under
//!    candidate j the rewards are r_{i,j} = 1[ans(o_i) = a_j] and the advantages A_{i,j}
//!    are group-normalised. Off: the majority answer alone (TTRL's pseudo-label).
//! 2. **Negative rollout penalisation.** When the majority count M(x) = max_j c_j is below
//!    κ, all rewards are zeroed and every advantage is shifted by −δ:
//!    Ã_{i,j} = A_{i,j} − δ = −δ (the zeroed rewards centre to 0).
//! 3. **Prompt-level weighting.** u_x = g(c_ref / n), computed once, offline, from the
//!    frozen base model's rollouts ([`prompt_weight`], stored as [`PromptWeights`]).
//!
//! The loss u_x · Σ_j w_j · L̃_GRPO(x, a_j) is carried exactly by trainer's
//! [`Advantage::mixture`] (A⁺ and A⁻ split by sign, so the per-candidate clip stays exact
//! for μ > 1 inner epochs) with u_x as [`Advantage::weight`], which also scales the KL term.
//!
//! **Defaults are not the paper's** (its values were not available, §1.3 [UNVERIFIED]);
//! they are chosen so that the components do what the notes say:
//! - k = 1: g is then increasing on [0, 1] (the "monotone shaping of the frequency"), and
//!   as σ → 0 the weights become the majority vote, the limit the notes state. A centre
//!   below the top frequency would instead favour answers of middling frequency.
//! - σ = 0.3: with 8 rollouts voting 4/2/1/1 the majority gets w ≈ 0.78 and each
//!   minority keeps some credit (0.14, 0.04, 0.04); σ = 0.1 (reported to perform poorly)
//!   is nearly TTRL, σ ≥ 1 nearly uniform (reported to collapse earlier than TTRL).
//! - κ = 3 (votes): with the 8-rollout groups of kiln's scripts, a prompt where no answer
//!   has three votes (under 37.5 % agreement) is treated as low-consensus.
//! - δ = 0.5: half the typical magnitude of a group-normalised advantage, a clear push-down
//!   that does not outweigh the signal of confident prompts.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use kiln_trainer::TrainError;
use kiln_trainer::grpo::advantage::group_advantages;
use kiln_trainer::grpo::{Advantage, AdvantageEstimator, AdvantageInput, ScaleRewards};
use serde::{Deserialize, Serialize};

use crate::error::TaskError;
use crate::task::Task;
use crate::vote::{Votes, group_votes};

/// RESTRAIN's knobs. The defaults are documented in the module docs (and are not the
/// paper's, which were unavailable).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RestrainConfig {
    /// Component 1: weight every distinct answer by g(f_j) (default true); false: the
    /// majority answer alone, as TTRL.
    pub pseudo_label_weighting: bool,
    /// Component 2: zero the rewards of prompts with M(x) < κ and shift their advantages by
    /// −δ (default true).
    pub negative_penalty: bool,
    /// Component 3: scale each prompt's loss by its offline weight u_x (default true; needs
    /// a [`PromptWeights`] file).
    pub prompt_weighting: bool,
    /// k, the centre of the Gaussian g on the answer frequency, in [0, 1] (default 1).
    pub centre: f64,
    /// σ, g's bandwidth, > 0 (default 0.3).
    pub sigma: f64,
    /// κ, the vote count below which a prompt is low-consensus (default 3).
    pub kappa: usize,
    /// δ ≥ 0, the advantage every rollout of a low-consensus prompt gets taken off
    /// (default 0.5).
    pub delta: f32,
    /// How the per-candidate advantages are scaled: `group` (default) or `none`. `batch` is
    /// refused: a candidate pseudo-label belongs to one prompt, so there is no batch of
    /// rewards under one label to take a standard deviation over.
    pub scale: ScaleRewards,
}

impl Default for RestrainConfig {
    fn default() -> Self {
        Self {
            pseudo_label_weighting: true,
            negative_penalty: true,
            prompt_weighting: true,
            centre: 1.0,
            sigma: 0.3,
            kappa: 3,
            delta: 0.5,
            scale: ScaleRewards::Group,
        }
    }
}

impl RestrainConfig {
    /// # Errors
    /// [`TaskError::Invalid`] naming the knob for k outside [0, 1], σ ≤ 0, a negative or
    /// non-finite δ, or `scale = batch`.
    pub fn validate(&self) -> Result<(), TaskError> {
        let bad = |m: String| Err(TaskError::Invalid(format!("restrain: {m}")));
        if !(0.0..=1.0).contains(&self.centre) {
            return bad(format!("centre k = {} must lie in [0, 1]", self.centre));
        }
        if !(self.sigma > 0.0 && self.sigma.is_finite()) {
            return bad(format!("sigma = {} must be a positive number", self.sigma));
        }
        if !(self.delta >= 0.0 && self.delta.is_finite()) {
            return bad(format!("delta = {} must be a number >= 0", self.delta));
        }
        if self.scale == ScaleRewards::Batch {
            return bad("scale_rewards = batch is not defined per candidate pseudo-label; use group or none".into());
        }
        Ok(())
    }

    /// log g(f) = −(f − k)² / (2σ²).
    fn log_shaping(&self, f: f64) -> f64 {
        -(f - self.centre).powi(2) / (2.0 * self.sigma * self.sigma)
    }

    /// g(f) = exp(−(f − k)² / (2σ²)).
    pub fn shaping(&self, f: f64) -> f64 {
        self.log_shaping(f).exp()
    }

    /// w_j = g(f_j) / Σ_l g(f_l) over the candidates of `votes` (eq. for L_GRPO(x) in
    /// §1.2), computed from log g so that a small σ, where every g(f_j) underflows to 0,
    /// still gives the limit (all weight on the most frequent answers, split evenly between
    /// exact ties). With weighting off: 1 on the majority answer. Empty when no rollout
    /// answered.
    pub fn candidate_weights(&self, votes: &Votes) -> Vec<f64> {
        if !self.pseudo_label_weighting {
            let mut w = vec![0.0; votes.candidates.len()];
            if let Some(j) = votes.majority() {
                w[j] = 1.0;
            }
            return w;
        }
        let logs: Vec<f64> = votes
            .frequencies()
            .iter()
            .map(|&f| self.log_shaping(f))
            .collect();
        let top = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = logs.iter().map(|l| (l - top).exp()).collect();
        let sum: f64 = e.iter().sum();
        e.iter().map(|x| x / sum).collect()
    }
}

/// u_x = g(c_ref / n) from the answers of the base model's `n` rollouts of one prompt
/// (`None`: a rollout with no answer, counted in n): §1.2 (3).
///
/// # Errors
/// [`TaskError::Invalid`] when `answers` is empty (no frequency to shape).
pub fn prompt_weight<S: AsRef<str>>(
    answers: &[Option<S>],
    cfg: &RestrainConfig,
) -> Result<f32, TaskError> {
    if answers.is_empty() {
        return Err(TaskError::Invalid(
            "restrain: a prompt weight needs at least one reference rollout".into(),
        ));
    }
    let votes = Votes::tally(answers);
    Ok(cfg.shaping(votes.majority_count() as f64 / votes.n() as f64) as f32)
}

/// The offline prompt weights u_x of one training set, keyed by prompt text, with the
/// shaping they were computed with. Stored as JSON beside the run:
/// `{"centre": 1.0, "sigma": 0.3, "weights": {"Q: 1+2=?\n": 0.8, …}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptWeights {
    pub centre: f64,
    pub sigma: f64,
    pub weights: BTreeMap<String, f32>,
}

impl PromptWeights {
    /// No weights yet, for the shaping of `cfg`.
    pub fn new(cfg: &RestrainConfig) -> Self {
        Self {
            centre: cfg.centre,
            sigma: cfg.sigma,
            weights: BTreeMap::new(),
        }
    }

    /// Stores [`prompt_weight`] of `answers` for `prompt`.
    ///
    /// # Errors
    /// As [`prompt_weight`].
    pub fn insert_from_answers<S: AsRef<str>>(
        &mut self,
        prompt: &str,
        answers: &[Option<S>],
        cfg: &RestrainConfig,
    ) -> Result<f32, TaskError> {
        let u = prompt_weight(answers, cfg)?;
        self.weights.insert(prompt.to_owned(), u);
        Ok(u)
    }

    pub fn get(&self, prompt: &str) -> Option<f32> {
        self.weights.get(prompt).copied()
    }

    /// The prompts of `prompts` with no stored weight (check before training: the
    /// estimator gives them weight 1).
    pub fn missing<'a>(&self, prompts: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
        prompts
            .into_iter()
            .filter(|p| !self.weights.contains_key(*p))
            .collect()
    }

    /// Writes the weights atomically (temporary file, fsync, rename).
    ///
    /// # Errors
    /// [`TaskError::Io`] naming `path`.
    pub fn save(&self, path: &Path) -> Result<(), TaskError> {
        let json = serde_json::to_string_pretty(self).map_err(|e| TaskError::BadFile {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        kiln_trainer::fsutil::write_atomic(path, json.as_bytes()).map_err(|e| match e {
            TrainError::Io { path, source } => TaskError::Io { path, source },
            other => TaskError::BadFile {
                path: path.to_owned(),
                reason: other.to_string(),
            },
        })
    }

    /// Reads weights written by [`PromptWeights::save`].
    ///
    /// # Errors
    /// Errors naming `path` when it cannot be read, is not this JSON, or holds a weight
    /// that is negative or not finite.
    pub fn load(path: &Path) -> Result<Self, TaskError> {
        let text = std::fs::read_to_string(path).map_err(TaskError::io(path))?;
        let bad = |reason: String| TaskError::BadFile {
            path: path.to_owned(),
            reason,
        };
        let w: Self = serde_json::from_str(&text)
            .map_err(|e| bad(format!("not a RESTRAIN prompt-weights file: {e}")))?;
        if let Some((p, u)) = w
            .weights
            .iter()
            .find(|(_, u)| !(u.is_finite() && **u >= 0.0))
        {
            return Err(bad(format!(
                "prompt {p:?} has weight {u}; weights are >= 0"
            )));
        }
        Ok(w)
    }
}

/// RESTRAIN's advantage estimator.
pub struct Restrain {
    task: Arc<dyn Task>,
    config: RestrainConfig,
    weights: Option<PromptWeights>,
}

impl Restrain {
    /// Answers as `task` extracts them; `weights` are required when `prompt_weighting` is
    /// on and must have been computed with the config's k and σ.
    ///
    /// # Errors
    /// [`TaskError::Invalid`] for an invalid config ([`RestrainConfig::validate`]), prompt
    /// weighting without weights, or weights of another shaping.
    pub fn new(
        task: Arc<dyn Task>,
        config: RestrainConfig,
        weights: Option<PromptWeights>,
    ) -> Result<Self, TaskError> {
        config.validate()?;
        match &weights {
            None if config.prompt_weighting => {
                return Err(TaskError::Invalid(
                    "restrain: prompt_weighting needs the offline prompt weights (computed with the base model); turn it off or give the weights file".into(),
                ));
            }
            Some(w)
                if config.prompt_weighting
                    && (w.centre != config.centre || w.sigma != config.sigma) =>
            {
                return Err(TaskError::Invalid(format!(
                    "restrain: the prompt weights were computed with k = {}, sigma = {}, the config has k = {}, sigma = {}",
                    w.centre, w.sigma, config.centre, config.sigma
                )));
            }
            _ => {}
        }
        Ok(Self {
            task,
            config,
            weights,
        })
    }

    pub fn config(&self) -> &RestrainConfig {
        &self.config
    }

    /// u_x of `prompt`: its stored weight, 1 when weighting is off or none is stored.
    fn prompt_weight_of(&self, prompt: &str) -> f32 {
        match (&self.weights, self.config.prompt_weighting) {
            (Some(w), true) => w.get(prompt).unwrap_or(1.0),
            _ => 1.0,
        }
    }

    /// The advantages of one group with prompt weight `u`.
    ///
    /// A low-consensus group (M(x) < κ with the penalty on) gets −δ for every rollout, also
    /// when no rollout answered at all (there is no candidate to sum over, but the
    /// penalty belongs to the prompt: silent rollouts are pushed down like spurious ones).
    /// Otherwise each rollout gets Σ_j w_j A_{i,j}; a rollout with no answer matches no
    /// candidate, so it gets the negative part of every candidate's advantage.
    pub fn group_advantages(&self, votes: &Votes, u: f32) -> Vec<Advantage> {
        let n = votes.n();
        let cfg = &self.config;
        if cfg.negative_penalty && votes.majority_count() < cfg.kappa {
            return vec![Advantage::mixture([(1.0, -cfg.delta)], u); n];
        }
        let weights = cfg.candidate_weights(votes);
        let per_candidate: Vec<(f32, Vec<f32>)> = weights
            .iter()
            .enumerate()
            .filter(|(_, w)| **w > 0.0)
            .map(|(j, &w)| {
                let r: Vec<Option<f32>> = votes.rewards_for(j).into_iter().map(Some).collect();
                (w as f32, group_advantages(&r, n, cfg.scale))
            })
            .collect();
        (0..n)
            .map(|i| Advantage::mixture(per_candidate.iter().map(|(w, a)| (*w, a[i])), u))
            .collect()
    }
}

impl AdvantageEstimator for Restrain {
    /// # Panics
    /// If the batch is not made of whole groups of `input.group_size`.
    fn advantages(&self, input: &AdvantageInput<'_>) -> Vec<Advantage> {
        let g = input.group_size;
        group_votes(self.task.as_ref(), input.completions, g)
            .iter()
            .zip(input.completions.chunks(g))
            .flat_map(|(votes, group)| {
                self.group_advantages(votes, self.prompt_weight_of(group[0].prompt))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;
    use crate::ttrl::Ttrl;
    use crate::ttrl::tests::{arith, completions, no_rewards, texts};

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    fn cfg() -> RestrainConfig {
        RestrainConfig {
            sigma: 0.5,
            kappa: 0,
            prompt_weighting: false,
            scale: ScaleRewards::None,
            ..RestrainConfig::default()
        }
    }

    /// a, a, a, b, b, c, none, none: f = 3/8, 2/8, 1/8.
    fn votes() -> Votes {
        Votes::tally(&[
            Some("a"),
            Some("a"),
            Some("a"),
            Some("b"),
            Some("b"),
            Some("c"),
            None,
            None,
        ])
    }

    #[test]
    fn answer_weights_by_hand() {
        // k = 1, σ = 0.5: g(f) = exp(−(f−1)²/0.5)
        // g(3/8) = exp(−0.78125) = 0.457833, g(2/8) = exp(−1.125) = 0.324652,
        // g(1/8) = exp(−1.53125) = 0.216265; sum 0.998751.
        let w = cfg().candidate_weights(&votes());
        let want = [0.458405913, 0.325058467, 0.216535621];
        for (a, b) in w.iter().zip(want) {
            assert!(close(*a, b, 1e-8), "{w:?}");
        }
        assert!(close(w.iter().sum(), 1.0, 1e-12));
        // Off: TTRL's pseudo-label.
        let off = RestrainConfig {
            pseudo_label_weighting: false,
            ..cfg()
        };
        assert_eq!(off.candidate_weights(&votes()), vec![1.0, 0.0, 0.0]);
    }

    #[test]
    fn mixed_advantages_by_hand() {
        // Unscaled per-candidate advantages: A_{i,a} = 1[a] − 3/8, A_{i,b} = 1[b] − 2/8,
        // A_{i,c} = 1[c] − 1/8. Rollout 0 (a): A⁺ = w_a·5/8 = 0.286504, A⁻ = −w_b/4 −
        // w_c/8 = −0.108332. Rollout 6 (none): A⁺ = 0, A⁻ = −(3w_a + 2w_b + w_c)/8 = −0.280234.
        let r = Restrain::new(arith(), cfg(), None).unwrap();
        let a = r.group_advantages(&votes(), 1.0);
        let want = [
            (0.286503695, -0.108331569),
            (0.243793850, -0.198969170),
            (0.189468668, -0.253166834),
            (0.0, -0.280233786),
        ];
        for (i, (p, n)) in [0, 3, 5, 6].into_iter().zip(want) {
            assert!(close(a[i].pos as f64, p, 1e-6), "{i}: {:?}", a[i]);
            assert!(close(a[i].neg as f64, n, 1e-6), "{i}: {:?}", a[i]);
        }
        // The group's effective advantages sum to 0 (each candidate's do).
        let s: f32 = a.iter().map(Advantage::value).sum();
        assert!(s.abs() < 1e-6);
    }

    #[test]
    fn negative_penalty_by_hand() {
        let penal = RestrainConfig {
            kappa: 4,
            delta: 0.3,
            ..cfg()
        };
        let r = Restrain::new(arith(), penal, None).unwrap();
        // M(x) = 3 < κ = 4: every rollout −δ = −0.3, pos 0.
        let a = r.group_advantages(&votes(), 0.5);
        assert!(
            a.iter()
                .all(|x| x.pos == 0.0 && x.neg == -0.3 && x.weight == 0.5)
        );
        // M(x) = 3 ≥ κ = 3: no penalty.
        let r = Restrain::new(arith(), RestrainConfig { kappa: 3, ..penal }, None).unwrap();
        assert!(r.group_advantages(&votes(), 1.0)[0].pos > 0.0);
        // A group with no answer at all under the penalty: −δ too.
        let silent = Votes::tally::<&str>(&[None, None, None]);
        let r = Restrain::new(arith(), penal, None).unwrap();
        assert!(
            r.group_advantages(&silent, 1.0)
                .iter()
                .all(|x| x.value() == -0.3)
        );
        // ... and 0 without it.
        let r = Restrain::new(arith(), cfg(), None).unwrap();
        assert!(
            r.group_advantages(&silent, 1.0)
                .iter()
                .all(|x| x.value() == 0.0)
        );
    }

    #[test]
    fn prompt_weight_by_hand_and_its_file() {
        let c = cfg();
        // Reference answers x, x, x, y, none: c_ref = 3, n = 5, u = g(0.6) = exp(−0.16/0.5)
        // = exp(−0.32) = 0.726149.
        let answers = [Some("x"), Some("x"), Some("x"), Some("y"), None];
        let u = prompt_weight(&answers, &c).unwrap();
        assert!(close(u as f64, 0.726149037, 1e-6), "{u}");
        assert!(prompt_weight::<&str>(&[], &c).is_err());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prompt_weights.json");
        let mut w = PromptWeights::new(&c);
        w.insert_from_answers("Q: 1+1=?\n", &answers, &c).unwrap();
        w.save(&path).unwrap();
        let back = PromptWeights::load(&path).unwrap();
        assert_eq!(back, w);
        assert_eq!(
            back.missing(["Q: 1+1=?\n", "Q: 2+2=?\n"]),
            vec!["Q: 2+2=?\n"]
        );

        // The estimator puts u_x in Advantage.weight.
        let on = RestrainConfig {
            prompt_weighting: true,
            ..c
        };
        let r = Restrain::new(arith(), on, Some(back)).unwrap();
        let t = texts(&[Some("2"), Some("2"), Some("3"), Some("2")]);
        let cs = completions(&t, 4);
        let rw = no_rewards(4);
        let a = r.advantages(&AdvantageInput {
            completions: &cs,
            rewards: &rw,
            group_size: 4,
        });
        assert!(a.iter().all(|x| x.weight == u));

        // Errors name the file.
        std::fs::write(
            &path,
            r#"{"centre": 1.0, "sigma": 0.5, "weights": {"p": -1}}"#,
        )
        .unwrap();
        let err = PromptWeights::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("prompt_weights.json") && err.contains("-1"),
            "{err}"
        );
        std::fs::write(&path, "{").unwrap();
        let err = PromptWeights::load(&path).unwrap_err().to_string();
        assert!(err.contains("prompt_weights.json"), "{err}");
        let err = PromptWeights::load(&dir.path().join("nope.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope.json"), "{err}");
    }

    #[test]
    fn bad_configs_are_refused() {
        let refuse = |c: RestrainConfig, w: Option<PromptWeights>| {
            Restrain::new(arith(), c, w).err().unwrap().to_string()
        };
        assert!(
            refuse(
                RestrainConfig {
                    sigma: 0.0,
                    ..cfg()
                },
                None
            )
            .contains("sigma")
        );
        assert!(
            refuse(
                RestrainConfig {
                    centre: 1.5,
                    ..cfg()
                },
                None
            )
            .contains("centre")
        );
        assert!(
            refuse(
                RestrainConfig {
                    delta: f32::NAN,
                    ..cfg()
                },
                None
            )
            .contains("delta")
        );
        let batch = RestrainConfig {
            scale: ScaleRewards::Batch,
            ..cfg()
        };
        assert!(refuse(batch, None).contains("batch"));
        assert!(refuse(RestrainConfig::default(), None).contains("prompt weights"));
        let other = PromptWeights::new(&cfg()); // σ = 0.5, default config σ = 0.3
        assert!(refuse(RestrainConfig::default(), Some(other)).contains("sigma"));
        // The defaults themselves are valid.
        RestrainConfig::default().validate().unwrap();
    }

    /// As σ → 0 (k = 1) RESTRAIN's weights become TTRL's majority vote, and its advantages
    /// TTRL's, over many random vote patterns (penalty and prompt weight off, which TTRL
    /// does not have). With an exact tie for the majority the limit splits the weight
    /// evenly between the tied answers, while TTRL picks one: those patterns are checked
    /// against that limit instead.
    #[test]
    fn small_sigma_becomes_ttrl() {
        let mut rng = SplitMix64::new(2510_02172);
        let alphabet = ["1", "2", "3", "4", "5"];
        let mut unique = 0;
        for case in 0..2000 {
            let g = rng.range(2, 16) as usize;
            let k = rng.range(1, alphabet.len() as i64) as u64;
            let answers: Vec<Option<&str>> = (0..g)
                .map(|_| {
                    // About one rollout in five gives no answer.
                    (rng.below(5) != 0).then(|| alphabet[rng.below(k) as usize])
                })
                .collect();
            let votes = Votes::tally(&answers);
            let scale = if case % 2 == 0 {
                ScaleRewards::Group
            } else {
                ScaleRewards::None
            };
            let c = RestrainConfig {
                sigma: 1e-3,
                negative_penalty: false,
                prompt_weighting: false,
                scale,
                ..RestrainConfig::default()
            };
            let w = c.candidate_weights(&votes);
            let m = votes.majority_count();
            let tied: Vec<usize> = (0..votes.counts.len())
                .filter(|&j| votes.counts[j] == m)
                .collect();
            for (j, wj) in w.iter().enumerate() {
                let want = if tied.contains(&j) {
                    1.0 / tied.len() as f64
                } else {
                    0.0
                };
                assert!(close(*wj, want, 1e-12), "case {case}: {answers:?} -> {w:?}");
            }
            if tied.len() != 1 {
                continue;
            }
            unique += 1;
            let t = texts(&answers);
            let cs = completions(&t, g);
            let rw = no_rewards(g);
            let input = AdvantageInput {
                completions: &cs,
                rewards: &rw,
                group_size: g,
            };
            let ours = Restrain::new(arith(), c, None).unwrap().advantages(&input);
            let ttrl = Ttrl::new(arith(), scale).advantages(&input);
            for (a, b) in ours.iter().zip(&ttrl) {
                assert!(
                    (a.pos - b.pos).abs() < 1e-6
                        && (a.neg - b.neg).abs() < 1e-6
                        && a.weight == b.weight,
                    "case {case}: {answers:?}: {a:?} vs {b:?}"
                );
            }
        }
        assert!(
            unique > 1000,
            "only {unique} patterns with a unique majority"
        );
    }
}
