//! No sandbox: session processes are plain child processes of the server, for hosts without
//! Linux namespaces (macOS) or when asked for. Each filesystem of a session is a host
//! directory; since nothing can mount it at its `/mnt/...` path, the text of commands, agent
//! commands and environment values is rewritten to the host directory, and paths in
//! commands' output are written back, so `cd /mnt/workspace && pwd` prints
//! `/mnt/workspace`. Interactive shells start in the first filesystem's directory and find
//! every one in `$AGENTCORE_MOUNT_<NAME>` (what is typed is not rewritten).

use std::collections::HashSet;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::watch;

use super::{
    Control, ExitInfo, HostOptions, Isolation, IsolationReport, Process, ProcessSpec,
    SessionSandbox, Stdio, User,
};

/// Plain processes for every session of a server.
#[derive(Debug)]
pub struct Host {
    data_dir: PathBuf,
    report: IsolationReport,
}

impl Host {
    /// `why` says why there is no sandbox when one was not asked away.
    pub fn new(opts: &HostOptions, why: Option<String>) -> Self {
        let mut lacks = vec![
            "every session runs as this user directly on the host: commands can read and change \
             your files, the data directory and each other"
                .to_owned(),
        ];
        lacks.extend(why.map(|w| format!("no sandbox here: {w}")));
        Host {
            data_dir: opts.data_dir.clone(),
            report: IsolationReport {
                isolation: Isolation::None,
                ids: "this user".into(),
                network: "the host's".into(),
                limits: "none".into(),
                lacks,
            },
        }
    }

    pub(super) fn report(&self) -> &IsolationReport {
        &self.report
    }

    pub(super) fn sandbox(&self, s: SessionSandbox) -> std::io::Result<Sandbox> {
        let home = self
            .data_dir
            .join("plain")
            .join(uuid::Uuid::new_v4().simple().to_string());
        std::fs::create_dir_all(&home)?;
        let mut pairs: Vec<(String, String)> = s
            .mounts
            .iter()
            .map(|m| {
                (
                    m.path.trim_end_matches('/').to_owned(),
                    m.host_dir.to_string_lossy().into_owned(),
                )
            })
            .collect();
        if let Some(code) = &s.code {
            let inside = if code.is_dir() {
                "/var/task".to_owned()
            } else {
                let dir = code.parent().map(|p| p.to_string_lossy().into_owned());
                pairs.push(("/var/task".to_owned(), dir.unwrap_or_default()));
                String::new()
            };
            if !inside.is_empty() {
                pairs.push((inside, code.to_string_lossy().into_owned()));
            }
        }
        let env = s
            .mounts
            .iter()
            .map(|m| {
                let name = m
                    .path
                    .trim_start_matches("/mnt/")
                    .trim_end_matches('/')
                    .to_ascii_uppercase()
                    .replace(['-', '.'], "_");
                (
                    format!("AGENTCORE_MOUNT_{name}"),
                    m.host_dir.to_string_lossy().into_owned(),
                )
            })
            .collect();
        Ok(Sandbox {
            home,
            map: PathMap { pairs },
            env,
            groups: Arc::new(Mutex::new(HashSet::new())),
            gone: watch::channel(false).0,
        })
    }
}

/// Inside paths → host directories, for rewriting text both ways.
#[derive(Debug, Clone, Default)]
pub struct PathMap {
    /// (inside, host), longest inside path first not needed: inside paths never nest.
    pairs: Vec<(String, String)>,
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// Replaces `from` with `to` where it stands as a whole path: not inside a longer name, and
/// not the tail of a longer path.
fn replace_paths(text: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let rest = text.get(i..).unwrap_or_default();
        let before_ok = i == 0
            || text
                .get(i.wrapping_sub(1))
                .is_some_and(|b| !is_name_byte(*b) && *b != b'/');
        let after_ok = rest.get(from.len()).is_none_or(|b| !is_name_byte(*b));
        if !from.is_empty() && before_ok && rest.starts_with(from) && after_ok {
            out.extend_from_slice(to);
            i = i.saturating_add(from.len());
        } else {
            out.extend_from_slice(rest.get(..1).unwrap_or_default());
            i = i.saturating_add(1);
        }
    }
    out
}

impl PathMap {
    /// Inside paths in `text` → host directories.
    pub fn to_host(&self, text: &str) -> String {
        let mut t = text.as_bytes().to_vec();
        for (inside, host) in &self.pairs {
            t = replace_paths(&t, inside.as_bytes(), host.as_bytes());
        }
        String::from_utf8(t).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// Host directories in `bytes` → inside paths.
    pub fn to_inside(&self, bytes: &[u8]) -> Vec<u8> {
        let mut t = bytes.to_vec();
        for (inside, host) in &self.pairs {
            t = replace_paths(&t, host.as_bytes(), inside.as_bytes());
        }
        t
    }
}

/// A reader whose host paths are written back to inside paths, across read boundaries.
struct InsidePaths {
    inner: super::Reader,
    map: PathMap,
    /// Read but not given out: it may be the start of a host path the next read completes.
    held: Vec<u8>,
    /// The last byte given out (it decides whether a path may start right after it).
    last: Option<u8>,
    ready: Vec<u8>,
    eof: bool,
}

impl InsidePaths {
    fn new(inner: super::Reader, map: PathMap) -> Self {
        Self {
            inner,
            map,
            held: Vec::new(),
            last: None,
            ready: Vec::new(),
            eof: false,
        }
    }

    /// The longest end of `held` that begins a host path (a whole one too: the byte after it
    /// decides whether it is a path).
    fn hold_len(&self) -> usize {
        let mut best = 0;
        for (_, host) in &self.map.pairs {
            let h = host.as_bytes();
            let longest = h.len().min(self.held.len());
            if let Some(k) = (1..=longest)
                .rev()
                .find(|k| self.held.ends_with(h.get(..*k).unwrap_or_default()))
            {
                best = best.max(k);
            }
        }
        best
    }

    fn release(&mut self, upto: usize) {
        let emit: Vec<u8> = self.held.drain(..upto).collect();
        if emit.is_empty() {
            return;
        }
        let mut with_last: Vec<u8> = self.last.into_iter().collect();
        let skip = with_last.len();
        with_last.extend_from_slice(&emit);
        let replaced = self.map.to_inside(&with_last);
        self.ready = replaced.get(skip..).unwrap_or_default().to_vec();
        self.last = emit.last().copied();
    }
}

impl AsyncRead for InsidePaths {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.ready.is_empty() {
                let n = this.ready.len().min(buf.remaining());
                buf.put_slice(this.ready.get(..n).unwrap_or_default());
                this.ready.drain(..n);
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            let mut chunk = [0u8; 16 * 1024];
            let mut rb = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {
                    let got = rb.filled();
                    if got.is_empty() {
                        this.eof = true;
                        let all = this.held.len();
                        this.release(all);
                    } else {
                        this.held.extend_from_slice(got);
                        let keep = this.hold_len();
                        let upto = this.held.len().saturating_sub(keep);
                        this.release(upto);
                    }
                }
            }
        }
    }
}

/// One session's plain processes.
#[derive(Debug)]
pub struct Sandbox {
    home: PathBuf,
    map: PathMap,
    env: Vec<(String, String)>,
    /// Process groups still running (killed when the session stops).
    groups: Arc<Mutex<HashSet<i32>>>,
    gone: watch::Sender<bool>,
}

/// Signals a plain process's group while it is unreaped.
#[derive(Debug, Clone)]
pub struct Signaller {
    pid: i32,
}

impl Signaller {
    pub(super) fn signal(&self, signal: i32, group: bool) {
        let Ok(sig) = nix::sys::signal::Signal::try_from(signal) else {
            return;
        };
        let pid = nix::unistd::Pid::from_raw(self.pid);
        let _ = if group {
            nix::sys::signal::killpg(pid, sig)
        } else {
            nix::sys::signal::kill(pid, sig)
        };
    }
}

impl Sandbox {
    pub(super) fn gone_watch(&self) -> watch::Receiver<bool> {
        self.gone.subscribe()
    }

    pub(super) fn path_map(&self) -> &PathMap {
        &self.map
    }

    pub(super) fn spawn(&self, spec: ProcessSpec) -> std::io::Result<Process> {
        let args: Vec<String> = spec.args.iter().map(|a| self.map.to_host(a)).collect();
        let mut env: Vec<(String, String)> = spec
            .env
            .iter()
            .map(|(k, v)| (k.clone(), self.map.to_host(v)))
            .collect();
        let home = self.home.to_string_lossy().into_owned();
        env.retain(|(k, _)| k != "HOME");
        env.push(("HOME".into(), home));
        env.extend(self.env.iter().cloned());
        let cwd = match spec.user {
            User::RuntimeUser => self
                .map
                .pairs
                .first()
                .map_or_else(|| self.home.clone(), |(_, h)| PathBuf::from(h)),
            User::Root => {
                let mapped = self.map.to_host(&spec.cwd);
                if mapped != spec.cwd {
                    PathBuf::from(mapped)
                } else {
                    self.home.clone()
                }
            }
        };
        let (exit_tx, exit_rx) = watch::channel(None);
        let (child, stdin, stdout, stderr, pty) = match spec.stdio {
            Stdio::Pipes { stdin } => {
                let mut cmd = tokio::process::Command::new(&spec.program);
                cmd.args(&args)
                    .env_clear()
                    .envs(env)
                    .current_dir(&cwd)
                    .stdin(if stdin {
                        std::process::Stdio::piped()
                    } else {
                        std::process::Stdio::null()
                    })
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .process_group(0);
                let mut child = cmd.spawn()?;
                let map = self.map.clone();
                let wrap = move |r: super::Reader| -> super::Reader {
                    Box::new(InsidePaths::new(r, map.clone()))
                };
                let i = child.stdin.take().map(|w| Box::new(w) as super::Writer);
                let o = child.stdout.take().map(|r| wrap(Box::new(r)));
                let e = child.stderr.take().map(|r| wrap(Box::new(r)));
                (child, i, o, e, None)
            }
            Stdio::Pty { rows, cols } => {
                let (pty, pts) = pty_process::open().map_err(std::io::Error::other)?;
                pty.resize(pty_process::Size::new(rows, cols))
                    .map_err(std::io::Error::other)?;
                let child = pty_process::Command::new(&spec.program)
                    .args(&args)
                    .env_clear()
                    .envs(env)
                    .current_dir(&cwd)
                    .spawn(pts)
                    .map_err(std::io::Error::other)?;
                let master = std::os::fd::OwnedFd::from(pty);
                (child, None, None, None, Some(super::Pty::new(master)?))
            }
        };
        let pid = child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .ok_or_else(|| std::io::Error::other("no pid"))?;
        if let Ok(mut g) = self.groups.lock() {
            g.insert(pid);
        }
        let groups = self.groups.clone();
        tokio::spawn(async move {
            let mut child = child;
            let status = child.wait().await.ok();
            use std::os::unix::process::ExitStatusExt;
            let info = ExitInfo {
                code: status.and_then(|s| s.code()),
                signal: status.and_then(|s| s.signal()),
            };
            if let Ok(mut g) = groups.lock() {
                g.remove(&pid);
            }
            let _ = exit_tx.send(Some(info));
        });
        Ok(Process {
            stdin,
            stdout,
            stderr,
            pty,
            exit: exit_rx,
            control: Control::Plain(Signaller { pid }),
        })
    }

    pub(super) fn shutdown(&self) {
        let groups: Vec<i32> = self
            .groups
            .lock()
            .map(|mut g| g.drain().collect())
            .unwrap_or_default();
        for pid in groups {
            Signaller { pid }.signal(libc::SIGKILL, true);
        }
        let _ = std::fs::remove_dir_all(&self.home);
        let _ = self.gone.send(true);
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn map() -> PathMap {
        PathMap {
            pairs: vec![("/mnt/workspace".into(), "/tmp/d/storage/x/workspace".into())],
        }
    }

    #[test]
    fn inside_paths_become_host_paths_only_as_whole_paths() {
        let m = map();
        assert_eq!(
            m.to_host("cd /mnt/workspace && ls /mnt/workspace/a"),
            "cd /tmp/d/storage/x/workspace && ls /tmp/d/storage/x/workspace/a"
        );
        assert_eq!(
            m.to_host("/mnt/workspace2 x/mnt/workspace"),
            "/mnt/workspace2 x/mnt/workspace"
        );
        assert_eq!(
            m.to_host("\"/mnt/workspace\""),
            "\"/tmp/d/storage/x/workspace\""
        );
    }

    #[tokio::test]
    async fn output_paths_are_written_back_across_reads() {
        let (mut w, r) = tokio::io::duplex(8);
        let mut reader = InsidePaths::new(Box::new(r), map());
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            w.write_all(b"pwd: /tmp/d/storage/x/workspace/sub\nend /tmp/d/storage/x/workspace")
                .await
                .unwrap();
        });
        let mut out = String::new();
        reader.read_to_string(&mut out).await.unwrap();
        writer.await.unwrap();
        assert_eq!(out, "pwd: /mnt/workspace/sub\nend /mnt/workspace");
    }
}
