//! A [`Shell`] attached to this process's terminal — what `agentcore-rs exec --it` does, for
//! tools of your own (feature `terminal`).
//!
//! [`attach`] puts the terminal in raw mode, copies keystrokes to the shell and its output to
//! stdout, follows window resizes (SIGWINCH, on Unix), reports reconnects and other
//! connection events as `[...]` notices on stderr, and ends when the shell exits or the user
//! presses **Ctrl+]** ([`DETACH_KEY`]): then the shell keeps running and the returned
//! [`ShellHandle`] re-attaches it. The terminal is restored on every way out — an error, a
//! panic unwinding through it, or the future being dropped.
//!
//! ```no_run
//! # async fn demo(client: agentcore_sdk::Client, arn: agentcore_sdk::RuntimeArn) -> Result<(), Box<dyn std::error::Error>> {
//! use agentcore_sdk::shell::terminal::{self, Attached};
//!
//! let (cols, rows) = terminal::size();
//! let shell = client.shell(&arn).terminal_size(cols, rows).connect().await?;
//! match terminal::attach(shell).await? {
//!     Attached::Exited(code) => std::process::exit(code),
//!     Attached::Detached(ids) => eprintln!("re-attach: session {} shell {}", ids.session_id, ids.shell_id),
//!     _ => {}
//! }
//! # Ok(()) }
//! ```

use std::io::Write;
use std::time::Duration;

use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Shell, ShellEvent, ShellExit, ShellHandle};

/// Ctrl+] — the telnet escape — detaches.
pub const DETACH_KEY: u8 = 0x1d;

/// How an attachment ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Attached {
    /// The user pressed Ctrl+]: the shell keeps running; re-attach it with these ids.
    Detached(ShellHandle),
    /// The shell ended with this exit code (`128 + n` when killed by signal `n`, 255 when
    /// unknown).
    Exited(i32),
}

/// Raw mode while alive, restored when dropped.
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

/// Prints `[msg]` on a line of its own on stderr (with `\r\n`: the terminal may be raw).
fn notice(msg: &str) {
    let mut err = std::io::stderr();
    let _ = write!(err, "\r\n[{msg}]\r\n");
    let _ = err.flush();
}

/// This terminal's size as `(columns, rows)`, 80×24 when it is not a terminal.
pub fn size() -> (u16, u16) {
    crossterm::terminal::size().unwrap_or((80, 24))
}

/// Resize notifications of this terminal (SIGWINCH); never fires where there are none.
struct Resizes(#[cfg(unix)] Option<tokio::signal::unix::Signal>);

impl Resizes {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Self(signal(SignalKind::window_change()).ok())
        }
        #[cfg(not(unix))]
        Self()
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        if let Some(s) = &mut self.0 {
            if s.recv().await.is_some() {
                return;
            }
        }
        std::future::pending::<()>().await
    }
}

/// Runs `shell` in this terminal until it ends or the user presses Ctrl+]; see the
/// [module documentation](self).
///
/// When stdin ends (input piped in), the shell's input is closed and its output is followed
/// to the end. Errors are those of writing to stdout or of the shell's input.
pub async fn attach(shell: Shell) -> std::io::Result<Attached> {
    let mut shell = shell;
    let ids = shell.ids().clone();
    let mut events = shell.events();
    let raw = RawMode::enable();
    notice(&format!(
        "connected · session {} · Ctrl+D or 'exit' to quit · Ctrl+] to detach",
        ids.session_id
    ));
    let (mut reader, mut writer) = shell.split();
    let mut resizes = Resizes::new();
    let mut stdin = tokio::io::stdin();
    let mut stdout = tokio::io::stdout();
    let mut inbuf = [0u8; 4096];
    let mut outbuf = vec![0u8; 32 * 1024];
    let mut stdin_open = true;
    // End of input is passed on (as Ctrl-D) only once the shell has written something: one
    // sent before its line editor has set up the terminal is swallowed, and the shell would
    // wait for input forever (`exec --it < /dev/null`).
    let mut eof_pending = false;
    let mut seen_output = false;
    let mut exit: Option<ShellExit> = None;
    loop {
        tokio::select! {
            n = reader.read(&mut outbuf) => match n {
                Ok(0) => break,
                Ok(n) => {
                    stdout.write_all(outbuf.get(..n).unwrap_or_default()).await?;
                    stdout.flush().await?;
                    seen_output = true;
                    if std::mem::take(&mut eof_pending) {
                        let _ = writer.shutdown().await;
                    }
                }
                Err(e) => {
                    notice(&format!("connection ended: {e}"));
                    break;
                }
            },
            n = stdin.read(&mut inbuf), if stdin_open => match n {
                Ok(0) | Err(_) => {
                    stdin_open = false;
                    if seen_output {
                        let _ = writer.shutdown().await;
                    } else {
                        eof_pending = true;
                    }
                }
                Ok(n) => {
                    let data = inbuf.get(..n).unwrap_or_default();
                    if let Some(pos) = data.iter().position(|&b| b == DETACH_KEY) {
                        let before = data.get(..pos).unwrap_or_default();
                        if !before.is_empty() {
                            writer.write_all(before).await?;
                        }
                        let handle = writer.detach().await;
                        drop(raw);
                        return Ok(Attached::Detached(handle));
                    }
                    if writer.write_all(data).await.is_err() {
                        break;
                    }
                }
            },
            () = resizes.next() => {
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
                None => {}
            },
        }
    }
    drop(raw);
    // The exit status arrives around the end of the output.
    while exit.is_none() {
        match tokio::time::timeout(Duration::from_millis(200), events.next()).await {
            Ok(Some(ShellEvent::Exited(e))) => exit = Some(e),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    Ok(Attached::Exited(exit.and_then(|e| e.code).unwrap_or(255)))
}
