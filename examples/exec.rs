//! `exec`: the SDK twin of `agentcore exec` — run one command in a runtime session and stream
//! its output live.
//!
//! ```text
//! # Against AWS (credentials and region from the usual AWS configuration):
//! cargo run -p examples --example exec -- --runtime arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/coder-AbCdE12345 -- cargo test
//!
//! # With no AWS account at all: starts agentcore-local in process and runs there.
//! cargo run -p examples --example exec -- -- 'uname -a; ls /mnt'
//! ```
//!
//! The process exits with the command's exit code (124 when it timed out).
//! `--json` prints `{"exitCode":..,"stdout":..,"stderr":..,"status":..}` instead of streaming.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use agentcore_sdk::{CommandEvent, CommandStatus};
use clap::Parser;
use futures::StreamExt;

#[derive(Parser, Debug)]
#[command(about = "Run a command in an AgentCore Runtime session and stream its output")]
struct Args {
    /// Runtime ARN. Without it, an in-process local runtime is started and used.
    #[arg(long)]
    runtime: Option<String>,
    /// Session id to run in (resumes that session); a new one is generated when absent.
    #[arg(long)]
    session: Option<String>,
    /// Endpoint override for both planes (e.g. http://127.0.0.1:8080 for agentcore-local).
    #[arg(long)]
    endpoint: Option<String>,
    /// Endpoint qualifier.
    #[arg(long)]
    qualifier: Option<String>,
    /// Command timeout in seconds (1..=3600).
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Print one JSON object with the collected output instead of streaming.
    #[arg(long)]
    json: bool,
    /// The command (joined with spaces, run by `bash -c`).
    #[arg(last = true)]
    command: Vec<String>,
}

const DEMO: &str = "echo \"hello from $(uname -s) session storage:\"; ls -d /mnt/*; \
                    echo 'a file that outlives the session' > /mnt/workspace/hello.txt; \
                    cat /mnt/workspace/hello.txt; echo 'stderr works too' >&2";

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("exec: {e}");
            let mut source = std::error::Error::source(&*e);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::from(255)
        }
    }
}

async fn run(args: Args) -> Result<ExitCode, Box<dyn std::error::Error + Send + Sync>> {
    let command = if args.command.is_empty() {
        DEMO.to_owned()
    } else {
        args.command.join(" ")
    };

    // Either the given runtime, or a local one (in process when no endpoint is given).
    if args.runtime.is_none() && args.endpoint.is_none() && !args.json {
        eprintln!("[exec] no --runtime: using an in-process agentcore-local");
    }
    let examples::Target {
        client,
        arn,
        local: _local,
        ..
    } = examples::target(
        args.runtime.as_deref(),
        args.endpoint.as_deref(),
        "exec_demo",
    )
    .await?;

    let session = match &args.session {
        Some(id) => client.session_with_id(&arn, id)?,
        None => client.session(&arn)?,
    };
    let session = match &args.qualifier {
        Some(q) => session.with_qualifier(q),
        None => session,
    };
    if !args.json {
        eprintln!("[exec] runtime {arn}\n[exec] session {}", session.id());
    }
    let request = session
        .command(command)
        .timeout(Duration::from_secs(args.timeout));

    if args.json {
        let out = request.output().await?;
        println!(
            "{}",
            serde_json::json!({
                "exitCode": out.exit_code,
                "stdout": out.stdout,
                "stderr": out.stderr,
                "status": out.status.as_str(),
            })
        );
        return Ok(exit_code(out.exit_code, &out.status));
    }

    let mut stream = request.send().await?;
    let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
    while let Some(event) = stream.next().await {
        match event? {
            CommandEvent::Delta {
                stdout: o,
                stderr: e,
            } => {
                stdout.write_all(o.as_bytes())?;
                stdout.flush()?;
                stderr.write_all(e.as_bytes())?;
            }
            CommandEvent::Stop {
                exit_code: code,
                status,
            } => {
                if status == CommandStatus::TimedOut {
                    eprintln!("[exec] timed out after {} s", args.timeout);
                }
                return Ok(exit_code(code, &status));
            }
            _ => {}
        }
    }
    Err("the command stream ended without an exit status".into())
}

fn exit_code(code: i32, status: &CommandStatus) -> ExitCode {
    if *status == CommandStatus::TimedOut {
        return ExitCode::from(124);
    }
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
