//! `agentcore-rs`: the command-line tool of agentcore-rs, for Amazon Bedrock AgentCore
//! Runtime and agentcore-local. See `agentcore-rs --help` and docs/CLI.md.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod cli;
mod commands;
mod context;
mod error;
mod output;
mod spec;

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
            // Asked-for help and version are not errors; usage errors, and help shown because
            // a command is missing, are the CLI's (125, as docker).
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(EXIT_ERROR),
            };
        }
    };
    // Completions and the man page need no runtime.
    match &cli.command {
        Command::Completions { shell } => {
            // Into memory first: a closed stdout is not worth a panic.
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "agentcore-rs", &mut script);
            return finish(output::print_stdout(&String::from_utf8_lossy(&script)));
        }
        Command::Man { dir: Some(dir) } => {
            let written = std::fs::create_dir_all(dir)
                .and_then(|()| clap_mangen::generate_to(Cli::command(), dir));
            return match written {
                Ok(()) => finish(output::print_stdout(&format!(
                    "man pages written to {}\n",
                    dir.display()
                ))),
                Err(e) => fail(&CliError::from(e).context(dir.display())),
            };
        }
        Command::Man { dir: None } => {
            let mut page = Vec::new();
            if let Err(e) = clap_mangen::Man::new(Cli::command()).render(&mut page) {
                return fail(&CliError::from(e));
            }
            return finish(output::print_stdout(&String::from_utf8_lossy(&page)));
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

fn finish(r: error::Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// Prints the error as one line and returns its exit code.
fn fail(e: &CliError) -> ExitCode {
    eprintln!("agentcore-rs: error: {}", e.message);
    ExitCode::from(if e.code == 0 { EXIT_ERROR } else { e.code })
}
