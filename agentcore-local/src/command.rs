//! InvokeAgentRuntimeCommand: a fresh `bash -c` per command, output streamed as event-stream
//! frames while it is produced.
//!
//! Output flows pipe → 64 KiB reads → frames → a small bounded channel → the HTTP body, so a
//! slow client slows the command down (the pipe fills) instead of the server buffering.

use std::sync::Arc;
use std::time::Duration;

use agentcore_sdk::__private::ResponseChunk;
use agentcore_sdk::CommandStatus;
use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, watch};

use crate::sandbox::{Stdio, User};
use crate::sessions::SessionState;

/// Frames buffered between the command and a slow client.
const CHANNEL_FRAMES: usize = 8;
/// Bytes read from a pipe at a time (one delta at most this big).
const READ_SIZE: usize = 64 * 1024;
/// After the command exits, output still arriving within this window is delivered (e.g. from
/// a pipe buffer); a background process holding the pipe open does not keep the stream open.
const DRAIN_GRACE: Duration = Duration::from_millis(250);
/// How long a killed command may take to be reaped before its stream ends anyway.
const KILL_GRACE: Duration = Duration::from_secs(5);
/// What a command given up on after [`KILL_GRACE`] reports.
const GIVEN_UP: crate::sandbox::ExitInfo = crate::sandbox::ExitInfo {
    code: None,
    signal: Some(libc::SIGKILL),
};

use agentcore_sdk::__private::encode_chunk as chunk_frame;

/// Turns a byte stream into UTF-8 text without ever splitting a character: an incomplete
/// sequence at the end of a read waits for the next read; invalid bytes become U+FFFD.
#[derive(Debug, Default)]
pub struct Utf8Chunker {
    pending: Vec<u8>,
}

impl Utf8Chunker {
    /// Text for `bytes` plus what was pending; keeps an unfinished trailing character.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::with_capacity(self.pending.len());
        let mut rest: &[u8] = &self.pending;
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    out.push_str(s);
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                    match e.error_len() {
                        Some(n) => {
                            out.push('\u{FFFD}');
                            rest = after.get(n..).unwrap_or_default();
                        }
                        None => {
                            rest = after;
                            break;
                        }
                    }
                }
            }
        }
        self.pending = rest.to_vec();
        out
    }

    /// Whatever is left at end of stream (an unfinished character becomes U+FFFD).
    pub fn finish(&mut self) -> String {
        let s = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        s
    }
}

#[derive(Clone, Copy)]
enum Pipe {
    Stdout,
    Stderr,
}

fn delta(pipe: Pipe, text: String) -> Bytes {
    let (stdout, stderr) = match pipe {
        Pipe::Stdout => (Some(text), None),
        Pipe::Stderr => (None, Some(text)),
    };
    chunk_frame(&ResponseChunk::ContentDelta { stdout, stderr })
}

async fn pump(
    mut reader: impl tokio::io::AsyncRead + Unpin,
    pipe: Pipe,
    tx: mpsc::Sender<Bytes>,
    mut exited: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; READ_SIZE];
    let mut utf8 = Utf8Chunker::default();
    // One drain budget from the moment the command exits, not one per read: a background
    // process that keeps writing must not keep the stream open.
    let mut drain_until: Option<tokio::time::Instant> = None;
    loop {
        if *exited.borrow() && drain_until.is_none() {
            let now = tokio::time::Instant::now();
            drain_until = Some(now.checked_add(DRAIN_GRACE).unwrap_or(now));
        }
        let read = if let Some(until) = drain_until {
            match tokio::time::timeout_at(until, reader.read(&mut buf)).await {
                Ok(r) => r,
                Err(_) => break,
            }
        } else {
            tokio::select! {
                r = reader.read(&mut buf) => r,
                _ = exited.changed() => continue,
            }
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let text = utf8.push(buf.get(..n).unwrap_or_default());
                if !text.is_empty() && tx.send(delta(pipe, text)).await.is_err() {
                    return;
                }
            }
        }
    }
    let rest = utf8.finish();
    if !rest.is_empty() {
        let _ = tx.send(delta(pipe, rest)).await;
    }
}

/// Runs `command` in `session` (a fresh `bash -c` as root, in its own session and process
/// group), returning the receiving end of its frame stream.
pub async fn spawn(
    session: Arc<SessionState>,
    command: String,
    timeout: Duration,
) -> std::io::Result<mpsc::Receiver<Bytes>> {
    let spec = session.process(
        User::Root,
        "/bin/bash",
        &["-c", &command],
        &[],
        Stdio::Pipes { stdin: false },
    );
    let mut child = session.spawn(spec).await?;
    let killer = child.signaller();
    let (tx, rx) = mpsc::channel(CHANNEL_FRAMES);
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    tokio::spawn(async move {
        let busy = session.busy();
        let (exit_tx, exit_rx) = watch::channel(false);
        if tx
            .send(chunk_frame(&ResponseChunk::ContentStart {}))
            .await
            .is_err()
        {
            killer
                .signal(libc::SIGKILL, crate::sandbox::SignalScope::Group)
                .await;
        }
        let out_task =
            stdout.map(|r| tokio::spawn(pump(r, Pipe::Stdout, tx.clone(), exit_rx.clone())));
        let err_task = stderr.map(|r| tokio::spawn(pump(r, Pipe::Stderr, tx.clone(), exit_rx)));
        // Once killed, a command is given up on after KILL_GRACE: a session may have frozen
        // its own cgroup (and with it the process that would deliver the kill).
        let mut exit = child.exit_watch();
        let killed = async move {
            let wait = exit.wait_for(Option::is_some);
            match tokio::time::timeout(KILL_GRACE, wait).await {
                Ok(Ok(e)) => e.unwrap_or(GIVEN_UP),
                _ => GIVEN_UP,
            }
        };
        let (status, timed_out) = tokio::select! {
            s = child.wait() => (s, false),
            _ = tokio::time::sleep(timeout) => {
                // Repeated: a fork bomb may add members while the first kill runs.
                for _ in 0..5 {
                    killer.signal(libc::SIGKILL, crate::sandbox::SignalScope::Group).await;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                (killed.await, true)
            }
            _ = tx.closed() => {
                // The client went away: nobody can receive the outcome.
                killer.signal(libc::SIGKILL, crate::sandbox::SignalScope::Group).await;
                (killed.await, false)
            }
            _ = session.stopped.cancelled() => {
                killer.signal(libc::SIGKILL, crate::sandbox::SignalScope::Group).await;
                (killed.await, false)
            }
        };
        let _ = exit_tx.send(true);
        for t in [out_task, err_task].into_iter().flatten() {
            let _ = t.await;
        }
        let exit = status.shell_code();
        let status = if timed_out {
            CommandStatus::TimedOut
        } else {
            CommandStatus::Completed
        };
        tracing::debug!(session = %session.key.session_id, exit, %status, "command ended");
        let _ = tx
            .send(chunk_frame(&ResponseChunk::ContentStop {
                exit_code: exit,
                status,
            }))
            .await;
        drop(busy);
    });
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_chunker_never_splits_characters() {
        let text = "aé日🚀z".repeat(100);
        let bytes = text.as_bytes();
        for size in 1..8 {
            let mut c = Utf8Chunker::default();
            let mut out = String::new();
            for part in bytes.chunks(size) {
                out.push_str(&c.push(part));
            }
            out.push_str(&c.finish());
            assert_eq!(out, text, "chunk size {size}");
        }
    }

    #[test]
    fn utf8_chunker_replaces_invalid_bytes() {
        let mut c = Utf8Chunker::default();
        assert_eq!(c.push(b"a\xffb"), "a\u{FFFD}b");
        assert_eq!(c.push(b"\xe6\x97"), "");
        assert_eq!(c.finish(), "\u{FFFD}");
    }
}
