//! The one generation loop, for one prompt or many (kiln run directories, Hugging Face
//! checkpoints and RL rollouts all decode here). Prompts of different lengths are left-padded
//! to a common length, the padding is masked out of attention and every row's positions count
//! from its first real token (see [`KvCache::with_left_padding`]), so each row continues
//! exactly as it would alone.
//!
//! What a rollout of 64 × 8 sequences would otherwise multiply: the KV cache is allocated
//! once for the whole decode and written in place; a token is chosen on the device and only
//! its id and log-probability come back to the host (see [`SamplingConfig::sample_rows`]);
//! finished rows are dropped from the batch once they are an eighth of it. All rows decode
//! together, so the projections are matrix–matrix products.

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
    /// Seed of the sampling streams; row `b` draws from its own stream (seed + b), so a row's
    /// tokens do not depend on the other rows.
    pub seed: u64,
    /// A row ends after any of these tokens (the checkpoint's EOS ids), which is returned.
    pub stop_tokens: Vec<u32>,
    /// Longest sequence (padded prompt + generated) the model may see.
    pub max_len: usize,
    /// Token fed at padding positions and after a row has ended; never attended to.
    pub pad_token: u32,
}

/// Why a row stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// It produced one of the stop tokens (kept as its last token).
    Stop,
    /// The caller's callback ended it (e.g. at a stop string).
    Halted,
    /// It reached `max_new_tokens` or the model's length: truncated.
    Length,
}

/// One row's continuation.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// The new token ids, without the prompt.
    pub tokens: Vec<u32>,
    /// log π(token) of each, under the sampling temperature (see
    /// [`SamplingConfig::sample_rows`]).
    pub logprobs: Vec<f32>,
    pub finish: Finish,
}

/// Continues every prompt. `on_token(row, id)` sees each new id as soon as it is chosen and
/// returns `false` to end that row (e.g. at a stop string).
///
/// # Errors
/// An empty prompt, a token outside the vocabulary, or a prompt that leaves no room in
/// `max_len`.
pub fn generate_batch(
    model: &Transformer,
    prompts: &[Vec<u32>],
    config: &BatchConfig,
    device: &Device,
    mut on_token: impl FnMut(usize, u32) -> bool,
) -> Result<Vec<Generated>, ModelError> {
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
    let budget = config.max_new_tokens.min(config.max_len - longest);
    let mut cache =
        KvCache::with_left_padding(model.num_layers(), padding).with_capacity(longest + budget);
    let mut rngs: Vec<Rng> = (0..batch)
        .map(|b| Rng::seed(config.seed.wrapping_add(b as u64)))
        .collect();
    let mut out: Vec<Generated> = (0..batch)
        .map(|_| Generated {
            tokens: Vec::new(),
            logprobs: Vec::new(),
            finish: Finish::Length,
        })
        .collect();
    // `rows[i]`: the prompt that batch row i decodes; `done[r]`: prompt r has ended.
    let mut rows: Vec<usize> = (0..batch).collect();
    let mut done = vec![false; batch];
    let mut width = longest;
    for _ in 0..budget {
        let tokens =
            Tensor::<2, Int>::from_data(TensorData::new(input, [rows.len(), width]), device);
        let logits = model.forward_cached_last(tokens, &mut cache);
        let uniforms: Vec<f64> = rows.iter().map(|&r| rngs[r].next_f64()).collect();
        let (ids, logprobs) = config.sampling.sample_rows(logits, &uniforms);
        for ((&r, &id), &logp) in rows.iter().zip(&ids).zip(&logprobs) {
            if done[r] {
                continue;
            }
            out[r].tokens.push(id);
            out[r].logprobs.push(logp);
            let go_on = on_token(r, id);
            if config.stop_tokens.contains(&id) {
                (done[r], out[r].finish) = (true, Finish::Stop);
            } else if !go_on {
                (done[r], out[r].finish) = (true, Finish::Halted);
            }
        }
        let finished = rows.iter().filter(|&&r| done[r]).count();
        if finished == rows.len() {
            break;
        }
        if finished * 8 >= rows.len() {
            let keep: Vec<usize> = (0..rows.len()).filter(|&i| !done[rows[i]]).collect();
            cache.retain_rows(&keep);
            rows = keep.iter().map(|&i| rows[i]).collect();
        }
        input = rows
            .iter()
            .map(|&r| match out[r].tokens.last() {
                Some(&t) if !done[r] => t as i64,
                _ => config.pad_token as i64,
            })
            .collect();
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
        let tokens = |g: Vec<Generated>| g.into_iter().map(|g| g.tokens).collect::<Vec<_>>();
        let out = generate_batch(&model, &prompts, &config(vec![]), &device, |_, _| true).unwrap();
        assert!(out.iter().all(|g| g.finish == Finish::Length));
        let free = tokens(out);
        assert!(free.iter().all(|r| r.len() == 6));
        // Stop row 0 at its second token, through the EOS list and through the callback.
        let eos = free[0][1];
        let first_eos = free[0].iter().position(|&t| t == eos).unwrap();
        let stopped =
            generate_batch(&model, &prompts, &config(vec![eos]), &device, |_, _| true).unwrap();
        assert_eq!(stopped[0].finish, Finish::Stop);
        assert_eq!(stopped[0].tokens, free[0][..=first_eos]);
        let by_callback = generate_batch(&model, &prompts, &config(vec![]), &device, |row, _| {
            row != 1
        })
        .unwrap();
        assert_eq!(by_callback[1].finish, Finish::Halted);
        let by_callback = tokens(by_callback);
        assert_eq!(by_callback[1].len(), 1);
        assert_eq!(by_callback[0], free[0]);
        assert!(generate_batch(&model, &[vec![]], &config(vec![]), &device, |_, _| true).is_err());
    }

    /// Sampled rows of one left-padded batch, some ending early (so the batch is compacted),
    /// equal each row decoded alone with its own seed, and their log-probabilities equal those
    /// a full forward pass of prompt + completion gives: what a policy-gradient update needs.
    #[test]
    fn sampled_rows_equal_each_row_alone_and_the_full_forward_log_probs() {
        use burn::tensor::activation::log_softmax;
        let device = Device::flex();
        let model = TransformerConfig::preset("tiny").unwrap().init(&device);
        let prompts: Vec<Vec<u32>> = vec![vec![5, 9, 17], vec![4], vec![8, 8], vec![3, 1, 4, 1, 5]];
        let mut config = config(vec![]);
        config.max_new_tokens = 12;
        config.seed = 40;
        config.sampling = SamplingConfig {
            temperature: 1.3,
            ..Default::default()
        };
        // Row 0's third sampled token as the stop token: row 0 ends early (the batch is
        // compacted while the others go on).
        let free = generate_batch(&model, &prompts, &config, &device, |_, _| true).unwrap();
        config.stop_tokens = vec![free[0].tokens[2]];
        let together = generate_batch(&model, &prompts, &config, &device, |_, _| true).unwrap();
        assert_eq!(together[0].finish, Finish::Stop);
        assert!(together[0].tokens.len() <= 3);
        for (b, (prompt, got)) in prompts.iter().zip(&together).enumerate() {
            let alone = BatchConfig {
                seed: config.seed + b as u64,
                ..config.clone()
            };
            let want = generate_batch(&model, &[prompt.clone()], &alone, &device, |_, _| true)
                .unwrap()
                .remove(0);
            assert_eq!(got.tokens, want.tokens, "row {b}");
            assert_eq!(got.finish, want.finish);
            // log π(token | prefix) from one forward over prompt + completion, at T = 1.3.
            let seq: Vec<i64> = prompt
                .iter()
                .chain(&got.tokens)
                .map(|&t| t as i64)
                .collect();
            let n = seq.len();
            let logits = model.forward(Tensor::from_data(TensorData::new(seq, [1, n]), &device));
            let logp: Vec<f32> = log_softmax(logits.div_scalar(1.3), 2)
                .into_data()
                .try_into_vec_as()
                .unwrap();
            let vocab = model.vocab_size();
            for (t, (&id, &lp)) in got.tokens.iter().zip(&got.logprobs).enumerate() {
                let row = prompt.len() - 1 + t;
                let want = logp[row * vocab + id as usize];
                assert!(
                    (lp - want).abs() < 1e-4,
                    "row {b} token {t}: {lp} vs {want}"
                );
            }
        }
    }

    #[test]
    fn stop_strings_cut_at_the_earliest() {
        let stops = vec!["\n\n".to_string(), "END".to_string()];
        assert_eq!(cut_at_stop("abc END x\n\n", &stops), ("abc ", true));
        assert_eq!(cut_at_stop("abc", &stops), ("abc", false));
    }
}
