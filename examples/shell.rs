//! `shell`: an interactive shell in a runtime session — the SDK twin of `agentcore exec --it`.
//!
//! ```text
//! cargo run -p examples --example shell -- --runtime <ARN> [--session <ID>] [--shell-id <ID>]
//! cargo run -p examples --example shell -- --endpoint http://127.0.0.1:8080   # agentcore-local
//! cargo run -p examples --example shell                                      # in-process local runtime
//! ```
//!
//! Raw terminal mode, resize on SIGWINCH, Ctrl+D or `exit` to quit, **Ctrl+]** to detach (the
//! shell keeps running; the exact command to re-attach is printed). Reconnects, a kicked
//! session, a new shell after expiry and lost bytes are reported. The process exits with the
//! shell's exit code, and the terminal is always restored.

use std::process::ExitCode;

use clap::Parser;
use examples::terminal::{self, Attach};

#[derive(Parser, Debug)]
#[command(about = "Interactive shell in an AgentCore Runtime session")]
struct Args {
    /// Runtime ARN. Without it a runtime named `shell_demo` is created (or reused) on the
    /// local endpoint.
    #[arg(long)]
    runtime: Option<String>,
    /// Endpoint override (e.g. http://127.0.0.1:8080 for agentcore-local). Without it and
    /// without --runtime, an in-process local runtime is started.
    #[arg(long)]
    endpoint: Option<String>,
    /// Session id (re-attach / resume); generated when absent.
    #[arg(long)]
    session: Option<String>,
    /// Shell id (re-attach); generated when absent.
    #[arg(long = "shell-id")]
    shell_id: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let code = match run(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("shell: {e}");
            255
        }
    };
    // Exit now: a blocking stdin read must not keep the process alive.
    std::process::exit(code);
}

async fn run(args: Args) -> Result<i32, Box<dyn std::error::Error + Send + Sync>> {
    let examples::Target {
        client,
        arn,
        endpoint,
        local,
    } = examples::target(
        args.runtime.as_deref(),
        args.endpoint.as_deref(),
        "shell_demo",
    )
    .await?;
    let endpoint_for_reattach = endpoint;
    let _local = local;

    let (cols, rows) = terminal::size();
    let mut builder = client.shell(&arn).terminal_size(cols, rows);
    if let Some(s) = &args.session {
        builder = builder.session_id(s);
    }
    if let Some(s) = &args.shell_id {
        builder = builder.shell_id(s);
    }
    let shell = builder.connect().await?;
    match terminal::attach(shell).await? {
        Attach::Exited(code) => Ok(code),
        Attach::Detached(handle) => {
            eprintln!(
                "\n[detached · the shell keeps running · re-attach with:]\n{}",
                terminal::reattach_command(&handle, endpoint_for_reattach.as_deref())
            );
            if _local.is_some() {
                eprintln!(
                    "[note: this process hosted the local runtime; the shell ends when it exits]"
                );
            }
            Ok(0)
        }
    }
}
