//! `kiln tokenizer`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use kiln_model::tokenizer::TextTokenizer;

use super::corpus::DataSpec;

#[derive(Args, Debug)]
pub struct TokenizerArgs {
    #[command(subcommand)]
    command: TokenizerCommand,
}

#[derive(Subcommand, Debug)]
enum TokenizerCommand {
    /// Train a byte-level BPE tokenizer and save it as a Hugging Face tokenizer.json.
    Train {
        /// Text files, or folders of .txt files.
        #[arg(long, required = true, num_args = 1..)]
        data: Vec<PathBuf>,
        /// Vocabulary size (including the 256 byte symbols and <|endoftext|>).
        #[arg(long)]
        vocab: usize,
        /// The tokenizer.json to write (Hugging Face format), replaced atomically.
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(args: TokenizerArgs) -> Result<()> {
    match args.command {
        TokenizerCommand::Train { data, vocab, out } => {
            let text = DataSpec::read_eval(&data)?;
            let start = Instant::now();
            let tokenizer = TextTokenizer::train_bpe(text.lines(), vocab)?;
            kiln_fsutil::write_atomic(&out, tokenizer.to_json()?.as_bytes())
                .with_context(|| out.display().to_string())?;
            let tokens = tokenizer.encode(&text)?.len();
            println!(
                "{}: {} ids, trained in {:.1}s; {} characters -> {tokens} tokens ({:.2} characters per token)",
                out.display(),
                tokenizer.vocab_size(),
                start.elapsed().as_secs_f64(),
                text.len(),
                text.len() as f64 / tokens as f64
            );
            Ok(())
        }
    }
}
