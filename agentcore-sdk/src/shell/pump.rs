//! One connection of a shell: frames out in order, output in, keepalive, and how the
//! connection ends.
//!
//! Sending never stops reading: the socket is split, one send is in flight at a time (a
//! future that owns the sending half and gives it back), and everything else waits in the
//! task's [`Outgoing`](super::outgoing::Outgoing) queue. So a server that does not read our
//! input (its shell does not read it) still gets its output read, and the handles' requests
//! are seen while a send waits. The socket is not read while output waits for the reader
//! (back-pressure); a reader that is gone gets its output discarded.

use std::io;

use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};

use super::ShellEvent;
use super::connect::Dial;
use super::handles::ReadItem;
use super::outgoing::Next;
use super::protocol::{CLOSE_KICKED, CLOSE_NORMAL, Frame};
use super::task::{DETACH_GRACE, End, Task, sleep_until};
use crate::transport::deadline_after;

type Sink<'a, S> = SplitSink<&'a mut WebSocketStream<S>, Message>;
type SendFuture<'a, S> = std::pin::Pin<
    Box<dyn std::future::Future<Output = (Sink<'a, S>, Result<(), String>)> + Send + 'a>,
>;

impl<D: Dial> Task<D> {
    /// Runs one connection until it ends.
    pub(super) async fn pump(&mut self, ws: &mut WebSocketStream<D::Io>) -> End {
        // The terminal size first, on every connection.
        if let Some((width, height)) = self.size {
            self.outgoing.push_first(Frame::Resize { width, height });
        }
        let keep = self.opts.keepalive;
        let mut ping =
            tokio::time::interval_at(deadline_after(keep.ping_interval), keep.ping_interval);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut heard = Instant::now();
        let (sink, mut stream) = (&mut *ws).split();
        let mut sink = Some(sink);
        let mut sending: Option<SendFuture<'_, D::Io>> = None;
        // A permit borrows its sender for as long as the select's output lives.
        let out = self.out.clone();
        loop {
            if sending.is_none()
                && let Some(s) = sink.take()
            {
                match self.outgoing.next() {
                    Next::Send(msg) => sending = Some(send_owned(s, msg)),
                    Next::Detach(done) => {
                        close_detached(s).await;
                        if let Some(done) = done {
                            let _ = done.send(());
                        }
                        return End::Detached;
                    }
                    Next::Idle => sink = Some(s),
                }
            }
            let timer = self.next_deadline();
            let watch_reader = self.watch_reader();
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
                        self.outgoing.lost();
                        return End::Lost(e);
                    }
                    self.outgoing.sent();
                }
                permit = out.reserve(), if self.pending_out.is_some() => match permit {
                    Ok(p) => {
                        if let Some(b) = self.pending_out.take() {
                            p.send(ReadItem::Data(b));
                        }
                    }
                    // Nobody reads any more: output is discarded.
                    Err(_) => self.pending_out = None,
                },
                msg = stream.next(), if self.pending_out.is_none() => {
                    heard = Instant::now();
                    if let Some(end) = self.on_message(msg) {
                        if matches!(end, End::Lost(_)) {
                            self.outgoing.lost();
                        }
                        return end;
                    }
                }
                input = self.input.recv(), if self.input_open => {
                    if let Some(end) = self.on_input(input, true) {
                        return end;
                    }
                }
                () = out.closed(), if watch_reader => {
                    if let Some(end) = self.all_gone(true) {
                        return end;
                    }
                }
                _ = ping.tick() => {
                    if self.pending_out.is_some() {
                        // Not reading on purpose (the reader is slow): not a dead connection.
                        heard = Instant::now();
                    } else if heard.elapsed() > keep.pong_timeout {
                        self.outgoing.lost();
                        return End::Lost(format!("no pong for {:?}", keep.pong_timeout));
                    }
                    self.outgoing.ping();
                }
                () = sleep_until(timer), if timer.is_some() => {
                    if let Some(end) = self.on_deadline() {
                        return end;
                    }
                }
            }
        }
    }

    /// A message from the server; `Some` when the connection ends with it.
    fn on_message(&mut self, msg: Option<Result<Message, tungstenite::Error>>) -> Option<End> {
        let msg = match msg {
            None => return Some(End::Lost("connection ended without a close frame".into())),
            Some(Err(e)) => return Some(End::Lost(e.to_string())),
            Some(Ok(m)) => m,
        };
        match msg {
            Message::Binary(b) => match Frame::decode(&b) {
                Ok(Frame::Stdout(data)) => {
                    if let Some(o) = self.offset.as_mut() {
                        *o = o.saturating_add(data.len() as u64);
                    }
                    self.pending_out = Some(data);
                }
                Ok(Frame::Stderr(data)) => {
                    self.emit(ShellEvent::Diagnostic(
                        String::from_utf8_lossy(&data).into_owned(),
                    ));
                }
                Ok(Frame::Status(s)) => self.on_status(&s),
                Ok(Frame::Close) => {
                    return Some(End::Lost(
                        "the platform is shutting the connection down".into(),
                    ));
                }
                Ok(_) => {}
                Err(e) => return Some(End::Failed(io::ErrorKind::InvalidData, e.to_string())),
            },
            Message::Close(frame) => {
                return Some(match frame.as_ref().map(|f| u16::from(f.code)) {
                    Some(CLOSE_NORMAL) => End::Finished,
                    Some(CLOSE_KICKED) => End::Kicked,
                    Some(c) => End::Lost(format!("server closed the connection with code {c}")),
                    None => End::Lost("server closed the connection without a code".into()),
                });
            }
            // Pings are answered by the WebSocket layer; any message shows the peer is alive.
            _ => {}
        }
        None
    }
}

/// Sends `msg` with a future that owns the sending half and hands it back.
fn send_owned<S>(mut sink: Sink<'_, S>, msg: Message) -> SendFuture<'_, S>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
{
    Box::pin(async move {
        let r = sink.send(msg).await.map_err(|e| e.to_string());
        (sink, r)
    })
}

/// Closes a connection on purpose (the shell keeps running): a normal close, "detach".
async fn close_detached<S>(mut sink: Sink<'_, S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "detach".into(),
    };
    let _ = tokio::time::timeout(DETACH_GRACE, sink.send(Message::Close(Some(frame)))).await;
}
