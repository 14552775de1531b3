//! `--stochastic-activations` on a whole model. A test binary of its own: Burn's CPU backend
//! has one generator per process, which tests running in parallel threads would draw from in
//! between.

use burn::tensor::{Device, Tensor, TensorData};
use kiln_model::Activation;

/// What `kiln generate --stochastic-activations P` runs: a whole model whose FFNs keep StochA's
/// draw at inference. P = 0 is the RELU model exactly. P = 1 is not the SILU model: StochA
/// passes positive inputs through as RELU does and applies SILU to negative ones only (arXiv
/// 2509.22358, Fig. 1), so it differs from both; P = 0.5 differs from P = 0 and P = 1 (the flag
/// is not a no-op), and its draw repeats with the seed.
#[test]
fn stochastic_activations_at_inference_span_relu_to_silu() {
    let device = Device::flex();
    let config = kiln_model::TransformerConfig::preset("tiny").unwrap();
    device.seed(1);
    let model = config.init(&device);
    let tokens = Tensor::<2, burn::tensor::Int>::from_data(
        TensorData::new((0..24i64).map(|t| (t * 7) % 300).collect(), [2, 12]),
        &device,
    );
    let logits = |act: Activation, seed: u64| -> Vec<f32> {
        device.seed(seed);
        model
            .clone()
            .with_activation(act)
            .forward(tokens.clone())
            .into_data()
            .try_into_vec_as()
            .unwrap()
    };
    let kept = |p| Activation::Stocha {
        p,
        at_inference: true,
    };
    let relu = logits(Activation::Relu, 0);
    let silu = logits(Activation::Silu, 0);
    let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5);
    assert!(close(&logits(kept(0.0), 9), &relu), "p = 0 is RELU");
    let one = logits(kept(1.0), 9);
    assert!(
        !close(&one, &relu) && !close(&one, &silu),
        "p = 1 is neither RELU nor SILU"
    );
    let half = logits(kept(0.5), 9);
    assert!(
        !close(&half, &relu) && !close(&half, &one),
        "p = 0.5 is neither p = 0 nor p = 1"
    );
    assert_eq!(half, logits(kept(0.5), 9));
    assert_ne!(half, logits(kept(0.5), 10));
}
