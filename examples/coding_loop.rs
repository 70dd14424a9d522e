//! `coding_loop`: the README's main job — a coding agent fixes a failing test and pushes.
//!
//! ```text
//! cargo run -p examples --example coding_loop                      # no AWS account: local runtime in process
//! cargo run -p examples --example coding_loop -- --runtime <ARN>   # the same loop on AWS
//! ```
//!
//! With no arguments it starts agentcore-local in process, creates a runtime with session
//! storage at `/mnt/workspace` whose agent is this program in `--agent-mode` (a deterministic
//! fixer), seeds a repository with failing tests and a bare remote, then loops: run the tests
//! (streamed) → invoke the agent → ... → `git commit` + `git push`. Finally it stops the
//! session and shows, in a fresh microVM of the same session id, that the work is still there.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use console::style;
use examples::coding::{self, Progress, Step};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Parser, Debug)]
#[command(about = "A coding agent loop: reason → test → git push, resumable")]
struct Args {
    /// Runtime ARN on AWS (its agent receives {"repo", "failure"}); default: local runtime.
    #[arg(long)]
    runtime: Option<String>,
    /// Endpoint override (e.g. a running agentcore-local).
    #[arg(long)]
    endpoint: Option<String>,
    /// Resume this session id instead of starting a new session.
    #[arg(long)]
    session: Option<String>,
    /// Most agent invocations before giving up.
    #[arg(long, default_value_t = 5)]
    max_iterations: usize,
    /// Serve the demo fixer agent on $PORT (used by the local runtime).
    #[arg(long, hide = true)]
    agent_mode: bool,
}

struct Spinners {
    bar: std::sync::Mutex<Option<ProgressBar>>,
}

impl Spinners {
    fn new() -> Self {
        Self {
            bar: std::sync::Mutex::new(None),
        }
    }
}

impl Progress for Spinners {
    fn start(&self, iteration: usize, what: &str) {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner:.cyan} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(format!("[{iteration}] {what}…"));
        bar.enable_steady_tick(Duration::from_millis(80));
        if let Ok(mut b) = self.bar.lock() {
            *b = Some(bar);
        }
    }
    fn line(&self, line: &str) {
        let text = format!("    │ {}", style(line).dim());
        match self.bar.lock().ok().and_then(|b| b.clone()) {
            Some(bar) if !bar.is_hidden() => bar.println(text),
            _ => println!("{text}"),
        }
    }
    fn done(&self, step: &Step) {
        let mark = if step.ok {
            style("✔").green().bold()
        } else {
            style("✘").red().bold()
        };
        let msg = format!(
            "{mark} [{}] {:<6} {} ({:.1?})",
            step.iteration, step.name, step.detail, step.duration
        );
        match self.bar.lock().ok().and_then(|mut b| b.take()) {
            Some(bar) if !bar.is_hidden() => bar.finish_with_message(msg),
            _ => println!("{msg}"),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.agent_mode {
        return coding::agent_mode().await;
    }
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("{} {e}", style("error:").red().bold());
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    let target = coding::target_with_fixer(
        args.runtime.as_deref(),
        args.endpoint.as_deref(),
        "coding_loop_demo",
    )
    .await?;
    if let Some(local) = &target.local {
        println!(
            "{} in-process agentcore-local at {}",
            style("▸").cyan(),
            local.endpoint()
        );
    }
    let session = match &args.session {
        Some(id) => target.client.session_with_id(&target.arn, id)?,
        None => target.client.session(&target.arn)?,
    };
    println!("{} runtime {}", style("▸").cyan(), target.arn);
    println!("{} session {}", style("▸").cyan(), session.id());

    let ws = coding::workspace(&session).await?;
    let seeded = coding::seed(&session, &ws).await?;
    println!(
        "{} {} {ws}/repo (remote {ws}/remote.git)",
        style("▸").cyan(),
        if seeded { "seeded" } else { "resumed" }
    );

    let progress = Spinners::new();
    let outcome = coding::run_loop(&session, &ws, args.max_iterations, &progress).await?;

    println!("\n{}", style("summary").bold());
    println!(
        "  {:<4} {:<7} {:<7} {:>9}  detail",
        "iter", "step", "result", "time"
    );
    for s in &outcome.steps {
        let result = if s.ok {
            style("pass").green()
        } else {
            style("fail").red()
        };
        println!(
            "  {:<4} {:<7} {:<7} {:>9}  {}",
            s.iteration,
            s.name,
            result,
            format!("{:.1?}", s.duration),
            s.detail
        );
    }
    let agent_calls = outcome.steps.iter().filter(|s| s.name == "agent").count();
    if !outcome.green {
        println!(
            "\n{} tests still failing after {agent_calls} agent calls",
            style("✘").red().bold()
        );
        return Ok(false);
    }
    match &outcome.pushed {
        Some(sha) => println!(
            "\n{} green after {agent_calls} agent calls · pushed {}",
            style("✔").green().bold(),
            &sha[..12]
        ),
        None => println!(
            "\n{} green · nothing new to push",
            style("✔").green().bold()
        ),
    }

    // Resumption: stop the microVM, then the same session id finds the work on its storage.
    session.stop().await?;
    println!(
        "\n{} stopped the session; resuming the same session id in a fresh microVM",
        style("▸").cyan()
    );
    let resumed = target
        .client
        .session_with_id(&target.arn, session.id().as_str())?;
    let log = resumed.git(format!("{ws}/repo")).log(5).await?;
    for line in &log {
        println!("    │ {line}");
    }
    let remote = resumed.git(format!("{ws}/remote.git")).head().await?;
    let kept = outcome.pushed.as_deref().is_none_or(|sha| remote == sha);
    println!(
        "{} the work is still there: {} commits in the repository, remote main at {}",
        if kept {
            style("✔").green().bold()
        } else {
            style("✘").red().bold()
        },
        log.len(),
        &remote[..12.min(remote.len())]
    );
    if target.local.is_none() {
        println!(
            "{} resume later with: --session {}",
            style("▸").cyan(),
            session.id()
        );
    }
    Ok(kept)
}
