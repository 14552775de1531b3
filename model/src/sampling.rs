//! Choosing the next token from logits: greedy, temperature, top-k (Fan et al. 2018) and
//! nucleus / top-p (Holtzman et al. 2020) sampling.

use serde::{Deserialize, Serialize};

use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Int, Tensor, TensorData};

use crate::error::ModelError;

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

    /// Picks one token per row of `logits` on the device, from the uniform draw `uniforms[b]`
    /// ∈ [0, 1) of row `b`, and returns the ids with their log-probabilities under the
    /// temperature-scaled softmax over the whole vocabulary (`log softmax(z / T)`, before top-k
    /// / top-p; at temperature 0, under `softmax(z)`): the quantity a policy-gradient update
    /// recomputes (TRL's `selective_log_softmax` of `logits / temperature`).
    ///
    /// Sampling is by inversion on the device (a cumulative sum and a count, no sort unless
    /// top-k or top-p asks for one), so only `2·batch` numbers come back to the host per step,
    /// never the `batch × vocab` logits.
    ///
    /// # Shapes
    /// - `logits`: `[batch, vocab]`
    pub fn sample_rows(&self, logits: Tensor<2>, uniforms: &[f64]) -> (Vec<u32>, Vec<f32>) {
        let [batch, vocab] = logits.dims();
        assert_eq!(uniforms.len(), batch, "one uniform draw per row");
        let device = logits.device();
        let (ids, logp) = if self.temperature == 0.0 {
            let logp = log_softmax(logits, 1);
            let ids = logp.clone().argmax(1);
            (ids.clone(), logp.gather(1, ids))
        } else {
            let logp = log_softmax(logits.div_scalar(self.temperature), 1);
            let u = Tensor::<2>::from_data(
                TensorData::new(
                    uniforms.iter().map(|&u| u as f32).collect::<Vec<_>>(),
                    [batch, 1],
                ),
                &device,
            );
            let ids = if self.top_k == 0 && self.top_p >= 1.0 {
                invert_cdf(logp.clone().exp(), u)
            } else {
                // Candidates best first: top-k by partial selection, the whole row for top-p.
                let (sorted, order) = match self.top_k {
                    0 => logp.clone().sort_descending_with_indices(1),
                    k => logp.clone().topk_with_indices(k.min(vocab), 1),
                };
                let mut probs = softmax(sorted, 1);
                if self.top_p < 1.0 {
                    // Keep token i while the mass before it is below p: the smallest set whose
                    // mass reaches p (Holtzman et al. 2020, §3.1).
                    let before = probs.clone().cumsum(1) - probs.clone();
                    probs = probs.mask_fill(before.greater_equal_elem(self.top_p), 0.0);
                }
                order.gather(1, invert_cdf(probs, u))
            };
            (ids.clone(), logp.gather(1, ids))
        };
        // One read for both: ids are exact in f32 (vocabularies are far below 2^24).
        let both: Vec<f32> = Tensor::cat(vec![ids.float(), logp], 1)
            .into_data()
            .try_into_vec_as::<f32>()
            .expect("f32 values");
        both.chunks_exact(2)
            .map(|pair| (pair[0] as u32, pair[1]))
            .unzip()
    }
}

/// The index where each row's cumulative mass first exceeds `u` times the row's total
/// (unnormalised rows are fine).
///
/// # Shapes
/// - `probs`: `[batch, n]`, `u`: `[batch, 1]`; returns `[batch, 1]`
fn invert_cdf(probs: Tensor<2>, u: Tensor<2>) -> Tensor<2, Int> {
    let n = probs.dims()[1];
    let cdf = probs.cumsum(1);
    let target = cdf.clone().slice_dim(1, n - 1..n) * u;
    cdf.lower(target).int().sum_dim(1).clamp_max(n as i64 - 1)
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
    use crate::rng::Rng;
    use burn::tensor::Device;

    /// `rows` copies of `logits`, each sampled with its own uniform draw.
    fn draw(s: &SamplingConfig, logits: &[f32], rows: usize, seed: u64) -> (Vec<u32>, Vec<f32>) {
        let mut rng = Rng::seed(seed);
        let uniforms: Vec<f64> = (0..rows).map(|_| rng.next_f64()).collect();
        let data: Vec<f32> = (0..rows).flat_map(|_| logits.iter().copied()).collect();
        let t = Tensor::from_data(TensorData::new(data, [rows, logits.len()]), &Device::flex());
        s.sample_rows(t, &uniforms)
    }

    #[test]
    fn zero_temperature_is_greedy() {
        let s = SamplingConfig {
            temperature: 0.0,
            ..Default::default()
        };
        let (ids, logp) = draw(&s, &[0.1, 3.0, 2.0], 4, 0);
        assert_eq!(ids, vec![1; 4]);
        let want = 3.0 - (0.1f32.exp() + 3.0f32.exp() + 2.0f32.exp()).ln();
        assert!((logp[0] - want).abs() < 1e-5);
    }

    #[test]
    fn top_k_one_and_tiny_top_p_are_greedy() {
        let k1 = SamplingConfig {
            top_k: 1,
            ..Default::default()
        };
        let p = SamplingConfig {
            top_p: 1e-6,
            ..Default::default()
        };
        assert_eq!(draw(&k1, &[0.1, 3.0, 2.0], 200, 1).0, vec![1; 200]);
        assert_eq!(draw(&p, &[0.1, 3.0, 2.0], 200, 2).0, vec![1; 200]);
    }

    #[test]
    fn sampling_follows_the_softmax_and_reports_its_log_probability() {
        let s = SamplingConfig {
            temperature: 2.0,
            ..Default::default()
        };
        // At T = 2 the logits 0 and 2·ln 3 give probabilities 1/4 and 3/4.
        let logits = [0.0f32, 2.0 * 3.0f32.ln()];
        let (ids, logp) = draw(&s, &logits, 20_000, 5);
        let ones = ids.iter().filter(|&&i| i == 1).count();
        assert!((ones as f64 / 20_000.0 - 0.75).abs() < 0.02);
        for (id, lp) in ids.iter().zip(&logp) {
            let want = if *id == 1 { 0.75f32.ln() } else { 0.25f32.ln() };
            assert!((lp - want).abs() < 1e-5);
        }
    }

    #[test]
    fn top_p_and_top_k_cut_the_tail() {
        // probabilities 0.6, 0.3, 0.1 (in a shuffled order): the nucleus for 0.7 is {0.6, 0.3}.
        let logits = [0.3f32.ln(), 0.1f32.ln(), 0.6f32.ln()];
        let p = SamplingConfig {
            top_p: 0.7,
            ..Default::default()
        };
        let (ids, _) = draw(&p, &logits, 5_000, 5);
        assert!(ids.iter().all(|&i| i != 1));
        let share = ids.iter().filter(|&&i| i == 2).count() as f64 / 5_000.0;
        assert!((share - 2.0 / 3.0).abs() < 0.03, "{share}");
        let k = SamplingConfig {
            top_k: 2,
            ..Default::default()
        };
        assert!(draw(&k, &logits, 5_000, 6).0.iter().all(|&i| i != 1));
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
