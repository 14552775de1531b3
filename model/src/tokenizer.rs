//! Text ↔ token ids through the Hugging Face `tokenizers` crate: any `tokenizer.json` loads,
//! and a byte-level BPE (Radford et al. 2019; Sennrich et al. 2016) trains from local text.

use std::path::{Path, PathBuf};

use tokenizers::decoders::byte_level::ByteLevel;
use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::{AddedToken, Tokenizer, TokenizerBuilder};

use crate::error::ModelError;

/// The special token that separates documents and ends generation.
pub const END_OF_TEXT: &str = "<|endoftext|>";

/// A loaded tokenizer and the file it came from (for error messages).
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    source: PathBuf,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TextTokenizer({}, vocab {})",
            self.source.display(),
            self.vocab_size()
        )
    }
}

impl TextTokenizer {
    /// Loads a Hugging Face `tokenizer.json`.
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        let err = |reason: String| ModelError::Tokenizer {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let inner =
            Tokenizer::from_bytes(&bytes).map_err(|e| err(format!("not a tokenizer.json: {e}")))?;
        Ok(Self {
            inner,
            source: path.to_path_buf(),
        })
    }

    /// Trains a byte-level BPE with `vocab_size` entries (including the 256 byte symbols and
    /// [`END_OF_TEXT`]) on `texts`. Deterministic for the same input.
    pub fn train_bpe<'a>(
        texts: impl Iterator<Item = &'a str> + Send,
        vocab_size: usize,
    ) -> Result<Self, ModelError> {
        let source = PathBuf::from("<trained in memory>");
        let err = |reason: String| ModelError::Tokenizer {
            path: source.clone(),
            reason,
        };
        if vocab_size < 257 {
            return Err(err(format!(
                "vocab size {vocab_size} is below the 256 byte symbols + 1 special token"
            )));
        }
        let mut trainer = BpeTrainerBuilder::new()
            .vocab_size(vocab_size)
            .min_frequency(2)
            .show_progress(false)
            .initial_alphabet(
                tokenizers::pre_tokenizers::byte_level::ByteLevel::alphabet()
                    .into_iter()
                    .collect(),
            )
            .special_tokens(vec![AddedToken::from(END_OF_TEXT, true)])
            .build();
        let mut tokenizer =
            TokenizerBuilder::<BPE, NormalizerWrapper, ByteLevel, ByteLevel, ByteLevel>::new()
                .with_model(BPE::default())
                .with_normalizer(None)
                .with_pre_tokenizer(Some(ByteLevel::new(false, true, true)))
                .with_post_processor(Some(ByteLevel::new(false, true, true)))
                .with_decoder(Some(ByteLevel::new(false, true, true)))
                .build()
                .map_err(|e| err(e.to_string()))?;
        tokenizer
            .train(&mut trainer, texts)
            .map_err(|e| err(e.to_string()))?;
        let json = tokenizer.to_string(false).map_err(|e| err(e.to_string()))?;
        let inner = Tokenizer::from_bytes(json.as_bytes()).map_err(|e| err(e.to_string()))?;
        Ok(Self { inner, source })
    }

    /// The tokenizer as `tokenizer.json` text.
    pub fn to_json(&self) -> Result<String, ModelError> {
        self.inner
            .to_string(true)
            .map_err(|e| self.error(e.to_string()))
    }

    /// Number of ids the tokenizer can produce (including added tokens).
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Id of [`END_OF_TEXT`], if the vocabulary has it.
    pub fn end_of_text(&self) -> Option<u32> {
        self.inner.token_to_id(END_OF_TEXT)
    }

    /// Token ids of `text` (no special tokens added).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        let encoding = self
            .inner
            .encode(text, false)
            .map_err(|e| self.error(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Text of `ids`, special tokens skipped.
    pub fn decode(&self, ids: &[u32]) -> Result<String, ModelError> {
        self.inner
            .decode(ids, true)
            .map_err(|e| self.error(e.to_string()))
    }

    /// Text of `ids`, special tokens (e.g. `<|im_end|>`) kept.
    pub fn decode_with_special(&self, ids: &[u32]) -> Result<String, ModelError> {
        self.inner
            .decode(ids, false)
            .map_err(|e| self.error(e.to_string()))
    }

    /// Id of `token` (e.g. a special token such as `<|im_end|>`), if the vocabulary has it.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The file this tokenizer was read from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    fn error(&self, reason: String) -> ModelError {
        ModelError::Tokenizer {
            path: self.source.clone(),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "the quick brown fox jumps over the lazy dog. the dog sleeps; the fox runs.";

    #[test]
    fn trained_bpe_round_trips_text_and_reloads() {
        let lines = std::iter::repeat_n(TEXT, 20);
        let tok = TextTokenizer::train_bpe(lines, 300).unwrap();
        assert!(tok.vocab_size() <= 300 && tok.vocab_size() > 257);
        let text = "the lazy fox — naïve café 日本";
        let ids = tok.encode(text).unwrap();
        assert_eq!(tok.decode(&ids).unwrap(), text);
        assert!(
            tok.encode("the fox").unwrap().len() < "the fox".len(),
            "merges were learned"
        );

        let dir = std::env::temp_dir().join(format!("kiln-tok-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tokenizer.json");
        std::fs::write(&path, tok.to_json().unwrap()).unwrap();
        let again = TextTokenizer::from_file(&path).unwrap();
        assert_eq!(again.encode(text).unwrap(), ids);
        std::fs::write(&path, "{ not json").unwrap();
        let err = TextTokenizer::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("tokenizer.json"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
