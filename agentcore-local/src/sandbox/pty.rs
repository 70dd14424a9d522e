//! The server's end of a shell's PTY, as `AsyncRead` + `AsyncWrite`, whichever backend made
//! it (the sandbox's spawner passes the master of a PTY of the sandbox's own devpts).

use std::future::Future;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A PTY master.
#[derive(Debug)]
pub struct Pty {
    fd: Arc<AsyncFd<OwnedFd>>,
    paths: Option<Paths>,
}

/// Path rewriting for an unsandboxed shell: what the shell is sent (one write at a time),
/// and what it prints (what may begin a path is held at most [`HOLD`], so an echoed
/// keystroke is never held back longer).
#[derive(Debug)]
struct Paths {
    map: super::PathMap,
    output: super::paths::Rewriter,
    ready: Vec<u8>,
    /// Rewritten input not yet written.
    pending: Vec<u8>,
    /// When held output is given out anyway.
    idle: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// How long a terminal's output may wait for the rest of a path.
const HOLD: std::time::Duration = std::time::Duration::from_millis(5);

impl Clone for Pty {
    fn clone(&self) -> Self {
        Self {
            fd: self.fd.clone(),
            paths: self.paths.as_ref().map(|p| Paths {
                map: p.map.clone(),
                output: super::paths::Rewriter::new(p.map.clone()),
                ready: Vec::new(),
                pending: Vec::new(),
                idle: None,
            }),
        }
    }
}

impl Pty {
    /// Wraps a master descriptor (made non-blocking here).
    pub fn new(master: OwnedFd) -> io::Result<Self> {
        let flags = rustix::fs::fcntl_getfl(&master)?;
        rustix::fs::fcntl_setfl(&master, flags | rustix::fs::OFlags::NONBLOCK)?;
        // SAFETY: `master` is an owned descriptor that stays open, unchanged, for as long as
        // the AsyncFd owns it.
        let fd = unsafe { AsyncFd::register(master) }.map_err(io::Error::from)?;
        Ok(Self {
            fd: Arc::new(fd),
            paths: None,
        })
    }

    /// Rewrites paths both ways (see [`super::paths`]).
    pub fn with_paths(mut self, map: super::PathMap) -> Self {
        if !map.is_empty() {
            self.paths = Some(Paths {
                output: super::paths::Rewriter::new(map.clone()),
                map,
                ready: Vec::new(),
                pending: Vec::new(),
                idle: None,
            });
        }
        self
    }

    fn poll_read_raw(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            match guard.try_io(|fd| Ok(rustix::io::read(fd.get_ref(), &mut *buf)?)) {
                Ok(r) => return Poll::Ready(r),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_write_raw(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            match guard.try_io(|fd| Ok(rustix::io::write(fd.get_ref(), data)?)) {
                Ok(r) => return Poll::Ready(r),
                Err(_would_block) => continue,
            }
        }
    }

    /// Writes out rewritten input left from an earlier write.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let Some(p) = &self.paths else {
                return Poll::Ready(Ok(()));
            };
            if p.pending.is_empty() {
                return Poll::Ready(Ok(()));
            }
            let n = ready!(self.poll_write_raw(cx, &p.pending))?;
            if let Some(p) = &mut self.paths {
                p.pending.drain(..n.min(p.pending.len()));
            }
        }
    }

    /// Lets the terminal take in what was written to it so far — its line discipline reads
    /// it (and echoes it) — before the caller goes on. The kernel does that later, from a
    /// work queue: a hang-up right after a write (a CLOSE after typed input) would otherwise
    /// race it, and the input be thrown away unechoed with the terminal. On Linux this polls
    /// the terminal's other end (opened through the master, `TIOCGPTPEER`), which runs that
    /// work at once; unless earlier input is still unread there. Best effort: errors are
    /// ignored, and elsewhere it does nothing.
    pub fn settle_input(&self) {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::{AsRawFd, FromRawFd};
            const TIOCGPTPEER: libc::c_ulong = 0x5441;
            // SAFETY: integer arguments on a live descriptor.
            let raw = unsafe {
                libc::ioctl(
                    self.fd.get_ref().as_raw_fd(),
                    TIOCGPTPEER,
                    libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC | libc::O_NONBLOCK,
                )
            };
            if raw < 0 {
                return;
            }
            // SAFETY: a descriptor just opened for us, owned by nothing else.
            let peer = unsafe { OwnedFd::from_raw_fd(raw) };
            let mut pfd = libc::pollfd {
                fd: peer.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one live pollfd; a zero timeout never blocks on input.
            unsafe { libc::poll(&mut pfd, 1, 0) };
        }
    }

    /// Sets the terminal's size (the shell gets SIGWINCH).
    pub fn resize(&self, rows: u16, cols: u16) -> io::Result<()> {
        rustix::termios::tcsetwinsize(
            self.fd.get_ref().as_fd(),
            rustix::termios::Winsize {
                ws_row: rows,
                ws_col: cols,
                ws_xpixel: 0,
                ws_ypixel: 0,
            },
        )?;
        Ok(())
    }
}

impl AsyncRead for Pty {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.paths.is_none() {
            let n = ready!(this.poll_read_raw(cx, buf.initialize_unfilled()))?;
            buf.advance(n);
            return Poll::Ready(Ok(()));
        }
        loop {
            if let Some(p) = &mut this.paths
                && !p.ready.is_empty()
            {
                let n = p.ready.len().min(buf.remaining());
                buf.put_slice(p.ready.get(..n).unwrap_or_default());
                p.ready.drain(..n);
                return Poll::Ready(Ok(()));
            }
            let mut chunk = [0u8; 16 * 1024];
            match this.poll_read_raw(cx, &mut chunk) {
                Poll::Pending => {
                    let Some(p) = &mut this.paths else {
                        return Poll::Pending;
                    };
                    if !p.output.holding() {
                        return Poll::Pending;
                    }
                    let idle = p
                        .idle
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep(HOLD)));
                    ready!(idle.as_mut().poll(cx));
                    p.idle = None;
                    p.ready = p.output.flush();
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(n)) => {
                    let Some(p) = &mut this.paths else {
                        return Poll::Ready(Ok(()));
                    };
                    let got = chunk.get(..n).unwrap_or_default();
                    p.idle = None;
                    p.ready = if n == 0 {
                        p.output.flush()
                    } else {
                        p.output.push(got)
                    };
                    if n == 0 && p.ready.is_empty() {
                        return Poll::Ready(Ok(()));
                    }
                }
            }
        }
    }
}

impl AsyncWrite for Pty {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_pending(cx))?;
        let Some(p) = &mut this.paths else {
            return this.poll_write_raw(cx, data);
        };
        // Each write is rewritten whole (a path split across writes is left as it is).
        p.pending = p.map.to_host_bytes(data);
        let _ = this.poll_pending(cx)?;
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_pending(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
