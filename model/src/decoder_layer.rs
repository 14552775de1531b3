//! One pre-norm decoder block: `h = x + attn(norm(x)); out = h + mlp(norm(h))`, named like
//! Hugging Face's `LlamaDecoderLayer`.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::attention::{Attention, AttentionConfig};
use crate::cache::LayerCache;
use crate::config::TransformerConfig;
use crate::mlp::{Mlp, MlpConfig};
use crate::rms_norm::{RmsNorm, RmsNormConfig};
use crate::rope::RotaryEmbedding;

/// A decoder block: self-attention and a SwiGLU MLP, each behind an RMSNorm and a residual.
#[derive(Module, Debug)]
pub struct DecoderLayer {
    pub self_attn: Attention,
    pub mlp: Mlp,
    pub input_layernorm: RmsNorm,
    pub post_attention_layernorm: RmsNorm,
}

impl DecoderLayer {
    /// Builds block number `layer` (0-based) of the architecture `config` describes.
    pub fn new(config: &TransformerConfig, layer: usize, device: &Device) -> Self {
        let norm = RmsNormConfig::new(config.hidden_size).with_epsilon(config.rms_norm_eps);
        let mut self_attn = AttentionConfig::new(
            config.hidden_size,
            config.num_attention_heads,
            config.num_key_value_heads,
        )
        .with_init_std(config.initializer_range)
        .with_head_dim(config.head_dim)
        .with_qk_norm(config.qk_norm)
        .with_norm_eps(config.rms_norm_eps)
        .init(device);
        self_attn.mta = config.mta.as_ref().and_then(|m| {
            m.init_layer(
                layer,
                config.num_attention_heads,
                config.head_dim(),
                config.initializer_range,
                device,
            )
        });
        Self {
            self_attn,
            mlp: MlpConfig::new(config.hidden_size, config.intermediate_size)
                .with_init_std(config.initializer_range)
                .with_hidden_act(config.hidden_act)
                .with_stocha_p(config.stocha_p)
                .init(device),
            input_layernorm: norm.init(device),
            post_attention_layernorm: norm.init(device),
        }
    }

    /// # Shapes
    /// - `x`: `[batch, seq_len, d_model]`
    /// - output: `[batch, seq_len, d_model]`
    pub fn forward(
        &self,
        x: Tensor<3>,
        rope: &RotaryEmbedding,
        cache: Option<&mut LayerCache>,
    ) -> Tensor<3> {
        let h = x.clone()
            + self
                .self_attn
                .forward(self.input_layernorm.forward(x), rope, cache);
        h.clone() + self.mlp.forward(self.post_attention_layernorm.forward(h))
    }
}
