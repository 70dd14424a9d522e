//! `bench`: who fixes it best? A matrix of harness × model, each cell run several times in
//! fresh sessions, graded on latency, pass rate over valid trials (with its 95% interval)
//! and cost; writes one row per run to `bench.csv` (resumable: a re-run skips finished
//! rows), `bench.json`, `bench.svg` (latency vs pass rate per variant) and, next to them, a
//! Harbor job directory `bench-job/` (a `result.json`, and per trial its `result.json`, the
//! agent's ATIF `agent/trajectory.json` and the verifier's `verifier/reward.txt`).
//!
//! Every session it starts is recorded in `sessions.ledger` (`--ledger`); Ctrl-C stops them
//! all, waits for the stops, writes what finished and exits 130. After a crash, `cargo run
//! -p examples --example stop_all -- --ledger sessions.ledger` stops what is left.
//!
//! ```text
//! cargo run -p examples --example bench                       # local runtime, no AWS account
//! cargo run -p examples --example bench -- --runtime <ARN>    # the same on AgentCore Runtime
//! cargo run -p examples --example bench -- --repeats 10 --out results/
//! ```
//!
//! Locally, one agent simulates three harnesses (`claude-code`, `codex`, `aider`) and two
//! models (`sonnet`, `haiku`) that differ in speed, token use and how often they fix the
//! demo repository right, half, or wrongly (drawn per session, so runs differ).

use std::path::PathBuf;
use std::process::ExitCode;

use agentcore_sdk::workflow::bench::{Bench, Prices, TestScore};
use agentcore_sdk::workflow::harbor::HarborJob;
use agentcore_sdk::workflow::{Budget, Ledger};
use clap::Parser;
use examples::{coding, experiments};

#[derive(Parser, Debug)]
#[command(about = "Benchmark a harness × model matrix")]
struct Args {
    /// Runtime ARN (default: an in-process local runtime).
    #[arg(long)]
    runtime: Option<String>,
    /// Endpoint override.
    #[arg(long)]
    endpoint: Option<String>,
    /// Harnesses (first axis).
    #[arg(long, value_delimiter = ',', default_value = "claude-code,codex,aider")]
    harness: Vec<String>,
    /// Models (second axis).
    #[arg(long, value_delimiter = ',', default_value = "sonnet,haiku")]
    model: Vec<String>,
    /// Runs per variant.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Runs at the same time.
    #[arg(long, default_value_t = 6)]
    concurrency: usize,
    /// Command starts per second across the bench.
    #[arg(long, default_value_t = 25)]
    rate: u32,
    /// Directory for bench.csv, bench.json, bench.svg and the Harbor job bench-job/.
    #[arg(long, default_value = ".")]
    out: PathBuf,
    /// The session ledger (default: sessions.ledger in --out).
    #[arg(long)]
    ledger: Option<PathBuf>,
    /// End the bench after this many seconds (runs in flight are cancelled, sessions stopped).
    #[arg(long)]
    max_seconds: Option<u64>,
    /// Start at most this many sessions (retries included).
    #[arg(long)]
    max_sessions: Option<u64>,
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
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(130),
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    let target = coding::target_with_fixer(
        args.runtime.as_deref(),
        args.endpoint.as_deref(),
        "bench_demo",
    )
    .await?;
    std::fs::create_dir_all(&args.out)?;
    let csv = args.out.join("bench.csv");
    let ledger_path = args
        .ledger
        .clone()
        .unwrap_or_else(|| args.out.join("sessions.ledger"));
    let mut budget = Budget::new();
    if let Some(s) = args.max_seconds {
        budget = budget.wall_clock(std::time::Duration::from_secs(s));
    }
    if let Some(n) = args.max_sessions {
        budget = budget.max_sessions(n);
    }
    let variants = args.harness.len() * args.model.len();
    println!(
        "bench: {} harnesses × {} models × {} repeats = {} runs on {} ({} at a time)",
        args.harness.len(),
        args.model.len(),
        args.repeats,
        variants * args.repeats,
        target.arn,
        args.concurrency
    );
    let bench = Bench::builder(&target.client)
        .axis("harness", args.harness.clone())
        .axis("model", args.model.clone())
        .repeats(args.repeats)
        .runtime(&target.arn)
        .task_json(&serde_json::json!({ "task": "make the tests of calc.sh pass" }))?
        .setup(experiments::seed)
        .check(experiments::CHECK)
        .score(|out| TestScore::count_lines(&out.stdout, "PASS", "FAIL"))
        // AgentCore-like session price per second plus per-token model prices.
        .cost_model(|u: &agentcore_sdk::workflow::bench::RunUsage<'_>| {
            let (tin, tout) = match u.variant.get("model") {
                Some("sonnet") => (3e-6, 15e-6),
                _ => (0.8e-6, 4e-6),
            };
            Prices::per_session_second(0.000_025)
                .tokens(tin, tout)
                .cost_of(u)
        })
        .concurrency(args.concurrency)
        .commands_per_second(args.rate)
        .output(&csv)
        .ledger(Ledger::open(&ledger_path)?)
        .budget(budget)
        .on_run(|r| println!("  {r}"));
    // Ctrl-C: stop every session, wait for the stops, then report what finished.
    let cancel = bench.cancel_handle();
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let on_ctrl_c = {
        let interrupted = interrupted.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                interrupted.store(true, std::sync::atomic::Ordering::SeqCst);
                eprintln!("\nbench: Ctrl-C: stopping every session…");
                let failed = cancel.cancel().await;
                if failed.is_empty() {
                    eprintln!("bench: every session stopped");
                } else {
                    eprintln!(
                        "bench: {} sessions could not be stopped: they are in the ledger",
                        failed.len()
                    );
                }
            }
        })
    };
    let report = bench.run().await?;
    on_ctrl_c.abort();
    println!(
        "\n{} runs ({} this time, {} resumed from {})\n",
        report.runs.len(),
        report.ran,
        report.runs.len() - report.ran,
        csv.display()
    );
    print!("{}", report.table());
    std::fs::write(args.out.join("bench.json"), report.to_json())?;
    std::fs::write(args.out.join("bench.svg"), report.to_svg()?)?;
    let job = args.out.join("bench-job");
    report.write_harbor_job(
        &job,
        &HarborJob::new("bench", "calc-sh").agent_version(env!("CARGO_PKG_VERSION")),
    )?;
    println!(
        "\nwrote {}, {}, {} and the Harbor job {}/ (sessions in {})",
        csv.display(),
        args.out.join("bench.json").display(),
        args.out.join("bench.svg").display(),
        job.display(),
        ledger_path.display()
    );
    Ok(!interrupted.load(std::sync::atomic::Ordering::SeqCst))
}
