//! One-shot commands (InvokeAgentRuntimeCommand): typed events as a `Stream`.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use serde::{Deserialize, Serialize};
use tokio::time::Sleep;

use super::event_stream::{Frame, FrameDecoder, classify};
use crate::error::{Error, ServiceError, ServiceErrorKind, service_error_from_event};
use crate::types::{CommandStatus, SessionId};

/// One event of a command's output stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandEvent {
    /// The command started (always first).
    Start,
    /// Output, in the order produced. Either part may be empty.
    Delta {
        /// Standard output text.
        stdout: String,
        /// Standard error text.
        stderr: String,
    },
    /// The command ended (always last).
    Stop {
        /// The exit code (`128 + n` for a signal `n`).
        exit_code: i32,
        /// Completed or timed out.
        status: CommandStatus,
    },
}

/// The collected result of a command. See [`CommandStream::output`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CommandOutput {
    /// Everything the command wrote to stdout.
    pub stdout: String,
    /// Everything the command wrote to stderr.
    pub stderr: String,
    /// The exit code.
    pub exit_code: i32,
    /// Completed or timed out.
    pub status: CommandStatus,
    /// `true` when a stream was larger than the collection limit and its middle was left
    /// out: `stdout` / `stderr` then hold its first and last parts (see
    /// [`CommandStream::output_up_to`]).
    #[serde(default)]
    pub truncated: bool,
}

/// How much of each stream [`CommandStream::output`] keeps in memory at most.
pub const OUTPUT_LIMIT_BYTES: usize = 64 * 1024 * 1024;

/// Keeps at most `limit` bytes of a text stream: its head and its tail.
#[derive(Debug)]
struct Capture {
    head: String,
    tail: String,
    half: usize,
    truncated: bool,
}

impl Capture {
    fn new(limit: usize) -> Self {
        Self {
            head: String::new(),
            tail: String::new(),
            half: (limit / 2).max(1),
            truncated: false,
        }
    }

    fn push(&mut self, mut s: &str) {
        // The head takes bytes only until the first byte goes to the tail: order is kept.
        if self.tail.is_empty() && self.head.len() < self.half {
            let take = floor_boundary(s, self.half.saturating_sub(self.head.len()));
            let (head, rest) = s.split_at(take);
            self.head.push_str(head);
            s = rest;
        }
        if s.is_empty() {
            return;
        }
        self.tail.push_str(s);
        // Trim in amortized steps: only once the tail is twice its share.
        if self.tail.len() > self.half.saturating_mul(2) {
            let cut = ceil_boundary(&self.tail, self.tail.len().saturating_sub(self.half));
            self.tail.drain(..cut);
            self.truncated = true;
        }
    }

    fn finish(mut self) -> (String, bool) {
        if self.tail.len() > self.half {
            let cut = ceil_boundary(&self.tail, self.tail.len().saturating_sub(self.half));
            self.tail.drain(..cut);
            self.truncated = true;
        }
        self.head.push_str(&self.tail);
        (self.head, self.truncated)
    }
}

/// How much of each stream [`CommandOutput::check`] keeps in its error.
pub const OUTPUT_TAIL_BYTES: usize = 4096;

/// The last `max` bytes of `s`, cut at a character boundary.
pub(crate) fn tail(s: &str, max: usize) -> String {
    let start = ceil_boundary(s, s.len().saturating_sub(max));
    s.split_at(start).1.to_owned()
}

/// The largest character boundary of `s` at or below `i` (`s.len()` if beyond).
pub(crate) fn floor_boundary(s: &str, i: usize) -> usize {
    (0..=i.min(s.len()))
        .rev()
        .find(|&b| s.is_char_boundary(b))
        .unwrap_or(0)
}

/// The smallest character boundary of `s` at or above `i` (`s.len()` if beyond).
pub(crate) fn ceil_boundary(s: &str, i: usize) -> usize {
    (i.min(s.len())..=s.len())
        .find(|&b| s.is_char_boundary(b))
        .unwrap_or(s.len())
}

impl CommandOutput {
    /// `true` when the command completed with exit code 0.
    pub fn success(&self) -> bool {
        self.status == CommandStatus::Completed && self.exit_code == 0
    }

    /// `Ok(self)` on success, else [`Error::CommandFailed`] with the exit code and the last
    /// 4 KiB of stdout and stderr.
    ///
    /// ```no_run
    /// # async fn f(session: agentcore_sdk::Session) -> Result<(), agentcore_sdk::Error> {
    /// let tests = session.run("cd /mnt/workspace/repo && cargo test").await?.check()?;
    /// # Ok(()) }
    /// ```
    pub fn check(self) -> Result<Self, Error> {
        if self.success() {
            return Ok(self);
        }
        Err(Error::CommandFailed {
            exit_code: self.exit_code,
            status: self.status,
            stdout_tail: tail(&self.stdout, OUTPUT_TAIL_BYTES),
            stderr_tail: tail(&self.stderr, OUTPUT_TAIL_BYTES),
        })
    }
}

/// The wire union inside a `chunk` event, as servers write it (see
/// [`event_stream::encode_chunk`](super::event_stream::encode_chunk)); the SDK's own decoder
/// reads chunks through a struct that tolerates unknown members.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[doc(hidden)]
pub enum ResponseChunk {
    ContentStart {},
    ContentDelta {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stdout: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stderr: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    ContentStop {
        exit_code: i32,
        status: CommandStatus,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireChunk {
    content_start: Option<serde::de::IgnoredAny>,
    content_delta: Option<WireDelta>,
    content_stop: Option<WireStop>,
}

#[derive(Deserialize)]
struct WireDelta {
    stdout: Option<String>,
    stderr: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireStop {
    exit_code: i32,
    status: CommandStatus,
}

/// Decodes one event-stream message of a command response. `Ok(None)` for events this SDK
/// does not know (skipped for forward compatibility).
pub fn decode_command_message(
    msg: &aws_smithy_types::event_stream::Message,
) -> Result<Option<CommandEvent>, Error> {
    match classify(msg)? {
        Frame::Event("chunk", payload) => {
            // A plain struct of optional members (not the `ResponseChunk` enum, whose
            // forward-compatible fallback would make serde buffer every delta first).
            let chunk: WireChunk = serde_json::from_slice(payload)
                .map_err(|e| Error::malformed_with("chunk event payload is not valid JSON", e))?;
            Ok(if chunk.content_start.is_some() {
                Some(CommandEvent::Start)
            } else if let Some(d) = chunk.content_delta {
                Some(CommandEvent::Delta {
                    stdout: d.stdout.unwrap_or_default(),
                    stderr: d.stderr.unwrap_or_default(),
                })
            } else if let Some(stop) = chunk.content_stop {
                Some(CommandEvent::Stop {
                    exit_code: stop.exit_code,
                    status: stop.status,
                })
            } else {
                tracing::debug!("skipping a chunk with no member this SDK knows");
                None
            })
        }
        Frame::Event(other, _) => {
            tracing::debug!(event_type = other, "skipping unknown event type");
            Ok(None)
        }
        Frame::Exception(kind, payload) => Err(service_error_from_event(kind, payload).into()),
        Frame::Error(code, message) => Err(ServiceError::new(
            ServiceErrorKind::from_type_name(code),
            message,
        )
        .mid_stream()
        .into()),
    }
}

/// The response body: `Send`, and `Sync` through `SyncWrapper` (only ever used by `&mut`).
type BodyStream =
    sync_wrapper::SyncWrapper<Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>>>;

/// Bytes read after `contentStop` to reach the end of the body, at most.
const DRAIN_LIMIT: usize = 64 * 1024;
/// Time spent reaching the end of the body after `contentStop`, at most.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(1);

/// The output of a running command, as a `Stream` of [`CommandEvent`]s.
///
/// The stream yields `Start`, any number of `Delta`s and `Stop`, then ends. If the response
/// ends before `Stop`, it yields [`Error::TruncatedStream`]; an exception event yields
/// [`Error::Service`]; a garbled frame yields [`Error::MalformedResponse`]. After an error the
/// stream ends.
///
/// ```no_run
/// # async fn f(session: agentcore_sdk::Session) -> Result<(), agentcore_sdk::Error> {
/// use futures::StreamExt;
/// use agentcore_sdk::CommandEvent;
///
/// let mut stream = session.command("cargo test 2>&1").send().await?;
/// while let Some(event) = stream.next().await {
///     match event? {
///         CommandEvent::Delta { stdout, stderr } => { print!("{stdout}"); eprint!("{stderr}"); }
///         CommandEvent::Stop { exit_code, .. } => println!("exit {exit_code}"),
///         _ => {}
///     }
/// }
/// # Ok(()) }
/// ```
///
/// # Dropping it
///
/// Dropping the stream (or the future reading it) closes the response. The SDK has no way to
/// stop the command (the protocol has no cancel): on AWS it is not documented whether the
/// command keeps running in the session until it exits or reaches its `timeout`;
/// agentcore-local kills it once its client is gone. To bound a command either way, give it a
/// [`timeout`](crate::data::CommandRequest::timeout), or stop the session.
pub struct CommandStream {
    body: BodyStream,
    decoder: FrameDecoder,
    deadline: Pin<Box<Sleep>>,
    deadline_after: Duration,
    events: u64,
    done: bool,
    /// After `Stop`: reading the rest of the body so the connection can be reused.
    draining: Option<usize>,
    session_id: Option<SessionId>,
    request_id: Option<String>,
    span: tracing::Span,
}

impl fmt::Debug for CommandStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandStream")
            .field("session_id", &self.session_id)
            .field("request_id", &self.request_id)
            .field("events", &self.events)
            .field("done", &self.done)
            .finish()
    }
}

impl CommandStream {
    /// A command stream over any byte stream of event-stream frames. The SDK builds these
    /// from HTTP responses; this constructor lets tests and other transports use the decoder.
    pub fn from_byte_stream(
        body: impl Stream<Item = Result<Bytes, Error>> + Send + 'static,
        deadline_after: Duration,
    ) -> Self {
        Self {
            body: sync_wrapper::SyncWrapper::new(Box::pin(body)),
            decoder: FrameDecoder::new(),
            deadline: Box::pin(tokio::time::sleep(deadline_after)),
            deadline_after,
            events: 0,
            done: false,
            draining: None,
            session_id: None,
            request_id: None,
            span: tracing::Span::none(),
        }
    }

    pub(crate) fn with_metadata(
        mut self,
        session_id: Option<SessionId>,
        request_id: Option<String>,
        span: tracing::Span,
    ) -> Self {
        self.session_id = session_id;
        self.request_id = request_id;
        self.span = span;
        self
    }

    /// The session id the service echoed.
    pub fn session_id(&self) -> Option<&SessionId> {
        self.session_id.as_ref()
    }

    /// The request id, to quote to AWS support.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// Reads the stream to its end and collects the output, keeping at most
    /// [`OUTPUT_LIMIT_BYTES`] of each of stdout and stderr (see
    /// [`output_up_to`](Self::output_up_to)). For output of any size, read the events.
    ///
    /// ```no_run
    /// # async fn f(session: agentcore_sdk::Session) -> Result<(), agentcore_sdk::Error> {
    /// let out = session.command("git rev-parse HEAD").send().await?.output().await?;
    /// assert!(out.success());
    /// println!("{}", out.stdout.trim());
    /// # Ok(()) }
    /// ```
    ///
    /// Dropping the future drops the stream (see [`CommandStream`]).
    pub async fn output(self) -> Result<CommandOutput, Error> {
        self.output_up_to(OUTPUT_LIMIT_BYTES).await
    }

    /// Like [`output`](Self::output), keeping at most `limit` bytes of each stream: beyond
    /// that its first and last `limit / 2` bytes are kept and
    /// [`CommandOutput::truncated`] is set. Memory stays bounded whatever the command prints.
    ///
    /// Dropping the future drops the stream (see [`CommandStream`]).
    pub async fn output_up_to(mut self, limit: usize) -> Result<CommandOutput, Error> {
        use futures::StreamExt;
        let mut stdout = Capture::new(limit);
        let mut stderr = Capture::new(limit);
        while let Some(event) = self.next().await {
            match event? {
                CommandEvent::Delta {
                    stdout: o,
                    stderr: e,
                } => {
                    stdout.push(&o);
                    stderr.push(&e);
                }
                CommandEvent::Stop { exit_code, status } => {
                    // Let the connection be reused.
                    while self.next().await.is_some() {}
                    let (stdout, out_cut) = stdout.finish();
                    let (stderr, err_cut) = stderr.finish();
                    return Ok(CommandOutput {
                        stdout,
                        stderr,
                        exit_code,
                        status,
                        truncated: out_cut || err_cut,
                    });
                }
                CommandEvent::Start => {}
            }
        }
        // `next` yields TruncatedStream before ending without Stop; reaching here means a
        // second call after an error, which `output` never makes.
        Err(Error::TruncatedStream {
            events: self.events,
            source: None,
        })
    }

    fn finish(&mut self, err: Error) -> Poll<Option<Result<CommandEvent, Error>>> {
        self.done = true;
        tracing::debug!(parent: &self.span, error = %err, "command stream failed");
        Poll::Ready(Some(Err(err)))
    }
}

impl Stream for CommandStream {
    type Item = Result<CommandEvent, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if let Some(left) = this.draining {
                // The body should end right after contentStop; read that end (bounded in
                // bytes and time) so the HTTP connection goes back to the pool.
                if this.deadline.as_mut().poll(cx).is_ready() {
                    this.done = true;
                    return Poll::Ready(None);
                }
                match ready!(this.body.get_mut().as_mut().poll_next(cx)) {
                    Some(Ok(extra)) if extra.len() <= left => {
                        this.draining = Some(left.saturating_sub(extra.len()));
                        continue;
                    }
                    _ => {
                        this.done = true;
                        return Poll::Ready(None);
                    }
                }
            }
            match this.decoder.next_message() {
                Err(e) => return this.finish(e),
                Ok(Some(msg)) => match decode_command_message(&msg) {
                    Err(e) => return this.finish(e),
                    Ok(None) => continue,
                    Ok(Some(event)) => {
                        this.events = this.events.saturating_add(1);
                        if matches!(event, CommandEvent::Stop { .. }) {
                            this.draining = Some(DRAIN_LIMIT);
                            let now = tokio::time::Instant::now();
                            let soon = now.checked_add(DRAIN_TIME).unwrap_or(now);
                            this.deadline.as_mut().reset(soon);
                        }
                        return Poll::Ready(Some(Ok(event)));
                    }
                },
                Ok(None) => {}
            }
            if this.deadline.as_mut().poll(cx).is_ready() {
                let after = this.deadline_after;
                return this.finish(Error::Timeout {
                    operation: "InvokeAgentRuntimeCommand",
                    after,
                });
            }
            match ready!(this.body.get_mut().as_mut().poll_next(cx)) {
                Some(Ok(chunk)) => this.decoder.push_bytes(chunk),
                // The connection broke mid-stream: the outcome is unknown.
                Some(Err(Error::Transport { source, .. })) => {
                    let events = this.events;
                    return this.finish(Error::TruncatedStream {
                        events,
                        source: Some(source),
                    });
                }
                Some(Err(e)) => return this.finish(e),
                None => {
                    // Whether the cut fell between frames or inside one, the command's
                    // outcome is unknown: that is a truncation, never a success.
                    let events = this.events;
                    return this.finish(Error::TruncatedStream {
                        events,
                        source: None,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_boundaries_at_every_offset() {
        let s = "aé日🚀";
        for i in 0..=s.len() + 3 {
            let f = floor_boundary(s, i);
            let c = ceil_boundary(s, i);
            assert!(s.is_char_boundary(f) && s.is_char_boundary(c), "{i}");
            assert!(f <= i.min(s.len()) && c >= i.min(s.len()), "{i}: {f} {c}");
        }
        assert_eq!(tail("aé日🚀", 5), "🚀");
        assert_eq!(tail("", 5), "");
    }

    #[test]
    fn capture_keeps_everything_under_the_limit_and_head_plus_tail_over_it() {
        let text: String = (0..10_000).map(|i| format!("{i}é\n")).collect();
        let mut whole = Capture::new(text.len() * 2);
        for line in text.split_inclusive('\n') {
            whole.push(line);
        }
        assert_eq!(whole.finish(), (text.clone(), false));

        let mut c = Capture::new(1000);
        for line in text.split_inclusive('\n') {
            c.push(line);
        }
        let (kept, truncated) = c.finish();
        assert!(truncated);
        assert!(kept.len() <= 1000, "{}", kept.len());
        assert!(kept.starts_with("0é\n1é\n2é\n"), "{kept}");
        assert!(kept.ends_with("9998é\n9999é\n"), "{kept}");
        // One push larger than the whole limit.
        let mut c = Capture::new(10);
        c.push(&text);
        let (kept, truncated) = c.finish();
        assert_eq!((kept.as_str(), truncated), ("0é\n199é\n", true));
    }
}
