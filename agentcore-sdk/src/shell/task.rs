//! The task that owns a shell's connection, across reconnects: what the handles ask (in
//! order), how the shell is closed, when it reconnects and when it gives up.
//!
//! One connection at a time is driven by [`pump`](super::pump); this module is the state
//! kept across connections and the loop around them:
//!
//! - **Input** (`on_input`) goes to the [`Outgoing`] queue in the order the writer asked;
//!   end of input is Ctrl-D (EOT); `close` is end of input, then a hang-up (CLOSE frame)
//!   once the close grace has passed, then giving up after one more grace; `kill` hangs up
//!   at once; `detach` waits for the input before it to be sent.
//! - **Handles**: the writer gone is end of input; the writer and the reader both gone is a
//!   detach (the shell keeps running).
//! - **Connections** end as an [`End`]; a lost one is reconnected with the policy's backoff,
//!   while input, close, kill, detach and dropped handles are still honoured.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;

use super::connect::Dial;
use super::handles::{Input, ReadItem};
use super::outgoing::Outgoing;
use super::protocol::{Frame, Status};
use super::{InputDelivery, Keepalive, ReconnectPolicy, ShellEvent, ShellExit};
use crate::error::{Error, ServiceErrorKind};
use crate::transport::deadline_after;

/// What Ctrl-D sends: end of input for a shell reading a line.
const EOT: &[u8] = b"\x04";
/// How long a detach waits for the input before it to be sent.
pub(super) const DETACH_GRACE: Duration = Duration::from_secs(5);

/// The shell's settings, from its builder.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) keepalive: Keepalive,
    pub(crate) policy: ReconnectPolicy,
    pub(crate) delivery: InputDelivery,
    pub(crate) close_grace: Duration,
}

/// Where closing the shell stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Closing {
    Open,
    /// Input ended by `close`: hang up at this instant if the shell has not ended.
    EndOfInput {
        hang_up_at: Instant,
    },
    /// Hung up (the CLOSE frame): give up at this instant if no exit status came.
    HangingUp {
        give_up_at: Instant,
    },
}

/// Why one connection ended.
pub(super) enum End {
    /// The shell exited (close 1000): done.
    Finished,
    /// Detached on purpose, or every handle dropped: done, the shell keeps running.
    Detached,
    /// Another client attached the shell: done, never reconnect.
    Kicked,
    /// Lost: reconnect if the policy allows.
    Lost(String),
    /// Unrecoverable protocol error.
    Failed(io::ErrorKind, String),
    /// Hung up and still no exit status after the close grace.
    GaveUp,
}

pub(super) struct Task<D: Dial> {
    pub(super) dial: Arc<D>,
    pub(super) opts: Options,
    /// The terminal size, sent first on every connection.
    pub(super) size: Option<(u16, u16)>,
    pub(super) input: mpsc::UnboundedReceiver<Input>,
    /// `false` once the writer is gone.
    pub(super) input_open: bool,
    /// The writer's room; closed when the task ends (waiting writes fail).
    pub(super) room: Arc<Semaphore>,
    pub(super) out: mpsc::Sender<ReadItem>,
    pub(super) events: mpsc::Sender<ShellEvent>,
    pub(super) exit: watch::Sender<Option<ShellExit>>,
    pub(super) outgoing: Outgoing,
    pub(super) closing: Closing,
    /// End of input (EOT) already queued.
    pub(super) eof_sent: bool,
    /// A detach is queued and must happen by this instant.
    pub(super) detach_by: Option<Instant>,
    /// Output received but not yet taken by the reader (the socket is not read meanwhile).
    pub(super) pending_out: Option<Bytes>,
    /// Absolute offset of the next output byte, when the server supports resuming by offset.
    pub(super) offset: Option<u64>,
}

impl<D: Dial> Task<D> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        dial: Arc<D>,
        opts: Options,
        size: Option<(u16, u16)>,
        input: mpsc::UnboundedReceiver<Input>,
        room: Arc<Semaphore>,
        out: mpsc::Sender<ReadItem>,
        events: mpsc::Sender<ShellEvent>,
        exit: watch::Sender<Option<ShellExit>>,
        offset: Option<u64>,
    ) -> Self {
        let outgoing = Outgoing::new(opts.delivery);
        Self {
            dial,
            opts,
            size,
            input,
            input_open: true,
            room,
            out,
            events,
            exit,
            outgoing,
            closing: Closing::Open,
            eof_sent: false,
            detach_by: None,
            pending_out: None,
            offset,
        }
    }

    pub(super) fn emit(&self, ev: ShellEvent) {
        let _ = self.events.try_send(ev);
    }

    /// Drives connections until the shell ends, is detached, kicked, or cannot be reached.
    pub(super) async fn run(mut self, mut ws: WebSocketStream<D::Io>) {
        loop {
            let end = self.pump(&mut ws).await;
            let End::Lost(reason) = end else {
                self.conclude(end).await;
                break;
            };
            tracing::debug!(%reason, "shell connection lost");
            if let Some(done) = self.outgoing.take_detach() {
                // The detach was waiting for this connection: with it gone, it is done.
                if let Some(done) = done {
                    let _ = done.send(());
                }
                break;
            }
            if !self.opts.policy.is_enabled() {
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
        // Writers waiting for room fail instead of waiting forever.
        self.room.close();
    }

    /// Reports how the handle ended (nothing for a finish or a detach).
    async fn conclude(&mut self, end: End) {
        match end {
            End::Finished | End::Detached => {}
            End::Kicked => {
                self.emit(ShellEvent::Kicked);
                self.fail(
                    io::ErrorKind::ConnectionAborted,
                    "another client attached this shell (kicked)",
                )
                .await;
            }
            End::Failed(kind, msg) => self.fail(kind, &msg).await,
            End::GaveUp => {
                self.fail(
                    io::ErrorKind::TimedOut,
                    "the shell sent no exit status after it was hung up",
                )
                .await;
            }
            End::Lost(reason) => {
                self.fail(
                    io::ErrorKind::ConnectionReset,
                    &format!("shell connection lost: {reason}"),
                )
                .await;
            }
        }
    }

    /// Hands the reader what output is left, then the error.
    pub(super) async fn fail(&mut self, kind: io::ErrorKind, msg: &str) {
        if let Some(b) = self.pending_out.take() {
            let _ = self.out.send(ReadItem::Data(b)).await;
        }
        let _ = self.out.send(ReadItem::Failed(kind, msg.to_owned())).await;
    }

    /// Whether the reader's drop must be watched: the writer is gone and nothing else would
    /// end the task (with both handles gone, it detaches).
    pub(super) fn watch_reader(&self) -> bool {
        !self.input_open && self.closing == Closing::Open && self.detach_by.is_none()
    }

    /// Every handle is gone: detach (once the queued input is sent, when connected).
    pub(super) fn all_gone(&mut self, connected: bool) -> Option<End> {
        if !connected {
            return Some(End::Detached);
        }
        self.outgoing.push_detach(None);
        self.detach_by
            .get_or_insert_with(|| deadline_after(DETACH_GRACE));
        None
    }

    fn end_of_input(&mut self) {
        if !std::mem::replace(&mut self.eof_sent, true) {
            self.outgoing
                .push(Frame::Stdin(Bytes::from_static(EOT)), None);
        }
    }

    fn hang_up(&mut self) {
        self.outgoing.push(Frame::Close, None);
        self.closing = Closing::HangingUp {
            give_up_at: deadline_after(self.opts.close_grace),
        };
    }

    /// Applies what a handle asked (`None`: the writer is gone). `Some` when the task must end
    /// now (only while disconnected: a detach, or every handle gone).
    pub(super) fn on_input(&mut self, input: Option<Input>, connected: bool) -> Option<End> {
        match input {
            Some(Input::Data(bytes, room)) => self.outgoing.push(Frame::Stdin(bytes), Some(room)),
            Some(Input::Resize(width, height)) => {
                self.size = Some((width, height));
                self.outgoing.push(Frame::Resize { width, height }, None);
            }
            Some(Input::Eof) => self.end_of_input(),
            Some(Input::Close) => {
                self.end_of_input();
                if self.closing == Closing::Open {
                    self.closing = Closing::EndOfInput {
                        hang_up_at: deadline_after(self.opts.close_grace),
                    };
                }
            }
            Some(Input::Kill) => self.hang_up(),
            Some(Input::Detach(done)) => {
                if !connected {
                    let _ = done.send(());
                    return Some(End::Detached);
                }
                self.outgoing.push_detach(Some(done));
                self.detach_by
                    .get_or_insert_with(|| deadline_after(DETACH_GRACE));
            }
            None => {
                self.input_open = false;
                if self.closing != Closing::Open {
                    // A close in progress finishes on its own.
                } else if self.out.is_closed() {
                    return self.all_gone(connected);
                } else {
                    self.end_of_input();
                }
            }
        }
        None
    }

    /// The next instant something is due: a detach's bound, a hang-up, giving up.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let closing = match self.closing {
            Closing::Open => None,
            Closing::EndOfInput { hang_up_at } => Some(hang_up_at),
            Closing::HangingUp { give_up_at } => Some(give_up_at),
        };
        match (self.detach_by, closing) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// What is due now: `Some` when the task must end.
    pub(super) fn on_deadline(&mut self) -> Option<End> {
        let now = Instant::now();
        if self.detach_by.is_some_and(|t| now >= t) {
            // The input before the detach could not be sent in time: detach without it.
            if let Some(Some(done)) = self.outgoing.take_detach() {
                let _ = done.send(());
            }
            return Some(End::Detached);
        }
        match self.closing {
            Closing::EndOfInput { hang_up_at } if now >= hang_up_at => {
                tracing::debug!("the shell did not end after its input ended: hanging up");
                self.hang_up();
            }
            Closing::HangingUp { give_up_at } if now >= give_up_at => return Some(End::GaveUp),
            _ => {}
        }
        None
    }

    /// Runs `fut` while disconnected, honouring the handles and deadlines meanwhile; `Err`
    /// when the task must end first.
    async fn while_disconnected<F: std::future::Future>(
        &mut self,
        fut: F,
    ) -> Result<F::Output, End> {
        tokio::pin!(fut);
        loop {
            let timer = self.next_deadline();
            let watch_reader = self.watch_reader();
            tokio::select! {
                v = &mut fut => return Ok(v),
                input = self.input.recv(), if self.input_open => {
                    if let Some(end) = self.on_input(input, false) {
                        return Err(end);
                    }
                }
                () = self.out.closed(), if watch_reader => return Err(End::Detached),
                () = sleep_until(timer), if timer.is_some() => {
                    if let Some(end) = self.on_deadline() {
                        return Err(end);
                    }
                }
            }
        }
    }

    /// Reconnects to the same shell with the policy's backoff until the reconnect window
    /// since the loss has passed. `None` when the handle ended instead.
    async fn reconnect(&mut self, mut reason: String) -> Option<WebSocketStream<D::Io>> {
        let lost_at = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt = attempt.saturating_add(1);
            let left = self.opts.policy.window.saturating_sub(lost_at.elapsed());
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
            let pause = tokio::time::sleep(self.opts.policy.delay(attempt).min(left));
            if let Err(end) = self.while_disconnected(pause).await {
                self.conclude(end).await;
                return None;
            }
            let dial = self.dial.clone();
            let opened = match self.while_disconnected(dial.open(self.offset)).await {
                Ok(opened) => opened,
                Err(end) => {
                    self.conclude(end).await;
                    return None;
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

    /// A STATUS frame: the exit status (and event), or a platform diagnostic.
    pub(super) fn on_status(&self, s: &Status) {
        if s.is_confirmation() {
            return;
        }
        if s.reason.as_deref() == Some("InternalError") {
            self.emit(ShellEvent::Diagnostic(
                s.message.clone().unwrap_or_else(|| "internal error".into()),
            ));
            return;
        }
        if let Some(code) = s.exit_code() {
            let e = ShellExit {
                code: Some(code),
                signal: s.signal(),
            };
            let _ = self.exit.send(Some(e));
            self.emit(ShellEvent::Exited(e));
        }
    }
}

/// Sleeps until `at` (forever when `None`; such a branch is disabled anyway).
pub(super) async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
