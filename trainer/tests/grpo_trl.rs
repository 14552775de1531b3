//! kiln's GRPO loss and advantages against TRL's own code (trl 1.16.0): losses, per-token
//! gradients and clip/KL statistics for every `loss_type`, on- and off-policy (μ = 1 and
//! μ > 1), with ε_high ≠ ε and β > 0; advantages for every `scale_rewards` with an
//! unscorable completion. Fixture: `tools/reference/grpo_trl_reference.py`.

use burn::tensor::{Device, Tensor, TensorData};
use kiln_trainer::grpo::advantage::{ScaleRewards, group_advantages, zero_std_groups};
use kiln_trainer::grpo::config::LossType;
use kiln_trainer::grpo::loss::{LossBatch, LossSettings, grpo_loss};
use serde_json::Value;

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/grpo_trl_reference.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn matrix(v: &Value, device: &Device) -> Tensor<2> {
    let rows: Vec<Vec<f32>> = serde_json::from_value(v.clone()).unwrap();
    let (n, t) = (rows.len(), rows[0].len());
    Tensor::from_data(TensorData::new(rows.concat(), [n, t]), device)
}

fn vector(v: &[f32], device: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), device)
}

fn floats<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec_as().unwrap()
}

#[test]
fn loss_gradients_and_statistics_match_trl() {
    let f = fixture();
    let device = Device::flex().autodiff();
    let num = |k: &str| f[k].as_f64().unwrap() as f32;
    let advantages: Vec<f32> = serde_json::from_value(f["advantages"].clone()).unwrap();
    let n = advantages.len();
    for case in f["losses"].as_array().unwrap() {
        let loss_type: LossType =
            serde_json::from_value(case["loss_type"].clone()).expect("loss type");
        let off_policy = case["off_policy"].as_bool().unwrap();
        let logp = matrix(&f["logp"], &device).require_grad();
        let batch = LossBatch {
            logp: logp.clone(),
            old_logp: off_policy.then(|| matrix(&f["old_logp"], &device)),
            ref_logp: Some(matrix(&f["ref_logp"], &device)),
            mask: matrix(&f["mask"], &device),
            adv_pos: vector(
                &advantages.iter().map(|a| a.max(0.0)).collect::<Vec<_>>(),
                &device,
            ),
            adv_neg: vector(
                &advantages.iter().map(|a| a.min(0.0)).collect::<Vec<_>>(),
                &device,
            ),
            weight: vector(&vec![1.0; n], &device),
        };
        let settings = LossSettings {
            loss_type,
            epsilon: num("epsilon"),
            epsilon_high: num("epsilon_high"),
            beta: num("beta"),
            max_completion_length: f["max_completion_length"].as_u64().unwrap() as usize,
            dapo_tokens: num("dapo_tokens"),
            grad_accum_steps: f["grad_accum_steps"].as_u64().unwrap() as usize,
        };
        let out = grpo_loss(batch, &settings);
        let stats = floats(out.stats_tensor());
        let name = format!("{loss_type:?} off_policy={off_policy}");
        let want = |k: &str| case[k].as_f64().unwrap() as f32;
        for (i, key) in ["loss", "clip_low", "clip_high", "clip_region", "kl"]
            .iter()
            .enumerate()
        {
            assert!(
                (stats[i] - want(key)).abs() < 1e-5,
                "{name}: {key} {} vs TRL {}",
                stats[i],
                want(key)
            );
        }
        let grads = out.loss.backward();
        let got = floats(logp.grad(&grads).unwrap());
        let rows: Vec<Vec<f32>> = serde_json::from_value(case["grad"].clone()).unwrap();
        let want_grad = rows.concat();
        let d = got
            .iter()
            .zip(&want_grad)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(d < 1e-5, "{name}: per-token gradients differ by {d}");
        assert!(
            want_grad.iter().any(|g| g.abs() > 1e-3),
            "{name}: fixture gradient is trivially zero"
        );
    }
}

#[test]
fn advantages_match_trl_for_every_scaling() {
    let f = fixture();
    let rewards: Vec<Option<f32>> = serde_json::from_value(f["rewards"].clone()).unwrap();
    let group = f["group_size"].as_u64().unwrap() as usize;
    for case in f["scaled"].as_array().unwrap() {
        let scale: ScaleRewards = serde_json::from_value(case["scale_rewards"].clone()).unwrap();
        let want: Vec<f32> = serde_json::from_value(case["advantages"].clone()).unwrap();
        let got = group_advantages(&rewards, group, scale);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() < 1e-5,
                "{scale:?}: advantage {i}: {g} vs TRL {w}"
            );
        }
        let zero: Vec<bool> = serde_json::from_value(case["zero_std_groups"].clone()).unwrap();
        if scale != ScaleRewards::Batch {
            assert_eq!(zero_std_groups(&rewards, group), zero, "{scale:?}");
        }
    }
}
