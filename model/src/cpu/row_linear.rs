//! A linear layer for CPU inference: `y = x Wᵀ + b` over plain `f32` slices, the weight stored
//! as PyTorch stores it (`[d_out, d_in]`, one contiguous row per output), the rows split among
//! threads with rayon.
//!
//! Burn's `Linear` keeps `[d_in, d_out]` and multiplies through a general matrix product, which
//! for the one to a few tokens of a decoding step runs at half the memory bandwidth PyTorch's
//! matrix–vector path reaches (BENCHMARKS.md, issue 5). Each task here streams a block of
//! contiguous rows through [`rows4`](super::rows::rows4).

use burn::nn::Linear;
use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;

use super::rows::rows4;
use crate::error::ModelError;

/// Weights each parallel task reads: 64 K floats (256 KB), so a task outweighs its scheduling
/// and a matrix of 1 M weights still splits 16 ways.
pub(crate) const TASK_WEIGHTS: usize = 1 << 16;

/// Most tokens per call for which the model layers use a [`RowLinear`] rather than Burn's
/// matrix product: at 256 tokens (a batch of 8 prompts of 32) the rows prefilled in 0.58 s
/// against Burn's 0.80 s, at 480 tokens they took 1.70–1.75 s against 1.47–1.61 s (the HF
/// decoding checkpoint of BENCHMARKS.md); a general matrix product wins once the work is
/// compute-bound.
pub const MAX_TOKENS: usize = 256;

/// `y = x Wᵀ + b` with `W` as `[d_out, d_in]` rows.
pub struct RowLinear {
    d_in: usize,
    d_out: usize,
    /// `[d_out rounded up to 4, d_in]`; the rows past `d_out` are zero.
    weight: Vec<f32>,
    bias: Option<Vec<f32>>,
}

impl std::fmt::Debug for RowLinear {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowLinear")
            .field("d_in", &self.d_in)
            .field("d_out", &self.d_out)
            .field("bias", &self.bias.is_some())
            .finish_non_exhaustive()
    }
}

impl RowLinear {
    /// The layer for `weight` given as `[d_out, d_in]` rows.
    pub fn new(
        d_in: usize,
        d_out: usize,
        mut weight: Vec<f32>,
        bias: Option<Vec<f32>>,
    ) -> Result<Self, ModelError> {
        if d_in == 0 || d_out == 0 || weight.len() != d_in * d_out {
            return Err(ModelError::InvalidInput(format!(
                "a [{d_out}, {d_in}] weight needs {} values, got {}",
                d_in * d_out,
                weight.len()
            )));
        }
        if bias.as_ref().is_some_and(|b| b.len() != d_out) {
            return Err(ModelError::InvalidInput(format!(
                "bias of {} values for {d_out} outputs",
                bias.map_or(0, |b| b.len())
            )));
        }
        weight.resize(d_out.next_multiple_of(4) * d_in, 0.0);
        Ok(Self {
            d_in,
            d_out,
            weight,
            bias,
        })
    }

    /// A copy of a Burn `Linear` (weight `[d_in, d_out]`), transposed to rows.
    pub fn from_linear(linear: &Linear) -> Self {
        let [d_in, d_out] = linear.weight.dims();
        let rows = linear.weight.val().transpose();
        let bias = linear.bias.as_ref().map(|b| values(b.val()));
        Self::new(d_in, d_out, values(rows), bias).expect("shapes come from the layer")
    }

    /// The layer whose rows are `weight`'s rows (e.g. a token embedding used as output
    /// projection, `[vocab, dim]`), without bias.
    pub fn from_rows(weight: Tensor<2>) -> Self {
        let [d_out, d_in] = weight.dims();
        Self::new(d_in, d_out, values(weight), None).expect("shapes come from the tensor")
    }

    /// `x Wᵀ + b` for each row of `x`.
    ///
    /// # Shapes
    /// - `x`: `[tokens, d_in]` row-major
    /// - output: `[tokens, d_out]` row-major
    pub fn forward(&self, x: &[f32]) -> Vec<f32> {
        let by_row = self.forward_by_row(x);
        let tokens = by_row.len() / self.d_out;
        let mut y = if tokens == 1 {
            by_row
        } else {
            let mut y = vec![0f32; tokens * self.d_out];
            for (r, row) in by_row.chunks(tokens).enumerate() {
                for (t, v) in row.iter().enumerate() {
                    y[t * self.d_out + r] = *v;
                }
            }
            y
        };
        if let Some(bias) = &self.bias {
            for y in y.chunks_mut(self.d_out) {
                for (y, b) in y.iter_mut().zip(bias) {
                    *y += b;
                }
            }
        }
        y
    }

    /// `x Wᵀ` (no bias) stored output-major, `out[r·tokens + t] = w_r · x_t`: the layout the
    /// parallel tasks write, and the one the sparse FFN's gate wants.
    ///
    /// # Shapes
    /// - `x`: `[tokens, d_in]` row-major
    /// - output: `[d_out, tokens]` row-major
    pub(crate) fn forward_by_row(&self, x: &[f32]) -> Vec<f32> {
        let k = self.d_in;
        assert_eq!(x.len() % k, 0, "input length is not a multiple of d_in");
        let tokens = x.len() / k;
        let rows = self.weight.len() / k;
        let chunk = (TASK_WEIGHTS / k).next_multiple_of(4).min(rows);
        // Output rows × tokens, so that every task writes one contiguous block.
        let mut by_row = vec![0f32; rows * tokens];
        by_row
            .par_chunks_mut(chunk * tokens)
            .zip(self.weight.par_chunks(chunk * k))
            .for_each(|(out, w)| {
                for (out, w) in out.chunks_mut(4 * tokens).zip(w.chunks(4 * k)) {
                    // Four rows at a time against groups of up to four tokens; the rows stay
                    // in L1 from one group to the next.
                    let mut quad = [0f32; 16];
                    for t0 in (0..tokens).step_by(4) {
                        let n = (tokens - t0).min(4);
                        rows4(w, &x[t0 * k..(t0 + n) * k], k, n, &mut quad[..4 * n]);
                        for r in 0..4 {
                            out[r * tokens + t0..r * tokens + t0 + n]
                                .copy_from_slice(&quad[r * n..(r + 1) * n]);
                        }
                    }
                }
            });
        // Drop the zero rows that pad d_out to a multiple of four.
        by_row.truncate(self.d_out * tokens);
        by_row
    }

    /// Whether a call with `x` of this shape should use these rows rather than Burn's matrix
    /// product (at most [`MAX_TOKENS`] tokens).
    pub fn serves<const D: usize>(x: &Tensor<D>) -> bool {
        let dims = x.dims();
        dims[..D - 1].iter().product::<usize>() <= MAX_TOKENS
    }

    /// [`forward`](Self::forward) on a tensor of a CPU device, returning one on its device.
    ///
    /// # Shapes
    /// - `x`: `[batch, seq_len, d_in]`
    /// - output: `[batch, seq_len, d_out]`
    pub fn forward_tensor(&self, x: Tensor<3>) -> Tensor<3> {
        let ([batch, seq_len, _], device) = (x.dims(), x.device());
        let y = self.forward(&values(x));
        Tensor::from_data(TensorData::new(y, [batch, seq_len, self.d_out]), &device)
    }
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .try_into_vec_as::<f32>()
        .expect("CPU inference runs in f32")
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::LinearConfig;
    use burn::tensor::{Device, Distribution};

    #[test]
    fn matches_burns_linear_for_every_token_count_and_odd_widths() {
        let device = Device::flex();
        device.seed(7);
        for (d_in, d_out, bias) in [(64, 96, false), (33, 70, true), (300, 1, true)] {
            let linear = LinearConfig::new(d_in, d_out).with_bias(bias).init(&device);
            let rows = RowLinear::from_linear(&linear);
            for (batch, seq) in [(1, 1), (1, 3), (2, 4), (3, 5), (1, 17)] {
                let x = Tensor::<3>::random([batch, seq, d_in], Distribution::Default, &device);
                let want = values(linear.forward(x.clone()));
                let got = values(rows.forward_tensor(x));
                let diff = want
                    .iter()
                    .zip(&got)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f32::max);
                assert!(
                    diff < 1e-5,
                    "{d_in}×{d_out}, bias {bias}, {batch}×{seq}: {diff}"
                );
            }
        }
    }

    #[test]
    fn rejects_weights_of_the_wrong_size() {
        assert!(RowLinear::new(4, 3, vec![0.0; 11], None).is_err());
        assert!(RowLinear::new(4, 3, vec![0.0; 12], Some(vec![0.0; 2])).is_err());
        assert!(RowLinear::new(4, 3, vec![0.0; 12], Some(vec![0.0; 3])).is_ok());
    }
}
