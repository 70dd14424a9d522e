//! Interactive shells: `GET /runtimes/{arn}/ws/shells` upgraded to a WebSocket over a real
//! PTY running bash in the session's sandbox.
//!
//! A shell outlives its connection: when a client drops without a CLOSE frame the PTY keeps
//! running for the reconnect window, its output kept in a 256 KiB replay buffer (older bytes
//! are dropped and counted). Attaching the same session id + shell id resumes it; attaching
//! while another client is attached kicks that client (close 4000).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agentcore_sdk::shell::protocol::{
    BEARER_PROTOCOL, CLOSE_KICKED, CLOSE_NORMAL, Frame, REPLAY_BUFFER, RESUME_OFFSET_HEADER,
    SHELL_ID_HEADER, Status,
};
use agentcore_sdk::{ServiceErrorKind, ShellId};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};

use crate::api_error::ApiError;
use crate::sandbox::{SignalScope, Stdio, User};
use crate::server::{AppState, resolve_runtime, session_id};
use crate::sessions::SessionState;

/// Shells per runtime at most.
pub const MAX_SHELLS_PER_RUNTIME: usize = 10;
/// How long a detached shell is kept.
pub const RECONNECT_WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ShellKey {
    runtime_id: String,
    session_id: String,
    shell_id: String,
}

/// How a shell ended.
#[derive(Debug, Clone, Copy)]
struct ExitInfo {
    code: Option<i32>,
    signal: Option<i32>,
}

enum Out {
    /// Output starting at this absolute offset.
    Stdout(u64, Bytes),
    Exit(ExitInfo),
}

struct Attachment {
    id: u64,
    tx: mpsc::Sender<Out>,
    kick: Option<oneshot::Sender<()>>,
    /// Offset up to which output was handed to this connection's socket.
    delivered: Arc<AtomicU64>,
}

/// Output bookkeeping: the last [`REPLAY_BUFFER`] bytes with their absolute offsets.
#[derive(Default)]
struct Inner {
    attached: Option<Attachment>,
    ring: BytesMut,
    ring_start: u64,
    /// Where the last connection stopped receiving: the replay point for clients that do
    /// not say where they are.
    detach_offset: u64,
    detached_at: Option<Instant>,
}

impl Inner {
    fn produced(&self) -> u64 {
        self.ring_start.saturating_add(self.ring.len() as u64)
    }

    fn detach(&mut self, id: u64) {
        if let Some(a) = self.attached.as_ref().filter(|a| a.id == id) {
            self.detach_offset = a.delivered.load(Ordering::SeqCst);
            self.attached = None;
            self.detached_at = Some(Instant::now());
        }
    }
}

struct ShellProc {
    key: ShellKey,
    writer: tokio::sync::Mutex<crate::sandbox::Pty>,
    inner: Mutex<Inner>,
    exit: watch::Receiver<Option<ExitInfo>>,
    signaller: Arc<crate::sandbox::ProcessSignaller>,
}

impl ShellProc {
    fn exited(&self) -> Option<ExitInfo> {
        *self.exit.borrow()
    }

    /// Signals the shell's process group, only while the shell has not exited (once it has
    /// been reaped, its id may belong to an unrelated process).
    fn signal(&self, sig: nix::sys::signal::Signal) {
        if self.exited().is_none() {
            let s = self.signaller.clone();
            tokio::spawn(async move { s.signal(sig as i32, SignalScope::Session).await });
        }
    }

    /// Appends output to the ring, forgetting the oldest bytes past its size; returns the
    /// absolute offset of the first appended byte.
    fn record(inner: &mut Inner, bytes: &[u8]) -> u64 {
        let start = inner.produced();
        inner.ring.extend_from_slice(bytes);
        if inner.ring.len() > REPLAY_BUFFER {
            let excess = inner.ring.len().saturating_sub(REPLAY_BUFFER);
            let _ = inner.ring.split_to(excess);
            inner.ring_start = inner.ring_start.saturating_add(excess as u64);
        }
        start
    }
}

/// Every shell of the server.
#[derive(Default)]
pub struct Shells {
    live: Mutex<HashMap<ShellKey, Arc<ShellProc>>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Shells {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.live.lock().map(|l| l.len()).unwrap_or(0);
        f.debug_struct("Shells").field("live", &n).finish()
    }
}

impl Shells {
    fn running_for_runtime(&self, runtime_id: &str) -> usize {
        self.live
            .lock()
            .map(|l| {
                l.values()
                    .filter(|s| s.key.runtime_id == runtime_id && s.exited().is_none())
                    .count()
            })
            .unwrap_or(0)
    }

    fn get(&self, key: &ShellKey) -> Option<Arc<ShellProc>> {
        self.live.lock().ok()?.get(key).cloned()
    }

    fn remove(&self, key: &ShellKey) {
        if let Ok(mut l) = self.live.lock() {
            l.remove(key);
        }
    }

    /// Drops shells detached longer than the reconnect window (and kills them), and shells
    /// whose session stopped.
    pub fn reap(&self) {
        let Ok(mut live) = self.live.lock() else {
            return;
        };
        live.retain(|_, s| {
            let expired = s
                .inner
                .lock()
                .map(|i| {
                    i.attached.is_none()
                        && i.detached_at
                            .is_some_and(|t| t.elapsed() > RECONNECT_WINDOW)
                })
                .unwrap_or(true);
            if expired {
                s.signal(nix::sys::signal::Signal::SIGKILL);
            }
            !expired
        });
    }

    /// Kills every shell (server shutdown).
    pub fn stop_all(&self) {
        if let Ok(mut live) = self.live.lock() {
            for s in live.values() {
                s.signal(nix::sys::signal::Signal::SIGKILL);
            }
            live.clear();
        }
    }
}

async fn spawn_shell(
    session: &Arc<SessionState>,
    key: ShellKey,
) -> Result<Arc<ShellProc>, ApiError> {
    let spec = session.process(
        User::RuntimeUser,
        "/bin/bash",
        &["--login", "-i"],
        &[
            ("TERM", "xterm-256color"),
            ("AGENTCORE_SHELL_ID", key.shell_id.as_str()),
        ],
        Stdio::Pty { rows: 24, cols: 80 },
    );
    let mut child = session.spawn(spec).await.map_err(|e| {
        ApiError::new(
            ServiceErrorKind::RuntimeClient,
            format!("cannot start bash: {e}"),
        )
    })?;
    let pty = child
        .pty
        .take()
        .ok_or_else(|| ApiError::internal("the shell has no terminal"))?;
    let mut reader = pty.clone();
    let (exit_tx, exit_rx) = watch::channel(None);
    let proc = Arc::new(ShellProc {
        key,
        writer: tokio::sync::Mutex::new(pty),
        inner: Mutex::new(Inner::default()),
        exit: exit_rx,
        signaller: Arc::new(child.signaller()),
    });
    let weak = Arc::downgrade(&proc);
    let session = session.clone();
    let busy = session.busy();
    tokio::spawn(async move {
        let mut child = child;
        let mut buf = vec![0u8; 32 * 1024];
        // Once the shell has ended, what it wrote last is still read, but not for as long as
        // something else holds its terminal (a job left running, or one forked while it was
        // being hung up): the shell's end is reported, not that of its last descendant.
        let mut drain_until: Option<tokio::time::Instant> = None;
        loop {
            let read = async {
                match drain_until {
                    None => Some(reader.read(&mut buf).await),
                    Some(at) => tokio::time::timeout_at(at, reader.read(&mut buf))
                        .await
                        .ok(),
                }
            };
            // EIO once every holder of the terminal is gone: the shell ended.
            let n = tokio::select! {
                r = read => match r {
                    Some(Ok(n)) if n > 0 => n,
                    _ => break,
                },
                _ = child.wait(), if drain_until.is_none() => {
                    let now = tokio::time::Instant::now();
                    drain_until = Some(now.checked_add(SHELL_EXIT_DRAIN).unwrap_or(now));
                    continue;
                }
            };
            let Some(proc) = weak.upgrade() else { break };
            let bytes = Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
            // Every byte goes to the ring first: a connection that misses it (gone, or
            // replaced) is replayed from there by offset.
            let target = proc.inner.lock().ok().map(|mut inner| {
                let offset = ShellProc::record(&mut inner, &bytes);
                (offset, inner.attached.as_ref().map(|a| a.tx.clone()))
            });
            if let Some((offset, Some(tx))) = target {
                let _ = tx.send(Out::Stdout(offset, bytes)).await;
            }
        }
        let status = child.wait().await;
        let info = ExitInfo {
            code: status.code,
            signal: status.signal,
        };
        let _ = exit_tx.send(Some(info));
        if let Some(proc) = weak.upgrade() {
            let tx = proc
                .inner
                .lock()
                .ok()
                .and_then(|i| i.attached.as_ref().map(|a| a.tx.clone()));
            if let Some(tx) = tx {
                let _ = tx.send(Out::Exit(info)).await;
            }
        }
        drop(busy);
    });
    Ok(proc)
}

/// `GET /runtimes/{arn}/ws/shells`: checks, then upgrades.
pub async fn upgrade(
    State(state): State<Arc<AppState>>,
    Path(arn): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let rt = resolve_runtime(&state, &arn, q.get("qualifier"))?;
    let sid = session_id(&headers, &q, false)?;
    let shell_id = match q.get("shellId") {
        Some(s) => s.parse::<ShellId>()?,
        None => ShellId::generate(),
    };
    let ws = ws.map_err(|e| {
        ApiError::validation(
            "Upgrade",
            format!("a WebSocket upgrade request is required: {e}"),
        )
    })?;
    let key = ShellKey {
        runtime_id: rt.id.clone(),
        session_id: sid.clone(),
        shell_id: shell_id.as_str().to_owned(),
    };
    let existing = state.shells.get(&key).filter(|s| s.exited().is_none());
    if existing.is_none() && state.shells.running_for_runtime(&rt.id) >= MAX_SHELLS_PER_RUNTIME {
        let mut e = ApiError::new(
            ServiceErrorKind::Throttling,
            format!(
                "too many shells: at most {MAX_SHELLS_PER_RUNTIME} concurrent shells per runtime"
            ),
        );
        e.kind = ServiceErrorKind::Throttling;
        return Err(e);
    }
    let session = crate::server::start_session(&state, &rt, &sid).await?;
    let wanted_bearer = headers
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|p| p.trim() == BEARER_PROTOCOL));
    let ws = if wanted_bearer {
        ws.protocols([BEARER_PROTOCOL])
    } else {
        ws
    };
    let resume_at = headers
        .get(RESUME_OFFSET_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let st = state.clone();
    let mut resp = ws
        .max_message_size(1024 * 1024)
        .on_upgrade(move |socket| async move { serve(st, session, key, resume_at, socket).await });
    if let Ok(v) = HeaderValue::from_str(shell_id.as_str()) {
        resp.headers_mut().insert(SHELL_ID_HEADER, v);
    }
    if let Ok(v) = HeaderValue::from_str(&sid) {
        resp.headers_mut()
            .insert(agentcore_sdk::data::SESSION_ID_HEADER, v);
    }
    Ok(resp.into_response())
}

async fn send_frame(socket: &mut WebSocket, frame: &Frame) -> bool {
    socket
        .send(Message::Binary(frame.encode().into()))
        .await
        .is_ok()
}

async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

async fn serve(
    state: Arc<AppState>,
    session: Arc<SessionState>,
    key: ShellKey,
    resume_at: Option<u64>,
    mut socket: WebSocket,
) {
    // Attach: to the live shell of this key, or a new one.
    let existing = state.shells.get(&key);
    let (proc, reconnected) = match existing {
        Some(p) => (p, true),
        None => match spawn_shell(&session, key.clone()).await {
            Ok(p) => {
                if let Ok(mut l) = state.shells.live.lock() {
                    l.insert(key.clone(), p.clone());
                }
                (p, false)
            }
            Err(e) => {
                let _ = send_frame(
                    &mut socket,
                    &Frame::Status(Box::new(Status::internal_error(e.message))),
                )
                .await;
                close(&mut socket, 1011, "cannot start shell").await;
                return;
            }
        },
    };
    let id = state
        .shells
        .next_id
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let (tx, mut rx) = mpsc::channel::<Out>(16);
    let (kick_tx, mut kick_rx) = oneshot::channel();
    let delivered = Arc::new(AtomicU64::new(0));
    let (replay, start, dropped) = {
        let Ok(mut inner) = proc.inner.lock() else {
            return;
        };
        // Where this client resumes: the offset it asked for, else where the previous
        // connection stopped.
        let from = match (resume_at, inner.attached.as_ref()) {
            (Some(o), _) => o.min(inner.produced()),
            (None, Some(a)) => a.delivered.load(Ordering::SeqCst),
            (None, None) => inner.detach_offset,
        };
        if let Some(mut old) = inner.attached.take()
            && let Some(k) = old.kick.take()
        {
            let _ = k.send(());
        }
        let start = from.max(inner.ring_start);
        let dropped = inner.ring_start.saturating_sub(from);
        let skip = (start.saturating_sub(inner.ring_start) as usize).min(inner.ring.len());
        let replay = Bytes::copy_from_slice(inner.ring.get(skip..).unwrap_or_default());
        delivered.store(start, Ordering::SeqCst);
        inner.attached = Some(Attachment {
            id,
            tx,
            kick: Some(kick_tx),
            delivered: delivered.clone(),
        });
        inner.detached_at = None;
        (replay, start, dropped)
    };
    let confirmation =
        Status::confirmation(&key.shell_id, reconnected, reconnected.then_some(dropped))
            .with_output_offset(start);
    if !send_frame(&mut socket, &Frame::Status(Box::new(confirmation))).await {
        detach(&proc, id);
        return;
    }
    for part in replay.chunks(32 * 1024) {
        if !send_frame(&mut socket, &Frame::Stdout(Bytes::copy_from_slice(part))).await {
            detach(&proc, id);
            return;
        }
        delivered.fetch_add(part.len() as u64, Ordering::SeqCst);
    }
    if let Some(info) = proc.exited() {
        finish(&state, &proc, &mut socket, info).await;
        return;
    }
    // Input goes to the PTY through its own task: a shell that stops reading its input must
    // not stop this loop from forwarding its output (which is what would let it read again).
    let (input_tx, input_rx) = mpsc::channel::<Input>(INPUT_QUEUE);
    tokio::spawn(write_input(proc.clone(), input_rx));
    let mut pending_input: Option<Input> = None;
    // A CLOSE was received: the shell is killed at this instant if it has not ended.
    let mut kill_at: Option<tokio::time::Instant> = None;
    loop {
        let close_deadline = async {
            match kill_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            permit = input_tx.reserve(), if pending_input.is_some() => {
                // If the writer ended, the PTY is gone and the exit status follows.
                if let (Ok(p), Some(input)) = (permit, pending_input.take()) {
                    p.send(input);
                }
            }
            // While input waits for the PTY, the client is not read (backpressure), but
            // output still flows.
            msg = socket.recv(), if pending_input.is_none() => {
                let Some(Ok(msg)) = msg else {
                    // Connection lost without CLOSE: keep the shell for a reconnect.
                    detach(&proc, id);
                    return;
                };
                match msg {
                    Message::Binary(b) => match Frame::decode(&b) {
                        Ok(Frame::Stdin(data)) => pending_input = Some(Input::Data(data)),
                        Ok(Frame::Resize { width, height }) => {
                            pending_input = Some(Input::Resize(width, height));
                        }
                        Ok(Frame::Heartbeat) => {
                            if !send_frame(&mut socket, &Frame::Heartbeat).await { detach(&proc, id); return; }
                        }
                        Ok(Frame::Close) => {
                            // The hang-up goes to the PTY's writer in order: input received
                            // before the CLOSE reaches the PTY first. The kill is a deadline
                            // from now, however long that input takes.
                            pending_input = Some(Input::HangUp);
                            let now = tokio::time::Instant::now();
                            kill_at.get_or_insert(now.checked_add(HANG_UP_TO_KILL).unwrap_or(now));
                        }
                        Ok(_) => {}
                        Err(e) => {
                            let msg = format!("bad frame: {e}");
                            let _ = send_frame(&mut socket, &Frame::Stderr(Bytes::from(msg))).await;
                        }
                    },
                    Message::Close(_) => {
                        // A WebSocket close without our CLOSE frame is a detach.
                        detach(&proc, id);
                        return;
                    }
                    _ => {}
                }
            }
            out = rx.recv() => match out {
                Some(Out::Stdout(offset, bytes)) => {
                    // Skip what the replay already covered (output racing the attach).
                    let done = delivered.load(Ordering::SeqCst);
                    let end = offset.saturating_add(bytes.len() as u64);
                    if end <= done {
                        continue;
                    }
                    let fresh = bytes.slice((done.saturating_sub(offset) as usize).min(bytes.len())..);
                    if !send_frame(&mut socket, &Frame::Stdout(fresh)).await {
                        detach(&proc, id);
                        return;
                    }
                    delivered.store(end, Ordering::SeqCst);
                }
                Some(Out::Exit(info)) => {
                    finish(&state, &proc, &mut socket, info).await;
                    return;
                }
                // Our sender is dropped only when another client took the shell over.
                None => {
                    close(&mut socket, CLOSE_KICKED, "another client attached this shell").await;
                    return;
                }
            },
            _ = &mut kick_rx => {
                close(&mut socket, CLOSE_KICKED, "another client attached this shell").await;
                return;
            }
            _ = close_deadline => {
                hang_up(proc.clone(), nix::sys::signal::Signal::SIGKILL).await;
                kill_at = None;
            }
        }
    }
}

/// After the shell has exited, how long its terminal's last output is still read while
/// other processes hold the terminal open.
const SHELL_EXIT_DRAIN: Duration = Duration::from_millis(300);

/// Frames of input queued for the PTY per connection.
const INPUT_QUEUE: usize = 8;
/// After a CLOSE, how long the shell has before it is killed (SIGKILL).
const HANG_UP_TO_KILL: Duration = Duration::from_secs(2);

/// What a connection sends to its shell's PTY, in order.
enum Input {
    Data(Bytes),
    Resize(u16, u16),
    /// The client's CLOSE: hang the shell up (SIGHUP) once the input before it is written.
    HangUp,
}

/// Writes a connection's input to the PTY, in order, until the connection is gone (then what
/// it queued is still written), the PTY is, or the shell is hung up.
async fn write_input(proc: Arc<ShellProc>, mut rx: mpsc::Receiver<Input>) {
    while let Some(input) = rx.recv().await {
        let mut w = proc.writer.lock().await;
        match input {
            Input::Data(data) => {
                // Flushed: with paths rewritten, a write may leave bytes held for later.
                if w.write_all(&data).await.is_err() || w.flush().await.is_err() {
                    return;
                }
            }
            Input::Resize(width, height) => {
                let _ = w.resize(height, width);
            }
            Input::HangUp => {
                // The input written before the CLOSE is the terminal's before the hang-up.
                w.settle_input();
                drop(w);
                hang_up(proc, nix::sys::signal::Signal::SIGHUP).await;
                return;
            }
        }
    }
}

/// Signals the shell as a terminal hang-up does: every process of its session — the shell
/// and its jobs, which job control puts in process groups of their own (a SIGHUP to the
/// shell's group alone leaves a foreground job, and a shell waiting for it, running).
/// Nothing is signalled once the shell has exited.
async fn hang_up(proc: Arc<ShellProc>, sig: nix::sys::signal::Signal) {
    proc.signaller
        .signal(sig as i32, SignalScope::Session)
        .await;
}

fn detach(proc: &ShellProc, id: u64) {
    if let Ok(mut inner) = proc.inner.lock() {
        inner.detach(id);
    }
}

async fn finish(state: &AppState, proc: &ShellProc, socket: &mut WebSocket, info: ExitInfo) {
    let _ = send_frame(
        socket,
        &Frame::Status(Box::new(Status::exited(info.code, info.signal))),
    )
    .await;
    close(socket, CLOSE_NORMAL, "shell exited").await;
    state.shells.remove(&proc.key);
}
