//! Where training text comes from: the built-in corpus or the user's files.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// The built-in corpus: the Jargon File 4.4.7 (public domain), prepared by
/// `tools/data/jargon.py`; see `data/jargon/README.md`.
const BUILTIN_TRAIN: &str = include_str!("../../data/jargon/train.txt");
const BUILTIN_VALID: &str = include_str!("../../data/jargon/valid.txt");

/// Fraction of user text held out when no separate held-out file is given.
const HELDOUT_FRACTION: f64 = 0.05;

/// What a run trains on, as recorded in its `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum DataSpec {
    /// The corpus compiled into kiln.
    Builtin,
    /// Text files (folders are searched for `*.txt`); held-out text is `valid`, or the last 5%.
    Files {
        train: Vec<PathBuf>,
        valid: Option<PathBuf>,
    },
}

/// Training and held-out text.
pub struct Corpus {
    pub train: String,
    pub valid: String,
    pub description: String,
}

impl DataSpec {
    /// The spec for `--data` / `--valid` flags (none: the built-in corpus).
    pub fn from_flags(data: &[PathBuf], valid: Option<PathBuf>) -> Result<Self> {
        if data.is_empty() {
            if valid.is_some() {
                bail!("--valid needs --data");
            }
            return Ok(Self::Builtin);
        }
        let absolute = |p: &PathBuf| std::path::absolute(p).unwrap_or_else(|_| p.clone());
        Ok(Self::Files {
            train: data.iter().map(absolute).collect(),
            valid: valid.as_ref().map(absolute),
        })
    }

    /// Reads the text.
    pub fn load(&self) -> Result<Corpus> {
        match self {
            Self::Builtin => Ok(Corpus {
                train: BUILTIN_TRAIN.to_owned(),
                valid: BUILTIN_VALID.to_owned(),
                description: "built-in corpus: the Jargon File 4.4.7 (public domain)".into(),
            }),
            Self::Files { train, valid } => {
                let (text, files) = read_all(train)?;
                let (train_text, valid_text) = match valid {
                    Some(v) => (text, read_all(std::slice::from_ref(v))?.0),
                    None => split_heldout(text),
                };
                if valid_text.trim().is_empty() {
                    bail!("the held-out part of the data is empty: give more text or --valid FILE");
                }
                Ok(Corpus {
                    train: train_text,
                    valid: valid_text,
                    description: format!("{files} text file(s)"),
                })
            }
        }
    }

    /// Text for held-out evaluation alone (`kiln eval --data`).
    pub fn read_eval(paths: &[PathBuf]) -> Result<String> {
        Ok(read_all(paths)?.0)
    }
}

/// Concatenates every file (folders: their `*.txt` files, recursively, in name order).
fn read_all(paths: &[PathBuf]) -> Result<(String, usize)> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
        if meta.is_dir() {
            let before = files.len();
            collect_txt(path, &mut files)?;
            if files.len() == before {
                bail!("{}: the folder holds no .txt files", path.display());
            }
        } else {
            files.push(path.clone());
        }
    }
    let mut text = String::new();
    for file in &files {
        let bytes = std::fs::read(file).with_context(|| format!("{}", file.display()))?;
        let part = String::from_utf8(bytes).map_err(|e| {
            anyhow::anyhow!(
                "{}: not UTF-8 text (invalid byte at offset {})",
                file.display(),
                e.utf8_error().valid_up_to()
            )
        })?;
        text.push_str(&part);
        if !text.ends_with('\n') {
            text.push('\n');
        }
    }
    if text.trim().is_empty() {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        bail!("{}: no text (the data is empty)", names.join(", "));
    }
    Ok((text, files.len()))
}

fn collect_txt(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_txt(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "txt") {
            out.push(path);
        }
    }
    Ok(())
}

/// Splits off the last 5% of `text` at a line boundary.
fn split_heldout(mut text: String) -> (String, String) {
    let mut cut = (text.len() as f64 * (1.0 - HELDOUT_FRACTION)) as usize;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let cut = text[..cut].rfind('\n').map_or(cut, |i| i + 1);
    let valid = text.split_off(cut);
    (text, valid)
}
