//! `kiln rl`: reinforcement learning of a policy on a verifiable task with the GRPO engine
//! ([`kiln_trainer::grpo`]) and one of three advantage estimators: gold-label GRPO, TTRL's
//! majority vote, or RESTRAIN (arXiv 2510.02172); and `kiln rl eval`, the held-out scores of a
//! run (pass@1 over K samples, pass@K, majority@K, completion length).
//!
//! ```text
//! kiln rl --algo restrain --task arith-medium --init runs/sft-easy --out runs/rl-restrain
//! kiln rl eval --run runs/rl-restrain --k 8
//! ```

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use burn::module::Module;
use clap::{Args, Subcommand, ValueEnum};
use kiln_model::Transformer;
use kiln_model::hf::chat::{Message, render_qwen3};
use kiln_model::sampling::SamplingConfig;
use kiln_model::tokenizer::TextTokenizer;
use kiln_reasoning::eval::{EvalReport, Sample, score};
use kiln_reasoning::restrain::{PromptWeights, Restrain, RestrainConfig};
use kiln_reasoning::rewards::CorrectnessReward;
use kiln_reasoning::ttrl::Ttrl;
use kiln_reasoning::{Problem, Task, task_by_name};
use kiln_trainer::TrainConfig;
use kiln_trainer::grpo::config::GrpoConfig;
use kiln_trainer::grpo::rollout::{RolloutSettings, sample_rollouts};
use kiln_trainer::grpo::{
    AdvantageEstimator, GroupAdvantage, GrpoObjective, GrpoParts, Prompt, WeightedReward,
};
use serde::{Deserialize, Serialize};

use super::device::DeviceChoice;
use super::policy::{
    FinetuneRecord, FinetuneRun, Policy, PolicyArgs, PolicySource, in_run_dir, read_sections,
};
use super::run_dir::RunDir;
use super::task::default_data_dir;

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RlArgs {
    #[command(subcommand)]
    command: Option<RlCommand>,
    #[command(flatten)]
    train: RlTrainArgs,
}

#[derive(Subcommand, Debug)]
enum RlCommand {
    /// Held-out scores of a run's policy: pass@1 over K samples, pass@K, majority@K and mean
    /// completion length, as a table and JSON.
    Eval(RlEvalArgs),
}

/// How advantages are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algo {
    /// GRPO on the gold answers: reward 1 for a verified answer (RESTRAIN's upper bound).
    Grpo,
    /// TTRL: reward 1 for the group's majority answer; no gold answer is used.
    Ttrl,
    /// RESTRAIN: every answer weighted by its frequency, low-consensus prompts pushed down,
    /// prompts weighted by the base model's consensus; no gold answer is used.
    Restrain,
}

#[derive(Args, Debug)]
struct RlTrainArgs {
    /// Advantage estimator (default grpo; a resumed run keeps its own).
    #[arg(long, value_enum)]
    algo: Option<Algo>,
    /// Task whose verifier scores answers and, without --tasks, whose generator makes the
    /// training prompts (default arith-easy). Known: arith-easy, arith-medium, arith-hard,
    /// arith-<steps>x<digits> (e.g. arith-3x1: three operations on one-digit numbers),
    /// game24, gym:FILE.jsonl.
    #[arg(long)]
    task: Option<String>,
    /// Training prompts from a JSONL file of {"prompt", "gold"} (as `kiln task export`
    /// writes), verified with --task's verifier.
    #[arg(long, value_name = "FILE.jsonl")]
    tasks: Option<PathBuf>,
    /// Number of training prompts drawn from --task (default 256).
    #[arg(long, default_value_t = 256)]
    prompts: usize,
    #[command(flatten)]
    policy: PolicyArgs,
    /// Config JSON {"train": {...}, "grpo": {...}, "restrain": {...}}: the training loop's
    /// settings (learning rate, steps, clipping, …), the GRPO engine's (TRL's GRPOConfig names:
    /// num_generations, prompts_per_step, max_completion_length, temperature, beta, epsilon,
    /// epsilon_high, loss_type, scale_rewards, num_iterations, …) and RESTRAIN's (centre,
    /// sigma, kappa, delta and the three component switches).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Total optimiser steps (default 100; overrides the config).
    #[arg(long)]
    steps: Option<usize>,
    /// Pause the run after this step (it checkpoints; continue with --resume).
    #[arg(long)]
    stop_at: Option<usize>,
    /// Seed of the prompt order and the sampling (default 0); the prompts themselves are the
    /// task's training split (seed 0) in every run.
    #[arg(long)]
    seed: Option<u64>,
    /// Run directory to create (default: the first free runs/run-N); with --resume, the run
    /// to continue.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in --out from its latest checkpoint, exactly as it would have gone on.
    #[arg(long)]
    resume: bool,
    /// kiln's data folder, where game24 reads reasoning/24.csv (default: $KILN_DATA, else
    /// ~/.cache/kiln/data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Where to compute: auto (a hardware GPU through wgpu, else the CPU), cpu/flex, ndarray
    /// or wgpu (README, "Choosing a device").
    #[arg(long, value_enum, default_value = "auto")]
    device: DeviceChoice,
}

/// What `finetune.json` records of an RL run.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RlSettings {
    algo: Algo,
    task: String,
    tasks: Option<PathBuf>,
    prompts: usize,
    grpo: GrpoConfig,
    restrain: RestrainConfig,
    data_dir: PathBuf,
    chat: bool,
    stop_tokens: Vec<u32>,
}

const DEFAULT_TASK: &str = "arith-easy";
/// The seed of every run's training problems, the task's training split (`--seed` varies the
/// order and the sampling; `kiln rl eval` draws with seed 1 and leaves these out).
const TRAIN_SPLIT_SEED: u64 = 0;
/// RESTRAIN's offline prompt weights, beside the run.
const PROMPT_WEIGHTS: &str = "prompt_weights.json";

/// RL defaults: 100 updates at a fine-tuning learning rate, logged every step.
fn rl_defaults() -> TrainConfig {
    TrainConfig::new()
        .with_steps(100)
        .with_learning_rate(1e-4)
        .with_warmup_steps(5)
        .with_log_every(1)
        .with_eval_every(1_000_000)
        .with_checkpoint_every(20)
}

pub fn run(args: RlArgs) -> Result<()> {
    match args.command {
        Some(RlCommand::Eval(eval)) => run_eval(eval),
        None => run_train(args.train),
    }
}

fn run_train(args: RlTrainArgs) -> Result<()> {
    in_run_dir(args.out.as_ref(), |run| run_train_in(&args, run))
}

fn run_train_in(args: &RlTrainArgs, run: &RunDir) -> Result<()> {
    let selected = args.device.open()?;
    println!("device: {}", selected.description);
    let train_device = selected.device.clone().autodiff();
    let (mut train, settings, init, policy) = if args.resume {
        if args.policy.given()
            || args.task.is_some()
            || args.tasks.is_some()
            || args.config.is_some()
            || args.seed.is_some()
            || args.data_dir.is_some()
        {
            bail!(
                "--resume continues the run as recorded in {}: drop --init/--init-hf, --task, --tasks, --config, --seed and --data-dir",
                FinetuneRecord::path(run).display()
            );
        }
        let record = FinetuneRecord::read(run, "rl")?;
        let settings: RlSettings = serde_json::from_value(record.settings)
            .with_context(|| format!("{}", FinetuneRecord::path(run).display()))?;
        if args.algo.is_some_and(|a| a != settings.algo) {
            bail!(
                "{}: the run uses --algo {:?}; resume it without --algo or with the same",
                run.root.display(),
                settings.algo
            );
        }
        (run.read_config()?.train, settings, record.init, None)
    } else {
        let Some(source) = args.policy.source() else {
            bail!("give the initial policy: --init RUN_DIR or --init-hf DIR");
        };
        let policy = Policy::load(&source, &train_device)?;
        println!("policy: {source}");
        let (mut train, mut sections) = match &args.config {
            Some(path) => read_sections(path, &["grpo", "restrain"], rl_defaults())?,
            None => (rl_defaults(), Default::default()),
        };
        if args.algo != Some(Algo::Restrain) && sections.contains_key("restrain") {
            bail!(
                "{}: a restrain section applies to --algo restrain only",
                args.config
                    .as_ref()
                    .map_or(String::new(), |p| p.display().to_string())
            );
        }
        let section = |name: &str, sections: &mut serde_json::Map<_, _>| {
            sections.remove(name).unwrap_or(serde_json::json!({}))
        };
        let config_name = || {
            args.config
                .as_ref()
                .map_or(String::new(), |p| p.display().to_string())
        };
        let grpo: GrpoConfig = serde_json::from_value(section("grpo", &mut sections))
            .with_context(|| format!("{}: grpo", config_name()))?;
        let restrain: RestrainConfig = serde_json::from_value(section("restrain", &mut sections))
            .with_context(|| format!("{}: restrain", config_name()))?;
        if let Some(seed) = args.seed {
            train.seed = seed;
        }
        if let Some(steps) = args.steps {
            train.steps = steps;
        }
        train
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid training config: {e}"))?;
        grpo.validate()
            .map_err(|e| anyhow::anyhow!("invalid grpo config: {e}"))?;
        let settings = RlSettings {
            algo: args.algo.unwrap_or(Algo::Grpo),
            task: args.task.clone().unwrap_or_else(|| DEFAULT_TASK.into()),
            tasks: args.tasks.clone(),
            prompts: args.prompts,
            grpo,
            restrain,
            data_dir: args.data_dir.clone().unwrap_or_else(default_data_dir),
            chat: policy.chat,
            stop_tokens: policy.stop_tokens.clone(),
        };
        let record = FinetuneRecord {
            kind: "rl".into(),
            init: source.clone(),
            settings: serde_json::to_value(&settings)?,
        };
        // Check the task and prompts before anything is written.
        task_by_name(&settings.task, &settings.data_dir)?;
        policy.start_run(run, &train, &record)?;
        (train, settings, source, Some(policy))
    };
    if let Some(steps) = args.steps {
        train.steps = steps;
    }
    let config = run.read_config()?;
    let (tokenizer, crc) = run.read_tokenizer(&config.model, None)?;
    let task: Arc<dyn Task> = Arc::from(task_by_name(&settings.task, &settings.data_dir)?);
    let problems = training_problems(&settings, task.as_ref())?;
    let prompts = to_prompts(&problems, &tokenizer, settings.chat)?;
    println!(
        "task: {} ({} training prompts{}); algo {:?}; run directory {}",
        settings.task,
        prompts.len(),
        settings
            .tasks
            .as_ref()
            .map_or(String::new(), |p| format!(" from {}", p.display())),
        settings.algo,
        run.root.display()
    );

    let inference = selected.device.clone();
    let reference = if settings.grpo.beta > 0.0 {
        Some(Policy::load(&init, &inference)?.model)
    } else {
        None
    };
    let estimator: Box<dyn AdvantageEstimator> = match settings.algo {
        Algo::Grpo => Box::new(GroupAdvantage {
            scale: settings.grpo.scale_rewards,
        }),
        Algo::Ttrl => Box::new(Ttrl::new(task.clone(), settings.grpo.scale_rewards)),
        Algo::Restrain => {
            let weights = if settings.restrain.prompt_weighting {
                let path = run.root.join(PROMPT_WEIGHTS);
                let weights = match &policy {
                    Some(policy) => {
                        let w = base_prompt_weights(
                            &policy.model.valid(),
                            &prompts,
                            &settings,
                            task.as_ref(),
                            &tokenizer,
                            config.model.max_position_embeddings,
                            train.seed,
                        )?;
                        w.save(&path)?;
                        println!(
                            "restrain: prompt weights of the base policy → {}",
                            path.display()
                        );
                        w
                    }
                    None => PromptWeights::load(&path)?,
                };
                Some(weights)
            } else {
                None
            };
            Box::new(Restrain::new(task.clone(), settings.restrain, weights)?)
        }
    };
    let parts = GrpoParts {
        prompts: &prompts,
        tokenizer: &tokenizer,
        // Gold-label GRPO learns from the verifier; TTRL and RESTRAIN ignore rewards when
        // they make advantages, so for them it is only logged (train accuracy), where gold
        // answers exist.
        rewards: vec![WeightedReward {
            reward: Box::new(CorrectnessReward::new(task.clone())),
            weight: 1.0,
        }],
        estimator,
        reference,
        stop_tokens: settings.stop_tokens.clone(),
        max_len: config.model.max_position_embeddings,
        completions_log: Some(run.root.join("completions.jsonl")),
    };
    let mut objective = GrpoObjective::new(settings.grpo.clone(), parts, train.grad_accum_steps)?;
    let state = FinetuneRun {
        run,
        train: &train,
        model_config: &config.model,
        device: train_device,
        tokenizer_crc32: crc,
        stop_at: args.stop_at,
        device_description: &selected.description,
    }
    .fit(policy.map(|p| p.model), &mut objective)?;
    if state.step < train.steps {
        println!(
            "paused at step {}; continue with: kiln rl --algo {} --out {} --resume",
            state.step,
            algo_name(settings.algo),
            run.root.display()
        );
    } else {
        println!(
            "done: {} steps; score it with: kiln rl eval --run {}",
            state.step,
            run.root.display()
        );
    }
    println!(
        "metrics and completions: {}, {}",
        run.metrics_path().display(),
        run.root.join("completions.jsonl").display()
    );
    Ok(())
}

fn algo_name(algo: Algo) -> &'static str {
    match algo {
        Algo::Grpo => "grpo",
        Algo::Ttrl => "ttrl",
        Algo::Restrain => "restrain",
    }
}

/// The training problems of a run: `--tasks FILE`, else `prompts` problems of the task.
fn training_problems(settings: &RlSettings, task: &dyn Task) -> Result<Vec<Problem>> {
    match &settings.tasks {
        Some(path) => read_prompts(path),
        None => Ok(task.problems(settings.prompts, TRAIN_SPLIT_SEED)?),
    }
}

/// Reads `{"prompt", "gold"?}` lines (other fields, such as `kiln task export`'s `id` and
/// `demonstration`, are ignored), naming the file and line of a bad one.
fn read_prompts(path: &Path) -> Result<Vec<Problem>> {
    #[derive(Deserialize)]
    struct Line {
        prompt: String,
        gold: Option<String>,
    }
    let bytes = std::fs::read(path).with_context(|| path.display().to_string())?;
    let mut out = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let at = format!("{}:{}", path.display(), i + 1);
        let text = std::str::from_utf8(raw).with_context(|| format!("{at}: invalid UTF-8"))?;
        if text.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(text)
            .with_context(|| format!("{at}: expected {{\"prompt\", \"gold\"}}"))?;
        out.push(Problem {
            id: format!("line-{}", i + 1),
            prompt: line.prompt,
            gold: line.gold,
            demonstration: None,
        });
    }
    if out.is_empty() {
        bail!("{}: no prompts", path.display());
    }
    Ok(out)
}

/// The policy's prompts: the problem's text, through the chat template for chat policies.
fn to_prompts(problems: &[Problem], tokenizer: &TextTokenizer, chat: bool) -> Result<Vec<Prompt>> {
    problems
        .iter()
        .map(|p| {
            let text = if chat {
                render_qwen3(&[Message::new("user", &p.prompt)], true, false)
            } else {
                p.prompt.clone()
            };
            Ok(Prompt {
                ids: tokenizer.encode(&text)?,
                text,
                gold: p.gold.clone(),
            })
        })
        .collect()
}

fn rollout_settings(
    grpo: &GrpoConfig,
    group: usize,
    stop: &[u32],
    max_len: usize,
) -> RolloutSettings {
    RolloutSettings {
        group_size: group,
        max_completion_length: grpo.max_completion_length,
        sampling: SamplingConfig {
            temperature: grpo.temperature as f64,
            top_k: grpo.top_k,
            top_p: grpo.top_p as f64,
        },
        stop_tokens: stop.to_vec(),
        pad_token: 0,
        max_len,
    }
}

/// RESTRAIN's prompt weights u_x = g(M(x)/n) from G rollouts of the frozen base policy per
/// training prompt (the notes' offline step, §1.2 component 3).
fn base_prompt_weights(
    base: &Transformer,
    prompts: &[Prompt],
    settings: &RlSettings,
    task: &dyn Task,
    tokenizer: &TextTokenizer,
    max_len: usize,
    seed: u64,
) -> Result<PromptWeights> {
    let group = settings.grpo.num_generations;
    let rollout = rollout_settings(&settings.grpo, group, &settings.stop_tokens, max_len);
    let mut weights = PromptWeights::new(&settings.restrain);
    let all: Vec<usize> = (0..prompts.len()).collect();
    let chunk = (256 / group).max(1);
    for (c, indices) in all.chunks(chunk).enumerate() {
        let rollouts = sample_rollouts(base, prompts, indices, &rollout, seed ^ (c as u64) << 32)?;
        for (&p, group) in indices.iter().zip(rollouts.chunks(group)) {
            let answers = group
                .iter()
                .map(|r| Ok(task.extract_answer(&tokenizer.decode(&r.tokens)?)))
                .collect::<Result<Vec<_>>>()?;
            weights.insert_from_answers(&prompts[p].text, &answers, &settings.restrain)?;
        }
    }
    Ok(weights)
}

#[derive(Args, Debug)]
struct RlEvalArgs {
    /// Run directory (any kiln run: pre-trained, SFT or RL).
    #[arg(long)]
    run: PathBuf,
    /// Task to score on (default: the RL run's task, else arith-easy). Its problems are drawn
    /// with --seed, leaving out any prompt the run trained on.
    #[arg(long)]
    task: Option<String>,
    /// Problems from a JSONL file of {"prompt", "gold"} instead, verified with --task's verifier.
    #[arg(long, value_name = "FILE.jsonl")]
    tasks: Option<PathBuf>,
    /// Number of problems (default 200).
    #[arg(long, default_value_t = 200)]
    n: usize,
    /// K: samples per problem (default 8).
    #[arg(long, default_value_t = 8)]
    k: usize,
    /// Sampling temperature (default 1.0, the rollouts'; 0 is greedy, where K > 1 repeats).
    #[arg(long, default_value_t = 1.0)]
    temperature: f64,
    /// Longest completion in tokens (default: the RL run's max_completion_length, else 256).
    #[arg(long)]
    max_tokens: Option<usize>,
    /// Seed of the held-out problems and of the sampling (default 1; training uses 0).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// kiln's data folder, where game24 reads reasoning/24.csv (default: the run's, else
    /// $KILN_DATA, else ~/.cache/kiln/data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Where to compute: auto (a hardware GPU through wgpu, else the CPU), cpu/flex, ndarray
    /// or wgpu (README, "Choosing a device").
    #[arg(long, value_enum, default_value = "auto")]
    device: DeviceChoice,
}

fn run_eval(args: RlEvalArgs) -> Result<()> {
    if args.n == 0 || args.k == 0 {
        bail!("--n and --k must be at least 1");
    }
    let selected = args.device.open()?;
    eprintln!("device: {}", selected.description);
    let run = RunDir::new(&args.run);
    let policy = Policy::load(&PolicySource::Run(args.run.clone()), &selected.device)?;
    let rl: Option<RlSettings> = FinetuneRecord::read(&run, "rl")
        .ok()
        .and_then(|r| serde_json::from_value(r.settings).ok());
    let data_dir = args
        .data_dir
        .clone()
        .or_else(|| rl.as_ref().map(|s| s.data_dir.clone()))
        .unwrap_or_else(default_data_dir);
    let task_name = args
        .task
        .clone()
        .or_else(|| rl.as_ref().map(|s| s.task.clone()))
        .unwrap_or_else(|| DEFAULT_TASK.into());
    let task = task_by_name(&task_name, &data_dir)?;
    let trained = trained_prompts(&run, rl.as_ref(), task.as_ref())?;
    let problems: Vec<Problem> = match &args.tasks {
        Some(path) => read_prompts(path)?,
        None => {
            let pool = task.problems(args.n + trained.len(), args.seed)?;
            pool.into_iter()
                .filter(|p| !trained.contains(&p.prompt))
                .take(args.n)
                .collect()
        }
    };
    if problems.iter().any(|p| p.gold.is_none()) {
        bail!("evaluation needs a gold answer for every problem");
    }
    let max_tokens = args
        .max_tokens
        .or_else(|| rl.as_ref().map(|s| s.grpo.max_completion_length))
        .unwrap_or(256);
    let prompts = to_prompts(&problems, &policy.tokenizer, policy.chat)?;
    let grpo = GrpoConfig {
        max_completion_length: max_tokens,
        temperature: args.temperature as f32,
        ..GrpoConfig::default()
    };
    let settings = rollout_settings(
        &grpo,
        args.k,
        &policy.stop_tokens,
        policy.config.max_position_embeddings,
    );
    let all: Vec<usize> = (0..prompts.len()).collect();
    let chunk = (256 / args.k).max(1);
    let mut texts: Vec<Vec<(String, usize)>> = Vec::with_capacity(prompts.len());
    let start = std::time::Instant::now();
    for (c, indices) in all.chunks(chunk).enumerate() {
        let rollouts = sample_rollouts(
            &policy.model,
            &prompts,
            indices,
            &settings,
            args.seed ^ (c as u64) << 32,
        )?;
        for group in rollouts.chunks(args.k) {
            texts.push(
                group
                    .iter()
                    .map(|r| Ok((policy.tokenizer.decode(&r.tokens)?, r.tokens.len())))
                    .collect::<Result<_>>()?,
            );
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let samples: Vec<Vec<Sample>> = texts
        .iter()
        .map(|g| {
            g.iter()
                .map(|(text, tokens)| Sample {
                    text,
                    tokens: *tokens,
                })
                .collect()
        })
        .collect();
    let report: EvalReport = score(task.as_ref(), &problems, &samples);
    print!("{}", report.table());
    let json = serde_json::to_string(&report)?;
    println!("{json}");
    eprintln!(
        "{} completions in {secs:.1}s ({:.1} completions/s)",
        problems.len() * args.k,
        (problems.len() * args.k) as f64 / secs.max(1e-9)
    );
    if let Some(path) = &args.json {
        kiln_fsutil::write_atomic(path, (json + "\n").as_bytes())
            .with_context(|| path.display().to_string())?;
    }
    Ok(())
}

/// The prompts a run trained on, left out of its evaluation: an RL run's task problems (or
/// prompt file), an SFT run's examples.
fn trained_prompts(
    run: &RunDir,
    rl: Option<&RlSettings>,
    task: &dyn Task,
) -> Result<HashSet<String>> {
    if let Some(settings) = rl {
        if settings.tasks.is_some() || settings.task == task.name() {
            return Ok(training_problems(settings, task)?
                .into_iter()
                .map(|p| p.prompt)
                .collect());
        }
        return Ok(HashSet::new());
    }
    let Ok(record) = FinetuneRecord::read(run, "sft") else {
        return Ok(HashSet::new());
    };
    let Some(data) = record.settings.get("data").and_then(|d| d.as_str()) else {
        return Ok(HashSet::new());
    };
    Ok(kiln_trainer::sft::read_sft_jsonl(Path::new(data))?
        .into_iter()
        .filter_map(|r| match r {
            kiln_trainer::sft::SftRecord::Text { prompt, .. } => Some(prompt),
            kiln_trainer::sft::SftRecord::Chat(_) => None,
        })
        .collect())
}
