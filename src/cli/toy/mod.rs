//! `kiln toy blocks`: the block-finding task of Multi-Token Attention (Golovneva et al. 2025,
//! §3), with the paper's model (4 layers, dim 256, 2 heads; MTA: pre-softmax key-query
//! convolution c_q = 2 × c_k = 9 in every layer) on a shortened setting that fits under
//! 30 minutes of two CPU cores.

mod blocks;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use clap::{Args, Subcommand, ValueEnum};
use kiln_model::loss::cross_entropy;
use kiln_model::rng::Rng;
use kiln_model::{Transformer, TransformerConfig};
use kiln_trainer::objective::{MicroLoss, Objective};
use kiln_trainer::{TrainConfig, TrainError, TrainObserver, TrainState, Trainer};

use super::device::DeviceChoice;
use blocks::{BlocksTask, Example, render};

/// The model preset: the paper's toy model with MTA.
const PRESET: &str = "toy-blocks-mta";
/// Seed of the held-out examples, the same for every run so runs are comparable.
const TEST_SEED: u64 = 0x7e57;

#[derive(Args, Debug)]
pub struct ToyArgs {
    #[command(subcommand)]
    task: ToyTask,
}

#[derive(Subcommand, Debug)]
enum ToyTask {
    /// Find the block of letters that holds both query letters and copy it (paper §3).
    ///
    /// The paper trains on 319-character sequences (52 blocks) with batch 64 for 100k steps
    /// at lr 1e-4. The default here is shortened to about half an hour on two CPU cores
    /// (26–31 minutes measured):
    /// 8 blocks (55 characters), batch 16, 5000 steps, AdamW lr 3e-4 (β₂ 0.98, no weight
    /// decay) with 500 warm-up steps and cosine decay to 3e-5, no dropout. The model is the
    /// paper's. The test error is the share of 1000 held-out examples whose greedy answer is
    /// not exactly the block.
    Blocks(BlocksArgs),
}

#[derive(Args, Debug)]
struct BlocksArgs {
    /// Attention of every layer.
    #[arg(long, value_enum, default_value = "mta")]
    attention: Attention,
    /// Optimiser steps.
    #[arg(long, default_value_t = 5000)]
    steps: usize,
    /// Seed of the initialisation and of the training examples.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Blocks per sequence (the paper: 52).
    #[arg(long, default_value_t = 8)]
    blocks: usize,
    /// Sequences per step (the paper: 64).
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
    /// Peak learning rate (the paper: 1e-4, constant).
    #[arg(long, default_value_t = 3e-4)]
    lr: f64,
    /// Held-out examples for the error rate.
    #[arg(long, default_value_t = 1000)]
    test_examples: usize,
    /// Where to compute: auto (a hardware GPU through wgpu, else the CPU), cpu/flex, ndarray
    /// or wgpu (README, "Choosing a device").
    #[arg(long, value_enum, default_value = "auto")]
    device: DeviceChoice,
    /// Folder for `result.json` (settings, loss curve, error rate).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
enum Attention {
    /// Standard softmax attention.
    Standard,
    /// Multi-Token Attention.
    Mta,
}

pub fn run(args: ToyArgs) -> Result<()> {
    match args.task {
        ToyTask::Blocks(args) => blocks_run(args),
    }
}

fn blocks_run(args: BlocksArgs) -> Result<()> {
    let selected = args.device.open()?;
    println!("device: {}", selected.description);
    let task = BlocksTask::new(args.blocks);
    let mut model_config = TransformerConfig::preset(PRESET).expect("built-in preset");
    if args.attention == Attention::Standard {
        model_config.mta = None;
    }
    let train = TrainConfig::new()
        .with_steps(args.steps)
        .with_batch_size(args.batch_size)
        .with_seq_len(task.seq_len() - 1)
        .with_learning_rate(args.lr)
        .with_warmup_steps((args.steps / 10).max(1))
        .with_weight_decay(0.0)
        .with_beta2(0.98)
        .with_seed(args.seed);
    println!(
        "toy blocks: {:?} attention, {} blocks ({} characters), batch {}, {} steps, lr {}, seed {}, {} parameters",
        args.attention,
        args.blocks,
        task.seq_len(),
        args.batch_size,
        args.steps,
        args.lr,
        args.seed,
        model_config.num_params()
    );

    let device = selected.device.clone().autodiff();
    let trainer = Trainer {
        config: train.with_log_every(25).with_eval_every(args.steps.max(1)),
        model_config: model_config.clone(),
        device: device.clone(),
        checkpoints: None,
        tokenizer_crc32: None,
        stop_at: None,
    };
    let start = Instant::now();
    // The examples come from a generator seeded with the run's seed (as the reference's
    // data loader), not the loop's default data stream.
    let state = TrainState {
        rng: Rng::seed(args.seed),
        ..trainer.fresh_state()
    };
    let mut objective = AnswerLoss {
        task: &task,
        batch_size: args.batch_size,
        device: device.clone(),
    };
    let mut progress = Progress {
        start,
        steps: args.steps,
        losses: Vec::new(),
    };
    let model = trainer.fit(state, &mut objective, &mut progress)?.model;
    let losses = progress.losses;

    let test = test_set(&task, args.test_examples);
    let (errors, example) = evaluate(&model.valid(), &task, &test, &selected.device);
    let error_rate = 100.0 * errors as f64 / test.len() as f64;
    println!("example: {example}");
    println!(
        "test: {errors} of {} answers wrong, {:.0} s in all",
        test.len(),
        start.elapsed().as_secs_f64()
    );
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let result = serde_json::json!({
            "task": "blocks", "attention": args.attention, "blocks": args.blocks,
            "seq_len": task.seq_len(), "batch_size": args.batch_size, "steps": args.steps,
            "lr": args.lr, "seed": args.seed, "test_examples": test.len(),
            "error_rate": error_rate, "answer_loss": losses,
            "seconds": start.elapsed().as_secs_f64(),
        });
        let path = dir.join("result.json");
        // Atomic: a result from an earlier run stays whole if this write fails.
        kiln_fsutil::write_atomic(
            &path,
            (serde_json::to_string_pretty(&result)? + "\n").as_bytes(),
        )
        .with_context(|| path.display().to_string())?;
    }
    println!("error_rate={error_rate:.1}");
    Ok(())
}

/// The answer-only loss on fresh random examples: the toy task as an objective of the one
/// training loop (AdamW, schedule, clipping and the non-finite check are the loop's).
struct AnswerLoss<'a> {
    task: &'a BlocksTask,
    batch_size: usize,
    device: Device,
}

impl Objective for AnswerLoss<'_> {
    fn micro_batch(
        &mut self,
        model: &Transformer,
        _step: usize,
        _micro: usize,
        rng: &mut Rng,
    ) -> Result<MicroLoss, TrainError> {
        let batch: Vec<Example> = (0..self.batch_size)
            .map(|_| self.task.sample(rng))
            .collect();
        Ok(MicroLoss {
            loss: answer_loss(model, self.task, &batch, &self.device),
            tokens: self.batch_size * self.task.answer_len(),
        })
    }
}

/// Prints the answer loss every 25 steps and keeps every step's for `result.json`.
struct Progress {
    start: Instant,
    steps: usize,
    losses: Vec<f64>,
}

impl TrainObserver for Progress {
    fn on_step(&mut self, step: usize, loss: f64, _tokens_per_sec: f64) {
        self.losses.push(loss);
        if step % 25 == 0 || step == self.steps {
            println!(
                "step {step:>5}  answer loss {loss:.4}  {:.0} s",
                self.start.elapsed().as_secs_f64()
            );
        }
    }
}

/// The examples as `[batch, seq_len]` token ids.
fn tokens(examples: &[Example], device: &Device) -> Tensor<2, Int> {
    let len = examples[0].tokens.len();
    let ids: Vec<i64> = examples
        .iter()
        .flat_map(|e| e.tokens.iter().map(|&t| t as i64))
        .collect();
    Tensor::from_data(TensorData::new(ids, [examples.len(), len]), device)
}

/// Logits of the positions that predict the answer, and the answer tokens.
///
/// # Shapes
/// - output: `[batch, answer_len, vocab]`, `[batch, answer_len]`
fn answer_logits(
    model: &Transformer,
    task: &BlocksTask,
    examples: &[Example],
    device: &Device,
) -> (Tensor<3>, Tensor<2, Int>) {
    let ids = tokens(examples, device);
    let (len, answer) = (task.seq_len(), task.answer_len());
    let logits = model.forward(ids.clone().slice_dim(1, 0..len - 1));
    (
        logits.slice_dim(1, len - 1 - answer..len - 1),
        ids.slice_dim(1, len - answer..len),
    )
}

/// Cross-entropy on the answer only (the reference's `no_loss_prompt`).
fn answer_loss(
    model: &Transformer,
    task: &BlocksTask,
    examples: &[Example],
    device: &Device,
) -> Tensor<1> {
    let (logits, targets) = answer_logits(model, task, examples, device);
    cross_entropy(logits, targets)
}

/// The held-out examples: the same for every run.
fn test_set(task: &BlocksTask, n: usize) -> Vec<Example> {
    let mut rng = Rng::seed(TEST_SEED);
    (0..n).map(|_| task.sample(&mut rng)).collect()
}

/// Number of examples whose answer is wrong, and the first example with the model's answer.
/// Greedy decoding gets the answer right exactly when every teacher-forced argmax is right,
/// so one forward pass per batch decides it.
fn evaluate(
    model: &Transformer,
    task: &BlocksTask,
    test: &[Example],
    device: &Device,
) -> (usize, String) {
    let mut errors = 0;
    let mut example = String::new();
    for chunk in test.chunks(100) {
        let (logits, targets) = answer_logits(model, task, chunk, device);
        let predicted = logits.argmax(2).squeeze_dim::<2>(2);
        let wrong = predicted.not_equal(targets).int().sum_dim(1);
        let wrong: Vec<i64> = wrong.into_data().try_into_vec_as::<i64>().unwrap();
        errors += wrong.iter().filter(|&&w| w > 0).count();
        if example.is_empty() {
            let (logits, _) = answer_logits(model, task, &chunk[..1], device);
            let ids: Vec<i64> = logits
                .argmax(2)
                .into_data()
                .try_into_vec_as::<i64>()
                .unwrap();
            let answer: Vec<u32> = ids.iter().map(|&t| t as u32).collect();
            let prompt = &chunk[0].tokens[..task.seq_len() - task.answer_len()];
            example = format!("{} -> {}", render(prompt), render(&answer));
        }
    }
    (errors, example)
}
