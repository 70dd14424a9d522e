//! The `agentcore-local` command line, as a library so other binaries (the `agentcore-rs`
//! CLI's `local` command) serve with the same flags.
//!
//! ```text
//! agentcore-local --listen 127.0.0.1:8080 --data-dir ./.agentcore --agent coder='python3 agent.py'
//! agentcore-local purge --data-dir ./.agentcore
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::{AgentSpec, Isolation, LocalRuntime, Network};

/// A local Amazon Bedrock AgentCore Runtime: same wire protocol, real processes.
#[derive(Parser, Debug)]
#[command(
    name = "agentcore-local",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Something other than serving.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// How to serve (the default command).
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// What `agentcore-local` can do besides serving.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Remove a data directory whole, with every file sessions made in it (also those of ids
    /// other than yours, which a plain `rm -rf` cannot remove). Stop the server first.
    Purge {
        /// The data directory.
        #[arg(long, default_value = ".agentcore-local")]
        data_dir: PathBuf,
    },
}

/// The flags of a serving `agentcore-local`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Where runtimes and session storage are kept (survives restarts).
    #[arg(long, default_value = ".agentcore-local")]
    pub data_dir: PathBuf,
    /// Agent command for runtimes named NAME (or with container URI NAME, or `*`), as
    /// NAME=COMMAND; the command must serve the container contract on $PORT. Repeatable.
    #[arg(long = "agent", value_name = "NAME=COMMAND")]
    pub agents: Vec<AgentSpec>,
    /// Reject requests whose SigV4 signature (or presigned URL) does not verify against
    /// --credentials, with 403 AccessDeniedException.
    #[arg(long)]
    pub verify_sigv4: bool,
    /// Access key pairs accepted by --verify-sigv4, as ACCESS_KEY_ID:SECRET. Repeatable;
    /// default local:local.
    #[arg(long = "credentials", value_name = "ACCESS_KEY_ID:SECRET")]
    pub credentials: Vec<String>,
    /// Bearer tokens accepted by --verify-sigv4 on shell upgrades, invocations (`Authorization:
    /// Bearer`) and session endpoints. Repeatable.
    #[arg(long = "bearer-token", value_name = "TOKEN")]
    pub bearer_tokens: Vec<String>,
    /// The agent's code for runtimes named NAME, as NAME=PATH: a host file or directory bound
    /// read-only at `/var/task` (directory) or `/var/task/<file name>` (file) in each session,
    /// where the agent command starts. Repeatable.
    #[arg(long = "agent-code", value_name = "NAME=PATH")]
    pub agent_code: Vec<String>,
    /// How sessions are isolated: `auto` (the best this host offers), `sandbox`,
    /// `single-id`, or `none` (plain processes: NOT isolated). Default: the environment
    /// variable AGENTCORE_LOCAL_ISOLATION, else auto.
    #[arg(long, value_name = "MODE")]
    pub isolation: Option<String>,
    /// Sessions' network: `private` (own namespace, outbound through slirp4netns, the host
    /// unreachable), `none` (sealed), or `host` (shares the host's network, including this
    /// server's API: an explicit opt-in). The widest a runtime's sessions get.
    #[arg(long, default_value = "private")]
    pub network: Network,
    /// Let a runtime choose a wider network than --network with its environment variable
    /// AGENTCORE_LOCAL_NETWORK (narrower is always allowed).
    #[arg(long)]
    pub allow_runtime_network: bool,
    /// Memory limit of each session, in MiB.
    #[arg(long, default_value_t = 8192)]
    pub session_memory_mib: u64,
    /// Process limit of each session.
    #[arg(long, default_value_t = 4096)]
    pub session_pids: u64,
    /// What each session may write outside its storage (its root, /tmp, the layer over the
    /// system directories; kept in memory), in MiB.
    #[arg(long, default_value_t = 4096)]
    pub session_disk_mib: u64,
    /// Sandboxes kept built ahead of new sessions.
    #[arg(long, default_value_t = 2)]
    pub sandbox_pool: usize,
    /// Allow a non-loopback --listen address without --verify-sigv4.
    #[arg(long)]
    pub insecure_public: bool,
    /// Serve every local user on loopback (by default only the user that started the
    /// server, and root, may use the API).
    #[arg(long)]
    pub allow_other_users: bool,
    /// Region of the ARNs made for unsigned requests (signed requests get the region they
    /// were signed for).
    #[arg(long, default_value = crate::REGION)]
    pub region: String,
    /// Serve HTTPS / WSS with this PEM certificate chain (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Milliseconds a new runtime stays CREATING.
    #[arg(long, default_value_t = 300)]
    pub ready_delay_ms: u64,
    /// Inject faults, e.g. `rate=0.1,seed=7` (a tenth of the invocations, commands and stops
    /// throttled, 409, 5xx or cut; a tenth of session starts slow) or per kind:
    /// `throttle=`, `conflict=`, `5xx=`, `cut=`, `cut-after=BYTES`, `slow-start=`,
    /// `slow-start-ms=`. Off by default.
    #[arg(long, value_name = "SPEC")]
    pub faults: Option<crate::FaultPlan>,
    /// Answer commands beyond N per second per agent runtime with 429, as the service does
    /// at 25. Off by default.
    #[arg(long, value_name = "N")]
    pub command_rate_limit: Option<u32>,
}

/// Parses the command line and runs it.
pub async fn main() -> ExitCode {
    run(Cli::parse()).await
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Some(Command::Purge { data_dir }) => purge(&data_dir).await,
        None => serve(cli.serve).await,
    }
}

fn fail(what: impl std::fmt::Display) -> ExitCode {
    eprintln!("agentcore-local: {what}");
    ExitCode::FAILURE
}

/// Removes a data directory whole, through the sessions' user namespace where needed.
pub async fn purge(data_dir: &std::path::Path) -> ExitCode {
    if !data_dir.exists() {
        return ExitCode::SUCCESS;
    }
    match crate::purge(data_dir).await {
        Ok(()) => {
            eprintln!("agentcore-local: removed {}", data_dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("cannot remove {}: {e}", data_dir.display())),
    }
}

/// A builder for these flags.
pub fn builder(args: &ServeArgs) -> Result<crate::LocalRuntimeBuilder, String> {
    let mut builder = LocalRuntime::builder()
        .listen(args.listen)
        .data_dir(&args.data_dir)
        .ready_delay(std::time::Duration::from_millis(args.ready_delay_ms))
        .network(args.network)
        .allow_runtime_network(args.allow_runtime_network)
        .sandbox_pool(args.sandbox_pool)
        .session_limits(
            crate::Limits::default()
                .memory_bytes(args.session_memory_mib.saturating_mul(1 << 20))
                .pids(args.session_pids)
                .disk_bytes(args.session_disk_mib.saturating_mul(1 << 20)),
        )
        .insecure_public(args.insecure_public)
        .allow_other_users(args.allow_other_users)
        .region(args.region.clone());
    if let Some(plan) = &args.faults {
        builder = builder.faults(plan.clone());
    }
    if let Some(n) = args.command_rate_limit {
        builder = builder.command_rate_limit(n);
    }
    match args.isolation.as_deref() {
        None | Some("auto") => {}
        Some(mode) => builder = builder.isolation(mode.parse::<Isolation>()?),
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let read = |p: &std::path::Path| {
            std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
        };
        builder = builder.tls(read(cert)?, read(key)?);
    }
    if args.verify_sigv4 {
        let mut keys = Vec::new();
        for c in &args.credentials {
            match c.split_once(':') {
                Some((k, s)) if !k.is_empty() && !s.is_empty() => {
                    keys.push((k.to_owned(), s.to_owned()))
                }
                _ => return Err("--credentials expects ACCESS_KEY_ID:SECRET".into()),
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
            _ => return Err("--agent-code expects NAME=PATH".into()),
        }
    }
    for a in &args.agents {
        builder = match codes.remove(&a.name) {
            Some(code) => builder.agent_with_code(a.name.clone(), a.command.clone(), code),
            None => builder.agent(a.name.clone(), a.command.clone()),
        };
    }
    if let Some(name) = codes.keys().next() {
        return Err(format!("--agent-code {name}=... names no --agent"));
    }
    Ok(builder)
}

/// Serves until Ctrl-C or SIGTERM, then stops every session (their processes gone, their
/// cgroups removed) before exiting.
pub async fn serve(args: ServeArgs) -> ExitCode {
    let builder = match builder(&args) {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let local = match builder.start().await {
        Ok(l) => l,
        Err(e) => return fail(format!("cannot start: {e}")),
    };
    println!("listening on {}", local.endpoint());
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(t) => t,
        Err(e) => return fail(format!("cannot handle SIGTERM: {e}")),
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    local.shutdown().await;
    ExitCode::SUCCESS
}
