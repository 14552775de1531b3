//! The key-query convolution of Multi-Token Attention (Golovneva et al. 2025, eq. 3/5 before
//! the softmax, eq. 6 after it): one c_q × c_k kernel per head slides over that head's
//! (query, key) score map, so a weight can depend on several neighbouring queries and keys.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Bool, Device, Tensor, TensorData};

use super::causal_conv_op;

/// Configuration of [`KeyQueryConv`].
#[derive(Config, Debug)]
pub struct KeyQueryConvConfig {
    /// Number of heads (one kernel each).
    pub n_heads: usize,
    /// Kernel extent over queries, c_q: the current query and the c_q − 1 before it.
    pub query_kernel_size: usize,
    /// Kernel extent over keys, c_k (odd): (c_k − 1)/2 keys on each side.
    pub key_kernel_size: usize,
}

/// A depthwise 2-D convolution over `[batch, heads, queries, keys]` maps, causal in the query
/// direction and centred in the key direction (the reference's `pad_key: both`).
#[derive(Module, Debug)]
pub struct KeyQueryConv {
    /// `[heads, 1, c_q, c_k]`, the reference's `mta_kernel` layout: row c_q − 1 is the current
    /// query, column c_k / 2 the same key.
    pub kernel: Param<Tensor<4>>,
}

impl KeyQueryConvConfig {
    /// Builds the layer with the identity kernel (the reference's `init_method: identity`), so
    /// a fresh layer returns its input unchanged.
    pub fn init(&self, device: &Device) -> KeyQueryConv {
        let (h, cq, ck) = (self.n_heads, self.query_kernel_size, self.key_kernel_size);
        assert!(cq >= 1 && ck % 2 == 1, "c_q must be >= 1 and c_k odd");
        let mut kernel = vec![0.0f32; h * cq * ck];
        for head in 0..h {
            kernel[(head * cq + cq - 1) * ck + ck / 2] = 1.0;
        }
        KeyQueryConv {
            kernel: Param::from_tensor(Tensor::from_data(
                TensorData::new(kernel, [h, 1, cq, ck]),
                device,
            )),
        }
    }
}

impl KeyQueryConv {
    /// c_q − 1: how many earlier query rows one output row reads.
    pub fn query_context(&self) -> usize {
        self.kernel.dims()[2] - 1
    }

    /// `out[i, j] = Σ_{i' < c_q} Σ_{j'} θ[c_q−1−i', c_k/2 + j'] · in[i − i', j + j']`, rows before
    /// the first and keys outside the map reading zero. The caller masks (eq. 5's Mask₀).
    ///
    /// # Shapes
    /// - `scores`: `[batch, heads, queries, keys]`
    /// - output: same as `scores`
    pub fn forward(&self, scores: Tensor<4>) -> Tensor<4> {
        let [_, heads, queries, _] = scores.dims();
        let [_, _, cq, ck] = self.kernel.dims();
        // Symmetric padding of c_q − 1 rows, then dropping the last c_q − 1 output rows, leaves
        // only the zero rows above: the same as the reference's top-only padding, and every
        // backend supports it.
        let options = ConvOptions::new([1, 1], [cq - 1, (ck - 1) / 2], [1, 1], heads);
        conv2d(scores, self.kernel.val(), None, options).slice_dim(2, 0..queries)
    }

    /// The convolution with eq. 5's causal masks on both sides: scores of keys after
    /// `row + first` are read as 0 and written as 0. This is what both of the layer's
    /// convolutions need (before the softmax the hidden outputs are masked with −∞ next, after
    /// it with 0). On the flex CPU backend it runs as one operation with its own backward
    /// pass that skips the hidden triangle ([`super::causal_conv`]); elsewhere as masks around
    /// [`Self::forward`].
    ///
    /// # Shapes
    /// - `scores`: `[batch, heads, rows, keys]`
    /// - output: same as `scores`
    pub fn forward_causal(&self, scores: Tensor<4>, first: usize) -> Tensor<4> {
        if causal_conv_op::supported(&scores.device()) {
            return causal_conv_op::causal_key_query_conv(scores, self.kernel.val(), first);
        }
        let [_, _, rows, keys] = scores.dims();
        let hidden = Tensor::<2, Bool>::tril_mask([rows, keys], first as i64, &scores.device())
            .unsqueeze::<4>();
        self.forward(scores.mask_fill(hidden.clone(), 0.0))
            .mask_fill(hidden, 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    #[test]
    fn identity_kernel_leaves_scores_unchanged() {
        let device = Device::flex();
        let conv = KeyQueryConvConfig::new(3, 2, 5).init(&device);
        let x = Tensor::<4>::random([2, 3, 6, 7], Distribution::Default, &device);
        let d: f32 = (conv.forward(x.clone()) - x).abs().max().into_scalar();
        assert_eq!(d, 0.0);
    }

    /// The flex operation with its own backward pass against the `conv2d` formulation that
    /// other backends run: values, input gradient and kernel gradient, for a map with as many
    /// rows as keys (training) and one with fewer rows (decoding with a cache).
    #[test]
    fn native_causal_conv_equals_masked_conv2d_with_gradients() {
        let device = Device::flex().autodiff();
        assert!(causal_conv_op::supported(&device));
        for (rows, keys, first) in [(9, 9, 0), (4, 10, 6)] {
            let mut conv = KeyQueryConvConfig::new(3, 3, 5).init(&device);
            let kernel = Tensor::<4>::random([3, 1, 3, 5], Distribution::Default, &device);
            conv.kernel = Param::from_tensor(kernel);
            let x = Tensor::<4>::random([2, 3, rows, keys], Distribution::Default, &device)
                .require_grad();
            let g = Tensor::<4>::random([2, 3, rows, keys], Distribution::Default, &device);
            let hidden =
                Tensor::<2, Bool>::tril_mask([rows, keys], first as i64, &device).unsqueeze::<4>();
            let native = conv.forward_causal(x.clone(), first);
            let dense = conv
                .forward(x.clone().mask_fill(hidden.clone(), 0.0))
                .mask_fill(hidden, 0.0);
            let max = |t: Tensor<4>| -> f32 { t.abs().max().into_scalar() };
            assert!(max(native.clone() - dense.clone()) < 1e-5, "values");
            let grads_native = (native * g.clone()).sum().backward();
            let grads_dense = (dense * g).sum().backward();
            let dx = x.grad(&grads_native).unwrap() - x.grad(&grads_dense).unwrap();
            assert!(max(dx) < 1e-5, "input gradient");
            let dk = conv.kernel.val().grad(&grads_native).unwrap()
                - conv.kernel.val().grad(&grads_dense).unwrap();
            assert!(max(dk) < 1e-4, "kernel gradient");
        }
    }

    #[test]
    fn kernel_indices_follow_the_reference_layout() {
        // A kernel with a single 1 at row 0 (one query back), column c_k/2 + 1 (one key right)
        // moves every score one row down and one column left.
        let device = Device::flex();
        let mut conv = KeyQueryConvConfig::new(1, 2, 3).init(&device);
        conv.kernel = Param::from_tensor(Tensor::from_data(
            TensorData::new(vec![0.0f32, 0.0, 1.0, 0.0, 0.0, 0.0], [1, 1, 2, 3]),
            &device,
        ));
        let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], &device)
            .reshape([1, 1, 3, 3]);
        let y: Vec<f32> = conv.forward(x).into_data().try_into_vec_as().unwrap();
        assert_eq!(y, [0.0, 0.0, 0.0, 2.0, 3.0, 0.0, 5.0, 6.0, 0.0]);
    }
}
