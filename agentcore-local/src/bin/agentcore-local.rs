//! `agentcore-local`: run a local AgentCore Runtime (see [`agentcore_local::cli`]).
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

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "agentcore_local=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    agentcore_local::cli::main().await
}
