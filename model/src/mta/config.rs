//! The `mta` section of a model config: which Multi-Token Attention parts each layer gets.
//! Keys follow the reference's `model.mta` arguments (facebookresearch/RAM `projects/mta`).

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::head_mix::HeadMixConfig;
use super::head_norm::HeadNormConfig;
use super::key_query_conv::KeyQueryConvConfig;
use super::layer::Mta;

/// Multi-Token Attention settings of a model. Every field may be left out of the JSON.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct MtaConfig {
    /// 0-based layers with the key-query convolutions; absent: every layer. Head mixing and
    /// group norm go into every layer, as in the reference.
    pub layers: Option<Vec<usize>>,
    /// Pre-softmax kernel extent over queries, c_q (with `key_kernel_size`).
    pub query_kernel_size: Option<usize>,
    /// Pre-softmax kernel extent over keys, c_k (odd).
    pub key_kernel_size: Option<usize>,
    /// Post-softmax kernel extent over queries.
    pub after_sm_query_kernel_size: Option<usize>,
    /// Post-softmax kernel extent over keys (odd).
    pub after_sm_key_kernel_size: Option<usize>,
    /// Full linear mixing of all heads before the softmax (the reference's `wpsm`).
    pub pre_sm_linear_head: bool,
    /// Post-softmax head mixing in groups of this many heads, c_h.
    pub head_kernel_size: Option<usize>,
    /// RMSNorm of each head's output.
    pub group_norm: bool,
    /// Depth scaling 1 − λ_init(layer) of the normalised head outputs.
    pub layer_norm_rescale: bool,
    /// Scalar sigmoid gate per token and head.
    pub add_gating: bool,
}

impl MtaConfig {
    fn pre_kernel(&self) -> Option<(usize, usize)> {
        self.query_kernel_size.zip(self.key_kernel_size)
    }

    fn post_kernel(&self) -> Option<(usize, usize)> {
        self.after_sm_query_kernel_size
            .zip(self.after_sm_key_kernel_size)
    }

    fn has_convs(&self, layer: usize) -> bool {
        self.layers.as_ref().is_none_or(|l| l.contains(&layer))
    }

    fn has_head_norm(&self) -> bool {
        self.group_norm || self.layer_norm_rescale || self.add_gating
    }

    /// Checks the settings against the model's head and layer counts.
    pub fn validate(&self, n_heads: usize, n_layers: usize) -> Result<(), String> {
        let pairs = [
            ("", self.query_kernel_size, self.key_kernel_size),
            (
                "after_sm_",
                self.after_sm_query_kernel_size,
                self.after_sm_key_kernel_size,
            ),
        ];
        for (prefix, q, k) in pairs {
            match (q, k) {
                (None, None) => {}
                (Some(q), Some(k)) if q >= 1 && k % 2 == 1 => {}
                _ => {
                    return Err(format!(
                        "mta: {prefix}query_kernel_size and {prefix}key_kernel_size must be set \
                         together, the query size at least 1 and the key size odd"
                    ));
                }
            }
        }
        if let Some(c) = self.head_kernel_size
            && (c == 0 || n_heads % c != 0)
        {
            return Err(format!(
                "mta: head_kernel_size {c} does not divide the {n_heads} heads"
            ));
        }
        if let Some(bad) = self.layers.iter().flatten().find(|&&l| l >= n_layers) {
            return Err(format!(
                "mta: layer {bad} out of range for {n_layers} layers"
            ));
        }
        Ok(())
    }

    /// The MTA parts of layer `layer`, or `None` when it has none (standard attention).
    pub fn init_layer(
        &self,
        layer: usize,
        n_heads: usize,
        head_dim: usize,
        init_std: f64,
        device: &Device,
    ) -> Option<Mta> {
        let conv = |kernel: Option<(usize, usize)>| {
            kernel
                .filter(|_| self.has_convs(layer))
                .map(|(q, k)| KeyQueryConvConfig::new(n_heads, q, k).init(device))
        };
        let mta = Mta {
            pre_conv: conv(self.pre_kernel()),
            pre_head_mix: self
                .pre_sm_linear_head
                .then(|| HeadMixConfig::new(n_heads, n_heads).init(device)),
            post_conv: conv(self.post_kernel()),
            post_head_mix: self
                .head_kernel_size
                .map(|c| HeadMixConfig::new(n_heads, c).init(device)),
            head_norm: self.has_head_norm().then(|| {
                HeadNormConfig::new(head_dim)
                    .with_normalise(self.group_norm)
                    .with_layer(layer)
                    .with_depth_scaling(self.layer_norm_rescale)
                    .with_gating(self.add_gating)
                    .with_init_std(init_std)
                    .init(device)
            }),
        };
        let empty = mta.pre_conv.is_none()
            && mta.pre_head_mix.is_none()
            && mta.post_conv.is_none()
            && mta.post_head_mix.is_none()
            && mta.head_norm.is_none();
        (!empty).then_some(mta)
    }

    /// Number of parameters the MTA parts add to a model of `n_layers` layers.
    pub fn num_params(&self, n_heads: usize, head_dim: usize, n_layers: usize) -> usize {
        let kernel = |k: Option<(usize, usize)>| k.map_or(0, |(q, k)| n_heads * q * k);
        let conv_layers = self.layers.as_ref().map_or(n_layers, Vec::len);
        let every_layer = usize::from(self.pre_sm_linear_head) * n_heads * n_heads
            + self.head_kernel_size.map_or(0, |c| n_heads * c)
            + usize::from(self.group_norm) * head_dim
            + usize::from(self.add_gating) * (head_dim + 1);
        conv_layers * (kernel(self.pre_kernel()) + kernel(self.post_kernel()))
            + n_layers * every_layer
    }
}
