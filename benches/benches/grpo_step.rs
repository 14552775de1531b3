//! The GRPO engine on the default `small` model (issue 25): one batch of rollouts (8 prompts ×
//! G = 8 completions of 32 tokens, KV-cached, left-padded prompts of different lengths) and
//! one whole GRPO step through the training loop (those rollouts, their rewards and group
//! advantages, the clipped update with AdamW). The reward is a cheap stand-in (the share of
//! one letter), so what is timed is the engine.
//!
//! Run it as the other benches (see `train_step.rs`):
//!
//!     cargo test --workspace --all-targets -- --bench grpo

use std::hint::black_box;

use burn::module::Module;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kiln_model::TransformerConfig;
use kiln_model::sampling::SamplingConfig;
use kiln_model::tokenizer::TextTokenizer;
use kiln_trainer::grpo::config::GrpoConfig;
use kiln_trainer::grpo::rollout::{RolloutSettings, sample_rollouts};
use kiln_trainer::grpo::{
    Completion, GroupAdvantage, GrpoObjective, GrpoParts, Prompt, Reward, ScaleRewards,
    WeightedReward,
};
use kiln_trainer::observer::Silent;
use kiln_trainer::{TrainConfig, Trainer};

const PROMPTS: usize = 8;
const GROUP: usize = 8;
const COMPLETION: usize = 32;

struct ShareOfE;

impl Reward for ShareOfE {
    fn name(&self) -> &str {
        "share_of_e"
    }
    fn score(&self, completions: &[Completion<'_>]) -> Vec<Option<f32>> {
        completions
            .iter()
            .map(|c| {
                let n = c.text.chars().count().max(1);
                Some(c.text.chars().filter(|&ch| ch == 'e').count() as f32 / n as f32)
            })
            .collect()
    }
}

fn setup() -> (TransformerConfig, TextTokenizer, Vec<Prompt>) {
    let text = include_str!("../../data/jargon/train.txt");
    let mut end = 200_000;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut config = TransformerConfig::preset("small").unwrap();
    let tokenizer = TextTokenizer::train_bpe(text[..end].lines(), config.vocab_size).unwrap();
    config.vocab_size = config.vocab_size.max(tokenizer.vocab_size());
    let prompts = text[..end]
        .lines()
        .filter(|l| l.len() > 20)
        .take(PROMPTS)
        .enumerate()
        .map(|(i, l)| {
            // Prompts of 8 to 15 words: a left-padded batch.
            let words: Vec<&str> = l.split_whitespace().take(8 + i).collect();
            let text = words.join(" ");
            Prompt {
                ids: tokenizer.encode(&text).unwrap(),
                text,
                gold: None,
            }
        })
        .collect();
    (config, tokenizer, prompts)
}

fn grpo(c: &mut Criterion) {
    let (model_config, tokenizer, prompts) = setup();
    let mut group = c.benchmark_group("grpo/small");
    group
        .sample_size(10)
        .measurement_time(std::time::Duration::from_secs(30))
        .throughput(Throughput::Elements((PROMPTS * GROUP) as u64));
    let grpo = GrpoConfig {
        num_generations: GROUP,
        prompts_per_step: PROMPTS,
        max_completion_length: COMPLETION,
        ..GrpoConfig::default()
    };
    for (name, base) in kiln_benches::bench_devices() {
        let device = base.autodiff();
        device.seed(0);
        let settings = RolloutSettings {
            group_size: GROUP,
            max_completion_length: COMPLETION,
            sampling: SamplingConfig::default(),
            // No stop token: every completion runs its full length.
            stop_tokens: vec![],
            pad_token: 0,
            max_len: model_config.max_position_embeddings,
        };
        let policy = model_config.init(&device);
        let inference = policy.valid();
        let all: Vec<usize> = (0..PROMPTS).collect();
        let mut seed = 0;
        group.bench_function(format!("rollouts_64x{COMPLETION}/{name}"), |b| {
            b.iter(|| {
                seed += 1;
                black_box(sample_rollouts(&inference, &prompts, &all, &settings, seed).unwrap())
            })
        });

        let train = TrainConfig::new()
            .with_steps(usize::MAX)
            .with_learning_rate(1e-5)
            .with_warmup_steps(0)
            .with_log_every(1_000_000)
            .with_eval_every(1_000_000)
            .with_checkpoint_every(1_000_000);
        let parts = GrpoParts {
            prompts: &prompts,
            tokenizer: &tokenizer,
            rewards: vec![WeightedReward {
                reward: Box::new(ShareOfE),
                weight: 1.0,
            }],
            estimator: Box::new(GroupAdvantage {
                scale: ScaleRewards::Group,
            }),
            reference: None,
            stop_tokens: vec![],
            max_len: model_config.max_position_embeddings,
            completions_log: None,
        };
        let mut objective = GrpoObjective::new(grpo.clone(), parts, 1).unwrap();
        let mut trainer = Trainer {
            config: train,
            model_config: model_config.clone(),
            device: device.clone(),
            checkpoints: None,
            tokenizer_crc32: None,
            stop_at: None,
        };
        let mut state = Some(trainer.state_from(policy));
        group.bench_function(format!("step_64x{COMPLETION}/{name}"), |b| {
            b.iter(|| {
                let s = state.take().unwrap();
                trainer.stop_at = Some(s.step + 1);
                state = Some(trainer.fit(s, &mut objective, &mut Silent).unwrap());
            })
        });
    }
    group.finish();
}

criterion_group!(benches, grpo);
criterion_main!(benches);
