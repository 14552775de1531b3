//! The gated feed-forward block (Shazeer 2020, eq. 6): `down(act(gate(x)) ⊙ up(x))`, named
//! like Hugging Face's `LlamaMLP`. With `act` = SILU it is SwiGLU; RELU and StochA are the
//! alternatives of Lomeli et al. 2025 (see [`crate::activation`]).

use std::sync::Arc;

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};

use crate::activation::{Activation, HiddenAct};
use crate::cpu::RowLinear;
use crate::init::normal_linear;
use crate::sparse::SparseFfn;

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
    /// The gate's non-linearity.
    #[config(default = "HiddenAct::Silu")]
    pub hidden_act: HiddenAct,
    /// StochA's probability of SILU on a negative input.
    #[config(default = 0.7)]
    pub stocha_p: f64,
}

/// Gated feed-forward block.
#[derive(Module, Debug)]
pub struct Mlp {
    pub gate_proj: Linear,
    pub up_proj: Linear,
    pub down_proj: Linear,
    /// The gate's non-linearity: run-time state, not saved with the weights.
    #[module(skip)]
    pub activation: Activation,
    /// When set, [`forward`](Mlp::forward) runs this CPU engine instead (RELU inference only).
    #[module(skip)]
    pub sparse: Option<Arc<SparseFfn>>,
    /// When set (and `sparse` is not), CPU copies of `gate_proj`, `up_proj`, `down_proj`
    /// that inference runs instead (see [`crate::cpu`]).
    #[module(skip)]
    pub cpu: Option<Arc<[RowLinear; 3]>>,
}

impl MlpConfig {
    /// Builds the block with bias-free projections drawn from N(0, init_std²).
    pub fn init(&self, device: &Device) -> Mlp {
        let linear = |d_in, d_out| normal_linear(d_in, d_out, self.init_std, device);
        Mlp {
            gate_proj: linear(self.d_model, self.d_hidden),
            up_proj: linear(self.d_model, self.d_hidden),
            down_proj: linear(self.d_hidden, self.d_model),
            activation: Activation::new(self.hidden_act, self.stocha_p),
            sparse: None,
            cpu: None,
        }
    }
}

impl Mlp {
    /// # Shapes
    /// - `x`: `[batch, seq_len, d_model]`
    /// - output: `[batch, seq_len, d_model]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        if let Some(engine) = &self.sparse {
            return engine.forward_tensor(x);
        }
        if let Some([gate, up, down]) = self.cpu.as_deref().filter(|_| RowLinear::serves(&x)) {
            let hidden = self.activation.forward(gate.forward_tensor(x.clone()));
            return down.forward_tensor(hidden * up.forward_tensor(x));
        }
        let gate = self.activation.forward(self.gate_proj.forward(x.clone()));
        self.down_proj.forward(gate * self.up_proj.forward(x))
    }

    /// Installs CPU copies of the three projections (inference only: they do not train).
    pub fn with_cpu_projections(mut self) -> Self {
        let rows = |l: &Linear| RowLinear::from_linear(l);
        self.cpu = Some(Arc::new([
            rows(&self.gate_proj),
            rows(&self.up_proj),
            rows(&self.down_proj),
        ]));
        self
    }
}
