//! The handles' side of a shell: the reader (PTY output), the writer (input), and what they
//! exchange with the task that owns the connection.
//!
//! Everything the writer asks — bytes, resizes, end of input, close, kill, detach — travels on
//! one ordered channel, so nothing overtakes input written before it. The channel itself is
//! unbounded (a resize or a close never waits), and written bytes are bounded by permits: at
//! most [`INPUT_FRAMES`] frames wait for the connection, more writes wait in `poll_write`.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot, watch};
use tokio_util::sync::PollSemaphore;

use super::protocol::MAX_PAYLOAD;
use super::{ShellExit, ShellHandle};

/// Why a write fails once the task is gone (the reader says how: kicked, connection lost...).
const GONE: &str = "the shell's connection has ended (the reader has the reason)";

/// Input frames waiting for the connection at most (each at most 64 KiB).
pub(crate) const INPUT_FRAMES: usize = 16;

/// What a handle asks of the task, in the order asked.
pub(crate) enum Input {
    /// Bytes typed (at most one frame), holding their room in the queue until sent.
    Data(Bytes, OwnedSemaphorePermit),
    /// The terminal size.
    Resize(u16, u16),
    /// End of input: Ctrl-D (the writer was shut down or dropped).
    Eof,
    /// `close()`: end of input, then a hang-up if the shell has not ended after the grace.
    Close,
    /// `kill()`: hang up now (the CLOSE frame).
    Kill,
    /// `detach()`: once the input before it is sent, leave the shell running.
    Detach(oneshot::Sender<()>),
}

/// What the task hands the reader: output, or why output ended.
pub(crate) enum ReadItem {
    Data(Bytes),
    Failed(io::ErrorKind, String),
}

/// The output half: PTY bytes; EOF after the shell exited.
///
/// Reading is what keeps output flowing: while nobody reads, output waits (and so does the
/// shell once every buffer on the way is full). A dropped reader discards the shell's output
/// from then on; with the writer dropped too the handle is gone and the shell is left
/// running, as [`Shell::detach`](super::Shell::detach) does.
pub struct ShellReader {
    pub(crate) rx: mpsc::Receiver<ReadItem>,
    pub(crate) current: Bytes,
    pub(crate) failed: Option<(io::ErrorKind, String)>,
}

impl ShellReader {
    pub(crate) fn new(rx: mpsc::Receiver<ReadItem>) -> Self {
        Self {
            rx,
            current: Bytes::new(),
            failed: None,
        }
    }
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

/// The input half: bytes typed into the shell (split into frames under 64 KiB).
///
/// Input is delivered in order, after a reconnect if need be. Shutting it down
/// ([`AsyncWriteExt::shutdown`](tokio::io::AsyncWriteExt::shutdown)) or dropping it is end of
/// input — Ctrl-D, which ends a shell waiting at its prompt — and output keeps flowing to the
/// reader until the shell ends. Writes after the end of input, or after the shell exited,
/// fail with `BrokenPipe`.
pub struct ShellWriter {
    pub(crate) input: mpsc::UnboundedSender<Input>,
    pub(crate) room: PollSemaphore,
    pub(crate) exit: watch::Receiver<Option<ShellExit>>,
    pub(crate) handle: ShellHandle,
    /// Input ended (shutdown, close or kill): further writes fail.
    pub(crate) ended: AtomicBool,
}

impl fmt::Debug for ShellWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShellWriter")
            .field("handle", &self.handle)
            .field("ended", &self.ended.load(Ordering::Relaxed))
            .finish()
    }
}

impl ShellWriter {
    /// Sets the terminal size; kept and re-sent after reconnects.
    pub fn resize(&self, cols: u16, rows: u16) {
        let _ = self.input.send(Input::Resize(cols, rows));
    }

    /// The ids to re-attach this shell.
    pub fn ids(&self) -> &ShellHandle {
        &self.handle
    }

    /// See [`Shell::detach`](super::Shell::detach).
    pub async fn detach(self) -> ShellHandle {
        let (done_tx, done_rx) = oneshot::channel();
        if self.input.send(Input::Detach(done_tx)).is_ok() {
            let _ = done_rx.await;
        }
        self.handle
    }

    /// Ends input as [`Shell::close`](super::Shell::close) does (Ctrl-D after what was
    /// written, then a hang-up if the shell has not ended within the close grace), without
    /// waiting. Later writes fail with `BrokenPipe`.
    pub fn close(&self) {
        self.ended.store(true, Ordering::SeqCst);
        let _ = self.input.send(Input::Close);
    }

    /// Hangs the shell up now, as [`Shell::kill`](super::Shell::kill) does, without waiting.
    pub fn kill(&self) {
        self.ended.store(true, Ordering::SeqCst);
        let _ = self.input.send(Input::Kill);
    }

    fn broken_pipe(why: &'static str) -> io::Error {
        io::Error::new(io::ErrorKind::BrokenPipe, why)
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
        if self.ended.load(Ordering::SeqCst) {
            return Poll::Ready(Err(Self::broken_pipe("the shell's input has ended")));
        }
        if self.exit.borrow().is_some() {
            return Poll::Ready(Err(Self::broken_pipe("the shell has exited")));
        }
        // Room in the queue of input waiting for the connection; none once the task ended.
        let Some(permit) = ready!(self.room.poll_acquire(cx)) else {
            return Poll::Ready(Err(Self::broken_pipe(GONE)));
        };
        let chunk = buf.get(..MAX_PAYLOAD).unwrap_or(buf);
        if self
            .input
            .send(Input::Data(Bytes::copy_from_slice(chunk), permit))
            .is_err()
        {
            return Poll::Ready(Err(Self::broken_pipe(GONE)));
        }
        Poll::Ready(Ok(chunk.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Written bytes are the task's, which sends them in order (after a reconnect if need
        // be); there is nothing to wait for here.
        Poll::Ready(Ok(()))
    }

    /// End of input (Ctrl-D); the output goes on until the shell ends.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.ended.swap(true, Ordering::SeqCst) {
            let _ = self.input.send(Input::Eof);
        }
        Poll::Ready(Ok(()))
    }
}
