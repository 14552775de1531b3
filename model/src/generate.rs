//! Autoregressive generation with the KV cache.

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::error::ModelError;
use crate::rng::Rng;
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
pub fn generate(
    model: &Transformer,
    prompt: &[u32],
    config: &GenerateConfig,
    device: &Device,
    mut on_token: impl FnMut(u32),
) -> Result<Vec<u32>, ModelError> {
    config.sampling.validate()?;
    if prompt.is_empty() {
        return Err(ModelError::InvalidInput(
            "the prompt is empty: give at least one token".into(),
        ));
    }
    if prompt.len() >= config.max_len {
        return Err(ModelError::InvalidInput(format!(
            "the prompt has {} tokens; the model takes at most {}",
            prompt.len(),
            config.max_len - 1
        )));
    }
    if let Some(&bad) = prompt.iter().find(|&&id| id as usize >= model.vocab_size()) {
        return Err(ModelError::InvalidInput(format!(
            "token id {bad} is outside the model's vocabulary of {}",
            model.vocab_size()
        )));
    }
    let mut rng = Rng::seed(config.seed);
    let mut cache = model.new_cache();
    let mut out = Vec::new();
    let mut input = prompt.to_vec();
    let budget = config.max_new_tokens.min(config.max_len - prompt.len());
    while out.len() < budget {
        let tokens = Tensor::<2, Int>::from_data(
            TensorData::new(
                input.iter().map(|&t| t as i64).collect::<Vec<_>>(),
                [1, input.len()],
            ),
            device,
        );
        let logits = model.forward_cached(tokens, &mut cache);
        let last = logits.slice_dim(1, input.len() - 1..input.len());
        let row: Vec<f32> = last
            .into_data()
            .try_into_vec_as::<f32>()
            .expect("f32 logits");
        let next = config.sampling.sample(&row, &mut rng) as u32;
        out.push(next);
        on_token(next);
        if Some(next) == config.stop_token {
            break;
        }
        input = vec![next];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TransformerConfig;

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
