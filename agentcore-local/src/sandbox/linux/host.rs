//! The server's side of Linux sandboxes: the zygote, the pool of built sandboxes, claiming
//! one for a session, and the handles through which the server starts, signals and
//! connects to a session's processes.

use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::sync::{oneshot, watch};

use super::cgroups::{CgroupPlan, SessionCgroup};
use super::conn::Conn;
use super::ids::IdPlan;
use super::net::Helper;
use super::probe::Facts;
use super::wire::{
    self, BuildSpec, ClaimSpec, FromSandbox, FromZygote, Layer, MountSpec, Received, SpawnPayload,
    ToSandbox, ToZygote,
};
use super::{sys, zygote};
use crate::sandbox::{
    ExitInfo, HostOptions, Isolation, IsolationReport, Limits, Network, Process, ProcessSpec,
    SessionSandbox, Stdio, User,
};

/// How long a helper may take to answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// Sandboxes built at once.
const BUILDS_AT_ONCE: usize = 8;

/// The fixed environment of every host-side helper (newuidmap, slirp4netns, pasta): nothing
/// of the server's or of a runtime's environment reaches them.
pub fn fixed_environment(cmd: &mut tokio::process::Command) {
    cmd.env_clear()
        .env("PATH", super::probe::STANDARD_PATH)
        .env("LANG", "C.UTF-8")
        .current_dir("/");
}

/// Lets a helper inherit exactly these descriptors (under their own numbers) and closes
/// every other one it would inherit (the server's own parent may have leaked some).
pub fn pass_fds(cmd: &mut tokio::process::Command, keep: Vec<RawFd>) {
    // SAFETY: between fork and exec only fcntl and close (async-signal-safe), on data
    // prepared before the fork; nothing allocates.
    unsafe {
        cmd.pre_exec(move || {
            for fd in &keep {
                if libc::fcntl(*fd, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            let mut fd: RawFd = 3;
            while fd < 1024 {
                if !keep.contains(&fd) {
                    libc::close(fd);
                }
                fd = fd.saturating_add(1);
            }
            let top = keep.iter().copied().max().unwrap_or(0).max(1023);
            libc::syscall(
                libc::SYS_close_range,
                top.saturating_add(1) as u32,
                u32::MAX,
                0u32,
            );
            Ok(())
        });
    }
}

/// A helper's answer and the descriptors that came with it.
type Answer<T> = (T, Vec<OwnedFd>);

/// Makes a helper join the user namespace `userns` (an inherited descriptor) before it
/// execs: it is then root there.
pub fn enter_user_namespace_before_exec(cmd: &mut tokio::process::Command, userns: RawFd) {
    // SAFETY: setns between fork and exec, in the single-threaded child, on an integer.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(userns, libc::CLONE_NEWUSER) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The zygote and what talks to it.
#[derive(Debug)]
struct Zygote {
    conn: Conn,
    _child: tokio::process::Child,
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, oneshot::Sender<Answer<FromZygote>>>>,
    /// Set when its socket closed (it exited or was killed).
    gone: std::sync::atomic::AtomicBool,
}

impl Zygote {
    async fn start(
        plan: &IdPlan,
        cgroups: Vec<PathBuf>,
        newuidmap: Option<(PathBuf, PathBuf)>,
    ) -> std::io::Result<Arc<Zygote>> {
        if !zygote::hook_linked() {
            return Err(std::io::Error::other("the sandbox helper is not linked"));
        }
        let (mine, theirs) = sys::seqpacket_pair()?;
        let mut cmd = tokio::process::Command::new("/proc/self/exe");
        cmd.arg0(zygote::ARGV0);
        fixed_environment(&mut cmd);
        cmd.env(
            zygote::MARKER.to_str().unwrap_or_default(),
            zygote::SOCKET_FD.to_string(),
        );
        let raw = theirs.as_raw_fd();
        // SAFETY: dup2 and close_range between fork and exec, on plain integers.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(raw, zygote::SOCKET_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::syscall(
                    libc::SYS_close_range,
                    (zygote::SOCKET_FD + 1) as u32,
                    u32::MAX,
                    0u32,
                );
                Ok(())
            });
        }
        let child = cmd
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        drop(theirs);
        let conn = Conn::new(mine)?;
        let (subordinate, single) = match plan {
            IdPlan::Root { .. } => (false, false),
            IdPlan::Subordinate { .. } => (true, false),
            IdPlan::Single { .. } => (false, true),
        };
        conn.send(
            &ToZygote::Start {
                subordinate,
                single,
                cgroups,
            },
            &[],
        )
        .await?;
        let answer = |r: std::io::Result<Received<FromZygote>>| match r {
            Ok(Received::Message(m, _)) => Ok(m),
            Ok(Received::Closed) => Err(std::io::Error::other("the sandbox helper exited")),
            Err(e) => Err(e),
        };
        let mut msg = answer(timeout(conn.recv()).await?)?;
        if let (FromZygote::NeedMap { pid }, Some((uidmap, gidmap)), Some((u, g))) =
            (&msg, &newuidmap, plan.helper_maps())
        {
            for (prog, args) in [(uidmap, u), (gidmap, g)] {
                let mut c = tokio::process::Command::new(prog);
                fixed_environment(&mut c);
                pass_fds(&mut c, Vec::new());
                let out = c.arg(pid.to_string()).args(&args).output().await?;
                if !out.status.success() {
                    return Err(std::io::Error::other(format!(
                        "{} failed: {}",
                        prog.display(),
                        String::from_utf8_lossy(&out.stderr).trim()
                    )));
                }
            }
            conn.send(&ToZygote::Mapped, &[]).await?;
            msg = answer(timeout(conn.recv()).await?)?;
        }
        match msg {
            FromZygote::Ready { probe: Ok(()) } => {}
            FromZygote::Ready { probe: Err(e) } => return Err(std::io::Error::other(e)),
            other => {
                return Err(std::io::Error::other(format!(
                    "unexpected answer from the sandbox helper: {other:?}"
                )));
            }
        }
        let z = Arc::new(Zygote {
            conn,
            _child: child,
            next: AtomicU64::new(1),
            waiting: Mutex::new(HashMap::new()),
            gone: Default::default(),
        });
        let weak = Arc::downgrade(&z);
        tokio::spawn(async move {
            loop {
                let Some(z) = weak.upgrade() else { break };
                let msg = z.conn.recv::<FromZygote>().await;
                let (msg, fds) = match msg {
                    Ok(Received::Message(m, fds)) => (m, fds),
                    _ => break,
                };
                let id = match &msg {
                    FromZygote::Built { id, .. }
                    | FromZygote::Failed { id, .. }
                    | FromZygote::Removed { id, .. } => *id,
                    _ => continue,
                };
                let tx = z.waiting.lock().ok().and_then(|mut w| w.remove(&id));
                if let Some(tx) = tx {
                    let _ = tx.send((msg, fds));
                }
            }
            if let Some(z) = weak.upgrade() {
                z.gone.store(true, Ordering::SeqCst);
                if let Ok(mut w) = z.waiting.lock() {
                    w.clear();
                }
            }
        });
        Ok(z)
    }

    async fn request(
        &self,
        make: impl FnOnce(u64) -> ToZygote,
        fds: &[RawFd],
    ) -> std::io::Result<(FromZygote, Vec<OwnedFd>)> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        if let Ok(mut w) = self.waiting.lock() {
            w.insert(id, tx);
        }
        self.conn.send(&make(id), fds).await?;
        match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => Err(std::io::Error::other("the sandbox helper exited")),
            Err(_) => {
                if let Ok(mut w) = self.waiting.lock() {
                    w.remove(&id);
                }
                Err(std::io::Error::other("the sandbox helper did not answer"))
            }
        }
    }

    async fn remove(&self, path: &Path) -> std::io::Result<()> {
        self.tree_job(|id| ToZygote::Remove {
            id,
            path: path.to_owned(),
        })
        .await
    }

    async fn tree_job(&self, make: impl FnOnce(u64) -> ToZygote) -> std::io::Result<()> {
        self.tree_job_with(make, &[]).await
    }

    async fn tree_job_with(
        &self,
        make: impl FnOnce(u64) -> ToZygote,
        fds: &[RawFd],
    ) -> std::io::Result<()> {
        match self.request(make, fds).await? {
            (FromZygote::Removed { error: None, .. }, _) => Ok(()),
            (FromZygote::Removed { error: Some(e), .. }, _) => Err(std::io::Error::other(e)),
            (other, _) => Err(std::io::Error::other(format!(
                "unexpected answer: {other:?}"
            ))),
        }
    }
}

async fn timeout<T>(f: impl std::future::Future<Output = T>) -> std::io::Result<T> {
    tokio::time::timeout(ANSWER_TIMEOUT, f).await.map_err(|_| {
        std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer from the sandbox")
    })
}

/// What the server decided at start.
#[derive(Debug)]
struct Plan {
    ids: IdPlan,
    helper: Option<Helper>,
    cgroups: CgroupPlan,
    limits: Limits,
    stage: PathBuf,
    /// What private networks block (grows when the host gets new addresses).
    blocked: Mutex<Vec<(std::net::IpAddr, u8)>>,
    /// The network namespaces of private sandboxes alive, to block new host addresses in.
    nets: Mutex<Vec<std::sync::Weak<OwnedFd>>>,
    hidden: Vec<PathBuf>,
    layer_on_disk: Option<PathBuf>,
    network: Network,
    builds_made: std::sync::atomic::AtomicU32,
}

/// How to start (again) a zygote.
#[derive(Debug, Clone)]
struct ZygotePlan {
    cgroups: Vec<PathBuf>,
    newuidmap: Option<(PathBuf, PathBuf)>,
}

/// Linux sandboxes of one server.
#[derive(Debug)]
pub struct Host {
    /// The zygote; replaced by a new one if it ever goes (sessions it started go on).
    zygote: Arc<tokio::sync::Mutex<Arc<Zygote>>>,
    zygote_plan: ZygotePlan,
    plan: Arc<Plan>,
    pool: Arc<Pool>,
    report: IsolationReport,
}

#[derive(Debug)]
struct Pool {
    target: usize,
    ready: Mutex<VecDeque<Built>>,
    building: std::sync::atomic::AtomicUsize,
    builds: tokio::sync::Semaphore,
}

impl Host {
    /// Starts the zygote for the best (or the forced) isolation mode. `Err` names why
    /// sandboxes cannot be had here and what would give them.
    pub async fn start(opts: &HostOptions) -> Result<Host, String> {
        let facts = Facts::default();
        let (uid, gid) = sys::ids();
        let euid = nix::unistd::geteuid().as_raw();
        let name = nix::unistd::User::from_uid(uid.into())
            .ok()
            .flatten()
            .map(|u| u.name);
        let path = std::env::var("PATH").unwrap_or_default();
        let mut lacks = Vec::new();
        let forced_single = opts.isolation == Some(Isolation::SingleId);
        let ids = if euid == 0 {
            let kept = read_kept_base(&opts.data_dir);
            let base = super::ids::root_range(&facts.taken_ids(), &opts.data_dir, kept)?;
            IdPlan::Root {
                base,
                count: if forced_single {
                    1
                } else {
                    super::ids::SESSION_IDS
                },
            }
        } else {
            if forced_single {
                IdPlan::Single { uid, gid }
            } else {
                let have = super::probe::find_program("newuidmap", &path).is_some()
                    && super::probe::find_program("newgidmap", &path).is_some();
                let (plan, why) =
                    super::ids::plan_unprivileged(&facts, uid, gid, name.as_deref(), have);
                lacks.extend(why);
                plan
            }
        };
        let mut helper = Helper::find(&path);
        let network = opts.network;
        if network == Network::Private && helper.is_none() {
            lacks.push(
                "no slirp4netns or pasta: private sessions have no outbound network (install \
                 one: `sudo apt-get install slirp4netns`)"
                    .to_owned(),
            );
        }
        if network == Network::Private && helper.is_some() && !sys::can_read_write(c"/dev/net/tun")
        {
            helper = None;
            lacks.push(
                "/dev/net/tun is not open to this user, so private sessions have no outbound \
                 network (most distributions make it mode 0666: `sudo chmod 0666 /dev/net/tun`)"
                    .to_owned(),
            );
        }
        let server = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        let cgroups = CgroupPlan::new(facts.cgroups(euid), facts.unified_cgroup(euid), &server);
        lacks.extend(cgroups.gaps());
        let stage = choose_stage(&opts.data_dir, &opts.code_dirs)?;
        // An unprivileged user's overlay in memory needs user xattrs on tmpfs (Linux 6.6).
        let layer_on_disk =
            (euid != 0 && !tmpfs_has_user_xattrs()).then(|| opts.data_dir.join("scratch"));
        if layer_on_disk.is_some() {
            lacks.push(
                "this kernel (before 6.6) cannot keep an unprivileged overlay's writable layer \
                 in memory: it is on disk in the data directory, without a size limit"
                    .to_owned(),
            );
        }
        let newuidmap = match (
            super::probe::find_program("newuidmap", &path),
            super::probe::find_program("newgidmap", &path),
        ) {
            (Some(u), Some(g)) => Some((u, g)),
            _ => None,
        };
        let zygote_plan = ZygotePlan {
            cgroups: cgroups.server_dirs(),
            newuidmap,
        };
        let zygote = Zygote::start(
            &ids,
            zygote_plan.cgroups.clone(),
            zygote_plan.newuidmap.clone(),
        )
        .await
        .map_err(|e| {
            // A restriction (Ubuntu's AppArmor default, say) is named only when it bites: a
            // profile for this program may lift it.
            match (euid, facts.userns_restriction()) {
                (0, _) | (_, None) => format!("cannot start sandboxes: {e}"),
                (_, Some(r)) => format!("cannot start sandboxes ({e}): {}", r.advice()),
            }
        })?;
        migrate(&zygote, &ids, &facts, &opts.data_dir).await?;
        let isolation = if ids.two_users() {
            Isolation::Sandbox
        } else {
            Isolation::SingleId
        };
        if isolation == Isolation::SingleId {
            lacks.push(
                "a single id: files the shell user creates belong to root inside too".to_owned(),
            );
        }
        let net_line = match (network, &helper) {
            (Network::Private, Some(h)) => format!(
                "private ({}, host loopback, the host's addresses and link-local ranges \
                 unreachable)",
                h.name()
            ),
            (Network::Private, None) => {
                "private without outbound traffic (no usable network helper)".to_owned()
            }
            (Network::None, _) => "none (loopback only)".to_owned(),
            (Network::Host, _) => {
                "HOST: sessions share the host's network, loopback and this server's API \
                 included"
                    .to_owned()
            }
        };
        let report = IsolationReport {
            isolation,
            ids: ids.describe(),
            network: net_line,
            limits: cgroups.describe(),
            lacks,
        };
        let plan = Arc::new(Plan {
            ids,
            helper,
            cgroups,
            limits: opts.limits,
            stage,
            blocked: Mutex::new(super::net::blocked_destinations()),
            nets: Mutex::new(Vec::new()),
            // The data directory and every agent's code (another runtime's code must not show
            // through a system directory it lies in).
            hidden: std::iter::once(opts.data_dir.clone())
                .chain(opts.code_dirs.iter().cloned())
                .collect(),
            layer_on_disk,
            network,
            builds_made: Default::default(),
        });
        let host = Host {
            zygote: Arc::new(tokio::sync::Mutex::new(zygote)),
            zygote_plan,
            plan,
            pool: Arc::new(Pool {
                target: opts.pool,
                ready: Mutex::new(VecDeque::new()),
                building: Default::default(),
                builds: tokio::sync::Semaphore::new(BUILDS_AT_ONCE),
            }),
            report,
        };
        if let Ok(z) = host.zygote.try_lock() {
            host.refill(&z);
        }
        if host.plan.network == Network::Private {
            tokio::spawn(watch_host_addresses(
                Arc::downgrade(&host.plan),
                Arc::downgrade(&host.zygote),
            ));
        }
        Ok(host)
    }

    /// What sessions get here.
    pub fn report(&self) -> &IsolationReport {
        &self.report
    }

    /// The zygote, started again if it went away.
    async fn zygote(&self) -> std::io::Result<Arc<Zygote>> {
        let mut z = self.zygote.lock().await;
        if z.gone.load(Ordering::SeqCst) {
            tracing::warn!("the sandbox helper went away: starting a new one");
            *z = Zygote::start(
                &self.plan.ids,
                self.zygote_plan.cgroups.clone(),
                self.zygote_plan.newuidmap.clone(),
            )
            .await?;
            if let Ok(mut ready) = self.pool.ready.lock() {
                ready.clear();
            }
        }
        Ok(z.clone())
    }

    /// Keeps the pool full in the background.
    fn refill(&self, zygote: &Arc<Zygote>) {
        let pool = &self.pool;
        loop {
            let have = pool.ready.lock().map(|r| r.len()).unwrap_or(usize::MAX);
            let building = pool.building.load(Ordering::SeqCst);
            if have.saturating_add(building) >= pool.target {
                return;
            }
            pool.building.fetch_add(1, Ordering::SeqCst);
            let (zygote, plan, pool2) = (zygote.clone(), self.plan.clone(), self.pool.clone());
            tokio::spawn(async move {
                let built = build(&zygote, &plan, &pool2.builds, plan.network).await;
                pool2.building.fetch_sub(1, Ordering::SeqCst);
                match built {
                    Ok(b) => {
                        if let Ok(mut r) = pool2.ready.lock() {
                            r.push_back(b);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "building a pooled sandbox failed"),
                }
            });
        }
    }

    /// A sandbox for a session: a pooled one when its network matches, else a new one.
    pub async fn sandbox(&self, s: SessionSandbox) -> std::io::Result<Sandbox> {
        let zygote = self.zygote().await?;
        let pooled = if s.network == self.plan.network {
            self.pool.ready.lock().ok().and_then(|mut r| r.pop_front())
        } else {
            None
        };
        let built = match pooled {
            Some(b) => {
                self.refill(&zygote);
                b
            }
            None => build(&zygote, &self.plan, &self.pool.builds, s.network).await?,
        };
        if let IdPlan::Root { base, .. } = self.plan.ids {
            // Storage belongs to root inside (a root server can give it away).
            for m in &s.mounts {
                give_to(&m.host_dir, base)?;
            }
        }
        let claim = ClaimSpec {
            mounts: s
                .mounts
                .iter()
                .map(|m| MountSpec {
                    inside: m.path.clone(),
                    host: m.host_dir.clone(),
                })
                .collect(),
            code: s.code.clone(),
            rlimits: self.plan.cgroups.rlimits(&self.plan.limits),
        };
        built.claim(claim).await
    }

    /// Removes a tree with the rights of the sandboxes' ids (files any id of a session made).
    pub async fn remove_tree(&self, path: &Path) -> std::io::Result<()> {
        self.zygote().await?.remove(path).await
    }
}

/// How often the host's addresses are looked at.
const ADDRESS_CHECK: Duration = Duration::from_secs(2);

/// Blocks, in every private sandbox, host addresses that appear while the server runs (a
/// VPN, a container bridge, a new DHCP lease), within [`ADDRESS_CHECK`].
async fn watch_host_addresses(
    plan: std::sync::Weak<Plan>,
    zygote: std::sync::Weak<tokio::sync::Mutex<Arc<Zygote>>>,
) {
    loop {
        tokio::time::sleep(ADDRESS_CHECK).await;
        let (Some(plan), Some(zygote)) = (plan.upgrade(), zygote.upgrade()) else {
            return;
        };
        let now = tokio::task::spawn_blocking(super::net::blocked_destinations)
            .await
            .unwrap_or_default();
        let new: Vec<(std::net::IpAddr, u8)> = match plan.blocked.lock() {
            Ok(mut b) => {
                let new: Vec<_> = now.into_iter().filter(|d| !b.contains(d)).collect();
                b.extend(new.iter().copied());
                new
            }
            Err(_) => return,
        };
        if new.is_empty() {
            continue;
        }
        tracing::info!(addresses = ?new, "blocking new host addresses in private sessions");
        let nets: Vec<Arc<OwnedFd>> = plan
            .nets
            .lock()
            .map(|n| n.iter().filter_map(std::sync::Weak::upgrade).collect())
            .unwrap_or_default();
        let z = zygote.lock().await.clone();
        for netns in nets {
            let routes = new.clone();
            let _ = z
                .tree_job_with(|id| ToZygote::Block { id, routes }, &[netns.as_raw_fd()])
                .await;
        }
    }
}

/// A root server's storage directories belong to root inside.
fn give_to(dir: &Path, id: u32) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata(dir)?.uid() != id {
        std::os::unix::fs::chown(dir, Some(id), Some(id))?;
    }
    Ok(())
}

/// Whether tmpfs takes `user.*` xattrs (Linux 6.6+), which an unprivileged overlay's upper
/// layer needs.
fn tmpfs_has_user_xattrs() -> bool {
    let Ok(uts) = nix::sys::utsname::uname() else {
        return false;
    };
    let release = uts.release().to_string_lossy().into_owned();
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= (6, 6)
}

/// A host directory the sandboxes' inits may cover while building: one that exists and
/// holds none of what they bind from the host.
fn choose_stage(data_dir: &Path, code: &[PathBuf]) -> Result<PathBuf, String> {
    ["/mnt", "/media", "/srv", "/tmp", "/run", "/var/tmp"]
        .iter()
        .map(PathBuf::from)
        .find(|c| {
            c.is_dir()
                && !data_dir.starts_with(c)
                && !code.iter().any(|p| p.starts_with(c))
                && !Path::new("/").join("usr").starts_with(c)
        })
        .ok_or_else(|| {
            "no directory to build sandboxes in: the data directory or agent code covers \
             /mnt, /media, /srv, /tmp, /run and /var/tmp"
                .to_owned()
        })
}

/// What a data directory records about the ids its sessions' files belong to.
const FORMAT_FILE: &str = "FORMAT";
/// This version's layout of session ids (earlier versions wrote no FORMAT file).
const FORMAT: u64 = 2;

fn read_format(data_dir: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(data_dir.join(FORMAT_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

fn read_kept_base(data_dir: &Path) -> Option<u32> {
    u32::try_from(read_format(data_dir)?.get("rootIds")?.as_u64()?).ok()
}

fn write_format(data_dir: &Path, base: Option<u32>) -> std::io::Result<()> {
    let v = match base {
        Some(b) => serde_json::json!({ "format": FORMAT, "rootIds": b }),
        None => serde_json::json!({ "format": FORMAT }),
    };
    std::fs::write(data_dir.join(FORMAT_FILE), v.to_string())
}

/// Session storage written by a version whose sessions had other ids gets this version's
/// owners (root inside keeps being root inside). A root server's sessions were root's
/// subordinate ids (or host root itself, without a range); an unprivileged server's root
/// inside was the first subordinate id and is now the server user.
async fn migrate(
    zygote: &Zygote,
    plan: &IdPlan,
    facts: &Facts,
    data_dir: &Path,
) -> Result<(), String> {
    if read_format(data_dir).is_some() {
        return Ok(());
    }
    let trees: Vec<PathBuf> = ["storage", "shared"]
        .iter()
        .map(|d| data_dir.join(d))
        .filter(|d| d.is_dir())
        .collect();
    let (uids, gids) = match plan {
        IdPlan::Root { base, .. } => {
            let old = |file: &str| {
                let mut v = vec![(0, *base, 1)];
                if let Some(r) = facts.subordinate(file, Some("root"), 0) {
                    v.insert(0, (r.start, *base, r.count.min(super::ids::SESSION_IDS)));
                }
                v
            };
            (old("/etc/subuid"), old("/etc/subgid"))
        }
        IdPlan::Subordinate { .. } => {
            let down = vec![(1, 0, super::ids::SESSION_IDS.saturating_sub(1))];
            (down.clone(), down)
        }
        IdPlan::Single { .. } => (Vec::new(), Vec::new()),
    };
    if !uids.is_empty() {
        for t in &trees {
            tracing::info!(dir = %t.display(), "giving session storage of an earlier version this version's owners");
            zygote
                .tree_job(|id| ToZygote::Chown {
                    id,
                    path: t.clone(),
                    uids: uids.clone(),
                    gids: gids.clone(),
                })
                .await
                .map_err(|e| {
                    format!(
                        "cannot give {} this version's owners ({e}): run `agentcore-local \
                         purge --data-dir {}` (its session storage is lost) or use another \
                         data directory",
                        t.display(),
                        data_dir.display()
                    )
                })?;
        }
    }
    let base = match plan {
        IdPlan::Root { base, .. } => Some(*base),
        _ => None,
    };
    write_format(data_dir, base).map_err(|e| e.to_string())
}

/// A built sandbox nobody has claimed yet (dropping it kills it).
#[derive(Debug)]
struct Built {
    ctl: Conn,
    res: Resources,
    network: Network,
}

/// The init, by pidfd (never by a pid that could be reused).
#[derive(Debug)]
struct Init {
    pidfd: AsyncFd<OwnedFd>,
}

impl Init {
    fn kill(&self) {
        let _ = sys::pidfd_signal(self.pidfd.get_ref().as_fd(), libc::SIGKILL);
    }

    async fn exited(&self) {
        let _ = self.pidfd.readable().await;
    }
}

async fn build(
    zygote: &Arc<Zygote>,
    plan: &Plan,
    builds: &tokio::sync::Semaphore,
    network: Network,
) -> std::io::Result<Built> {
    let _permit = builds.acquire().await.map_err(std::io::Error::other)?;
    let instance = uuid::Uuid::new_v4().simple().to_string();
    let own_network = network != Network::Host;
    let scratch = plan.layer_on_disk.as_ref().map(|d| d.join(&instance));
    if let Some(s) = &scratch {
        std::fs::create_dir_all(s)?;
        std::fs::set_permissions(s, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    }
    let spec = BuildSpec {
        stage: plan.stage.clone(),
        map: plan.ids.session_map(),
        owner: plan
            .ids
            .owner(plan.builds_made.fetch_add(1, Ordering::Relaxed)),
        host_root: matches!(plan.ids, IdPlan::Root { .. }),
        own_network,
        nameserver: match (network, &plan.helper) {
            (Network::Private, Some(h)) => h.nameserver().map(str::to_owned),
            _ => None,
        },
        blocked: if network == Network::Private {
            plan.blocked.lock().map(|b| b.clone()).unwrap_or_default()
        } else {
            Vec::new()
        },
        space_bytes: plan.limits.disk_bytes,
        shm_bytes: 64 << 20,
        layer: scratch.clone().map_or(Layer::Memory, Layer::Disk),
        hidden: plan.hidden.clone(),
    };
    let (ctl_mine, ctl_theirs) = sys::seqpacket_pair()?;
    let (life_r, life_w) = sys::pipe()?;
    let (answer, mut fds) = zygote
        .request(
            |id| ToZygote::Build {
                id,
                spec: Box::new(spec),
            },
            &[ctl_theirs.as_raw_fd(), life_r.as_raw_fd()],
        )
        .await?;
    drop(ctl_theirs);
    let pid = match answer {
        FromZygote::Built { pid, .. } => pid,
        FromZygote::Failed { error, .. } => return Err(std::io::Error::other(error)),
        other => {
            return Err(std::io::Error::other(format!(
                "unexpected answer: {other:?}"
            )));
        }
    };
    let pidfd = fds.pop().ok_or_else(|| std::io::Error::other("no pidfd"))?;
    let init = Init {
        pidfd: sys::async_fd(pidfd)?,
    };
    let cgroup = plan.cgroups.create(&instance, &plan.limits);
    let ctl = Conn::new(ctl_mine)?;
    let mut built = Built {
        ctl,
        res: Resources {
            init: Some(init),
            lifeline: Some(life_w),
            net: None,
            cgroup: Some(cgroup),
            scratch,
            zygote: zygote.clone(),
            dead: None,
            netns: None,
        },
        network,
    };
    if let Some(Err(e)) = built.res.cgroup.as_ref().map(|c| c.join(pid)) {
        return Err(std::io::Error::other(format!(
            "cannot join the session's cgroup: {e}"
        )));
    }
    let answer = {
        let init = built.res.init.as_ref();
        tokio::select! {
            r = timeout(built.ctl.recv::<FromSandbox>()) => r,
            _ = async { if let Some(i) = init { i.exited().await } } =>
                Err(std::io::Error::other("the sandbox's init died while building")),
        }
    };
    let ns = match answer {
        Ok(Ok(Received::Message(FromSandbox::Built, fds))) => fds,
        Ok(Ok(Received::Message(FromSandbox::Failed { error }, _))) => {
            return Err(std::io::Error::other(format!(
                "cannot create the session sandbox: {error}"
            )));
        }
        other => {
            return Err(std::io::Error::other(format!(
                "cannot create the session sandbox: {other:?}"
            )));
        }
    };
    if network == Network::Private {
        if let Some(netns) = ns.first().and_then(|n| n.try_clone().ok()) {
            let netns = Arc::new(netns);
            if let Ok(mut nets) = plan.nets.lock() {
                nets.retain(|n| n.strong_count() > 0);
                nets.push(Arc::downgrade(&netns));
            }
            built.res.netns = Some(netns);
        }
        if let (Some(helper), Some(netns)) = (&plan.helper, ns.first()) {
            let userns = match plan.ids {
                IdPlan::Root { .. } => None,
                _ => ns.get(1),
            };
            match helper.start(netns, userns, &life_r).await {
                Ok(child) => built.res.net = Some(child),
                Err(e) => {
                    tracing::warn!(error = %e, helper = helper.name(), "network helper failed: the session has no outbound network")
                }
            }
        }
    }
    drop(life_r);
    Ok(built)
}

impl Built {
    async fn claim(self, claim: ClaimSpec) -> std::io::Result<Sandbox> {
        let Built {
            ctl,
            mut res,
            network,
        } = self;
        let answer = async {
            ctl.send(&ToSandbox::Claim(Box::new(claim)), &[]).await?;
            let init = res.init.as_ref();
            tokio::select! {
                r = timeout(ctl.recv::<FromSandbox>()) => r?,
                _ = async { if let Some(i) = init { i.exited().await } } =>
                    Err(std::io::Error::other("the sandbox's init died")),
            }
        }
        .await;
        let error = match answer {
            Ok(Received::Message(FromSandbox::Ready, _)) => None,
            Ok(Received::Message(FromSandbox::Failed { error }, _)) => Some(error),
            Ok(other) => Some(format!("unexpected answer {other:?}")),
            Err(e) => Some(e.to_string()),
        };
        if let Some(error) = error {
            return Err(std::io::Error::other(format!(
                "cannot set up the session: {error}"
            )));
        }
        let (dead_tx, dead_rx) = watch::channel(false);
        res.dead = Some(dead_tx);
        let shared = Arc::new(Shared {
            ctl,
            next: AtomicU64::new(1),
            replies: Mutex::new(HashMap::new()),
            exits: Mutex::new(HashMap::new()),
            gone: watch::channel(false).0,
        });
        tokio::spawn(dispatch(Arc::downgrade(&shared)));
        let external = match (network, res.net.is_some()) {
            (Network::Private, true) => Some(super::net::SLIRP_GUEST),
            _ => None,
        };
        Ok(Sandbox {
            shared,
            resources: Mutex::new(Some(res)),
            network,
            external,
            dead: dead_rx,
        })
    }
}

/// What a sandbox holds on the host, released once: when it is dropped (so a set-up that
/// is cancelled midway leaves nothing running).
#[derive(Debug)]
struct Resources {
    init: Option<Init>,
    lifeline: Option<OwnedFd>,
    net: Option<tokio::process::Child>,
    cgroup: Option<SessionCgroup>,
    scratch: Option<PathBuf>,
    zygote: Arc<Zygote>,
    /// Told when every process of the sandbox is gone.
    dead: Option<watch::Sender<bool>>,
    /// Its private network namespace (new host addresses are blocked in it).
    netns: Option<Arc<OwnedFd>>,
}

impl Drop for Resources {
    fn drop(&mut self) {
        self.release();
    }
}

impl Resources {
    /// Kills every process of the sandbox now (the init: the kernel then kills every
    /// process of its PID namespace); reaps and removes the rest in the background.
    fn release(&mut self) {
        let Some(init) = self.init.take() else {
            return;
        };
        init.kill();
        drop(self.lifeline.take());
        let mut net = self.net.take();
        if let Some(n) = &mut net {
            let _ = n.start_kill();
        }
        let (cgroup, scratch, dead) = (self.cgroup.take(), self.scratch.take(), self.dead.take());
        let zygote = self.zygote.clone();
        let cleanup = async move {
            let _ = tokio::time::timeout(Duration::from_secs(10), init.exited()).await;
            if let Some(mut n) = net {
                let _ = tokio::time::timeout(Duration::from_secs(5), n.wait()).await;
            }
            if let Some(c) = cgroup {
                c.remove().await;
            }
            if let Some(s) = scratch {
                let _ = zygote.remove(&s).await;
            }
            // Gone: processes, cgroups, scratch.
            if let Some(d) = dead {
                let _ = d.send(true);
            }
        };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(cleanup);
        }
    }
}

/// A claimed sandbox: the session's processes start here.
#[derive(Debug)]
pub struct Sandbox {
    shared: Arc<Shared>,
    resources: Mutex<Option<Resources>>,
    network: Network,
    external: Option<std::net::Ipv4Addr>,
    dead: watch::Receiver<bool>,
}

#[derive(Debug)]
struct Shared {
    ctl: Conn,
    next: AtomicU64,
    replies: Mutex<HashMap<u64, oneshot::Sender<Answer<FromSandbox>>>>,
    exits: Mutex<HashMap<u64, watch::Sender<Option<ExitInfo>>>>,
    /// Set when the sandbox is gone.
    gone: watch::Sender<bool>,
}

/// Reads the spawner's messages until the sandbox is gone. What a subverted spawner sends
/// can only misreport that session's own processes.
async fn dispatch(weak: std::sync::Weak<Shared>) {
    loop {
        let Some(shared) = weak.upgrade() else { return };
        let msg = shared.ctl.recv::<FromSandbox>().await;
        match msg {
            Ok(Received::Message(FromSandbox::Exited { id, code, signal }, _)) => {
                let tx = shared.exits.lock().ok().and_then(|mut e| e.remove(&id));
                if let Some(tx) = tx {
                    let _ = tx.send(Some(ExitInfo { code, signal }));
                }
            }
            Ok(Received::Message(m, fds)) => {
                let id = match &m {
                    FromSandbox::Spawned { id, .. }
                    | FromSandbox::SpawnFailed { id, .. }
                    | FromSandbox::Connected { id }
                    | FromSandbox::ConnectFailed { id, .. } => *id,
                    _ => continue,
                };
                let tx = shared.replies.lock().ok().and_then(|mut r| r.remove(&id));
                if let Some(tx) = tx {
                    let _ = tx.send((m, fds));
                }
            }
            // A malformed message is skipped; a broken socket is the end.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => continue,
            Err(_) | Ok(Received::Closed) => break,
        }
    }
    if let Some(shared) = weak.upgrade() {
        shared.close();
    }
}

impl Shared {
    /// The sandbox is gone: every waiter learns it (processes count as killed).
    fn close(&self) {
        let _ = self.gone.send(true);
        if let Ok(mut r) = self.replies.lock() {
            r.clear();
        }
        if let Ok(mut e) = self.exits.lock() {
            for (_, tx) in e.drain() {
                let _ = tx.send(Some(ExitInfo {
                    code: None,
                    signal: Some(libc::SIGKILL),
                }));
            }
        }
    }

    async fn ask(
        &self,
        id: u64,
        msg: ToSandbox,
        fds: &[RawFd],
    ) -> std::io::Result<(FromSandbox, Vec<OwnedFd>)> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut r) = self.replies.lock() {
            r.insert(id, tx);
        }
        if *self.gone.borrow() {
            return Err(std::io::Error::other("the session's sandbox is gone"));
        }
        self.ctl.send(&msg, fds).await?;
        match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
            Ok(Ok(a)) => Ok(a),
            Ok(Err(_)) => Err(std::io::Error::other("the session's sandbox is gone")),
            Err(_) => {
                if let Ok(mut r) = self.replies.lock() {
                    r.remove(&id);
                }
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the session's sandbox did not answer",
                ))
            }
        }
    }
}

/// Signals a process of a sandbox.
#[derive(Debug, Clone)]
pub struct Signaller {
    shared: std::sync::Weak<Shared>,
    id: u64,
}

impl Signaller {
    /// Sends `signal` to what `scope` names unless the process was reaped.
    pub async fn signal(&self, signal: i32, scope: crate::sandbox::SignalScope) {
        if let Some(s) = self.shared.upgrade() {
            let _ = s
                .ctl
                .send(
                    &ToSandbox::Signal {
                        id: self.id,
                        signal,
                        scope,
                    },
                    &[],
                )
                .await;
        }
    }
}

impl Sandbox {
    /// Starts a process in the sandbox.
    pub async fn spawn(&self, spec: ProcessSpec) -> std::io::Result<Process> {
        let shared = &self.shared;
        let id = shared.next.fetch_add(1, Ordering::Relaxed);
        let (stdin, stdout, stderr, pty) = match spec.stdio {
            Stdio::Pipes { stdin } => (stdin, true, true, None),
            Stdio::Pty { rows, cols } => (false, false, false, Some((rows, cols))),
        };
        let payload = wire::payload_file(&SpawnPayload {
            program: spec.program.clone(),
            argv: std::iter::once(
                Path::new(&spec.program)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| spec.program.clone()),
            )
            .chain(spec.args.iter().cloned())
            .collect(),
            env: spec.env.clone(),
            cwd: spec.cwd.clone(),
            runtime_user: spec.user == User::RuntimeUser,
            stdio: [stdin, stdout, stderr],
        })?;
        let mut pass: Vec<OwnedFd> = vec![payload];
        let mut ours_in = None;
        let mut ours_out = None;
        let mut ours_err = None;
        if stdin {
            let (r, w) = sys::pipe()?;
            pass.push(r);
            ours_in = Some(w);
        }
        if stdout {
            let (r, w) = sys::pipe()?;
            pass.push(w);
            ours_out = Some(r);
        }
        if stderr {
            let (r, w) = sys::pipe()?;
            pass.push(w);
            ours_err = Some(r);
        }
        let (exit_tx, exit_rx) = watch::channel(None);
        if let Ok(mut e) = shared.exits.lock() {
            e.insert(id, exit_tx);
        }
        let raw: Vec<RawFd> = pass.iter().map(AsRawFd::as_raw_fd).collect();
        let answer = shared.ask(id, ToSandbox::Spawn { id, pty }, &raw).await;
        drop(pass);
        let (msg, mut fds) = match answer {
            Ok(a) => a,
            Err(e) => {
                if let Ok(mut e) = shared.exits.lock() {
                    e.remove(&id);
                }
                return Err(e);
            }
        };
        match msg {
            FromSandbox::Spawned { .. } => {}
            FromSandbox::SpawnFailed { error, .. } => {
                if let Ok(mut e) = shared.exits.lock() {
                    e.remove(&id);
                }
                return Err(std::io::Error::other(error));
            }
            other => {
                return Err(std::io::Error::other(format!(
                    "unexpected answer: {other:?}"
                )));
            }
        }
        let pty = match (pty, fds.pop()) {
            (Some(_), Some(master)) => Some(crate::sandbox::pty::Pty::new(master)?),
            (Some(_), None) => return Err(std::io::Error::other("no terminal came back")),
            _ => None,
        };
        let reader = |fd: Option<OwnedFd>| -> std::io::Result<Option<crate::sandbox::Reader>> {
            fd.map(|f| {
                tokio::net::unix::pipe::Receiver::from_owned_fd(f)
                    .map(|r| Box::new(r) as crate::sandbox::Reader)
            })
            .transpose()
        };
        Ok(Process {
            stdin: ours_in
                .map(|f| {
                    tokio::net::unix::pipe::Sender::from_owned_fd(f)
                        .map(|w| Box::new(w) as crate::sandbox::Writer)
                })
                .transpose()?,
            stdout: reader(ours_out)?,
            stderr: reader(ours_err)?,
            pty,
            exit: exit_rx,
            control: crate::sandbox::Control::Linux(Signaller {
                shared: Arc::downgrade(shared),
                id,
            }),
        })
    }

    /// A TCP connection to `addr:port` inside the sandbox, made from inside (on the host's
    /// network: from here).
    pub async fn connect(
        &self,
        addr: std::net::Ipv4Addr,
        port: u16,
    ) -> std::io::Result<tokio::net::TcpStream> {
        if self.network == Network::Host {
            return tokio::net::TcpStream::connect((addr, port)).await;
        }
        let id = self.shared.next.fetch_add(1, Ordering::Relaxed);
        let (msg, mut fds) = self
            .shared
            .ask(id, ToSandbox::Connect { id, addr, port }, &[])
            .await?;
        let sock = match (msg, fds.pop()) {
            (FromSandbox::Connected { .. }, Some(fd)) => fd,
            (FromSandbox::ConnectFailed { error, .. }, _) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionRefused,
                    error,
                ));
            }
            (other, _) => {
                return Err(std::io::Error::other(format!(
                    "unexpected answer: {other:?}"
                )));
            }
        };
        let std_stream = std::net::TcpStream::from(sock);
        let stream = tokio::net::TcpStream::from_std(std_stream)?;
        stream.writable().await?;
        if let Some(e) = stream.take_error()? {
            return Err(e);
        }
        // A connect still under way reports no error yet: a peer address means it is done.
        stream.peer_addr()?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    /// The sandbox's network.
    pub fn network(&self) -> Network {
        self.network
    }

    /// The sandbox's own address on its network (what a server bound to `0.0.0.0` inside
    /// answers on, and one bound to `127.0.0.1` does not), when it has one.
    pub fn external_address(&self) -> Option<std::net::Ipv4Addr> {
        self.external
    }

    /// Kills every process now; the rest of the clean-up happens in the background.
    pub fn shutdown(&self) {
        let res = self.resources.lock().ok().and_then(|mut r| r.take());
        drop(res);
        self.shared.close();
    }

    /// `true` once every process of the sandbox is gone.
    pub fn gone_watch(&self) -> watch::Receiver<bool> {
        self.dead.clone()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shutdown();
    }
}
