//! `race`: who fixes it first? Four contenders get the same broken repository at once, each
//! in its own session; the first whose tests pass wins, every other is cancelled and its
//! session stopped, and the winner pushes its fix.
//!
//! ```text
//! cargo run -p examples --example race                       # local runtime, no AWS account
//! cargo run -p examples --example race -- --runtime <ARN>    # the same on AgentCore Runtime
//! ```
//!
//! The local contenders are one agent with four configurations: `fast-right` (fixes it in
//! 1.2 s), `faster-wrong` (0.4 s, a wrong fix, twice), `slow-right` (4 s) and `crasher` (the
//! agent process dies after 0.7 s). A live board shows each contender's step.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use agentcore_sdk::workflow::race::{Contender, ContenderStatus, Race, RacePhase, RaceUpdate};
use clap::Parser;
use examples::{coding, experiments};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

#[derive(Parser, Debug)]
#[command(about = "Race four agent configurations on the same task")]
struct Args {
    /// Runtime ARN (default: an in-process local runtime).
    #[arg(long)]
    runtime: Option<String>,
    /// Endpoint override.
    #[arg(long)]
    endpoint: Option<String>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Write the JSON report here.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// Record every session in this ledger (see the stop_all example).
    #[arg(long)]
    ledger: Option<std::path::PathBuf>,
    /// Append the winner's diff as a SWE-bench prediction for this instance id to
    /// predictions.jsonl.
    #[arg(long)]
    instance_id: Option<String>,
    /// Serve the experiments agent on $PORT (used by the local runtime).
    #[arg(long, hide = true)]
    agent_mode: bool,
}

/// The four local contenders: name, behaviour, thinking time.
const CONTENDERS: [(&str, &str, u64); 4] = [
    ("fast-right", "right", 1200),
    ("faster-wrong", "wrong", 400),
    ("slow-right", "right", 4000),
    ("crasher", "crash", 700),
];

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.agent_mode {
        return experiments::agent_mode().await;
    }
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("race: {e}");
            ExitCode::from(2)
        }
    }
}

fn describe(phase: &RacePhase) -> String {
    match phase {
        RacePhase::Setup => "cloning the repository".into(),
        RacePhase::Invoking(n) => format!("agent working (attempt {n})"),
        RacePhase::Checking(n) => format!("running the tests (attempt {n})"),
        RacePhase::CheckFailed(n) => format!("tests failed (attempt {n})"),
        RacePhase::Finished(ContenderStatus::Won) => "WON".into(),
        RacePhase::Finished(s) => s.to_string(),
        RacePhase::SessionStopped => "session stopped".into(),
        _ => format!("{phase:?}"),
    }
}

async fn run(args: Args) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    let target = coding::target_with_fixer(
        args.runtime.as_deref(),
        args.endpoint.as_deref(),
        "race_demo",
    )
    .await?;
    println!("race of {} contenders on {}", CONTENDERS.len(), target.arn);

    // The live board: one line per contender, redrawn in a terminal, a log otherwise.
    let tty = std::io::stdout().is_terminal();
    let board = MultiProgress::new();
    let style = ProgressStyle::with_template("{spinner} {prefix:<14} {elapsed:>4} {wide_msg}")?;
    let bars: Vec<ProgressBar> = CONTENDERS
        .iter()
        .map(|(name, _, _)| {
            let bar = board.add(ProgressBar::new_spinner());
            bar.set_style(style.clone());
            bar.set_prefix(name.to_string());
            bar.set_message("starting");
            if tty {
                bar.enable_steady_tick(Duration::from_millis(100));
            }
            bar
        })
        .collect();
    let on_update = {
        let bars = bars.clone();
        move |u: &RaceUpdate| {
            let msg = describe(&u.phase);
            if tty {
                if let Some(bar) = bars.get(u.index) {
                    match u.phase {
                        RacePhase::Finished(_) => bar.finish_with_message(msg),
                        RacePhase::SessionStopped => {}
                        _ => bar.set_message(msg),
                    }
                }
            } else {
                println!(
                    "{:>7.2}s  {:<14} {msg}",
                    u.elapsed.as_secs_f64(),
                    u.contender
                );
            }
        }
    };

    let mut race = Race::builder(&target.client)
        .check(experiments::CHECK)
        .attempts(2)
        .setup(experiments::seed)
        .push_winner(
            "/mnt/workspace/repo",
            "origin",
            "HEAD:refs/heads/race-winner",
        )
        .winner_diff("/mnt/workspace/repo")
        .timeout(Duration::from_secs(args.timeout))
        .on_update(on_update);
    if let Some(l) = &args.ledger {
        race = race.ledger(agentcore_sdk::workflow::Ledger::open(l)?);
    }
    for (name, quality, delay) in CONTENDERS {
        race = race.contender_with(
            Contender::new(name, &target.arn)?
                .json(&serde_json::json!({ "quality": quality, "delayMs": delay }))?,
        );
    }
    // Ctrl-C: stop every session, wait for the stops, then report.
    let cancel = race.cancel_handle();
    let on_ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nrace: Ctrl-C: stopping every session…");
            let failed = cancel.cancel().await;
            eprintln!("race: stopped ({} could not be)", failed.len());
        }
    });
    let report = race.run().await?;
    on_ctrl_c.abort();
    for bar in &bars {
        if !bar.is_finished() {
            bar.finish();
        }
    }
    println!();
    print!("{}", report.table());
    match (&report.pushed, &report.push_error) {
        (Some(sha), _) => println!("winner pushed {} to race-winner", &sha[..12.min(sha.len())]),
        (None, Some(e)) => println!("winner could not push: {e}"),
        _ => {}
    }
    if let Some(p) = &args.json {
        std::fs::write(p, report.to_json())?;
    }
    if let Some(id) = &args.instance_id
        && let Some(prediction) = report.swe_bench_prediction(id)
    {
        prediction.append_to("predictions.jsonl")?;
        println!("appended the winner's diff to predictions.jsonl");
    }
    Ok(report.winner.is_some())
}
