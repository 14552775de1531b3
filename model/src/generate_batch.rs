//! Generation for several prompts at once: prompts of different lengths are left-padded to a
//! common length, the padding is masked out of attention and every row's positions count from
//! its first real token (see [`KvCache::with_left_padding`]), so each row continues exactly as
//! it would alone.

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::cache::KvCache;
use crate::error::ModelError;
use crate::rng::Rng;
use crate::sampling::SamplingConfig;
use crate::transformer::Transformer;

/// What to generate for a batch.
#[derive(Debug, Clone)]
pub struct BatchConfig {
    /// Most tokens to add after each prompt.
    pub max_new_tokens: usize,
    /// How each token is chosen.
    pub sampling: SamplingConfig,
    /// Seed of the sampling streams; row `b` draws from its own stream, so a row's tokens do
    /// not depend on the other rows.
    pub seed: u64,
    /// A row ends after any of these tokens (the checkpoint's EOS ids), which is returned.
    pub stop_tokens: Vec<u32>,
    /// Longest sequence (padded prompt + generated) the model may see.
    pub max_len: usize,
    /// Token fed at padding positions and after a row has ended; never attended to.
    pub pad_token: u32,
}

/// Continues every prompt. `on_token(row, id)` sees each new id as soon as it is chosen and
/// returns `false` to end that row (e.g. at a stop string). Returns the generated ids of
/// every row, without the prompts.
pub fn generate_batch(
    model: &Transformer,
    prompts: &[Vec<u32>],
    config: &BatchConfig,
    device: &Device,
    mut on_token: impl FnMut(usize, u32) -> bool,
) -> Result<Vec<Vec<u32>>, ModelError> {
    config.sampling.validate()?;
    let batch = prompts.len();
    let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
    if batch == 0 || prompts.iter().any(Vec::is_empty) {
        return Err(ModelError::InvalidInput(
            "every prompt needs at least one token".into(),
        ));
    }
    if longest >= config.max_len {
        return Err(ModelError::InvalidInput(format!(
            "the longest prompt has {longest} tokens; the model takes at most {}",
            config.max_len - 1
        )));
    }
    let vocab = model.vocab_size();
    if let Some(&bad) = prompts.iter().flatten().find(|&&id| id as usize >= vocab) {
        return Err(ModelError::InvalidInput(format!(
            "token id {bad} is outside the model's vocabulary of {vocab}"
        )));
    }
    let padding: Vec<usize> = prompts.iter().map(|p| longest - p.len()).collect();
    let mut input: Vec<i64> = Vec::with_capacity(batch * longest);
    for (p, &pad) in prompts.iter().zip(&padding) {
        input.extend(std::iter::repeat_n(config.pad_token as i64, pad));
        input.extend(p.iter().map(|&t| t as i64));
    }
    let mut cache = KvCache::with_left_padding(model.num_layers(), padding);
    let mut rngs: Vec<Rng> = (0..batch)
        .map(|b| Rng::seed(config.seed.wrapping_add(b as u64)))
        .collect();
    let mut out = vec![Vec::new(); batch];
    let mut done = vec![false; batch];
    let mut width = longest;
    let budget = config.max_new_tokens.min(config.max_len - longest);
    for _ in 0..budget {
        let tokens = Tensor::<2, Int>::from_data(TensorData::new(input, [batch, width]), device);
        let rows: Vec<f32> = model
            .forward_cached_last(tokens, &mut cache)
            .into_data()
            .try_into_vec_as::<f32>()
            .expect("f32 logits");
        input = Vec::with_capacity(batch);
        for (b, row) in rows.chunks_exact(vocab).enumerate() {
            if done[b] {
                input.push(config.pad_token as i64);
                continue;
            }
            let next = config.sampling.sample(row, &mut rngs[b]) as u32;
            out[b].push(next);
            let go_on = on_token(b, next);
            done[b] = !go_on || config.stop_tokens.contains(&next);
            input.push(next as i64);
        }
        if done.iter().all(|&d| d) {
            break;
        }
        width = 1;
    }
    Ok(out)
}

/// Text up to the first of `stops`, and whether one was found. Generation can end at a stop
/// string once the decoded text contains it; the stop string itself is not kept.
pub fn cut_at_stop<'a>(text: &'a str, stops: &[String]) -> (&'a str, bool) {
    match stops
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s.as_str()))
        .min()
    {
        Some(i) => (&text[..i], true),
        None => (text, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TransformerConfig;

    fn config(stop_tokens: Vec<u32>) -> BatchConfig {
        BatchConfig {
            max_new_tokens: 6,
            sampling: SamplingConfig {
                temperature: 0.0,
                ..Default::default()
            },
            seed: 0,
            stop_tokens,
            max_len: 64,
            pad_token: 0,
        }
    }

    #[test]
    fn rows_end_at_their_stop_token_or_callback() {
        let device = Device::flex();
        let model = TransformerConfig::preset("tiny").unwrap().init(&device);
        let prompts = vec![vec![5u32, 9, 17], vec![4]];
        let free = generate_batch(&model, &prompts, &config(vec![]), &device, |_, _| true).unwrap();
        assert!(free.iter().all(|r| r.len() == 6));
        // Stop row 0 at its second token, through the EOS list and through the callback.
        let eos = free[0][1];
        let first_eos = free[0].iter().position(|&t| t == eos).unwrap();
        let stopped =
            generate_batch(&model, &prompts, &config(vec![eos]), &device, |_, _| true).unwrap();
        assert_eq!(stopped[0], free[0][..=first_eos]);
        let by_callback = generate_batch(&model, &prompts, &config(vec![]), &device, |row, _| {
            row != 1
        })
        .unwrap();
        assert_eq!(by_callback[1].len(), 1);
        assert_eq!(by_callback[0], free[0]);
        assert!(generate_batch(&model, &[vec![]], &config(vec![]), &device, |_, _| true).is_err());
    }

    #[test]
    fn stop_strings_cut_at_the_earliest() {
        let stops = vec!["\n\n".to_string(), "END".to_string()];
        assert_eq!(cut_at_stop("abc END x\n\n", &stops), ("abc ", true));
        assert_eq!(cut_at_stop("abc", &stops), ("abc", false));
    }
}
