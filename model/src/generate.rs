//! Autoregressive generation of one prompt: the batch loop of [`crate::generate_batch`] with
//! one row, so that a fix to decoding lands once.

use burn::tensor::Device;

use crate::error::ModelError;
use crate::generate_batch::{BatchConfig, generate_batch};
use crate::sampling::SamplingConfig;
use crate::transformer::Transformer;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateConfig {
    /// Most tokens to add after the prompt.
    pub max_new_tokens: usize,
    /// How each token is chosen.
    pub sampling: SamplingConfig,
    /// Seed of the sampling stream: same seed, same device, same tokens.
    pub seed: u64,
    /// Generation ends after this token (usually end-of-text), which is returned.
    pub stop_token: Option<u32>,
    /// Longest sequence (prompt + generated) the model may see.
    pub max_len: usize,
}

/// Continues `prompt`, calling `on_token` with every new id as soon as it is chosen. Returns
/// the generated ids (without the prompt).
///
/// # Errors
/// An empty prompt, a token outside the vocabulary, or a prompt of `max_len` tokens or more.
pub fn generate(
    model: &Transformer,
    prompt: &[u32],
    config: &GenerateConfig,
    device: &Device,
    mut on_token: impl FnMut(u32),
) -> Result<Vec<u32>, ModelError> {
    let batch = BatchConfig {
        max_new_tokens: config.max_new_tokens,
        sampling: config.sampling,
        seed: config.seed,
        stop_tokens: config.stop_token.into_iter().collect(),
        max_len: config.max_len,
        pad_token: 0,
    };
    let mut rows = generate_batch(model, &[prompt.to_vec()], &batch, device, |_, id| {
        on_token(id);
        true
    })?;
    Ok(rows.remove(0).tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TransformerConfig;
    use burn::tensor::{Tensor, TensorData};

    fn config(temperature: f64, seed: u64) -> GenerateConfig {
        GenerateConfig {
            max_new_tokens: 12,
            sampling: SamplingConfig {
                temperature,
                ..Default::default()
            },
            seed,
            stop_token: None,
            max_len: 64,
        }
    }

    #[test]
    fn greedy_generation_equals_argmax_of_full_forward() {
        let device = Device::flex();
        let model = TransformerConfig::preset("tiny").unwrap().init(&device);
        let prompt = [5u32, 9, 17];
        let got = generate(&model, &prompt, &config(0.0, 0), &device, |_| {}).unwrap();
        // Recompute without a cache: the argmax of the last row, one token at a time.
        let mut seq: Vec<i64> = prompt.iter().map(|&t| t as i64).collect();
        for &want in &got {
            let n = seq.len();
            let logits = model.forward(Tensor::from_data(
                TensorData::new(seq.clone(), [1, n]),
                &device,
            ));
            let row: Vec<f32> = logits
                .slice_dim(1, n - 1..n)
                .into_data()
                .try_into_vec_as()
                .unwrap();
            assert_eq!(crate::sampling::argmax(&row) as u32, want);
            seq.push(want as i64);
        }
    }

    #[test]
    fn sampling_is_seeded() {
        let device = Device::flex();
        let model = TransformerConfig::preset("tiny").unwrap().init(&device);
        let run = |seed| generate(&model, &[1, 2], &config(1.0, seed), &device, |_| {}).unwrap();
        assert_eq!(run(4), run(4));
        assert_ne!(run(4), run(5));
    }

    #[test]
    fn bad_prompts_are_errors() {
        let device = Device::flex();
        let model = TransformerConfig::preset("tiny").unwrap().init(&device);
        assert!(generate(&model, &[], &config(0.0, 0), &device, |_| {}).is_err());
        assert!(generate(&model, &[9999], &config(0.0, 0), &device, |_| {}).is_err());
        assert!(generate(&model, &[1; 64], &config(0.0, 0), &device, |_| {}).is_err());
    }
}
