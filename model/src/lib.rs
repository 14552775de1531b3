//! kiln-model: a decoder-only transformer language model on Burn 0.22.
//!
//! The layout follows burn-nn (one layer per file: `XConfig` + `X` + `init` + `forward`) and
//! the module and field names follow the Hugging Face Llama checkpoint keys
//! (`model.layers.0.self_attn.q_proj.weight`, …) so that checkpoints map one to one.

pub mod activation;
pub mod attention;
pub mod cache;
pub mod config;
pub mod cpu;
pub mod decoder_layer;
pub mod device;
pub mod error;
pub mod generate;
pub mod generate_batch;
pub mod hf;
pub mod init;
pub mod loss;
pub mod mlp;
pub mod mta;
pub mod rms_norm;
pub mod rng;
pub mod rope;
pub mod rope_scaling;
pub mod sampling;
pub mod sparse;
pub mod tokenizer;
pub mod transformer;

pub use activation::{Activation, HiddenAct};
pub use cache::KvCache;
pub use config::TransformerConfig;
pub use error::ModelError;
pub use transformer::Transformer;
