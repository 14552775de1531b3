//! Turning a token stream into training and evaluation batches.
//!
//! Training draws `batch_size` windows at random offsets from the run's seeded [`Rng`], whose
//! state is saved in each checkpoint: that state is the data position, so a resumed run sees
//! exactly the batches the uninterrupted run would have seen.

use burn::tensor::{Device, Int, Tensor, TensorData};
use kiln_model::rng::Rng;

use crate::error::TrainError;

/// Inputs and next-token targets, each `[batch, seq_len]`.
#[derive(Debug, Clone)]
pub struct Batch {
    pub inputs: Tensor<2, Int>,
    pub targets: Tensor<2, Int>,
}

/// A tokenised corpus.
#[derive(Debug, Clone)]
pub struct TokenData {
    tokens: Vec<u32>,
}

impl TokenData {
    /// Wraps `tokens`, which must hold at least one window of `seq_len + 1` tokens.
    pub fn new(tokens: Vec<u32>, seq_len: usize, what: &str) -> Result<Self, TrainError> {
        if tokens.len() < seq_len + 1 {
            return Err(TrainError::Invalid(format!(
                "the {what} has {} tokens, fewer than one sequence of {} tokens: give more text or a \
                 shorter seq_len",
                tokens.len(),
                seq_len + 1
            )));
        }
        Ok(Self { tokens })
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether there are no tokens (never true for a constructed value).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The tokens.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// `batch_size` windows at offsets drawn from `rng`.
    pub fn random_batch(
        &self,
        batch_size: usize,
        seq_len: usize,
        rng: &mut Rng,
        device: &Device,
    ) -> Batch {
        let span = self.tokens.len() - seq_len;
        let starts: Vec<usize> = (0..batch_size).map(|_| rng.below(span)).collect();
        self.batch_at(&starts, seq_len, device)
    }

    /// Consecutive non-overlapping windows covering the stream from the start, in batches of
    /// at most `batch_size`; at most `max_batches` batches (0: all).
    pub fn eval_batches(
        &self,
        batch_size: usize,
        seq_len: usize,
        max_batches: usize,
        device: &Device,
    ) -> Vec<Batch> {
        let windows = (self.tokens.len() - 1) / seq_len;
        let starts: Vec<usize> = (0..windows).map(|w| w * seq_len).collect();
        let mut batches: Vec<Batch> = starts
            .chunks(batch_size)
            .map(|s| self.batch_at(s, seq_len, device))
            .collect();
        if max_batches > 0 {
            batches.truncate(max_batches);
        }
        batches
    }

    fn batch_at(&self, starts: &[usize], seq_len: usize, device: &Device) -> Batch {
        let mut inputs = Vec::with_capacity(starts.len() * seq_len);
        let mut targets = Vec::with_capacity(starts.len() * seq_len);
        for &s in starts {
            inputs.extend(self.tokens[s..s + seq_len].iter().map(|&t| t as i64));
            targets.extend(
                self.tokens[s + 1..s + seq_len + 1]
                    .iter()
                    .map(|&t| t as i64),
            );
        }
        let shape = [starts.len(), seq_len];
        Batch {
            inputs: Tensor::from_data(TensorData::new(inputs, shape), device),
            targets: Tensor::from_data(TensorData::new(targets, shape), device),
        }
    }
}

/// Cross-entropy (nats per token) of a unigram model fitted on `train` with add-one smoothing
/// over `vocab` ids, measured on `heldout`: the baseline a language model must beat.
pub fn unigram_cross_entropy(train: &[u32], heldout: &[u32], vocab: usize) -> f64 {
    let mut counts = vec![1u64; vocab];
    for &t in train {
        counts[t as usize] += 1;
    }
    let total: u64 = counts.iter().sum();
    let nll: f64 = heldout
        .iter()
        .map(|&t| -((counts[t as usize] as f64) / total as f64).ln())
        .sum();
    nll / heldout.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_inputs_shifted_by_one() {
        let device = Device::flex();
        let data = TokenData::new((0..50).collect(), 8, "text").unwrap();
        let b = data.random_batch(4, 8, &mut Rng::seed(1), &device);
        let i: Vec<i64> = b.inputs.into_data().try_into_vec_as().unwrap();
        let t: Vec<i64> = b.targets.into_data().try_into_vec_as().unwrap();
        for (a, b) in i.iter().zip(&t) {
            assert_eq!(a + 1, *b);
        }
    }

    #[test]
    fn eval_windows_cover_the_stream_without_overlap() {
        let device = Device::flex();
        let data = TokenData::new((0..35).collect(), 8, "text").unwrap();
        let batches = data.eval_batches(3, 8, 0, &device);
        assert_eq!(batches.len(), 2);
        let first: Vec<i64> = batches[0]
            .inputs
            .clone()
            .into_data()
            .try_into_vec_as()
            .unwrap();
        assert_eq!(&first[..9], &[0, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(batches[1].inputs.dims(), [1, 8]);
    }

    #[test]
    fn too_little_text_is_an_error() {
        let err = TokenData::new(vec![1, 2, 3], 8, "held-out text")
            .unwrap_err()
            .to_string();
        assert!(err.contains("held-out text has 3 tokens"), "{err}");
    }

    #[test]
    fn unigram_baseline_of_uniform_text_is_log_vocab() {
        let text: Vec<u32> = (0..4).cycle().take(4000).collect();
        let ce = unigram_cross_entropy(&text, &text, 4);
        assert!((ce - 4f64.ln()).abs() < 1e-3);
    }
}
