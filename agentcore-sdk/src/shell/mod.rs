//! Interactive shells (InvokeAgentRuntimeCommandShell): a PTY in the session's microVM as
//! Rust I/O.
//!
//! [`Shell`] is `AsyncRead + AsyncWrite`: reads are the PTY's output, writes go to its input
//! (split into frames under 64 KiB). One background task owns the WebSocket: it answers
//! keepalives, reconnects to the *same* shell after a dropped connection (input written while
//! reconnecting is queued and delivered after the reconnect, not lost), and reports what
//! happens as [`ShellEvent`]s. The protocol has no acknowledgements: input the task had
//! already written to a connection in the instant before the drop was detected cannot be
//! known to have arrived, and is not re-sent (that could run a command twice).
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

pub mod protocol;
mod task;

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::PollSender;

use crate::client::Client;
use crate::error::{Deferred, Error};
use crate::transport::Transport;
use crate::types::{IntoRuntimeArn, RuntimeArn, SessionId, ShellId};

// WebSocket invoke lived here first; its home is the data plane, its old path stays.
pub use crate::data::{AgentMessage, AgentSocket, AgentSocketBuilder};
pub use crate::transport::websocket::WebSocketAuth;
pub use task::presigned_shell_url;

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

    /// Validates, opens the WebSocket and waits for the shell's confirmation.
    ///
    /// Upgrade refusals are [`Error::Service`]: 403 `AccessDenied` (naming [`IAM_ACTION`]),
    /// 424 `RuntimeClient` (agent VM not ready), 429 `Throttling` (more than 10 shells).
    pub async fn connect(self) -> Result<Shell, Error> {
        task::connect(self).await
    }
}

pub(crate) enum Control {
    Resize(u16, u16),
    Close,
    Detach(oneshot::Sender<()>),
}

/// A connected interactive shell: `AsyncRead` (PTY output) + `AsyncWrite` (input).
pub struct Shell {
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
    pub async fn wait(&mut self) -> Option<ShellExit> {
        wait_exit(&mut self.writer.exit.clone()).await
    }

    /// Lifecycle events. The first call takes the stream; later calls get an empty one.
    /// Events are dropped (not queued without bound) when nobody reads them.
    pub fn events(&mut self) -> ShellEvents {
        ShellEvents(self.events.take())
    }

    /// Ends the connection but keeps the shell running on the server, returning what is
    /// needed to re-attach it (from this or another process) within the reconnect window.
    pub async fn detach(self) -> ShellHandle {
        self.writer.detach().await
    }

    /// Asks the shell to end (CLOSE frame), then waits for its exit status.
    pub async fn close(mut self) -> Option<ShellExit> {
        let _ = self.writer.control.send(Control::Close);
        self.wait().await
    }

    /// Splits into owned halves for separate tasks.
    pub fn split(self) -> (ShellReader, ShellWriter) {
        (self.reader, self.writer)
    }
}

/// The stream of a shell's [`ShellEvent`]s. See [`Shell::events`].
#[derive(Debug)]
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

/// What the background task hands the reader: output, or why output ended.
pub(crate) enum ReadItem {
    Data(Bytes),
    Failed(io::ErrorKind, String),
}

/// The output half: PTY bytes; EOF after the shell exited.
pub struct ShellReader {
    rx: mpsc::Receiver<ReadItem>,
    current: Bytes,
    failed: Option<(io::ErrorKind, String)>,
}

impl fmt::Debug for ShellReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShellReader")
            .field("buffered", &self.current.len())
            .finish()
    }
}

impl AsyncRead for ShellReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.current.is_empty() {
                let n = this.current.len().min(buf.remaining());
                let chunk = this.current.split_to(n);
                buf.put_slice(&chunk);
                return Poll::Ready(Ok(()));
            }
            if let Some((kind, msg)) = &this.failed {
                return Poll::Ready(Err(io::Error::new(*kind, msg.clone())));
            }
            match ready!(this.rx.poll_recv(cx)) {
                Some(ReadItem::Data(b)) => this.current = b,
                Some(ReadItem::Failed(kind, msg)) => this.failed = Some((kind, msg)),
                None => return Poll::Ready(Ok(())),
            }
        }
    }
}

/// The input half: bytes typed into the shell. Writes after the shell exited fail with
/// `BrokenPipe`.
pub struct ShellWriter {
    tx: PollSender<Bytes>,
    control: mpsc::UnboundedSender<Control>,
    exit: watch::Receiver<Option<ShellExit>>,
    handle: ShellHandle,
}

impl fmt::Debug for ShellWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShellWriter")
            .field("handle", &self.handle)
            .finish()
    }
}

impl ShellWriter {
    /// Sets the terminal size.
    pub fn resize(&self, cols: u16, rows: u16) {
        let _ = self.control.send(Control::Resize(cols, rows));
    }
    /// The ids to re-attach this shell.
    pub fn ids(&self) -> &ShellHandle {
        &self.handle
    }
    /// See [`Shell::detach`].
    pub async fn detach(self) -> ShellHandle {
        let (done_tx, done_rx) = oneshot::channel();
        if self.control.send(Control::Detach(done_tx)).is_ok() {
            let _ = done_rx.await;
        }
        self.handle
    }
    /// Asks the shell to end (CLOSE frame).
    pub fn close(&self) {
        let _ = self.control.send(Control::Close);
    }

    fn broken_pipe(&self) -> io::Error {
        io::Error::new(io::ErrorKind::BrokenPipe, "the shell has ended")
    }
}

impl AsyncWrite for ShellWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if self.exit.borrow().is_some() {
            return Poll::Ready(Err(self.broken_pipe()));
        }
        if ready!(self.tx.poll_reserve(cx)).is_err() {
            return Poll::Ready(Err(self.broken_pipe()));
        }
        let (chunk, _) = buf.split_at(buf.len().min(protocol::MAX_PAYLOAD));
        let n = chunk.len();
        if self.tx.send_item(Bytes::copy_from_slice(chunk)).is_err() {
            return Poll::Ready(Err(self.broken_pipe()));
        }
        Poll::Ready(Ok(n))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Written bytes are handed to the connection task, which sends them in order (after a
        // reconnect if need be); there is nothing to wait for here.
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.tx.close();
        Poll::Ready(Ok(()))
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
