//! WebSocket invoke: a bidirectional message stream with the agent itself
//! (`/runtimes/{arn}/ws`), as the official Python SDK connects. The connection and its auth
//! (SigV4 headers, presigned URL, bearer token) are the transport's, shared with shells.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::{Sink, Stream};
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::error::{Deferred, Error, ServiceError, ServiceErrorKind};
use crate::transport::Transport;
use crate::transport::websocket::{WebSocketAuth, Ws, WsTarget, dial, service_refusal};
use crate::types::{EndpointName, IntoRuntimeArn, RuntimeArn, SessionId};

const OP: &str = "InvokeAgentRuntimeWebSocket";

/// One WebSocket message to or from the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentMessage {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Bytes),
}

/// Opens a WebSocket to the agent. See [`Client::invoke_websocket`](crate::Client::invoke_websocket).
#[derive(Debug, Clone)]
#[must_use = "call .connect().await"]
pub struct AgentSocketBuilder {
    transport: Transport,
    arn: Result<RuntimeArn, Deferred>,
    session_id: Option<String>,
    qualifier: Option<String>,
    auth: WebSocketAuth,
}

impl AgentSocketBuilder {
    crate::config::config_override_setter!();

    pub(crate) fn new(transport: Transport, arn: impl IntoRuntimeArn) -> Self {
        Self {
            transport,
            arn: arn.into_runtime_arn().map_err(Deferred::from),
            session_id: None,
            qualifier: None,
            auth: WebSocketAuth::default(),
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
    pub fn auth(mut self, auth: WebSocketAuth) -> Self {
        self.auth = auth;
        self
    }

    /// Validates, connects and upgrades.
    ///
    /// Dropping the future abandons the upgrade; a connection the service had already opened to
    /// the agent is dropped (the agent sees it end).
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
        self.auth.check()?;
        let timeouts = self.transport.timeouts();
        let target = WsTarget {
            config: self.transport.config,
            arn,
            session_id,
            shell_id: None,
            qualifier,
            auth: self.auth,
            timeouts,
        };
        let span = tracing::info_span!("agentcore.invoke_websocket", runtime = %target.arn, session = %target.session_id);
        let (ws, _) =
            tracing::Instrument::instrument(dial(&target, Vec::new(), service_refusal), span)
                .await?;
        Ok(AgentSocket {
            ws,
            session_id: target.session_id,
            close_timeout: timeouts.get_operation(),
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
///
/// Dropping it drops the connection without a close frame: the agent sees it end abruptly.
/// [`close`](Self::close) closes it cleanly.
pub struct AgentSocket {
    ws: Ws,
    session_id: SessionId,
    /// How long [`close`](AgentSocket::close) waits for the agent's close.
    close_timeout: std::time::Duration,
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
    /// A socket over a connection already upgraded (a session endpoint's).
    pub(crate) fn from_parts(
        ws: Ws,
        session_id: SessionId,
        close_timeout: std::time::Duration,
    ) -> Self {
        Self {
            ws,
            session_id,
            close_timeout,
            done: false,
        }
    }

    /// The session this socket's agent runs in.
    pub fn session_id(&self) -> &SessionId {
        &self.session_id
    }

    /// Closes the socket: sends a normal close frame, then reads until the agent's close
    /// arrives (messages still in flight are dropped), for at most the operation timeout
    /// ([`TimeoutConfig::operation`](crate::TimeoutConfig::operation)).
    ///
    /// An agent that closes with an error code (1011: it failed) gives the error the stream
    /// would have yielded; one that does not answer within the timeout gives
    /// [`Error::Timeout`], and the connection is dropped either way.
    ///
    /// Dropping the returned future drops the connection without waiting (the agent sees the
    /// TCP connection end, possibly before the close frame).
    pub async fn close(mut self) -> Result<(), Error> {
        use futures::StreamExt;
        if self.done {
            return Ok(());
        }
        let after = self.close_timeout;
        let closing = async {
            match self.ws.close(None).await {
                // The agent closed first: nothing left to wait for.
                Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => return Ok(()),
                Err(e) => return Err(Error::transport(OP, e)),
                Ok(()) => {}
            }
            // Until the agent's close (or the end of the connection, which after our close
            // frame is the end we asked for).
            while let Some(msg) = self.ws.next().await {
                match msg {
                    Ok(Message::Close(frame)) => {
                        return close_error(frame.as_ref()).map_or(Ok(()), Err);
                    }
                    Ok(_) => {}
                    Err(
                        WsError::ConnectionClosed
                        | WsError::AlreadyClosed
                        | WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake),
                    ) => return Ok(()),
                    Err(e) => return Err(Error::transport(OP, e)),
                }
            }
            Ok(())
        };
        tokio::time::timeout(after, closing)
            .await
            .unwrap_or(Err(Error::Timeout {
                operation: "InvokeAgentRuntimeWebSocket close",
                after,
            }))
    }
}

/// The error an agent's close frame reports: none for a normal close or going away; 1011
/// (the agent failed) is `RuntimeClientError`, any other code its own kind.
fn close_error(frame: Option<&CloseFrame>) -> Option<Error> {
    let f = frame?;
    if f.code == CloseCode::Normal || f.code == CloseCode::Away {
        return None;
    }
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
    Some(e.into())
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
                    return Poll::Ready(close_error(frame.as_ref()).map(Err));
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

#[cfg(test)]
mod tests {
    use super::*;
    use futures::{SinkExt, StreamExt};
    use std::time::Duration;
    use tokio_tungstenite::tungstenite::protocol::Role;
    use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

    /// A socket over loopback TCP with the agent's end in the test's hands (no upgrade).
    async fn pair(
        close_timeout: Duration,
    ) -> (AgentSocket, WebSocketStream<tokio::net::TcpStream>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, server) =
            tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
        let client = WebSocketStream::from_raw_socket(
            MaybeTlsStream::Plain(client.unwrap()),
            Role::Client,
            None,
        )
        .await;
        let server = WebSocketStream::from_raw_socket(server.unwrap().0, Role::Server, None).await;
        let socket = AgentSocket {
            ws: client,
            session_id: SessionId::generate(),
            close_timeout,
            done: false,
        };
        (socket, server)
    }

    /// `close` waits for the agent's close: messages still in flight are dropped, and an agent
    /// that failed (1011) is reported. It used to return once its own close frame was sent.
    #[tokio::test]
    async fn close_waits_for_the_agents_close_and_reports_a_failure() {
        let (socket, mut agent) = pair(Duration::from_secs(30)).await;
        // The agent sends one more message and fails while our close is on its way.
        agent.send(Message::Text("late".into())).await.unwrap();
        agent
            .close(Some(CloseFrame {
                code: CloseCode::Error,
                reason: "agent crashed".into(),
            }))
            .await
            .unwrap();
        let agent_side = tokio::spawn(async move { while let Some(Ok(_)) = agent.next().await {} });
        let err = socket.close().await.unwrap_err();
        assert_eq!(
            err.service_kind(),
            Some(&ServiceErrorKind::RuntimeClient),
            "{err}"
        );
        agent_side.await.unwrap();

        // A normal close answered by the agent is Ok.
        let (socket, mut agent) = pair(Duration::from_secs(30)).await;
        let agent_side = tokio::spawn(async move { while let Some(Ok(_)) = agent.next().await {} });
        socket.close().await.unwrap();
        agent_side.await.unwrap();
    }

    /// An agent that never answers the close gives a typed timeout, not a hang.
    #[tokio::test]
    async fn close_is_bounded_when_the_agent_does_not_answer() {
        let (socket, agent) = pair(Duration::from_millis(200)).await;
        let err = tokio::time::timeout(Duration::from_secs(30), socket.close())
            .await
            .expect("close is bounded")
            .unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
        drop(agent);
    }
}
