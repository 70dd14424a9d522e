//! `stop_all`: stops every session a session ledger lists as not stopped — what an
//! experiment (the `bench` or `race` example, or your own with `.ledger(..)`) left running
//! when it crashed or was killed. Exits 0 when everything is stopped, 1 otherwise.
//!
//! ```text
//! cargo run -p examples --example stop_all -- --ledger sessions.ledger                 # on AWS
//! cargo run -p examples --example stop_all -- --ledger sessions.ledger --endpoint http://127.0.0.1:8080
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use agentcore_sdk::{Client, Config};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "Stop every session a ledger lists as not stopped")]
struct Args {
    /// The session ledger.
    #[arg(long)]
    ledger: PathBuf,
    /// Endpoint override (a local runtime: dummy credentials unless AWS_ACCESS_KEY_ID is set).
    #[arg(long)]
    endpoint: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("stop_all: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    let state = agentcore_sdk::workflow::Ledger::read(&args.ledger)?;
    // The region of the first session's ARN when none is configured.
    let region = state
        .sessions
        .first()
        .and_then(|s| s.runtime_arn.parse::<agentcore_sdk::RuntimeArn>().ok())
        .map(|a| a.region().to_owned());
    let client = match &args.endpoint {
        Some(e) => {
            let mut b = Config::builder_from_env().endpoint_url(e);
            if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
                b = b.static_credentials("local", "local");
            }
            if std::env::var_os("AWS_REGION").is_none() {
                b = b.region(region.unwrap_or_else(|| agentcore_local::REGION.to_owned()));
            }
            Client::from_conf(b.build()?)
        }
        None => {
            let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .load()
                .await;
            let mut b = Config::builder_from_sdk_config(&sdk);
            if sdk.region().is_none()
                && let Some(r) = region
            {
                b = b.region(r);
            }
            Client::from_conf(b.build()?)
        }
    };
    let report = agentcore_sdk::workflow::stop_all(&client, &args.ledger).await?;
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.table());
    }
    Ok(report.is_clean())
}
