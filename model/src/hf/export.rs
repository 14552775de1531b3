//! Saving a kiln model as a Hugging Face checkpoint: `model.safetensors` with the checkpoint
//! key names (projections transposed back to PyTorch's `[out, in]`) and `config.json`, plus
//! `generation_config.json` when end-of-sequence ids are known.

use std::path::Path;

use burn::nn::Linear;
use burn::tensor::Tensor;
use serde_json::json;

use crate::error::ModelError;
use crate::hf::config::HfConfig;
use crate::hf::import::WEIGHTS;
use crate::hf::safetensors::{self, Dtype, OutTensor};
use crate::transformer::Transformer;

/// Writes `model` (whose architecture `config` describes) into `dir` with weights in `dtype`
/// (F32: exact; BF16: half the size). Existing files of the same names are replaced.
pub fn export(
    model: &Transformer,
    config: &HfConfig,
    dir: &Path,
    dtype: Dtype,
) -> Result<(), ModelError> {
    let err = |path: &Path, reason: String| ModelError::Checkpoint {
        path: path.to_path_buf(),
        reason,
    };
    std::fs::create_dir_all(dir).map_err(|e| err(dir, e.to_string()))?;
    safetensors::write(&dir.join(WEIGHTS), &tensors(model), dtype)?;
    let dtype_name = match dtype {
        Dtype::BF16 => "bfloat16",
        Dtype::F16 => "float16",
        Dtype::F32 => "float32",
    };
    let mut files = vec![("config.json", config.to_json(dtype_name))];
    if !config.eos_token_ids.is_empty() {
        files.push((
            "generation_config.json",
            json!({
                "bos_token_id": config.bos_token_id,
                "eos_token_id": config.eos_token_ids,
            }),
        ));
    }
    for (name, value) in files {
        let path = dir.join(name);
        let text = serde_json::to_string_pretty(&value).expect("JSON serialises") + "\n";
        kiln_fsutil::write_atomic(&path, text.as_bytes()).map_err(|e| err(&path, e.to_string()))?;
    }
    Ok(())
}

/// Every parameter of `model` under its checkpoint key, in PyTorch layout.
pub fn tensors(model: &Transformer) -> Vec<OutTensor> {
    let mut out = vec![matrix(
        "model.embed_tokens.weight",
        model.model.embed_tokens.weight.val(),
    )];
    for (i, layer) in model.model.layers.iter().enumerate() {
        let p = format!("model.layers.{i}.");
        let attn = &layer.self_attn;
        for (name, linear) in [
            ("self_attn.q_proj", &attn.q_proj),
            ("self_attn.k_proj", &attn.k_proj),
            ("self_attn.v_proj", &attn.v_proj),
            ("self_attn.o_proj", &attn.o_proj),
            ("mlp.gate_proj", &layer.mlp.gate_proj),
            ("mlp.up_proj", &layer.mlp.up_proj),
            ("mlp.down_proj", &layer.mlp.down_proj),
        ] {
            out.push(projection(&format!("{p}{name}.weight"), linear));
        }
        for (name, norm) in [
            ("self_attn.q_norm", attn.q_norm.as_ref()),
            ("self_attn.k_norm", attn.k_norm.as_ref()),
            ("input_layernorm", Some(&layer.input_layernorm)),
            (
                "post_attention_layernorm",
                Some(&layer.post_attention_layernorm),
            ),
        ] {
            if let Some(norm) = norm {
                out.push(vector(&format!("{p}{name}.weight"), norm.weight.val()));
            }
        }
    }
    out.push(vector("model.norm.weight", model.model.norm.weight.val()));
    if let Some(head) = &model.lm_head {
        out.push(projection("lm_head.weight", head));
    }
    out
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .try_into_vec_as::<f32>()
        .expect("f32 parameters")
}

fn matrix(name: &str, t: Tensor<2>) -> OutTensor {
    let shape = t.dims().to_vec();
    OutTensor {
        name: name.into(),
        shape,
        values: values(t),
    }
}

/// Burn's `[in, out]` weight as PyTorch's `[out, in]`.
fn projection(name: &str, linear: &Linear) -> OutTensor {
    matrix(name, linear.weight.val().transpose())
}

fn vector(name: &str, t: Tensor<1>) -> OutTensor {
    OutTensor {
        name: name.into(),
        shape: t.dims().to_vec(),
        values: values(t),
    }
}
