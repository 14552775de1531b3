//! Root-mean-square layer normalisation (Zhang & Sennrich 2019, eq. 4), with the weight named
//! `weight` as in Hugging Face checkpoints.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

/// Configuration of [`RmsNorm`].
#[derive(Config, Debug)]
pub struct RmsNormConfig {
    /// Size of the normalised (last) dimension.
    pub d_model: usize,
    /// ε added to the mean square before the square root.
    #[config(default = 1e-5)]
    pub epsilon: f64,
}

/// `y = x / sqrt(mean(x²) + ε) · weight`, over the last dimension.
#[derive(Module, Debug)]
pub struct RmsNorm {
    /// Per-channel gain, initialised to one.
    pub weight: Param<Tensor<1>>,
    /// ε added to the mean square.
    pub epsilon: f64,
}

impl RmsNormConfig {
    /// Builds the layer with a unit gain.
    pub fn init(&self, device: &Device) -> RmsNorm {
        RmsNorm {
            weight: Param::from_tensor(Tensor::ones([self.d_model], device)),
            epsilon: self.epsilon,
        }
    }
}

impl RmsNorm {
    /// # Shapes
    /// - `x`: `[..., d_model]`
    /// - output: same as `x`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let rms = (x.clone().square().mean_dim(D - 1) + self.epsilon).sqrt();
        x / rms * self.weight.val().unsqueeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_to_unit_rms() {
        let device = Device::flex();
        let norm = RmsNormConfig::new(4).with_epsilon(0.0).init(&device);
        let x = Tensor::<2>::from_floats([[1.0, -1.0, 1.0, -1.0], [2.0, 2.0, 2.0, 2.0]], &device);
        let y: Vec<f32> = norm.forward(x).into_data().try_into_vec_as().unwrap();
        let want = [1.0, -1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0];
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{y:?}");
        }
    }
}
