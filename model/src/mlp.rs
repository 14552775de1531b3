//! The SwiGLU feed-forward block (Shazeer 2020, eq. 6): `down(silu(gate(x)) ⊙ up(x))`, named
//! like Hugging Face's `LlamaMLP`.

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::silu;
use burn::tensor::{Device, Tensor};

use crate::init::normal_linear;

/// Configuration of [`Mlp`].
#[derive(Config, Debug)]
pub struct MlpConfig {
    /// Width of the residual stream.
    pub d_model: usize,
    /// Width of the gated hidden layer.
    pub d_hidden: usize,
    /// Standard deviation of the normal weight initialisation.
    #[config(default = 0.02)]
    pub init_std: f64,
}

/// Gated feed-forward block with SILU gating.
#[derive(Module, Debug)]
pub struct Mlp {
    pub gate_proj: Linear,
    pub up_proj: Linear,
    pub down_proj: Linear,
}

impl MlpConfig {
    /// Builds the block with bias-free projections drawn from N(0, init_std²).
    pub fn init(&self, device: &Device) -> Mlp {
        let linear = |d_in, d_out| normal_linear(d_in, d_out, self.init_std, device);
        Mlp {
            gate_proj: linear(self.d_model, self.d_hidden),
            up_proj: linear(self.d_model, self.d_hidden),
            down_proj: linear(self.d_hidden, self.d_model),
        }
    }
}

impl Mlp {
    /// # Shapes
    /// - `x`: `[batch, seq_len, d_model]`
    /// - output: `[batch, seq_len, d_model]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let gate = silu(self.gate_proj.forward(x.clone()));
        self.down_proj.forward(gate * self.up_proj.forward(x))
    }
}
