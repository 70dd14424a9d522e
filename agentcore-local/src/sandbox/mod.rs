//! Where a session's processes run: one sandbox per session, standing in for its microVM.
//!
//! On AgentCore Runtime each session is its own microVM. On Linux each session here is one
//! set of namespaces (user, mount, PID, IPC, UTS, cgroup and network) with a root built from
//! the host's system directories under a writable layer, its session storage at its real
//! `/mnt/...` path, a seccomp filter and `no_new_privs`; every command, agent and shell of
//! the session starts inside it (module `linux`, see docs/ARCHITECTURE.md "The session
//! sandbox" for the threat model). Elsewhere (macOS), or when asked for
//! ([`Isolation::None`]), session processes are plain child processes with a directory
//! per filesystem standing in for `/mnt/...` — loudly reported as unsandboxed.
//!
//! The rest of the server sees only this module's types: a [`Host`] (one per server) makes a
//! [`Sandbox`] per session, which starts [`Process`]es from a [`ProcessSpec`].

use std::path::PathBuf;

use tokio::sync::watch;

#[cfg(all(target_os = "linux", not(feature = "portable-check")))]
pub mod linux;
pub mod paths;
mod plain;
pub mod pty;

pub use pty::Pty;

/// How session processes are isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Isolation {
    /// One sandbox per session in which root and the shell user are distinct ids: the
    /// microVM stand-in. A root server maps them to an unused high host id range, an
    /// ordinary user to itself and its subordinate ids.
    Sandbox,
    /// The same sandbox with a single mapped id (no subordinate ids, or forced): root inside
    /// is that id, and the shell user is made in a nested user namespace on top of it.
    SingleId,
    /// No sandbox: plain child processes, a directory per filesystem instead of `/mnt/...`,
    /// and nothing between a session and the host.
    None,
}

impl std::str::FromStr for Isolation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sandbox" => Ok(Isolation::Sandbox),
            "single-id" => Ok(Isolation::SingleId),
            "none" => Ok(Isolation::None),
            other => Err(format!(
                "unknown isolation {other:?} (expected sandbox, single-id or none)"
            )),
        }
    }
}

impl std::fmt::Display for Isolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Isolation::Sandbox => "sandbox",
            Isolation::SingleId => "single-id",
            Isolation::None => "none",
        })
    }
}

/// The environment variable that forces an isolation mode (`sandbox`, `single-id`, `none`)
/// where a program does not choose one, e.g. for a whole test binary:
/// `AGENTCORE_LOCAL_ISOLATION=none cargo test`.
pub const ISOLATION_ENV: &str = "AGENTCORE_LOCAL_ISOLATION";

/// A session's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Network {
    /// Its own network namespace; outbound traffic through `slirp4netns` (or `pasta`) with
    /// the host's loopback, the host's own addresses and link-local ranges unreachable.
    #[default]
    Private,
    /// Its own network namespace with only a loopback interface: nothing outside is reachable.
    None,
    /// The host's network, loopback included (an agent in the session can call
    /// agentcore-local's own API and the host's abstract unix sockets). An explicit opt-in.
    Host,
}

impl Network {
    /// How much it opens: `None` < `Private` < `Host`.
    fn openness(self) -> u8 {
        match self {
            Network::None => 0,
            Network::Private => 1,
            Network::Host => 2,
        }
    }
}

impl std::str::FromStr for Network {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "private" => Ok(Network::Private),
            "none" => Ok(Network::None),
            "host" => Ok(Network::Host),
            other => Err(format!(
                "unknown network mode {other:?} (expected private, none or host)"
            )),
        }
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Network::Private => "private",
            Network::None => "none",
            Network::Host => "host",
        })
    }
}

/// The runtime environment variable by which a runtime asks for a [`Network`] (`private`,
/// `none` or `host`). It can only narrow the server's mode, unless the operator allowed more
/// ([`crate::LocalRuntimeBuilder::allow_runtime_network`]).
pub const NETWORK_ENV: &str = "AGENTCORE_LOCAL_NETWORK";

/// The network a runtime's session gets: what it asked for if that is no wider than the
/// operator's mode (or the operator allows wider), else the operator's, with a warning.
pub fn effective_network(
    operator: Network,
    requested: Option<Network>,
    allow_wider: bool,
) -> (Network, Option<String>) {
    match requested {
        None => (operator, None),
        Some(r) if r.openness() <= operator.openness() || allow_wider => {
            let warn = (r == Network::Host && operator != Network::Host).then(|| {
                "a runtime chose the host network (allowed by the operator): its sessions reach \
                 every loopback service, agentcore-local's API included"
                    .to_owned()
            });
            (r, warn)
        }
        Some(r) => (
            operator,
            Some(format!(
                "a runtime asked for the {r} network, wider than the server's {operator}: its \
                 sessions get {operator} (the operator can allow wider networks with \
                 --allow-runtime-network)"
            )),
        ),
    }
}

/// Per-session resource limits; the default is the microVM's 2 vCPU / 8 GiB.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Limits {
    /// Memory of all the session's processes together, in bytes.
    pub memory_bytes: u64,
    /// Processes (and threads) of the session together.
    pub pids: u64,
    /// CPUs (cgroups only).
    pub cpus: f64,
    /// Bytes a session may write outside its storage: its root, `/tmp` and the writable
    /// layer over the system directories (kept in memory, so they count as its memory too).
    pub disk_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 8 << 30,
            pids: 4096,
            cpus: 2.0,
            disk_bytes: 4 << 30,
        }
    }
}

impl Limits {
    /// Sets the memory limit.
    pub fn memory_bytes(mut self, bytes: u64) -> Self {
        self.memory_bytes = bytes;
        self
    }

    /// Sets the process limit.
    pub fn pids(mut self, pids: u64) -> Self {
        self.pids = pids;
        self
    }

    /// Sets the CPU limit.
    pub fn cpus(mut self, cpus: f64) -> Self {
        self.cpus = cpus;
        self
    }

    /// Sets how much a session may write outside its storage.
    pub fn disk_bytes(mut self, bytes: u64) -> Self {
        self.disk_bytes = bytes;
        self
    }
}

/// One filesystem of a session: the path inside, the directory outside.
#[derive(Debug, Clone)]
pub struct Mount {
    /// e.g. `/mnt/workspace`.
    pub path: String,
    /// The host directory.
    pub host_dir: PathBuf,
}

/// Who a process runs as inside the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum User {
    /// `root` (one-shot commands, agents).
    Root,
    /// `agentcore-runtime-user` (interactive shells).
    RuntimeUser,
}

/// The name, uid and home of the shell user, as on the service.
pub const RUNTIME_USER: &str = "agentcore-runtime-user";

impl User {
    /// The user's home inside the sandbox.
    pub fn home(self) -> &'static str {
        match self {
            User::Root => "/root",
            User::RuntimeUser => "/home/agentcore-runtime-user",
        }
    }

    /// The user's name inside the sandbox.
    pub fn name(self) -> &'static str {
        match self {
            User::Root => "root",
            User::RuntimeUser => RUNTIME_USER,
        }
    }
}

/// What the server decides once for all its sessions.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// A forced isolation mode; `None` takes the best this host offers.
    pub isolation: Option<Isolation>,
    /// The operator's network mode.
    pub network: Network,
    /// Per-session limits.
    pub limits: Limits,
    /// The data directory (absolute).
    pub data_dir: PathBuf,
    /// The agents' code (absolute), bound into sessions.
    pub code_dirs: Vec<PathBuf>,
    /// Sandboxes kept built ahead of sessions.
    pub pool: usize,
}

/// What sessions get on this host, and what they lack with the remedy for each.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IsolationReport {
    /// The mode.
    pub isolation: Isolation,
    /// How ids map.
    pub ids: String,
    /// The network.
    pub network: String,
    /// How limits are enforced.
    pub limits: String,
    /// What is missing, each with the command that would give it.
    pub lacks: Vec<String>,
}

impl std::fmt::Display for IsolationReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.isolation {
            Isolation::None => writeln!(
                f,
                "sessions: NOT SANDBOXED: plain processes of this user, which see and can change \
                 the host, the data directory and each other"
            )?,
            i => writeln!(
                f,
                "sessions: sandboxed ({i}): own user, mount, PID, IPC, UTS, cgroup and network \
                 namespaces, seccomp, no_new_privs"
            )?,
        }
        writeln!(f, "  ids: {}", self.ids)?;
        writeln!(f, "  network: {}", self.network)?;
        writeln!(f, "  limits: {}", self.limits)?;
        for l in &self.lacks {
            writeln!(f, "  lacks: {l}")?;
        }
        Ok(())
    }
}

/// All sessions' sandboxes of one server.
#[derive(Debug)]
pub enum Host {
    /// Linux namespaces.
    #[cfg(all(target_os = "linux", not(feature = "portable-check")))]
    Linux(linux::host::Host),
    /// Plain processes.
    Plain(plain::Host),
}

impl Host {
    /// Sets up sandboxes for a server: the forced mode, or the best this host has. A forced
    /// sandbox mode that cannot be had is an error; otherwise the fallback (no sandbox) is
    /// taken and the report says why, with the remedy.
    pub async fn start(opts: HostOptions) -> std::io::Result<Host> {
        #[cfg(all(target_os = "linux", not(feature = "portable-check")))]
        {
            if opts.isolation != Some(Isolation::None) {
                match linux::host::Host::start(&opts).await {
                    Ok(h) => return Ok(Host::Linux(h)),
                    Err(why) if opts.isolation.is_some() => {
                        return Err(std::io::Error::other(why));
                    }
                    Err(why) => return Ok(Host::Plain(plain::Host::new(&opts, Some(why)))),
                }
            }
        }
        Ok(Host::Plain(plain::Host::new(&opts, None)))
    }

    /// What sessions get here.
    pub fn report(&self) -> &IsolationReport {
        match self {
            #[cfg(all(target_os = "linux", not(feature = "portable-check")))]
            Host::Linux(h) => h.report(),
            Host::Plain(h) => h.report(),
        }
    }

    /// The mode in use.
    pub fn isolation(&self) -> Isolation {
        self.report().isolation
    }

    /// A sandbox for one session.
    pub async fn sandbox(&self, s: SessionSandbox) -> std::io::Result<Sandbox> {
        match self {
            #[cfg(all(target_os = "linux", not(feature = "portable-check")))]
            Host::Linux(h) => h.sandbox(s).await.map(|s| Sandbox::Linux(Box::new(s))),
            Host::Plain(h) => h.sandbox(s).map(|s| Sandbox::Plain(Box::new(s))),
        }
    }

    /// Removes a directory tree whatever ids inside a session made its files.
    pub async fn remove_tree(&self, path: &std::path::Path) -> std::io::Result<()> {
        match self {
            #[cfg(all(target_os = "linux", not(feature = "portable-check")))]
            Host::Linux(h) => h.remove_tree(path).await,
            Host::Plain(_) => match tokio::fs::remove_dir_all(path).await {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            },
        }
    }
}

/// What one session's sandbox is made of.
#[derive(Debug, Clone)]
pub struct SessionSandbox {
    /// Its network.
    pub network: Network,
    /// Its filesystems.
    pub mounts: Vec<Mount>,
    /// The agent's code, bound read-only at `/var/task` (a directory) or `/var/task/<file
    /// name>` (a file).
    pub code: Option<PathBuf>,
}

/// One session's sandbox. Dropping it kills every process in it.
#[derive(Debug)]
pub enum Sandbox {
    /// Linux namespaces.
    #[cfg(all(target_os = "linux", not(feature = "portable-check")))]
    Linux(Box<linux::host::Sandbox>),
    /// Plain processes.
    Plain(Box<plain::Sandbox>),
}

impl Sandbox {
    /// Starts a process in the sandbox.
    pub async fn spawn(&self, spec: ProcessSpec) -> std::io::Result<Process> {
        match self {
            #[cfg(all(target_os = "linux", not(feature = "portable-check")))]
            Sandbox::Linux(s) => s.spawn(spec).await,
            Sandbox::Plain(s) => s.spawn(spec),
        }
    }

    /// A TCP connection to `port` on the sandbox's loopback (where its agent listens).
    pub async fn connect(&self, port: u16) -> std::io::Result<tokio::net::TcpStream> {
        self.connect_to(std::net::Ipv4Addr::LOCALHOST, port).await
    }

    /// A TCP connection to `addr:port` as seen from inside the sandbox (made from inside
    /// its network namespace).
    pub async fn connect_to(
        &self,
        addr: std::net::Ipv4Addr,
        port: u16,
    ) -> std::io::Result<tokio::net::TcpStream> {
        match self {
            #[cfg(all(target_os = "linux", not(feature = "portable-check")))]
            Sandbox::Linux(s) => s.connect(addr, port).await,
            Sandbox::Plain(_) => tokio::net::TcpStream::connect((addr, port)).await,
        }
    }

    /// The sandbox's own (non-loopback) address, which servers bound to `0.0.0.0` inside
    /// answer on and servers bound to `127.0.0.1` do not; `None` where the sandbox has none
    /// (no network helper, `none` or `host` network, no sandbox).
    pub fn external_address(&self) -> Option<std::net::Ipv4Addr> {
        match self {
            #[cfg(all(target_os = "linux", not(feature = "portable-check")))]
            Sandbox::Linux(s) => s.external_address(),
            Sandbox::Plain(_) => None,
        }
    }

    /// The port an agent listens on: 8080 in a network of its own, a free host port otherwise.
    pub fn agent_port(&self) -> std::io::Result<u16> {
        match self {
            #[cfg(all(target_os = "linux", not(feature = "portable-check")))]
            Sandbox::Linux(s) if s.network() != Network::Host => Ok(8080),
            _ => Ok(std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port()),
        }
    }

    /// Kills every process in the sandbox now; the rest of the clean-up runs in the
    /// background.
    pub fn shutdown(&self) {
        match self {
            #[cfg(all(target_os = "linux", not(feature = "portable-check")))]
            Sandbox::Linux(s) => s.shutdown(),
            Sandbox::Plain(s) => s.shutdown(),
        }
    }

    /// A receiver that turns `true` once every process of the sandbox is gone (after
    /// [`shutdown`](Self::shutdown)).
    pub fn gone_watch(&self) -> watch::Receiver<bool> {
        match self {
            #[cfg(all(target_os = "linux", not(feature = "portable-check")))]
            Sandbox::Linux(s) => s.gone_watch(),
            Sandbox::Plain(s) => s.gone_watch(),
        }
    }

    /// Waits until every process of the sandbox is gone (after [`shutdown`](Self::shutdown)).
    pub async fn gone(&self) {
        let _ = self.gone_watch().wait_for(|g| *g).await;
    }

    /// How paths inside map to the host where there is no mount namespace (text of commands
    /// is rewritten with it); `None` in a real sandbox.
    pub fn path_map(&self) -> Option<&PathMap> {
        match self {
            #[cfg(all(target_os = "linux", not(feature = "portable-check")))]
            Sandbox::Linux(_) => None,
            Sandbox::Plain(s) => Some(s.path_map()),
        }
    }
}

pub use paths::PathMap;

/// A process to start.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    /// Absolute path of the program inside (`/bin/bash`).
    pub program: String,
    /// Its arguments (after argv\[0\]).
    pub args: Vec<String>,
    /// Its whole environment.
    pub env: Vec<(String, String)>,
    /// Working directory inside.
    pub cwd: String,
    /// Who it runs as.
    pub user: User,
    /// How it is connected.
    pub stdio: Stdio,
}

/// A process's standard streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdio {
    /// stdout and stderr are pipes to the server; stdin a pipe or `/dev/null`.
    Pipes {
        /// Whether stdin is a pipe.
        stdin: bool,
    },
    /// A new terminal of this size is its stdin, stdout, stderr and controlling terminal.
    Pty {
        /// Rows.
        rows: u16,
        /// Columns.
        cols: u16,
    },
}

/// What a signal reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignalScope {
    /// The process alone.
    Process,
    /// Its process group.
    Group,
    /// Every process of its session (it is a session leader): a shell and the jobs that job
    /// control put in process groups of their own, as a terminal hang-up reaches them.
    Session,
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    /// Its exit code, if it exited.
    pub code: Option<i32>,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
}

impl ExitInfo {
    /// The code a shell reports: the exit code, or 128 + the signal.
    pub fn shell_code(&self) -> i32 {
        self.code
            .or_else(|| self.signal.map(|s| s.saturating_add(128)))
            .unwrap_or(-1)
    }
}

/// The server's end of a pipe from a process.
pub type Reader = Box<dyn tokio::io::AsyncRead + Send + Unpin>;
/// The server's end of a pipe to a process.
pub type Writer = Box<dyn tokio::io::AsyncWrite + Send + Unpin>;

/// A started process. Dropping it does not stop it: the sandbox's end does.
pub struct Process {
    /// Its stdin, when piped.
    pub stdin: Option<Writer>,
    /// Its stdout, when piped.
    pub stdout: Option<Reader>,
    /// Its stderr, when piped.
    pub stderr: Option<Reader>,
    /// Its terminal, with a PTY.
    pub pty: Option<Pty>,
    exit: watch::Receiver<Option<ExitInfo>>,
    control: Control,
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("exit", &*self.exit.borrow())
            .finish_non_exhaustive()
    }
}

enum Control {
    #[cfg(all(target_os = "linux", not(feature = "portable-check")))]
    Linux(linux::host::Signaller),
    Plain(plain::Signaller),
}

impl Process {
    /// Waits for it to end.
    pub async fn wait(&mut self) -> ExitInfo {
        loop {
            if let Some(e) = *self.exit.borrow_and_update() {
                return e;
            }
            if self.exit.changed().await.is_err() {
                return self.exit.borrow().unwrap_or(ExitInfo {
                    code: None,
                    signal: Some(9),
                });
            }
        }
    }

    /// How it ended, if it has.
    pub fn try_wait(&self) -> Option<ExitInfo> {
        *self.exit.borrow()
    }

    /// A receiver that changes when it ends.
    pub fn exit_watch(&self) -> watch::Receiver<Option<ExitInfo>> {
        self.exit.clone()
    }

    /// A handle that signals it (its process group with `group`) while it has not been
    /// reaped, so a reused pid is never hit.
    pub fn signaller(&self) -> ProcessSignaller {
        ProcessSignaller {
            control: match &self.control {
                #[cfg(all(target_os = "linux", not(feature = "portable-check")))]
                Control::Linux(s) => Control::Linux(s.clone()),
                Control::Plain(s) => Control::Plain(s.clone()),
            },
            exit: self.exit.clone(),
        }
    }

    /// Signals it; see [`ProcessSignaller::signal`].
    pub async fn signal(&self, signal: i32, scope: SignalScope) {
        self.signaller().signal(signal, scope).await;
    }
}

/// Signals one process (see [`Process::signaller`]).
pub struct ProcessSignaller {
    control: Control,
    exit: watch::Receiver<Option<ExitInfo>>,
}

impl std::fmt::Debug for ProcessSignaller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessSignaller").finish_non_exhaustive()
    }
}

impl ProcessSignaller {
    /// Sends `signal` to what `scope` names, unless the process has ended (its pid may
    /// belong to another process by then).
    pub async fn signal(&self, signal: i32, scope: SignalScope) {
        if self.exit.borrow().is_some() {
            return;
        }
        match &self.control {
            #[cfg(all(target_os = "linux", not(feature = "portable-check")))]
            Control::Linux(s) => s.signal(signal, scope).await,
            Control::Plain(s) => s.signal(signal, scope),
        }
    }
}

/// The processes of the session `sid` (its leader's pid), from `/proc` (none where there is
/// no `/proc`, e.g. macOS: process groups then have to do).
pub fn session_members(sid: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<i32>().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // `pid (comm) state ppid pgrp session …`; comm may hold anything but the last `)`.
            let session = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(3)?
                .parse::<i32>()
                .ok()?;
            (session == sid).then_some(pid)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runtime_can_narrow_the_network_but_not_widen_it() {
        let (n, w) = effective_network(Network::None, Some(Network::Host), false);
        assert_eq!(n, Network::None);
        assert!(w.unwrap().contains("--allow-runtime-network"));
        assert_eq!(
            effective_network(Network::Private, Some(Network::None), false),
            (Network::None, None)
        );
        assert_eq!(
            effective_network(Network::Private, None, false),
            (Network::Private, None)
        );
        let (n, w) = effective_network(Network::Private, Some(Network::Host), true);
        assert_eq!(n, Network::Host);
        assert!(w.is_some());
    }
}
