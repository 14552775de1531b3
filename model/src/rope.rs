//! Rotary position embedding (RoFormer, Su et al. 2021, eq. 34), in the "rotate half"
//! layout of Hugging Face Llama: the first and second halves of each head are the real and
//! imaginary parts, so imported checkpoints need no permutation of q/k weights.

use std::ops::Range;

use burn::tensor::{Device, Int, Tensor};

use crate::rope_scaling::rope_frequencies;

/// Cos/sin tables for a range of positions, shared by every attention layer of one forward
/// pass. Built on the host in f64 for the positions a pass needs, so every backend and device
/// gets the same table and nothing position-dependent is stored in the module.
#[derive(Debug, Clone)]
pub struct RotaryEmbedding {
    /// `[positions, head_dim]`: cos(p·θ_i), each frequency repeated for both halves.
    cos: Tensor<2>,
    /// `[positions, head_dim]`: sin(p·θ_i).
    sin: Tensor<2>,
    /// First position of the tables.
    start: usize,
    /// `[batch, seq_len]`: the position of every token, where rows differ (left padding).
    rows: Option<Tensor<2, Int>>,
}

impl RotaryEmbedding {
    /// Tables for `positions`, heads of size `head_dim` and base `theta`: θ_i = theta^(−2i/d).
    pub fn new(head_dim: usize, positions: Range<usize>, theta: f64, device: &Device) -> Self {
        Self::from_frequencies(&rope_frequencies(head_dim, theta, None), positions, device)
    }

    /// Tables for `positions` with the given rotation frequencies (`head_dim / 2` of them,
    /// radians per position; see [`rope_frequencies`]).
    pub fn from_frequencies(inv_freq: &[f64], positions: Range<usize>, device: &Device) -> Self {
        let head_dim = 2 * inv_freq.len();
        let (start, len) = (positions.start, positions.len());
        let mut cos = Vec::with_capacity(len * head_dim);
        let mut sin = Vec::with_capacity(len * head_dim);
        for p in positions {
            let row: Vec<f64> = inv_freq.iter().map(|f| p as f64 * f).collect();
            for _ in 0..2 {
                cos.extend(row.iter().map(|a| a.cos() as f32));
                sin.extend(row.iter().map(|a| a.sin() as f32));
            }
        }
        let table =
            |v: Vec<f32>| Tensor::<1>::from_floats(v.as_slice(), device).reshape([len, head_dim]);
        Self {
            cos: table(cos),
            sin: table(sin),
            start,
            rows: None,
        }
    }

    /// The same tables, applied at per-token positions (`[batch, seq_len]`, each within the
    /// table's range) instead of the table's own positions.
    pub fn at_rows(self, positions: Tensor<2, Int>) -> Self {
        Self {
            rows: Some(positions),
            ..self
        }
    }

    /// Rotates `x`, whose sequence covers exactly the table's positions (or, after
    /// [`at_rows`](Self::at_rows), sits at the given positions).
    ///
    /// # Shapes
    /// - `x`: `[batch, heads, seq_len, head_dim]`, `seq_len` = number of table positions
    /// - output: same as `x`
    pub fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        if let Some(rows) = &self.rows {
            return self.apply_at(x, rows.clone());
        }
        rotate(
            x,
            self.cos.clone().unsqueeze(),
            self.sin.clone().unsqueeze(),
        )
    }

    /// Rotates `x` where every token has its own position (left-padded batches).
    ///
    /// # Shapes
    /// - `x`: `[batch, heads, seq_len, head_dim]`
    /// - `positions`: `[batch, seq_len]`, each within the table's range
    pub fn apply_at(&self, x: Tensor<4>, positions: Tensor<2, Int>) -> Tensor<4> {
        let [batch, _, seq_len, head_dim] = x.dims();
        let rows = positions
            .reshape([batch * seq_len])
            .sub_scalar(self.start as i64);
        let pick = |t: &Tensor<2>| {
            t.clone()
                .select(0, rows.clone())
                .reshape([batch, 1, seq_len, head_dim])
        };
        rotate(x, pick(&self.cos), pick(&self.sin))
    }
}

/// `x·cos + rotate_half(x)·sin`, with `rotate_half([x1, x2]) = [−x2, x1]`.
fn rotate(x: Tensor<4>, cos: Tensor<4>, sin: Tensor<4>) -> Tensor<4> {
    let head_dim = x.dims()[3];
    let half = head_dim / 2;
    let x1 = x.clone().slice_dim(3, 0..half);
    let x2 = x.clone().slice_dim(3, half..head_dim);
    let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
    x * cos + rotated * sin
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_zero_is_identity_and_norms_are_kept() {
        let device = Device::flex();
        let rope = RotaryEmbedding::new(8, 0..5, 10000.0, &device);
        let x = Tensor::<4>::random([1, 2, 5, 8], burn::tensor::Distribution::Default, &device);
        let y = rope.apply(x.clone());
        let first: Vec<f32> = (x.clone().slice_dim(2, 0..1) - y.clone().slice_dim(2, 0..1))
            .abs()
            .into_data()
            .try_into_vec_as()
            .unwrap();
        assert!(first.iter().all(|v| *v < 1e-6));
        let nx: Vec<f32> = x.square().sum_dim(3).into_data().try_into_vec_as().unwrap();
        let ny: Vec<f32> = y.square().sum_dim(3).into_data().try_into_vec_as().unwrap();
        for (a, b) in nx.iter().zip(&ny) {
            assert!((a - b).abs() < 1e-5);
        }
    }

    #[test]
    fn per_row_positions_equal_shifted_apply() {
        let device = Device::flex();
        let x = Tensor::<4>::random([1, 1, 3, 4], burn::tensor::Distribution::Default, &device);
        let a = RotaryEmbedding::new(4, 5..8, 10000.0, &device).apply(x.clone());
        let table = RotaryEmbedding::new(4, 2..10, 10000.0, &device);
        let b = table.apply_at(x, Tensor::from_ints([[5, 6, 7]], &device));
        let d: f32 = (a - b).abs().max().into_scalar();
        assert!(d < 1e-6);
    }
}
