//! WebSocket invoke: a bidirectional message stream with the agent itself
//! (`/runtimes/{arn}/ws`), as the official Python SDK connects. It reuses the shell's
//! connection and auth code (SigV4 headers, presigned URL, bearer token).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::{Sink, Stream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::task::{Target, Ws, WsKind, bearer_protocol, check_expiry, dial};
use super::{Keepalive, ShellAuth};
use crate::client::Client;
use crate::error::{Error, ServiceError, ServiceErrorKind};
use crate::types::{EndpointName, IntoRuntimeArn, RuntimeArn, SessionId, ShellId};

const OP: &str = "InvokeAgentRuntimeWebSocket";

/// One WebSocket message to or from the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentMessage {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Bytes),
}

/// Opens a WebSocket to the agent. See [`Client::invoke_websocket`].
#[derive(Debug, Clone)]
#[must_use = "call .connect().await"]
pub struct AgentSocketBuilder {
    client: Client,
    arn: Result<RuntimeArn, crate::error::Deferred>,
    session_id: Option<String>,
    qualifier: Option<String>,
    auth: ShellAuth,
}

impl AgentSocketBuilder {
    pub(crate) fn new(client: Client, arn: impl IntoRuntimeArn) -> Self {
        Self {
            client,
            arn: arn.into_runtime_arn().map_err(crate::error::Deferred::from),
            session_id: None,
            qualifier: None,
            auth: ShellAuth::default(),
        }
    }

    /// The session (generated when absent).
    pub fn session_id(mut self, id: impl AsRef<str>) -> Self {
        self.session_id = Some(id.as_ref().to_owned());
        self
    }

    /// The endpoint (default `DEFAULT`).
    pub fn qualifier(mut self, q: impl Into<String>) -> Self {
        self.qualifier = Some(q.into());
        self
    }

    /// How the upgrade is authorized (default SigV4 headers).
    pub fn auth(mut self, auth: ShellAuth) -> Self {
        self.auth = auth;
        self
    }

    /// Validates, connects and upgrades.
    pub async fn connect(self) -> Result<AgentSocket, Error> {
        let arn = self.arn.map_err(Error::from)?;
        let session_id = match &self.session_id {
            Some(s) => s.parse()?,
            None => SessionId::generate(),
        };
        let qualifier = match &self.qualifier {
            Some(q) => q.parse::<EndpointName>()?.into_string(),
            None => "DEFAULT".to_owned(),
        };
        match &self.auth {
            ShellAuth::Presigned { expires } => check_expiry(*expires)?,
            ShellAuth::Bearer(t) => {
                bearer_protocol(t)?;
            }
            ShellAuth::SigV4 => {}
        }
        let target = Target {
            client: self.client,
            arn,
            session_id,
            shell_id: ShellId::generate(),
            qualifier,
            auth: self.auth,
            keepalive: Keepalive::default(),
            kind: WsKind::Agent,
        };
        let span = tracing::info_span!("agentcore.invoke_websocket", runtime = %target.arn, session = %target.session_id);
        let (ws, _) = tracing::Instrument::instrument(dial(&target, None), span).await?;
        Ok(AgentSocket {
            ws,
            session_id: target.session_id,
            done: false,
        })
    }
}

/// A WebSocket with the agent: a [`Stream`] of [`AgentMessage`]s received and a [`Sink`] of
/// messages to send. Pings are answered for you; the stream ends when either side closes.
/// A close by the service because the agent failed (code 1011) arrives as an error.
///
/// ```no_run
/// # async fn f(client: agentcore_sdk::Client, arn: &str) -> Result<(), agentcore_sdk::Error> {
/// use agentcore_sdk::data::AgentMessage;
/// use futures::{SinkExt, StreamExt};
/// let mut socket = client.invoke_websocket(arn).connect().await?;
/// socket.send(AgentMessage::Text(r#"{"prompt":"hello"}"#.into())).await?;
/// while let Some(msg) = socket.next().await {
///     match msg? {
///         AgentMessage::Text(t) => println!("{t}"),
///         AgentMessage::Binary(b) => println!("{} bytes", b.len()),
///     }
/// }
/// # Ok(()) }
/// ```
pub struct AgentSocket {
    ws: Ws,
    session_id: SessionId,
    done: bool,
}

impl std::fmt::Debug for AgentSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentSocket")
            .field("session_id", &self.session_id)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl AgentSocket {
    /// The session this socket's agent runs in.
    pub fn session_id(&self) -> &SessionId {
        &self.session_id
    }

    /// Closes the socket (normal closure) and waits for the agent's close.
    pub async fn close(mut self) -> Result<(), Error> {
        let _ = self.ws.close(None).await;
        Ok(())
    }
}

impl Stream for AgentSocket {
    type Item = Result<AgentMessage, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            let msg = match Pin::new(&mut self.ws).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    self.done = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(e))) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(Error::transport(OP, e))));
                }
                Poll::Ready(Some(Ok(m))) => m,
            };
            match msg {
                Message::Text(t) => {
                    return Poll::Ready(Some(Ok(AgentMessage::Text(t.to_string()))));
                }
                Message::Binary(b) => return Poll::Ready(Some(Ok(AgentMessage::Binary(b)))),
                Message::Close(frame) => {
                    self.done = true;
                    if let Some(f) = frame
                        && f.code != CloseCode::Normal
                        && f.code != CloseCode::Away
                    {
                        let kind = if f.code == CloseCode::Error {
                            ServiceErrorKind::RuntimeClient
                        } else {
                            ServiceErrorKind::Other(format!("WebSocketClose{}", u16::from(f.code)))
                        };
                        let e = ServiceError::new(
                            kind,
                            format!(
                                "the agent's WebSocket closed with {}: {}",
                                u16::from(f.code),
                                f.reason
                            ),
                        );
                        return Poll::Ready(Some(Err(e.into())));
                    }
                    return Poll::Ready(None);
                }
                // Pings are answered by the WebSocket layer; pongs and raw frames carry nothing.
                _ => continue,
            }
        }
    }
}

impl Sink<AgentMessage> for AgentSocket {
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.ws)
            .poll_ready(cx)
            .map_err(|e| Error::transport(OP, e))
    }

    fn start_send(mut self: Pin<&mut Self>, item: AgentMessage) -> Result<(), Error> {
        let msg = match item {
            AgentMessage::Text(t) => Message::Text(t.into()),
            AgentMessage::Binary(b) => Message::Binary(b),
        };
        Pin::new(&mut self.ws)
            .start_send(msg)
            .map_err(|e| Error::transport(OP, e))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.ws)
            .poll_flush(cx)
            .map_err(|e| Error::transport(OP, e))
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.ws)
            .poll_close(cx)
            .map_err(|e| Error::transport(OP, e))
    }
}
