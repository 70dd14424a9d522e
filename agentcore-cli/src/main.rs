//! `agentcore-rs`: the command-line tool of agentcore-rs, for Amazon Bedrock AgentCore
//! Runtime and agentcore-local. See `agentcore-rs --help` and docs/CLI.md.

#![deny(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod commands;
mod context;
mod error;
mod output;
mod spec;
mod terminal;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::{Cli, Command};
use context::Context;
use error::{CliError, EXIT_ERROR};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Help and version are not errors; usage errors are the CLI's (125, as docker).
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(EXIT_ERROR),
            };
        }
    };
    // Completions and the man page need no runtime.
    match &cli.command {
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(*shell, &mut cmd, "agentcore-rs", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Command::Man => {
            let man = clap_mangen::Man::new(Cli::command());
            return match man.render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&CliError::from(e)),
            };
        }
        _ => {}
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&CliError::from(e)),
    };
    let code = runtime.block_on(run(cli));
    // A blocking read of the terminal (an interactive shell's stdin) must not keep the
    // process alive.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    code
}

async fn run(cli: Cli) -> ExitCode {
    let ctx = match Context::new(cli.global.clone()) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    match commands::run(&ctx, cli.command).await {
        Ok(code) => ExitCode::from(code),
        Err(e) => fail(&e),
    }
}

/// Prints the error as one line and returns its exit code.
fn fail(e: &CliError) -> ExitCode {
    eprintln!("agentcore-rs: error: {}", e.message);
    ExitCode::from(if e.code == 0 { EXIT_ERROR } else { e.code })
}
