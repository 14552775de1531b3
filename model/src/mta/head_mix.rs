//! Head mixing of Multi-Token Attention (Golovneva et al. 2025, eq. 7): inside each group of
//! c_h consecutive heads, every new attention map is a learned weighted sum of the group's
//! maps, `A_new^h = Σ_{h'} w_{h',h} A^{h'}`. With one group of all heads this is the
//! reference's pre-softmax `wpsm` linear layer.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

/// Configuration of [`HeadMix`].
#[derive(Config, Debug)]
pub struct HeadMixConfig {
    /// Number of heads.
    pub n_heads: usize,
    /// Heads per group, c_h (divides `n_heads`).
    pub group_size: usize,
}

/// Per-group linear mixing over the head axis of `[batch, heads, queries, keys]` maps.
#[derive(Module, Debug)]
pub struct HeadMix {
    /// `[groups, c_h (from), c_h (to)]`, the reference's `head_kernel` layout: entry `[g, h', h]`
    /// is the weight of head h' in the new head h of group g. (The reference's `wpsm` is a
    /// PyTorch `Linear`, `[to, from]`: its transpose is `weight[0]`.)
    pub weight: Param<Tensor<3>>,
}

impl HeadMixConfig {
    /// Builds the layer with identity mixing (every head keeps its own map).
    pub fn init(&self, device: &Device) -> HeadMix {
        assert!(
            self.group_size > 0 && self.n_heads % self.group_size == 0,
            "c_h must divide the number of heads"
        );
        let groups = self.n_heads / self.group_size;
        let eye = Tensor::<2>::eye(self.group_size, device);
        HeadMix {
            weight: Param::from_tensor(eye.unsqueeze::<3>().repeat_dim(0, groups)),
        }
    }
}

impl HeadMix {
    /// # Shapes
    /// - `scores`: `[batch, heads, queries, keys]`
    /// - output: same as `scores`
    pub fn forward(&self, scores: Tensor<4>) -> Tensor<4> {
        let [batch, heads, queries, keys] = scores.dims();
        let [groups, size, _] = self.weight.dims();
        // One batched matmul: [groups, to, from] × [groups, from, queries·keys] per batch item.
        let mix = self
            .weight
            .val()
            .swap_dims(1, 2)
            .unsqueeze::<4>()
            .expand([batch, groups, size, size]);
        mix.matmul(scores.reshape([batch, groups, size, queries * keys]))
            .reshape([batch, heads, queries, keys])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, TensorData};

    #[test]
    fn mixes_only_inside_groups() {
        let device = Device::flex();
        let mut mix = HeadMixConfig::new(4, 2).init(&device);
        let x = Tensor::<4>::random([1, 4, 3, 3], Distribution::Default, &device);
        let d: f32 = (mix.forward(x.clone()) - x.clone())
            .abs()
            .max()
            .into_scalar();
        assert_eq!(d, 0.0, "identity init");
        // Group 1: new head 3 = 2·head 2 + head 3; everything else unchanged.
        let w = [1.0f32, 0.0, 0.0, 1.0, 1.0, 2.0, 0.0, 1.0];
        mix.weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(w.to_vec(), [2, 2, 2]),
            &device,
        ));
        let y = mix.forward(x.clone());
        let want = x.clone().slice_dim(1, 2..3).mul_scalar(2.0) + x.clone().slice_dim(1, 3..4);
        let d: f32 = (y.clone().slice_dim(1, 3..4) - want)
            .abs()
            .max()
            .into_scalar();
        assert!(d < 1e-6);
        let d: f32 = (y.slice_dim(1, 0..3) - x.slice_dim(1, 0..3))
            .abs()
            .max()
            .into_scalar();
        assert!(d < 1e-6);
    }
}
