//! Supervised fine-tuning as an [`Objective`] of the one training loop: next-token
//! cross-entropy on the completion tokens only (the prompt is context, not a target: TRL's
//! `SFTTrainer` with `completion_only_loss`), on right-padded batches of prompt + completion.
//!
//! Data: JSONL, one example per line, either `{"prompt": …, "completion": …}` or a chat
//! `{"messages": [{"role", "content"}, …]}` whose last turn is the assistant's answer (rendered
//! by the caller's chat template).

use std::path::Path;

use burn::tensor::{Int, Tensor, TensorData};
use kiln_model::Transformer;
use kiln_model::hf::chat::Message;
use kiln_model::loss::masked_cross_entropy;
use kiln_model::rng::Rng;
use serde::Deserialize;

use crate::error::TrainError;
use crate::objective::{Evaluation, MicroLoss, Objective, model_device};
use crate::observer::EvalMetrics;

/// One line of an SFT file.
#[derive(Debug, Clone, PartialEq)]
pub enum SftRecord {
    Text { prompt: String, completion: String },
    Chat(Vec<Message>),
}

/// Other fields (ids, gold answers) are ignored; `demonstration` is the worked completion of a
/// `kiln task export` file.
#[derive(Deserialize)]
struct Line {
    prompt: Option<String>,
    #[serde(alias = "demonstration")]
    completion: Option<String>,
    messages: Option<Vec<Message>>,
}

/// Reads an SFT file.
///
/// # Errors
/// An unreadable file, invalid UTF-8, malformed JSON, or a line that is neither form (a chat
/// must end with an `assistant` turn), each naming the file and line; an empty file.
pub fn read_sft_jsonl(path: &Path) -> Result<Vec<SftRecord>, TrainError> {
    let bytes = std::fs::read(path).map_err(TrainError::io(path))?;
    let at =
        |line: usize, why: String| TrainError::Invalid(format!("{}:{line}: {why}", path.display()));
    let mut out = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let n = i + 1;
        let text = std::str::from_utf8(raw).map_err(|e| at(n, format!("invalid UTF-8: {e}")))?;
        if text.trim().is_empty() {
            continue;
        }
        let line: Line =
            serde_json::from_str(text).map_err(|e| at(n, format!("malformed JSON: {e}")))?;
        out.push(match (line.prompt, line.completion, line.messages) {
            (Some(prompt), Some(completion), None) => SftRecord::Text { prompt, completion },
            (None, None, Some(messages)) => {
                if messages.last().is_none_or(|m| m.role != "assistant") {
                    return Err(at(n, "a chat must end with an assistant turn".into()));
                }
                SftRecord::Chat(messages)
            }
            _ => {
                return Err(at(
                    n,
                    "expected {\"prompt\", \"completion\"} or {\"messages\"}".into(),
                ));
            }
        });
    }
    if out.is_empty() {
        return Err(TrainError::Invalid(format!(
            "{}: no examples",
            path.display()
        )));
    }
    Ok(out)
}

/// A tokenised example.
#[derive(Debug, Clone, PartialEq)]
pub struct SftExample {
    pub prompt: Vec<u32>,
    pub completion: Vec<u32>,
}

/// Completion-only next-token loss on random batches of examples, evaluated on held-out ones.
pub struct SupervisedFineTuning<'a> {
    train: &'a [SftExample],
    valid: &'a [SftExample],
    batch_size: usize,
    /// Longest sequence (prompt + completion) trained on; longer ones lose their end.
    max_len: usize,
}

impl<'a> SupervisedFineTuning<'a> {
    /// # Errors
    /// No training examples, a token outside the vocabulary, or an example whose prompt
    /// leaves no completion token within `max_len` (named by its index).
    pub fn new(
        train: &'a [SftExample],
        valid: &'a [SftExample],
        batch_size: usize,
        max_len: usize,
        vocab_size: usize,
    ) -> Result<Self, TrainError> {
        if train.is_empty() || batch_size == 0 {
            return Err(TrainError::Invalid(
                "SFT needs examples and a batch size above 0".into(),
            ));
        }
        for (what, set) in [("training", train), ("validation", valid)] {
            for (i, e) in set.iter().enumerate() {
                if e.prompt.is_empty() || e.completion.is_empty() || e.prompt.len() >= max_len {
                    return Err(TrainError::Invalid(format!(
                        "{what} example {}: prompt of {} and completion of {} tokens; each \
                         needs at least one, and the prompt must leave room in the context of {}",
                        i + 1,
                        e.prompt.len(),
                        e.completion.len(),
                        max_len
                    )));
                }
                if let Some(&bad) = e
                    .prompt
                    .iter()
                    .chain(&e.completion)
                    .find(|&&t| t as usize >= vocab_size)
                {
                    return Err(TrainError::Invalid(format!(
                        "{what} example {}: token id {bad} is outside the model's vocabulary of \
                         {vocab_size} (a tokenizer of another model?)",
                        i + 1
                    )));
                }
            }
        }
        Ok(Self {
            train,
            valid,
            batch_size,
            max_len,
        })
    }

    fn loss(&self, model: &Transformer, examples: &[&SftExample]) -> (Tensor<1>, usize) {
        let (inputs, targets, mask, tokens) = layout(examples, self.max_len);
        let device = model_device(model);
        let [n, t] = [examples.len(), inputs.len() / examples.len()];
        let int = |v: Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(v, [n, t]), &device);
        let mask = Tensor::<2>::from_data(TensorData::new(mask, [n, t]), &device);
        let logits = model.forward(int(inputs));
        (masked_cross_entropy(logits, int(targets), mask), tokens)
    }
}

/// Right-padded inputs, next-token targets and the completion mask of `examples`, each cut to
/// `max_len` tokens, and the number of target tokens.
fn layout(examples: &[&SftExample], max_len: usize) -> (Vec<i64>, Vec<i64>, Vec<f32>, usize) {
    let len = |e: &SftExample| (e.prompt.len() + e.completion.len()).min(max_len);
    // Inputs drop the last token, targets the first: T = longest − 1.
    let t = examples.iter().map(|e| len(e)).max().unwrap_or(2) - 1;
    let (mut inputs, mut targets, mut mask) = (vec![], vec![], vec![]);
    let mut tokens = 0;
    for e in examples {
        let seq: Vec<u32> = e
            .prompt
            .iter()
            .chain(&e.completion)
            .copied()
            .take(max_len)
            .collect();
        for j in 0..t {
            inputs.push(seq.get(j).copied().unwrap_or(0) as i64);
            targets.push(seq.get(j + 1).copied().unwrap_or(0) as i64);
            // Target j + 1 is a completion token when j + 1 ≥ prompt length.
            let counts = j + 1 < seq.len() && j + 1 >= e.prompt.len();
            mask.push(if counts { 1.0 } else { 0.0 });
            tokens += counts as usize;
        }
    }
    (inputs, targets, mask, tokens)
}

impl Objective for SupervisedFineTuning<'_> {
    fn micro_batch(
        &mut self,
        model: &Transformer,
        _step: usize,
        _micro: usize,
        rng: &mut Rng,
    ) -> Result<MicroLoss, TrainError> {
        let batch: Vec<&SftExample> = (0..self.batch_size)
            .map(|_| &self.train[rng.below(self.train.len())])
            .collect();
        let (loss, tokens) = self.loss(model, &batch);
        Ok(MicroLoss { loss, tokens })
    }

    fn evaluate(&mut self, model: &Transformer) -> Result<Option<Evaluation>, TrainError> {
        if self.valid.is_empty() {
            return Ok(None);
        }
        let (mut total, mut count) = (0.0f64, 0usize);
        for chunk in self.valid.chunks(self.batch_size) {
            let refs: Vec<&SftExample> = chunk.iter().collect();
            let (loss, tokens) = self.loss(model, &refs);
            total += loss.into_scalar::<f32>() as f64 * tokens as f64;
            count += tokens;
        }
        let loss = total / count.max(1) as f64;
        Ok(Some(Evaluation {
            lm: Some(EvalMetrics {
                loss,
                perplexity: loss.exp(),
                tokens: count,
            }),
            metrics: Default::default(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_completion_tokens_are_targets() {
        let a = SftExample {
            prompt: vec![1, 2, 3],
            completion: vec![4, 5],
        };
        let b = SftExample {
            prompt: vec![7],
            completion: vec![8],
        };
        let (inputs, targets, mask, tokens) = layout(&[&a, &b], 64);
        // T = 4: a is [1 2 3 4 | 2 3 4 5], b is [7 8 0 0 | 8 0 0 0] (its last input has a
        // padding target, masked out).
        assert_eq!(inputs, vec![1, 2, 3, 4, 7, 8, 0, 0]);
        assert_eq!(targets, vec![2, 3, 4, 5, 8, 0, 0, 0]);
        assert_eq!(mask, vec![0., 0., 1., 1., 1., 0., 0., 0.]);
        assert_eq!(tokens, 3);
        // Cut to 4 tokens: a keeps one completion target.
        let (_, _, mask, tokens) = layout(&[&a], 4);
        assert_eq!((mask, tokens), (vec![0., 0., 1.], 1));
    }

    #[test]
    fn bad_lines_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sft.jsonl");
        let write = |text: &[u8]| std::fs::write(&path, text).unwrap();
        write(b"{\"prompt\": \"a\", \"completion\": \"b\"}\n\n{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}\n");
        assert_eq!(read_sft_jsonl(&path).unwrap().len(), 2);
        for (text, want) in [
            (
                &b"{\"prompt\": \"a\", \"completion\": \"b\"}\n{\"prompt\": 3}\n"[..],
                ":2: malformed",
            ),
            (b"{\"prompt\": \"a\"}\n", ":1: expected"),
            (
                b"{\"prompt\": \"a\", \"completion\": \"\xff\"}\n",
                ":1: invalid UTF-8",
            ),
            (
                b"{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n",
                ":1: a chat must end",
            ),
            (b"\n", "no examples"),
        ] {
            write(text);
            let err = read_sft_jsonl(&path).unwrap_err().to_string();
            assert!(err.contains("sft.jsonl") && err.contains(want), "{err}");
        }
    }
}
