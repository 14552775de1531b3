//! The decoder-only language model: token embedding, a stack of [`DecoderLayer`]s, a final
//! RMSNorm and the output projection (tied to the embedding or not). Names mirror Hugging
//! Face's `LlamaForCausalLM` (`model.embed_tokens`, `model.layers.N`, `model.norm`, `lm_head`).

use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Initializer, Linear};
use burn::tensor::{Device, Int, Tensor};

use crate::cache::KvCache;
use crate::config::TransformerConfig;
use crate::decoder_layer::DecoderLayer;
use crate::init::normal_linear;
use crate::rms_norm::{RmsNorm, RmsNormConfig};
use crate::rope::RotaryEmbedding;

/// The body of the model: everything but the output projection.
#[derive(Module, Debug)]
pub struct DecoderStack {
    pub embed_tokens: Embedding,
    pub layers: Vec<DecoderLayer>,
    pub norm: RmsNorm,
}

/// A causal language model.
#[derive(Module, Debug)]
pub struct Transformer {
    pub model: DecoderStack,
    /// `None` when the output projection is the transposed token embedding.
    pub lm_head: Option<Linear>,
    pub head_dim: usize,
    pub rope_theta: f64,
}

impl Transformer {
    /// A freshly initialised model (HF Llama initialisation: N(0, initializer_range²) weights,
    /// unit norm gains).
    pub fn new(config: &TransformerConfig, device: &Device) -> Self {
        let init = Initializer::Normal {
            mean: 0.0,
            std: config.initializer_range,
        };
        let (vocab, d) = (config.vocab_size, config.hidden_size);
        let lm_head = (!config.tie_word_embeddings)
            .then(|| normal_linear(d, vocab, config.initializer_range, device));
        Self {
            model: DecoderStack {
                embed_tokens: EmbeddingConfig::new(vocab, d)
                    .with_initializer(init)
                    .init(device),
                layers: (0..config.num_hidden_layers)
                    .map(|i| DecoderLayer::new(config, i, device))
                    .collect(),
                norm: RmsNormConfig::new(d)
                    .with_epsilon(config.rms_norm_eps)
                    .init(device),
            },
            lm_head,
            head_dim: config.head_dim(),
            rope_theta: config.rope_theta,
        }
    }

    /// Number of decoder layers.
    pub fn num_layers(&self) -> usize {
        self.model.layers.len()
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.model.embed_tokens.weight.dims()[0]
    }

    /// Logits for every position of `tokens` (teacher forcing).
    ///
    /// # Shapes
    /// - `tokens`: `[batch, seq_len]`
    /// - output: `[batch, seq_len, vocab]`
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        self.run(tokens, None)
    }

    /// Logits for `tokens`, which continue the sequence held in `cache`; the cache grows by
    /// `seq_len` positions. Feeding a prompt in pieces gives the same logits as one
    /// [`forward`](Self::forward) over the whole prompt.
    ///
    /// # Shapes
    /// - `tokens`: `[batch, seq_len]`
    /// - output: `[batch, seq_len, vocab]`
    pub fn forward_cached(&self, tokens: Tensor<2, Int>, cache: &mut KvCache) -> Tensor<3> {
        self.run(tokens, Some(cache))
    }

    /// An empty KV cache sized for this model.
    pub fn new_cache(&self) -> KvCache {
        KvCache::new(self.num_layers())
    }

    fn run(&self, tokens: Tensor<2, Int>, mut cache: Option<&mut KvCache>) -> Tensor<3> {
        let seq_len = tokens.dims()[1];
        let start = cache.as_ref().map_or(0, |c| c.len());
        let device = tokens.device();
        let rope = RotaryEmbedding::new(
            self.head_dim,
            start..start + seq_len,
            self.rope_theta,
            &device,
        );
        let mut x = self.model.embed_tokens.forward(tokens);
        for (i, layer) in self.model.layers.iter().enumerate() {
            let layer_cache = cache.as_deref_mut().map(|c| &mut c.layers[i]);
            x = layer.forward(x, &rope, layer_cache);
        }
        self.project(self.model.norm.forward(x))
    }

    /// The output projection: `lm_head`, or the transposed embedding when tied.
    fn project(&self, h: Tensor<3>) -> Tensor<3> {
        match &self.lm_head {
            Some(head) => head.forward(h),
            None => h.matmul(self.model.embed_tokens.weight.val().transpose().unsqueeze()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn max_abs_diff(a: Tensor<3>, b: Tensor<3>) -> f32 {
        (a - b).abs().max().into_scalar()
    }

    #[test]
    fn cached_decoding_equals_the_full_forward_pass() {
        let device = Device::flex();
        device.seed(3);
        for tie in [false, true] {
            let config = TransformerConfig::preset("tiny")
                .unwrap()
                .with_tie_word_embeddings(tie);
            let model = config.init(&device);
            let tokens =
                Tensor::<2, Int>::random([2, 11], Distribution::Uniform(0.0, 255.0), &device);
            let full = model.forward(tokens.clone());
            let mut cache = model.new_cache();
            // A 4-token prompt, then one token at a time.
            let mut parts =
                vec![model.forward_cached(tokens.clone().slice_dim(1, 0..4), &mut cache)];
            for t in 4..11 {
                parts.push(model.forward_cached(tokens.clone().slice_dim(1, t..t + 1), &mut cache));
            }
            assert_eq!(cache.len(), 11);
            let d = max_abs_diff(full, Tensor::cat(parts, 1));
            assert!(d < 1e-5, "cached and full logits differ by {d}");
        }
    }

    #[test]
    fn no_information_flows_from_future_tokens() {
        let device = Device::flex();
        let model = TransformerConfig::preset("tiny").unwrap().init(&device);
        let a = Tensor::<2, Int>::from_ints([[1, 2, 3, 4, 5, 6]], &device);
        let b = Tensor::<2, Int>::from_ints([[1, 2, 3, 9, 9, 9]], &device);
        let d = max_abs_diff(
            model.forward(a).slice_dim(1, 0..3),
            model.forward(b).slice_dim(1, 0..3),
        );
        assert_eq!(d, 0.0);
    }
}
