//! `kiln task`: the reasoning tasks of `kiln-reasoning` (issue 25) as files.
//!
//! ```text
//! kiln task export --task arith-easy --n 1000 --seed 0 --out easy.jsonl
//! ```
//!
//! writes one JSON object per line, `{"id", "prompt", "gold", "demonstration"}` (`null` where
//! a task has no gold answer or no demonstration), atomically: a killed export leaves the
//! old file or none.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, Subcommand};
use kiln_reasoning::task_by_name;

/// Arguments of `kiln task`.
#[derive(Args, Debug)]
pub struct TaskArgs {
    #[command(subcommand)]
    command: TaskCommand,
}

#[derive(Subcommand, Debug)]
enum TaskCommand {
    /// Write N problems of a task (prompt, gold answer, worked demonstration) as JSONL.
    Export {
        /// Task name (required): arith-easy, arith-medium, arith-hard, arith-<steps>x<digits>
        /// (e.g. arith-3x1), game24, or gym:FILE.jsonl
        /// for a reasoning-gym export.
        #[arg(long)]
        task: String,
        /// Number of problems (default 100); a dataset task refuses more than it holds.
        #[arg(long, default_value_t = 100)]
        n: usize,
        /// Seed of the generator or of the dataset shuffle (default 0): same seed, same file.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// JSONL file to write (required), replaced atomically.
        #[arg(long)]
        out: PathBuf,
        /// kiln's data folder, where game24 reads reasoning/24.csv (default: $KILN_DATA, else
        /// ~/.cache/kiln/data).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

pub fn run(args: TaskArgs) -> Result<()> {
    match args.command {
        TaskCommand::Export {
            task,
            n,
            seed,
            out,
            data_dir,
        } => export(
            &task,
            n,
            seed,
            &out,
            &data_dir.unwrap_or_else(default_data_dir),
        ),
    }
}

/// `$KILN_DATA`, else `~/.cache/kiln/data` (where the `.ci/fetch-*.sh` scripts put data).
pub(super) fn default_data_dir() -> PathBuf {
    std::env::var_os("KILN_DATA")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/kiln/data")))
        .unwrap_or_else(|| PathBuf::from("data"))
}

fn export(name: &str, n: usize, seed: u64, out: &Path, data_dir: &Path) -> Result<()> {
    let task = task_by_name(name, data_dir)?;
    let problems = task.problems(n, seed)?;
    let mut jsonl = String::new();
    for p in &problems {
        jsonl.push_str(&serde_json::to_string(p)?);
        jsonl.push('\n');
    }
    kiln_trainer::fsutil::write_atomic(out, jsonl.as_bytes())?;
    let demos = problems
        .iter()
        .filter(|p| p.demonstration.is_some())
        .count();
    println!(
        "{}: {} problems of {} (seed {seed}, {demos} with a demonstration)",
        out.display(),
        problems.len(),
        task.name()
    );
    Ok(())
}
