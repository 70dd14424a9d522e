//! No sandbox: session processes are plain child processes of the server, for hosts without
//! Linux namespaces (macOS) or when asked for. Each filesystem of a session is a host
//! directory; since nothing can mount it at its `/mnt/...` path, the text of commands, agent
//! commands and environment values is rewritten to the host directory, and paths in
//! commands' output are written back, so `cd /mnt/workspace && pwd` prints
//! `/mnt/workspace`. Interactive shells start in the first filesystem's directory and find
//! every one in `$AGENTCORE_MOUNT_<NAME>` (what is typed is not rewritten).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::paths::{InsidePaths, PathMap};
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
        // `/mnt` itself: a directory of links to the filesystems, so `ls /mnt` lists them.
        let mnt = home.join("mnt");
        std::fs::create_dir_all(&mnt)?;
        for m in &s.mounts {
            let name = m.path.trim_start_matches("/mnt/").trim_end_matches('/');
            let _ = std::os::unix::fs::symlink(&m.host_dir, mnt.join(name));
        }
        pairs.push(("/mnt".to_owned(), mnt.to_string_lossy().into_owned()));
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
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let mut env: Vec<(String, String)> = s
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
        env.push((TAG_VAR.to_owned(), tag.clone()));
        let home_dir = home.join("home");
        std::fs::create_dir_all(&home_dir)?;
        Ok(Sandbox {
            home: home_dir,
            map: PathMap::new(pairs),
            env,
            tag,
            groups: Arc::new(Mutex::new(HashSet::new())),
            gone: watch::channel(false).0,
        })
    }
}

/// The variable that marks every process of a session (inherited by what they start), so
/// stopping the session finds the ones that left its process groups and sessions (`setsid`,
/// a daemon's double fork). Without a sandbox this is bookkeeping, not a boundary: a process
/// that clears its environment is not found.
const TAG_VAR: &str = "AGENTCORE_LOCAL_SESSION_TAG";

/// Kills every process of this user whose environment carries `tag`, in rounds until a scan
/// finds none (a process may fork while the previous round kills it). Linux only (it reads
/// `/proc`); elsewhere only the session's process groups and sessions are killed.
fn kill_tagged(tag: &str) {
    #[cfg(target_os = "linux")]
    {
        let needle = format!("{TAG_VAR}={tag}\0");
        let me = std::process::id().to_string();
        for _ in 0..20 {
            let mut found = false;
            for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if !name.bytes().all(|b| b.is_ascii_digit()) || name == me {
                    continue;
                }
                let Ok(environ) = std::fs::read(e.path().join("environ")) else {
                    continue;
                };
                let hit = environ
                    .windows(needle.len())
                    .any(|w| w == needle.as_bytes());
                if let (true, Ok(pid)) = (hit, name.parse::<i32>()) {
                    found = true;
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
            if !found {
                break;
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = tag;
}

/// One session's plain processes.
#[derive(Debug)]
pub struct Sandbox {
    home: PathBuf,
    map: PathMap,
    env: Vec<(String, String)>,
    /// This session's value of [`TAG_VAR`], in every process's environment.
    tag: String,
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
    pub(super) fn signal(&self, signal: i32, scope: super::SignalScope) {
        let Ok(sig) = nix::sys::signal::Signal::try_from(signal) else {
            return;
        };
        let pid = nix::unistd::Pid::from_raw(self.pid);
        match scope {
            super::SignalScope::Process => {
                let _ = nix::sys::signal::kill(pid, sig);
            }
            super::SignalScope::Group => {
                let _ = nix::sys::signal::killpg(pid, sig);
            }
            super::SignalScope::Session => {
                let _ = nix::sys::signal::killpg(pid, sig);
                for member in super::session_members(self.pid) {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(member), sig);
                }
            }
        }
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
                .first_host()
                .map_or_else(|| self.home.clone(), PathBuf::from),
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
                    .stderr(std::process::Stdio::piped());
                // A session of its own (and so a process group of its own): no controlling
                // terminal, so nothing a command does reaches the terminal the server runs
                // in (`/dev/tty`, TIOCSTI).
                // SAFETY: between fork and exec only setsid(2), which is async-signal-safe.
                unsafe {
                    cmd.pre_exec(|| {
                        nix::unistd::setsid()
                            .map(drop)
                            .map_err(std::io::Error::from)
                    });
                }
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
                let pty = super::Pty::new(master)?.with_paths(self.map.clone());
                (child, None, None, None, Some(pty))
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
            Signaller { pid }.signal(libc::SIGKILL, super::SignalScope::Session);
        }
        kill_tagged(&self.tag);
        if let Some(dir) = self.home.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
        let _ = self.gone.send(true);
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shutdown();
    }
}
