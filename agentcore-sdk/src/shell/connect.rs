//! Opening a shell: validation, the upgrade (through the transport's WebSocket dial) and the
//! confirmation; then the handles and the task that owns the connection.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::PollSemaphore;
use url::Url;

use super::handles::{INPUT_FRAMES, ShellReader, ShellWriter};
use super::protocol::{Frame, RESUME_OFFSET_HEADER, SHELL_ID_HEADER, Status};
use super::task::{Options, Task};
use super::{IAM_ACTION, Keepalive, Shell, ShellBuilder, ShellHandle};
use crate::client::Client;
use crate::error::{Error, ServiceError, ServiceErrorKind, service_error_from_response};
use crate::transport::websocket::{
    SyncBoxFuture, WebSocketAuth, WsTarget, check_expiry, dial, presign,
};
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
///
/// Presigning is local: dropping the future has no remote effect (a credentials load it
/// started carries on for the client's other calls).
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

/// An opened, confirmed shell connection, or why not.
pub(crate) type Opened<'a, Io> = SyncBoxFuture<'a, Result<(WebSocketStream<Io>, Status), Error>>;

/// How the task (re)opens its shell: the WebSocket, confirmed. The real one dials the
/// service ([`Target`]); tests dial in memory.
pub(crate) trait Dial: Send + Sync + 'static {
    /// The connection under the WebSocket.
    type Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static;
    /// Opens the WebSocket and waits for the confirmation STATUS. `resume_at` asks a server
    /// that supports the extension to replay from that output offset.
    fn open(&self, resume_at: Option<u64>) -> Opened<'_, Self::Io>;
}

impl Dial for Target {
    type Io = MaybeTlsStream<tokio::net::TcpStream>;
    fn open(&self, resume_at: Option<u64>) -> Opened<'_, Self::Io> {
        Box::pin(async move {
            let mut extra = Vec::new();
            if let Some(offset) = resume_at {
                extra.push((
                    http::HeaderName::from_static(RESUME_OFFSET_HEADER),
                    http::HeaderValue::from(offset),
                ));
            }
            let (mut ws, response) = dial(&self.ws, extra, upgrade_error).await?;
            if let Some(id) = response.get(SHELL_ID_HEADER).and_then(|v| v.to_str().ok())
                && id != self.shell_id()
            {
                return Err(Error::malformed(format!(
                    "the server attached shell {id:?}, not the requested {:?}",
                    self.shell_id()
                )));
            }
            let status = confirm(&mut ws, self.keepalive.confirmation_timeout).await?;
            Ok((ws, status))
        })
    }
}

/// Waits (at most `wait`) for the confirmation STATUS, the first frame of a connection.
pub(crate) async fn confirm<S>(ws: &mut WebSocketStream<S>, wait: Duration) -> Result<Status, Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    const OP: &str = "InvokeAgentRuntimeCommandShell";
    tokio::time::timeout(wait, async {
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
    })?
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
        tracing::Instrument::instrument(target.open(None), span.clone()).await?;
    let opts = Options {
        keepalive: b.keepalive,
        policy: b.reconnect,
        delivery: b.input_delivery,
        close_grace: b.close_grace,
    };
    Ok(start(target, opts, b.size, handle, ws, confirmation, span))
}

/// The handles of a confirmed shell, and its task spawned on `ws`.
pub(crate) fn start<D: Dial>(
    dial: D,
    opts: Options,
    size: Option<(u16, u16)>,
    handle: ShellHandle,
    ws: WebSocketStream<D::Io>,
    confirmation: Status,
    span: tracing::Span,
) -> Shell {
    let (input_tx, input_rx) = mpsc::unbounded_channel();
    let room = Arc::new(Semaphore::new(INPUT_FRAMES));
    let (out_tx, out_rx) = mpsc::channel(64);
    let (event_tx, event_rx) = mpsc::channel(256);
    let (exit_tx, exit_rx) = watch::channel(None);
    let task = Task::new(
        Arc::new(dial),
        opts,
        size,
        input_rx,
        room.clone(),
        out_tx,
        event_tx,
        exit_tx,
        confirmation.metadata.output_offset,
    );
    tokio::spawn(tracing::Instrument::instrument(task.run(ws), span));
    Shell {
        reader: ShellReader::new(out_rx),
        writer: ShellWriter {
            input: input_tx,
            room: PollSemaphore::new(room),
            exit: exit_rx,
            handle,
            ended: Default::default(),
        },
        events: Some(event_rx),
    }
}
