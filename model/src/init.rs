//! Weight initialisation shared by the layers (Hugging Face Llama: N(0, initializer_range²)).

use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::Device;

/// A bias-free `d_in → d_out` projection with weights drawn from N(0, std²).
pub fn normal_linear(d_in: usize, d_out: usize, std: f64, device: &Device) -> Linear {
    LinearConfig::new(d_in, d_out)
        .with_bias(false)
        .with_initializer(Initializer::Normal { mean: 0.0, std })
        .init(device)
}
