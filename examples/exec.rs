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

use agentcore_sdk::{Client, CommandEvent, CommandStatus, Config, RuntimeArn};
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

    // Either the given runtime, or a local one started here.
    let mut _local = None;
    let (client, arn) = match &args.runtime {
        Some(arn) => {
            let arn: RuntimeArn = arn.parse()?;
            let sdk = aws_config_from_env().await;
            let mut b = Config::builder_from_sdk_config(&sdk);
            if sdk.region().is_none() {
                b = b.region(arn.region());
            }
            if let Some(e) = &args.endpoint {
                b = b.endpoint_url(e);
            }
            (Client::from_conf(b.build()?), arn)
        }
        None => {
            let (client, arn) = match &args.endpoint {
                Some(e) => {
                    let client = Client::from_conf(
                        Config::builder()
                            .region(agentcore_local::REGION)
                            .endpoint_url(e)
                            .static_credentials("local", "local")
                            .build()?,
                    );
                    let arn = local_runtime(&client).await?;
                    (client, arn)
                }
                None => {
                    let local = agentcore_local::LocalRuntime::builder().start().await?;
                    eprintln!(
                        "[exec] no --runtime: using an in-process agentcore-local at {}",
                        local.endpoint()
                    );
                    let client = local.client();
                    _local = Some(local);
                    let arn = local_runtime(&client).await?;
                    (client, arn)
                }
            };
            (client, arn)
        }
    };

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

/// A runtime with session storage on a local server, created once and reused by name.
async fn local_runtime(client: &Client) -> Result<RuntimeArn, agentcore_sdk::Error> {
    use futures::TryStreamExt;
    let existing: Vec<_> = client
        .list_agent_runtimes()
        .into_stream()
        .try_collect()
        .await?;
    if let Some(rt) = existing
        .into_iter()
        .find(|r| r.agent_runtime_name.as_str() == "exec_demo")
    {
        return Ok(rt.agent_runtime_arn);
    }
    let created = client
        .create_agent_runtime()
        .name("exec_demo")
        .container_uri("local/exec-demo:latest")
        .role_arn("arn:aws:iam::123456789012:role/local")
        .session_storage("/mnt/workspace")
        .send()
        .await?;
    Ok(client
        .wait_until_ready(created.agent_runtime_id.as_str())
        .timeout(Duration::from_secs(30))
        .send()
        .await?
        .agent_runtime_arn)
}

fn exit_code(code: i32, status: &CommandStatus) -> ExitCode {
    if *status == CommandStatus::TimedOut {
        return ExitCode::from(124);
    }
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

async fn aws_config_from_env() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}
