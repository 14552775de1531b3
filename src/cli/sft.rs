//! `kiln sft`: supervised fine-tuning of a policy on prompt/completion or chat JSONL, with the
//! loss on completion tokens only ([`kiln_trainer::sft`]), through the one training loop.
//!
//! ```text
//! kiln task export --task arith-easy --n 2000 --out easy.jsonl
//! kiln sft --init runs/run-1 --data easy.jsonl --out runs/sft-easy
//! ```

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use kiln_model::generate::{GenerateConfig, generate};
use kiln_model::hf::chat::{Message, render_qwen3};
use kiln_model::sampling::SamplingConfig;
use kiln_model::tokenizer::TextTokenizer;
use kiln_trainer::TrainConfig;
use kiln_trainer::objective::Objective;
use kiln_trainer::sft::{SftExample, SftRecord, SupervisedFineTuning, read_sft_jsonl};
use serde::{Deserialize, Serialize};

use super::device::DeviceChoice;
use super::policy::{FinetuneRecord, FinetuneRun, Policy, PolicyArgs, in_run_dir, read_sections};
use super::run_dir::RunDir;

#[derive(Args, Debug)]
pub struct SftArgs {
    #[command(flatten)]
    policy: PolicyArgs,
    /// Training examples, JSONL: {"prompt", "completion"} (or "demonstration", as `kiln task
    /// export` writes) or a chat {"messages": [...]} ending with the assistant's turn, rendered
    /// with the policy's chat template (Qwen3 checkpoints). Required for a new run.
    #[arg(long, value_name = "FILE.jsonl")]
    data: Option<PathBuf>,
    /// Held-out examples, same format (default: the last 5% of --data, at least one, kept
    /// out of training).
    #[arg(long, value_name = "FILE.jsonl")]
    valid: Option<PathBuf>,
    /// Run directory to create (default: the first free runs/run-N); with --resume, the run
    /// to continue.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Config JSON {"train": {...}}: the training settings of `kiln train` (batch_size =
    /// examples per micro-batch, seq_len = longest prompt + completion in tokens; longer
    /// examples lose the end of their completion). Defaults: 200 steps, learning rate 1e-4,
    /// 10 warm-up steps, batch 16, seq_len 256 (at most the policy's context).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Total optimiser steps (overrides the config).
    #[arg(long)]
    steps: Option<usize>,
    /// Pause the run after this step (it checkpoints; continue with --resume).
    #[arg(long)]
    stop_at: Option<usize>,
    /// Seed of the example order (default 0).
    #[arg(long)]
    seed: Option<u64>,
    /// Continue the run in --out from its latest checkpoint (the data and settings are the
    /// run's own: give only --out, --steps, --stop-at and --device).
    #[arg(long)]
    resume: bool,
    /// Where to compute: auto (a hardware GPU through wgpu, else the CPU), cpu/flex, ndarray
    /// or wgpu (README, "Choosing a device").
    #[arg(long, value_enum, default_value = "auto")]
    device: DeviceChoice,
}

/// What `finetune.json` records of an SFT run.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SftSettings {
    data: PathBuf,
    valid: Option<PathBuf>,
    /// The policy's chat template renders `{"messages"}` lines.
    chat: bool,
    /// Appended to each completion (the policy's end-of-sequence id), so it learns to stop.
    stop_tokens: Vec<u32>,
}

/// Fine-tuning defaults: fewer steps and a smaller learning rate than pre-training.
fn sft_defaults(context: usize) -> TrainConfig {
    TrainConfig::new()
        .with_steps(200)
        .with_learning_rate(1e-4)
        .with_warmup_steps(10)
        .with_batch_size(16)
        .with_seq_len(256.min(context))
        .with_eval_every(50)
        .with_checkpoint_every(50)
}

pub fn run(args: SftArgs) -> Result<()> {
    in_run_dir(args.out.as_ref(), |run| run_in(&args, run))
}

fn run_in(args: &SftArgs, run: &RunDir) -> Result<()> {
    let selected = args.device.open()?;
    println!("device: {}", selected.description);
    let train_device = selected.device.clone().autodiff();
    let (mut train, settings, policy) = if args.resume {
        if args.policy.given()
            || args.data.is_some()
            || args.valid.is_some()
            || args.config.is_some()
            || args.seed.is_some()
        {
            bail!(
                "--resume continues the run as recorded in {}: drop --init/--init-hf, --data, --valid, --config and --seed",
                FinetuneRecord::path(run).display()
            );
        }
        let record = FinetuneRecord::read(run, "sft")?;
        let settings: SftSettings = serde_json::from_value(record.settings)
            .with_context(|| format!("{}", FinetuneRecord::path(run).display()))?;
        (run.read_config()?.train, settings, None)
    } else {
        let Some(source) = args.policy.source() else {
            bail!("give the policy to fine-tune: --init RUN_DIR or --init-hf DIR");
        };
        let Some(data) = args.data.clone() else {
            bail!("give the training examples: --data FILE.jsonl");
        };
        let policy = Policy::load(&source, &train_device)?;
        println!("policy: {source}");
        let defaults = sft_defaults(policy.config.max_position_embeddings);
        let mut train = match &args.config {
            Some(path) => read_sections(path, &[], defaults)?.0,
            None => defaults,
        };
        if let Some(seed) = args.seed {
            train.seed = seed;
        }
        if let Some(steps) = args.steps {
            train.steps = steps;
        }
        if train.seq_len > policy.config.max_position_embeddings {
            bail!(
                "seq_len {} exceeds the policy's context of {} tokens",
                train.seq_len,
                policy.config.max_position_embeddings
            );
        }
        let settings = SftSettings {
            data,
            valid: args.valid.clone(),
            chat: policy.chat,
            stop_tokens: policy.stop_tokens.clone(),
        };
        let record = FinetuneRecord {
            kind: "sft".into(),
            init: source,
            settings: serde_json::to_value(&settings)?,
        };
        train
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid training config: {e}"))?;
        policy.start_run(run, &train, &record)?;
        (train, settings, Some(policy))
    };
    if let Some(steps) = args.steps {
        train.steps = steps;
    }
    let config = run.read_config()?;
    let (tokenizer, crc) = run.read_tokenizer(&config.model, None)?;

    let examples = tokenize_file(&settings.data, &tokenizer, &settings)?;
    let (train_examples, valid_examples) = match &settings.valid {
        Some(path) => (examples, tokenize_file(path, &tokenizer, &settings)?),
        None => split_held_out(examples),
    };
    println!(
        "data: {} training / {} held-out examples; run directory {}",
        train_examples.len(),
        valid_examples.len(),
        run.root.display()
    );
    let mut objective = SupervisedFineTuning::new(
        &train_examples,
        &valid_examples,
        train.batch_size,
        train.seq_len,
        config.model.vocab_size,
    )?;
    let state = FinetuneRun {
        run,
        train: &train,
        model_config: &config.model,
        device: train_device.clone(),
        tokenizer_crc32: crc,
        stop_at: args.stop_at,
        device_description: &selected.description,
    }
    .fit(policy.map(|p| p.model), &mut objective)?;
    if state.step < train.steps {
        println!(
            "paused at step {}; continue with: kiln sft --out {} --resume",
            state.step,
            run.root.display()
        );
        return Ok(());
    }
    let model = burn::module::Module::valid(&state.model);
    let eval = match state.last_eval.as_ref().and_then(|e| e.lm) {
        Some(eval) => Some(eval),
        None => objective.evaluate(&model)?.and_then(|e| e.lm),
    };
    if let Some(eval) = eval {
        println!(
            "held-out completion loss {:.4} (perplexity {:.2}, {} tokens)",
            eval.loss, eval.perplexity, eval.tokens
        );
    }
    if let Some(example) = valid_examples.first().or(train_examples.first()) {
        let request = GenerateConfig {
            max_new_tokens: example.completion.len() + 8,
            sampling: SamplingConfig {
                temperature: 0.0,
                ..SamplingConfig::default()
            },
            seed: train.seed,
            stop_token: settings.stop_tokens.first().copied(),
            max_len: config.model.max_position_embeddings,
        };
        let out = generate(&model, &example.prompt, &request, &selected.device, |_| {})?;
        println!(
            "sample (greedy): {}{}",
            tokenizer.decode(&example.prompt)?,
            tokenizer.decode(&out)?
        );
    }
    println!(
        "plots and metrics: {}, {}",
        run.plot_path().display(),
        run.metrics_path().display()
    );
    Ok(())
}

/// The last 5% of `examples` (at least one, none of a single example) held out.
fn split_held_out(mut examples: Vec<SftExample>) -> (Vec<SftExample>, Vec<SftExample>) {
    let held = if examples.len() < 2 {
        0
    } else {
        (examples.len() / 20).max(1)
    };
    let valid = examples.split_off(examples.len() - held);
    (examples, valid)
}

/// Reads and tokenises an SFT file: chats through the Qwen3 template (prompt = the turns before
/// the answer with the generation prompt; completion = the rest of the rendered chat), plain
/// pairs as they are, each completion ending in the policy's end-of-sequence id.
fn tokenize_file(
    path: &PathBuf,
    tokenizer: &TextTokenizer,
    settings: &SftSettings,
) -> Result<Vec<SftExample>> {
    let eos: Vec<u32> = settings.stop_tokens.first().copied().into_iter().collect();
    read_sft_jsonl(path)?
        .into_iter()
        .enumerate()
        .map(|(i, record)| {
            let (prompt, completion, eos) = match record {
                SftRecord::Text { prompt, completion } => (prompt, completion, eos.as_slice()),
                SftRecord::Chat(messages) => {
                    if !settings.chat {
                        bail!(
                            "{}: example {}: a chat example, but the policy has no chat template; give {{\"prompt\", \"completion\"}} lines",
                            path.display(),
                            i + 1
                        );
                    }
                    let (prompt, completion) = render_chat(&messages);
                    // The template's own <|im_end|> ends the completion.
                    (prompt, completion, &[][..])
                }
            };
            let mut completion = tokenizer.encode(&completion)?;
            completion.extend_from_slice(eos);
            Ok(SftExample {
                prompt: tokenizer.encode(&prompt)?,
                completion,
            })
        })
        .collect()
}

/// The prompt (every turn before the last, then the assistant header) and the completion (the
/// rest of the rendered chat) of a chat that ends with the assistant's turn.
fn render_chat(messages: &[Message]) -> (String, String) {
    let (last, context) = messages.split_last().expect("read_sft_jsonl checks");
    let prompt = render_qwen3(context, true, false);
    let full = render_qwen3(messages, false, false);
    match full.strip_prefix(&prompt) {
        Some(rest) => (prompt, rest.to_owned()),
        // Templates that rewrite earlier turns: the answer and its end marker.
        None => (prompt, format!("{}<|im_end|>\n", last.content)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chat example is split where the answer starts: the prompt ends with the assistant
    /// header and Qwen3's empty thinking block (what generation with thinking off is given),
    /// and the completion is the answer and its end marker.
    #[test]
    fn chats_split_at_the_assistant_turn() {
        let messages = [
            Message::new("system", "Be brief."),
            Message::new("user", "2+3?"),
            Message::new("assistant", "5"),
        ];
        let (prompt, completion) = render_chat(&messages);
        assert_eq!(prompt, render_qwen3(&messages[..2], true, false));
        assert!(
            prompt.ends_with("<|im_start|>assistant\n<think>\n\n</think>\n\n"),
            "{prompt:?}"
        );
        assert!(
            completion.contains('5') && completion.contains("<|im_end|>"),
            "{completion:?}"
        );
        assert_eq!(prompt + &completion, render_qwen3(&messages, false, false));
    }
}
