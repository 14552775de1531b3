//! `kiln sparsity`: the fraction of zero FFN activations per layer when a model runs with
//! RELU on held-out text, measured by the CPU sparse engine that also computes the loss.

use std::path::PathBuf;

use anyhow::Result;
use burn::tensor::Device;
use clap::Args;
use kiln_model::Activation;
use kiln_model::sparse::DEFAULT_MIN_SPARSITY;
use kiln_trainer::trainer::evaluate;

use super::run_dir::RunDir;

#[derive(Args, Debug)]
pub struct SparsityArgs {
    /// Run directory.
    #[arg(long)]
    run: PathBuf,
    /// Text to run on (default: the run's held-out text).
    #[arg(long, num_args = 1..)]
    data: Vec<PathBuf>,
    /// Most batches of the training batch size and sequence length (0: all the text).
    #[arg(long, default_value_t = 0)]
    batches: usize,
}

pub fn run(args: SparsityArgs) -> Result<()> {
    let run = RunDir::new(&args.run);
    let config = run.read_config()?;
    let device = Device::flex();
    let loaded = super::generate::load_model(&run, &config, &device)?;
    let trained = loaded.model.activation();
    if !trained.is_relu_at_inference() {
        println!("note: the model was trained with {trained:?}; measuring it with RELU instead");
    }
    let model = loaded
        .model
        .with_activation(Activation::Relu)
        .with_sparse_ffn(DEFAULT_MIN_SPARSITY)?;
    let data = super::eval::eval_tokens(&config, &loaded.tokenizer, &args.data)?;
    let c = &config.train;
    let m = evaluate(
        &model,
        &data,
        c.batch_size,
        c.seq_len,
        args.batches,
        &device,
    );
    println!(
        "checkpoint: step {} ({})",
        loaded.step,
        loaded.path.display()
    );
    let per_layer: Vec<f64> = model
        .ffn_sparsity()
        .into_iter()
        .map(|s| s.expect("every layer ran"))
        .collect();
    for (i, s) in per_layer.iter().enumerate() {
        println!("layer {i}: {:.2}% zero FFN activations", 100.0 * s);
    }
    let mean = per_layer.iter().sum::<f64>() / per_layer.len() as f64;
    println!(
        "mean sparsity {:.2}%  RELU held-out loss {:.4}  perplexity {:.2}  ({} tokens)",
        100.0 * mean,
        m.loss,
        m.perplexity,
        m.tokens
    );
    Ok(())
}
