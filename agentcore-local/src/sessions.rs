//! Runtime sessions: the local stand-in for a session's microVM.
//!
//! A session is created by the first call that names it and lives until
//! StopRuntimeSession, its idle timeout, its max lifetime, or server shutdown. Each session
//! has its own [`Sandbox`]; stopping kills every process in it (commands, agent, shells) and
//! deletes its writable layer; its session storage stays on disk, so the next call with the
//! same session id sees the same files.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::sandbox::{
    Isolation, Limits, Mount, NETWORK_ENV, Network, Sandbox, SandboxConfig, User,
};
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
pub struct SessionState {
    /// Its key.
    pub key: SessionKey,
    /// Its sandbox (the microVM stand-in).
    pub sandbox: Sandbox,
    /// Runtime environment variables (redacted in `Debug`).
    pub env: Vec<(String, String)>,
    /// Cancelled when the session stops.
    pub stopped: CancellationToken,
    idle_timeout: Duration,
    max_lifetime: Duration,
    started: Instant,
    last_activity: Mutex<Instant>,
    active: AtomicUsize,
    process_groups: Mutex<HashSet<i32>>,
    /// The agent process of this session, started on first invocation.
    pub agent: tokio::sync::Mutex<Option<crate::agent::AgentProcess>>,
}

impl std::fmt::Debug for SessionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionState")
            .field("key", &self.key)
            .field("sandbox", &self.sandbox)
            .field(
                "env",
                &self.env.iter().map(|(k, _)| (k, "***")).collect::<Vec<_>>(),
            )
            .field("idle_timeout", &self.idle_timeout)
            .field("max_lifetime", &self.max_lifetime)
            .finish_non_exhaustive()
    }
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

    /// Remembers a process group to kill when the session stops (needed only where the
    /// sandbox does not contain its processes).
    pub fn track(&self, pgid: i32) {
        if self.sandbox.contains_processes() {
            return;
        }
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

    /// A command that runs `program args` as `user` in this session's sandbox, with the
    /// session's environment and stdin closed. Callers put it in its own process group (or
    /// session, for a PTY).
    pub fn command(&self, user: User, program: &str, args: &[&str]) -> tokio::process::Command {
        let mut cmd = self.sandbox.command(user, program, args);
        cmd.env("AGENTCORE_SESSION_ID", &self.key.session_id)
            .env("AGENTCORE_RUNTIME_ID", &self.key.runtime_id)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    fn kill_all(&self) {
        self.sandbox.shutdown();
        let groups: Vec<i32> = self
            .process_groups
            .lock()
            .map(|mut g| g.drain().collect())
            .unwrap_or_default();
        for pgid in groups {
            kill_group(pgid);
        }
    }

    fn expired(&self) -> Option<&'static str> {
        if self.started.elapsed() >= self.max_lifetime {
            return Some("max lifetime");
        }
        let idle = self.active.load(Ordering::SeqCst) == 0
            && self
                .last_activity
                .lock()
                .map(|t| t.elapsed() >= self.idle_timeout)
                .unwrap_or(false);
        idle.then_some("idle timeout")
    }
}

/// Sends SIGKILL to a whole process group. Only for a group whose leader is a child of ours
/// that has not been reaped yet (so the id cannot have been reused).
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

/// How sessions are made.
#[derive(Debug, Clone)]
pub struct SessionsConfig {
    /// The data directory.
    pub data_dir: PathBuf,
    /// Caps every runtime's idle timeout.
    pub max_idle: Option<Duration>,
    /// Caps every runtime's max lifetime.
    pub max_lifetime: Option<Duration>,
    /// The isolation mode.
    pub isolation: Isolation,
    /// The server-wide network mode (a runtime may override it with [`NETWORK_ENV`]).
    pub network: Network,
    /// Per-session limits.
    pub limits: Limits,
}

/// How many sandboxes are set up concurrently.
const STARTS_AT_ONCE: usize = 8;

type Slot = Arc<tokio::sync::OnceCell<Arc<SessionState>>>;

/// All live sessions.
#[derive(Debug)]
pub struct Sessions {
    cfg: SessionsConfig,
    /// Sandboxes set up at once: a burst of new sessions queues here instead of every setup
    /// racing for the CPU until each one times out.
    starting: tokio::sync::Semaphore,
    live: Mutex<HashMap<SessionKey, Slot>>,
}

impl Sessions {
    /// An empty registry; clears scratch left by a previous run.
    pub fn new(cfg: SessionsConfig) -> Self {
        let _ = std::fs::remove_dir_all(cfg.data_dir.join("scratch"));
        Self {
            cfg,
            starting: tokio::sync::Semaphore::new(STARTS_AT_ONCE),
            live: Mutex::new(HashMap::new()),
        }
    }

    /// The session `session_id` of `runtime`, created (with its sandbox) if it is not running.
    /// `code` is the agent's code, bound at `/var/task`.
    pub async fn get_or_start(
        &self,
        runtime: &StoredRuntime,
        session_id: &str,
        code: Option<&Path>,
    ) -> std::io::Result<Arc<SessionState>> {
        let key = SessionKey {
            runtime_id: runtime.id.clone(),
            session_id: session_id.to_owned(),
        };
        let slot = self
            .live
            .lock()
            .map_err(|_| std::io::Error::other("session registry poisoned"))?
            .entry(key.clone())
            .or_default()
            .clone();
        let result = slot
            .get_or_try_init(|| self.start(runtime, key.clone(), code))
            .await
            .cloned();
        match result {
            Ok(s) => {
                s.touch();
                Ok(s)
            }
            Err(e) => {
                if let Ok(mut live) = self.live.lock() {
                    if live.get(&key).is_some_and(|s| Arc::ptr_eq(s, &slot)) {
                        live.remove(&key);
                    }
                }
                Err(e)
            }
        }
    }

    async fn start(
        &self,
        runtime: &StoredRuntime,
        key: SessionKey,
        code: Option<&Path>,
    ) -> std::io::Result<Arc<SessionState>> {
        let dir = session_dir_name(&key.session_id);
        let data_dir = &self.cfg.data_dir;
        let mut mounts = Vec::new();
        for (path, kind) in runtime.mounts() {
            let host_dir = match kind {
                MountKind::SessionStorage => data_dir
                    .join("storage")
                    .join(&runtime.id)
                    .join(&dir)
                    .join(path.name()),
                MountKind::Shared => data_dir.join("shared").join(&runtime.id).join(path.name()),
            };
            std::fs::create_dir_all(&host_dir)?;
            mounts.push(Mount {
                path: path.normalized().to_owned(),
                host_dir,
            });
        }
        let instance = uuid::Uuid::new_v4().simple().to_string();
        let scratch = data_dir
            .join("scratch")
            .join(&runtime.id)
            .join(format!("{dir}-{instance}"));
        std::fs::create_dir_all(&scratch)?;
        let env = runtime.environment();
        let network = match env.iter().find(|(k, _)| k == NETWORK_ENV) {
            Some((_, v)) => v.parse::<Network>().map_err(std::io::Error::other)?,
            None => self.cfg.network,
        };
        if network == Network::Host {
            tracing::warn!(runtime = %key.runtime_id, "session on the host network: it can reach every loopback service, agentcore-local's API included");
        }
        let hidden = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.clone());
        let storage = data_dir.join("storage").join(&runtime.id).join(&dir);
        let private = if storage.is_dir() {
            vec![storage]
        } else {
            Vec::new()
        };
        let _permit = self
            .starting
            .acquire()
            .await
            .map_err(std::io::Error::other)?;
        let sandbox = Sandbox::start(SandboxConfig {
            isolation: self.cfg.isolation,
            network,
            limits: self.cfg.limits,
            mounts,
            scratch,
            private,
            hidden: vec![hidden],
            code: code.map(Path::to_owned),
            name: format!("{}-{instance}", runtime.id),
        })
        .await?;
        let cap = |v: Duration, max: Option<Duration>| max.map_or(v, |m| v.min(m));
        let state = Arc::new(SessionState {
            key: key.clone(),
            sandbox,
            env,
            stopped: CancellationToken::new(),
            idle_timeout: cap(runtime.idle_timeout(), self.cfg.max_idle),
            max_lifetime: cap(runtime.max_lifetime(), self.cfg.max_lifetime),
            started: Instant::now(),
            last_activity: Mutex::new(Instant::now()),
            active: AtomicUsize::new(0),
            process_groups: Mutex::new(HashSet::new()),
            agent: tokio::sync::Mutex::new(None),
        });
        tracing::info!(runtime = %key.runtime_id, session = %key.session_id, "session started");
        Ok(state)
    }

    /// The running session, if any.
    pub fn get(&self, key: &SessionKey) -> Option<Arc<SessionState>> {
        self.live.lock().ok()?.get(key)?.get().cloned()
    }

    /// Stops a session: kills its processes, deletes its writable layer, keeps its storage.
    /// Returns whether it was running.
    pub fn stop(&self, key: &SessionKey) -> bool {
        let removed = self.live.lock().ok().and_then(|mut l| l.remove(key));
        match removed.as_ref().and_then(|s| s.get()) {
            Some(s) => {
                stop_state(s);
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

    /// Stops sessions idle longer than their runtime's idle timeout, or older than its max
    /// lifetime.
    pub fn reap_idle(&self) {
        let expired: Vec<(SessionKey, &'static str)> = self
            .live
            .lock()
            .map(|l| {
                l.values()
                    .filter_map(|s| s.get())
                    .filter_map(|s| s.expired().map(|why| (s.key.clone(), why)))
                    .collect()
            })
            .unwrap_or_default();
        for (k, why) in expired {
            tracing::info!(runtime = %k.runtime_id, session = %k.session_id, "{why}");
            self.stop(&k);
        }
    }

    /// Stops everything (server shutdown).
    pub fn stop_all(&self) {
        let all: Vec<Slot> = self
            .live
            .lock()
            .map(|mut l| l.drain().map(|(_, s)| s).collect())
            .unwrap_or_default();
        for s in all.iter().filter_map(|s| s.get()) {
            stop_state(s);
        }
    }

    /// How many sessions are running.
    pub fn len(&self) -> usize {
        self.live
            .lock()
            .map(|l| l.values().filter(|s| s.initialized()).count())
            .unwrap_or(0)
    }

    /// `true` when none is running.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn stop_state(s: &SessionState) {
    s.stopped.cancel();
    s.kill_all();
    tracing::info!(runtime = %s.key.runtime_id, session = %s.key.session_id, "session stopped");
}
