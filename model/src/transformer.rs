//! The decoder-only language model: token embedding, a stack of [`DecoderLayer`]s, a final
//! RMSNorm and the output projection (tied to the embedding or not). Names mirror Hugging
//! Face's `LlamaForCausalLM` (`model.embed_tokens`, `model.layers.N`, `model.norm`, `lm_head`).

use std::sync::Arc;

use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Initializer, Linear};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::activation::Activation;
use crate::cache::KvCache;
use crate::config::TransformerConfig;
use crate::cpu::RowLinear;
use crate::decoder_layer::DecoderLayer;
use crate::error::ModelError;
use crate::init::normal_linear;
use crate::rms_norm::{RmsNorm, RmsNormConfig};
use crate::rope::RotaryEmbedding;
use crate::rope_scaling::{RopeScaling, rope_frequencies};
use crate::sparse::SparseFfn;

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
    /// Llama 3 frequency scaling of RoPE, if the architecture uses it.
    #[module(skip)]
    pub rope_scaling: Option<RopeScaling>,
    /// When set, a CPU copy of the output projection that inference runs instead (see
    /// [`Transformer::with_cpu_projections`]).
    #[module(skip)]
    pub lm_head_cpu: Option<Arc<RowLinear>>,
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
            rope_scaling: config.rope_scaling.clone(),
            lm_head_cpu: None,
        }
    }

    /// Number of decoder layers.
    pub fn num_layers(&self) -> usize {
        self.model.layers.len()
    }

    /// The same model with every feed-forward block applying `activation` (Swi+FT's switch to
    /// RELU, or StochA kept at inference).
    pub fn with_activation(mut self, activation: Activation) -> Self {
        for layer in &mut self.model.layers {
            layer.mlp.activation = activation;
        }
        self
    }

    /// The activation of the feed-forward blocks.
    pub fn activation(&self) -> Activation {
        self.model.layers[0].mlp.activation
    }

    /// The same model with every feed-forward block run by the CPU [`SparseFfn`] engine, which
    /// falls back to dense below `min_sparsity`. The model must be on a CPU device and use
    /// RELU at inference.
    pub fn with_sparse_ffn(mut self, min_sparsity: f64) -> Result<Self, ModelError> {
        for layer in &mut self.model.layers {
            let engine = SparseFfn::from_mlp(&layer.mlp, min_sparsity)?;
            layer.mlp.sparse = Some(Arc::new(engine));
        }
        Ok(self)
    }

    /// The same model with every linear layer also held as a row-major CPU copy
    /// ([`RowLinear`]) that inference runs instead of Burn's matrix product for calls of at
    /// most [`crate::cpu::MAX_TOKENS`] tokens: decoding on the CPU is matrix–vector products
    /// bound by memory bandwidth, where these copies stream the weights about twice as fast
    /// (BENCHMARKS.md, issue 5); longer prompts stay with Burn's matrix product. Costs a second copy of the weights
    /// in memory; the model must be on a CPU device; training ignores the copies (they hold no
    /// gradients), so install them for inference only. A [sparse FFN](Self::with_sparse_ffn)
    /// takes precedence over the copies of its block.
    pub fn with_cpu_projections(mut self) -> Self {
        self.model.layers = std::mem::take(&mut self.model.layers)
            .into_iter()
            .map(|mut layer| {
                layer.self_attn = layer.self_attn.with_cpu_projections();
                layer.mlp = layer.mlp.with_cpu_projections();
                layer
            })
            .collect();
        let head = match &self.lm_head {
            Some(head) => RowLinear::from_linear(head),
            None => RowLinear::from_rows(self.model.embed_tokens.weight.val()),
        };
        self.lm_head_cpu = Some(Arc::new(head));
        self
    }

    /// Per layer, the fraction of zero FFN activations measured by its sparse engine so far
    /// (`None` without an engine or before any token).
    pub fn ffn_sparsity(&self) -> Vec<Option<f64>> {
        self.model
            .layers
            .iter()
            .map(|l| l.mlp.sparse.as_ref().and_then(|e| e.measured_sparsity()))
            .collect()
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

    /// Logits of the last position only, for `tokens` continuing the sequence in `cache`:
    /// what decoding needs, without projecting every prompt position onto the vocabulary.
    ///
    /// # Shapes
    /// - `tokens`: `[batch, seq_len]`
    /// - output: `[batch, vocab]`
    pub fn forward_cached_last(&self, tokens: Tensor<2, Int>, cache: &mut KvCache) -> Tensor<2> {
        let h = self.hidden(tokens, Some(cache));
        let [batch, seq_len, _] = h.dims();
        let last = h.slice_dim(1, seq_len - 1..seq_len);
        self.project(last).reshape([batch, self.vocab_size()])
    }

    /// Logits at positions `from..` of a left-padded batch whose row `b` starts with
    /// `padding[b]` padding tokens: each real row's logits are those of the row alone (padding
    /// is hidden from attention and positions count from each row's first real token), and
    /// the output projection runs only where logits are asked for. Differentiable: the policy
    /// update of RL scores its rollouts with it.
    ///
    /// # Shapes
    /// - `tokens`: `[batch, seq_len]`; output: `[batch, seq_len - from, vocab]`
    pub fn forward_left_padded(
        &self,
        tokens: Tensor<2, Int>,
        padding: Vec<usize>,
        from: usize,
    ) -> Tensor<3> {
        let seq_len = tokens.dims()[1];
        let mut cache = KvCache::with_left_padding(self.num_layers(), padding);
        let h = self.hidden(tokens, Some(&mut cache));
        self.project(h.slice_dim(1, from..seq_len))
    }

    /// An empty KV cache sized for this model.
    pub fn new_cache(&self) -> KvCache {
        KvCache::new(self.num_layers())
    }

    fn run(&self, tokens: Tensor<2, Int>, cache: Option<&mut KvCache>) -> Tensor<3> {
        self.project(self.hidden(tokens, cache))
    }

    /// The final-normed hidden states of `tokens`.
    fn hidden(&self, tokens: Tensor<2, Int>, mut cache: Option<&mut KvCache>) -> Tensor<3> {
        let seq_len = tokens.dims()[1];
        let start = cache.as_ref().map_or(0, |c| c.len());
        let device = tokens.device();
        let frequencies =
            rope_frequencies(self.head_dim, self.rope_theta, self.rope_scaling.as_ref());
        let padding = cache.as_ref().map_or(&[][..], |c| c.left_padding());
        let rope = if padding.iter().all(|&p| p == 0) {
            RotaryEmbedding::from_frequencies(&frequencies, start..start + seq_len, &device)
        } else {
            // Row b's real tokens count from its first one; its padding sits at position 0.
            let positions: Vec<i64> = padding
                .iter()
                .flat_map(|&pad| {
                    (start..start + seq_len).map(move |t| t.saturating_sub(pad) as i64)
                })
                .collect();
            let rows = Tensor::from_data(
                TensorData::new(positions, [padding.len(), seq_len]),
                &device,
            );
            RotaryEmbedding::from_frequencies(&frequencies, 0..start + seq_len, &device)
                .at_rows(rows)
        };
        let mut x = self.model.embed_tokens.forward(tokens);
        for (i, layer) in self.model.layers.iter().enumerate() {
            let layer_cache = cache.as_deref_mut().map(|c| &mut c.layers[i]);
            x = layer.forward(x, &rope, layer_cache);
        }
        self.model.norm.forward(x)
    }

    /// The output projection: `lm_head`, or the transposed embedding when tied.
    fn project(&self, h: Tensor<3>) -> Tensor<3> {
        if let Some(head) = self.lm_head_cpu.as_ref().filter(|_| RowLinear::serves(&h)) {
            return head.forward_tensor(h);
        }
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
    fn last_position_logits_equal_the_full_pass() {
        let device = Device::flex();
        let model = TransformerConfig::preset("tiny").unwrap().init(&device);
        let tokens = Tensor::<2, Int>::from_ints([[1, 2, 3, 4], [5, 6, 7, 8]], &device);
        let vocab = model.vocab_size();
        let full = model
            .forward(tokens.clone())
            .slice_dim(1, 3..4)
            .reshape([2, vocab]);
        let last = model.forward_cached_last(tokens, &mut model.new_cache());
        let d: f32 = (full - last).abs().max().into_scalar();
        assert!(d < 1e-6, "{d}");
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

    #[test]
    fn cpu_projections_give_the_same_logits_full_and_cached() {
        let device = Device::flex();
        device.seed(5);
        for tie in [false, true] {
            let config = TransformerConfig::preset("tiny")
                .unwrap()
                .with_tie_word_embeddings(tie);
            let burn = config.init(&device);
            let rows = burn.clone().with_cpu_projections();
            let tokens =
                Tensor::<2, Int>::random([3, 9], Distribution::Uniform(0.0, 255.0), &device);
            let d = max_abs_diff(burn.forward(tokens.clone()), rows.forward(tokens.clone()));
            assert!(d < 1e-5, "tie {tie}: full pass differs by {d}");
            let (mut a, mut b) = (burn.new_cache(), rows.new_cache());
            for t in 0..9 {
                let step = tokens.clone().slice_dim(1, t..t + 1);
                let d = max_abs_diff(
                    burn.forward_cached(step.clone(), &mut a),
                    rows.forward_cached(step, &mut b),
                );
                assert!(d < 1e-5, "tie {tie}, step {t}: cached logits differ by {d}");
            }
        }
    }
}
