//! `shell`: an interactive shell in a runtime session — the SDK twin of `agentcore exec --it`.
//!
//! ```text
//! cargo run -p examples --example shell -- --runtime <ARN> [--session <ID>] [--shell-id <ID>]
//! cargo run -p examples --example shell -- --endpoint http://127.0.0.1:8080   # agentcore-local
//! cargo run -p examples --example shell                                      # in-process local runtime
//! ```
//!
//! Raw terminal mode, resize on SIGWINCH, Ctrl+D or `exit` to quit, **Ctrl+]** to detach (the
//! shell keeps running; the exact command to re-attach is printed). Reconnects, a kicked
//! session, a new shell after expiry and lost bytes are reported. The process exits with the
//! shell's exit code, and the terminal is always restored.

use std::io::Write;
use std::process::ExitCode;

use agentcore_sdk::shell::{ShellEvent, ShellExit};
use clap::Parser;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Parser, Debug)]
#[command(about = "Interactive shell in an AgentCore Runtime session")]
struct Args {
    /// Runtime ARN. Without it a runtime named `shell_demo` is created (or reused) on the
    /// local endpoint.
    #[arg(long)]
    runtime: Option<String>,
    /// Endpoint override (e.g. http://127.0.0.1:8080 for agentcore-local). Without it and
    /// without --runtime, an in-process local runtime is started.
    #[arg(long)]
    endpoint: Option<String>,
    /// Session id (re-attach / resume); generated when absent.
    #[arg(long)]
    session: Option<String>,
    /// Shell id (re-attach); generated when absent.
    #[arg(long = "shell-id")]
    shell_id: Option<String>,
}

/// Ctrl+] — the telnet escape — detaches.
const DETACH: u8 = 0x1d;

/// Restores the terminal when dropped, whatever path the program takes out.
struct RawMode(bool);

impl RawMode {
    fn enable() -> Self {
        Self(crossterm::terminal::enable_raw_mode().is_ok())
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if self.0 {
            let _ = crossterm::terminal::disable_raw_mode();
        }
    }
}

fn notice(msg: &str) {
    // Raw mode: \r\n to start at column 0.
    let mut err = std::io::stderr();
    let _ = write!(err, "\r\n[{msg}]\r\n");
    let _ = err.flush();
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let code = match run(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("shell: {e}");
            255
        }
    };
    // Exit now: a blocking stdin read must not keep the process alive.
    std::process::exit(code);
}

async fn run(args: Args) -> Result<i32, Box<dyn std::error::Error + Send + Sync>> {
    let examples::Target {
        client,
        arn,
        endpoint,
        local,
    } = examples::target(
        args.runtime.as_deref(),
        args.endpoint.as_deref(),
        "shell_demo",
    )
    .await?;
    let endpoint_for_reattach = endpoint;
    let _local = local;

    let (cols, rows) = crossterm::terminal::size().unwrap_or((80, 24));
    let mut builder = client.shell(&arn).terminal_size(cols, rows);
    if let Some(s) = &args.session {
        builder = builder.session_id(s);
    }
    if let Some(s) = &args.shell_id {
        builder = builder.shell_id(s);
    }
    let mut shell = builder.connect().await?;
    let ids = shell.ids().clone();
    let mut events = shell.events();
    let raw = RawMode::enable();
    notice(&format!(
        "connected · session {} · Ctrl+D or 'exit' to quit · Ctrl+] to detach",
        ids.session_id
    ));

    let (mut reader, writer) = shell.split();
    let mut winch = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())?;
    let mut stdin = tokio::io::stdin();
    let mut stdout = tokio::io::stdout();
    let mut writer = writer;
    let mut inbuf = [0u8; 4096];
    let mut outbuf = vec![0u8; 32 * 1024];
    let mut stdin_open = true;
    let mut exit: Option<ShellExit> = None;
    loop {
        tokio::select! {
            n = reader.read(&mut outbuf) => match n {
                Ok(0) => break,
                Ok(n) => {
                    stdout.write_all(&outbuf[..n]).await?;
                    stdout.flush().await?;
                }
                Err(e) => {
                    notice(&format!("connection ended: {e}"));
                    break;
                }
            },
            n = stdin.read(&mut inbuf), if stdin_open => match n {
                Ok(0) | Err(_) => stdin_open = false,
                Ok(n) => {
                    let data = &inbuf[..n];
                    if let Some(pos) = data.iter().position(|&b| b == DETACH) {
                        if pos > 0 {
                            writer.write_all(&data[..pos]).await?;
                        }
                        let handle = writer.detach().await;
                        drop(raw);
                        let mut cmd = format!(
                            "cargo run -p examples --example shell -- --runtime {} --session {} --shell-id {}",
                            handle.runtime_arn, handle.session_id, handle.shell_id
                        );
                        if let Some(e) = &endpoint_for_reattach {
                            cmd.push_str(&format!(" --endpoint {e}"));
                        }
                        eprintln!("\n[detached · the shell keeps running · re-attach with:]\n{cmd}");
                        if _local.is_some() {
                            eprintln!("[note: this process hosted the local runtime; the shell ends when it exits]");
                        }
                        return Ok(0);
                    }
                    if writer.write_all(data).await.is_err() {
                        break;
                    }
                }
            },
            _ = winch.recv() => {
                if let Ok((c, r)) = crossterm::terminal::size() {
                    writer.resize(c, r);
                }
            }
            ev = events.next() => match ev {
                Some(ShellEvent::Reconnecting { attempt, reason }) => notice(&format!("connection lost ({reason}) · reconnecting, attempt {attempt}")),
                Some(ShellEvent::Reconnected { bytes_dropped }) if bytes_dropped > 0 => notice(&format!("reconnected · {bytes_dropped} bytes of output were lost")),
                Some(ShellEvent::Reconnected { .. }) => notice("reconnected"),
                Some(ShellEvent::NewShell) => notice("the previous shell expired · this is a new shell"),
                Some(ShellEvent::Kicked) => notice("another client attached this shell · disconnected"),
                Some(ShellEvent::GaveUp { reason }) => notice(&format!("could not reconnect: {reason}")),
                Some(ShellEvent::Diagnostic(msg)) => notice(msg.trim_end()),
                Some(ShellEvent::Exited(e)) => exit = Some(e),
                Some(_) => {}
                None => {}
            },
        }
    }
    drop(raw);
    // The exit status arrives before the end of output.
    while let Ok(Some(ev)) =
        tokio::time::timeout(std::time::Duration::from_millis(100), events.next()).await
    {
        if let ShellEvent::Exited(e) = ev {
            exit = Some(e);
        }
    }
    Ok(exit.and_then(|e| e.code).unwrap_or(255))
}
