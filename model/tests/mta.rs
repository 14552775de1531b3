//! Multi-Token Attention: every variant against the PyTorch reference of
//! `tools/reference/mta_reference.py` (fixture `fixtures/mta_reference.json`, outputs and
//! input gradients, flex and wgpu), identity initialisation, causality and cached decoding.

use burn::module::Param;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use kiln_model::device::test_devices;
use kiln_model::mta::{Mta, MtaConfig};
use kiln_model::{Transformer, TransformerConfig};
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/mta_reference.json");

fn values(v: &Value) -> Vec<f32> {
    serde_json::from_value(v.clone()).unwrap()
}

fn tensor<const D: usize>(v: &Value, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values(v), shape), device)
}

fn param<const D: usize>(p: &Value, device: &Device) -> Param<Tensor<D>> {
    let shape: Vec<usize> = serde_json::from_value(p["shape"].clone()).unwrap();
    Param::from_tensor(tensor(&p["values"], shape.try_into().unwrap(), device))
}

/// Puts the fixture's weights into `mta` (which was built from the same config).
fn load(mta: &mut Mta, params: &Value, device: &Device) {
    if let Some(conv) = &mut mta.pre_conv {
        conv.kernel = param(&params["pre_conv"], device);
    }
    if let Some(conv) = &mut mta.post_conv {
        conv.kernel = param(&params["post_conv"], device);
    }
    if let Some(mix) = &mut mta.pre_head_mix {
        mix.weight = param(&params["pre_head_mix"], device);
    }
    if let Some(mix) = &mut mta.post_head_mix {
        mix.weight = param(&params["post_head_mix"], device);
    }
    if let Some(head_norm) = &mut mta.head_norm {
        if let Some(norm) = &mut head_norm.norm {
            norm.weight = param(&params["norm_weight"], device);
        }
        if let Some(gate) = &mut head_norm.gate {
            gate.weight = param(&params["gate_weight"], device);
            gate.bias = Some(param(&params["gate_bias"], device));
        }
    }
}

fn max_abs_diff(got: Tensor<4>, want: &[f32]) -> f32 {
    let got: Vec<f32> = got.into_data().try_into_vec_as().unwrap();
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

#[test]
fn every_variant_matches_pytorch_with_gradients() {
    let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
    let shape: [usize; 4] = serde_json::from_value(fixture["shape"].clone()).unwrap();
    let [batch, heads, seq, head_dim] = shape;
    for case in fixture["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let config: MtaConfig = serde_json::from_value(case["config"].clone()).unwrap();
        let layer = case["layer"].as_u64().unwrap() as usize;
        for (backend, base) in test_devices() {
            let device = base.autodiff();
            let mut mta = config
                .init_layer(layer, heads, head_dim, 0.02, &device)
                .unwrap();
            load(&mut mta, &case["params"], &device);
            let input = |key: &str| tensor::<4>(&fixture[key], shape, &device).require_grad();
            let (q, k, v) = (input("q"), input("k"), input("v"));
            let out = mta.normalise_heads(
                mta.attend(q.clone(), k.clone(), v.clone(), 0, None)
                    .swap_dims(1, 2),
            );
            let d = max_abs_diff(out.clone(), &values(&case["out"]));
            assert!(d < 1e-4, "{name} on {backend}: output differs by {d}");
            let g = tensor::<4>(&fixture["out_grad"], [batch, seq, heads, head_dim], &device);
            let grads = (out * g).sum().backward();
            for (input, key) in [(q, "dq"), (k, "dk"), (v, "dv")] {
                let d = max_abs_diff(input.grad(&grads).unwrap(), &values(&case[key]));
                assert!(d < 1e-4, "{name} on {backend}: {key} differs by {d}");
            }
        }
    }
}

/// Every MTA part, with the kernels that make the convolutions reach furthest.
fn all_parts() -> MtaConfig {
    MtaConfig {
        query_kernel_size: Some(3),
        key_kernel_size: Some(5),
        after_sm_query_kernel_size: Some(2),
        after_sm_key_kernel_size: Some(3),
        pre_sm_linear_head: true,
        head_kernel_size: Some(2),
        ..MtaConfig::default()
    }
}

/// The variants tested separately, each alone.
fn variants() -> Vec<(&'static str, MtaConfig)> {
    let one = |f: fn(&mut MtaConfig)| {
        let mut c = MtaConfig::default();
        f(&mut c);
        c
    };
    vec![
        (
            "pre_conv",
            one(|c| (c.query_kernel_size, c.key_kernel_size) = (Some(3), Some(5))),
        ),
        (
            "post_conv",
            one(|c| {
                (c.after_sm_query_kernel_size, c.after_sm_key_kernel_size) = (Some(2), Some(3))
            }),
        ),
        ("pre_head_mix", one(|c| c.pre_sm_linear_head = true)),
        ("post_head_mix", one(|c| c.head_kernel_size = Some(2))),
        (
            "group_norm",
            one(|c| (c.group_norm, c.layer_norm_rescale, c.add_gating) = (true, true, true)),
        ),
        ("all", all_parts()),
    ]
}

fn tiny_with(mta: MtaConfig) -> TransformerConfig {
    TransformerConfig::preset("tiny")
        .unwrap()
        .with_mta(Some(mta))
}

/// Replaces every MTA weight by identity + noise, so that a convolution that reads the future
/// or a wrong row shows up.
fn perturb(model: &mut Transformer, device: &Device) {
    let noisy = |p: &Param<Tensor<4>>| {
        let t = p.val();
        Param::from_tensor(
            t.clone() + Tensor::random(t.shape(), Distribution::Normal(0.0, 0.5), device),
        )
    };
    let noisy3 = |p: &Param<Tensor<3>>| {
        let t = p.val();
        Param::from_tensor(
            t.clone() + Tensor::random(t.shape(), Distribution::Normal(0.0, 0.5), device),
        )
    };
    for layer in &mut model.model.layers {
        let mta = layer.self_attn.mta.as_mut().unwrap();
        for conv in [&mut mta.pre_conv, &mut mta.post_conv]
            .into_iter()
            .flatten()
        {
            conv.kernel = noisy(&conv.kernel);
        }
        for mix in [&mut mta.pre_head_mix, &mut mta.post_head_mix]
            .into_iter()
            .flatten()
        {
            mix.weight = noisy3(&mix.weight);
        }
    }
}

fn max_diff(a: Tensor<3>, b: Tensor<3>) -> f32 {
    (a - b).abs().max().into_scalar()
}

#[test]
fn a_fresh_mta_layer_computes_standard_attention() {
    let device = Device::flex();
    device.seed(11);
    let model = tiny_with(all_parts()).init(&device);
    let mut standard = model.clone();
    for layer in &mut standard.model.layers {
        assert!(layer.self_attn.mta.is_some());
        layer.self_attn.mta = None;
    }
    let tokens = Tensor::<2, Int>::random([2, 9], Distribution::Uniform(0.0, 255.0), &device);
    let d = max_diff(model.forward(tokens.clone()), standard.forward(tokens));
    assert!(
        d < 1e-6,
        "identity-initialised MTA differs from attention by {d}"
    );
}

#[test]
fn no_information_flows_from_future_tokens_in_any_variant() {
    let device = Device::flex();
    device.seed(12);
    for (name, mta) in variants() {
        let mut model = tiny_with(mta).init(&device);
        perturb(&mut model, &device);
        let a = Tensor::<2, Int>::from_ints([[1, 2, 3, 4, 5, 6, 7, 8]], &device);
        let out_a = model.forward(a);
        for t in 1..8 {
            let mut ids = vec![1i64, 2, 3, 4, 5, 6, 7, 8];
            ids[t] = 200;
            let b = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, 8]), &device);
            let out_b = model.forward(b);
            let d = max_diff(
                out_a.clone().slice_dim(1, 0..t),
                out_b.clone().slice_dim(1, 0..t),
            );
            assert_eq!(d, 0.0, "{name}: changing token {t} changed earlier outputs");
            let d = max_diff(
                out_a.clone().slice_dim(1, t..t + 1),
                out_b.slice_dim(1, t..t + 1),
            );
            assert!(d > 0.0, "{name}: token {t} did not change its own output");
        }
    }
}

#[test]
fn cached_decoding_equals_the_full_forward_pass() {
    let device = Device::flex();
    device.seed(13);
    for (name, mta) in variants() {
        let mut model = tiny_with(mta).init(&device);
        perturb(&mut model, &device);
        let tokens = Tensor::<2, Int>::random([2, 10], Distribution::Uniform(0.0, 255.0), &device);
        let full = model.forward(tokens.clone());
        // A 1-token prompt (shorter than the kernels' reach), then a 3-token piece, then one
        // token at a time.
        let mut cache = model.new_cache();
        let mut parts = Vec::new();
        for (a, b) in [(0, 1), (1, 4)]
            .into_iter()
            .chain((4..10).map(|t| (t, t + 1)))
        {
            parts.push(model.forward_cached(tokens.clone().slice_dim(1, a..b), &mut cache));
        }
        let d = max_diff(full, Tensor::cat(parts, 1));
        assert!(d < 1e-5, "{name}: cached and full logits differ by {d}");
    }
}

/// A left-padded batch (the batched generation of `generate_batch`) gives every row the
/// logits it gets alone at its real positions, in every variant and on both CPU backends
/// (flex runs the key-query convolutions as its own operation, ndarray as masked `conv2d`):
/// the convolutions must not read the padding queries above a row or the padding keys left
/// of it. Five padding tokens reach further than the kernels, one stays within them.
#[test]
fn left_padded_rows_equal_the_rows_alone() {
    #[allow(deprecated)] // ndarray is deprecated upstream but still a supported backend
    let devices = [Device::flex(), Device::ndarray()];
    for device in devices {
        device.seed(14);
        for (name, mta) in variants() {
            let mut model = tiny_with(mta).init(&device);
            perturb(&mut model, &device);
            let (len, pads) = (12, [0usize, 5, 1]);
            let rows: Vec<Vec<i64>> = pads
                .iter()
                .enumerate()
                .map(|(b, &pad)| {
                    (0..len - pad)
                        .map(|i| 1 + ((7 * i + 31 * b) % 250) as i64)
                        .collect()
                })
                .collect();
            let padded: Vec<i64> = rows
                .iter()
                .zip(pads)
                .flat_map(|(r, pad)| std::iter::repeat_n(0, pad).chain(r.iter().copied()))
                .collect();
            let tokens = Tensor::<2, Int>::from_data(TensorData::new(padded, [3, len]), &device);
            // An 8-token prompt, then one token at a time, as generation runs.
            let mut cache =
                kiln_model::cache::KvCache::with_left_padding(model.num_layers(), pads.to_vec());
            let mut parts =
                vec![model.forward_cached(tokens.clone().slice_dim(1, 0..8), &mut cache)];
            for t in 8..len {
                parts.push(model.forward_cached(tokens.clone().slice_dim(1, t..t + 1), &mut cache));
            }
            let batched = Tensor::cat(parts, 1);
            for (b, (row, pad)) in rows.iter().zip(pads).enumerate() {
                let n = row.len();
                let alone = model.forward(Tensor::from_data(
                    TensorData::new(row.clone(), [1, n]),
                    &device,
                ));
                let got = batched
                    .clone()
                    .slice_dim(0, b..b + 1)
                    .slice_dim(1, pad..len);
                let d = max_diff(got, alone);
                assert!(
                    d < 1e-4,
                    "{device:?} {name}: row {b} (padding {pad}) differs by {d}"
                );
            }
        }
    }
}
