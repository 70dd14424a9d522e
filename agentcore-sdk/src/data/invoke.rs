//! Agent invocations (InvokeAgentRuntime): the response body as a byte stream, JSON, or
//! server-sent events.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::Stream;
use tokio::time::Sleep;

use crate::error::Error;
use crate::types::SessionId;

/// A response body: `Send`, and `Sync` through `SyncWrapper` (only ever used by `&mut`).
type BodyStream =
    sync_wrapper::SyncWrapper<Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>>>;

/// The response body of an invocation as a stream of byte chunks, failing with
/// [`Error::Timeout`] if the agent stays silent longer than the configured idle timeout.
///
/// Dropping it closes the response body; the agent is not told (it may finish its work in the
/// session).
pub struct ByteStream {
    body: BodyStream,
    idle: Pin<Box<Sleep>>,
    idle_after: Duration,
    done: bool,
}

impl fmt::Debug for ByteStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ByteStream")
            .field("done", &self.done)
            .finish()
    }
}

impl ByteStream {
    /// Wraps any byte stream, with an idle timeout.
    pub fn new(
        body: impl Stream<Item = Result<Bytes, Error>> + Send + 'static,
        idle_after: Duration,
    ) -> Self {
        Self {
            body: sync_wrapper::SyncWrapper::new(Box::pin(body)),
            idle: Box::pin(tokio::time::sleep(idle_after)),
            idle_after,
            done: false,
        }
    }

    /// Reads the whole body, up to [`COLLECT_LIMIT_BYTES`]; a larger body is
    /// [`Error::TooLarge`] (read it as a `Stream` instead).
    ///
    /// Dropping the future drops the body (see [`ByteStream`]).
    pub async fn collect(self) -> Result<Bytes, Error> {
        self.collect_up_to(COLLECT_LIMIT_BYTES).await
    }

    /// Reads the whole body if it is at most `limit` bytes, else [`Error::TooLarge`] (having
    /// buffered no more than `limit` bytes).
    ///
    /// Dropping the future drops the body (see [`ByteStream`]).
    pub async fn collect_up_to(mut self, limit: usize) -> Result<Bytes, Error> {
        use futures::StreamExt;
        let mut out = BytesMut::new();
        while let Some(chunk) = self.next().await {
            let chunk = chunk?;
            if out.len().saturating_add(chunk.len()) > limit {
                return Err(Error::TooLarge {
                    what: "the response body",
                    limit: limit as u64,
                });
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out.freeze())
    }
}

impl Stream for ByteStream {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = this.body.get_mut().as_mut().poll_next(cx) {
            match &item {
                Some(Ok(_)) => {
                    let next = crate::transport::deadline_after(this.idle_after);
                    this.idle.as_mut().reset(next);
                }
                _ => this.done = true,
            }
            return Poll::Ready(item);
        }
        ready!(this.idle.as_mut().poll(cx));
        this.done = true;
        Poll::Ready(Some(Err(Error::Timeout {
            operation: "InvokeAgentRuntime (idle response stream)",
            after: this.idle_after,
        })))
    }
}

/// The response of an invocation. The body has not been read yet.
///
/// ```no_run
/// # async fn f(session: agentcore_sdk::Session) -> Result<(), agentcore_sdk::Error> {
/// use futures::StreamExt;
/// // JSON in, JSON out:
/// let reply: serde_json::Value = session
///     .invoke("")
///     .json(&serde_json::json!({"prompt": "fix the failing test"}))
///     .send().await?
///     .json().await?;
/// // Or streamed as server-sent events:
/// let mut events = session.invoke(r#"{"prompt":"plan"}"#).send().await?.events();
/// while let Some(event) = events.next().await {
///     println!("{}", event?.data);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct InvokeResponse {
    pub(crate) status: u16,
    pub(crate) content_type: Option<String>,
    pub(crate) session_id: Option<SessionId>,
    pub(crate) request_id: Option<String>,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: ByteStream,
}

impl InvokeResponse {
    /// The HTTP status the agent answered with.
    pub fn status(&self) -> u16 {
        self.status
    }
    /// The response content type (e.g. `application/json`, `text/event-stream`).
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }
    /// `true` when the body is `text/event-stream`.
    pub fn is_event_stream(&self) -> bool {
        self.content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("text/event-stream"))
    }
    /// The session id the service echoed.
    pub fn session_id(&self) -> Option<&SessionId> {
        self.session_id.as_ref()
    }
    /// The request id.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
    /// All response headers (`Mcp-Session-Id`, trace headers...).
    pub fn headers(&self) -> &http::HeaderMap {
        &self.headers
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// `X-Amzn-Bedrock-AgentCore-Runtime-Session-Endpoint-Url`: where the session's own
    /// endpoint (and its allowed ports) can be reached.
    pub fn session_endpoint_url(&self) -> Option<&str> {
        self.header("x-amzn-bedrock-agentcore-runtime-session-endpoint-url")
    }
    /// The session endpoint the service gave, parsed (see
    /// [`session_endpoint_url`](Self::session_endpoint_url)); `None` when there is none or
    /// it is not a URL this SDK can use.
    pub fn session_endpoint(&self) -> Option<super::SessionEndpoint> {
        self.session_endpoint_url()
            .and_then(|u| super::SessionEndpoint::parse(u).ok())
    }
    /// `Mcp-Session-Id` the MCP server assigned.
    pub fn mcp_session_id(&self) -> Option<&str> {
        self.header("mcp-session-id")
    }
    /// `Mcp-Protocol-Version` the MCP server speaks.
    pub fn mcp_protocol_version(&self) -> Option<&str> {
        self.header("mcp-protocol-version")
    }
    /// `X-Amzn-Trace-Id`.
    pub fn trace_id(&self) -> Option<&str> {
        self.header("x-amzn-trace-id")
    }
    /// W3C `traceparent`.
    pub fn traceparent(&self) -> Option<&str> {
        self.header("traceparent")
    }
    /// W3C `tracestate`.
    pub fn tracestate(&self) -> Option<&str> {
        self.header("tracestate")
    }
    /// W3C `baggage`.
    pub fn baggage(&self) -> Option<&str> {
        self.header("baggage")
    }
    /// The body as a byte stream.
    pub fn into_stream(self) -> ByteStream {
        self.body
    }
    /// The whole body.
    ///
    /// Dropping the future drops the body (see [`ByteStream`]).
    pub async fn bytes(self) -> Result<Bytes, Error> {
        self.body.collect().await
    }
    /// The whole body as JSON.
    ///
    /// Dropping the future drops the body (see [`ByteStream`]).
    pub async fn json<T: serde::de::DeserializeOwned>(self) -> Result<T, Error> {
        let bytes = self.bytes().await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::malformed_with("invocation response is not the expected JSON", e))
    }
    /// The body parsed as server-sent events.
    pub fn events(self) -> SseStream {
        SseStream::new(self.body)
    }
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SseEvent {
    /// The `event:` field (empty for the default `message` type).
    pub event: String,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
    /// The `id:` field.
    pub id: Option<String>,
    /// The `retry:` field, in milliseconds.
    pub retry: Option<u64>,
}

/// A `text/event-stream` body parsed into [`SseEvent`]s (per the WHATWG rules: fields,
/// comments, `\n` / `\r\n` / `\r` line ends, multi-line data).
///
/// Dropping it closes the response body; the agent is not told (it may finish its work in the
/// session).
pub struct SseStream {
    body: BodyStream,
    buf: BytesMut,
    /// How far `buf` is known to hold no line terminator (so a long line is scanned once,
    /// not once per chunk).
    scanned: usize,
    current: SseEvent,
    has_data: bool,
    done: bool,
}

/// How much [`ByteStream::collect`] (and `bytes()` / `json()`) buffers at most: the
/// largest payload the service accepts.
pub const COLLECT_LIMIT_BYTES: usize = 100_000_000;

/// The longest line, and the most data one event may gather, before the stream is refused as
/// malformed: a server cannot make the client buffer without bound.
pub const MAX_SSE_EVENT_BYTES: usize = 16 * 1024 * 1024;

impl fmt::Debug for SseStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseStream")
            .field("done", &self.done)
            .finish()
    }
}

impl SseStream {
    /// Parses any byte stream as server-sent events.
    pub fn new(body: impl Stream<Item = Result<Bytes, Error>> + Send + 'static) -> Self {
        Self {
            body: sync_wrapper::SyncWrapper::new(Box::pin(body)),
            buf: BytesMut::new(),
            scanned: 0,
            current: SseEvent::default(),
            has_data: false,
            done: false,
        }
    }

    /// Takes one line (without its terminator) from the buffer. A lone `\r` at the end of the
    /// buffer may be half of `\r\n`, so it waits for more unless the body ended.
    fn take_line(&mut self, eof: bool) -> Option<Bytes> {
        let from = self.scanned.min(self.buf.len());
        let Some(found) = self
            .buf
            .get(from..)
            .and_then(|rest| rest.iter().position(|&b| b == b'\n' || b == b'\r'))
        else {
            self.scanned = self.buf.len();
            return None;
        };
        let pos = from.saturating_add(found);
        let is_cr = self.buf.get(pos) == Some(&b'\r');
        if is_cr && pos.saturating_add(1) == self.buf.len() && !eof {
            self.scanned = pos;
            return None;
        }
        self.scanned = 0;
        let line = self.buf.split_to(pos).freeze();
        let skip = if is_cr && self.buf.get(1) == Some(&b'\n') {
            2
        } else {
            1
        };
        let _ = self.buf.split_to(skip);
        Some(line)
    }

    /// Applies one line; returns a finished event on a blank line.
    fn apply(&mut self, line: &[u8]) -> Result<Option<SseEvent>, Error> {
        if line.is_empty() {
            if !self.has_data {
                self.current = SseEvent {
                    id: self.current.id.take(),
                    ..SseEvent::default()
                };
                return Ok(None);
            }
            self.has_data = false;
            let id = self.current.id.clone();
            let event = std::mem::replace(
                &mut self.current,
                SseEvent {
                    id,
                    ..SseEvent::default()
                },
            );
            return Ok(Some(event));
        }
        if line.first() == Some(&b':') {
            return Ok(None);
        }
        let text = std::str::from_utf8(line)
            .map_err(|e| Error::malformed_with("event-stream line is not UTF-8", e))?;
        let (field, value) = match text.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (text, ""),
        };
        match field {
            "event" => self.current.event = value.to_owned(),
            "data" => {
                if self.has_data {
                    self.current.data.push('\n');
                }
                if self.current.data.len().saturating_add(value.len()) > MAX_SSE_EVENT_BYTES {
                    return Err(Error::malformed(format!(
                        "server-sent event data over {MAX_SSE_EVENT_BYTES} bytes"
                    )));
                }
                self.current.data.push_str(value);
                self.has_data = true;
            }
            "id" if !value.contains('\0') => self.current.id = Some(value.to_owned()),
            "retry" => {
                if let Ok(ms) = value.parse() {
                    self.current.retry = Some(ms);
                }
            }
            _ => {}
        }
        Ok(None)
    }
}

impl Stream for SseStream {
    type Item = Result<SseEvent, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.done && this.buf.is_empty() {
                // A final event without its blank line is still delivered.
                if this.has_data {
                    this.has_data = false;
                    return Poll::Ready(Some(Ok(std::mem::take(&mut this.current))));
                }
                return Poll::Ready(None);
            }
            while let Some(line) = this.take_line(this.done) {
                match this.apply(&line) {
                    Ok(Some(ev)) => return Poll::Ready(Some(Ok(ev))),
                    Ok(None) => {}
                    Err(e) => {
                        this.done = true;
                        this.buf.clear();
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
            if this.done {
                // Unterminated last line.
                let rest = this.buf.split().freeze();
                if let Err(e) = this.apply(&rest) {
                    return Poll::Ready(Some(Err(e)));
                }
                continue;
            }
            match ready!(this.body.get_mut().as_mut().poll_next(cx)) {
                Some(Ok(chunk)) => {
                    this.buf.extend_from_slice(&chunk);
                    if this.buf.len() > MAX_SSE_EVENT_BYTES {
                        this.done = true;
                        this.buf.clear();
                        this.has_data = false;
                        return Poll::Ready(Some(Err(Error::malformed(format!(
                            "server-sent event line over {MAX_SSE_EVENT_BYTES} bytes"
                        )))));
                    }
                }
                Some(Err(e)) => {
                    this.done = true;
                    this.buf.clear();
                    this.has_data = false;
                    return Poll::Ready(Some(Err(e)));
                }
                None => this.done = true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    async fn parse(chunks: &[&'static str]) -> Vec<SseEvent> {
        let body = futures::stream::iter(
            chunks
                .iter()
                .map(|c| Ok(Bytes::from_static(c.as_bytes())))
                .collect::<Vec<_>>(),
        );
        SseStream::new(body).map(|r| r.unwrap()).collect().await
    }

    /// A long line arriving in many small chunks is found whole (scanning resumes where it
    /// stopped), and a line or an event over the cap is a typed error, not unbounded memory.
    #[tokio::test]
    async fn sse_long_lines_are_scanned_once_and_capped() {
        let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
        let mut parts: Vec<Result<Bytes, Error>> = vec![Ok(Bytes::from_static(b"data: "))];
        parts.extend((0..64).map(|_| Ok(chunk.clone())));
        parts.push(Ok(Bytes::from_static(b"\r")));
        parts.push(Ok(Bytes::from_static(b"\n\n")));
        let evs: Vec<_> = SseStream::new(futures::stream::iter(parts)).collect().await;
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].as_ref().unwrap().data.len(), 64 * 64 * 1024);

        let endless = futures::stream::repeat_with(move || Ok(chunk.clone()));
        let mut s = SseStream::new(Box::pin(endless));
        let err = s.next().await.unwrap().unwrap_err();
        assert!(matches!(err, Error::MalformedResponse { .. }), "{err}");
        assert!(s.next().await.is_none(), "the stream ends after the error");

        let many_lines = futures::stream::repeat_with(|| {
            Ok(Bytes::from(format!("data: {}\n", "y".repeat(1 << 20))))
        });
        let err = SseStream::new(Box::pin(many_lines))
            .next()
            .await
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("over"), "{err}");
    }

    #[tokio::test]
    async fn sse_fields_and_split_lines() {
        let evs = parse(&[
            "data: hel",
            "lo\r",
            "\n\r\nevent: done\ndata: a\ndata: b\nid: 7\n\n",
            ": comment\n",
            "data: tail",
        ])
        .await;
        assert_eq!(evs.len(), 3);
        assert_eq!(evs[0].data, "hello");
        assert_eq!(evs[1].event, "done");
        assert_eq!(evs[1].data, "a\nb");
        assert_eq!(evs[1].id.as_deref(), Some("7"));
        assert_eq!(evs[2].data, "tail");
    }
}
