//! CPU inference that skips the zero activations of RELU feed-forward blocks (Lomeli et al.
//! 2025): plain Rust over `f32` slices with rayon, tested against the Burn [`Mlp`].
//!
//! [`Transformer::with_sparse_ffn`](crate::Transformer::with_sparse_ffn) installs one
//! [`SparseFfn`] per layer; the rest of the model stays on its Burn CPU device.

mod ffn;

pub use crate::cpu::{axpy, dot, dot4};
pub use ffn::{FfnPath, SparseFfn};

use burn::tensor::{Tensor, TensorData};

use crate::error::ModelError;
use crate::mlp::Mlp;

/// Sparsity below which [`FfnPath::Auto`] computes densely. The sparse path's extra work is a
/// scan of the gate values and a branch per unit; it won at 50% on the paper's FFN shape in
/// the benches (BENCHMARKS.md), so the fallback is for the nearly dense case only.
pub const DEFAULT_MIN_SPARSITY: f64 = 0.3;

impl SparseFfn {
    /// The engine for a Burn feed-forward block whose activation is RELU at inference.
    pub fn from_mlp(mlp: &Mlp, min_sparsity: f64) -> Result<Self, ModelError> {
        if !mlp.activation.is_relu_at_inference() {
            return Err(ModelError::InvalidInput(format!(
                "the sparse FFN needs RELU at inference, the model uses {:?}",
                mlp.activation
            )));
        }
        // Burn's Linear stores `[d_in, d_out]`: gate and up are `[dim, hidden]` and need a
        // transpose; down is `[hidden, dim]` already.
        let rows = |w: Tensor<2>| -> Vec<f32> {
            w.into_data().try_into_vec_as::<f32>().expect("f32 weights")
        };
        let [dim, hidden] = mlp.gate_proj.weight.dims();
        Self::new(
            dim,
            hidden,
            rows(mlp.gate_proj.weight.val().transpose()),
            rows(mlp.up_proj.weight.val().transpose()),
            rows(mlp.down_proj.weight.val()),
            min_sparsity,
        )
    }

    /// [`forward`](Self::forward) on a tensor of the CPU device, returning one on its device.
    ///
    /// # Shapes
    /// - `x`: `[batch, seq_len, dim]`
    /// - output: `[batch, seq_len, dim]`
    pub fn forward_tensor(&self, x: Tensor<3>) -> Tensor<3> {
        let (dims, device) = (x.dims(), x.device());
        let input: Vec<f32> = x.into_data().try_into_vec_as().expect("f32 activations");
        let out = self.forward(&input);
        Tensor::from_data(TensorData::new(out, dims), &device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::HiddenAct;
    use crate::config::TransformerConfig;
    use crate::mlp::MlpConfig;
    use burn::tensor::{Device, Distribution, Int};

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_into_vec_as().unwrap()
    }

    fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    /// A RELU block with weights large enough that outputs are O(1), so 1e-5 is a real bound.
    fn relu_mlp(dim: usize, hidden: usize, device: &Device) -> Mlp {
        MlpConfig::new(dim, hidden)
            .with_init_std(0.15)
            .with_hidden_act(HiddenAct::Relu)
            .init(device)
    }

    #[test]
    fn every_path_equals_the_burn_ffn() {
        let device = Device::flex();
        device.seed(1);
        // Odd sizes exercise the kernels' tails and the partial last chunk.
        for (dim, hidden, rows) in [
            (48, 136, 1),
            (37, 101, 1),
            (300, 1030, 1),
            (37, 101, 5),
            (64, 200, 16),
        ] {
            let mlp = relu_mlp(dim, hidden, &device);
            let x = Tensor::<3>::random([1, rows, dim], Distribution::Normal(0.0, 1.0), &device);
            let want = values(mlp.forward(x.clone()));
            let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!(scale > 0.1, "outputs too small to test: {scale}");
            let engine = SparseFfn::from_mlp(&mlp, 0.5).unwrap();
            let input = values(x.clone());
            // 1e-5 of the output scale: the sums run in another order than Burn's.
            let tol = 1e-5 * scale.max(1.0);
            for path in [FfnPath::Auto, FfnPath::Sparse, FfnPath::Dense] {
                let got = engine.forward_with(&input, path);
                let d = max_diff(&got, &want);
                assert!(
                    d < tol,
                    "{path:?} {dim}x{hidden} rows {rows}: differs by {d} (scale {scale})"
                );
            }
            let d = max_diff(&values(engine.forward_tensor(x)), &want);
            assert!(d < tol, "tensor path differs by {d}");
        }
    }

    #[test]
    fn sparsity_is_counted_and_low_sparsity_falls_back_to_dense() {
        let device = Device::flex();
        device.seed(2);
        let mlp = relu_mlp(32, 96, &device);
        let x = Tensor::<3>::random([2, 4, 32], Distribution::Normal(0.0, 1.0), &device);
        let gates = values(mlp.gate_proj.forward(x.clone()));
        let zero = gates.iter().filter(|&&g| g <= 0.0).count() as f64 / gates.len() as f64;
        // Random weights: about half the gates are negative.
        assert!((0.3..0.7).contains(&zero), "{zero}");

        let input = values(x);
        let eager = SparseFfn::from_mlp(&mlp, 0.0).unwrap();
        eager.forward(&input);
        assert_eq!(eager.calls(), (1, 0));
        assert!((eager.measured_sparsity().unwrap() - zero).abs() < 1e-12);

        let strict = SparseFfn::from_mlp(&mlp, 0.9).unwrap();
        assert_eq!(strict.measured_sparsity(), None);
        strict.forward(&input);
        strict.forward(&input);
        assert_eq!(strict.calls(), (2, 2));
    }

    #[test]
    fn non_relu_blocks_and_bad_weights_are_refused() {
        let device = Device::flex();
        let silu = MlpConfig::new(8, 16).init(&device);
        assert!(SparseFfn::from_mlp(&silu, 0.5).is_err());
        let stocha = MlpConfig::new(8, 16)
            .with_hidden_act(HiddenAct::Stocha)
            .init(&device);
        assert!(SparseFfn::from_mlp(&stocha, 0.5).is_ok());
        assert!(SparseFfn::new(4, 2, vec![0.0; 8], vec![0.0; 8], vec![0.0; 7], 0.5).is_err());
        assert!(SparseFfn::new(4, 2, vec![0.0; 8], vec![0.0; 8], vec![0.0; 8], 1.5).is_err());
    }

    #[test]
    fn the_whole_model_with_sparse_ffns_matches_the_dense_one() {
        let device = Device::flex();
        device.seed(4);
        let config = TransformerConfig::preset("tiny")
            .unwrap()
            .with_hidden_act(HiddenAct::Relu)
            .with_initializer_range(0.1);
        let dense = config.init(&device);
        let sparse = dense.clone().with_sparse_ffn(0.0).unwrap();
        let tokens = Tensor::<2, Int>::random([2, 9], Distribution::Uniform(0.0, 255.0), &device);
        let d = max_diff(
            &values(dense.forward(tokens.clone())),
            &values(sparse.forward(tokens)),
        );
        assert!(d < 1e-4, "logits differ by {d}");
        let measured = sparse.ffn_sparsity();
        assert_eq!(measured.len(), config.num_hidden_layers);
        assert!(measured.iter().all(|s| s.is_some_and(|s| s > 0.2)));
        assert!(dense.ffn_sparsity().iter().all(Option::is_none));
    }
}
