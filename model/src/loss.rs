//! Next-token cross-entropy.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};

/// Mean negative log-likelihood of `targets` under `logits`, in nats per token.
///
/// # Shapes
/// - `logits`: `[batch, seq_len, vocab]`
/// - `targets`: `[batch, seq_len]`
/// - output: `[1]`
pub fn cross_entropy(logits: Tensor<3>, targets: Tensor<2, Int>) -> Tensor<1> {
    let [batch, seq_len, vocab] = logits.dims();
    let log_probs = log_softmax(logits.reshape([batch * seq_len, vocab]), 1);
    let picked = log_probs.gather(1, targets.reshape([batch * seq_len, 1]));
    picked.mean().neg()
}

/// Mean negative log-likelihood of `targets` under `logits` over the positions where `mask`
/// is 1 (supervised fine-tuning's completion-only loss: prompt and padding positions are 0).
///
/// # Shapes
/// - `logits`: `[batch, seq_len, vocab]`
/// - `targets`, `mask`: `[batch, seq_len]`
/// - output: `[1]`
pub fn masked_cross_entropy(
    logits: Tensor<3>,
    targets: Tensor<2, Int>,
    mask: Tensor<2>,
) -> Tensor<1> {
    let [batch, seq_len, vocab] = logits.dims();
    let log_probs = log_softmax(logits.reshape([batch * seq_len, vocab]), 1);
    let picked = log_probs.gather(1, targets.reshape([batch * seq_len, 1]));
    let mask = mask.reshape([batch * seq_len, 1]);
    let count = mask.clone().sum().clamp_min(1.0);
    (picked * mask).sum().neg() / count
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn uniform_logits_cost_log_vocab() {
        let device = Device::flex();
        let logits = Tensor::<3>::zeros([2, 3, 8], &device);
        let targets = Tensor::<2, Int>::from_ints([[0, 1, 2], [3, 4, 7]], &device);
        let loss: f32 = cross_entropy(logits, targets).into_scalar();
        assert!((loss - 8f32.ln()).abs() < 1e-6);
    }

    #[test]
    fn masked_positions_do_not_count() {
        let device = Device::flex();
        // Row 0 puts all its mass on token 1 at position 0; position 1 is uniform.
        let mut logits = vec![0.0f32; 2 * 4];
        logits[1] = 100.0;
        let logits = Tensor::<3>::from_data(TensorData::new(logits, [1, 2, 4]), &device);
        let targets = Tensor::<2, Int>::from_ints([[1, 3]], &device);
        let only_first = Tensor::<2>::from_floats([[1.0, 0.0]], &device);
        let both = Tensor::<2>::from_floats([[1.0, 1.0]], &device);
        let first: f32 =
            masked_cross_entropy(logits.clone(), targets.clone(), only_first).into_scalar();
        let mean: f32 = masked_cross_entropy(logits, targets, both).into_scalar();
        assert!(first.abs() < 1e-5);
        assert!((mean - 4f32.ln() / 2.0).abs() < 1e-5);
    }
}
