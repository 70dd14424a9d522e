//! An interactive shell attached to this terminal: raw mode, resize on SIGWINCH, Ctrl+] to
//! detach, connection events as notices. The terminal is restored on every way out.

use std::io::Write;

use agentcore_sdk::shell::{Shell, ShellEvent, ShellExit, ShellHandle};
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Ctrl+] — the telnet escape — detaches.
pub const DETACH: u8 = 0x1d;

/// Restores the terminal when dropped.
struct RawMode(bool);

impl RawMode {
    fn enable() -> Self {
        use std::io::IsTerminal;
        Self(std::io::stdin().is_terminal() && crossterm::terminal::enable_raw_mode().is_ok())
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if self.0 {
            let _ = crossterm::terminal::disable_raw_mode();
        }
    }
}

/// Prints `[msg]` on its own line of stderr (`\r\n`: the terminal may be raw).
pub fn notice(msg: &str) {
    let mut err = std::io::stderr();
    let _ = write!(err, "\r\n[{msg}]\r\n");
    let _ = err.flush();
}

/// How an attachment ended.
#[derive(Debug)]
pub enum Attach {
    /// Ctrl+]: the shell keeps running; re-attach with this handle.
    Detached(ShellHandle),
    /// The shell ended with this exit code (255 when unknown).
    Exited(i32),
}

/// The terminal size, 80×24 when unknown.
pub fn size() -> (u16, u16) {
    crossterm::terminal::size().unwrap_or((80, 24))
}

/// Runs `shell` in this terminal until it ends or the user detaches.
pub async fn attach(mut shell: Shell) -> std::io::Result<Attach> {
    let ids = shell.ids().clone();
    let mut events = shell.events();
    let raw = RawMode::enable();
    notice(&format!(
        "connected · session {} · Ctrl+D or 'exit' to quit · Ctrl+] to detach",
        ids.session_id
    ));
    let (mut reader, mut writer) = shell.split();
    let mut winch = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())?;
    let mut stdin = tokio::io::stdin();
    let mut stdout = tokio::io::stdout();
    let mut inbuf = [0u8; 4096];
    let mut outbuf = vec![0u8; 32 * 1024];
    let mut stdin_open = true;
    let mut exit: Option<ShellExit> = None;
    loop {
        tokio::select! {
            n = reader.read(&mut outbuf) => match n {
                Ok(0) => break,
                Ok(n) => {
                    stdout.write_all(outbuf.get(..n).unwrap_or_default()).await?;
                    stdout.flush().await?;
                }
                Err(e) => {
                    notice(&format!("connection ended: {e}"));
                    break;
                }
            },
            n = stdin.read(&mut inbuf), if stdin_open => match n {
                // Local input ended (a script piped in): end of input for the shell too.
                Ok(0) | Err(_) => {
                    stdin_open = false;
                    let _ = writer.shutdown().await;
                }
                Ok(n) => {
                    let data = inbuf.get(..n).unwrap_or_default();
                    if let Some(pos) = data.iter().position(|&b| b == DETACH) {
                        if pos > 0 {
                            writer.write_all(data.get(..pos).unwrap_or_default()).await?;
                        }
                        let handle = writer.detach().await;
                        drop(raw);
                        return Ok(Attach::Detached(handle));
                    }
                    if writer.write_all(data).await.is_err() {
                        break;
                    }
                }
            },
            _ = winch.recv() => {
                let (c, r) = size();
                writer.resize(c, r);
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
                Some(_) | None => {}
            },
        }
    }
    drop(raw);
    // The exit status arrives around the end of the output.
    while let Ok(Some(ev)) =
        tokio::time::timeout(std::time::Duration::from_millis(200), events.next()).await
    {
        if let ShellEvent::Exited(e) = ev {
            exit = Some(e);
        }
    }
    Ok(Attach::Exited(exit.and_then(|e| e.code).unwrap_or(255)))
}
