//! Choosing the next token from logits: greedy, temperature, top-k (Fan et al. 2018) and
//! nucleus / top-p (Holtzman et al. 2020) sampling.

use serde::{Deserialize, Serialize};

use crate::error::ModelError;
use crate::rng::Rng;

/// How to pick the next token. `temperature == 0` is greedy decoding.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SamplingConfig {
    /// Logits are divided by it before the softmax; 0 picks the most likely token.
    pub temperature: f64,
    /// Keep only the `k` most likely tokens (0: no limit).
    pub top_k: usize,
    /// Keep the smallest set of most likely tokens whose probability reaches `p` (1: no limit).
    pub top_p: f64,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
        }
    }
}

impl SamplingConfig {
    /// Rejects values that have no meaning.
    pub fn validate(&self) -> Result<(), ModelError> {
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(ModelError::InvalidInput(format!(
                "temperature must be >= 0, got {}",
                self.temperature
            )));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(ModelError::InvalidInput(format!(
                "top-p must be in (0, 1], got {}",
                self.top_p
            )));
        }
        Ok(())
    }

    /// Picks a token id from one row of logits.
    pub fn sample(&self, logits: &[f32], rng: &mut Rng) -> usize {
        if self.temperature == 0.0 {
            return argmax(logits);
        }
        // Candidates sorted by logit, best first; ties keep the lower id first.
        let mut order: Vec<usize> = (0..logits.len()).collect();
        order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
        if self.top_k > 0 {
            order.truncate(self.top_k);
        }
        let max = logits[order[0]] as f64;
        let mut probs: Vec<f64> = order
            .iter()
            .map(|&i| ((logits[i] as f64 - max) / self.temperature).exp())
            .collect();
        let total: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= total);
        if self.top_p < 1.0 {
            let mut mass = 0.0;
            let keep = probs.iter().position(|p| {
                mass += p;
                mass >= self.top_p
            });
            let keep = keep.map_or(probs.len(), |i| i + 1);
            probs.truncate(keep);
            order.truncate(keep);
        }
        let total: f64 = probs.iter().sum();
        let mut u = rng.next_f64() * total;
        for (p, &id) in probs.iter().zip(&order) {
            if u < *p {
                return id;
            }
            u -= p;
        }
        *order.last().expect("at least one candidate")
    }
}

/// Index of the largest value (the first one on ties).
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_temperature_is_greedy() {
        let s = SamplingConfig {
            temperature: 0.0,
            ..Default::default()
        };
        assert_eq!(s.sample(&[0.1, 3.0, 2.0], &mut Rng::seed(0)), 1);
    }

    #[test]
    fn top_k_one_and_tiny_top_p_are_greedy() {
        let mut rng = Rng::seed(0);
        let k1 = SamplingConfig {
            top_k: 1,
            ..Default::default()
        };
        let p = SamplingConfig {
            top_p: 1e-6,
            ..Default::default()
        };
        for _ in 0..50 {
            assert_eq!(k1.sample(&[0.1, 3.0, 2.0], &mut rng), 1);
            assert_eq!(p.sample(&[0.1, 3.0, 2.0], &mut rng), 1);
        }
    }

    #[test]
    fn sampling_follows_the_softmax() {
        let mut rng = Rng::seed(5);
        let s = SamplingConfig::default();
        let logits = [0.0f32, (3.0f32).ln()];
        let ones = (0..20_000)
            .filter(|_| s.sample(&logits, &mut rng) == 1)
            .count();
        assert!((ones as f64 / 20_000.0 - 0.75).abs() < 0.02);
    }

    #[test]
    fn top_p_cuts_the_tail() {
        let mut rng = Rng::seed(5);
        let s = SamplingConfig {
            top_p: 0.7,
            ..Default::default()
        };
        // probabilities 0.6, 0.3, 0.1: the nucleus for 0.7 is {0, 1}.
        let logits = [0.6f32.ln(), 0.3f32.ln(), 0.1f32.ln()];
        assert!((0..5_000).all(|_| s.sample(&logits, &mut rng) != 2));
    }

    #[test]
    fn bad_values_are_rejected() {
        assert!(
            SamplingConfig {
                temperature: -1.0,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            SamplingConfig {
                top_p: 0.0,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
    }
}
