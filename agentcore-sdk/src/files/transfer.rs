//! Uploads and downloads: the channels (commands, the shell in raw mode), resumption,
//! checksums, progress.

use std::collections::VecDeque;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use sha2::Digest;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

use super::{archive, checked_path};
use crate::data::CommandEvent;
use crate::error::{Error, ServiceErrorKind};
use crate::helper::{self, LONG, SHORT, backoff, transient};
use crate::session::Session;

/// Files up to this size go through commands when the channel is [`TransferChannel::Auto`].
const SMALL: u64 = 256 * 1024;
/// Raw bytes per upload command (their base64 stays under the command limit).
const COMMAND_CHUNK: usize = 36 * 1024;
/// Bytes per acknowledged chunk through the shell.
const SHELL_CHUNK: usize = 1024 * 1024;
/// Chunks sent ahead of their acknowledgement (and kept until then, to send again after a
/// cut): the memory an upload holds.
const WINDOW: usize = 4;
/// Failed attempts in a row (no progress between them) before a transfer gives up.
const MAX_FAILURES: u32 = 12;
/// Longest silence of the session while chunks wait for their acknowledgement.
const ACK_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest silence of a download stream.
const DOWNLOAD_IDLE: Duration = Duration::from_secs(60);

/// A progress callback.
pub(crate) type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// How far a transfer is; given to the [`Upload::progress`] / [`Download::progress`]
/// callback after each piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Bytes transferred and confirmed so far.
    pub done: u64,
    /// All the bytes, when known (a directory's archive is not known before it is packed).
    pub total: Option<u64>,
}

/// Which of the service's channels carries an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TransferChannel {
    /// Commands for small files (up to 256 KiB), the shell for the rest; commands when the
    /// caller may not open shells.
    #[default]
    Auto,
    /// The interactive shell with its terminal in raw mode: tens of MiB/s.
    Shell,
    /// One-shot commands, 36 KiB each: about 0.9 MiB/s at the service's 25 commands/s, but
    /// no shell permission needed.
    Commands,
}

/// What a finished transfer did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransferReport {
    /// Bytes transferred (for a directory: its tar archive).
    pub bytes: u64,
    /// Their SHA-256 (hex), checked on both sides.
    pub sha256: String,
    /// How many times it was resumed after a cut.
    pub resumed: u32,
    /// The channel that carried the bytes.
    pub channel: TransferChannel,
    /// How long it took.
    pub elapsed: Duration,
}

fn report_progress(progress: &Option<ProgressFn>, done: u64, total: Option<u64>) {
    if let Some(p) = progress {
        p(Progress { done, total });
    }
}

// ---- sources -----------------------------------------------------------------------------

/// Where upload bytes come from.
enum Source {
    File(tokio::fs::File, PathBuf),
    Memory(Bytes),
    /// A directory being packed on a blocking thread.
    Packed(tokio::sync::mpsc::Receiver<Result<Bytes, Error>>, Bytes),
}

impl Source {
    /// The next at most `max` bytes; `None` at the end.
    async fn next(&mut self, max: usize) -> Result<Option<Bytes>, Error> {
        match self {
            Source::File(f, path) => {
                let mut buf = BytesMut::with_capacity(max);
                while buf.len() < max {
                    let n = f
                        .read_buf(&mut (&mut buf).limit(max))
                        .await
                        .map_err(|e| Error::local_io(path.display(), e))?;
                    if n == 0 {
                        break;
                    }
                }
                Ok((!buf.is_empty()).then(|| buf.freeze()))
            }
            Source::Memory(b) => {
                if b.is_empty() {
                    return Ok(None);
                }
                let n = max.min(b.len());
                Ok(Some(b.split_to(n)))
            }
            Source::Packed(rx, pending) => {
                if pending.is_empty() {
                    match rx.recv().await {
                        Some(Ok(b)) => *pending = b,
                        Some(Err(e)) => return Err(e),
                        None => return Ok(None),
                    }
                }
                let n = max.min(pending.len());
                Ok(Some(pending.split_to(n)))
            }
        }
    }
}

use bytes::BufMut;

/// Sends packed bytes from a blocking thread in blocks.
struct PackWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, Error>>,
    buf: BytesMut,
}

impl std::io::Write for PackWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 256 * 1024 {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let block = self.buf.split().freeze();
        self.tx
            .blocking_send(Ok(block))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "upload ended"))
    }
}

fn pack_in_background(dir: PathBuf) -> Source {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let writer = PackWriter {
            tx: tx.clone(),
            buf: BytesMut::new(),
        };
        if let Err(e) = archive::pack(&dir, writer) {
            let _ = tx.blocking_send(Err(e));
        }
    });
    Source::Packed(rx, Bytes::new())
}

// ---- uploads -----------------------------------------------------------------------------

enum UploadSource {
    File(PathBuf),
    Dir(PathBuf),
    Bytes(Bytes),
}

/// An upload into the session; see [`Files::upload`](super::Files::upload). Finish with
/// `.send().await`.
#[must_use = "call .send().await"]
pub struct Upload {
    session: Session,
    source: UploadSource,
    remote: String,
    mode: Option<u32>,
    progress: Option<ProgressFn>,
    channel: TransferChannel,
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upload")
            .field("remote", &self.remote)
            .field("mode", &self.mode)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl Upload {
    pub(crate) fn file(session: Session, local: PathBuf, remote: &str) -> Self {
        Self::new(session, UploadSource::File(local), remote)
    }

    pub(crate) fn dir(session: Session, local: PathBuf, remote: &str) -> Self {
        Self::new(session, UploadSource::Dir(local), remote)
    }

    fn new(session: Session, source: UploadSource, remote: &str) -> Self {
        Self {
            session,
            source,
            remote: remote.to_owned(),
            mode: None,
            progress: None,
            channel: TransferChannel::Auto,
        }
    }

    /// The file's permission bits in the session (default `0o644`; for a directory upload,
    /// each entry keeps its own).
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = Some(mode);
        self
    }

    /// Called after each acknowledged piece.
    pub fn progress(mut self, f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// The channel (default [`TransferChannel::Auto`]).
    pub fn channel(mut self, channel: TransferChannel) -> Self {
        self.channel = channel;
        self
    }

    /// Transfers the bytes, then checks their SHA-256 in the session and moves them into
    /// place (a directory is unpacked into `remote`).
    ///
    /// Dropping the future stops the transfer; the staging file (next to `remote`) is left,
    /// `remote` itself is untouched.
    pub async fn send(self) -> Result<TransferReport, Error> {
        let remote = checked_path("remote", &self.remote)?.trim_end_matches('/');
        if remote.is_empty() {
            return Err(Error::invalid("remote", "must not be /"));
        }
        if let Some(m) = self.mode {
            if m > 0o7777 {
                return Err(Error::invalid(
                    "mode",
                    format!("must be at most 0o7777, got {m:#o}"),
                ));
            }
        }
        let started = Instant::now();
        let (mut source, total, is_dir) = match &self.source {
            UploadSource::File(p) => {
                let f = tokio::fs::File::open(p)
                    .await
                    .map_err(|e| Error::local_io(p.display(), e))?;
                let len = f
                    .metadata()
                    .await
                    .map_err(|e| Error::local_io(p.display(), e))?
                    .len();
                (Source::File(f, p.clone()), Some(len), false)
            }
            UploadSource::Bytes(b) => (Source::Memory(b.clone()), Some(b.len() as u64), false),
            UploadSource::Dir(p) => (pack_in_background(p.clone()), None, true),
        };
        let (parent, name) = remote.rsplit_once('/').unwrap_or(("", remote));
        let parent = if parent.is_empty() { "/" } else { parent };
        let id = uuid::Uuid::new_v4().simple().to_string();
        let stage = if is_dir {
            format!(
                "{}/.{name}.agentcore-upload-{id}.tar",
                parent.trim_end_matches('/')
            )
        } else {
            format!(
                "{}/.{name}.agentcore-upload-{id}",
                parent.trim_end_matches('/')
            )
        };
        let channel = match self.channel {
            TransferChannel::Auto if total.is_some_and(|t| t <= SMALL) => TransferChannel::Commands,
            TransferChannel::Auto => TransferChannel::Shell,
            c => c,
        };
        let staged = helper::run_idempotent(&self.session, "stage", &[&stage], SHORT).await?;
        // The helper's path, for the shell (its user may differ from the commands').
        let helper_path = staged
            .stdout
            .split_whitespace()
            .nth(1)
            .map(str::to_owned)
            .ok_or_else(|| Error::malformed("the staging step did not say where the helper is"))?;
        let mut hasher = sha2::Sha256::new();
        let mut channel = channel;
        let sent = match channel {
            TransferChannel::Commands => {
                via_commands(
                    &self.session,
                    &stage,
                    &mut source,
                    &mut hasher,
                    total,
                    &self.progress,
                )
                .await
            }
            _ => {
                let mut shell = ShellUpload {
                    session: &self.session,
                    helper: &helper_path,
                    stage: &stage,
                    total,
                    progress: &self.progress,
                    hasher: &mut hasher,
                    window: VecDeque::new(),
                    read: 0,
                    acked: 0,
                    eof: false,
                    resumed: 0,
                };
                match shell.run(&mut source).await {
                    Ok(()) => Ok((shell.read, shell.resumed)),
                    // No shell for this caller (its IAM permission, say), nothing read yet:
                    // with `Auto`, the same bytes go through commands instead.
                    Err(e)
                        if self.channel == TransferChannel::Auto
                            && shell.read == 0
                            && matches!(
                                e.service_kind(),
                                Some(
                                    ServiceErrorKind::AccessDenied | ServiceErrorKind::Unauthorized
                                )
                            ) =>
                    {
                        tracing::info!(error = %e, "no shell for the upload; using commands");
                        channel = TransferChannel::Commands;
                        let mut hasher_fresh = sha2::Sha256::new();
                        let r = via_commands(
                            &self.session,
                            &stage,
                            &mut source,
                            &mut hasher_fresh,
                            total,
                            &self.progress,
                        )
                        .await;
                        hasher = hasher_fresh;
                        r
                    }
                    Err(e) => Err(e),
                }
            }
        };
        let (bytes, resumed) = match sent {
            Ok(v) => v,
            Err(e) => {
                let _ = helper::run(&self.session, "rm", &[&stage, "force"], SHORT).await;
                return Err(e);
            }
        };
        let sha256 = helper::hex(&hasher.finalize());
        let size = bytes.to_string();
        let finished = if is_dir {
            helper::run_idempotent(
                &self.session,
                "unpack",
                &[&stage, remote, &size, &sha256],
                LONG,
            )
            .await
        } else {
            let mode = self
                .mode
                .map(|m| format!("{m:o}"))
                .unwrap_or_else(|| "-".into());
            helper::run_idempotent(
                &self.session,
                "finish",
                &[&stage, remote, &size, &sha256, &mode],
                LONG,
            )
            .await
        };
        if let Err(e) = finished {
            let _ = helper::run(&self.session, "rm", &[&stage, "force"], SHORT).await;
            return Err(e);
        }
        Ok(TransferReport {
            bytes,
            sha256,
            resumed,
            channel,
            elapsed: started.elapsed(),
        })
    }
}

/// Writes `data` to `path` through the best channel for its size.
pub(crate) async fn upload_bytes(
    session: &Session,
    path: &str,
    data: &[u8],
) -> Result<TransferReport, Error> {
    Upload::new(
        session.clone(),
        UploadSource::Bytes(Bytes::copy_from_slice(data)),
        path,
    )
    .send()
    .await
}

/// Upload through commands: `put STAGE OFFSET BASE64` each, idempotent by offset.
async fn via_commands(
    session: &Session,
    stage: &str,
    source: &mut Source,
    hasher: &mut sha2::Sha256,
    total: Option<u64>,
    progress: &Option<ProgressFn>,
) -> Result<(u64, u32), Error> {
    let mut offset: u64 = 0;
    while let Some(chunk) = source.next(COMMAND_CHUNK).await? {
        hasher.update(&chunk);
        let encoded = helper::encode_b64url(&chunk);
        let off = offset.to_string();
        helper::run_idempotent(session, "put", &[stage, &off, &encoded], SHORT).await?;
        offset = offset.saturating_add(chunk.len() as u64);
        report_progress(progress, offset, total);
    }
    Ok((offset, 0))
}

/// One chunk in flight: where it starts and its bytes.
struct Chunk {
    offset: u64,
    data: Bytes,
}

/// An upload through the interactive shell.
struct ShellUpload<'a> {
    session: &'a Session,
    /// Where the helper is in the session.
    helper: &'a str,
    stage: &'a str,
    total: Option<u64>,
    progress: &'a Option<ProgressFn>,
    hasher: &'a mut sha2::Sha256,
    /// Chunks read from the source and not acknowledged yet.
    window: VecDeque<Chunk>,
    /// Bytes read from the source.
    read: u64,
    /// Bytes acknowledged by the session.
    acked: u64,
    eof: bool,
    resumed: u32,
}

/// Why one shell attempt ended.
enum Attempt {
    /// All acknowledged.
    Done,
    /// Cut, stalled or refused: try again from `acked` in a new shell.
    Again(Error),
}

/// Reads one line (at most 4 KiB) into `buf`, which keeps a partial line across a cancelled
/// read. `None` at end of output.
async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<String>> {
    loop {
        if let Some(nl) = buf.iter().position(|b| *b == b'\n') {
            let rest = buf.split_off(nl.saturating_add(1));
            let line = std::mem::replace(buf, rest);
            let text = String::from_utf8_lossy(&line);
            return Ok(Some(text.trim_end_matches(['\n', '\r']).to_owned()));
        }
        if buf.len() > 4096 {
            // Terminal noise without a newline: keep the end only.
            let keep = buf.split_off(buf.len().saturating_sub(256));
            *buf = keep;
        }
        let available = r.fill_buf().await?;
        if available.is_empty() {
            return Ok(None);
        }
        let n = available.len();
        buf.extend_from_slice(available);
        r.consume(n);
    }
}

impl ShellUpload<'_> {
    async fn run(&mut self, source: &mut Source) -> Result<(), Error> {
        let mut failures = 0u32;
        loop {
            if self.resumed > 0 || failures > 0 {
                let at = self.acked.to_string();
                helper::run_idempotent(self.session, "restage", &[self.stage, &at], SHORT).await?;
            }
            let before = self.acked;
            match self.attempt(source).await? {
                Attempt::Done => return Ok(()),
                Attempt::Again(e) => {
                    if self.acked > before {
                        failures = 0;
                    }
                    failures = failures.saturating_add(1);
                    if failures > MAX_FAILURES {
                        return Err(e);
                    }
                    tracing::debug!(acked = self.acked, error = %e, "upload cut; resuming in a new shell");
                    self.resumed = self.resumed.saturating_add(1);
                    tokio::time::sleep(backoff(failures.saturating_sub(1))).await;
                }
            }
        }
    }

    /// Fills the window from the source.
    async fn fill(&mut self, source: &mut Source) -> Result<(), Error> {
        while !self.eof && self.window.len() < WINDOW {
            match source.next(SHELL_CHUNK).await? {
                Some(data) => {
                    self.hasher.update(&data);
                    self.window.push_back(Chunk {
                        offset: self.read,
                        data: data.clone(),
                    });
                    self.read = self.read.saturating_add(data.len() as u64);
                }
                None => self.eof = true,
            }
        }
        Ok(())
    }

    /// One shell: connect, start the receiver, send the window and the rest, read the
    /// acknowledgements. Errors of the transfer itself (the source, a refusal) end the
    /// upload; a connection that fails is an [`Attempt::Again`].
    async fn attempt(&mut self, source: &mut Source) -> Result<Attempt, Error> {
        use crate::shell::ReconnectPolicy;
        let shell = self
            .session
            .shell()
            .reconnect(ReconnectPolicy::disabled())
            .terminal_size(200, 50)
            .connect()
            .await;
        let shell = match shell {
            Ok(s) => s,
            Err(e) if transient(&e) => return Ok(Attempt::Again(e)),
            Err(e) => return Err(e),
        };
        let (reader, mut writer) = shell.split();
        let mut reader = tokio::io::BufReader::with_capacity(16 * 1024, reader);
        let mut line_buf = Vec::new();
        let cut = |what: &str| -> Attempt {
            Attempt::Again(Error::transport(
                "InvokeAgentRuntimeCommandShell",
                std::io::Error::new(std::io::ErrorKind::ConnectionAborted, what.to_owned()),
            ))
        };
        let line = helper::shell_line(self.helper, "recv", &[self.stage]);
        if writer.write_all(line.as_bytes()).await.is_err() {
            return Ok(cut("the shell closed before the upload started"));
        }
        // Until the receiver says so, the terminal may still change what it is given.
        let ready = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                match read_line(&mut reader, &mut line_buf).await {
                    Ok(Some(l)) if l.ends_with("AGENTCORE-RECV-READY") => return Ok(true),
                    Ok(Some(l)) if l.starts_with("agentcore-helper:") => {
                        return Err(Error::WrongState {
                            what: l.trim_start_matches("agentcore-helper: ").to_owned(),
                        });
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => return Ok(false),
                }
            }
        })
        .await;
        match ready {
            Ok(Ok(true)) => {}
            Ok(Err(e)) => return Err(e),
            Ok(Ok(false)) => return Ok(cut("the shell ended before the receiver was ready")),
            Err(_) => return Ok(cut("the receiver did not start within 30 s")),
        }
        // Everything in the window goes out again in this shell.
        let mut sent = 0usize;
        let mut terminated = false;
        type Write = std::pin::Pin<
            Box<
                dyn std::future::Future<Output = (crate::shell::ShellWriter, std::io::Result<()>)>
                    + Send
                    + Sync,
            >,
        >;
        let mut writing: Option<Write> = None;
        let mut idle_writer = Some(writer);
        loop {
            self.fill(source).await?;
            if writing.is_none() {
                if let Some(mut w) = idle_writer.take() {
                    let next = if let Some(c) = self.window.get(sent) {
                        let mut framed = BytesMut::with_capacity(c.data.len().saturating_add(16));
                        framed.extend_from_slice(format!("{:015}\n", c.data.len()).as_bytes());
                        framed.extend_from_slice(&c.data);
                        sent = sent.saturating_add(1);
                        Some(framed.freeze())
                    } else if self.eof && !terminated {
                        // A zero length: the receiver stops after what was sent.
                        terminated = true;
                        Some(Bytes::from_static(b"000000000000000\n"))
                    } else {
                        None
                    };
                    match next {
                        Some(bytes) => {
                            writing = Some(Box::pin(async move {
                                let r = w.write_all(&bytes).await;
                                (w, r)
                            }));
                        }
                        None => idle_writer = Some(w),
                    }
                }
            }
            tokio::select! {
                (w, r) = async { match writing.as_mut() { Some(f) => f.await, None => std::future::pending().await } } => {
                    writing = None;
                    idle_writer = Some(w);
                    if r.is_err() {
                        return Ok(cut("the shell closed while sending"));
                    }
                }
                line = tokio::time::timeout(ACK_TIMEOUT, read_line(&mut reader, &mut line_buf)) => {
                    let line = match line {
                        Err(_) => return Ok(cut("no acknowledgement within 60 s")),
                        Ok(Err(_)) | Ok(Ok(None)) => return Ok(cut("the shell ended during the upload")),
                        Ok(Ok(Some(l))) => l,
                    };
                    if line.contains("AGENTCORE-RECV-DONE") {
                        if self.window.is_empty() && self.eof {
                            return Ok(Attempt::Done);
                        }
                        return Ok(cut("the receiver ended early"));
                    }
                    if let Some(rest) = line.strip_prefix("ERR ") {
                        return Err(Error::WrongState { what: rest.to_owned() });
                    }
                    let Some(rest) = line.strip_prefix("ACK ") else { continue };
                    let (end, sum) = rest.split_once(' ').unwrap_or((rest, ""));
                    let Some(front) = self.window.front() else {
                        return Ok(cut("an acknowledgement for nothing sent"));
                    };
                    let expected_end = front.offset.saturating_add(front.data.len() as u64);
                    let expected_sum = helper::hex(&sha2::Sha256::digest(&front.data));
                    if end.parse::<u64>().ok() != Some(expected_end) || sum != expected_sum {
                        return Ok(cut("a chunk arrived damaged"));
                    }
                    self.window.pop_front();
                    sent = sent.saturating_sub(1);
                    self.acked = expected_end;
                    report_progress(self.progress, self.acked, self.total);
                }
            }
        }
    }
}

// ---- downloads ---------------------------------------------------------------------------

enum Dest {
    File(PathBuf),
    Dir(PathBuf),
}

/// A download from the session; see [`Files::download`](super::Files::download). Finish with
/// `.send().await`.
#[must_use = "call .send().await"]
pub struct Download {
    session: Session,
    remote: String,
    dest: Dest,
    progress: Option<ProgressFn>,
}

impl fmt::Debug for Download {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Download")
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

/// Where downloaded bytes go.
enum Sink<'a> {
    File(tokio::io::BufWriter<tokio::fs::File>, &'a std::path::Path),
    Memory(&'a mut Vec<u8>),
    Unpack(tokio::sync::mpsc::Sender<Bytes>),
}

impl Sink<'_> {
    async fn write(&mut self, data: &[u8]) -> Result<(), Error> {
        match self {
            Sink::File(f, p) => f
                .write_all(data)
                .await
                .map_err(|e| Error::local_io(p.display(), e)),
            Sink::Memory(v) => {
                v.extend_from_slice(data);
                Ok(())
            }
            Sink::Unpack(tx) => {
                tx.send(Bytes::copy_from_slice(data))
                    .await
                    .map_err(|_| Error::WrongState {
                        what: "the archive stopped being unpacked".into(),
                    })
            }
        }
    }
}

/// What [`fetch`] did.
struct Fetched {
    bytes: u64,
    sha256: String,
    mode: u32,
    resumed: u32,
}

/// Streams the file `path` into `sink` (resuming after cuts) while the session computes its
/// SHA-256; they must agree.
async fn fetch(
    session: &Session,
    path: &str,
    sink: &mut Sink<'_>,
    progress: &Option<ProgressFn>,
) -> Result<Fetched, Error> {
    let args = [path];
    let sum = helper::run_idempotent(session, "sum", &args, LONG);
    let stream = stream_file(session, path, sink, progress);
    let (sum, streamed) = futures::join!(sum, stream);
    let (bytes, sha256, mode, resumed) = streamed?;
    let sum = sum?;
    let mut it = sum.stdout.split_whitespace();
    let size: u64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
    let expected = it.next().unwrap_or_default();
    if size != bytes || expected != sha256 {
        return Err(Error::ChecksumMismatch {
            what: format!(
                "{path}: received {bytes} bytes with sha256 {sha256}; the session has {size} bytes \
                 with sha256 {expected} (did the file change during the download?)"
            ),
        });
    }
    Ok(Fetched {
        bytes,
        sha256,
        mode,
        resumed,
    })
}

async fn stream_file(
    session: &Session,
    path: &str,
    sink: &mut Sink<'_>,
    progress: &Option<ProgressFn>,
) -> Result<(u64, String, u32, u32), Error> {
    let engine = base64::engine::general_purpose::STANDARD;
    let mut hasher = sha2::Sha256::new();
    let mut offset: u64 = 0;
    let mut mode = 0o644;
    let mut resumed = 0u32;
    let mut failures = 0u32;
    let mut install = false;
    let mut decoded = Vec::with_capacity(96 * 1024);
    'attempts: loop {
        let at = offset.to_string();
        let started = session
            .command(helper::command_text("send", &[path, &at], install))
            .timeout(LONG)
            .send()
            .await;
        let mut stream = match started {
            Ok(s) => s,
            Err(e) if transient(&e) && failures < MAX_FAILURES => {
                failures = failures.saturating_add(1);
                tokio::time::sleep(backoff(failures)).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut header: Option<u64> = None;
        let mut head = String::new();
        // Base64 characters of an unfinished group (at most 3).
        let mut carry: Vec<u8> = Vec::with_capacity(4);
        let mut stderr = String::new();
        loop {
            let next = tokio::time::timeout(DOWNLOAD_IDLE, stream.next()).await;
            let event = match next {
                Err(_) => Err(Error::Timeout {
                    operation: "InvokeAgentRuntimeCommand (silent download)",
                    after: DOWNLOAD_IDLE,
                }),
                Ok(None) => Err(Error::TruncatedStream {
                    events: 0,
                    source: None,
                }),
                Ok(Some(e)) => e,
            };
            match event {
                Ok(CommandEvent::Delta { stdout, stderr: e }) => {
                    if stderr.len() < 4096 {
                        stderr.push_str(&e);
                    }
                    let mut text = stdout.as_str();
                    if header.is_none() {
                        head.push_str(text);
                        let Some(nl) = head.find('\n') else { continue };
                        let line = head.get(..nl).unwrap_or_default().to_owned();
                        let rest = head
                            .get(nl.saturating_add(1)..)
                            .unwrap_or_default()
                            .to_owned();
                        let mut f = line.trim_start_matches("S ").split(' ');
                        let size =
                            f.next()
                                .and_then(|s| s.parse::<u64>().ok())
                                .ok_or_else(|| {
                                    Error::malformed(format!("bad download header {line:?}"))
                                })?;
                        mode = f
                            .next()
                            .and_then(|m| u32::from_str_radix(m, 8).ok())
                            .unwrap_or(mode);
                        header = Some(size);
                        head.clear();
                        decoded.clear();
                        decode_into(&engine, rest.as_bytes(), &mut carry, &mut decoded)?;
                        text = "";
                    } else {
                        decoded.clear();
                    }
                    decode_into(&engine, text.as_bytes(), &mut carry, &mut decoded)?;
                    if decoded.is_empty() {
                        continue;
                    }
                    sink.write(&decoded).await?;
                    hasher.update(&decoded);
                    offset = offset.saturating_add(decoded.len() as u64);
                    failures = 0;
                    report_progress(progress, offset, header);
                }
                Ok(CommandEvent::Stop { exit_code, status }) => {
                    if exit_code == 90 && !install {
                        install = true;
                        continue 'attempts;
                    }
                    helper::check(crate::data::CommandOutput {
                        stdout: String::new(),
                        stderr,
                        exit_code,
                        status,
                        truncated: false,
                    })?;
                    if !carry.is_empty() {
                        return Err(Error::malformed("the download ended inside a base64 group"));
                    }
                    return Ok((offset, helper::hex(&hasher.finalize()), mode, resumed));
                }
                Ok(_) => {}
                Err(e) if transient(&e) && failures < MAX_FAILURES => {
                    failures = failures.saturating_add(1);
                    resumed = resumed.saturating_add(1);
                    tracing::debug!(offset, error = %e, "download cut; resuming");
                    tokio::time::sleep(backoff(failures)).await;
                    continue 'attempts;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Decodes the base64 in `text` (newlines ignored) after the unfinished group in `carry`,
/// appending to `out`; what does not make a whole group stays in `carry`.
fn decode_into(
    engine: &base64::engine::GeneralPurpose,
    text: &[u8],
    carry: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    use base64::Engine;
    let bad = |e| Error::malformed_with("download base64", e);
    let clean: std::borrow::Cow<'_, [u8]> = if text.iter().any(|b| *b == b'\n' || *b == b'\r') {
        text.iter()
            .copied()
            .filter(|b| *b != b'\n' && *b != b'\r')
            .collect::<Vec<u8>>()
            .into()
    } else {
        text.into()
    };
    let mut input: &[u8] = &clean;
    if !carry.is_empty() {
        let take = 4usize.saturating_sub(carry.len()).min(input.len());
        let (head, rest) = input.split_at(take);
        carry.extend_from_slice(head);
        input = rest;
        if carry.len() == 4 {
            engine.decode_vec(carry.as_slice(), out).map_err(bad)?;
            carry.clear();
        }
    }
    let (whole, rest) = input.split_at(input.len().saturating_sub(input.len() % 4));
    engine.decode_vec(whole, out).map_err(bad)?;
    carry.extend_from_slice(rest);
    Ok(())
}

/// The whole file in memory.
pub(crate) async fn download_to_memory(session: &Session, path: &str) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    fetch(session, path, &mut Sink::Memory(&mut out), &None).await?;
    Ok(out)
}

impl Download {
    pub(crate) fn file(session: Session, remote: &str, local: PathBuf) -> Self {
        Self {
            session,
            remote: remote.to_owned(),
            dest: Dest::File(local),
            progress: None,
        }
    }

    pub(crate) fn dir(session: Session, remote: &str, local: PathBuf) -> Self {
        Self {
            session,
            remote: remote.to_owned(),
            dest: Dest::Dir(local),
            progress: None,
        }
    }

    /// Called after each piece received.
    pub fn progress(mut self, f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Transfers the bytes and checks them against the session's SHA-256.
    ///
    /// Dropping the future stops the transfer; a partial `.part` file (or temporary
    /// directory) may be left next to the destination, the destination itself is untouched.
    pub async fn send(self) -> Result<TransferReport, Error> {
        let remote = checked_path("remote", &self.remote)?;
        let started = Instant::now();
        match &self.dest {
            Dest::File(local) => {
                let mut part = local.clone().into_os_string();
                part.push(".part");
                let part = PathBuf::from(part);
                let file = tokio::fs::File::create(&part)
                    .await
                    .map_err(|e| Error::local_io(part.display(), e))?;
                let mut sink =
                    Sink::File(tokio::io::BufWriter::with_capacity(1 << 20, file), &part);
                let fetched = fetch(&self.session, remote, &mut sink, &self.progress).await;
                let Sink::File(mut file, _) = sink else {
                    return Err(Error::malformed("unreachable sink"));
                };
                let done = match fetched {
                    Ok(f) => file
                        .flush()
                        .await
                        .map_err(|e| Error::local_io(part.display(), e))
                        .map(|()| f),
                    Err(e) => Err(e),
                };
                drop(file);
                let fetched = match done {
                    Ok(f) => f,
                    Err(e) => {
                        let _ = tokio::fs::remove_file(&part).await;
                        return Err(e);
                    }
                };
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let perms = std::fs::Permissions::from_mode(fetched.mode & 0o777);
                    tokio::fs::set_permissions(&part, perms)
                        .await
                        .map_err(|e| Error::local_io(part.display(), e))?;
                }
                tokio::fs::rename(&part, local)
                    .await
                    .map_err(|e| Error::local_io(local.display(), e))?;
                Ok(TransferReport {
                    bytes: fetched.bytes,
                    sha256: fetched.sha256,
                    resumed: fetched.resumed,
                    channel: TransferChannel::Commands,
                    elapsed: started.elapsed(),
                })
            }
            Dest::Dir(local) => self.send_dir(remote, local, started).await,
        }
    }

    async fn send_dir(
        &self,
        remote: &str,
        local: &std::path::Path,
        started: Instant,
    ) -> Result<TransferReport, Error> {
        match std::fs::read_dir(local) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Err(Error::AlreadyExists {
                        what: format!("{} is not empty", local.display()),
                    });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::local_io(local.display(), e)),
        }
        let parent = match local.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = local
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "download".into());
        let id = uuid::Uuid::new_v4().simple().to_string();
        let tmp = parent.join(format!(".{name}.agentcore-download-{id}"));
        std::fs::create_dir_all(&tmp).map_err(|e| Error::local_io(tmp.display(), e))?;
        let mut stage = None;
        let result = async {
            let packed =
                helper::run_idempotent(&self.session, "pack", &[remote, &id], LONG).await?;
            let path = packed.stdout.trim().to_owned();
            if !path.starts_with('/') {
                return Err(Error::malformed(
                    "the packing step did not say where the archive is",
                ));
            }
            let stage = stage.insert(path);
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(8);
            let into = tmp.clone();
            let unpacker = tokio::task::spawn_blocking(move || {
                let mut reader = ChannelReader {
                    rx: &mut rx,
                    current: Bytes::new(),
                };
                archive::unpack(&mut reader, &into)?;
                // The archive ends before its stream does (tar pads to whole records): the
                // rest is read, so the download is not cut short by a closed channel.
                std::io::copy(&mut reader, &mut std::io::sink())
                    .map_err(|e| Error::local_io(into.display(), e))?;
                Ok::<(), Error>(())
            });
            let mut sink = Sink::Unpack(tx);
            let fetched = fetch(&self.session, stage, &mut sink, &self.progress).await;
            drop(sink);
            let unpacked = unpacker
                .await
                .map_err(|e| Error::local_io(tmp.display(), std::io::Error::other(e)))?;
            // An unpacking error explains a download that stopped for it.
            unpacked?;
            fetched
        }
        .await;
        if let Some(stage) = &stage {
            let _ = helper::run(&self.session, "rm", &[stage, "force"], SHORT).await;
        }
        let fetched = match result {
            Ok(f) => f,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                return Err(e);
            }
        };
        if local.exists() {
            std::fs::remove_dir(local).map_err(|e| Error::local_io(local.display(), e))?;
        }
        std::fs::rename(&tmp, local).map_err(|e| Error::local_io(local.display(), e))?;
        Ok(TransferReport {
            bytes: fetched.bytes,
            sha256: fetched.sha256,
            resumed: fetched.resumed,
            channel: TransferChannel::Commands,
            elapsed: started.elapsed(),
        })
    }
}

/// Reads the bytes of a channel on a blocking thread.
struct ChannelReader<'a> {
    rx: &'a mut tokio::sync::mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl std::io::Read for ChannelReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.current = b,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        let chunk = self.current.split_to(n);
        if let Some(dst) = buf.get_mut(..n) {
            dst.copy_from_slice(&chunk);
        }
        Ok(n)
    }
}
