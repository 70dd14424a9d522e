//! `watch`: look over an agent's shoulder. An agent works in a session in steps (one long
//! invocation), logging each step to `/mnt/workspace/agent.log` and re-reading
//! `/mnt/workspace/NOTE.md` between steps. Meanwhile a person attaches an interactive shell
//! to the *same* session, tails the log and drops a note; the agent's next step reads it.
//! Detaching (Ctrl+]) leaves the agent undisturbed.
//!
//! ```text
//! cargo run -p examples --example watch              # local runtime; prints how to attach
//! cargo run -p examples --example watch -- --attach  # attaches itself in this terminal
//! cargo run -p examples --example watch -- --runtime <ARN> --attach
//! ```
//!
//! In the shell, try `tail -f /mnt/workspace/agent.log`, then
//! `echo 'use tabs, not spaces' > /mnt/workspace/NOTE.md`, then Ctrl+] to detach.

use std::process::ExitCode;

use agentcore_sdk::shell::terminal::{self, Attached};
use agentcore_sdk::workflow::watch::{DEFAULT_LOG, DEFAULT_NOTE, Watch};
use clap::Parser;
use examples::{coding, experiments};
use futures::StreamExt;

#[derive(Parser, Debug)]
#[command(about = "Watch an agent at work: attach a shell to its session, leave it a note")]
struct Args {
    /// Runtime ARN (default: an in-process local runtime).
    #[arg(long)]
    runtime: Option<String>,
    /// Endpoint override.
    #[arg(long)]
    endpoint: Option<String>,
    /// Steps the agent takes.
    #[arg(long, default_value_t = 40)]
    steps: u32,
    /// Time between steps, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    /// Attach a shell to the agent's session in this terminal.
    #[arg(long)]
    attach: bool,
    /// Serve the experiments agent on $PORT (used by the local runtime).
    #[arg(long, hide = true)]
    agent_mode: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.agent_mode {
        return experiments::agent_mode().await;
    }
    let code = match run(args).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("watch: {e}");
            2
        }
    };
    // Exit now: a blocking stdin read of the terminal must not keep the process alive.
    std::process::exit(code);
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let target = coding::target_with_fixer(
        args.runtime.as_deref(),
        args.endpoint.as_deref(),
        "watch_demo",
    )
    .await?;
    let session = target.client.session(&target.arn)?;
    // A fresh log, and a note file the shell's (non-root) user may write.
    session
        .run(format!(
            "mkdir -p /mnt/workspace && rm -f {DEFAULT_LOG} && : > {DEFAULT_NOTE} && chmod 666 {DEFAULT_NOTE}"
        ))
        .await?
        .check()?;

    // The agent's long invocation; its streamed lines arrive on `lines`.
    let (tx, mut lines) = tokio::sync::mpsc::channel::<String>(4096);
    let invocation = {
        let session = session.clone();
        let payload = serde_json::json!({
            "watch": { "steps": args.steps, "intervalMs": args.interval_ms }
        });
        tokio::spawn(async move {
            let mut body = session
                .invoke("")
                .json(&payload)
                .send()
                .await?
                .into_stream();
            let mut pending = String::new();
            while let Some(chunk) = body.next().await {
                pending.push_str(&String::from_utf8_lossy(&chunk?));
                if let Some(last) = pending.rfind('\n') {
                    let rest = pending.split_off(last + 1);
                    for line in pending.lines() {
                        let _ = tx.send(line.to_owned()).await;
                    }
                    pending = rest;
                }
            }
            if !pending.is_empty() {
                let _ = tx.send(pending).await;
            }
            Ok::<(), agentcore_sdk::Error>(())
        })
    };

    println!("agent at work in session {}", session.id());
    let mut attach_cmd = format!(
        "cargo run -p examples --example shell -- --runtime {} --session {}",
        target.arn,
        session.id()
    );
    if let Some(e) = &target.endpoint {
        attach_cmd.push_str(&format!(" --endpoint {e}"));
    }
    println!("watch it from another terminal (while this runs):\n  {attach_cmd}");
    println!("  then: tail -f {DEFAULT_LOG}   ·   echo 'your note' > {DEFAULT_NOTE}");

    if args.attach {
        // Let the agent take its first step, then attach in this terminal.
        if let Some(first) = lines.recv().await {
            println!("agent │ {first}");
        }
        let watch = Watch::new(&session);
        let (cols, rows) = terminal::size();
        let shell = watch.shell().terminal_size(cols, rows).connect().await?;
        let how = terminal::attach(shell).await?;
        match how {
            Attached::Detached(_) => {
                println!("\r\n[detached · the shell keeps running · the agent was not disturbed]")
            }
            Attached::Exited(code) => {
                println!("\r\n[shell exited with {code} · the agent goes on]")
            }
            _ => {}
        }
        let tail = watch.tail(3).await?;
        println!("last lines of the agent's log:");
        for l in tail {
            println!("  log │ {l}");
        }
    }
    while let Some(line) = lines.recv().await {
        println!("agent │ {line}");
    }
    invocation.await??;
    println!("agent finished");
    Ok(())
}
