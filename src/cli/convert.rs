//! `kiln convert`: a Hugging Face checkpoint directory into a kiln run directory (step 0, so
//! `kiln generate --run` and further training can use it), and a run's latest checkpoint
//! back into a Hugging Face directory that transformers loads.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use burn::optim::AdamWConfig;
use burn::tensor::Device;
use clap::Args;
use kiln_model::hf::safetensors::Dtype;
use kiln_model::hf::{self, HfConfig};
use kiln_model::rng::Rng;
use kiln_trainer::TrainConfig;
use kiln_trainer::checkpoint::CheckpointState;

use super::corpus::DataSpec;
use super::generate::load_model;
use super::run_dir::{RunConfig, RunDir};

#[derive(Args, Debug)]
pub struct ConvertArgs {
    /// Hugging Face checkpoint directory to read (with --to-run).
    #[arg(long, requires = "to_run", conflicts_with = "from_run")]
    from_hf: Option<PathBuf>,
    /// New run directory to write.
    #[arg(long)]
    to_run: Option<PathBuf>,
    /// Run directory whose latest checkpoint to export (with --to-hf).
    #[arg(long, requires = "to_hf", required_unless_present = "from_hf")]
    from_run: Option<PathBuf>,
    /// Directory to write config.json, model.safetensors and tokenizer.json into.
    #[arg(long)]
    to_hf: Option<PathBuf>,
    /// Store the exported weights in bfloat16 (half the size) instead of float32 (exact).
    #[arg(long, requires = "to_hf")]
    bf16: bool,
}

pub fn run(args: ConvertArgs) -> Result<()> {
    match (&args.from_hf, &args.to_run, &args.from_run, &args.to_hf) {
        (Some(from), Some(to), None, None) => hf_to_run(from, &RunDir::new(to)),
        (None, None, Some(from), Some(to)) => run_to_hf(&RunDir::new(from), to, args.bf16),
        _ => bail!("use either --from-hf DIR --to-run RUN or --from-run RUN --to-hf DIR"),
    }
}

fn hf_to_run(from: &PathBuf, run: &RunDir) -> Result<()> {
    if run.holds_run() || run.checkpoints().exists() {
        bail!(
            "{}: already holds a run; choose a new directory",
            run.root.display()
        );
    }
    let device = Device::flex();
    let loaded = hf::load(from, &device)?;
    std::fs::create_dir_all(&run.root).with_context(|| format!("{}", run.root.display()))?;
    let tokenizer = from.join("tokenizer.json");
    let tokenizer_crc32 = if tokenizer.exists() {
        hf::load_tokenizer(&tokenizer, &loaded.model)?;
        let bytes =
            std::fs::read(&tokenizer).with_context(|| format!("{}", tokenizer.display()))?;
        let path = run.tokenizer_path();
        kiln_fsutil::write_atomic(&path, &bytes).with_context(|| path.display().to_string())?;
        Some(crc32fast::hash(&bytes))
    } else {
        eprintln!(
            "warning: {} has no tokenizer.json; the run has none",
            from.display()
        );
        None
    };
    let train = TrainConfig::new();
    let state = CheckpointState {
        format: 0,
        step: 0,
        rng: Rng::seed(train.seed),
        model_config: serde_json::to_value(&loaded.config.model)?,
        tokenizer_crc32,
        objective: serde_json::Value::Null,
        files: Vec::new(),
    };
    let optimizer = AdamWConfig::new().init();
    let path = run.checkpoints().save(&loaded.model, &optimizer, state)?;
    run.write_config(&RunConfig {
        model: loaded.config.model,
        train,
        data: DataSpec::Builtin,
    })?;
    eprintln!("{} → {}", from.display(), path.display());
    Ok(())
}

fn run_to_hf(run: &RunDir, to: &PathBuf, bf16: bool) -> Result<()> {
    for name in ["config.json", "model.safetensors", "tokenizer.json"] {
        if to.join(name).exists() {
            bail!(
                "{}: already exists; choose a new directory",
                to.join(name).display()
            );
        }
    }
    let config = run.read_config()?;
    let device = Device::flex();
    let loaded = load_model(run, &config, &device)?;
    let mut hf_config = HfConfig::for_model(&config.model);
    hf_config.eos_token_ids = loaded.tokenizer.end_of_text().into_iter().collect();
    let dtype = if bf16 { Dtype::BF16 } else { Dtype::F32 };
    hf::export(&loaded.model, &hf_config, to, dtype)?;
    let tokenizer = to.join("tokenizer.json");
    kiln_fsutil::write_atomic(&tokenizer, loaded.tokenizer.to_json()?.as_bytes())
        .with_context(|| format!("{}", tokenizer.display()))?;
    eprintln!(
        "{} (step {}) → {}",
        loaded.path.display(),
        loaded.step,
        to.display()
    );
    Ok(())
}
