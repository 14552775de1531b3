//! The decoder's architecture, as a JSON-serialisable Burn [`Config`].
//!
//! Field names follow Hugging Face's `LlamaConfig` so that a `config.json` of a Llama-family
//! checkpoint reads as-is; presets live as JSON files in `model/presets/`.

use std::path::Path;

use burn::config::Config;
use burn::tensor::Device;

use crate::activation::HiddenAct;
use crate::error::ModelError;
use crate::mta::MtaConfig;
use crate::rope_scaling::RopeScaling;
use crate::transformer::Transformer;

/// Architecture of a decoder-only transformer language model (Llama layout: pre-RMSNorm,
/// rotary positions, grouped-query attention, SwiGLU feed-forward).
#[derive(Config, Debug, PartialEq)]
pub struct TransformerConfig {
    /// Vocabulary size (rows of the token embedding).
    pub vocab_size: usize,
    /// Width of the residual stream, `d_model`.
    pub hidden_size: usize,
    /// Width of the SwiGLU hidden layer.
    pub intermediate_size: usize,
    /// Number of decoder layers.
    pub num_hidden_layers: usize,
    /// Number of query heads.
    pub num_attention_heads: usize,
    /// Number of key/value heads (grouped-query attention, Ainslie et al. 2023); equal to
    /// `num_attention_heads` for plain multi-head attention.
    pub num_key_value_heads: usize,
    /// Longest sequence the model is meant for (RoPE tables and the KV cache are sized by it).
    #[config(default = 2048)]
    pub max_position_embeddings: usize,
    /// RoPE base θ (Su et al. 2021, eq. 15): frequencies θ^(−2i/d).
    #[config(default = 10000.0)]
    pub rope_theta: f64,
    /// ε inside the RMSNorm square root (Zhang & Sennrich 2019).
    #[config(default = 1e-5)]
    pub rms_norm_eps: f64,
    /// Share the token embedding with the output projection (Press & Wolf 2017).
    #[config(default = false)]
    pub tie_word_embeddings: bool,
    /// Standard deviation of the normal initialisation of every weight matrix (HF
    /// `initializer_range`).
    #[config(default = 0.02)]
    pub initializer_range: f64,
    /// Size of one attention head where it is not `hidden_size / num_attention_heads` (HF
    /// `head_dim`, e.g. Qwen3).
    pub head_dim: Option<usize>,
    /// RMSNorm of every query and key head before RoPE (Qwen3's `q_norm` / `k_norm`).
    #[config(default = false)]
    pub qk_norm: bool,
    /// Rescaled RoPE frequencies for long contexts (HF `rope_scaling`, type `llama3`).
    pub rope_scaling: Option<RopeScaling>,
    /// Non-linearity of the gated feed-forward block (HF `hidden_act`): `silu`, `relu` or
    /// `stocha` (Lomeli et al. 2025).
    #[config(default = "HiddenAct::Silu")]
    pub hidden_act: HiddenAct,
    /// For `stocha`: probability of SILU (rather than RELU) on a negative input at training.
    #[config(default = 0.7)]
    pub stocha_p: f64,
    /// Multi-Token Attention settings (Golovneva et al. 2025); absent: standard attention.
    pub mta: Option<MtaConfig>,
}

impl TransformerConfig {
    /// Size of one attention head.
    pub fn head_dim(&self) -> usize {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads)
    }

    /// Checks the values that the layers rely on.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::InvalidConfig(m));
        if self.vocab_size == 0 || self.hidden_size == 0 || self.intermediate_size == 0 {
            return bad("vocab_size, hidden_size and intermediate_size must be positive".into());
        }
        if self.num_hidden_layers == 0 || self.num_attention_heads == 0 {
            return bad("num_hidden_layers and num_attention_heads must be positive".into());
        }
        if self.head_dim == Some(0) {
            return bad("head_dim must be positive".into());
        }
        if self.head_dim.is_none() && self.hidden_size % self.num_attention_heads != 0 {
            return bad(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.head_dim() % 2 != 0 {
            return bad(format!(
                "head dim {} must be even for RoPE",
                self.head_dim()
            ));
        }
        if self.num_key_value_heads == 0 || self.num_attention_heads % self.num_key_value_heads != 0
        {
            return bad(format!(
                "num_attention_heads {} is not a multiple of num_key_value_heads {}",
                self.num_attention_heads, self.num_key_value_heads
            ));
        }
        if !(self.rope_theta > 0.0 && self.rms_norm_eps > 0.0 && self.initializer_range > 0.0) {
            return bad("rope_theta, rms_norm_eps and initializer_range must be positive".into());
        }
        if let Some(scaling) = &self.rope_scaling {
            scaling.validate()?;
        }
        if !(0.0..=1.0).contains(&self.stocha_p) {
            return bad(format!("stocha_p must be in [0, 1], got {}", self.stocha_p));
        }
        if let Some(mta) = &self.mta {
            mta.validate(self.num_attention_heads, self.num_hidden_layers)
                .map_err(ModelError::InvalidConfig)?;
        }
        Ok(())
    }

    /// Reads and validates a config from a JSON file, naming the file in every error.
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::Config {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Self::from_json(&text).map_err(|reason| ModelError::Config {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Parses and validates a config from JSON text. Fields with documented defaults may be
    /// left out; keys kiln does not use (as in Hugging Face `config.json` files) are ignored.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let mut value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("malformed model config: {e}"))?;
        let object = value
            .as_object_mut()
            .ok_or("malformed model config: expected a JSON object")?;
        let defaults =
            serde_json::to_value(Self::new(1, 1, 1, 1, 1, 1)).expect("config serialises");
        for key in [
            "max_position_embeddings",
            "rope_theta",
            "rms_norm_eps",
            "tie_word_embeddings",
            "initializer_range",
            "head_dim",
            "qk_norm",
            "rope_scaling",
            "hidden_act",
            "stocha_p",
        ] {
            if !object.contains_key(key) {
                object.insert(key.into(), defaults[key].clone());
            }
        }
        let config: Self =
            serde_json::from_value(value).map_err(|e| format!("malformed model config: {e}"))?;
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }

    /// A built-in preset by name (`model/presets/<name>.json`).
    pub fn preset(name: &str) -> Option<Self> {
        let text = PRESETS.iter().find(|(n, _)| *n == name)?.1;
        Some(Self::from_json(text).expect("built-in presets are valid"))
    }

    /// Names of the built-in presets.
    pub fn preset_names() -> impl Iterator<Item = &'static str> {
        PRESETS.iter().map(|(n, _)| *n)
    }

    /// Builds a freshly initialised model on `device`.
    pub fn init(&self, device: &Device) -> Transformer {
        Transformer::new(self, device)
    }

    /// Number of parameters of the model this config describes.
    pub fn num_params(&self) -> usize {
        let (d, f, l) = (
            self.hidden_size,
            self.intermediate_size,
            self.num_hidden_layers,
        );
        let q = self.num_attention_heads * self.head_dim();
        let kv = self.num_key_value_heads * self.head_dim();
        let qk_norm = if self.qk_norm { 2 * self.head_dim() } else { 0 };
        let attn = d * q * 2 + d * kv * 2 + qk_norm;
        let layer = attn + 3 * d * f + 2 * d;
        let head = if self.tie_word_embeddings {
            0
        } else {
            self.vocab_size * d
        };
        let mta = self.mta.as_ref().map_or(0, |m| {
            m.num_params(self.num_attention_heads, self.head_dim(), l)
        });
        self.vocab_size * d + l * layer + d + head + mta
    }
}

const PRESETS: &[(&str, &str)] = &[
    ("small", include_str!("../presets/small.json")),
    ("tiny", include_str!("../presets/tiny.json")),
    // Multi-Token Attention (Golovneva et al. 2025): the toy-task model of §3 and the shapes
    // of the "880M" model (the reference's configs/830M_mta.yaml).
    (
        "toy-blocks-mta",
        include_str!("../presets/toy-blocks-mta.json"),
    ),
    ("mta-830m", include_str!("../presets/mta-830m.json")),
    // `small` with the 830M model's MTA layer (pre- and post-softmax 6 × 11 kernels, head
    // mixing over all heads, group norm, gating) in one layer of four, as the paper's one in
    // four: for the perplexity comparison with `small` (BENCHMARKS.md).
    ("small-mta", include_str!("../presets/small-mta.json")),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid() {
        for name in TransformerConfig::preset_names() {
            TransformerConfig::preset(name).unwrap().validate().unwrap();
        }
    }

    #[test]
    fn bad_configs_are_rejected() {
        let mut c = TransformerConfig::preset("tiny").unwrap();
        c.num_key_value_heads = 3;
        assert!(c.validate().is_err());
        assert!(
            TransformerConfig::from_json("{")
                .unwrap_err()
                .contains("malformed")
        );
        assert!(TransformerConfig::from_json(r#"{"vocab_size": 3}"#).is_err());
        c = TransformerConfig::preset("tiny")
            .unwrap()
            .with_stocha_p(1.5);
        assert!(c.validate().is_err());
    }

    #[test]
    fn hidden_act_reads_hf_names_and_defaults_to_silu() {
        let tiny = TransformerConfig::preset("tiny").unwrap();
        assert_eq!(tiny.hidden_act, HiddenAct::Silu);
        let mut json = serde_json::to_value(&tiny).unwrap();
        json["hidden_act"] = "stocha".into();
        json["stocha_p"] = 0.25.into();
        let c = TransformerConfig::from_json(&json.to_string()).unwrap();
        assert_eq!((c.hidden_act, c.stocha_p), (HiddenAct::Stocha, 0.25));
        json["hidden_act"] = "gelu".into();
        assert!(TransformerConfig::from_json(&json.to_string()).is_err());
    }

    #[test]
    fn mta_adds_the_papers_29592_parameters_to_the_830m_model() {
        // Counted from the module: Burn initialises parameters lazily, so the 3.5 GB of
        // weights are never allocated.
        use burn::module::Module;
        let device = Device::flex();
        let mta = TransformerConfig::preset("mta-830m").unwrap();
        let base = mta.clone().with_mta(None);
        assert_eq!(base.num_params(), 876_553_728);
        assert_eq!(base.init(&device).num_params(), 876_553_728);
        assert_eq!(mta.init(&device).num_params(), 876_553_728 + 29_592);
        assert_eq!(mta.num_params(), 876_553_728 + 29_592);
    }

    #[test]
    fn mta_settings_are_checked() {
        let mut c = TransformerConfig::preset("toy-blocks-mta").unwrap();
        c.mta.as_mut().unwrap().key_kernel_size = Some(8);
        assert!(c.validate().is_err(), "even c_k");
        let mut c = TransformerConfig::preset("toy-blocks-mta").unwrap();
        c.mta.as_mut().unwrap().head_kernel_size = Some(3);
        assert!(c.validate().is_err(), "c_h not dividing the heads");
        let mut c = TransformerConfig::preset("toy-blocks-mta").unwrap();
        c.mta.as_mut().unwrap().layers = Some(vec![4]);
        assert!(c.validate().is_err(), "layer out of range");
        let typo = r#"{"vocab_size": 8, "hidden_size": 8, "intermediate_size": 8,
            "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 2,
            "mta": {"query_kernel": 2}}"#;
        assert!(TransformerConfig::from_json(typo).is_err());
    }

    #[test]
    fn parameter_count_matches_the_module() {
        let device = Device::flex();
        for tie in [false, true] {
            let c = TransformerConfig::preset("tiny")
                .unwrap()
                .with_tie_word_embeddings(tie);
            use burn::module::Module;
            assert_eq!(c.init(&device).num_params(), c.num_params());
            // Qwen3 layout: heads wider than hidden / heads, and q/k norms.
            let wide = c.head_dim() * 2;
            let c = c.with_head_dim(Some(wide)).with_qk_norm(true);
            assert_eq!(c.init(&device).num_params(), c.num_params());
        }
        // Every MTA part, q-k convolutions in one layer only.
        let mut c = TransformerConfig::preset("mta-830m").unwrap().mta;
        c.as_mut().unwrap().layers = Some(vec![1]);
        let c = TransformerConfig::preset("tiny")
            .unwrap()
            .with_mta(c.map(|mut m| {
                m.head_kernel_size = Some(2);
                m.layer_norm_rescale = true;
                m
            }));
        use burn::module::Module;
        assert_eq!(c.init(&device).num_params(), c.num_params());
    }
}
