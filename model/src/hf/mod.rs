//! Hugging Face decoder checkpoints (Llama family and Qwen3): import from `config.json` +
//! safetensors (single file or sharded) + `tokenizer.json`, and export back to the same
//! layout. Weights in f32, bf16 or f16 load; the model computes in f32.

pub mod chat;
pub mod config;
pub mod export;
pub mod import;
pub mod safetensors;

use std::path::{Path, PathBuf};

use burn::tensor::Device;

pub use config::{Architecture, HfConfig};
pub use export::export;
pub use import::Checkpoint;

use crate::error::ModelError;
use crate::tokenizer::TextTokenizer;
use crate::transformer::Transformer;

/// A model loaded from a Hugging Face checkpoint directory.
#[derive(Debug)]
pub struct HfModel {
    pub model: Transformer,
    pub config: HfConfig,
    pub dir: PathBuf,
}

/// Loads `dir/config.json` and the weights in `dir` onto `device`. The end-of-sequence ids
/// of `generation_config.json`, when present, come first in `config.eos_token_ids`.
pub fn load(dir: &Path, device: &Device) -> Result<HfModel, ModelError> {
    let mut config = HfConfig::from_file(&dir.join("config.json"))?;
    let generation = dir.join("generation_config.json");
    if generation.exists() {
        let err = |reason: String| ModelError::Checkpoint {
            path: generation.clone(),
            reason,
        };
        let text = std::fs::read_to_string(&generation).map_err(|e| err(e.to_string()))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| err(format!("malformed JSON: {e}")))?;
        let mut eos = config::token_ids(&value["eos_token_id"]);
        for id in &config.eos_token_ids {
            if !eos.contains(id) {
                eos.push(*id);
            }
        }
        config.eos_token_ids = eos;
    }
    let checkpoint = Checkpoint::open(dir)?;
    // Parameters are initialised lazily, so this allocates nothing that is not replaced below.
    let mut model = config.model.init(device);
    import::load_weights(&mut model, &checkpoint, device)?;
    Ok(HfModel {
        model,
        config,
        dir: dir.to_path_buf(),
    })
}

/// Loads `path` (a `tokenizer.json`) for `model`, refusing a tokenizer that can produce ids
/// outside the embedding.
pub fn load_tokenizer(path: &Path, model: &Transformer) -> Result<TextTokenizer, ModelError> {
    let tokenizer = TextTokenizer::from_file(path)?;
    if tokenizer.vocab_size() > model.vocab_size() {
        return Err(ModelError::Tokenizer {
            path: path.to_path_buf(),
            reason: format!(
                "the tokenizer has {} ids but the model's embedding has only {} rows",
                tokenizer.vocab_size(),
                model.vocab_size()
            ),
        });
    }
    Ok(tokenizer)
}
