//! # agentcore-local
//!
//! A local Amazon Bedrock AgentCore Runtime. It speaks the service's wire protocol (both
//! planes on one loopback listener) and does the real work with local processes: every
//! command is a fresh `bash -c`, agents are hosted per session per the container contract,
//! and session storage is a per-session directory mounted at its real path (`/mnt/...`)
//! inside a mount namespace. Runtimes and session storage persist in the data directory.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use agentcore_local::LocalRuntime;
//!
//! let local = LocalRuntime::builder().start().await?;
//! let client = local.client();
//! let rt = client
//!     .create_agent_runtime()
//!     .name("coder")
//!     .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/coder:latest")
//!     .role_arn("arn:aws:iam::123456789012:role/local")
//!     .session_storage("/mnt/workspace")
//!     .send()
//!     .await?;
//! client.wait_until_ready(rt.agent_runtime_id.as_str()).send().await?;
//! let session = client.session(&rt.agent_runtime_arn)?;
//! let out = session.command("echo hi > /mnt/workspace/f && cat /mnt/workspace/f").output().await?;
//! assert_eq!(out.stdout, "hi\n");
//! local.shutdown().await;
//! # Ok(()) }
//! ```

// Nothing a client, a command or a file on disk sends may panic the server: no unchecked
// indexing, unwrap / expect or overflowing arithmetic outside tests (each exception says why).
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::arithmetic_side_effects
    )
)]
#![warn(missing_docs)]

/// `#[agentcore_local::test]`: a test with its own local runtime and a ready `Session`.
///
/// ```no_run
/// #[agentcore_local::test]
/// async fn workspace_persists(session: agentcore_sdk::Session) {
///     session.run("echo hi > /mnt/workspace/f").await.unwrap();
///     assert_eq!(session.run("cat /mnt/workspace/f").await.unwrap().stdout, "hi\n");
/// }
/// ```
///
/// Parameters may be `Session`, `Client`, `RuntimeArn` or `&LocalRuntime`; options:
/// `#[agentcore_local::test(mount_path = "/mnt/data", agent = "python3 agent.py")]`. It expands
/// to this crate's [`testing`] module, so it lives here, in the crate you name.
pub use agentcore_sdk_macros::test;

pub mod agent;
pub mod api_error;
pub mod auth;
pub mod cli;
pub mod command;
pub mod faults;
pub mod peer;
pub mod sandbox;
pub mod server;
pub mod session_endpoint;
pub mod sessions;
pub mod shell;
pub mod store;
pub mod testing;
pub mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use agent::AgentSpec;
pub use faults::{FaultPlan, ServiceStats};
pub use sandbox::{Isolation, IsolationReport, Limits, Network};

/// The region the local runtime reports in ARNs.
pub const REGION: &str = "us-east-1";

/// Configures and starts a [`LocalRuntime`].
#[derive(Debug, Default)]
pub struct LocalRuntimeBuilder {
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    agents: Vec<AgentSpec>,
    ready_delay: Option<Duration>,
    isolation: Option<Isolation>,
    reap_interval: Option<Duration>,
    max_idle_timeout: Option<Duration>,
    max_lifetime: Option<Duration>,
    network: Network,
    allow_runtime_network: bool,
    limits: Limits,
    pool: Option<usize>,
    setup_delay: Option<Duration>,
    allow_other_users: bool,
    insecure_public: bool,
    verifier: Option<auth::Verifier>,
    tls: Option<tls::TlsConfig>,
    region: Option<String>,
    faults: Option<FaultPlan>,
    command_rate_limit: Option<u32>,
}

impl LocalRuntimeBuilder {
    /// Where runtimes and session storage live (kept across restarts). Default: a temporary
    /// directory removed at shutdown.
    pub fn data_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.data_dir = Some(dir.as_ref().to_owned());
        self
    }

    /// The address to listen on (default `127.0.0.1:0`, a free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// Hosts runtimes matching `name` (runtime name, container URI or `*`) with `command`,
    /// run by `sh -c` inside each session's sandbox. The sandbox shows only the host's system
    /// directories: an agent program elsewhere needs [`agent_with_code`](Self::agent_with_code).
    pub fn agent(mut self, name: impl Into<String>, command: impl Into<String>) -> Self {
        self.agents.push(AgentSpec {
            name: name.into(),
            command: command.into(),
            code: None,
        });
        self
    }

    /// Like [`agent`](Self::agent), with the agent's code (a host file or directory) bound
    /// read-only at `/var/task` (a directory) or `/var/task/<file name>` (a file), where
    /// `command` runs:
    ///
    /// ```no_run
    /// # async fn f() -> std::io::Result<()> {
    /// let exe = std::env::current_exe()?;
    /// let local = agentcore_local::LocalRuntime::builder()
    ///     .agent_with_code("coder", "exec ./my-agent --serve", exe)
    ///     .start()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn agent_with_code(
        mut self,
        name: impl Into<String>,
        command: impl Into<String>,
        code: impl Into<PathBuf>,
    ) -> Self {
        self.agents.push(AgentSpec {
            name: name.into(),
            command: command.into(),
            code: Some(code.into()),
        });
        self
    }

    /// The network of every session (default [`Network::Private`]). A runtime may ask for a
    /// narrower one with the environment variable [`sandbox::NETWORK_ENV`], never a wider one
    /// unless [`allow_runtime_network`](Self::allow_runtime_network).
    pub fn network(mut self, network: Network) -> Self {
        self.network = network;
        self
    }

    /// Lets runtimes choose a wider network than [`network`](Self::network) (the host's, say)
    /// with [`sandbox::NETWORK_ENV`]. Off by default: the operator's mode is the widest.
    pub fn allow_runtime_network(mut self, yes: bool) -> Self {
        self.allow_runtime_network = yes;
        self
    }

    /// Serves every local user on loopback. By default only the user that started the
    /// server (and root) may use the API: it runs commands in every session and holds every
    /// runtime's environment; other users' connections get 403 `AccessDeniedException`.
    pub fn allow_other_users(mut self, yes: bool) -> Self {
        self.allow_other_users = yes;
        self
    }

    /// Pauses before every sandbox is set up, to test races with set-up. Not for use.
    #[doc(hidden)]
    pub fn __setup_delay(mut self, d: Duration) -> Self {
        self.setup_delay = Some(d);
        self
    }

    /// How many sandboxes are kept built ahead of new sessions (default 2; 0 builds each on
    /// demand).
    pub fn sandbox_pool(mut self, n: usize) -> Self {
        self.pool = Some(n);
        self
    }

    /// Per-session limits (default 2 vCPU, 8 GiB, 4,096 processes).
    pub fn session_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Caps every runtime's `maxLifetime`, to exercise it quickly in tests.
    pub fn max_lifetime(mut self, d: Duration) -> Self {
        self.max_lifetime = Some(d);
        self
    }

    /// The region of ARNs made for unsigned requests (default [`REGION`]); signed requests get
    /// ARNs in the region they were signed for.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Serves HTTPS / WSS with this certificate chain and private key (PEM), for clients that
    /// only speak TLS (such as the official Python SDK's shell client). The endpoint is then
    /// `https://…`. Checked at [`start`](Self::start).
    pub fn tls(mut self, cert_chain_pem: impl Into<Vec<u8>>, key_pem: impl Into<Vec<u8>>) -> Self {
        self.tls = Some(tls::TlsConfig {
            cert_chain_pem: cert_chain_pem.into(),
            key_pem: key_pem.into(),
        });
        self
    }

    /// Allows listening on a non-loopback address without signature verification. Anyone
    /// who reaches the port can then run commands in every session.
    pub fn insecure_public(mut self, yes: bool) -> Self {
        self.insecure_public = yes;
        self
    }

    /// Injects faults at the plan's rates (throttling, 409 conflicts, 5xx, cut streams, slow
    /// session starts; see [`FaultPlan`]). Off by default.
    pub fn faults(mut self, plan: FaultPlan) -> Self {
        self.faults = Some(plan);
        self
    }

    /// Answers commands beyond `n` per second per agent runtime with 429
    /// `ThrottlingException`, as the service does at 25. Off by default, so benchmarks
    /// measure the server rather than the quota.
    pub fn command_rate_limit(mut self, n: u32) -> Self {
        self.command_rate_limit = Some(n);
        self
    }

    /// How long new runtimes stay `CREATING` before `READY` (default 300 ms).
    pub fn ready_delay(mut self, d: Duration) -> Self {
        self.ready_delay = Some(d);
        self
    }

    /// Force an isolation mode instead of taking the best this host offers (also settable for
    /// a whole program with the environment variable [`sandbox::ISOLATION_ENV`]). A forced
    /// sandbox mode that cannot be had makes [`start`](Self::start) fail with the reason.
    pub fn isolation(mut self, i: Isolation) -> Self {
        self.isolation = Some(i);
        self
    }

    /// How often idle sessions are looked for (default 1 s).
    pub fn reap_interval(mut self, d: Duration) -> Self {
        self.reap_interval = Some(d);
        self
    }

    /// Caps every runtime's `idleRuntimeSessionTimeout` (whose minimum on AWS is 60 s), to
    /// exercise idle expiry quickly in tests.
    pub fn max_idle_timeout(mut self, d: Duration) -> Self {
        self.max_idle_timeout = Some(d);
        self
    }

    /// Verify SigV4 signatures (headers and presigned URLs) against these access keys, and
    /// bearer tokens on shell upgrades, invocations and session endpoints against `bearer_tokens`.
    /// Off by default.
    pub fn verify_sigv4(
        mut self,
        keys: impl IntoIterator<Item = (String, String)>,
        bearer_tokens: impl IntoIterator<Item = String>,
    ) -> Self {
        self.verifier = Some(auth::Verifier {
            keys: keys.into_iter().collect(),
            bearer_tokens: bearer_tokens.into_iter().collect(),
        });
        self
    }

    /// Binds, loads state, and serves in the background.
    pub async fn start(self) -> std::io::Result<LocalRuntime> {
        let (data_dir, temp) = match self.data_dir {
            Some(d) => (d, None),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("agentcore-local-")
                    .tempdir()?;
                (t.path().to_owned(), Some(t))
            }
        };
        let listen = self.listen.unwrap_or(([127, 0, 0, 1], 0).into());
        if !listen.ip().is_loopback() && self.verifier.is_none() && !self.insecure_public {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "refusing to listen on {listen} without signature verification: anyone who \
                     reaches it could run commands in every session (verify SigV4, or opt in \
                     with insecure_public / --insecure-public)"
                ),
            ));
        }
        create_private_dir(&data_dir)?;
        // Sandboxes mount from these paths after changing directory: make them absolute
        // now, and fail here (not at each session) when agent code is missing.
        let data_dir = std::fs::canonicalize(&data_dir)?;
        let mut agents = self.agents;
        for a in &mut agents {
            if let Some(code) = &mut a.code {
                *code = std::fs::canonicalize(&*code).map_err(|e| {
                    std::io::Error::new(
                        e.kind(),
                        format!("the code of agent {:?} ({}): {e}", a.name, code.display()),
                    )
                })?;
            }
        }
        let isolation = match self.isolation {
            Some(i) => Some(i),
            None => match std::env::var(sandbox::ISOLATION_ENV) {
                Ok(v) if !v.is_empty() && v != "auto" => {
                    Some(v.parse::<Isolation>().map_err(|e| {
                        std::io::Error::other(format!("{}: {e}", sandbox::ISOLATION_ENV))
                    })?)
                }
                _ => None,
            },
        };
        let host = sandbox::Host::start(sandbox::HostOptions {
            isolation,
            network: self.network,
            limits: self.limits,
            data_dir: data_dir.clone(),
            code_dirs: agents.iter().filter_map(|a| a.code.clone()).collect(),
            pool: self.pool.unwrap_or(2),
        })
        .await?;
        let report = host.report().clone();
        // Running model-written commands unsandboxed is never a quiet matter, whatever the
        // program's logging.
        if report.isolation == Isolation::None && isolation != Some(Isolation::None) {
            eprintln!("agentcore-local: WARNING: {report}");
        }
        match report.isolation {
            Isolation::None => tracing::warn!("{report}"),
            _ if !report.lacks.is_empty() => tracing::warn!("{report}"),
            _ => tracing::info!("{report}"),
        }
        let host = Arc::new(host);
        // Scratch left by an earlier run (a killed server) goes, in the background.
        let old_scratch = data_dir.join("scratch");
        if old_scratch.exists() {
            let aside = data_dir.join(format!("scratch.old-{}", uuid::Uuid::new_v4().simple()));
            if std::fs::rename(&old_scratch, &aside).is_ok() {
                let h = host.clone();
                tokio::spawn(async move {
                    if let Err(e) = h.remove_tree(&aside).await {
                        tracing::warn!(error = %e, dir = %aside.display(), "cannot remove old scratch");
                    }
                });
            }
        }
        let region = self.region.clone().unwrap_or_else(|| REGION.to_owned());
        let store = store::Store::open(
            &data_dir,
            &region,
            self.ready_delay.unwrap_or(Duration::from_millis(300)),
        )?;
        let state = Arc::new(server::AppState {
            store: Mutex::new(store),
            sessions: sessions::Sessions::new(
                sessions::SessionsConfig {
                    data_dir: data_dir.clone(),
                    max_idle: self.max_idle_timeout,
                    max_lifetime: self.max_lifetime,
                    network: self.network,
                    allow_runtime_network: self.allow_runtime_network,
                    setup_delay: self.setup_delay,
                },
                host.clone(),
            ),
            isolation: report.isolation,
            agents,
            shells: shell::Shells::default(),
            session_endpoints: session_endpoint::SessionEndpoints::new(self.tls.is_some()),
        });
        let tcp = bind_listener(listen)?;
        let addr = tcp.local_addr()?;
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let only_uid = (!self.allow_other_users).then(|| nix::unistd::geteuid().as_raw());
        let listener = match &self.tls {
            Some(t) => Listening::Tls(tls::TlsListener::new(tcp, t.server_config()?, only_uid)?),
            None => Listening::Plain(Guarded {
                tcp,
                local: addr,
                only_uid,
                refusing: Arc::new(tokio::sync::Semaphore::new(REFUSALS_AT_ONCE)),
            }),
        };
        let shutdown = CancellationToken::new();
        let rules = Arc::new(faults::Rules::new(self.faults, self.command_rate_limit));
        let mut app = server::router(state.clone()).layer(axum::middleware::from_fn_with_state(
            rules.clone(),
            faults::apply,
        ));
        if let Some(v) = self.verifier {
            app = app.layer(axum::middleware::from_fn_with_state(
                Arc::new(v),
                auth::verify,
            ));
        }
        let app = app.layer(axum::middleware::from_fn(faults::request_id));
        let serve_token = shutdown.clone();
        let server = tokio::spawn(async move {
            // Small frames (a contentStart, an echoed keystroke) must not wait for Nagle.
            let app = axum::ServiceExt::<axum::extract::Request>::into_make_service(
                tower::ServiceExt::map_request(app, server::normalize),
            );
            let stop = async move { serve_token.cancelled().await };
            match listener {
                Listening::Plain(listener) => {
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(stop)
                        .await;
                }
                Listening::Tls(listener) => {
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(stop)
                        .await;
                }
            }
        });
        let reap_state = state.clone();
        let reap_token = shutdown.clone();
        let every = self.reap_interval.unwrap_or(Duration::from_secs(1));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = reap_token.cancelled() => break,
                    _ = tokio::time::sleep(every) => {
                        // An agent that answers /ping `HealthyBusy` keeps its session.
                        for s in reap_state.sessions.idle() {
                            if agent::reports_busy(&s).await {
                                s.touch();
                            }
                        }
                        reap_state.sessions.reap_idle();
                        reap_state.shells.reap();
                    }
                }
            }
        });
        tracing::info!(%addr, isolation = %report.isolation, data_dir = %data_dir.display(), "agentcore-local listening");
        Ok(LocalRuntime {
            addr,
            scheme,
            region,
            data_dir,
            report,
            state,
            rules,
            shutdown,
            server: Some(server),
            _temp: temp,
        })
    }
}

enum Listening {
    Plain(Guarded),
    Tls(tls::TlsListener),
}

/// A listener on `addr` whose accept queue holds a burst of new clients (a fleet opening a
/// thousand sessions at once): a queue that overflows makes the kernel drop handshakes, and
/// clients then see connections time out. The kernel caps it at `net.core.somaxconn`.
fn bind_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// Accepts TCP connections, refusing loopback clients of other local users (with an
/// AWS-shaped 403) unless every user is allowed.
struct Guarded {
    tcp: TcpListener,
    local: SocketAddr,
    /// The one user (besides root) served on loopback; `None`: everyone.
    only_uid: Option<u32>,
    /// Refusals still draining their connection (see [`peer::refuse`]).
    refusing: Arc<tokio::sync::Semaphore>,
}

/// Refused connections drained at once, at most.
const REFUSALS_AT_ONCE: usize = 64;

/// Whether a connection from `peer` to `local` may be served when only `only_uid` (and root)
/// may use the API.
pub(crate) fn allowed_peer(only_uid: Option<u32>, local: SocketAddr, peer: SocketAddr) -> bool {
    let Some(uid) = only_uid else { return true };
    if !peer.ip().is_loopback() {
        return true;
    }
    matches!(peer::loopback_peer_uid(local, peer), Some(u) if u == uid || u == 0)
}

impl axum::serve::Listener for Guarded {
    type Io = tokio::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, peer) = match self.tcp.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let local = stream.local_addr().unwrap_or(self.local);
            if !allowed_peer(self.only_uid, local, peer) {
                tracing::warn!(%peer, "refused a connection from another local user");
                // At most REFUSALS_AT_ONCE refusals linger; past that, the answer is written
                // if the socket takes it at once, and the connection closed.
                match self.refusing.clone().try_acquire_owned() {
                    Ok(permit) => {
                        tokio::spawn(async move {
                            peer::refuse(stream).await;
                            drop(permit);
                        });
                    }
                    Err(_) => {
                        let _ = stream.try_write(peer::REFUSAL);
                    }
                }
                continue;
            }
            // Small frames (a contentStart, an echoed keystroke) must not wait for Nagle.
            let _ = stream.set_nodelay(true);
            return (stream, peer);
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// Creates `dir` (and parents) when it is new, for its owner only (0700): it holds every
/// runtime's environment variables and every session's storage. An existing directory is
/// used as it is, whatever its mode: what it holds is created closed to other users.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Removes a data directory whole, with every file its sessions made (also those of ids a
/// plain `rm -rf` by the server's user cannot remove: the shell user's files in session
/// storage, with subordinate ids). Refused while a server uses the directory.
pub async fn purge(data_dir: &Path) -> std::io::Result<()> {
    let data_dir = std::fs::canonicalize(data_dir)?;
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(data_dir.join(".lock"))?;
    let _lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::ResourceBusy,
                "a running agentcore-local uses this data directory: stop it first",
            )
        })?;
    let host = sandbox::Host::start(sandbox::HostOptions {
        isolation: None,
        network: Network::None,
        limits: Limits::default(),
        data_dir: data_dir.clone(),
        code_dirs: Vec::new(),
        pool: 0,
    })
    .await?;
    host.remove_tree(&data_dir).await
}

/// A running local runtime. Dropping it stops the server and every session's processes.
#[derive(Debug)]
pub struct LocalRuntime {
    addr: SocketAddr,
    scheme: &'static str,
    region: String,
    data_dir: PathBuf,
    report: IsolationReport,
    state: Arc<server::AppState>,
    rules: Arc<faults::Rules>,
    shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<()>>,
    _temp: Option<tempfile::TempDir>,
}

impl LocalRuntime {
    /// A builder.
    pub fn builder() -> LocalRuntimeBuilder {
        LocalRuntimeBuilder::default()
    }

    /// The base URL, e.g. `http://127.0.0.1:43123` (`https://` with [`tls`](LocalRuntimeBuilder::tls)).
    pub fn endpoint(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The isolation mode in use.
    pub fn isolation(&self) -> Isolation {
        self.state.isolation
    }

    /// How many sessions are being set up (tests of races with set-up).
    #[doc(hidden)]
    pub fn __starting_sessions(&self) -> usize {
        self.state.sessions.starting()
    }

    /// What sessions get here and what they lack (printed at start-up).
    pub fn isolation_report(&self) -> &IsolationReport {
        &self.report
    }

    /// How many sessions are running.
    pub fn running_sessions(&self) -> usize {
        self.state.sessions.len()
    }

    /// What the command quota and the fault plan did so far.
    pub fn service_stats(&self) -> ServiceStats {
        self.rules.stats()
    }

    /// An SDK configuration for this runtime (its region, dummy credentials).
    #[allow(
        clippy::expect_used,
        reason = "a region, static credentials and this server's own loopback endpoint always make a valid configuration"
    )]
    pub fn client_config(&self) -> agentcore_sdk::Config {
        agentcore_sdk::Config::builder()
            .region(self.region.as_str())
            .endpoint_url(self.endpoint())
            .static_credentials("local", "local")
            .build()
            .expect("a loopback endpoint with a region and credentials is always valid")
    }

    /// An SDK client for this runtime.
    pub fn client(&self) -> agentcore_sdk::Client {
        agentcore_sdk::Client::from_conf(self.client_config())
    }

    /// Stops serving and kills every session's processes, then waits (up to 10 s) until
    /// they are gone and their cgroups removed; storage stays on disk.
    pub async fn shutdown(mut self) {
        self.stop();
        if let Some(s) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), s).await;
        }
        self.state.sessions.settle(Duration::from_secs(10)).await;
    }

    fn stop(&self) {
        self.shutdown.cancel();
        self.state.sessions.stop_all();
        self.state.shells.stop_all();
    }
}

impl Drop for LocalRuntime {
    fn drop(&mut self) {
        self.stop();
        if let Some(s) = self.server.take() {
            s.abort();
        }
    }
}
