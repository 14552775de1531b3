//! The decoder's logits and loss against the PyTorch reference of
//! `tools/reference/transformer_reference.py` (fixture `fixtures/transformer_reference.json`),
//! on the flex CPU backend and on wgpu.

use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::{Device, Int, Tensor, TensorData};
use kiln_model::device::test_devices;
use kiln_model::loss::cross_entropy;
use kiln_model::{Transformer, TransformerConfig};
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/transformer_reference.json");

/// Produces the reference's formula weights, tensor after tensor.
struct FormulaWeights<'a> {
    next: usize,
    device: &'a Device,
}

impl FormulaWeights<'_> {
    /// Tensor number `s` of the formula: `0.2·sin(0.7j + 1.3s)` (or `1 + 0.1·sin(…)` for norms).
    fn values(&mut self, len: usize, norm: bool) -> Vec<f32> {
        let s = self.next as f64;
        self.next += 1;
        (0..len)
            .map(|j| {
                let w = (0.7 * j as f64 + 1.3 * s).sin();
                (if norm { 1.0 + 0.1 * w } else { 0.2 * w }) as f32
            })
            .collect()
    }

    /// A PyTorch-layout `[rows, cols]` matrix.
    fn matrix(&mut self, rows: usize, cols: usize) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(self.values(rows * cols, false), [rows, cols]),
            self.device,
        )
    }

    /// Burn's `Linear` stores `[in, out]`, the transpose of PyTorch's `[out, in]`.
    fn linear(&mut self, layer: &mut Linear) {
        let [d_in, d_out] = layer.weight.dims();
        layer.weight = Param::from_tensor(self.matrix(d_out, d_in).transpose());
    }

    fn norm(&mut self, d: usize) -> Param<Tensor<1>> {
        Param::from_tensor(Tensor::from_data(
            TensorData::new(self.values(d, true), [d]),
            self.device,
        ))
    }
}

/// Fills `model` in the reference's tensor order.
fn load_formula_weights(model: &mut Transformer, device: &Device) {
    let mut w = FormulaWeights { next: 0, device };
    let [v, d] = model.model.embed_tokens.weight.dims();
    model.model.embed_tokens.weight = Param::from_tensor(w.matrix(v, d));
    for layer in &mut model.model.layers {
        w.linear(&mut layer.self_attn.q_proj);
        w.linear(&mut layer.self_attn.k_proj);
        w.linear(&mut layer.self_attn.v_proj);
        w.linear(&mut layer.self_attn.o_proj);
        w.linear(&mut layer.mlp.gate_proj);
        w.linear(&mut layer.mlp.up_proj);
        w.linear(&mut layer.mlp.down_proj);
        layer.input_layernorm.weight = w.norm(d);
        layer.post_attention_layernorm.weight = w.norm(d);
    }
    model.model.norm.weight = w.norm(d);
    if let Some(head) = &mut model.lm_head {
        w.linear(head);
    }
}

#[test]
fn logits_and_loss_match_pytorch() {
    let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
    let tokens: Vec<Vec<i64>> = serde_json::from_value(fixture["tokens"].clone()).unwrap();
    let (batch, seq) = (tokens.len(), tokens[0].len());
    let flat: Vec<i64> = tokens.concat();
    for (case, reference) in fixture["cases"].as_object().unwrap() {
        let mut config = TransformerConfig::from_json(&reference["config"].to_string()).unwrap();
        config.max_position_embeddings = 64;
        let want: Vec<f32> = serde_json::from_value(reference["logits"].clone()).unwrap();
        let want_loss = reference["loss"].as_f64().unwrap();
        for (backend, device) in test_devices() {
            let mut model = config.init(&device);
            load_formula_weights(&mut model, &device);
            let input =
                Tensor::<2, Int>::from_data(TensorData::new(flat.clone(), [batch, seq]), &device);
            let logits = model.forward(input.clone());
            let got: Vec<f32> = logits.clone().into_data().try_into_vec_as::<f32>().unwrap();
            let worst = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(
                worst < 1e-4,
                "{case} on {backend}: logits differ from PyTorch by {worst}"
            );

            let loss: f32 =
                cross_entropy(logits.slice_dim(1, 0..seq - 1), input.slice_dim(1, 1..seq))
                    .into_scalar();
            assert!(
                (loss as f64 - want_loss).abs() < 1e-4,
                "{case} on {backend}: loss {loss} against PyTorch {want_loss}"
            );
        }
    }
}
