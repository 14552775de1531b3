//! `kiln generate`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};
use burn::tensor::Device;
use clap::Args;
use kiln_model::generate::{GenerateConfig, generate};
use kiln_model::sampling::SamplingConfig;
use kiln_model::sparse::DEFAULT_MIN_SPARSITY;
use kiln_model::tokenizer::TextTokenizer;
use kiln_model::{Activation, Transformer, TransformerConfig};

use super::device::DeviceChoice;
use super::run_dir::{RunConfig, RunDir};

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Run directory of a trained model.
    #[arg(long, required_unless_present = "hf", conflicts_with = "hf")]
    run: Option<PathBuf>,
    /// Hugging Face checkpoint directory (config.json, *.safetensors, tokenizer.json) of a
    /// Llama or Qwen3 model, instead of a run.
    #[arg(long)]
    hf: Option<PathBuf>,
    /// Text to continue; with --hf, repeat it to generate for a batch of prompts.
    #[arg(long, required = true)]
    prompt: Vec<String>,
    /// With --hf: wrap each prompt as a user turn in the Qwen3 chat template.
    #[arg(long, requires = "hf")]
    chat: bool,
    /// With --chat: a system message.
    #[arg(long, requires = "chat")]
    system: Option<String>,
    /// With --chat: switch Qwen3's thinking off (an empty <think> block).
    #[arg(long, requires = "chat")]
    no_think: bool,
    /// With --hf: end generation where this text appears (repeatable); it is not printed.
    #[arg(long, requires = "hf")]
    stop: Vec<String>,
    /// Most tokens to generate.
    #[arg(long, default_value_t = 200)]
    max_tokens: usize,
    /// Sampling temperature; 0 is greedy decoding.
    #[arg(long, default_value_t = 0.8)]
    temperature: f64,
    /// Sample among the k most likely tokens only (0: all).
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    /// Sample within the smallest set of tokens whose probability reaches p.
    #[arg(long, default_value_t = 1.0)]
    top_p: f64,
    /// Seed of the sampling (default 0): the same seed gives the same text.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Keep StochA's random draw at inference with this probability of SILU on negative
    /// inputs, to diversify samples (Lomeli et al. 2025).
    #[arg(long, value_name = "P")]
    stochastic_activations: Option<f64>,
    /// Run the feed-forward blocks with the CPU sparse engine (RELU models; implies the CPU).
    #[arg(long, conflicts_with = "stochastic_activations")]
    sparse: bool,
    /// On the CPU, run the linear layers through Burn's matrix product instead of kiln's
    /// row-major CPU copies (which decode about twice as fast but hold a second copy of the
    /// weights).
    #[arg(long)]
    burn_linear: bool,
    /// Where to compute: auto (a hardware GPU through wgpu, else the CPU), cpu/flex, ndarray
    /// or wgpu (README, "Choosing a device").
    #[arg(long, value_enum, default_value = "auto")]
    device: DeviceChoice,
}

/// A trained model ready for inference.
pub struct LoadedModel {
    pub model: Transformer,
    pub tokenizer: TextTokenizer,
    pub step: usize,
    pub path: PathBuf,
}

/// Loads the latest checkpoint of `run` and its tokenizer, checking they belong together.
pub fn load_model(run: &RunDir, config: &RunConfig, device: &Device) -> Result<LoadedModel> {
    let checkpoints = run.checkpoints();
    let (_, state) = checkpoints.latest_state()?;
    let (tokenizer, _) = run.read_tokenizer(&config.model, state.tokenizer_crc32)?;
    let model_config = serde_json::to_value(&config.model)?;
    let loaded = checkpoints.load(
        TransformerConfig::init(&config.model, device),
        &model_config,
        None,
    )?;
    // The activation the weights were last trained with (RELU after Swi+FT; StochA acts as
    // RELU off autodiff).
    let activation = config.train.activation_at(&config.model, loaded.state.step);
    Ok(LoadedModel {
        model: loaded.model.with_activation(activation),
        tokenizer,
        step: loaded.state.step,
        path: loaded.path,
    })
}

/// `--sparse` and `--stochastic-activations` act on kiln's RELU / StochA feed-forward
/// blocks; an imported Llama/Qwen3 checkpoint is a SiLU model, so both are refused rather
/// than silently ignored.
fn refuse_for_hf(args: &GenerateArgs, dir: &std::path::Path) -> Result<()> {
    if !args.sparse && args.stochastic_activations.is_none() {
        return Ok(());
    }
    let config = dir.join("config.json");
    let act = std::fs::read_to_string(&config)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["hidden_act"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "silu".to_owned());
    if args.sparse {
        bail!(
            "{}: the checkpoint uses {act}; --sparse needs a RELU model (a kiln run trained \
             with RELU, Swi+FT or StochA)",
            config.display()
        );
    }
    bail!(
        "{}: the checkpoint uses {act}; --stochastic-activations needs a kiln run trained \
         with StochA (Lomeli et al. 2025), not an imported SiLU model",
        config.display()
    )
}

pub fn run(args: GenerateArgs) -> Result<()> {
    let sampling = SamplingConfig {
        temperature: args.temperature,
        top_k: args.top_k,
        top_p: args.top_p,
    };
    let (run, prompt) = match (&args.run, args.prompt.as_slice()) {
        (Some(run), [prompt]) => (RunDir::new(run), prompt.clone()),
        (Some(_), _) => bail!("--run takes one --prompt"),
        (None, prompts) => {
            let dir = args.hf.as_deref().expect("clap requires --run or --hf");
            refuse_for_hf(&args, dir)?;
            return super::hf_generate::run(super::hf_generate::HfRequest {
                dir,
                prompts,
                chat: args.chat,
                system: args.system.as_deref(),
                think: !args.no_think,
                stops: &args.stop,
                max_tokens: args.max_tokens,
                sampling,
                seed: args.seed,
                device: args.device,
                cpu_projections: !args.burn_linear,
            });
        }
    };
    let config = run.read_config()?;
    let choice = match (args.sparse, args.device) {
        (true, DeviceChoice::Auto) => DeviceChoice::Cpu,
        (true, DeviceChoice::Wgpu) => bail!("--sparse runs on the CPU: drop --device wgpu"),
        (_, choice) => choice,
    };
    let selected = choice.open()?;
    eprintln!("device: {}", selected.description);
    let mut loaded = load_model(&run, &config, &selected.device)?;
    if let Some(p) = args.stochastic_activations {
        if !(0.0..=1.0).contains(&p) {
            bail!("--stochastic-activations must be in [0, 1], got {p}");
        }
        loaded.model = loaded.model.with_activation(Activation::Stocha {
            p,
            at_inference: true,
        });
        // The draws come from the device generator: seed it so the samples repeat.
        selected.device.seed(args.seed);
    }
    if selected.is_cpu && !args.burn_linear {
        loaded.model = loaded.model.with_cpu_projections();
    }
    if args.sparse {
        loaded.model = loaded.model.with_sparse_ffn(DEFAULT_MIN_SPARSITY)?;
    }
    let request = GenerateConfig {
        max_new_tokens: args.max_tokens,
        sampling,
        seed: args.seed,
        stop_token: loaded.tokenizer.end_of_text(),
        max_len: config.model.max_position_embeddings,
    };
    let prompt_ids = loaded.tokenizer.encode(&prompt)?;
    let mut stdout = std::io::stdout().lock();
    write!(stdout, "{prompt}")?;
    stdout.flush()?;
    // Byte-level BPE tokens can split a character: print the text decoded so far whenever it
    // has grown by whole characters.
    let (mut ids, mut printed) = (Vec::new(), String::new());
    let start = Instant::now();
    let out = generate(
        &loaded.model,
        &prompt_ids,
        &request,
        &selected.device,
        |id| {
            ids.push(id);
            if let Ok(text) = loaded.tokenizer.decode(&ids)
                && !text.ends_with('\u{FFFD}')
                && text.len() > printed.len()
                && text.starts_with(printed.as_str())
            {
                let _ = write!(stdout, "{}", &text[printed.len()..]);
                let _ = stdout.flush();
                printed = text;
            }
        },
    )?;
    let text = loaded.tokenizer.decode(&out)?;
    if text.len() > printed.len() && text.starts_with(printed.as_str()) {
        write!(stdout, "{}", &text[printed.len()..])?;
    }
    writeln!(stdout)?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{} tokens in {secs:.2}s ({:.1} tokens/s)",
        out.len(),
        out.len() as f64 / secs.max(1e-9)
    );
    if args.sparse {
        let per_layer: Vec<String> = loaded
            .model
            .ffn_sparsity()
            .iter()
            .map(|s| s.map_or("-".into(), |s| format!("{:.1}%", 100.0 * s)))
            .collect();
        eprintln!("FFN sparsity per layer: {}", per_layer.join(" "));
    }
    Ok(())
}
