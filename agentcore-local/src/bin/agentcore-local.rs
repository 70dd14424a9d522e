//! `agentcore-local`: run a local AgentCore Runtime.
//!
//! ```text
//! agentcore-local --listen 127.0.0.1:8080 --data-dir ./.agentcore --agent coder='python3 agent.py'
//! ```

#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects
)]

use std::net::SocketAddr;
use std::path::PathBuf;

use agentcore_local::{AgentSpec, LocalRuntime};
use clap::Parser;

/// A local Amazon Bedrock AgentCore Runtime: same wire protocol, real processes.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Where runtimes and session storage are kept (survives restarts).
    #[arg(long, default_value = ".agentcore-local")]
    data_dir: PathBuf,
    /// Agent command for runtimes named NAME (or with container URI NAME, or `*`), as
    /// NAME=COMMAND; the command must serve the container contract on $PORT. Repeatable.
    #[arg(long = "agent", value_name = "NAME=COMMAND")]
    agents: Vec<AgentSpec>,
    /// Reject requests whose SigV4 signature (or presigned URL) does not verify against
    /// --credentials, with 403 AccessDeniedException.
    #[arg(long)]
    verify_sigv4: bool,
    /// Access key pairs accepted by --verify-sigv4, as ACCESS_KEY_ID:SECRET. Repeatable;
    /// default local:local.
    #[arg(long = "credentials", value_name = "ACCESS_KEY_ID:SECRET")]
    credentials: Vec<String>,
    /// Bearer tokens accepted on shell upgrades by --verify-sigv4. Repeatable.
    #[arg(long = "bearer-token", value_name = "TOKEN")]
    bearer_tokens: Vec<String>,
    /// The agent's code for runtimes named NAME, as NAME=PATH: a host file or directory bound
    /// read-only at /var/task (directory) or /var/task/<file name> (file) in each session,
    /// where the agent command starts. Repeatable.
    #[arg(long = "agent-code", value_name = "NAME=PATH")]
    agent_code: Vec<String>,
    /// Sessions' network: `private` (own namespace, outbound through slirp4netns, host
    /// loopback unreachable), `none` (sealed), or `host` (shares the host's network, including
    /// this server's API: an explicit opt-in). A runtime may override it with the
    /// environment variable AGENTCORE_LOCAL_NETWORK.
    #[arg(long, default_value = "private")]
    network: agentcore_local::Network,
    /// Memory limit of each session, in MiB.
    #[arg(long, default_value_t = 8192)]
    session_memory_mib: u64,
    /// Process limit of each session.
    #[arg(long, default_value_t = 4096)]
    session_pids: u64,
    /// Allow a non-loopback --listen address without --verify-sigv4.
    #[arg(long)]
    insecure_public: bool,
    /// Region of the ARNs made for unsigned requests (signed requests get the region they
    /// were signed for).
    #[arg(long, default_value = agentcore_local::REGION)]
    region: String,
    /// Serve HTTPS / WSS with this PEM certificate chain (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Milliseconds a new runtime stays CREATING.
    #[arg(long, default_value_t = 300)]
    ready_delay_ms: u64,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "agentcore_local=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut builder = LocalRuntime::builder()
        .listen(args.listen)
        .data_dir(&args.data_dir)
        .ready_delay(std::time::Duration::from_millis(args.ready_delay_ms))
        .network(args.network)
        .session_limits(
            agentcore_local::Limits::default()
                .memory_bytes(args.session_memory_mib.saturating_mul(1 << 20))
                .pids(args.session_pids),
        )
        .insecure_public(args.insecure_public)
        .region(args.region.clone());
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let read = |p: &std::path::Path| {
            std::fs::read(p).unwrap_or_else(|e| {
                eprintln!("agentcore-local: cannot read {}: {e}", p.display());
                std::process::exit(2)
            })
        };
        builder = builder.tls(read(cert), read(key));
    }
    if args.verify_sigv4 {
        let mut keys = Vec::new();
        for c in &args.credentials {
            match c.split_once(':') {
                Some((k, s)) if !k.is_empty() && !s.is_empty() => {
                    keys.push((k.to_owned(), s.to_owned()))
                }
                _ => {
                    eprintln!("agentcore-local: --credentials expects ACCESS_KEY_ID:SECRET");
                    return std::process::ExitCode::FAILURE;
                }
            }
        }
        if keys.is_empty() {
            keys.push(("local".to_owned(), "local".to_owned()));
        }
        builder = builder.verify_sigv4(keys, args.bearer_tokens.clone());
    }
    let mut codes = std::collections::HashMap::new();
    for c in &args.agent_code {
        match c.split_once('=') {
            Some((name, path)) if !name.is_empty() && !path.is_empty() => {
                codes.insert(name.to_owned(), PathBuf::from(path));
            }
            _ => {
                eprintln!("agentcore-local: --agent-code expects NAME=PATH");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    for a in args.agents {
        builder = match codes.remove(&a.name) {
            Some(code) => builder.agent_with_code(a.name, a.command, code),
            None => builder.agent(a.name, a.command),
        };
    }
    if let Some(name) = codes.keys().next() {
        eprintln!("agentcore-local: --agent-code {name}=... names no --agent");
        return std::process::ExitCode::FAILURE;
    }
    let local = match builder.start().await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("agentcore-local: cannot start: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("listening on {}", local.endpoint());
    let _ = tokio::signal::ctrl_c().await;
    local.shutdown().await;
    std::process::ExitCode::SUCCESS
}
