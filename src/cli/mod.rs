//! The command line: argument parsing, terminal output and the run-directory layout. The
//! library crates below it never print.

mod convert;
mod corpus;
mod curate;
mod device;
mod eval;
mod generate;
mod hf_generate;
mod policy;
mod progress;
mod rl;
mod run_dir;
mod sft;
mod sparsity;
mod task;
mod tokenizer;
mod toy;
mod train;

use clap::{Parser, Subcommand};

/// kiln: ten FAIR papers as a pure-Rust deep-learning stack on Burn.
#[derive(Parser, Debug)]
#[command(name = "kiln", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a language model (with no flags: the default small model on the built-in corpus).
    Train(train::TrainArgs),
    /// Continue a prompt with a trained model, streaming tokens to stdout.
    Generate(generate::GenerateArgs),
    /// Held-out loss and perplexity of a trained model.
    Eval(eval::EvalArgs),
    /// Hugging Face checkpoint (Llama, Qwen3) → kiln run directory, and back.
    Convert(convert::ConvertArgs),
    /// Fraction of zero FFN activations per layer under RELU, on held-out text.
    Sparsity(sparsity::SparsityArgs),
    /// Tokenizer tools.
    Tokenizer(tokenizer::TokenizerArgs),
    /// MetaCLIP 2 worldwide curation: metadata, count, merge, sample, report.
    Curate(curate::CurateArgs),
    /// Synthetic tasks from the papers (Multi-Token Attention's block finding).
    Toy(toy::ToyArgs),
    /// Supervised fine-tuning of a policy on prompt/completion or chat JSONL (loss on the
    /// completion only).
    Sft(sft::SftArgs),
    /// Reinforcement learning on a verifiable task (GRPO, TTRL or RESTRAIN), and `rl eval`.
    Rl(rl::RlArgs),
    /// Reasoning tasks (arithmetic chains, Game of 24, reasoning-gym exports) as JSONL.
    Task(task::TaskArgs),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(args) => train::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Sparsity(args) => sparsity::run(args),
        Command::Tokenizer(args) => tokenizer::run(args),
        Command::Curate(args) => curate::run(args),
        Command::Toy(args) => toy::run(args),
        Command::Task(args) => task::run(args),
        Command::Sft(args) => sft::run(args),
        Command::Rl(args) => rl::run(args),
    }
}

/// One line: the error and its causes, outermost first, without repeats.
pub fn describe(error: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every subcommand says what it does and every flag has a help text (`kiln <cmd> --help`
    /// explains everything, as cargo and git do).
    #[test]
    fn every_command_and_flag_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id != "help" && id != "version" && arg.get_help().is_none() {
                    missing.push(format!("{path} --{id}"));
                }
            }
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let name = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    missing.push(name.clone());
                }
                walk(sub, &name, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "kiln", &mut missing);
        assert!(missing.is_empty(), "without help text: {missing:?}");
    }

    /// README's CLI synopses (the `kiln …` lines of its text blocks) name only commands and
    /// flags that exist, and every command is in the README.
    #[test]
    fn readme_synopses_match_the_cli() {
        let readme = include_str!("../../README.md");
        let root = super::Cli::command();
        let mut problems = Vec::new();
        let mut in_text = false;
        let mut current: Option<clap::Command> = None;
        for line in readme.lines() {
            if line.starts_with("```") {
                in_text = line == "```text";
                current = None;
                continue;
            }
            if !in_text {
                continue;
            }
            let code = line.split("  #").next().unwrap_or(line);
            let rest = if let Some(rest) = code.strip_prefix("kiln ") {
                // Resolve the subcommand path: words naming subcommands, in order.
                let mut cmd = root.clone();
                let mut words = rest.split_whitespace().peekable();
                while let Some(sub) = words.peek().and_then(|w| cmd.find_subcommand(w)).cloned() {
                    cmd = sub;
                    words.next();
                }
                if cmd.get_name() == root.get_name() {
                    problems.push(format!("{line:?}: no such command"));
                }
                current = Some(cmd);
                rest
            } else if code.starts_with(' ') && current.is_some() {
                code
            } else {
                current = None;
                continue;
            };
            let cmd = current.as_ref().expect("set above");
            for flag in rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
                let Some(long) = flag.strip_prefix("--") else {
                    continue;
                };
                if !cmd.get_arguments().any(|a| a.get_long() == Some(long)) {
                    problems.push(format!("kiln {}: no flag --{long}", cmd.get_name()));
                }
            }
        }
        for sub in root.get_subcommands().filter(|s| s.get_name() != "help") {
            if !readme.contains(&format!("kiln {}", sub.get_name())) {
                problems.push(format!("kiln {} is not in the README", sub.get_name()));
            }
        }
        assert!(problems.is_empty(), "{problems:#?}");
    }
}
