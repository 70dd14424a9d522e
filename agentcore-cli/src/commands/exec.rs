//! `exec`: a command's output streamed to the right descriptors, its exit code passed
//! through; `--it`: an interactive shell; `--detach`: a process of the session.

use std::io::IsTerminal;
use std::time::Duration;

use agentcore_sdk::{CommandEvent, CommandStatus, Session};
use futures::StreamExt;

use super::{key_value, shell_word};
use crate::cli::{ExecArgs, OutputFormat};
use crate::context::Context;
use crate::error::{CliError, EXIT_TIMEOUT, Result};
use agentcore_sdk::shell::terminal::{self, Attached as Attach};

/// The exit code for a remote exit code: itself when it fits, 124 for a timeout, 255 else.
pub fn remote_code(code: i32, status: &CommandStatus) -> u8 {
    if *status == CommandStatus::TimedOut {
        return EXIT_TIMEOUT;
    }
    u8::try_from(code).unwrap_or(255)
}

/// What `exec --json` prints, in this order (as AWS's `agentcore exec --json`).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ExecJson<'a> {
    exit_code: i32,
    status: &'a str,
    stdout: &'a str,
    stderr: &'a str,
    /// Present (true) only when the collected output was cut to the library's limit.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    truncated: bool,
}

pub async fn run(ctx: &Context, args: ExecArgs) -> Result<u8> {
    if args.it {
        return shell(ctx, args).await;
    }
    if args.command.is_empty() {
        return Err(CliError::new(
            "no command: agentcore-rs exec [OPTIONS] -- COMMAND... (or --it for a shell)",
        ));
    }
    if !(1..=3600).contains(&args.timeout) {
        return Err(CliError::new(format!(
            "--timeout must be 1 to 3600 seconds, got {}",
            args.timeout
        )));
    }
    let command = args.command.join(" ");
    let (client, arn) = ctx.runtime(args.target.runtime.as_deref()).await?;
    let mut session = match &args.session_id {
        Some(id) => client.session_with_id(&arn, id)?,
        None => client.session(&arn)?,
    };
    if let Some(q) = &args.target.qualifier {
        session = session.with_qualifier(q);
    }
    if args.detach {
        return detach(ctx, &session, &args, command).await;
    }
    if args.session_id.is_none() && std::io::stderr().is_terminal() {
        eprintln!("[session {}]", session.id());
    }
    let request = session
        .command(command)
        .timeout(Duration::from_secs(args.timeout));
    if args.json || ctx.output() == OutputFormat::Json {
        let out = request.output().await?;
        crate::output::print_json(&ExecJson {
            exit_code: out.exit_code,
            status: out.status.as_str(),
            stdout: &out.stdout,
            stderr: &out.stderr,
            truncated: out.truncated,
        })?;
        if out.truncated {
            eprintln!(
                "agentcore-rs: the output was longer than --json collects; its middle is cut \
                 (`\"truncated\": true`). Stream it instead (exec without --json)."
            );
        }
        return Ok(remote_code(out.exit_code, &out.status));
    }
    let mut stream = request.send().await?;
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    let mut stderr_open = true;
    while let Some(event) = stream.next().await {
        match event? {
            CommandEvent::Delta {
                stdout: o,
                stderr: e,
            } => {
                // stdout closed by its reader (`| head`): stop reading at once. The remote
                // command runs on until it ends or times out (a one-shot command cannot be
                // killed alone; `sessions stop` ends the session).
                if !o.is_empty() && !crate::output::stream(&mut stdout, o.as_bytes())? {
                    return Ok(crate::output::EXIT_STDOUT_CLOSED);
                }
                if !e.is_empty() && stderr_open {
                    stderr_open = crate::output::stream(&mut stderr, e.as_bytes())?;
                }
            }
            CommandEvent::Stop { exit_code, status } => {
                if status == CommandStatus::TimedOut {
                    eprintln!(
                        "agentcore-rs: the command timed out after {} s",
                        args.timeout
                    );
                }
                return Ok(remote_code(exit_code, &status));
            }
            _ => {}
        }
    }
    Err(CliError::new(
        "the command's stream ended without its exit status",
    ))
}

/// `exec --detach`: starts a process of the session and prints its id.
async fn detach(ctx: &Context, session: &Session, args: &ExecArgs, command: String) -> Result<u8> {
    let mut builder = session.spawn(command);
    if let Some(id) = &args.process_id {
        builder = builder.id(id.as_str())?;
    }
    if let Some(dir) = &args.cwd {
        builder = builder.cwd(dir.clone());
    }
    for kv in &args.env {
        let (k, v) = key_value(kv, "--env")?;
        builder = builder.env(k, v);
    }
    let process = builder.start().await?;
    match ctx.output() {
        OutputFormat::Json => crate::output::print_json(&serde_json::json!({
            "processId": process.id().as_str(),
            "sessionId": session.id().as_str(),
        }))?,
        _ => crate::output::print_stdout(&format!("{}\n", process.id().as_str()))?,
    }
    if args.session_id.is_none() {
        eprintln!(
            "[session {} · agentcore-rs logs -f --session-id {} {}]",
            session.id(),
            session.id(),
            process.id().as_str()
        );
    }
    Ok(0)
}

/// `exec --it`: an interactive shell in this terminal.
async fn shell(ctx: &Context, args: ExecArgs) -> Result<u8> {
    if args.shell_id.is_some() && args.session_id.is_none() {
        return Err(CliError::new(
            "--shell-id needs the --session-id of its session",
        ));
    }
    if !args.command.is_empty() {
        return Err(CliError::new("--it takes no command: type it in the shell"));
    }
    let (client, arn) = ctx.runtime(args.target.runtime.as_deref()).await?;
    let (cols, rows) = terminal::size();
    let mut builder = client.shell(&arn).terminal_size(cols, rows);
    if let Some(s) = &args.session_id {
        builder = builder.session_id(s);
    }
    if let Some(s) = &args.shell_id {
        builder = builder.shell_id(s);
    }
    if let Some(q) = &args.target.qualifier {
        builder = builder.qualifier(q.clone());
    }
    if let Some(t) = &args.bearer_token {
        builder = builder.auth(agentcore_sdk::WebSocketAuth::Bearer(t.expose()));
    }
    let shell = builder.connect().await?;
    match terminal::attach(shell).await? {
        Attach::Exited(code) => Ok(u8::try_from(code).unwrap_or(255)),
        Attach::Detached(handle) => {
            let mut cmd = format!(
                "agentcore-rs exec --it --runtime {} --session-id {} --shell-id {} --region {}",
                shell_word(handle.runtime_arn.as_str()),
                shell_word(handle.session_id.as_str()),
                shell_word(handle.shell_id.as_str()),
                shell_word(client.config().region()),
            );
            if let Some(e) = ctx.data_endpoint_override() {
                cmd.push_str(&format!(" --endpoint-url {}", shell_word(&e)));
            }
            if let Some(p) = &ctx.global.profile {
                cmd.push_str(&format!(" --profile {}", shell_word(p)));
            }
            if let Some(q) = &args.target.qualifier {
                cmd.push_str(&format!(" --qualifier {}", shell_word(q)));
            }
            if args.bearer_token.is_some() {
                // The token itself is never printed.
                cmd.push_str(" --bearer-token \"$AGENTCORE_BEARER_TOKEN\"");
            }
            eprint!("\r\n[detached · the shell keeps running · re-attach with:]\r\n{cmd}\r\n");
            Ok(0)
        }
        _ => Ok(255),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(remote_code(0, &CommandStatus::Completed), 0);
        assert_eq!(remote_code(7, &CommandStatus::Completed), 7);
        assert_eq!(remote_code(137, &CommandStatus::Completed), 137);
        assert_eq!(remote_code(-1, &CommandStatus::Completed), 255);
        assert_eq!(remote_code(4096, &CommandStatus::Completed), 255);
        assert_eq!(remote_code(0, &CommandStatus::TimedOut), 124);
    }
}
