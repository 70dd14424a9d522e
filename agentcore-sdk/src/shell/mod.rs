//! Interactive shells (InvokeAgentRuntimeCommandShell): a PTY in the session's microVM as
//! Rust I/O.
//!
//! [`Shell`] is `AsyncRead + AsyncWrite`: reads are the PTY's output, writes go to its input
//! (split into frames under 64 KiB), kube-rs `AttachedProcess` style. One background task
//! owns the WebSocket: it answers keepalives, reconnects to the *same* shell after a dropped
//! connection, and reports what happens as [`ShellEvent`]s.
//!
//! - **Order.** Everything written or asked through the writer — bytes, resize, end of
//!   input, close, kill, detach — reaches the shell in the order it was asked: a `close()`
//!   or `detach()` never overtakes input written before it.
//! - **End of input.** Shutting the writer down or dropping it is end of input, Ctrl-D: a
//!   shell waiting at its prompt exits, and its output keeps flowing to the reader until it
//!   does, then the exit status arrives. [`Shell::close`] is the same, then waits for the
//!   exit status; a shell that has not ended after the close grace
//!   ([`ShellBuilder::close_grace`], 10 s by default) is hung up (the protocol's CLOSE
//!   frame), as [`Shell::kill`] does at once.
//! - **Reconnects and input.** Input written while reconnecting waits and is delivered after
//!   the reconnect. The protocol has no acknowledgements: input whose sending had started when
//!   the connection dropped may or may not have arrived, and by default it is *not* sent again
//!   (at most once: a `git push` typed just before a drop must not run twice);
//!   [`InputDelivery::AtLeastOnce`] sends it again. Frames stay under the protocol's 64 KiB.
//! - **Dropping.** Dropping the reader discards the output from then on; dropping both halves
//!   (or the whole `Shell`) leaves the shell running on the server, as [`Shell::detach`]
//!   does, for the reconnect window.
//!
//! ```no_run
//! # async fn f(session: agentcore_sdk::Session) -> Result<(), Box<dyn std::error::Error>> {
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let mut shell = session.shell().terminal_size(120, 40).connect().await?;
//! shell.write_all(b"cd /mnt/workspace && export GREETING=hi\n").await?;
//! shell.write_all(b"echo $GREETING; exit 3\n").await?;
//! let mut screen = Vec::new();
//! shell.read_to_end(&mut screen).await?;          // EOF once the shell exited
//! assert_eq!(shell.exit_status().and_then(|s| s.code), Some(3));
//! # Ok(()) }
//! ```
//!
//! Local stdin to the shell and its output to local stdout, in two tasks; when stdin ends,
//! the shell gets end of input and its output still arrives:
//!
//! ```no_run
//! # async fn f(session: agentcore_sdk::Session) -> Result<(), Box<dyn std::error::Error>> {
//! let (mut output, mut input) = session.shell().connect().await?.split();
//! let typing = tokio::spawn(async move {
//!     tokio::io::copy(&mut tokio::io::stdin(), &mut input).await // `input` dropped: Ctrl-D
//! });
//! tokio::io::copy(&mut output, &mut tokio::io::stdout()).await?;
//! typing.await??;
//! # Ok(()) }
//! ```
//!
//! Detach and re-attach later, even from another process:
//!
//! ```no_run
//! # async fn f(client: agentcore_sdk::Client, arn: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let shell = client.shell(arn).connect().await?;
//! let handle = shell.detach().await;                // the PTY keeps running
//! let again = client.shell(arn)
//!     .session_id(handle.session_id.as_str())
//!     .shell_id(handle.shell_id.as_str())
//!     .connect()
//!     .await?;                                       // same cwd, env, history, jobs
//! # Ok(()) }
//! ```

mod connect;
mod handles;
#[cfg(test)]
mod memory_tests;
mod outgoing;
pub mod protocol;
mod pump;
mod task;
#[cfg(feature = "terminal")]
pub mod terminal;

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{mpsc, watch};

use crate::client::Client;
use crate::error::{Deferred, Error};
use crate::transport::Transport;
use crate::types::{IntoRuntimeArn, RuntimeArn, SessionId, ShellId};

// WebSocket invoke lived here first; its home is the data plane, its old path stays.
pub use crate::data::{AgentMessage, AgentSocket, AgentSocketBuilder};
pub use crate::transport::websocket::WebSocketAuth;
pub use connect::presigned_shell_url;
pub use handles::{ShellReader, ShellWriter};

/// The old name of [`WebSocketAuth`]: it authorises agent sockets as well as shells.
#[deprecated(note = "renamed `WebSocketAuth` (it authorises agent sockets as well as shells)")]
pub type ShellAuth = WebSocketAuth;

/// The IAM action a caller needs to open shells.
pub const IAM_ACTION: &str = "bedrock-agentcore:InvokeAgentRuntimeCommandWithWebSocketStream";

/// When and how to reconnect after an abnormal close.
///
/// The default is the reference clients' policy: delays of 1, 2, 4, 8 and 15 s (±25%
/// jitter) per round of 5 attempts, rounds repeating until the 15-minute reconnect window
/// since the connection was lost has passed.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconnectPolicy {
    delays: Vec<Duration>,
    jitter: f64,
    window: Duration,
    enabled: bool,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            delays: [1, 2, 4, 8, 15]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            jitter: 0.25,
            window: Duration::from_secs(15 * 60),
            enabled: true,
        }
    }
}

impl ReconnectPolicy {
    /// Never reconnect: a dropped connection ends the shell handle with an error.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }
    /// The delays of one round (one attempt after each).
    pub fn delays(mut self, delays: Vec<Duration>) -> Self {
        if !delays.is_empty() {
            self.delays = delays;
        }
        self
    }
    /// Relative jitter applied to each delay (0.25 = ±25%).
    pub fn jitter(mut self, jitter: f64) -> Self {
        // NaN would poison every delay (and `Duration::mul_f64` panics on it).
        self.jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        self
    }
    /// Give up once this long has passed since the connection was lost.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }
    /// Whether reconnects happen at all.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        let i = (attempt.saturating_sub(1) as usize)
            .checked_rem(self.delays.len())
            .unwrap_or(0);
        let d = self
            .delays
            .get(i)
            .copied()
            .unwrap_or(Duration::from_secs(1));
        // In [1 - jitter, 1 + jitter]; a product out of Duration's range keeps the delay.
        let factor = (fastrand::f64() * 2.0 - 1.0).mul_add(self.jitter, 1.0);
        Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(d)
    }
}

/// Keepalive and handshake timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Keepalive {
    /// WebSocket ping interval (default 30 s).
    pub ping_interval: Duration,
    /// The connection is dead after this long without a pong (default 60 s).
    pub pong_timeout: Duration,
    /// Time to receive the confirmation STATUS after the upgrade (default 10 s).
    pub confirmation_timeout: Duration,
}

impl Default for Keepalive {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_secs(30),
            pong_timeout: Duration::from_secs(60),
            confirmation_timeout: Duration::from_secs(10),
        }
    }
}

impl Keepalive {
    /// Sets the WebSocket ping interval (greater than zero).
    ///
    /// ```
    /// use std::time::Duration;
    /// let k = agentcore_sdk::shell::Keepalive::default()
    ///     .ping_interval(Duration::from_secs(10))
    ///     .pong_timeout(Duration::from_secs(20));
    /// assert_eq!(k.pong_timeout, Duration::from_secs(20));
    /// ```
    pub fn ping_interval(mut self, d: Duration) -> Self {
        self.ping_interval = d;
        self
    }

    /// Sets how long without a pong makes the connection dead (greater than zero).
    pub fn pong_timeout(mut self, d: Duration) -> Self {
        self.pong_timeout = d;
        self
    }

    /// Sets how long to wait for the confirmation after the upgrade (greater than zero).
    pub fn confirmation_timeout(mut self, d: Duration) -> Self {
        self.confirmation_timeout = d;
        self
    }
}

/// How long [`Shell::close`] waits by default before hanging up.
pub const DEFAULT_CLOSE_GRACE: Duration = Duration::from_secs(10);

/// What happens to input that was being sent when a connection dropped.
///
/// The protocol has no acknowledgements: input whose sending had started when the drop was
/// detected may or may not have reached the shell. Input not yet handed to the connection is
/// delivered after the reconnect in either case, in order, and every frame stays under the
/// protocol's 64 KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputDelivery {
    /// Not sent again (default): nothing runs twice, but that input may be lost.
    #[default]
    AtMostOnce,
    /// Sent again after the reconnect: nothing is lost, but it may arrive (run) twice.
    AtLeastOnce,
}

/// What a detached shell is needed to re-attach it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShellHandle {
    /// The runtime.
    pub runtime_arn: RuntimeArn,
    /// The session.
    pub session_id: SessionId,
    /// The shell.
    pub shell_id: ShellId,
}

/// How a shell ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShellExit {
    /// The exit code (`128 + n` when killed by signal `n`).
    pub code: Option<i32>,
    /// The signal that killed it.
    pub signal: Option<i32>,
}

impl ShellExit {
    /// `true` for exit code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// Lifecycle events, for UIs. See [`Shell::events`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShellEvent {
    /// The connection was lost; attempt `attempt` follows after a delay.
    Reconnecting {
        /// 1, 2, ...
        attempt: u32,
        /// Why the connection was lost.
        reason: String,
    },
    /// Re-attached to the same shell. Output beyond the server's replay buffer is lost.
    Reconnected {
        /// Bytes of output lost while detached.
        bytes_dropped: u64,
    },
    /// The old shell was gone (expired); a new one was started in the same session.
    NewShell,
    /// Another client attached this shell; this handle ends and will not reconnect.
    Kicked,
    /// The shell ended.
    Exited(ShellExit),
    /// A platform diagnostic (STDERR channel).
    Diagnostic(String),
    /// Reconnecting gave up.
    GaveUp {
        /// The last failure.
        reason: String,
    },
}

/// Builds and opens an interactive shell. See [`Client::shell`] and
/// [`Session::shell`](crate::Session::shell).
#[derive(Debug, Clone)]
#[must_use = "call .connect().await"]
pub struct ShellBuilder {
    pub(crate) transport: Transport,
    pub(crate) arn: Result<RuntimeArn, Deferred>,
    pub(crate) session_id: Option<String>,
    pub(crate) shell_id: Option<String>,
    pub(crate) qualifier: Option<String>,
    pub(crate) auth: WebSocketAuth,
    pub(crate) reconnect: ReconnectPolicy,
    pub(crate) keepalive: Keepalive,
    pub(crate) size: Option<(u16, u16)>,
    pub(crate) close_grace: Duration,
    pub(crate) input_delivery: InputDelivery,
}

impl ShellBuilder {
    crate::config::config_override_setter!();

    pub(crate) fn new(transport: Transport, arn: impl IntoRuntimeArn) -> Self {
        Self {
            transport,
            arn: arn.into_runtime_arn().map_err(Deferred::from),
            session_id: None,
            shell_id: None,
            qualifier: None,
            auth: WebSocketAuth::default(),
            reconnect: ReconnectPolicy::default(),
            keepalive: Keepalive::default(),
            size: None,
            close_grace: DEFAULT_CLOSE_GRACE,
            input_delivery: InputDelivery::default(),
        }
    }

    /// The session (generated when absent).
    pub fn session_id(mut self, id: impl AsRef<str>) -> Self {
        self.session_id = Some(id.as_ref().to_owned());
        self
    }
    /// The shell id: the same session + shell id re-attaches the same PTY (generated when
    /// absent, then kept for reconnects).
    pub fn shell_id(mut self, id: impl AsRef<str>) -> Self {
        self.shell_id = Some(id.as_ref().to_owned());
        self
    }
    /// The endpoint (default `DEFAULT`).
    pub fn qualifier(mut self, q: impl Into<String>) -> Self {
        self.qualifier = Some(q.into());
        self
    }
    /// How the upgrade is authorized.
    pub fn auth(mut self, auth: WebSocketAuth) -> Self {
        self.auth = auth;
        self
    }
    /// Reconnect policy.
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = policy;
        self
    }
    /// Keepalive and handshake timing.
    pub fn keepalive(mut self, k: Keepalive) -> Self {
        self.keepalive = k;
        self
    }
    /// Initial terminal size, sent after every (re)connect until changed by
    /// [`Shell::resize`].
    pub fn terminal_size(mut self, cols: u16, rows: u16) -> Self {
        self.size = Some((cols, rows));
        self
    }

    /// How long [`Shell::close`] waits after ending input before it hangs the shell up (and
    /// then again for the exit status before giving up). Default 10 s.
    pub fn close_grace(mut self, grace: Duration) -> Self {
        self.close_grace = grace;
        self
    }
    /// What happens to input being sent when a connection drops (default: at most once).
    pub fn input_delivery(mut self, delivery: InputDelivery) -> Self {
        self.input_delivery = delivery;
        self
    }

    /// Validates, opens the WebSocket and waits for the shell's confirmation.
    ///
    /// Upgrade refusals are [`Error::Service`]: 403 `AccessDenied` (naming [`IAM_ACTION`]),
    /// 424 `RuntimeClient` (agent VM not ready), 429 `Throttling` (more than 10 shells).
    ///
    /// Dropping the future before it completes abandons the upgrade: nothing keeps running
    /// locally; a shell the server already started stays for the reconnect window, as after a
    /// detach.
    pub async fn connect(self) -> Result<Shell, Error> {
        connect::connect(self).await
    }
}

/// A connected interactive shell: `AsyncRead` (PTY output) + `AsyncWrite` (input).
///
/// Dropping it leaves the shell running on the server for the reconnect window, as
/// [`detach`](Self::detach) does (without waiting for input still queued to be sent).
pub struct Shell {
    // Dropped in this order: the reader first, so that when the writer goes the task knows
    // both are gone (a detach), not only the writer (end of input).
    reader: ShellReader,
    writer: ShellWriter,
    events: Option<mpsc::Receiver<ShellEvent>>,
}

impl fmt::Debug for Shell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shell")
            .field("handle", &self.writer.handle)
            .field("exit", &self.exit_status())
            .finish()
    }
}

impl Shell {
    /// The ids to re-attach this shell.
    pub fn ids(&self) -> &ShellHandle {
        &self.writer.handle
    }

    /// Sets the terminal size (columns, rows); kept and re-sent after reconnects.
    pub fn resize(&self, cols: u16, rows: u16) {
        self.writer.resize(cols, rows);
    }

    /// How the shell ended, once it has.
    pub fn exit_status(&self) -> Option<ShellExit> {
        *self.writer.exit.borrow()
    }

    /// Waits until the shell ends; `None` if the handle ended another way (kicked, detached,
    /// reconnects exhausted).
    ///
    /// Output not read yet is read and discarded meanwhile (so that the exit status, which
    /// follows the output, can arrive): read what you need first.
    ///
    /// Dropping the future stops waiting; the shell and the connection carry on.
    pub async fn wait(&mut self) -> Option<ShellExit> {
        // Until the reader's EOF or error: the task has ended, the status is final.
        let _ = tokio::io::copy(&mut self.reader, &mut tokio::io::sink()).await;
        *self.writer.exit.borrow()
    }

    /// Lifecycle events. The first call takes the stream; later calls get an empty one.
    /// Events are dropped (not queued without bound) when nobody reads them.
    pub fn events(&mut self) -> ShellEvents {
        ShellEvents(self.events.take())
    }

    /// Ends the connection but keeps the shell running on the server, returning what is
    /// needed to re-attach it (from this or another process) within the reconnect window.
    ///
    /// Input written before is sent first (for at most 5 s while the connection is slow).
    /// While reconnecting, it returns at once (input still waiting is not sent).
    ///
    /// Dropping the future drops the handle: the connection is closed as a detach once the
    /// input before it is sent.
    pub async fn detach(self) -> ShellHandle {
        let Self { reader, writer, .. } = self;
        drop(reader);
        writer.detach().await
    }

    /// Ends the shell as a terminal user does and waits for its exit status: end of input
    /// (Ctrl-D) after what was written, so the shell finishes what was typed; if it has not
    /// ended after the close grace ([`ShellBuilder::close_grace`], 10 s by default) it is
    /// hung up (the CLOSE frame, SIGHUP), and if it still sends no exit status after another
    /// grace the handle gives up (`None`).
    ///
    /// Output not read yet is discarded. `None` also when the handle ended another way
    /// (kicked, reconnects exhausted).
    ///
    /// Dropping the future does not stop the close: the task carries it through in the
    /// background (end of input, hang-up after the grace).
    pub async fn close(self) -> Option<ShellExit> {
        let Self { reader, writer, .. } = self;
        // Nobody will read: the task discards the output instead of waiting for a reader.
        drop(reader);
        writer.close();
        wait_exit(&mut writer.exit.clone()).await
    }

    /// Hangs the shell up now (the CLOSE frame: SIGHUP to its processes, then SIGKILL on
    /// agentcore-local) and waits for its exit status, as [`close`](Self::close) does after
    /// its grace. Input written before is sent first.
    ///
    /// Dropping the future does not stop the hang-up.
    pub async fn kill(self) -> Option<ShellExit> {
        let Self { reader, writer, .. } = self;
        drop(reader);
        writer.kill();
        wait_exit(&mut writer.exit.clone()).await
    }

    /// Splits into owned halves for separate tasks (see [`ShellReader`] and [`ShellWriter`]:
    /// dropping the writer is end of input, dropping both a detach).
    pub fn split(self) -> (ShellReader, ShellWriter) {
        (self.reader, self.writer)
    }
}

/// The stream of a shell's [`ShellEvent`]s. See [`Shell::events`].
#[derive(Debug)]
///
/// Dropping it only stops the events (later ones are discarded); nothing else changes.
pub struct ShellEvents(Option<mpsc::Receiver<ShellEvent>>);

impl Stream for ShellEvents {
    type Item = ShellEvent;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ShellEvent>> {
        match &mut self.0 {
            Some(rx) => rx.poll_recv(cx),
            None => Poll::Ready(None),
        }
    }
}

/// The exit status once it is known, or the final `None` once the task ended without one.
async fn wait_exit(exit: &mut watch::Receiver<Option<ShellExit>>) -> Option<ShellExit> {
    loop {
        if let Some(e) = *exit.borrow() {
            return Some(e);
        }
        if exit.changed().await.is_err() {
            return *exit.borrow();
        }
    }
}

impl AsyncRead for Shell {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.reader).poll_read(cx, buf)
    }
}

impl AsyncWrite for Shell {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.writer).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_shutdown(cx)
    }
}

/// Interactive shells.
impl Client {
    /// An interactive shell in a session of `arn`; finish with `.connect().await`.
    pub fn shell(&self, arn: impl IntoRuntimeArn) -> ShellBuilder {
        ShellBuilder::new(self.transport().clone(), arn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_delays_never_panic() {
        // NaN jitter used to poison every delay (`Duration::mul_f64` panics on NaN), and a
        // delay near `Duration::MAX` overflowed once jitter scaled it up.
        for jitter in [f64::NAN, f64::INFINITY, -1.0, 0.0, 0.25, 1.0] {
            for d in [Duration::ZERO, Duration::from_millis(50), Duration::MAX] {
                let p = ReconnectPolicy::default().jitter(jitter).delays(vec![d]);
                for attempt in [0, 1, 2, u32::MAX] {
                    let got = p.delay(attempt);
                    assert!(got <= d.saturating_mul(2), "{jitter} {d:?} {got:?}");
                }
            }
        }
        // An empty list keeps the defaults.
        assert!(ReconnectPolicy::default().delays(vec![]).delay(1) > Duration::ZERO);
    }
}
