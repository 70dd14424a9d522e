//! `local`: agentcore-local in this binary, with its own flags, and a runtime named
//! `default` so that `exec` works against it with no `--runtime`.

use crate::cli::LocalArgs;
use crate::context::{DEFAULT_RUNTIME, ensure_default_runtime};
use crate::error::{CliError, Result};

pub async fn run(args: LocalArgs) -> Result<u8> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "agentcore_local=info".into()),
        )
        .with_writer(std::io::stderr)
        // Colour only on a terminal, never with NO_COLOR (a log file gets plain text).
        .with_ansi(crate::output::decorations_allowed_on_stderr())
        .try_init();
    if let Some(command) = args.command {
        let cli = agentcore_local::cli::Cli {
            command: Some(command),
            serve: args.serve,
        };
        let code = agentcore_local::cli::run(cli).await;
        return Ok(if code == std::process::ExitCode::SUCCESS {
            0
        } else {
            crate::error::EXIT_ERROR
        });
    }
    let builder = agentcore_local::cli::builder(&args.serve).map_err(CliError::new)?;
    let local = builder
        .start()
        .await
        .map_err(|e| CliError::from(e).context("cannot start"))?;
    crate::output::print_stdout(&format!("listening on {}\n", local.endpoint()))?;
    if !args.no_default_runtime {
        match ensure_default_runtime(&local.client()).await {
            Ok(arn) => crate::output::print_stdout(&format!("runtime {DEFAULT_RUNTIME}: {arn}\n"))?,
            Err(e) => {
                local.shutdown().await;
                return Err(e);
            }
        }
    }
    super::interrupted().await;
    local.shutdown().await;
    Ok(0)
}
