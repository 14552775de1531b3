//! Checkpoints that survive being killed at any instant.
//!
//! Layout under the checkpoint folder:
//! ```text
//! step-00000400/model.bpk       model weights (burnpack)
//! step-00000400/optimizer.bpk   AdamW moments and step counts (burnpack)
//! step-00000400/state.json      step, RNG (= data position), model config, file sizes + CRC-32
//! latest                        the name of the newest complete checkpoint
//! ```
//! A checkpoint is written into a temporary folder, every file fsynced, the folder renamed,
//! and only then does `latest` (itself replaced atomically) point at it. A crash at any moment
//! leaves `latest` naming a complete checkpoint; sizes and checksums catch a file damaged
//! after the fact.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use kiln_model::rng::Rng;
use serde::{Deserialize, Serialize};

use crate::error::TrainError;
use crate::fsutil::{sync_dir, write_atomic};

/// Version of the checkpoint layout.
const FORMAT: u32 = 1;
const LATEST: &str = "latest";
const MODEL: &str = "model.bpk";
const OPTIMIZER: &str = "optimizer.bpk";
const STATE: &str = "state.json";

/// Set to a step number to abort the process half-way through writing that step's checkpoint
/// (after the weights, before the checkpoint is complete): the fault-injection point of the
/// crash-safety tests.
pub const ABORT_ENV: &str = "KILN_FAULT_ABORT_IN_CHECKPOINT";

/// Size and checksum of one checkpoint file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileDigest {
    pub name: String,
    pub bytes: u64,
    pub crc32: u32,
}

/// Everything in a checkpoint besides the tensors.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointState {
    pub format: u32,
    /// Optimiser updates done.
    pub step: usize,
    /// The data-order RNG after `step` updates.
    pub rng: Rng,
    /// The architecture the weights belong to.
    pub model_config: serde_json::Value,
    /// Checksum of the tokenizer the model was trained with, if any.
    pub tokenizer_crc32: Option<u32>,
    /// The objective's own state (`Objective::state`), `null` when it has none.
    #[serde(default)]
    pub objective: serde_json::Value,
    pub files: Vec<FileDigest>,
}

/// A loaded checkpoint.
pub struct Loaded<M> {
    pub model: M,
    pub optimizer: Option<ModuleOptimizer>,
    pub state: CheckpointState,
    pub path: PathBuf,
}

/// The folder holding a run's checkpoints.
#[derive(Debug, Clone)]
pub struct CheckpointDir {
    root: PathBuf,
}

impl CheckpointDir {
    /// Checkpoints under `root` (created on first save).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether a complete checkpoint exists.
    pub fn exists(&self) -> bool {
        self.root.join(LATEST).is_file()
    }

    /// Saves a checkpoint for `state.step` and makes it the latest; older ones are removed.
    pub fn save<M: Module>(
        &self,
        model: &M,
        optimizer: &ModuleOptimizer,
        mut state: CheckpointState,
    ) -> Result<PathBuf, TrainError> {
        let name = format!("step-{:08}", state.step);
        let tmp = self
            .root
            .join(format!(".{name}.tmp-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).map_err(TrainError::io(&tmp))?;

        let model_bytes =
            model
                .clone()
                .into_record()
                .into_bytes()
                .map_err(|e| TrainError::Checkpoint {
                    path: tmp.join(MODEL),
                    reason: format!("cannot serialise the model: {e}"),
                })?;
        let optim_bytes = optimizer.into_bytes().map_err(|e| TrainError::Checkpoint {
            path: tmp.join(OPTIMIZER),
            reason: format!("cannot serialise the optimizer: {e}"),
        })?;
        state.format = FORMAT;
        state.files = vec![write_synced(&tmp, MODEL, &model_bytes)?];
        if std::env::var(ABORT_ENV).is_ok_and(|v| v == state.step.to_string()) {
            std::process::abort();
        }
        state
            .files
            .push(write_synced(&tmp, OPTIMIZER, &optim_bytes)?);
        let json = serde_json::to_vec_pretty(&state).expect("checkpoint state serialises");
        write_synced(&tmp, STATE, &json)?;
        sync_dir(&tmp).map_err(TrainError::io(&tmp))?;

        let dest = self.root.join(&name);
        if dest.exists() {
            fs::remove_dir_all(&dest).map_err(TrainError::io(&dest))?;
        }
        fs::rename(&tmp, &dest).map_err(TrainError::io(&dest))?;
        sync_dir(&self.root).map_err(TrainError::io(&self.root))?;
        write_atomic(&self.root.join(LATEST), name.as_bytes())?;
        self.remove_all_but(&name);
        Ok(dest)
    }

    /// Reads the state of the latest checkpoint after checking every file's size and checksum.
    pub fn latest_state(&self) -> Result<(PathBuf, CheckpointState), TrainError> {
        let latest = self.root.join(LATEST);
        let name = fs::read_to_string(&latest).map_err(|e| TrainError::Checkpoint {
            path: latest.clone(),
            reason: format!("no checkpoint to resume from ({e})"),
        })?;
        let dir = self.root.join(name.trim());
        let state_path = dir.join(STATE);
        let bad = |path: &Path, reason: String| TrainError::Checkpoint {
            path: path.to_path_buf(),
            reason,
        };
        let text = fs::read(&state_path).map_err(|e| bad(&state_path, e.to_string()))?;
        let state: CheckpointState = serde_json::from_slice(&text)
            .map_err(|e| bad(&state_path, format!("not a kiln checkpoint state: {e}")))?;
        if state.format != FORMAT {
            return Err(bad(
                &state_path,
                format!("checkpoint format {} is not {FORMAT}", state.format),
            ));
        }
        for digest in &state.files {
            let path = dir.join(&digest.name);
            let bytes = fs::read(&path).map_err(|e| bad(&path, e.to_string()))?;
            if bytes.len() as u64 != digest.bytes {
                return Err(bad(
                    &path,
                    format!(
                        "truncated: {} bytes, expected {}",
                        bytes.len(),
                        digest.bytes
                    ),
                ));
            }
            if crc32fast::hash(&bytes) != digest.crc32 {
                return Err(bad(&path, "corrupted: checksum mismatch".into()));
            }
        }
        Ok((dir, state))
    }

    /// Loads the latest checkpoint into `model` (a freshly built model of the architecture
    /// `model_config`, which must be the one the checkpoint records) and, if given,
    /// `optimizer`.
    pub fn load<M: Module>(
        &self,
        model: M,
        model_config: &serde_json::Value,
        optimizer: Option<ModuleOptimizer>,
    ) -> Result<Loaded<M>, TrainError> {
        let (dir, state) = self.latest_state()?;
        if !same_architecture(&state.model_config, model_config) {
            return Err(TrainError::Checkpoint {
                path: dir,
                reason: "the checkpoint holds a model of another architecture than this run's config.json".into(),
            });
        }
        let model_path = dir.join(MODEL);
        let model = load_model(&model_path, model)?;
        let optimizer = match optimizer {
            Some(optim) => {
                let path = dir.join(OPTIMIZER);
                let bytes = fs::read(&path).map_err(TrainError::io(&path))?;
                Some(
                    optim
                        .from_bytes(Bytes::from_bytes_vec(bytes))
                        .map_err(|e| TrainError::Checkpoint {
                            path: path.clone(),
                            reason: format!("not an optimizer record: {e}"),
                        })?,
                )
            }
            None => None,
        };
        Ok(Loaded {
            model,
            optimizer,
            state,
            path: dir,
        })
    }

    fn remove_all_but(&self, keep: &str) {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stale = (name.starts_with("step-") && name != keep) || name.contains(".tmp-");
            if stale && entry.path().is_dir() {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// Loads burnpack weights into `model`, naming the file in every error.
pub fn load_model<M: Module>(path: &Path, model: M) -> Result<M, TrainError> {
    let bytes = fs::read(path).map_err(TrainError::io(path))?;
    let bad = |reason: String| TrainError::Checkpoint {
        path: path.to_path_buf(),
        reason,
    };
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| bad(format!("not a burnpack file: {e}")))?;
    model
        .try_load_record(record)
        .map_err(|e| bad(format!("weights do not fit the model: {e}")))
}

fn write_synced(dir: &Path, name: &str, bytes: &[u8]) -> Result<FileDigest, TrainError> {
    let path = dir.join(name);
    let mut file = fs::File::create(&path).map_err(TrainError::io(&path))?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(TrainError::io(&path))?;
    Ok(FileDigest {
        name: name.into(),
        bytes: bytes.len() as u64,
        crc32: crc32fast::hash(bytes),
    })
}

/// Whether a checkpoint written for the model config `stored` fits the run's `given` one: every
/// setting the checkpoint recorded is the same. Settings that kiln added after the checkpoint
/// was written are absent from `stored`; the run's config reader has filled them with their
/// defaults, so checkpoints of earlier versions still load.
fn same_architecture(stored: &serde_json::Value, given: &serde_json::Value) -> bool {
    match (stored.as_object(), given.as_object()) {
        (Some(stored), Some(given)) => stored.iter().all(|(k, v)| given.get(k) == Some(v)),
        _ => stored == given,
    }
}

#[cfg(test)]
mod tests {
    use super::same_architecture;
    use serde_json::json;

    #[test]
    fn settings_added_later_do_not_make_a_checkpoint_foreign() {
        let stored = json!({"vocab_size": 8, "hidden_size": 4});
        let filled = json!({"vocab_size": 8, "hidden_size": 4, "hidden_act": "silu", "mta": null});
        assert!(same_architecture(&stored, &filled));
        let other = json!({"vocab_size": 9, "hidden_size": 4, "hidden_act": "silu"});
        assert!(!same_architecture(&stored, &other));
        assert!(!same_architecture(&stored, &json!({"vocab_size": 8})));
    }
}
