//! The policies `kiln sft` and `kiln rl` start from (a kiln run directory or a Hugging Face
//! Llama/Qwen3 checkpoint), and the run directory a fine-tuning run writes: an ordinary kiln
//! run directory, so `kiln generate`, `kiln eval` and `kiln convert --to-hf` work on it
//! unchanged.
//!
//! Beside `config.json` a fine-tuning run keeps `finetune.json` ([`FinetuneRecord`]): where
//! its policy came from and the settings of the run, which `--resume` reads back.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use clap::Args;
use kiln_model::hf::{self, Architecture};
use kiln_model::tokenizer::TextTokenizer;
use kiln_model::{Transformer, TransformerConfig};
use kiln_trainer::TrainConfig;
use serde::{Deserialize, Serialize};

use super::corpus::DataSpec;
use super::generate::load_model;
use super::run_dir::{RunConfig, RunDir};

/// `--init RUN_DIR | --init-hf DIR`.
#[derive(Args, Debug, Clone)]
pub struct PolicyArgs {
    /// Initial policy: a kiln run directory (its latest checkpoint and tokenizer).
    #[arg(long, value_name = "RUN_DIR", conflicts_with = "init_hf")]
    pub init: Option<PathBuf>,
    /// Initial policy: a Hugging Face Llama/Qwen3 folder (config.json, model.safetensors,
    /// tokenizer.json), imported as `kiln convert --from-hf` does.
    #[arg(long, value_name = "DIR")]
    pub init_hf: Option<PathBuf>,
}

impl PolicyArgs {
    /// The source named by the flags; `None` when neither is given.
    pub fn source(&self) -> Option<PolicySource> {
        match (&self.init, &self.init_hf) {
            (Some(run), _) => Some(PolicySource::Run(run.clone())),
            (None, Some(dir)) => Some(PolicySource::Hf(dir.clone())),
            (None, None) => None,
        }
    }

    pub fn given(&self) -> bool {
        self.init.is_some() || self.init_hf.is_some()
    }
}

/// Where a policy's weights come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicySource {
    Run(PathBuf),
    Hf(PathBuf),
}

impl std::fmt::Display for PolicySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Run(p) => write!(f, "kiln run {}", p.display()),
            Self::Hf(p) => write!(f, "Hugging Face checkpoint {}", p.display()),
        }
    }
}

/// A loaded policy.
pub struct Policy {
    pub model: Transformer,
    pub config: TransformerConfig,
    pub tokenizer: TextTokenizer,
    /// `tokenizer.json` as read, copied into the new run.
    tokenizer_json: Vec<u8>,
    /// The policy speaks Qwen3's chat template (`<|im_start|>` … `<|im_end|>`).
    pub chat: bool,
    /// Token ids that end a completion.
    pub stop_tokens: Vec<u32>,
    /// The text data of the run it came from (a Hugging Face checkpoint: the built-in corpus),
    /// so `kiln eval` of the fine-tuned run scores what its parent was scored on.
    pub data: DataSpec,
}

impl Policy {
    /// Loads `source` onto `device`.
    ///
    /// # Errors
    /// A folder that is not a run or a checkpoint, a Hugging Face folder without a
    /// `tokenizer.json`, or a tokenizer that does not fit the model (each naming the file).
    pub fn load(source: &PolicySource, device: &Device) -> Result<Self> {
        match source {
            PolicySource::Run(dir) => {
                let run = RunDir::new(dir);
                if !run.holds_run() {
                    bail!(
                        "{}: not a kiln run directory (no config.json)",
                        dir.display()
                    );
                }
                let config = run.read_config()?;
                let loaded = load_model(&run, &config, device)?;
                let path = run.tokenizer_path();
                let tokenizer_json =
                    std::fs::read(&path).with_context(|| path.display().to_string())?;
                // A fine-tuned run speaks as its initial policy did (chat template, EOS ids).
                let record = std::fs::read_to_string(FinetuneRecord::path(&run))
                    .ok()
                    .and_then(|t| serde_json::from_str::<FinetuneRecord>(&t).ok());
                let setting =
                    |key: &str| record.as_ref().and_then(|r| r.settings.get(key).cloned());
                let chat = setting("chat").and_then(|v| v.as_bool()).unwrap_or(false);
                let stop_tokens = setting("stop_tokens")
                    .and_then(|v| serde_json::from_value(v).ok())
                    .unwrap_or_else(|| loaded.tokenizer.end_of_text().into_iter().collect());
                Ok(Self {
                    model: loaded.model,
                    config: config.model,
                    tokenizer: loaded.tokenizer,
                    tokenizer_json,
                    chat,
                    stop_tokens,
                    data: config.data,
                })
            }
            PolicySource::Hf(dir) => {
                let loaded = hf::load(dir, device)?;
                let path = dir.join("tokenizer.json");
                if !path.exists() {
                    bail!(
                        "{}: no tokenizer.json; a policy needs the tokenizer it was trained with",
                        dir.display()
                    );
                }
                let tokenizer = hf::load_tokenizer(&path, &loaded.model)?;
                let tokenizer_json =
                    std::fs::read(&path).with_context(|| path.display().to_string())?;
                let im_end = tokenizer.token_to_id("<|im_end|>");
                let chat = loaded.config.architecture == Architecture::Qwen3 && im_end.is_some();
                let mut stop_tokens = loaded.config.eos_token_ids.clone();
                stop_tokens.extend(im_end.filter(|_| chat));
                stop_tokens.sort_unstable();
                stop_tokens.dedup();
                Ok(Self {
                    model: loaded.model,
                    config: loaded.config.model,
                    tokenizer,
                    tokenizer_json,
                    chat,
                    stop_tokens,
                    data: DataSpec::Builtin,
                })
            }
        }
    }

    /// Creates the run directory `run` for a fine-tuning run of this policy: its tokenizer,
    /// `config.json` (`train` as given) and `finetune.json`.
    ///
    /// # Errors
    /// `run` already holds a run (continue it with `--resume`), or a write fails.
    pub fn start_run(
        &self,
        run: &RunDir,
        train: &TrainConfig,
        record: &FinetuneRecord,
    ) -> Result<()> {
        if run.holds_run() || run.checkpoints().exists() {
            bail!(
                "{}: already holds a run; continue it with --resume or choose another --out",
                run.root.display()
            );
        }
        std::fs::create_dir_all(&run.root).with_context(|| run.root.display().to_string())?;
        let path = run.tokenizer_path();
        kiln_fsutil::write_atomic(&path, &self.tokenizer_json)
            .with_context(|| path.display().to_string())?;
        record.write(run)?;
        run.write_config(&RunConfig {
            model: self.config.clone(),
            train: train.clone(),
            data: self.data.clone(),
        })
    }
}

/// `finetune.json`: what `--resume` needs besides `config.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FinetuneRecord {
    /// `sft` or `rl`.
    pub kind: String,
    /// The initial policy (also the frozen reference of a KL-regularised RL run).
    pub init: PolicySource,
    /// The run's own settings (the command's flags and config sections).
    pub settings: serde_json::Value,
}

impl FinetuneRecord {
    pub fn path(run: &RunDir) -> PathBuf {
        run.root.join("finetune.json")
    }

    pub fn write(&self, run: &RunDir) -> Result<()> {
        let path = Self::path(run);
        let text = serde_json::to_string_pretty(self)? + "\n";
        kiln_fsutil::write_atomic(&path, text.as_bytes())
            .with_context(|| path.display().to_string())
    }

    /// Reads the record of a `kind` run in `run`.
    pub fn read(run: &RunDir, kind: &str) -> Result<Self> {
        let path = Self::path(run);
        if !run.holds_run() {
            bail!("{}: no run to resume (no config.json)", run.root.display());
        }
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{}: not a `kiln {kind}` run (its record is missing)",
                path.display()
            )
        })?;
        let record: Self = serde_json::from_str(&text)
            .with_context(|| format!("{}: malformed fine-tuning record", path.display()))?;
        if record.kind != kind {
            bail!(
                "{}: this is a `kiln {}` run, not a `kiln {kind}` one",
                run.root.display(),
                record.kind
            );
        }
        Ok(record)
    }
}

/// Reads the `train` section (and returns the others) of a `--config` file of `kiln sft` or
/// `kiln rl`: `{"train": {...}, "<section>": {...}, ...}`; an unknown top-level key is an
/// error naming the file.
pub fn read_sections(
    path: &Path,
    known: &[&str],
    train_defaults: TrainConfig,
) -> Result<(TrainConfig, serde_json::Map<String, serde_json::Value>)> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: malformed config JSON", path.display()))?;
    let Some(mut object) = value.as_object().cloned() else {
        bail!("{}: expected a JSON object", path.display());
    };
    if let Some(key) = object
        .keys()
        .find(|k| *k != "train" && !known.contains(&k.as_str()))
    {
        bail!(
            "{}: unknown section {key:?} (known: train, {})",
            path.display(),
            known.join(", ")
        );
    }
    let train = match object.remove("train") {
        None => train_defaults,
        Some(given) => {
            let mut merged = serde_json::to_value(&train_defaults)?;
            let (Some(m), Some(g)) = (merged.as_object_mut(), given.as_object()) else {
                bail!("{}: train: expected a JSON object", path.display());
            };
            m.extend(g.iter().map(|(k, v)| (k.clone(), v.clone())));
            // An unknown key (a typo) is refused by `from_value`.
            TrainConfig::from_value(&merged)
                .map_err(|e| anyhow::anyhow!("{}: train: {e}", path.display()))?
        }
    };
    Ok((train, object))
}

/// Runs `body` on the run directory `out` (default: the first free `runs/run-N`); a new run
/// that fails before its first checkpoint leaves no directory behind.
pub fn in_run_dir(out: Option<&PathBuf>, body: impl FnOnce(&RunDir) -> Result<()>) -> Result<()> {
    let run = RunDir::new(
        out.cloned()
            .unwrap_or_else(|| super::run_dir::next_default(Path::new("runs"))),
    );
    let created = !run.root.exists();
    let result = body(&run);
    if result.is_err() && created && !run.checkpoints().exists() {
        let _ = std::fs::remove_dir_all(&run.root);
    }
    result
}

/// What a fine-tuning run (`sft`, `rl`) hands the one training loop.
pub struct FinetuneRun<'a> {
    pub run: &'a RunDir,
    pub train: &'a TrainConfig,
    pub model_config: &'a TransformerConfig,
    /// The run's autodiff device.
    pub device: Device,
    pub tokenizer_crc32: u32,
    pub stop_at: Option<usize>,
    pub device_description: &'a str,
}

impl FinetuneRun<'_> {
    /// Trains from `policy` (a new run) or from the run's latest checkpoint (`None`: resume),
    /// with the progress bar, metrics and plot of every training command.
    pub fn fit(
        &self,
        policy: Option<Transformer>,
        objective: &mut dyn kiln_trainer::objective::Objective,
    ) -> Result<kiln_trainer::TrainState> {
        let trainer = kiln_trainer::Trainer {
            config: self.train.clone(),
            model_config: self.model_config.clone(),
            device: self.device.clone(),
            checkpoints: Some(self.run.checkpoints()),
            tokenizer_crc32: Some(self.tokenizer_crc32),
            stop_at: self.stop_at,
        };
        let state = match policy {
            Some(model) => trainer.state_from(model),
            None => {
                let state = trainer.resume_state(objective)?;
                println!("resuming at step {} of {}", state.step, self.train.steps);
                state
            }
        };
        super::progress::fit_with_progress(
            self.run,
            &trainer,
            state,
            objective,
            self.device_description,
        )
    }
}
