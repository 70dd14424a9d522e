//! Runtime sessions: the local stand-in for a session's microVM.
//!
//! A session is created by the first call that names it and lives until
//! StopRuntimeSession, its idle timeout, its max lifetime, or server shutdown. Each session
//! has its own [`Sandbox`]; stopping kills every process in it (commands, agent, shells) and
//! drops its writable layer; its session storage stays on disk, so the next call with the
//! same session id sees the same files.
//!
//! At most one sandbox per session exists at any time, also under races: a stop that comes
//! while the sandbox is still being set up ends that set-up (the callers waiting on it get
//! an error, nothing is left running), and the next call for the same session id waits
//! until every process of the previous sandbox is gone before it starts a new one on the
//! same storage.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::sandbox::{
    Host, Mount, NETWORK_ENV, Network, Process, ProcessSpec, Sandbox, SessionSandbox, Stdio, User,
    effective_network,
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

/// The `PATH` every session process starts with (a runtime's own `PATH` variable replaces
/// it, inside the sandbox only).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

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

    /// What `program args` runs as `user` with: the session's environment (fixed variables,
    /// the session's ids, then the runtime's variables, which may override them) and the
    /// user's home as working directory. `program` is an absolute path inside.
    pub fn process(
        &self,
        user: User,
        program: &str,
        args: &[&str],
        extra_env: &[(&str, &str)],
        stdio: Stdio,
    ) -> ProcessSpec {
        let mut env: Vec<(String, String)> = [
            ("PATH", DEFAULT_PATH),
            ("HOME", user.home()),
            ("USER", user.name()),
            ("LOGNAME", user.name()),
            ("LANG", "C.UTF-8"),
            ("AGENTCORE_SESSION_ID", self.key.session_id.as_str()),
            ("AGENTCORE_RUNTIME_ID", self.key.runtime_id.as_str()),
        ]
        .iter()
        .chain(extra_env)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (k, v) in &self.env {
            env.retain(|(name, _)| name != k);
            env.push((k.clone(), v.clone()));
        }
        let text = |s: &str| match self.sandbox.path_map() {
            Some(m) => m.to_host(s),
            None => s.to_owned(),
        };
        ProcessSpec {
            program: program.to_owned(),
            args: args.iter().map(|a| text(a)).collect(),
            env,
            cwd: user.home().to_owned(),
            user,
            stdio,
        }
    }

    /// Starts a process in the session's sandbox.
    pub async fn spawn(&self, spec: ProcessSpec) -> std::io::Result<Process> {
        self.sandbox.spawn(spec).await
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
    /// The operator's network mode.
    pub network: Network,
    /// Whether a runtime may choose a wider network than the operator's.
    pub allow_runtime_network: bool,
    /// A pause before each sandbox is set up (tests of races with set-up).
    pub setup_delay: Option<Duration>,
}

/// How many sandboxes are set up concurrently.
const STARTS_AT_ONCE: usize = 16;

/// One session id's place in the table, from the first call until it is stopped.
#[derive(Debug, Default)]
struct Slot {
    state: tokio::sync::OnceCell<Arc<SessionState>>,
    /// A stop came (maybe while the sandbox was still being set up).
    stopping: AtomicBool,
}

/// All live sessions.
#[derive(Debug)]
pub struct Sessions {
    cfg: SessionsConfig,
    host: Arc<Host>,
    /// Sandboxes set up at once: a burst of new sessions queues here instead of every setup
    /// racing for the CPU until each one times out.
    starting: tokio::sync::Semaphore,
    live: Mutex<HashMap<SessionKey, Arc<Slot>>>,
    /// Sessions whose previous sandbox is still going away: `true` once it is gone.
    teardown: Mutex<HashMap<SessionKey, watch::Receiver<bool>>>,
    /// The client tokens of the last stops that stopped a session (at most
    /// [`STOP_TOKENS_KEPT`]): a retried stop gets the answer the first one got.
    stop_tokens: Mutex<std::collections::VecDeque<(String, SessionKey)>>,
}

/// How many stop client tokens are remembered for idempotent retries.
const STOP_TOKENS_KEPT: usize = 4096;

impl Sessions {
    /// An empty registry on `host`.
    pub fn new(cfg: SessionsConfig, host: Arc<Host>) -> Self {
        Self {
            cfg,
            host,
            starting: tokio::sync::Semaphore::new(STARTS_AT_ONCE),
            live: Mutex::new(HashMap::new()),
            teardown: Mutex::new(HashMap::new()),
            stop_tokens: Mutex::new(std::collections::VecDeque::new()),
        }
    }

    /// The sandboxes' host.
    pub fn host(&self) -> &Arc<Host> {
        &self.host
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
        // A previous sandbox of this session may still be dying: never two on one storage.
        let gone = self.teardown.lock().ok().and_then(|t| t.get(&key).cloned());
        if let Some(mut gone) = gone {
            let _ = gone.wait_for(|g| *g).await;
            if let Ok(mut t) = self.teardown.lock() {
                if t.get(&key).is_some_and(|r| *r.borrow()) {
                    t.remove(&key);
                }
            }
        }
        let slot = self
            .live
            .lock()
            .map_err(|_| std::io::Error::other("session registry poisoned"))?
            .entry(key.clone())
            .or_default()
            .clone();
        let result = slot
            .state
            .get_or_try_init(|| self.start(runtime, key.clone(), code))
            .await
            .cloned();
        match result {
            Ok(s) if slot.stopping.load(Ordering::SeqCst) => {
                // Stopped while it was being set up: it must not run on outside the table.
                self.stop_state(&s);
                Err(std::io::Error::new(
                    std::io::ErrorKind::Interrupted,
                    "the session was stopped while it started",
                ))
            }
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
            create_dirs(data_dir, &host_dir)?;
            mounts.push(Mount {
                path: path.normalized().to_owned(),
                host_dir,
            });
        }
        let env = runtime.environment();
        let requested = match env.iter().find(|(k, _)| k == NETWORK_ENV) {
            Some((_, v)) => Some(v.parse::<Network>().map_err(std::io::Error::other)?),
            None => None,
        };
        let (network, warning) =
            effective_network(self.cfg.network, requested, self.cfg.allow_runtime_network);
        if let Some(w) = warning {
            tracing::warn!(runtime = %key.runtime_id, "{w}");
        }
        let _permit = self
            .starting
            .acquire()
            .await
            .map_err(std::io::Error::other)?;
        if let Some(d) = self.cfg.setup_delay {
            tokio::time::sleep(d).await;
        }
        let sandbox = self
            .host
            .sandbox(SessionSandbox {
                network,
                mounts,
                code: code.map(Path::to_owned),
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
            agent: tokio::sync::Mutex::new(None),
        });
        tracing::info!(runtime = %key.runtime_id, session = %key.session_id, "session started");
        Ok(state)
    }

    /// The running session, if any.
    pub fn get(&self, key: &SessionKey) -> Option<Arc<SessionState>> {
        self.live.lock().ok()?.get(key)?.state.get().cloned()
    }

    /// Stops a session: kills its processes, drops its writable layer, keeps its storage.
    /// Returns whether it was running (or starting).
    pub fn stop(&self, key: &SessionKey) -> bool {
        let removed = self.live.lock().ok().and_then(|mut l| l.remove(key));
        let Some(slot) = removed else {
            return false;
        };
        slot.stopping.store(true, Ordering::SeqCst);
        match slot.state.get() {
            Some(s) => self.stop_state(s),
            None => {
                // Still being set up: whoever set it up stops it when done (see
                // `get_or_start`); until then the next start of this session waits.
                let (tx, rx) = watch::channel(false);
                if let Ok(mut t) = self.teardown.lock() {
                    t.insert(key.clone(), rx);
                }
                let slot = slot.clone();
                tokio::spawn(async move {
                    // The set-up either finishes (and is then stopped and gone) or fails.
                    for _ in 0..600 {
                        if let Some(s) = slot.state.get() {
                            s.sandbox.gone().await;
                            break;
                        }
                        if Arc::strong_count(&slot) == 1 {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    let _ = tx.send(true);
                });
            }
        }
        true
    }

    /// StopRuntimeSession: stops the session and waits until it is gone. `true` when it was
    /// running, or when `client_token` is that of an earlier stop of this session that
    /// stopped it — a retry (also one that arrives while the first is still waiting, or after
    /// the first's caller went away) gets the first answer and stops nothing, not even a
    /// session started again since; `false` — the service's ResourceNotFoundException — for a
    /// session that is not running: never started, or stopped already.
    pub async fn stop_requested(&self, key: &SessionKey, client_token: Option<&str>) -> bool {
        let seen = |token: &str| {
            self.stop_tokens
                .lock()
                .is_ok_and(|t| t.iter().any(|(t, k)| t == token && k == key))
        };
        let was = if client_token.is_some_and(seen) {
            true
        } else {
            // Remembered as soon as the session is stopped, before the wait below: a retry
            // during the wait, or after this request was dropped in it, is answered too.
            let was = self.stop(key);
            if let (true, Some(token), Ok(mut tokens)) =
                (was, client_token, self.stop_tokens.lock())
            {
                if tokens.len() >= STOP_TOKENS_KEPT {
                    tokens.pop_front();
                }
                tokens.push_back((token.to_owned(), key.clone()));
            }
            was
        };
        self.wait_gone(key).await;
        was
    }

    /// Stops a session and waits (up to 10 s) until every process of it is gone.
    pub async fn stop_and_wait(&self, key: &SessionKey) -> bool {
        let was = self.stop(key);
        self.wait_gone(key).await;
        was
    }

    /// Waits (up to 10 s) until the last stopped sandbox of `key`, if any, is gone.
    async fn wait_gone(&self, key: &SessionKey) {
        let gone = self.teardown.lock().ok().and_then(|t| t.get(key).cloned());
        if let Some(mut g) = gone {
            let _ = tokio::time::timeout(Duration::from_secs(10), g.wait_for(|d| *d)).await;
        }
    }

    fn stop_state(&self, s: &Arc<SessionState>) {
        let first = !s.stopped.is_cancelled();
        s.stopped.cancel();
        s.sandbox.shutdown();
        if first {
            if let Ok(mut t) = self.teardown.lock() {
                t.insert(s.key.clone(), s.sandbox.gone_watch());
            }
            tracing::info!(runtime = %s.key.runtime_id, session = %s.key.session_id, "session stopped");
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
                    .filter_map(|s| s.state.get())
                    .filter_map(|s| s.expired().map(|why| (s.key.clone(), why)))
                    .collect()
            })
            .unwrap_or_default();
        for (k, why) in expired {
            tracing::info!(runtime = %k.runtime_id, session = %k.session_id, "{why}");
            self.stop(&k);
        }
    }

    /// Running sessions past their idle timeout (not their max lifetime): the reaper asks
    /// their agents whether they are busy before it stops them.
    pub fn idle(&self) -> Vec<Arc<SessionState>> {
        self.live
            .lock()
            .map(|l| {
                l.values()
                    .filter_map(|s| s.state.get())
                    .filter(|s| s.expired() == Some("idle timeout"))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Stops everything (server shutdown).
    pub fn stop_all(&self) {
        let all: Vec<SessionKey> = self
            .live
            .lock()
            .map(|l| l.keys().cloned().collect())
            .unwrap_or_default();
        for k in all {
            self.stop(&k);
        }
    }

    /// Waits until every stopped session's processes are gone (or `limit` passes).
    pub async fn settle(&self, limit: Duration) {
        let waits: Vec<watch::Receiver<bool>> = self
            .teardown
            .lock()
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default();
        let all = async {
            for mut w in waits {
                let _ = w.wait_for(|g| *g).await;
            }
        };
        let _ = tokio::time::timeout(limit, all).await;
    }

    /// How many sessions are running.
    pub fn len(&self) -> usize {
        self.live
            .lock()
            .map(|l| l.values().filter(|s| s.state.initialized()).count())
            .unwrap_or(0)
    }

    /// How many sessions are being set up.
    pub fn starting(&self) -> usize {
        self.live
            .lock()
            .map(|l| l.values().filter(|s| !s.state.initialized()).count())
            .unwrap_or(0)
    }

    /// `true` when none is running.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Creates a storage directory and its parents below the data directory, each closed to
/// other host users (no path from them to a session's files).
fn create_dirs(data_dir: &Path, dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    // The storage directory itself is writable by every user inside (the shell user too).
    let _ = data_dir;
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o777))
}
