//! End to end on the CPU: GRPO raises a tiny policy's mean reward within 100 updates (a few seconds),
//! from a freshly initialised kiln model and from the same model written as a Hugging Face
//! checkpoint and read back through the import. The task is easy on purpose (write many
//! `x`s), so that what is tested is the engine (rollouts, rewards, advantages, the clipped
//! update through the one training loop), not the policy's ability.
//!
//! One test function: Burn's CPU backend seeds one generator for the whole process.

use std::sync::{Arc, Mutex};

use burn::tensor::Device;
use kiln_model::rng::Rng;
use kiln_model::tokenizer::TextTokenizer;
use kiln_model::{Transformer, TransformerConfig};
use kiln_trainer::grpo::config::GrpoConfig;
use kiln_trainer::grpo::{
    Completion, GroupAdvantage, GrpoObjective, GrpoParts, Prompt, Reward, ScaleRewards,
    WeightedReward,
};
use kiln_trainer::observer::{LogRecord, TrainObserver};
use kiln_trainer::{TrainConfig, TrainState, Trainer};

/// The share of a completion's characters that are `x`.
struct ShareOfX;

impl Reward for ShareOfX {
    fn name(&self) -> &str {
        "share_of_x"
    }

    fn score(&self, completions: &[Completion<'_>]) -> Vec<Option<f32>> {
        completions
            .iter()
            .map(|c| {
                let chars = c.text.chars().count();
                let xs = c.text.chars().filter(|&ch| ch == 'x').count();
                Some(xs as f32 / chars.max(1) as f32)
            })
            .collect()
    }
}

#[derive(Clone, Default)]
struct Rewards(Arc<Mutex<Vec<f64>>>);

impl TrainObserver for Rewards {
    fn on_log(&mut self, record: &LogRecord) {
        self.0.lock().unwrap().push(record.extra["reward"]);
        for key in [
            "entropy",
            "clip_ratio/region_mean",
            "completions/mean_length",
        ] {
            assert!(record.extra[key].is_finite(), "{key} is logged");
        }
    }
}

fn tokenizer() -> TextTokenizer {
    let mut rng = Rng::seed(3);
    let letters = ['a', 'b', 'c', 'd', 'e', 'x', ' '];
    let lines: Vec<String> = (0..400)
        .map(|_| (0..40).map(|_| letters[rng.below(letters.len())]).collect())
        .collect();
    TextTokenizer::train_bpe(lines.iter().map(String::as_str), 384).unwrap()
}

/// Mean reward of the first and of the last ten updates of a 100-update run from `policy`.
fn train(policy: Transformer, model_config: TransformerConfig) -> (f64, f64) {
    let tokenizer = tokenizer();
    let prompts: Vec<Prompt> = ["write: ", "now: ", "go "]
        .iter()
        .map(|t| Prompt {
            text: t.to_string(),
            ids: tokenizer.encode(t).unwrap(),
            gold: None,
        })
        .collect();
    let device = Device::flex().autodiff();
    let trainer = Trainer {
        config: TrainConfig::new()
            .with_steps(100)
            .with_learning_rate(3e-3)
            .with_warmup_steps(2)
            .with_grad_accum_steps(2)
            .with_log_every(1)
            .with_eval_every(1000),
        model_config,
        device: device.clone(),
        checkpoints: None,
        tokenizer_crc32: None,
        stop_at: None,
    };
    let grpo = GrpoConfig {
        num_generations: 8,
        prompts_per_step: 3,
        max_completion_length: 10,
        ..Default::default()
    };
    let parts = GrpoParts {
        prompts: &prompts,
        tokenizer: &tokenizer,
        rewards: vec![WeightedReward {
            reward: Box::new(ShareOfX),
            weight: 1.0,
        }],
        estimator: Box::new(GroupAdvantage {
            scale: ScaleRewards::Group,
        }),
        reference: None,
        stop_tokens: tokenizer.end_of_text().into_iter().collect(),
        max_len: 64,
        completions_log: None,
    };
    let mut objective = GrpoObjective::new(grpo, parts, 2).unwrap();
    let state = TrainState {
        model: policy,
        optimizer: trainer.optimizer(),
        step: 0,
        rng: Rng::seed(1),
        last_eval: None,
    };
    let rewards = Rewards::default();
    trainer
        .fit(state, &mut objective, &mut rewards.clone())
        .unwrap();
    let r = rewards.0.lock().unwrap().clone();
    assert_eq!(r.len(), 100);
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    (mean(&r[..10]), mean(&r[90..]))
}

#[test]
fn grpo_raises_the_reward_of_a_kiln_and_of_a_hugging_face_policy() {
    let config = TransformerConfig::preset("tiny").unwrap();
    // Policies are made on the autodiff device, as the CLI loads them: parameters moved there
    // afterwards would not be tracked.
    let device = Device::flex().autodiff();
    let policy = config.init(&device);
    let (before, after) = train(policy.clone(), config.clone());
    assert!(
        after > before + 0.2,
        "kiln policy: mean reward {before:.3} at the start, {after:.3} at the end"
    );

    let dir = tempfile::tempdir().unwrap();
    let hf = kiln_model::hf::HfConfig::for_model(&config);
    kiln_model::hf::export(
        &policy,
        &hf,
        dir.path(),
        kiln_model::hf::safetensors::Dtype::F32,
    )
    .unwrap();
    let loaded = kiln_model::hf::load(dir.path(), &device).unwrap();
    let (before, after) = train(loaded.model, loaded.config.model);
    assert!(
        after > before + 0.2,
        "HF policy: mean reward {before:.3} at the start, {after:.3} at the end"
    );
}
