//! Group normalisation of Multi-Token Attention's head outputs (Golovneva et al. 2025, §2.3):
//! an RMSNorm over each head's output vector, optionally scaled by the DIFF Transformer's
//! depth factor 1 − λ_init, λ_init = 0.8 − 0.6·exp(−0.3·layer) (Ye et al. 2024, eq. 3), and
//! optionally gated by a scalar per token and head (the reference's `add_gating`, `gate_1d`).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};

use crate::rms_norm::{RmsNorm, RmsNormConfig};

/// Configuration of [`HeadNorm`].
#[derive(Config, Debug)]
pub struct HeadNormConfig {
    /// Size of one head.
    pub head_dim: usize,
    /// Normalise each head's output (the reference's `group_norm`).
    #[config(default = true)]
    pub normalise: bool,
    /// 0-based index of the layer, for the depth scaling.
    #[config(default = 0)]
    pub layer: usize,
    /// Multiply the normalised output by 1 − λ_init(layer) (`layer_norm_rescale`).
    #[config(default = false)]
    pub depth_scaling: bool,
    /// Multiply by sigmoid(w·out + b), one scalar per token and head (`add_gating`).
    #[config(default = false)]
    pub gating: bool,
    /// Standard deviation of the gate weight's normal initialisation.
    #[config(default = 0.02)]
    pub init_std: f64,
}

/// Per-head normalisation and gating of attention outputs, before the output projection.
#[derive(Module, Debug)]
pub struct HeadNorm {
    /// RMSNorm over `head_dim` (ε = 1e-5 as in the reference), its gain shared by all heads.
    pub norm: Option<RmsNorm>,
    /// `head_dim → 1` with bias, shared by all heads.
    pub gate: Option<Linear>,
    /// 1 − λ_init(layer), or 1 without depth scaling.
    pub scale: f64,
}

impl HeadNormConfig {
    /// Builds the layer with a unit norm gain and a gate drawn from N(0, init_std²).
    pub fn init(&self, device: &Device) -> HeadNorm {
        let lambda = 0.8 - 0.6 * (-0.3 * self.layer as f64).exp();
        HeadNorm {
            norm: self
                .normalise
                .then(|| RmsNormConfig::new(self.head_dim).init(device)),
            gate: self.gating.then(|| {
                LinearConfig::new(self.head_dim, 1)
                    .with_initializer(Initializer::Normal {
                        mean: 0.0,
                        std: self.init_std,
                    })
                    .init(device)
            }),
            scale: if self.depth_scaling {
                1.0 - lambda
            } else {
                1.0
            },
        }
    }
}

impl HeadNorm {
    /// # Shapes
    /// - `x`: `[batch, seq_len, heads, head_dim]`
    /// - output: same as `x`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = match &self.norm {
            Some(norm) => norm.forward(x),
            None => x,
        };
        if self.scale != 1.0 {
            x = x.mul_scalar(self.scale);
        }
        match &self.gate {
            Some(gate) => x.clone() * sigmoid(gate.forward(x)),
            None => x,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_scaling_follows_the_diff_transformer_formula() {
        let device = Device::flex();
        let at = |layer| {
            HeadNormConfig::new(4)
                .with_layer(layer)
                .with_depth_scaling(true)
                .init(&device)
                .scale
        };
        assert!((at(0) - 0.8).abs() < 1e-12);
        assert!((at(2) - (0.2 + 0.6 * (-0.6f64).exp())).abs() < 1e-12);
    }
}
