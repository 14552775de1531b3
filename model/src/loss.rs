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

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn uniform_logits_cost_log_vocab() {
        let device = Device::flex();
        let logits = Tensor::<3>::zeros([2, 3, 8], &device);
        let targets = Tensor::<2, Int>::from_ints([[0, 1, 2], [3, 4, 7]], &device);
        let loss: f32 = cross_entropy(logits, targets).into_scalar();
        assert!((loss - 8f32.ln()).abs() < 1e-6);
    }
}
