//! Hugging Face `config.json` ↔ [`TransformerConfig`] for the Llama and Qwen3 families.
//!
//! Both the current form of the file (transformers ≥ 5: `rope_parameters`) and the legacy one
//! that published checkpoints carry (`rope_theta` + `rope_scaling`) are read; the legacy one
//! is written, since every transformers version reads it.

use std::path::Path;

use serde_json::{Value, json};

use crate::config::TransformerConfig;
use crate::error::ModelError;
use crate::rope_scaling::RopeScaling;

/// The model families kiln imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// `LlamaForCausalLM` (Llama 2/3/3.1 and the many models with its layout).
    Llama,
    /// `Qwen3ForCausalLM`: Llama plus an RMSNorm of every query and key head.
    Qwen3,
}

impl Architecture {
    /// The `model_type` of `config.json`.
    pub fn model_type(self) -> &'static str {
        match self {
            Self::Llama => "llama",
            Self::Qwen3 => "qwen3",
        }
    }

    /// The transformers class, for `architectures`.
    pub fn class(self) -> &'static str {
        match self {
            Self::Llama => "LlamaForCausalLM",
            Self::Qwen3 => "Qwen3ForCausalLM",
        }
    }
}

/// What kiln takes from a Hugging Face `config.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct HfConfig {
    pub architecture: Architecture,
    pub model: TransformerConfig,
    pub bos_token_id: Option<u32>,
    /// Generation ends at any of these (may be several, as in Qwen3 and Llama 3 instruct).
    pub eos_token_ids: Vec<u32>,
}

impl HfConfig {
    /// The config of a kiln model; the architecture follows from its q/k norms.
    pub fn for_model(model: &TransformerConfig) -> Self {
        Self {
            architecture: if model.qk_norm {
                Architecture::Qwen3
            } else {
                Architecture::Llama
            },
            model: model.clone(),
            bos_token_id: None,
            eos_token_ids: Vec::new(),
        }
    }

    /// Reads `config.json`, naming the file in every error.
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        let err = |reason: String| ModelError::Checkpoint {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| err(format!("malformed config: {e}")))?;
        Self::from_json(&value).map_err(err)
    }

    /// Maps the keys of a Hugging Face config; architectures kiln cannot run exactly
    /// (biases, other activations, sliding windows, other RoPE scalings) are errors.
    pub fn from_json(c: &Value) -> Result<Self, String> {
        let architecture = match c["model_type"].as_str() {
            Some("llama") => Architecture::Llama,
            Some("qwen3") => Architecture::Qwen3,
            Some(other) => {
                return Err(format!(
                    "unknown model_type '{other}': kiln imports 'llama' and 'qwen3'"
                ));
            }
            None => return Err("no model_type".into()),
        };
        let size = |key: &str| -> Result<usize, String> {
            c[key]
                .as_u64()
                .map(|v| v as usize)
                .ok_or_else(|| format!("missing or non-integer '{key}'"))
        };
        if let Some(act) = c["hidden_act"].as_str().filter(|a| *a != "silu") {
            return Err(format!("hidden_act '{act}' is not supported (only 'silu')"));
        }
        for key in ["attention_bias", "mlp_bias", "use_sliding_window"] {
            if c[key].as_bool() == Some(true) {
                return Err(format!("'{key}: true' is not supported"));
            }
        }
        let (hidden, heads) = (size("hidden_size")?, size("num_attention_heads")?);
        let head_dim = c["head_dim"]
            .as_u64()
            .map(|d| d as usize)
            .filter(|&d| heads == 0 || d != hidden / heads || hidden % heads != 0);
        // transformers ≥ 5 nests θ and the scaling in `rope_parameters`.
        let rope = c["rope_parameters"]
            .as_object()
            .map(|p| Value::Object(p.clone()));
        let theta = rope
            .as_ref()
            .map_or(&c["rope_theta"], |p| &p["rope_theta"])
            .as_f64()
            .unwrap_or(10000.0);
        let scaling = rope_scaling(rope.as_ref().unwrap_or(&c["rope_scaling"]))?;
        let mut model = TransformerConfig::new(
            size("vocab_size")?,
            hidden,
            size("intermediate_size")?,
            size("num_hidden_layers")?,
            heads,
            c["num_key_value_heads"]
                .as_u64()
                .map_or(heads, |v| v as usize),
        )
        .with_rope_theta(theta)
        .with_rope_scaling(scaling)
        .with_head_dim(head_dim)
        .with_qk_norm(architecture == Architecture::Qwen3)
        .with_tie_word_embeddings(c["tie_word_embeddings"].as_bool().unwrap_or(false));
        if let Some(n) = c["max_position_embeddings"].as_u64() {
            model.max_position_embeddings = n as usize;
        }
        if let Some(eps) = c["rms_norm_eps"].as_f64() {
            model.rms_norm_eps = eps;
        }
        if let Some(std) = c["initializer_range"].as_f64() {
            model.initializer_range = std;
        }
        model.validate().map_err(|e| e.to_string())?;
        Ok(Self {
            architecture,
            model,
            bos_token_id: c["bos_token_id"].as_u64().map(|v| v as u32),
            eos_token_ids: token_ids(&c["eos_token_id"]),
        })
    }

    /// The `config.json` of this model, weights stored as `dtype` (`"float32"`, `"bfloat16"`).
    pub fn to_json(&self, dtype: &str) -> Value {
        let m = &self.model;
        let eos = match self.eos_token_ids.as_slice() {
            [] => Value::Null,
            [one] => json!(one),
            many => json!(many),
        };
        let mut c = json!({
            "architectures": [self.architecture.class()],
            "model_type": self.architecture.model_type(),
            "vocab_size": m.vocab_size,
            "hidden_size": m.hidden_size,
            "intermediate_size": m.intermediate_size,
            "num_hidden_layers": m.num_hidden_layers,
            "num_attention_heads": m.num_attention_heads,
            "num_key_value_heads": m.num_key_value_heads,
            "head_dim": m.head_dim(),
            "max_position_embeddings": m.max_position_embeddings,
            "rms_norm_eps": m.rms_norm_eps,
            "rope_theta": m.rope_theta,
            "rope_scaling": m.rope_scaling,
            "tie_word_embeddings": m.tie_word_embeddings,
            "initializer_range": m.initializer_range,
            "hidden_act": "silu",
            "attention_bias": false,
            "attention_dropout": 0.0,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": eos,
            "torch_dtype": dtype,
            "use_cache": true,
        });
        let extra = match self.architecture {
            Architecture::Llama => json!({ "mlp_bias": false, "pretraining_tp": 1 }),
            Architecture::Qwen3 => json!({
                "use_sliding_window": false,
                "sliding_window": null,
                "max_window_layers": m.num_hidden_layers,
            }),
        };
        if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
            c.extend(extra.clone());
        }
        c
    }
}

/// A `rope_scaling` (or `rope_parameters`) object: `None` for plain RoPE.
fn rope_scaling(value: &Value) -> Result<Option<RopeScaling>, String> {
    if value.is_null() {
        return Ok(None);
    }
    let kind = value["rope_type"]
        .as_str()
        .or(value["type"].as_str())
        .unwrap_or("default");
    match kind {
        "default" => Ok(None),
        "llama3" => {
            let number = |key: &str| {
                value[key]
                    .as_f64()
                    .ok_or_else(|| format!("rope_scaling: missing '{key}'"))
            };
            let scaling = RopeScaling {
                rope_type: kind.into(),
                factor: number("factor")?,
                low_freq_factor: number("low_freq_factor")?,
                high_freq_factor: number("high_freq_factor")?,
                original_max_position_embeddings: number("original_max_position_embeddings")?
                    as usize,
            };
            scaling.validate().map_err(|e| e.to_string())?;
            Ok(Some(scaling))
        }
        other => Err(format!(
            "rope_scaling type '{other}' is not supported (only 'default' and 'llama3')"
        )),
    }
}

/// A token id or a list of them (`eos_token_id` may be either); anything else is no id.
pub fn token_ids(value: &Value) -> Vec<u32> {
    match value {
        Value::Number(n) => n.as_u64().map(|v| vec![v as u32]).unwrap_or_default(),
        Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_u64())
            .map(|v| v as u32)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_configs_read_back() {
        let model = TransformerConfig::new(96, 32, 64, 2, 4, 2)
            .with_head_dim(Some(16))
            .with_qk_norm(true)
            .with_rope_theta(1e6);
        let mut hf = HfConfig::for_model(&model);
        hf.eos_token_ids = vec![2, 5];
        assert_eq!(hf.architecture, Architecture::Qwen3);
        assert_eq!(HfConfig::from_json(&hf.to_json("float32")).unwrap(), hf);
    }

    #[test]
    fn unsupported_architectures_are_named() {
        let base = json!({"model_type": "llama", "vocab_size": 8, "hidden_size": 8,
            "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2});
        assert!(HfConfig::from_json(&base).is_ok());
        let with = |key: &str, v: Value| {
            let mut c = base.clone();
            c[key] = v;
            HfConfig::from_json(&c).unwrap_err()
        };
        assert!(with("model_type", json!("gpt2")).contains("gpt2"));
        assert!(with("hidden_act", json!("gelu")).contains("gelu"));
        assert!(with("attention_bias", json!(true)).contains("attention_bias"));
        assert!(with("rope_scaling", json!({"type": "yarn", "factor": 4.0})).contains("yarn"));
        assert!(with("vocab_size", json!("x")).contains("vocab_size"));
    }
}
