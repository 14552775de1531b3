//! `kiln`: train, evaluate and sample the language models of the kiln stack.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", cli::describe(&e));
            std::process::ExitCode::FAILURE
        }
    }
}
