//! `kiln eval`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use kiln_model::tokenizer::TextTokenizer;
use kiln_trainer::data::TokenData;
use kiln_trainer::trainer::evaluate;

use super::corpus::DataSpec;
use super::device::DeviceChoice;
use super::run_dir::{RunConfig, RunDir};

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Run directory.
    #[arg(long)]
    run: PathBuf,
    /// Text to score (default: the run's held-out text).
    #[arg(long, num_args = 1..)]
    data: Vec<PathBuf>,
    /// Where to compute: auto (a hardware GPU through wgpu, else the CPU), cpu/flex, ndarray
    /// or wgpu (README, "Choosing a device").
    #[arg(long, value_enum, default_value = "auto")]
    device: DeviceChoice,
}

pub fn run(args: EvalArgs) -> Result<()> {
    let run = RunDir::new(&args.run);
    let config = run.read_config()?;
    let selected = args.device.open()?;
    println!("device: {}", selected.description);
    let loaded = super::generate::load_model(&run, &config, &selected.device)?;
    let data = eval_tokens(&config, &loaded.tokenizer, &args.data)?;
    let c = &config.train;
    let m = evaluate(
        &loaded.model,
        &data,
        c.batch_size,
        c.seq_len,
        0,
        &selected.device,
    );
    println!(
        "checkpoint: step {} ({})",
        loaded.step,
        loaded.path.display()
    );
    println!(
        "held-out loss {:.4}  perplexity {:.2}  ({} tokens)",
        m.loss, m.perplexity, m.tokens
    );
    Ok(())
}

/// The text a run is scored on, tokenised: the files in `data`, else the run's held-out text.
pub(super) fn eval_tokens(
    config: &RunConfig,
    tokenizer: &TextTokenizer,
    data: &[PathBuf],
) -> Result<TokenData> {
    let text = if data.is_empty() {
        config.data.load()?.valid
    } else {
        DataSpec::read_eval(data)?
    };
    Ok(TokenData::new(
        tokenizer.encode(&text)?,
        config.train.seq_len,
        "evaluation text",
    )?)
}
