//! Runtime sessions: the local stand-in for a session's microVM.
//!
//! A session is created by the first call that names it and lives until
//! StopRuntimeSession, its idle timeout, or server shutdown. Stopping kills every process
//! group the session started (commands, agent, shells) and deletes its scratch directory;
//! its session storage stays on disk, so the next call with the same session id sees the
//! same files.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::sandbox::{self, Isolation, Mount};
use crate::store::{MountKind, StoredRuntime};

/// Identifies a session: runtime id + session id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionKey {
    /// Runtime id.
    pub runtime_id: String,
    /// Session id.
    pub session_id: String,
}

/// A directory name for a session id of any characters (ids may be 256 arbitrary chars).
pub fn session_dir_name(session_id: &str) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, session_id.as_bytes()).to_string()
}

/// One live session.
#[derive(Debug)]
pub struct SessionState {
    /// Its key.
    pub key: SessionKey,
    /// Mounts (session storage and shared).
    pub mounts: Vec<Mount>,
    /// Ephemeral home and working directory, deleted on stop.
    pub scratch: PathBuf,
    /// Runtime environment variables.
    pub env: Vec<(String, String)>,
    /// Cancelled when the session stops.
    pub stopped: CancellationToken,
    idle_timeout: Duration,
    last_activity: Mutex<Instant>,
    active: AtomicUsize,
    process_groups: Mutex<HashSet<i32>>,
    /// The agent process of this session, started on first invocation.
    pub agent: tokio::sync::Mutex<Option<crate::agent::AgentProcess>>,
}

impl SessionState {
    /// Marks activity now.
    pub fn touch(&self) {
        if let Ok(mut t) = self.last_activity.lock() {
            *t = Instant::now();
        }
    }

    /// Counts one running operation until the guard drops; running sessions are never idle.
    pub fn busy(self: &Arc<Self>) -> BusyGuard {
        self.active.fetch_add(1, Ordering::SeqCst);
        self.touch();
        BusyGuard(self.clone())
    }

    /// Remembers a process group to kill when the session stops.
    pub fn track(&self, pgid: i32) {
        if let Ok(mut g) = self.process_groups.lock() {
            g.insert(pgid);
        }
    }

    /// Forgets a process group that ended.
    pub fn untrack(&self, pgid: i32) {
        if let Ok(mut g) = self.process_groups.lock() {
            g.remove(&pgid);
        }
    }

    /// A command that runs `program args` in this session's sandbox, with its environment
    /// and stdin closed. Callers put it in its own process group (or session, for a PTY).
    pub fn command(
        &self,
        isolation: Isolation,
        program: &str,
        args: &[&str],
    ) -> tokio::process::Command {
        let mut cmd = sandbox::command(isolation, &self.mounts, &self.scratch, program, args);
        cmd.env("HOME", &self.scratch)
            .env("AGENTCORE_SESSION_ID", &self.key.session_id)
            .env("AGENTCORE_RUNTIME_ID", &self.key.runtime_id)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .kill_on_drop(true);
        cmd
    }

    fn kill_all(&self) {
        let groups: Vec<i32> = self
            .process_groups
            .lock()
            .map(|g| g.iter().copied().collect())
            .unwrap_or_default();
        for pgid in groups {
            kill_group(pgid);
        }
    }

    fn is_idle(&self) -> bool {
        self.active.load(Ordering::SeqCst) == 0
            && self
                .last_activity
                .lock()
                .map(|t| t.elapsed() >= self.idle_timeout)
                .unwrap_or(false)
    }
}

/// Sends SIGKILL to a whole process group.
pub fn kill_group(pgid: i32) {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    if pgid > 0 {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
}

/// Keeps a session busy while alive.
#[derive(Debug)]
pub struct BusyGuard(Arc<SessionState>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
        self.0.touch();
    }
}

/// All live sessions.
#[derive(Debug)]
pub struct Sessions {
    data_dir: PathBuf,
    max_idle: Option<Duration>,
    live: Mutex<HashMap<SessionKey, Arc<SessionState>>>,
}

impl Sessions {
    /// An empty registry storing under `data_dir`; clears scratch left by a previous run.
    /// `max_idle` caps every runtime's idle timeout.
    pub fn new(data_dir: &Path, max_idle: Option<Duration>) -> Self {
        let _ = std::fs::remove_dir_all(data_dir.join("scratch"));
        Self {
            data_dir: data_dir.to_owned(),
            max_idle,
            live: Mutex::new(HashMap::new()),
        }
    }

    /// The session `session_id` of `runtime`, created if it is not running.
    pub fn get_or_start(
        &self,
        runtime: &StoredRuntime,
        session_id: &str,
    ) -> std::io::Result<Arc<SessionState>> {
        let key = SessionKey {
            runtime_id: runtime.id.clone(),
            session_id: session_id.to_owned(),
        };
        let mut live = self
            .live
            .lock()
            .map_err(|_| std::io::Error::other("session registry poisoned"))?;
        if let Some(s) = live.get(&key) {
            s.touch();
            return Ok(s.clone());
        }
        let dir = session_dir_name(session_id);
        let mut mounts = Vec::new();
        for (path, kind) in runtime.mounts() {
            let host_dir = match kind {
                MountKind::SessionStorage => self
                    .data_dir
                    .join("storage")
                    .join(&runtime.id)
                    .join(&dir)
                    .join(path.name()),
                MountKind::Shared => self
                    .data_dir
                    .join("shared")
                    .join(&runtime.id)
                    .join(path.name()),
            };
            std::fs::create_dir_all(&host_dir)?;
            mounts.push(Mount {
                path: path.normalized().to_owned(),
                host_dir,
            });
        }
        let scratch = self
            .data_dir
            .join("scratch")
            .join(&runtime.id)
            .join(format!("{dir}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&scratch)?;
        let state = Arc::new(SessionState {
            key: key.clone(),
            mounts,
            scratch,
            env: runtime.environment(),
            stopped: CancellationToken::new(),
            idle_timeout: match self.max_idle {
                Some(max) => runtime.idle_timeout().min(max),
                None => runtime.idle_timeout(),
            },
            last_activity: Mutex::new(Instant::now()),
            active: AtomicUsize::new(0),
            process_groups: Mutex::new(HashSet::new()),
            agent: tokio::sync::Mutex::new(None),
        });
        tracing::info!(runtime = %key.runtime_id, session = %key.session_id, "session started");
        live.insert(key, state.clone());
        Ok(state)
    }

    /// The running session, if any.
    pub fn get(&self, key: &SessionKey) -> Option<Arc<SessionState>> {
        self.live.lock().ok()?.get(key).cloned()
    }

    /// Stops a session: kills its processes, deletes its scratch, keeps its storage.
    /// Returns whether it was running.
    pub fn stop(&self, key: &SessionKey) -> bool {
        let removed = self.live.lock().ok().and_then(|mut l| l.remove(key));
        match removed {
            Some(s) => {
                stop_state(&s);
                true
            }
            None => false,
        }
    }

    /// Stops every session of a runtime (on delete).
    pub fn stop_runtime(&self, runtime_id: &str) {
        let keys: Vec<SessionKey> = self
            .live
            .lock()
            .map(|l| {
                l.keys()
                    .filter(|k| k.runtime_id == runtime_id)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for k in keys {
            self.stop(&k);
        }
    }

    /// Stops sessions idle longer than their runtime's idle timeout.
    pub fn reap_idle(&self) {
        let idle: Vec<SessionKey> = self
            .live
            .lock()
            .map(|l| {
                l.values()
                    .filter(|s| s.is_idle())
                    .map(|s| s.key.clone())
                    .collect()
            })
            .unwrap_or_default();
        for k in idle {
            tracing::info!(runtime = %k.runtime_id, session = %k.session_id, "idle timeout");
            self.stop(&k);
        }
    }

    /// Stops everything (server shutdown).
    pub fn stop_all(&self) {
        let all: Vec<Arc<SessionState>> = self
            .live
            .lock()
            .map(|mut l| l.drain().map(|(_, s)| s).collect())
            .unwrap_or_default();
        for s in all {
            stop_state(&s);
        }
    }

    /// How many sessions are running.
    pub fn len(&self) -> usize {
        self.live.lock().map(|l| l.len()).unwrap_or(0)
    }

    /// `true` when none is running.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn stop_state(s: &SessionState) {
    s.stopped.cancel();
    s.kill_all();
    let _ = std::fs::remove_dir_all(&s.scratch);
    tracing::info!(runtime = %s.key.runtime_id, session = %s.key.session_id, "session stopped");
}
