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
    #[serde(deserialize_with = "model_with_defaults")]
    pub model: TransformerConfig,
    #[serde(deserialize_with = "train_with_defaults")]
    pub train: TrainConfig,
    pub data: DataSpec,
}

// Both parts go through their `from_*` readers, which fill the fields that later versions of
// kiln added with their defaults, so run directories written by earlier versions still load.
fn model_with_defaults<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<TransformerConfig, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    TransformerConfig::from_json(&value.to_string()).map_err(serde::de::Error::custom)
}

fn train_with_defaults<'de, D: serde::Deserializer<'de>>(d: D) -> Result<TrainConfig, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    TrainConfig::from_value(&value).map_err(serde::de::Error::custom)
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
        let path = self.config_path();
        kiln_fsutil::write_atomic(&path, text.as_bytes())
            .with_context(|| path.display().to_string())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_written_before_later_fields_existed_still_reads() {
        // config.json of a run made by the first release (no hidden_act, qk_norm, mta, …, no
        // relu_finetune).
        let old = r#"{"model": {"vocab_size": 4096, "hidden_size": 256, "intermediate_size": 688,
            "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 4,
            "max_position_embeddings": 256, "rope_theta": 10000.0, "rms_norm_eps": 0.00001,
            "tie_word_embeddings": true, "initializer_range": 0.02},
            "train": {"steps": 400, "batch_size": 16, "seq_len": 128, "grad_accum_steps": 1,
            "learning_rate": 0.003, "min_lr_ratio": 0.1, "warmup_steps": 40, "weight_decay": 0.1,
            "beta1": 0.9, "beta2": 0.95, "epsilon": 1e-8, "grad_clip": 1.0, "log_every": 10,
            "eval_every": 100, "eval_batches": 0, "checkpoint_every": 100, "seed": 42},
            "data": {"kind": "builtin"}}"#;
        let config: RunConfig = serde_json::from_str(old).unwrap();
        assert_eq!(config.model, TransformerConfig::preset("small").unwrap());
        assert_eq!(config.train.steps, 400);
        let bad = old.replace("\"seq_len\": 128", "\"seq_len\": 0");
        assert!(serde_json::from_str::<RunConfig>(&bad).is_err());
    }
}
