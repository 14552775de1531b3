//! Loading Hugging Face checkpoint tensors into a [`Transformer`]. kiln's module names are the
//! checkpoint keys, so the only work is transposing projections (PyTorch stores `[out, in]`,
//! Burn's `Linear` `[in, out]`) and converting bf16/f16 to f32.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor, TensorData};

use crate::error::ModelError;
use crate::hf::safetensors::SafetensorsFile;
use crate::rms_norm::RmsNorm;
use crate::transformer::Transformer;

/// Single-file checkpoint name.
pub const WEIGHTS: &str = "model.safetensors";
/// Index of a sharded checkpoint (`weight_map`: key → shard file).
pub const INDEX: &str = "model.safetensors.index.json";

/// The tensors of a checkpoint directory: `model.safetensors`, or the shards listed in
/// `model.safetensors.index.json`.
#[derive(Debug)]
pub struct Checkpoint {
    dir: PathBuf,
    files: Vec<SafetensorsFile>,
    /// Key → index into `files`.
    keys: BTreeMap<String, usize>,
}

impl Checkpoint {
    /// Opens the checkpoint in `dir` and reads every header.
    pub fn open(dir: &Path) -> Result<Self, ModelError> {
        let index_path = dir.join(INDEX);
        let mut files = Vec::new();
        let mut keys = BTreeMap::new();
        if index_path.exists() {
            let err = |reason: String| ModelError::Checkpoint {
                path: index_path.clone(),
                reason,
            };
            let text = std::fs::read_to_string(&index_path).map_err(|e| err(e.to_string()))?;
            let index: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| err(format!("malformed index: {e}")))?;
            let map = index["weight_map"]
                .as_object()
                .ok_or_else(|| err("no weight_map".into()))?;
            let mut shards: BTreeMap<String, usize> = BTreeMap::new();
            for (key, shard) in map {
                let shard = shard
                    .as_str()
                    .ok_or_else(|| err(format!("weight_map['{key}'] is not a file name")))?;
                let i = match shards.get(shard) {
                    Some(&i) => i,
                    None => {
                        files.push(SafetensorsFile::open(&dir.join(shard))?);
                        shards.insert(shard.to_string(), files.len() - 1);
                        files.len() - 1
                    }
                };
                if !files[i].tensors().contains_key(key) {
                    return Err(ModelError::Checkpoint {
                        path: files[i].path().to_path_buf(),
                        reason: format!("the index lists tensor '{key}' here, the file lacks it"),
                    });
                }
                keys.insert(key.clone(), i);
            }
        } else {
            let file = SafetensorsFile::open(&dir.join(WEIGHTS))?;
            keys = file.tensors().keys().map(|k| (k.clone(), 0)).collect();
            files.push(file);
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            files,
            keys,
        })
    }

    /// The f32 values of `key`, which must have `shape` (PyTorch layout).
    pub fn get(&self, key: &str, shape: &[usize]) -> Result<Vec<f32>, ModelError> {
        let &i = self.keys.get(key).ok_or_else(|| ModelError::Checkpoint {
            path: self.dir.clone(),
            reason: format!("missing tensor '{key}'"),
        })?;
        let file = &self.files[i];
        let (values, found) = file.read_f32(key)?;
        if found != shape {
            return Err(ModelError::Checkpoint {
                path: file.path().to_path_buf(),
                reason: format!("tensor '{key}' has shape {found:?}, the config needs {shape:?}"),
            });
        }
        Ok(values)
    }
}

/// Fills every parameter of `model` (built from the checkpoint's config) from `checkpoint`.
pub fn load_weights(
    model: &mut Transformer,
    checkpoint: &Checkpoint,
    device: &Device,
) -> Result<(), ModelError> {
    let loader = Loader { checkpoint, device };
    let [vocab, d] = model.model.embed_tokens.weight.lazy_shape().dims();
    model.model.embed_tokens.weight =
        Param::from_tensor(loader.matrix("model.embed_tokens.weight", vocab, d)?);
    for (i, layer) in model.model.layers.iter_mut().enumerate() {
        let p = format!("model.layers.{i}.");
        let attn = &mut layer.self_attn;
        for (name, linear) in [
            ("self_attn.q_proj", &mut attn.q_proj),
            ("self_attn.k_proj", &mut attn.k_proj),
            ("self_attn.v_proj", &mut attn.v_proj),
            ("self_attn.o_proj", &mut attn.o_proj),
            ("mlp.gate_proj", &mut layer.mlp.gate_proj),
            ("mlp.up_proj", &mut layer.mlp.up_proj),
            ("mlp.down_proj", &mut layer.mlp.down_proj),
        ] {
            loader.linear(&format!("{p}{name}.weight"), linear)?;
        }
        for (name, norm) in [
            ("self_attn.q_norm", attn.q_norm.as_mut()),
            ("self_attn.k_norm", attn.k_norm.as_mut()),
            ("input_layernorm", Some(&mut layer.input_layernorm)),
            (
                "post_attention_layernorm",
                Some(&mut layer.post_attention_layernorm),
            ),
        ] {
            if let Some(norm) = norm {
                loader.norm(&format!("{p}{name}.weight"), norm)?;
            }
        }
    }
    loader.norm("model.norm.weight", &mut model.model.norm)?;
    if let Some(head) = &mut model.lm_head {
        loader.linear("lm_head.weight", head)?;
    }
    Ok(())
}

struct Loader<'a> {
    checkpoint: &'a Checkpoint,
    device: &'a Device,
}

impl Loader<'_> {
    /// A `[rows, cols]` tensor stored as such.
    fn matrix(&self, key: &str, rows: usize, cols: usize) -> Result<Tensor<2>, ModelError> {
        let values = self.checkpoint.get(key, &[rows, cols])?;
        Ok(Tensor::from_data(
            TensorData::new(values, [rows, cols]),
            self.device,
        ))
    }

    /// A projection stored `[out, in]`, transposed on the host into Burn's `[in, out]`.
    fn linear(&self, key: &str, linear: &mut Linear) -> Result<(), ModelError> {
        let [d_in, d_out] = linear.weight.lazy_shape().dims();
        let values = self.checkpoint.get(key, &[d_out, d_in])?;
        let mut t = vec![0.0f32; values.len()];
        for (o, row) in values.chunks_exact(d_in).enumerate() {
            for (i, v) in row.iter().enumerate() {
                t[i * d_out + o] = *v;
            }
        }
        linear.weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(t, [d_in, d_out]),
            self.device,
        ));
        Ok(())
    }

    fn norm(&self, key: &str, norm: &mut RmsNorm) -> Result<(), ModelError> {
        let [d] = norm.weight.lazy_shape().dims();
        let values = self.checkpoint.get(key, &[d])?;
        norm.weight =
            Param::from_tensor(Tensor::from_data(TensorData::new(values, [d]), self.device));
        Ok(())
    }
}
