//! The layout of a run directory and its `config.json`.
//!
//! ```text
//! config.json       RunConfig: model + training hyper-parameters + data, enough to repeat the run
//! tokenizer.json    the tokenizer (Hugging Face format)
//! checkpoints/      see kiln_trainer::checkpoint
//! metrics.jsonl     one JSON object per logged step
//! loss.png          training and held-out loss
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use kiln_model::TransformerConfig;
use kiln_model::tokenizer::TextTokenizer;
use kiln_trainer::{CheckpointDir, TrainConfig};
use serde::{Deserialize, Serialize};

use super::corpus::DataSpec;

/// The full configuration of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunConfig {
    pub model: TransformerConfig,
    pub train: TrainConfig,
    pub data: DataSpec,
}

/// A run directory.
pub struct RunDir {
    pub root: PathBuf,
}

impl RunDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.json")
    }
    pub fn tokenizer_path(&self) -> PathBuf {
        self.root.join("tokenizer.json")
    }
    pub fn metrics_path(&self) -> PathBuf {
        self.root.join("metrics.jsonl")
    }
    pub fn plot_path(&self) -> PathBuf {
        self.root.join("loss.png")
    }
    pub fn checkpoints(&self) -> CheckpointDir {
        CheckpointDir::new(self.root.join("checkpoints"))
    }

    /// Whether the folder already holds a run.
    pub fn holds_run(&self) -> bool {
        self.config_path().exists()
    }

    /// Reads `config.json`.
    pub fn read_config(&self) -> Result<RunConfig> {
        let path = self.config_path();
        if !self.root.is_dir() {
            bail!("{}: no such run directory", self.root.display());
        }
        let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
        let config: RunConfig = serde_json::from_str(&text)
            .with_context(|| format!("{}: malformed run config", path.display()))?;
        config
            .model
            .validate()
            .with_context(|| format!("{}", path.display()))?;
        config
            .train
            .validate()
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(config)
    }

    /// Writes `config.json` atomically.
    pub fn write_config(&self, config: &RunConfig) -> Result<()> {
        let text = serde_json::to_string_pretty(config)?;
        kiln_trainer::fsutil::write_atomic(&self.config_path(), text.as_bytes())?;
        Ok(())
    }

    /// Loads `tokenizer.json` and checks it fits `model` (and, if given, the checkpoint's
    /// record of the tokenizer it was trained with).
    pub fn read_tokenizer(
        &self,
        model: &TransformerConfig,
        trained_with: Option<u32>,
    ) -> Result<(TextTokenizer, u32)> {
        let path = self.tokenizer_path();
        let bytes = std::fs::read(&path).with_context(|| format!("{}", path.display()))?;
        let tokenizer = TextTokenizer::from_file(&path)?;
        if tokenizer.vocab_size() > model.vocab_size {
            bail!(
                "{}: the tokenizer has {} ids but the model's vocabulary has {}: it is not the tokenizer of this checkpoint",
                path.display(),
                tokenizer.vocab_size(),
                model.vocab_size
            );
        }
        let crc = crc32fast::hash(&bytes);
        if trained_with.is_some_and(|c| c != crc) {
            bail!(
                "{}: this tokenizer differs from the one the checkpoint was trained with",
                path.display()
            );
        }
        Ok((tokenizer, crc))
    }
}

/// The first `runs/run-N` that does not exist yet.
pub fn next_default(root: &Path) -> PathBuf {
    (1..)
        .map(|n| root.join(format!("run-{n}")))
        .find(|p| !p.exists())
        .expect("an unused name")
}
