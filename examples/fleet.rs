//! `fleet`: the same coding task on N sessions side by side — the "race" / "bench"
//! experiment — with bounded concurrency and the 25 commands/s limiter, then a comparison
//! table (and JSON / CSV reports).
//!
//! ```text
//! cargo run -p examples --example fleet -- --sessions 20 --concurrency 8
//! cargo run -p examples --example fleet -- --runtime <ARN> --sessions 5 --csv fleet.csv
//! ```

use std::process::ExitCode;

use agentcore_sdk::sh;
use agentcore_sdk::workflow::fleet::Fleet;
use clap::Parser;
use examples::coding;

#[derive(Parser, Debug)]
#[command(about = "Run the coding loop on N sessions and compare")]
struct Args {
    /// Runtime ARN (default: an in-process local runtime).
    #[arg(long)]
    runtime: Option<String>,
    /// Endpoint override.
    #[arg(long)]
    endpoint: Option<String>,
    /// How many sessions.
    #[arg(long, default_value_t = 8)]
    sessions: usize,
    /// How many at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Command starts per second across the fleet.
    #[arg(long, default_value_t = 25)]
    rate: u32,
    /// Write the JSON report here.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// Write the CSV report here.
    #[arg(long)]
    csv: Option<std::path::PathBuf>,
    /// Serve the demo fixer agent on $PORT (used by the local runtime).
    #[arg(long, hide = true)]
    agent_mode: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.agent_mode {
        return coding::agent_mode().await;
    }
    match run(args).await {
        Ok(all_ok) if all_ok => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("fleet: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    let target = coding::target_with_fixer(
        args.runtime.as_deref(),
        args.endpoint.as_deref(),
        "fleet_demo",
    )
    .await?;
    println!(
        "fleet of {} sessions on {} ({} at a time, ≤{} commands/s)",
        args.sessions, target.arn, args.concurrency, args.rate
    );
    let report = Fleet::builder(&target.client, &target.arn)?
        .sessions(args.sessions)
        .concurrency(args.concurrency)
        .commands_per_second(args.rate)
        .run(|session, _| async move {
            let ws = coding::workspace(&session).await?;
            coding::seed(&session, &ws).await?;
            coding::run_loop(&session, &ws, 5, &coding::Quiet).await?;
            let repo = format!("{ws}/repo");
            session
                .run(sh!("cd {repo} && ./test.sh && git log --oneline | wc -l"))
                .await
        })
        .await;
    print!("{}", report.table());
    if let Some(p) = &args.json {
        std::fs::write(p, report.to_json())?;
    }
    if let Some(p) = &args.csv {
        std::fs::write(p, report.to_csv())?;
    }
    Ok(report.succeeded() == report.runs.len())
}
