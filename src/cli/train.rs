//! `kiln train`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use kiln_model::generate::{GenerateConfig, generate};
use kiln_model::sampling::SamplingConfig;
use kiln_model::tokenizer::TextTokenizer;
use kiln_model::{HiddenAct, TransformerConfig};
use kiln_trainer::data::{TokenData, unigram_cross_entropy};
use kiln_trainer::objective::Objective;
use kiln_trainer::{NextToken, TrainConfig, Trainer};

use super::corpus::DataSpec;
use super::device::DeviceChoice;
use super::progress::fit_with_progress;
use super::run_dir::{RunConfig, RunDir, next_default};

/// The model preset of `kiln train` without `--config`.
const DEFAULT_PRESET: &str = "small";

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Run directory (default: the first free runs/run-N).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Run config JSON: {"model": {...} or "<preset>", "train": {...}}, or a bare model config.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Training text: files, or folders of .txt files (default: the built-in corpus).
    #[arg(long, num_args = 1..)]
    data: Vec<PathBuf>,
    /// Held-out text (default: the last 5% of --data).
    #[arg(long)]
    valid: Option<PathBuf>,
    /// Use this tokenizer.json instead of training a BPE on the data.
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// Total optimiser steps.
    #[arg(long)]
    steps: Option<usize>,
    /// Pause the run after this step (it checkpoints; continue with --resume).
    #[arg(long)]
    stop_at: Option<usize>,
    /// Seed of initialisation, data order and the final sample.
    #[arg(long)]
    seed: Option<u64>,
    /// Continue the run in --out from its latest checkpoint.
    #[arg(long)]
    resume: bool,
    /// Feed-forward activation of a new run: silu, relu or stocha (default: the config's).
    #[arg(long)]
    activation: Option<HiddenAct>,
    /// StochA's probability of SILU on a negative input (default 0.7).
    #[arg(long)]
    stocha_p: Option<f64>,
    /// Swi+FT: train the last fraction α of the steps with RELU.
    #[arg(long, value_name = "ALPHA")]
    relu_finetune: Option<f64>,
    /// Where to compute: auto (a hardware GPU through wgpu, else the CPU), cpu/flex, ndarray
    /// or wgpu (README, "Choosing a device").
    #[arg(long, value_enum, default_value = "auto")]
    device: DeviceChoice,
}

pub fn run(args: TrainArgs) -> Result<()> {
    let selected = args.device.open()?;
    println!("device: {}", selected.description);
    let run = RunDir::new(
        args.out
            .clone()
            .unwrap_or_else(|| next_default(&PathBuf::from("runs"))),
    );
    let mut config = if args.resume {
        if args.config.is_some()
            || !args.data.is_empty()
            || args.tokenizer.is_some()
            || args.activation.is_some()
            || args.stocha_p.is_some()
            || args.relu_finetune.is_some()
        {
            bail!(
                "--resume continues the run as configured in {}: drop --config, --data, --tokenizer and the activation flags",
                run.config_path().display()
            );
        }
        if !run.holds_run() {
            bail!("{}: no run to resume (no config.json)", run.root.display());
        }
        run.read_config()?
    } else {
        if run.holds_run() {
            bail!(
                "{}: already holds a run; continue it with --resume or choose another --out",
                run.root.display()
            );
        }
        new_config(&args)?
    };
    if let Some(steps) = args.steps {
        config.train.steps = steps;
    }
    if let Some(seed) = args.seed {
        if args.resume && seed != config.train.seed {
            bail!(
                "--seed {seed} differs from the run's seed {}",
                config.train.seed
            );
        }
        config.train.seed = seed;
    }
    config
        .train
        .validate()
        .map_err(|e| anyhow::anyhow!("invalid training config: {e}"))?;

    let corpus = config.data.load()?;
    println!(
        "data: {} ({} train / {} held-out characters)",
        corpus.description,
        corpus.train.len(),
        corpus.valid.len()
    );

    std::fs::create_dir_all(&run.root).with_context(|| format!("{}", run.root.display()))?;
    let tokenizer_crc = if args.resume {
        run.read_tokenizer(&config.model, None)?.1
    } else {
        let tokenizer = match &args.tokenizer {
            Some(path) => TextTokenizer::from_file(path)?,
            None => {
                let t0 = Instant::now();
                let t = TextTokenizer::train_bpe(corpus.train.lines(), config.model.vocab_size)?;
                println!(
                    "tokenizer: byte-level BPE, {} ids, trained in {:.1}s",
                    t.vocab_size(),
                    t0.elapsed().as_secs_f64()
                );
                t
            }
        };
        config.model.vocab_size = config.model.vocab_size.max(tokenizer.vocab_size());
        let json = tokenizer.to_json()?;
        let path = run.tokenizer_path();
        kiln_fsutil::write_atomic(&path, json.as_bytes())
            .with_context(|| path.display().to_string())?;
        run.write_config(&config)?;
        crc32fast::hash(json.as_bytes())
    };
    let (tokenizer, _) = run.read_tokenizer(&config.model, Some(tokenizer_crc))?;
    let train = TokenData::new(
        tokenizer.encode(&corpus.train)?,
        config.train.seq_len,
        "training text",
    )?;
    let valid = TokenData::new(
        tokenizer.encode(&corpus.valid)?,
        config.train.seq_len,
        "held-out text",
    )?;
    println!(
        "model: {} parameters; {} train / {} held-out tokens; run directory {}",
        config.model.num_params(),
        train.len(),
        valid.len(),
        run.root.display()
    );
    println!("activation: {}", describe_activation(&config));

    let trainer = Trainer {
        config: config.train.clone(),
        model_config: config.model.clone(),
        device: selected.device.clone().autodiff(),
        checkpoints: Some(run.checkpoints()),
        tokenizer_crc32: Some(tokenizer_crc),
        stop_at: args.stop_at,
    };
    let mut objective = NextToken::new(&train, &valid, &config.train, config.model.vocab_size)?;
    let state = if args.resume {
        trainer.resume_state(&mut objective)?
    } else {
        trainer.fresh_state()
    };
    if args.resume {
        println!("resuming at step {} of {}", state.step, config.train.steps);
    }
    let state = fit_with_progress(&run, &trainer, state, &mut objective, &selected.description)?;
    if state.step < config.train.steps {
        println!(
            "paused at step {}; continue with: kiln train --out {} --resume",
            state.step,
            run.root.display()
        );
        return Ok(());
    }

    // The loop evaluated at its last step; a run resumed when already finished has not.
    let eval = match state.last_eval.as_ref().and_then(|e| e.lm) {
        Some(eval) => eval,
        None => objective
            .evaluate(&burn::module::Module::valid(&state.model))?
            .and_then(|e| e.lm)
            .context("the language-model objective always evaluates")?,
    };
    let unigram = unigram_cross_entropy(train.tokens(), valid.tokens(), tokenizer.vocab_size());
    println!(
        "held-out loss {:.4}, perplexity {:.2}",
        eval.loss, eval.perplexity
    );
    println!(
        "unigram baseline (same tokenizer): loss {unigram:.4}, perplexity {:.2}",
        unigram.exp()
    );

    let model = burn::module::Module::valid(&state.model);
    let prompt = "The hacker";
    let request = GenerateConfig {
        max_new_tokens: 60,
        sampling: SamplingConfig {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
        },
        seed: config.train.seed,
        stop_token: tokenizer.end_of_text(),
        max_len: config.model.max_position_embeddings,
    };
    let ids = tokenizer.encode(prompt)?;
    let device = selected.device.clone();
    let out = generate(&model, &ids, &request, &device, |_| {})?;
    println!("sample: {prompt}{}", tokenizer.decode(&out)?);
    println!(
        "plots and metrics: {}, {}",
        run.plot_path().display(),
        run.metrics_path().display()
    );
    Ok(())
}

/// The activation schedule in words, e.g. `stocha (p = 0.7), relu from step 181`.
fn describe_activation(config: &RunConfig) -> String {
    let model = &config.model;
    let mut text = model.hidden_act.to_string();
    if model.hidden_act == HiddenAct::Stocha {
        text += &format!(" (p = {})", model.stocha_p);
    }
    if config.train.relu_finetune > 0.0 {
        text += &format!(", relu from step {}", config.train.relu_switch_step() + 1);
    }
    text
}

/// The run config of a new run: `--config` (or the default preset), then the data flags.
fn new_config(args: &TrainArgs) -> Result<RunConfig> {
    let data = DataSpec::from_flags(&args.data, args.valid.clone())?;
    let (mut model, mut train) = match &args.config {
        None => (
            TransformerConfig::preset(DEFAULT_PRESET).expect("built-in preset"),
            TrainConfig::new(),
        ),
        Some(path) => read_config_file(path)?,
    };
    if let Some(act) = args.activation {
        model.hidden_act = act;
    }
    if let Some(p) = args.stocha_p {
        model.stocha_p = p;
    }
    if let Some(alpha) = args.relu_finetune {
        train.relu_finetune = alpha;
    }
    model
        .validate()
        .map_err(|e| anyhow::anyhow!("--stocha-p: {e}"))?;
    Ok(RunConfig { model, train, data })
}

/// Reads `{"model": <config or preset name>, "train": {...}}` or a bare model config.
fn read_config_file(path: &PathBuf) -> Result<(TransformerConfig, TrainConfig)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: malformed config JSON", path.display()))?;
    let bad = |reason: String| anyhow::anyhow!("{}: {reason}", path.display());
    let Some(object) = value.as_object() else {
        return Err(bad("expected a JSON object".into()));
    };
    if !object.contains_key("model") {
        let model = TransformerConfig::from_json(&text).map_err(bad)?;
        return Ok((model, TrainConfig::new()));
    }
    let model = match &object["model"] {
        serde_json::Value::String(name) => TransformerConfig::preset(name).ok_or_else(|| {
            let names: Vec<&str> = TransformerConfig::preset_names().collect();
            bad(format!(
                "unknown model preset {name:?} (presets: {})",
                names.join(", ")
            ))
        })?,
        other => TransformerConfig::from_json(&other.to_string())
            .map_err(|e| bad(format!("model: {e}")))?,
    };
    let train = match object.get("train") {
        Some(t) => TrainConfig::from_value(t).map_err(|e| bad(format!("train: {e}")))?,
        None => TrainConfig::new(),
    };
    Ok((model, train))
}
