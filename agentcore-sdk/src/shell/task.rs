//! The task that owns a shell's WebSocket: upgrade (three auth modes), confirmation,
//! keepalive, frame pumping and reconnects.

use std::io;

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_util::sync::PollSender;
use url::Url;

use super::protocol::{
    CLOSE_KICKED, CLOSE_NORMAL, Frame, RESUME_OFFSET_HEADER, SHELL_ID_HEADER, Status,
};
use super::{
    Control, IAM_ACTION, Keepalive, ReadItem, ReconnectPolicy, Shell, ShellBuilder, ShellEvent,
    ShellExit, ShellHandle, ShellReader, ShellWriter,
};
use crate::client::Client;
use crate::error::{Error, ServiceError, ServiceErrorKind, service_error_from_response};
use crate::transport::websocket::{WebSocketAuth, Ws, WsTarget, check_expiry, dial, presign};
use crate::types::{EndpointName, IntoRuntimeArn, SessionId, ShellId};

/// Everything needed to (re)open the same shell.
pub(crate) struct Target {
    pub(crate) ws: WsTarget,
    pub(crate) keepalive: Keepalive,
}

impl Target {
    fn shell_id(&self) -> &str {
        self.ws
            .shell_id
            .as_ref()
            .map(ShellId::as_str)
            .unwrap_or_default()
    }
}

/// Presigns a shell URL that a browser relay (xterm.js) can open without credentials.
///
/// ```no_run
/// # async fn f(client: agentcore_sdk::Client, arn: &str) -> Result<(), agentcore_sdk::Error> {
/// use std::time::Duration;
/// let url = agentcore_sdk::shell::presigned_shell_url(
///     &client, arn, "session-0000000000000000000000000000001", "main", Duration::from_secs(60),
/// ).await?;
/// println!("{url}");
/// # Ok(()) }
/// ```
pub async fn presigned_shell_url(
    client: &Client,
    arn: impl IntoRuntimeArn,
    session_id: &str,
    shell_id: &str,
    expires: Duration,
) -> Result<Url, Error> {
    check_expiry(expires)?;
    let target = WsTarget {
        config: client.config().clone(),
        arn: arn.into_runtime_arn()?,
        session_id: session_id.parse()?,
        shell_id: Some(shell_id.parse()?),
        qualifier: "DEFAULT".into(),
        auth: WebSocketAuth::Presigned { expires },
        timeouts: client.config().timeouts(),
    };
    presign(&target, expires).await
}

/// Zero intervals would make the keepalive task spin or panic (`interval(0)`).
fn check_keepalive(k: &Keepalive) -> Result<(), Error> {
    for (field, d) in [
        ("keepalive.pingInterval", k.ping_interval),
        ("keepalive.pongTimeout", k.pong_timeout),
        ("keepalive.confirmationTimeout", k.confirmation_timeout),
    ] {
        if d.is_zero() {
            return Err(Error::invalid(field, "must be greater than zero"));
        }
    }
    Ok(())
}

/// A refused shell upgrade: 403 names the IAM action, 424 and 429 the shell's limits.
fn upgrade_error(status: u16, headers: &http::HeaderMap, body: &[u8]) -> Error {
    let base = service_error_from_response(status, headers, body);
    let (kind, message) = match status {
        403 => (
            ServiceErrorKind::AccessDenied,
            format!(
                "shell upgrade denied; the caller needs IAM action {IAM_ACTION}: {}",
                base.message()
            ),
        ),
        424 => (
            ServiceErrorKind::RuntimeClient,
            format!("the session's agent VM is not ready: {}", base.message()),
        ),
        429 => (
            ServiceErrorKind::Throttling,
            format!(
                "too many shells (at most 10 concurrent per runtime): {}",
                base.message()
            ),
        ),
        _ => return base.into(),
    };
    ServiceError::new(kind, message)
        .with_status(status)
        .with_request_id(base.request_id().map(str::to_owned))
        .into()
}

/// Opens the WebSocket and waits for the confirmation STATUS. `resume_at` asks a server that
/// supports the extension to replay from that output offset.
async fn open(target: &Target, resume_at: Option<u64>) -> Result<(Ws, Status), Error> {
    const OP: &str = "InvokeAgentRuntimeCommandShell";
    let mut extra = Vec::new();
    if let Some(offset) = resume_at {
        extra.push((
            http::HeaderName::from_static(RESUME_OFFSET_HEADER),
            http::HeaderValue::from(offset),
        ));
    }
    let (mut ws, response) = dial(&target.ws, extra, upgrade_error).await?;
    if let Some(id) = response.get(SHELL_ID_HEADER).and_then(|v| v.to_str().ok())
        && id != target.shell_id()
    {
        return Err(Error::malformed(format!(
            "the server attached shell {id:?}, not the requested {:?}",
            target.shell_id()
        )));
    }
    let wait = target.keepalive.confirmation_timeout;
    let status = tokio::time::timeout(wait, async {
        while let Some(msg) = ws.next().await {
            match msg.map_err(|e| Error::transport(OP, e))? {
                Message::Binary(b) => match Frame::decode(&b)? {
                    Frame::Status(s) if s.is_confirmation() => return Ok(*s),
                    Frame::Status(s) => {
                        return Err(Error::malformed(format!(
                            "expected the shell confirmation, got status {:?}: {}",
                            s.status,
                            s.message.unwrap_or_default()
                        )));
                    }
                    _ => {
                        return Err(Error::malformed(
                            "shell data arrived before the confirmation",
                        ));
                    }
                },
                Message::Close(frame) => {
                    return Err(Error::malformed(format!(
                        "the server closed the shell before confirming it ({})",
                        frame
                            .map(|f| format!("{} {}", u16::from(f.code), f.reason))
                            .unwrap_or_default()
                    )));
                }
                _ => {}
            }
        }
        Err(Error::malformed(
            "the connection ended before the shell confirmation",
        ))
    })
    .await
    .map_err(|_| Error::Timeout {
        operation: "shell confirmation",
        after: wait,
    })??;
    Ok((ws, status))
}

pub(crate) async fn connect(b: ShellBuilder) -> Result<Shell, Error> {
    let arn = b.arn.map_err(Error::from)?;
    let session_id = match &b.session_id {
        Some(s) => s.parse()?,
        None => SessionId::generate(),
    };
    let shell_id = match &b.shell_id {
        Some(s) => s.parse()?,
        None => ShellId::generate(),
    };
    let qualifier = match &b.qualifier {
        Some(q) => q.parse::<EndpointName>()?.into_string(),
        None => "DEFAULT".to_owned(),
    };
    check_keepalive(&b.keepalive)?;
    b.auth.check()?;
    let timeouts = b.transport.timeouts();
    let handle = ShellHandle {
        runtime_arn: arn.clone(),
        session_id: session_id.clone(),
        shell_id: shell_id.clone(),
    };
    let target = Target {
        ws: WsTarget {
            config: b.transport.config,
            arn,
            session_id,
            shell_id: Some(shell_id),
            qualifier,
            auth: b.auth,
            timeouts,
        },
        keepalive: b.keepalive,
    };
    let span = tracing::info_span!(
        "agentcore.shell",
        runtime = %target.ws.arn,
        session = %target.ws.session_id,
        shell = %target.shell_id(),
    );
    let (ws, confirmation) =
        tracing::Instrument::instrument(open(&target, None), span.clone()).await?;
    let (stdin_tx, stdin_rx) = mpsc::channel::<Bytes>(64);
    let (out_tx, out_rx) = mpsc::channel::<ReadItem>(64);
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let (event_tx, event_rx) = mpsc::channel(256);
    let (exit_tx, exit_rx) = watch::channel(None);
    let conn = Connection {
        target,
        policy: b.reconnect,
        size: b.size,
        stdin: stdin_rx,
        stdin_open: true,
        out: out_tx,
        control: control_rx,
        events: event_tx,
        exit: exit_tx,
        pending_in: None,
        close_pending: false,
        pending_out: None,
        offset: confirmation.metadata.output_offset,
    };
    tokio::spawn(tracing::Instrument::instrument(conn.run(ws), span));
    Ok(Shell {
        reader: ShellReader {
            rx: out_rx,
            current: Bytes::new(),
            failed: None,
        },
        writer: ShellWriter {
            tx: PollSender::new(stdin_tx),
            control: control_tx,
            exit: exit_rx,
            handle,
        },
        events: Some(event_rx),
    })
}

/// Why one connection ended.
enum End {
    /// Shell exited or server closed normally: done.
    Finished,
    /// Detached on purpose (or every handle dropped): done, shell keeps running.
    Detached,
    /// Kicked by another client: done, never reconnect.
    Kicked,
    /// Lost: reconnect if the policy allows.
    Lost(String),
    /// Unrecoverable protocol error.
    Failed(io::ErrorKind, String),
}

struct Connection {
    target: Target,
    policy: ReconnectPolicy,
    size: Option<(u16, u16)>,
    stdin: mpsc::Receiver<Bytes>,
    stdin_open: bool,
    out: mpsc::Sender<ReadItem>,
    control: mpsc::UnboundedReceiver<Control>,
    events: mpsc::Sender<ShellEvent>,
    exit: watch::Sender<Option<ShellExit>>,
    /// Input taken from the writer but not yet sent (kept across a reconnect).
    pending_in: Option<Bytes>,
    /// A CLOSE asked for while disconnected, sent once connected again.
    close_pending: bool,
    /// Output received but not yet taken by the reader.
    pending_out: Option<Bytes>,
    /// Absolute offset of the next output byte, when the server supports resuming by offset.
    offset: Option<u64>,
}

impl Connection {
    fn emit(&self, ev: ShellEvent) {
        let _ = self.events.try_send(ev);
    }

    async fn run(mut self, mut ws: Ws) {
        loop {
            let end = self.pump(&mut ws).await;
            match end {
                End::Finished | End::Detached => break,
                End::Kicked => {
                    self.emit(ShellEvent::Kicked);
                    self.fail(
                        io::ErrorKind::ConnectionAborted,
                        "another client attached this shell (kicked)",
                    )
                    .await;
                    break;
                }
                End::Failed(kind, msg) => {
                    self.fail(kind, &msg).await;
                    break;
                }
                End::Lost(reason) => {
                    tracing::debug!(%reason, "shell connection lost");
                    if !self.policy.is_enabled() {
                        self.fail(
                            io::ErrorKind::ConnectionReset,
                            &format!("shell connection lost: {reason}"),
                        )
                        .await;
                        break;
                    }
                    match self.reconnect(reason).await {
                        Some(new_ws) => ws = new_ws,
                        None => break,
                    }
                }
            }
        }
    }

    async fn fail(&mut self, kind: io::ErrorKind, msg: &str) {
        if let Some(b) = self.pending_out.take() {
            let _ = self.out.send(ReadItem::Data(b)).await;
        }
        let _ = self.out.send(ReadItem::Failed(kind, msg.to_owned())).await;
    }

    async fn reconnect(&mut self, mut reason: String) -> Option<Ws> {
        let lost_at = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt = attempt.saturating_add(1);
            let left = self.policy.window.saturating_sub(lost_at.elapsed());
            if left.is_zero() {
                self.emit(ShellEvent::GaveUp {
                    reason: reason.clone(),
                });
                self.fail(
                    io::ErrorKind::ConnectionReset,
                    &format!("could not reconnect the shell: {reason}"),
                )
                .await;
                return None;
            }
            self.emit(ShellEvent::Reconnecting {
                attempt,
                reason: reason.clone(),
            });
            // Control messages are honoured while disconnected too: a detach or a dropped
            // handle ends the task now (it must not get back in later and kick a client that
            // re-attached in the meantime).
            let pause = tokio::time::sleep(self.policy.delay(attempt).min(left));
            tokio::pin!(pause);
            loop {
                tokio::select! {
                    _ = &mut pause => break,
                    ctl = self.control.recv() => {
                        if apply_control_while_disconnected(ctl, &mut self.size, &mut self.close_pending) {
                            return None;
                        }
                    }
                }
            }
            let opened = {
                let attempt = open(&self.target, self.offset);
                tokio::pin!(attempt);
                loop {
                    tokio::select! {
                        r = &mut attempt => break r,
                        ctl = self.control.recv() => {
                            if apply_control_while_disconnected(ctl, &mut self.size, &mut self.close_pending) {
                                return None;
                            }
                        }
                    }
                }
            };
            match opened {
                Ok((ws, status)) => {
                    // Resume exactly where we are if the server says it did.
                    self.offset = status.metadata.output_offset;
                    if status.metadata.reconnected == Some(false) {
                        self.emit(ShellEvent::NewShell);
                    } else {
                        self.emit(ShellEvent::Reconnected {
                            bytes_dropped: status.metadata.bytes_dropped.unwrap_or(0),
                        });
                    }
                    return Some(ws);
                }
                Err(e) => {
                    let retry = match &e {
                        Error::Service(s) => {
                            matches!(
                                s.kind(),
                                ServiceErrorKind::Throttling
                                    | ServiceErrorKind::RuntimeClient
                                    | ServiceErrorKind::InternalServer
                            ) || s.status().is_some_and(|c| c >= 500)
                        }
                        Error::InvalidInput { .. }
                        | Error::Config(_)
                        | Error::Credentials { .. } => false,
                        _ => true,
                    };
                    reason = e.to_string();
                    if !retry {
                        self.emit(ShellEvent::GaveUp {
                            reason: reason.clone(),
                        });
                        self.fail(
                            io::ErrorKind::ConnectionRefused,
                            &format!("could not reconnect the shell: {reason}"),
                        )
                        .await;
                        return None;
                    }
                }
            }
        }
    }

    async fn send(ws: &mut Ws, frame: &Frame) -> Result<(), String> {
        ws.send(Message::Binary(frame.encode().into()))
            .await
            .map_err(|e| e.to_string())
    }

    /// Runs one connection until it ends.
    async fn pump(&mut self, ws: &mut Ws) -> End {
        // After every (re)connect: the terminal size, then any input that did not make it.
        if let Some((w, h)) = self.size
            && let Err(e) = Self::send(
                ws,
                &Frame::Resize {
                    width: w,
                    height: h,
                },
            )
            .await
        {
            return End::Lost(e);
        }
        if let Some(data) = self.pending_in.take()
            && let Err(e) = Self::send(ws, &Frame::Stdin(data.clone())).await
        {
            self.pending_in = Some(data);
            return End::Lost(e);
        }
        if self.close_pending {
            if let Err(e) = Self::send(ws, &Frame::Close).await {
                return End::Lost(e);
            }
            self.close_pending = false;
        }
        let keep = self.target.keepalive;
        let mut ping = tokio::time::interval_at(
            crate::transport::deadline_after(keep.ping_interval),
            keep.ping_interval,
        );
        let mut last_pong = Instant::now();
        let out = self.out.clone();
        let events = self.events.clone();
        // Sending never stops reading: the socket is split, one send is in flight at a time
        // (a future that owns the sending half and gives it back), more wait in a short
        // queue, and the input channel is not read while the queue is full. A server that
        // does not read our input (its shell does not read it) still gets its output read.
        let (sink, mut stream) = (&mut *ws).split();
        let mut sink = Some(sink);
        let mut sending: Option<SendFuture<'_>> = None;
        // The input bytes in flight (re-sent after a reconnect: no acks in the protocol).
        let mut in_flight: Option<Bytes> = None;
        let mut queue: std::collections::VecDeque<Message> = std::collections::VecDeque::new();
        loop {
            if sending.is_none()
                && let Some(next) = queue.pop_front()
            {
                if let Some(s) = sink.take() {
                    in_flight = stdin_of(&next);
                    sending = Some(send_owned(s, next));
                }
            }
            tokio::select! {
                (back, result) = async {
                    match sending.as_mut() {
                        Some(f) => f.await,
                        None => std::future::pending().await,
                    }
                }, if sending.is_some() => {
                    sending = None;
                    sink = Some(back);
                    if let Err(e) = result {
                        self.pending_in = unsent_input(in_flight.take(), &queue);
                        return End::Lost(e);
                    }
                    in_flight = None;
                }
                permit = out.reserve(), if self.pending_out.is_some() => {
                    match permit {
                        Ok(p) => {
                            if let Some(b) = self.pending_out.take() {
                                p.send(ReadItem::Data(b));
                            }
                        }
                        // Nobody reads any more; output is discarded.
                        Err(_) => self.pending_out = None,
                    }
                }
                msg = stream.next(), if self.pending_out.is_none() => {
                    let lost = |s: &mut Self, why: String| {
                        s.pending_in = unsent_input(in_flight.clone(), &queue);
                        End::Lost(why)
                    };
                    let msg = match msg {
                        None => return lost(self, "connection ended without a close frame".into()),
                        Some(Err(e)) => return lost(self, e.to_string()),
                        Some(Ok(m)) => m,
                    };
                    last_pong = Instant::now();
                    match msg {
                        Message::Binary(b) => match Frame::decode(&b) {
                            Ok(Frame::Stdout(data)) => {
                                if let Some(o) = self.offset.as_mut() {
                                    *o = o.saturating_add(data.len() as u64);
                                }
                                self.pending_out = Some(data);
                            }
                            Ok(Frame::Stderr(data)) => {
                                let _ = events.try_send(ShellEvent::Diagnostic(String::from_utf8_lossy(&data).into_owned()));
                            }
                            Ok(Frame::Status(s)) => on_status(&s, &self.exit, &events),
                            Ok(Frame::Close) => return lost(self, "the platform is shutting the connection down".into()),
                            Ok(_) => {}
                            Err(e) => return End::Failed(io::ErrorKind::InvalidData, e.to_string()),
                        },
                        Message::Close(frame) => {
                            let code = frame.as_ref().map(|f| u16::from(f.code));
                            return match code {
                                Some(CLOSE_NORMAL) => End::Finished,
                                Some(CLOSE_KICKED) => End::Kicked,
                                Some(c) => lost(self, format!("server closed the connection with code {c}")),
                                None => lost(self, "server closed the connection without a code".into()),
                            };
                        }
                        _ => {}
                    }
                }
                data = self.stdin.recv(), if self.stdin_open && queue.len() < SEND_QUEUE => {
                    match data {
                        Some(data) => queue.push_back(frame_message(&Frame::Stdin(data))),
                        None => self.stdin_open = false,
                    }
                }
                ctl = self.control.recv() => match ctl {
                    Some(Control::Resize(w, h)) => {
                        self.size = Some((w, h));
                        queue.push_back(frame_message(&Frame::Resize { width: w, height: h }));
                    }
                    Some(Control::Close) => queue.push_back(frame_message(&Frame::Close)),
                    Some(Control::Detach(done)) => {
                        let sink = finish_sending(sink, sending).await;
                        close_detached(sink).await;
                        let _ = done.send(());
                        return End::Detached;
                    }
                    None => {
                        // Every handle was dropped: leave the shell running for a re-attach.
                        let sink = finish_sending(sink, sending).await;
                        close_detached(sink).await;
                        return End::Detached;
                    }
                },
                _ = ping.tick() => {
                    if self.pending_out.is_some() {
                        // Not reading on purpose (the reader is slow): not a dead connection.
                        last_pong = Instant::now();
                    } else if last_pong.elapsed() > keep.pong_timeout {
                        self.pending_in = unsent_input(in_flight.take(), &queue);
                        return End::Lost(format!("no pong for {:?}", keep.pong_timeout));
                    }
                    if queue.len() < SEND_QUEUE {
                        queue.push_back(Message::Ping(Bytes::new()));
                    }
                }
            }
        }
    }
}

/// Applies a control message that arrived while there is no connection; `true` when the task
/// must end (detach, or every handle dropped).
fn apply_control_while_disconnected(
    ctl: Option<Control>,
    size: &mut Option<(u16, u16)>,
    close_pending: &mut bool,
) -> bool {
    match ctl {
        Some(Control::Resize(w, h)) => {
            *size = Some((w, h));
            false
        }
        Some(Control::Close) => {
            *close_pending = true;
            false
        }
        Some(Control::Detach(done)) => {
            let _ = done.send(());
            true
        }
        None => true,
    }
}

/// Messages waiting behind the one in flight.
const SEND_QUEUE: usize = 4;
/// How long a detach waits for a send in flight before dropping the connection.
const DETACH_GRACE: Duration = Duration::from_secs(5);

type Sink<'a> = futures::stream::SplitSink<&'a mut Ws, Message>;
type SendFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = (Sink<'a>, Result<(), String>)> + Send + 'a>,
>;

fn frame_message(frame: &Frame) -> Message {
    Message::Binary(frame.encode().into())
}

/// Sends `msg` with a future that owns the sending half and hands it back.
fn send_owned(mut sink: Sink<'_>, msg: Message) -> SendFuture<'_> {
    Box::pin(async move {
        let r = sink.send(msg).await.map_err(|e| e.to_string());
        (sink, r)
    })
}

/// The input bytes a message carries, if it is input.
fn stdin_of(msg: &Message) -> Option<Bytes> {
    match msg {
        Message::Binary(b) => match Frame::decode(b) {
            Ok(Frame::Stdin(data)) => Some(data),
            _ => None,
        },
        _ => None,
    }
}

/// Input that may not have reached the server, in order, to send again after a reconnect.
fn unsent_input(
    in_flight: Option<Bytes>,
    queue: &std::collections::VecDeque<Message>,
) -> Option<Bytes> {
    let mut all = bytes::BytesMut::new();
    for part in in_flight
        .into_iter()
        .chain(queue.iter().filter_map(stdin_of))
    {
        all.extend_from_slice(&part);
    }
    (!all.is_empty()).then(|| all.freeze())
}

/// The sending half once the send in flight (if any) is done, or `None` if it does not finish
/// within [`DETACH_GRACE`].
async fn finish_sending<'a>(
    sink: Option<Sink<'a>>,
    sending: Option<SendFuture<'a>>,
) -> Option<Sink<'a>> {
    match sending {
        Some(f) => tokio::time::timeout(DETACH_GRACE, f)
            .await
            .ok()
            .map(|(s, _)| s),
        None => sink,
    }
}

async fn close_detached(sink: Option<Sink<'_>>) {
    if let Some(mut s) = sink {
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "detach".into(),
        };
        let _ = tokio::time::timeout(DETACH_GRACE, s.send(Message::Close(Some(frame)))).await;
    }
}

fn on_status(
    s: &Status,
    exit: &watch::Sender<Option<ShellExit>>,
    events: &mpsc::Sender<ShellEvent>,
) {
    if s.is_confirmation() {
        return;
    }
    if s.reason.as_deref() == Some("InternalError") {
        let _ = events.try_send(ShellEvent::Diagnostic(
            s.message.clone().unwrap_or_else(|| "internal error".into()),
        ));
        return;
    }
    if let Some(code) = s.exit_code() {
        let e = ShellExit {
            code: Some(code),
            signal: s.signal(),
        };
        let _ = exit.send(Some(e));
        let _ = events.try_send(ShellEvent::Exited(e));
    }
}
