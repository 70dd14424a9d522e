//! Where a session's processes run: one sandbox per session, standing in for its microVM.
//!
//! On AgentCore Runtime each session is its own microVM. Locally each session is one set of
//! Linux namespaces, created once when the session starts and entered by every command, agent
//! process and shell of that session:
//!
//! - **user**: root inside is mapped to an unprivileged host identity (the server user's
//!   subordinate id range from `/etc/subuid`, via util-linux `unshare --map-auto`); commands
//!   run as root inside, shells as `agentcore-runtime-user` (uid 1000 inside);
//! - **mount**: a fresh root whose base is the host's system directories (`/usr`, `/etc`,
//!   `/opt`, and `/bin`, `/lib`... where they are not links) read-only under a per-session
//!   writable overlay layer (the host's files there belong to `nobody` inside: root can
//!   create files anywhere in `/`, `/etc`, `/usr`, `/usr/local/*` and `/opt` and replace
//!   host files by rename, as package managers and `sed -i` do, but not edit them in place), `/tmp` as tmpfs, `/root`, `/home/agentcore-runtime-user`,
//!   `/var/task` (the agent's code), and the session's filesystem configurations at their
//!   real `/mnt/...` paths. Nothing else of the host: not the data directory, not other
//!   sessions, not the server user's home;
//! - **PID**: a reaping init as PID 1; stopping the session kills the init, and with it every
//!   process of the sandbox, whatever it did (`setsid`, double fork);
//! - **IPC** and **UTS** (hostname `localhost`);
//! - **network** ([`Network`]): by default its own namespace with outbound traffic through
//!   `slirp4netns --disable-host-loopback`, so model APIs are reachable but the host's
//!   loopback (agentcore-local's own API among it) is not.
//!
//! Per-session limits ([`Limits`]) are cgroups where the host offers them, rlimits otherwise.
//!
//! The building block is util-linux (`unshare`, `nsenter`, `mount`, `pivot_root`), which every
//! Linux host has, plus `newuidmap` (Debian `uidmap`) for the id range and `slirp4netns` for
//! outbound traffic; see docs/ARCHITECTURE.md for why not bubblewrap.
//!
//! Where user namespaces are unavailable, [`Isolation::None`] runs processes directly and
//! exports each mount's host directory in `AGENTCORE_MOUNT_<NAME>`; the server logs a warning
//! and [`crate::LocalRuntime::isolation`] reports it.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncBufReadExt;

/// How session processes are isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Isolation {
    /// One sandbox per session (user, mount, PID, IPC, UTS and network namespaces), root
    /// inside mapped to the server user's subordinate ids: the microVM stand-in.
    Sandbox,
    /// The same namespaces, but only the server's own user id is mapped (no `newuidmap` or
    /// no `/etc/subuid` range): root inside is the server user, and shells run as that root
    /// too (no separate `agentcore-runtime-user`).
    SingleId,
    /// No namespaces: mount paths are *not* at their real paths and sessions are not isolated
    /// from the host; see the module docs.
    None,
}

impl Isolation {
    /// Finds the best mode this machine supports by trying it.
    pub fn probe() -> Self {
        let works = |map: &[&str]| {
            std::process::Command::new("unshare")
                .args(map)
                .args(NAMESPACES)
                .args([
                    "--net",
                    "--",
                    "sh",
                    "-c",
                    "mount -t tmpfs agentcore /mnt && [ \"$(id -u)\" = 0 ]",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if works(&["--map-auto", "--setuid", "0", "--setgid", "0"]) {
            Isolation::Sandbox
        } else if works(&["--map-root-user"]) {
            Isolation::SingleId
        } else {
            Isolation::None
        }
    }

    /// Checks that the sandbox's unprivileged root can reach `data_dir` on its host path (the
    /// sandbox setup mounts session directories from there): every ancestor must be
    /// searchable by others.
    pub fn check_reachable(self, data_dir: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        if self != Isolation::Sandbox {
            return Ok(());
        }
        let dir = std::fs::canonicalize(data_dir)?;
        for a in dir.ancestors() {
            let mode = std::fs::metadata(a)?.permissions().mode();
            if mode & 0o001 == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!(
                        "the data directory {} is below {} (mode {:o}), which the sessions' \
                         unprivileged root cannot enter: choose a data directory elsewhere \
                         (e.g. under /var/lib or /tmp) or allow others to search it (chmod o+x)",
                        dir.display(),
                        a.display(),
                        mode & 0o7777
                    ),
                ));
            }
        }
        Ok(())
    }

    fn namespaced(self) -> bool {
        matches!(self, Isolation::Sandbox | Isolation::SingleId)
    }
}

const NAMESPACES: [&str; 8] = [
    "--mount",
    "--pid",
    "--fork",
    "--kill-child",
    "--ipc",
    "--uts",
    "--propagation",
    "private",
];

/// A session's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Network {
    /// Its own network namespace; outbound traffic through `slirp4netns` with the host's
    /// loopback unreachable. Without `slirp4netns` installed this is [`Network::None`] (the
    /// server warns).
    #[default]
    Private,
    /// Its own network namespace with only a loopback interface: nothing outside is reachable.
    None,
    /// The host's network, loopback included (an agent in the session can call
    /// agentcore-local's own API). An explicit opt-in; the server warns.
    Host,
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

/// The runtime environment variable that chooses a runtime's [`Network`] (`private`, `none`
/// or `host`), overriding the server-wide mode. Any client can set it.
pub const NETWORK_ENV: &str = "AGENTCORE_LOCAL_NETWORK";

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
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 8 << 30,
            pids: 4096,
            cpus: 2.0,
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
}

/// One mount of a session: the path inside, the directory outside.
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
const RUNTIME_UID: u32 = 1000;

impl User {
    /// The user's home inside the sandbox.
    pub fn home(self) -> &'static str {
        match self {
            User::Root => "/root",
            User::RuntimeUser => "/home/agentcore-runtime-user",
        }
    }
}

/// What a session's sandbox is made of.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The isolation mode.
    pub isolation: Isolation,
    /// The network mode.
    pub network: Network,
    /// Resource limits.
    pub limits: Limits,
    /// The session's filesystem configurations.
    pub mounts: Vec<Mount>,
    /// A per-session host directory (writable layer, fallback home), deleted on stop.
    pub scratch: PathBuf,
    /// Host directories above mounts that only the sandbox's root may enter (a session's
    /// storage directory): closed to other host users.
    pub private: Vec<PathBuf>,
    /// Host directories that must stay invisible even if under a system directory.
    pub hidden: Vec<PathBuf>,
    /// The agent's code, bound read-only at `/var/task` (a directory) or
    /// `/var/task/<file name>` (a file).
    pub code: Option<PathBuf>,
    /// A name for cgroups and logs.
    pub name: String,
}

/// Builds the sandbox in the new namespaces, then becomes its init. Arguments: the new root's
/// mount point, the writable layer's directory, the lifeline's descriptor number, then `path host_dir` pairs, `--`, the paths
/// to hide, `--`, the code to bind (or nothing). Prints `ready <host pid>` when done.
const SETUP: &str = r#"set -eu
R="$1"; L="$2"; lifeline="$3"; shift 3
read -r hostpid _ < /proc/self/stat
mount -t tmpfs -o mode=755 agentcore-root "$R"
links=""; dirs="$R/proc $R/dev $R/sys $R/tmp $R/root $R/mnt $R/var/task $R/var/tmp $R/run"
dirs="$dirs $R/home/agentcore-runtime-user"
for d in usr etc opt bin sbin lib lib32 lib64 libx32; do
  if [ -L "/$d" ]; then links="$links /$d"
  elif [ -d "/$d" ]; then dirs="$dirs $R/$d $L/$d/upper $L/$d/work"; overlays="${overlays:-} $d"
  fi
done
# Directories of the layer belong to root inside, so root can create files in them.
for sub in /usr/local/*/; do [ -d "$sub" ] && sub="${sub%/}" && dirs="$dirs $L/usr/upper/local/${sub##*/}"; done
mkdir -p $dirs
[ -z "$links" ] || cp -P $links "$R/"
for d in ${overlays:-}; do
  mount -t overlay -o "lowerdir=/$d,upperdir=$L/$d/upper,workdir=$L/$d/work,userxattr" "agentcore-$d" "$R/$d"
done
chmod 700 "$R/root"; chmod 1777 "$R/tmp" "$R/var/tmp"
chown 1000:1000 "$R/home/agentcore-runtime-user" 2>/dev/null || true
while [ "$1" != "--" ]; do
  mkdir -p "$R$1"; mount --bind "$2" "$R$1"; shift 2
done
shift
while [ "$1" != "--" ]; do
  if [ -e "$R$1" ]; then mount -t tmpfs -o size=4k,mode=000 agentcore-hidden "$R$1"; fi
  shift
done
shift
if [ $# -gt 0 ]; then
  if [ -d "$1" ]; then mount --bind -o ro "$1" "$R/var/task"
  else t="$R/var/task/$(basename "$1")"; : > "$t"; mount --bind -o ro "$1" "$t"; fi
fi
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
mount -t tmpfs -o mode=755,nosuid agentcore-dev "$R/dev"
for n in null zero full random urandom tty; do : > "$R/dev/$n"; mount --bind "/dev/$n" "$R/dev/$n"; done
mkdir -p "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"; ln -s /proc/self/fd "$R/dev/fd"
mount -t tmpfs -o mode=1777,nosuid,nodev agentcore-shm "$R/dev/shm"
mount -t tmpfs -o mode=1777,nosuid,nodev agentcore-tmp "$R/tmp"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys" 2>/dev/null || true
# The shell user as on the service (any other user with id 1000 gives way).
rm -f "$R/etc/passwd" "$R/etc/group" "$R/etc/hostname"
while IFS= read -r l; do case "$l" in agentcore-runtime-user:*|*:*:1000:*) ;; *) printf '%s\n' "$l";; esac; done < /etc/passwd > "$R/etc/passwd"
echo 'agentcore-runtime-user:x:1000:1000::/home/agentcore-runtime-user:/bin/bash' >> "$R/etc/passwd"
while IFS= read -r l; do case "$l" in agentcore-runtime-user:*|*:*:1000:*) ;; *) printf '%s\n' "$l";; esac; done < /etc/group > "$R/etc/group"
echo 'agentcore-runtime-user:x:1000:' >> "$R/etc/group"
echo localhost > "$R/etc/hostname"
hostname localhost 2>/dev/null || true
ip link set lo up 2>/dev/null || true
cd "$R"; mkdir .agentcore-old; pivot_root . .agentcore-old
umount -l /.agentcore-old; rmdir /.agentcore-old; cd /
echo "ready $hostpid"
exec </dev/null >/dev/null 2>&1
# The init reaps (bash waits for every child it adopts) and lives as long as the server
# holds the lifeline's other end: when the server goes, even by SIGKILL, the sandbox goes.
exec bash -c 'trap : TERM INT HUP USR1 USR2
while :; do read -r -u "$0" _; [ $? -gt 128 ] || exit 0; done' "$lifeline""#;

/// How long a sandbox may take to come up.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// One session's sandbox. Dropping it kills every process in it.
#[derive(Debug)]
pub struct Sandbox {
    isolation: Isolation,
    network: Network,
    /// `unshare`, our direct child: killing it kills the init (`--kill-child`), and the
    /// kernel then kills every process of the PID namespace.
    holder: std::sync::Mutex<Option<tokio::process::Child>>,
    /// The init (a pidfd), its namespaces and its root, held open from the moment the init
    /// was verified to be ours: entering never goes by a pid that may have been reused.
    entry: Option<Entry>,
    /// The write end of the init's lifeline.
    _lifeline: Option<std::os::fd::OwnedFd>,
    slirp: std::sync::Mutex<Option<tokio::process::Child>>,
    /// Set by the first shutdown: the second (stop, then drop) has nothing left to do.
    shut_down: std::sync::atomic::AtomicBool,
    confine: Confine,
    mounts: Vec<Mount>,
    scratch: PathBuf,
}

impl Sandbox {
    /// Creates the sandbox and waits until it is ready.
    pub async fn start(cfg: SandboxConfig) -> std::io::Result<Sandbox> {
        let confine = Confine::new(&cfg.name, cfg.limits);
        if !cfg.isolation.namespaced() {
            return Ok(Sandbox {
                isolation: cfg.isolation,
                network: Network::Host,
                holder: std::sync::Mutex::new(None),
                entry: None,
                _lifeline: None,
                slirp: std::sync::Mutex::new(None),
                shut_down: Default::default(),
                confine,
                mounts: cfg.mounts,
                scratch: cfg.scratch,
            });
        }
        let root = cfg.scratch.join("root");
        let layer = cfg.scratch.join("layer");
        std::fs::create_dir_all(&root)?;
        std::fs::create_dir_all(&layer)?;
        if cfg.isolation == Isolation::Sandbox {
            if let Some(base) = subordinate_base() {
                for dir in [&cfg.scratch, &root, &layer] {
                    chown(dir, base)?;
                }
                for m in &cfg.mounts {
                    prepare_mount_dir(&m.host_dir, base)?;
                }
                for dir in &cfg.private {
                    chown(dir, base)?;
                    std::fs::set_permissions(
                        dir,
                        std::os::unix::fs::PermissionsExt::from_mode(0o700),
                    )?;
                }
            }
        }
        let mut cmd = tokio::process::Command::new("unshare");
        if cfg.isolation == Isolation::Sandbox {
            cmd.args(["--map-auto", "--setuid", "0", "--setgid", "0"]);
        } else {
            cmd.arg("--map-root-user");
        }
        cmd.args(NAMESPACES);
        if cfg.network != Network::Host {
            cmd.arg("--net");
        }
        // Read end to the init (and slirp4netns), write end kept here: closed when the
        // sandbox is dropped or the server dies, which ends the init and so every process.
        let (lifeline_in, lifeline) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(std::io::Error::from)?;
        let lifeline_fd = std::os::fd::AsRawFd::as_raw_fd(&lifeline_in);
        cmd.args(["--", "sh", "-c", SETUP, "agentcore-sandbox"])
            .arg(&root)
            .arg(&layer)
            .arg(lifeline_fd.to_string());
        inherit(&mut cmd, vec![lifeline_fd]);
        for m in &cfg.mounts {
            cmd.arg(m.path.trim_end_matches('/')).arg(&m.host_dir);
        }
        cmd.arg("--");
        for h in &cfg.hidden {
            cmd.arg(h);
        }
        cmd.arg("--");
        if let Some(code) = &cfg.code {
            cmd.arg(code);
        }
        cmd.env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        confine.apply(&mut cmd);
        let mut holder = cmd.spawn()?;
        let ready = async {
            let stdout = holder
                .stdout
                .take()
                .ok_or_else(|| std::io::Error::other("no stdout"))?;
            let mut line = String::new();
            tokio::io::BufReader::new(stdout)
                .read_line(&mut line)
                .await?;
            line.trim()
                .strip_prefix("ready ")
                .and_then(|p| p.parse::<i32>().ok())
                .ok_or_else(|| std::io::Error::other("sandbox setup failed"))
        };
        let init_pid = match tokio::time::timeout(START_TIMEOUT, ready).await {
            Ok(Ok(pid)) => pid,
            other => {
                let _ = holder.start_kill();
                let mut err = String::new();
                if let Some(mut e) = holder.stderr.take() {
                    use tokio::io::AsyncReadExt;
                    let mut buf = vec![0u8; 4096];
                    if let Ok(Ok(n)) =
                        tokio::time::timeout(Duration::from_secs(1), e.read(&mut buf)).await
                    {
                        err = String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into();
                    }
                }
                let why = match other {
                    Ok(Err(e)) => e.to_string(),
                    _ => "timed out".to_owned(),
                };
                return Err(std::io::Error::other(format!(
                    "cannot create the session sandbox: {why}: {}",
                    err.trim()
                )));
            }
        };
        // The setup's stderr is done with; a full pipe must never block the init.
        drop(holder.stderr.take());
        let entry = match Entry::open(init_pid, holder.id(), cfg.network != Network::Host) {
            Ok(e) => e,
            Err(e) => {
                let _ = holder.start_kill();
                return Err(e);
            }
        };
        let slirp = if cfg.network == Network::Private {
            start_slirp(init_pid, lifeline_fd)
        } else {
            None
        };
        drop(lifeline_in);
        Ok(Sandbox {
            isolation: cfg.isolation,
            network: cfg.network,
            holder: std::sync::Mutex::new(Some(holder)),
            entry: Some(entry),
            _lifeline: Some(lifeline),
            shut_down: Default::default(),
            slirp: std::sync::Mutex::new(slirp),
            confine,
            mounts: cfg.mounts,
            scratch: cfg.scratch,
        })
    }

    /// A command that runs `program args` in the sandbox as `user`, with a clean environment
    /// (`PATH`, `HOME`, `USER`, `LOGNAME`) and stdin closed; callers add the session's
    /// variables and put it in its own process group (or session, for a PTY).
    pub fn command(&self, user: User, program: &str, args: &[&str]) -> tokio::process::Command {
        let direct = user == User::Root;
        let mut cmd = match &self.entry {
            // Commands and agents: the spawned process enters the sandbox itself, between
            // fork and exec (no helper program: this is the per-command hot path).
            Some(entry) if direct => {
                let mut c = tokio::process::Command::new(program);
                c.args(args).current_dir("/");
                c
            }
            // Shells: `nsenter`, then `setpriv` to the shell user; the PTY's session set-up
            // must run in the final process.
            Some(entry) => {
                let mut c = tokio::process::Command::new("nsenter");
                c.args(entry.nsenter_args());
                // nsenter resolves a --wd path before entering: change directory inside.
                c.args(["--", "env", "-C", user.home()]);
                if self.isolation == Isolation::Sandbox {
                    let id = RUNTIME_UID.to_string();
                    c.args(["setpriv", "--reuid", &id, "--regid", &id, "--clear-groups"]);
                    c.arg("--");
                }
                c.arg(program).args(args);
                c.current_dir("/");
                entry.pass_to(&mut c);
                c
            }
            None => {
                let mut c = tokio::process::Command::new(program);
                c.args(args);
                let _ = std::fs::create_dir_all(&self.scratch);
                c.current_dir(&self.scratch);
                c
            }
        };
        let (name, home) = match (self.isolation, user) {
            (Isolation::Sandbox, User::RuntimeUser) => (RUNTIME_USER, user.home().to_owned()),
            (Isolation::None, _) => ("root", self.scratch.to_string_lossy().into_owned()),
            _ => ("root", User::Root.home().to_owned()),
        };
        cmd.env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("HOME", home)
            .env("USER", name)
            .env("LOGNAME", name)
            .env("LANG", "C.UTF-8")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if self.entry.is_none() {
            for m in &self.mounts {
                let name = m
                    .path
                    .trim_start_matches("/mnt/")
                    .trim_end_matches('/')
                    .to_ascii_uppercase()
                    .replace(['-', '.'], "_");
                cmd.env(format!("AGENTCORE_MOUNT_{name}"), &m.host_dir);
            }
        }
        // Limits first: joining the host's cgroups needs the host's view.
        self.confine.apply(&mut cmd);
        if let (Some(entry), true) = (&self.entry, direct) {
            entry.enter_in_child(&mut cmd, user.home());
        }
        cmd
    }

    /// A TCP connection to `port` on the sandbox's loopback (where its agent listens).
    pub async fn connect(&self, port: u16) -> std::io::Result<tokio::net::TcpStream> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        if !self.isolation.namespaced() || self.network == Network::Host {
            return tokio::net::TcpStream::connect(addr).await;
        }
        // A socket belongs to the network namespace it was created in: create it on a
        // short-lived thread that entered the sandbox's namespace, then use it from here.
        let ns = self
            .entry
            .as_ref()
            .ok_or_else(|| std::io::Error::other("no sandbox"))?
            .net()?;
        let socket = tokio::task::spawn_blocking(move || {
            std::thread::scope(|s| {
                s.spawn(|| -> std::io::Result<std::net::TcpStream> {
                    nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
                        .map_err(std::io::Error::from)?;
                    std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
                })
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("connect thread panicked")))
            })
        })
        .await
        .map_err(std::io::Error::other)??;
        socket.set_nonblocking(true)?;
        socket.set_nodelay(true)?;
        tokio::net::TcpStream::from_std(socket)
    }

    /// Whether a port is free for an agent: any port inside a private network namespace;
    /// a free host port otherwise.
    pub fn agent_port(&self) -> std::io::Result<u16> {
        if self.isolation.namespaced() && self.network != Network::Host {
            return Ok(8080);
        }
        Ok(std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port())
    }

    /// Kills every process in the sandbox now; then, in the background, reaps them and removes
    /// the scratch directory (the writable layer) and the cgroups.
    pub fn shutdown(&self) {
        if self
            .shut_down
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return;
        }
        let take = |m: &std::sync::Mutex<Option<tokio::process::Child>>| {
            m.lock().ok().and_then(|mut g| g.take())
        };
        if let Some(e) = &self.entry {
            e.kill();
        }
        let mut children: Vec<tokio::process::Child> = [take(&self.holder), take(&self.slirp)]
            .into_iter()
            .flatten()
            .collect();
        for c in &mut children {
            let _ = c.start_kill();
        }
        let cgroups = self.confine.dirs.clone();
        let scratch = self.scratch.clone();
        let cleanup = async move {
            for c in &mut children {
                let _ = tokio::time::timeout(Duration::from_secs(10), c.wait()).await;
            }
            let _ = tokio::task::spawn_blocking(move || {
                let _ = std::fs::remove_dir_all(&scratch);
                for _ in 0..50 {
                    if cgroups
                        .iter()
                        .all(|d| std::fs::remove_dir(d).is_ok() || !d.exists())
                    {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
            .await;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(cleanup);
            }
            Err(_) => {
                let _ = std::fs::remove_dir_all(&self.scratch);
            }
        }
    }

    /// Whether processes are contained by the sandbox (so killing it kills them all).
    pub fn contains_processes(&self) -> bool {
        self.isolation.namespaced()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The namespaces a sandbox has: file under `/proc/<pid>/ns`, `nsenter` flag, `setns` flag.
/// The user namespace comes first: it gives the rights to join the others.
const NAMESPACES_ENTERED: [(&str, &str, libc::c_int); 6] = [
    ("user", "--user", libc::CLONE_NEWUSER),
    ("mnt", "--mount", libc::CLONE_NEWNS),
    ("pid", "--pid", libc::CLONE_NEWPID),
    ("ipc", "--ipc", libc::CLONE_NEWIPC),
    ("uts", "--uts", libc::CLONE_NEWUTS),
    ("net", "--net", libc::CLONE_NEWNET),
];

/// A handle on a sandbox's init that cannot go stale: a pidfd, and its namespaces and root
/// opened while the pidfd proved the init alive and ours.
#[derive(Debug)]
struct Entry {
    pidfd: std::os::fd::OwnedFd,
    /// (`nsenter` flag, `setns` flag, descriptor) in [`NAMESPACES_ENTERED`] order; no network
    /// namespace when the sandbox shares the host's.
    namespaces: Vec<(&'static str, libc::c_int, std::os::fd::OwnedFd)>,
    root: std::os::fd::OwnedFd,
}

impl Entry {
    fn open(pid: i32, holder: Option<u32>, own_net: bool) -> std::io::Result<Entry> {
        use std::os::fd::{FromRawFd, OwnedFd};
        // SAFETY: pidfd_open returns a new descriptor or -1.
        let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor we own.
        let pidfd = unsafe { OwnedFd::from_raw_fd(raw as i32) };
        // The pid is the init only if its parent is our `unshare` (checked after the pidfd
        // pinned it, so it cannot change under us).
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid.is_none() || ppid != holder {
            return Err(std::io::Error::other("sandbox init is not ours"));
        }
        let mut namespaces = Vec::new();
        for (file, flag, clone) in NAMESPACES_ENTERED {
            if file == "net" && !own_net {
                continue;
            }
            let fd = std::fs::File::open(format!("/proc/{pid}/ns/{file}"))?.into();
            namespaces.push((flag, clone, fd));
        }
        let root = std::fs::File::open(format!("/proc/{pid}/root"))?.into();
        let entry = Entry {
            pidfd,
            namespaces,
            root,
        };
        if !entry.signal(0) {
            return Err(std::io::Error::other("sandbox init died during setup"));
        }
        Ok(entry)
    }

    fn signal(&self, sig: i32) -> bool {
        use std::os::fd::AsRawFd;
        // SAFETY: a valid pidfd, no siginfo.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.as_raw_fd(),
                sig,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            ) == 0
        }
    }

    /// SIGKILL to the init: the kernel then kills every process of its PID namespace.
    fn kill(&self) {
        self.signal(libc::SIGKILL);
    }

    fn net(&self) -> std::io::Result<std::fs::File> {
        let (_, _, fd) = self
            .namespaces
            .iter()
            .find(|(_, clone, _)| *clone == libc::CLONE_NEWNET)
            .ok_or_else(|| std::io::Error::other("no network namespace of its own"))?;
        Ok(std::fs::File::from(fd.try_clone()?))
    }

    /// `nsenter` arguments that enter through the descriptors (see [`Entry::pass_to`]).
    fn nsenter_args(&self) -> Vec<String> {
        use std::os::fd::AsRawFd;
        let mut args: Vec<String> = self
            .namespaces
            .iter()
            .map(|(flag, _, fd)| format!("{flag}=/proc/self/fd/{}", fd.as_raw_fd()))
            .collect();
        args.push(format!("--root=/proc/self/fd/{}", self.root.as_raw_fd()));
        args
    }

    fn pass_to(&self, cmd: &mut tokio::process::Command) {
        use std::os::fd::AsRawFd;
        let mut fds: Vec<i32> = self
            .namespaces
            .iter()
            .map(|(_, _, f)| f.as_raw_fd())
            .collect();
        fds.push(self.root.as_raw_fd());
        inherit(cmd, fds);
    }

    /// Makes the spawned process enter the sandbox before it execs, as `nsenter` would:
    /// join the namespaces (user first), take the sandbox's root and `home` as working
    /// directory, become root inside, then fork: the child (in the sandbox's PID namespace)
    /// goes on to exec, the parent waits and exits as the child did (same code, same signal).
    fn enter_in_child(&self, cmd: &mut tokio::process::Command, home: &str) {
        use std::os::fd::AsRawFd;
        let namespaces: Vec<(i32, libc::c_int)> = self
            .namespaces
            .iter()
            .map(|(_, clone, fd)| (fd.as_raw_fd(), *clone))
            .collect();
        let root = self.root.as_raw_fd();
        let home = CString::new(home).unwrap_or_default();
        // SAFETY: between fork and exec only async-signal-safe system calls (setns, fchdir,
        // chroot, chdir, setgroups, setresgid, setresuid, fork, close_range, waitpid,
        // signal, kill, _exit) on data prepared before the fork; nothing allocates.
        unsafe {
            cmd.pre_exec(move || {
                let fail = || Err(std::io::Error::last_os_error());
                for (fd, flag) in &namespaces {
                    if libc::setns(*fd, *flag) != 0 {
                        return fail();
                    }
                }
                if libc::fchdir(root) != 0 || libc::chroot(c".".as_ptr()) != 0 {
                    return fail();
                }
                if libc::chdir(home.as_ptr()) != 0 && libc::chdir(c"/".as_ptr()) != 0 {
                    return fail();
                }
                // With a single mapped id (no subordinate ids) the kernel denies setgroups
                // in the namespace: the groups then stay as they are (unmapped, shown as
                // nobody), which is all that mode can do.
                if libc::setgroups(0, std::ptr::null()) != 0
                    && *libc::__errno_location() != libc::EPERM
                {
                    return fail();
                }
                if libc::setresgid(0, 0, 0) != 0 || libc::setresuid(0, 0, 0) != 0 {
                    return fail();
                }
                let child = libc::fork();
                if child < 0 {
                    return fail();
                }
                if child == 0 {
                    return Ok(());
                }
                // The parent holds nothing open (not even the spawner's exec-status pipe,
                // so the spawn returns as soon as the child has exec'd).
                libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32);
                let mut status: libc::c_int = 0;
                loop {
                    let r = libc::waitpid(child, &mut status, 0);
                    if r == child {
                        break;
                    }
                    if r < 0 && *libc::__errno_location() != libc::EINTR {
                        libc::_exit(127);
                    }
                }
                if libc::WIFSIGNALED(status) {
                    let sig = libc::WTERMSIG(status);
                    libc::signal(sig, libc::SIG_DFL);
                    libc::kill(libc::getpid(), sig);
                    libc::_exit(sig.saturating_add(128));
                }
                libc::_exit(libc::WEXITSTATUS(status));
            });
        }
    }
}

/// Lets the child inherit descriptors under their own numbers (fork copied them; only
/// close-on-exec is cleared, so no renumbering can clobber another).
fn inherit(cmd: &mut tokio::process::Command, fds: Vec<i32>) {
    // SAFETY: only fcntl (async-signal-safe) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            for fd in &fds {
                if libc::fcntl(*fd, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

fn start_slirp(init_pid: i32, lifeline: i32) -> Option<tokio::process::Child> {
    let mut cmd = tokio::process::Command::new("slirp4netns");
    cmd.args([
        "--configure",
        "--mtu=65520",
        "--disable-host-loopback",
        &format!("--exit-fd={lifeline}"),
        &init_pid.to_string(),
        "tap0",
    ]);
    inherit(&mut cmd, vec![lifeline]);
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn();
    match child {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(error = %e, "slirp4netns unavailable: the session has no outbound network");
            None
        }
    }
}

/// The first subordinate uid of the server's user (`/etc/subuid`), which is root inside.
fn subordinate_base() -> Option<u32> {
    let uid = nix::unistd::getuid();
    let name = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name);
    let text = std::fs::read_to_string("/etc/subuid").ok()?;
    text.lines().find_map(|l| {
        let mut parts = l.split(':');
        let who = parts.next()?;
        let start = parts.next()?.parse::<u32>().ok()?;
        (who == uid.as_raw().to_string() || Some(who) == name.as_deref()).then_some(start)
    })
}

fn chown(path: &Path, id: u32) -> std::io::Result<()> {
    std::os::unix::fs::chown(path, Some(id), Some(id))
}

/// A session-storage directory belongs to root inside; everyone inside may write it (the
/// shell user too).
fn prepare_mount_dir(dir: &Path, base: u32) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(dir)?;
    if meta.uid() != base {
        chown(dir, base)?;
    }
    if meta.mode() & 0o777 != 0o777 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777))?;
    }
    Ok(())
}

/// Resource limits for a session: the cgroups its processes join, and rlimits for what no
/// cgroup controller covers.
#[derive(Debug, Default)]
struct Confine {
    /// `cgroup.procs` of each of the session's cgroups.
    procs: Vec<CString>,
    /// The cgroup directories (removed when the sandbox is gone).
    dirs: Vec<PathBuf>,
    /// (resource, value) pairs applied with setrlimit.
    rlimits: Vec<(RlimitResource, u64)>,
}

#[cfg(target_env = "gnu")]
type RlimitResource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
type RlimitResource = libc::c_int;

impl Confine {
    fn new(name: &str, limits: Limits) -> Self {
        let mut c = Confine::default();
        let mut have_memory = false;
        let mut have_pids = false;
        let period: u64 = 100_000;
        let quota = (limits.cpus * period as f64) as u64;
        let mem = limits.memory_bytes.to_string();
        let pids = limits.pids.to_string();
        let cpu = format!("{quota} {period}");
        if let Some(dir) = cgroup_v2_dir(name) {
            let ok = |file: &str, v: &str| std::fs::write(dir.join(file), v).is_ok();
            have_memory = ok("memory.max", &mem);
            let _ = ok("memory.swap.max", "0");
            have_pids = ok("pids.max", &pids);
            let _ = ok("cpu.max", &cpu);
            c.add_dir(dir);
        } else {
            for (controller, settings) in [
                (
                    "memory",
                    vec![
                        ("memory.limit_in_bytes", mem.clone()),
                        ("memory.memsw.limit_in_bytes", mem.clone()),
                    ],
                ),
                ("pids", vec![("pids.max", pids.clone())]),
                (
                    "cpu",
                    vec![
                        ("cpu.cfs_period_us", period.to_string()),
                        ("cpu.cfs_quota_us", quota.to_string()),
                    ],
                ),
            ] {
                let Some(dir) = cgroup_v1_dir(controller, name) else {
                    continue;
                };
                let mut first_ok = false;
                for (i, (file, value)) in settings.iter().enumerate() {
                    let ok = std::fs::write(dir.join(file), value).is_ok();
                    if i == 0 {
                        first_ok = ok;
                    }
                }
                if !first_ok {
                    let _ = std::fs::remove_dir(&dir);
                    continue;
                }
                match controller {
                    "memory" => have_memory = true,
                    "pids" => have_pids = true,
                    _ => {}
                }
                c.add_dir(dir);
            }
        }
        if !have_memory {
            c.rlimits.push((libc::RLIMIT_AS, limits.memory_bytes));
        }
        if !have_pids {
            c.rlimits.push((libc::RLIMIT_NPROC, limits.pids));
        }
        c
    }

    fn add_dir(&mut self, dir: PathBuf) {
        if let Ok(p) = CString::new(dir.join("cgroup.procs").as_os_str().as_encoded_bytes()) {
            self.procs.push(p);
            self.dirs.push(dir);
        }
    }

    /// Makes the process join the cgroups and take the rlimits before it runs anything.
    fn apply(&self, cmd: &mut tokio::process::Command) {
        if self.procs.is_empty() && self.rlimits.is_empty() {
            return;
        }
        let procs = self.procs.clone();
        let rlimits = self.rlimits.clone();
        // SAFETY: between fork and exec only async-signal-safe calls (open, write, close,
        // setrlimit) on data prepared before the fork; nothing allocates.
        unsafe {
            cmd.pre_exec(move || {
                for p in &procs {
                    let fd = libc::open(p.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                    if fd < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    // "0" means the writing process.
                    let n = libc::write(fd, b"0".as_ptr().cast(), 1);
                    libc::close(fd);
                    if n != 1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                for (resource, value) in &rlimits {
                    let lim = libc::rlimit {
                        rlim_cur: *value,
                        rlim_max: *value,
                    };
                    if libc::setrlimit(*resource, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
    }
}

/// This process's cgroup path for `controller` (v1) or the unified hierarchy (`""`).
fn own_cgroup(controller: &str) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let _id = parts.next()?;
        let controllers = parts.next()?;
        let path = parts.next()?;
        let hit = if controller.is_empty() {
            controllers.is_empty()
        } else {
            controllers.split(',').any(|c| c == controller)
        };
        hit.then(|| path.to_owned())
    })
}

fn cgroup_v1_dir(controller: &str, name: &str) -> Option<PathBuf> {
    let mount = Path::new("/sys/fs/cgroup").join(controller);
    if !mount.join("cgroup.procs").exists() {
        return None;
    }
    let own = own_cgroup(controller)?;
    let dir = mount
        .join(own.trim_start_matches('/'))
        .join("agentcore-local")
        .join(name);
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

fn cgroup_v2_dir(name: &str) -> Option<PathBuf> {
    let mount = Path::new("/sys/fs/cgroup");
    if !mount.join("cgroup.controllers").exists() {
        return None;
    }
    let own = own_cgroup("")?;
    let parent = mount
        .join(own.trim_start_matches('/'))
        .join("agentcore-local");
    std::fs::create_dir_all(&parent).ok()?;
    let _ = std::fs::write(parent.join("cgroup.subtree_control"), "+memory +pids +cpu");
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}
