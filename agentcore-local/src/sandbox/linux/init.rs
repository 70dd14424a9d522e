//! A sandbox's init: PID 1 of the sandbox's PID namespace, forked by the zygote into fresh
//! mount, PID, UTS, IPC (and network) namespaces.
//!
//! It builds the sandbox's root while it still sees the host (a pool keeps such sandboxes
//! ready), then, when a session claims it, binds the session's filesystems, pivots into the
//! new root and enters a user namespace of the session's own, with a copy of its mount
//! namespace made from there: every mount it made is then *locked*, so root inside cannot
//! unmount, remount read-write or uncover any of them. From then on it is the session's
//! [spawner](super::spawner). As PID 1 it cannot be killed from inside (the kernel delivers
//! no SIGKILL to a namespace's init from within it), and it is not dumpable (no ptrace, no
//! `/proc/1/root`, `/proc/1/exe`). When the server's lifeline goes, it exits and the kernel
//! kills every process of the sandbox.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::sys;
use super::wire::{self, BuildSpec, ClaimSpec, FromSandbox, Received, ToSandbox};

/// Where the sandbox's writable space is mounted while it is built, below the stage (a
/// host directory covered only in the sandbox's own mount namespace): the new root, and the
/// writable layer when it is in memory (never visible inside).
struct Stage {
    top: String,
    root: String,
    layer: String,
}

impl Stage {
    fn new(spec: &BuildSpec) -> Self {
        let top = spec
            .stage
            .to_string_lossy()
            .trim_end_matches('/')
            .to_owned();
        Self {
            root: format!("{top}/r"),
            layer: format!("{top}/l"),
            top,
        }
    }
}

/// The host's directories a sandbox sees, each through its own writable layer.
const SYSTEM_DIRS: [&str; 9] = [
    "usr", "etc", "opt", "bin", "sbin", "lib", "lib32", "lib64", "libx32",
];

/// The shell user, as on the service.
pub const RUNTIME_USER: &str = "agentcore-runtime-user";
/// Its uid and gid inside.
pub const RUNTIME_UID: u32 = 1000;

fn c(path: impl AsRef<Path>) -> std::io::Result<CString> {
    CString::new(path.as_ref().as_os_str().as_bytes()).map_err(std::io::Error::other)
}

fn err(what: &str, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Runs the init; never returns.
pub fn run(spec: &BuildSpec, ctl: OwnedFd, lifeline: OwnedFd) -> ! {
    sys::reset_signals();
    sys::set_name(c"agentcore-init");
    let fail = |e: std::io::Error| -> ! {
        let _ = wire::send(
            ctl.as_fd(),
            &FromSandbox::Failed {
                error: e.to_string(),
            },
            &[],
        );
        sys::exit(1)
    };
    if let Err(e) = build(spec) {
        fail(e);
    }
    let ns: Vec<OwnedFd> = if spec.own_network {
        match ["/proc/self/ns/net", "/proc/self/ns/user"]
            .into_iter()
            .map(|p| std::fs::File::open(p).map(OwnedFd::from))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(v) => v,
            Err(e) => fail(err("cannot open the namespaces", e)),
        }
    } else {
        Vec::new()
    };
    let raw: Vec<i32> = ns.iter().map(AsRawFd::as_raw_fd).collect();
    if wire::send(ctl.as_fd(), &FromSandbox::Built, &raw).is_err() {
        sys::exit(1);
    }
    drop(ns);
    // Wait for a session (or for the server to go).
    let claim = loop {
        match sys::poll_readable(&[ctl.as_fd(), lifeline.as_fd()], -1) {
            Ok(r) if r.get(1) == Some(&true) => sys::exit(0),
            Ok(r) if r.first() == Some(&true) => {}
            _ => continue,
        }
        match wire::recv::<ToSandbox>(ctl.as_fd()) {
            Ok(Received::Message(ToSandbox::Claim(claim), _)) => break claim,
            Ok(Received::Message(..)) => continue,
            Ok(Received::Closed) | Err(_) => sys::exit(0),
        }
    };
    if let Err(e) = bind_session(spec, &claim).and_then(|()| enter_session(spec)) {
        fail(e);
    }
    let shell_user = if spec.map.count > RUNTIME_UID {
        None
    } else {
        match nested_shell_user() {
            Ok(ns) => Some(ns),
            Err(e) => fail(e),
        }
    };
    super::spawner::run(spec, &claim, ctl, lifeline, shell_user)
}

/// With a single mapped id, the shell user is uid 1000 of a user namespace nested in the
/// session's, whose only id is the session's root. It is made once here (a child enters it
/// and this process, still dumpable, writes its maps); shells then join it.
fn nested_shell_user() -> std::io::Result<OwnedFd> {
    let (mine, theirs) = sys::seqpacket_pair()?;
    let child = match sys::fork()? {
        None => {
            drop(mine);
            let ok = sys::unshare(libc::CLONE_NEWUSER).is_ok();
            let _ = nix::unistd::write(&theirs, if ok { b"u" } else { b"x" });
            let mut b = [0u8; 1];
            let _ = nix::unistd::read(theirs.as_fd(), &mut b);
            sys::exit(0)
        }
        Some(pid) => pid,
    };
    drop(theirs);
    let result = (|| {
        let mut b = [0u8; 1];
        if nix::unistd::read(mine.as_fd(), &mut b)? != 1 || b != *b"u" {
            return Err(std::io::Error::other(
                "cannot create the shell user's namespace",
            ));
        }
        let id = RUNTIME_UID;
        std::fs::write(format!("/proc/{child}/setgroups"), "deny")
            .map_err(|e| err("setgroups", e))?;
        std::fs::write(format!("/proc/{child}/uid_map"), format!("{id} 0 1"))
            .map_err(|e| err("uid_map", e))?;
        std::fs::write(format!("/proc/{child}/gid_map"), format!("{id} 0 1"))
            .map_err(|e| err("gid_map", e))?;
        std::fs::File::open(format!("/proc/{child}/ns/user"))
            .map(OwnedFd::from)
            .map_err(|e| err("open the shell user's namespace", e))
    })();
    let _ = nix::unistd::write(&mine, b"d");
    let _ = sys::wait_for(child);
    result
}

/// Enters the session's user namespace (and a locked copy of the mounts, and a cgroup
/// namespace rooted at the sandbox's cgroup). A child that stays outside writes the id
/// maps, which only a process of the parent user namespace may.
fn enter_session(spec: &BuildSpec) -> std::io::Result<()> {
    let (mine, theirs) = sys::seqpacket_pair()?;
    let mapper = match sys::fork()? {
        None => {
            drop(mine);
            let mut b = [0u8; 1];
            let result = if nix::unistd::read(theirs.as_fd(), &mut b).ok() == Some(1) {
                ["uid_map", "gid_map"].into_iter().try_for_each(|file| {
                    let ours = std::fs::read_to_string(format!("/proc/self/{file}"))
                        .map_err(|e| err(file, e))?;
                    std::fs::write(format!("/proc/1/{file}"), session_map(spec, &ours))
                        .map_err(|e| err(file, e))
                })
            } else {
                Err(std::io::Error::other("no user namespace to map"))
            };
            let answer = match &result {
                Ok(()) => String::new(),
                Err(e) => e.to_string(),
            };
            let _ = nix::unistd::write(&theirs, answer.as_bytes());
            sys::exit(i32::from(result.is_err()))
        }
        Some(pid) => pid,
    };
    drop(theirs);
    // The namespace's owner is the id this process has when it creates it.
    if let Some(owner) = spec.owner {
        sys::set_euid_keeping_caps(owner).map_err(|e| err("take the session's owner id", e))?;
    }
    let entered = sys::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWCGROUP);
    let _ = nix::unistd::write(&mine, if entered.is_ok() { b"u" } else { b"x" });
    let mut answer = [0u8; 512];
    let n = nix::unistd::read(mine.as_fd(), &mut answer).unwrap_or(0);
    let _ = sys::wait_for(mapper);
    entered.map_err(|e| err("enter the session's user namespace", e))?;
    if n > 0 {
        return Err(std::io::Error::other(format!(
            "cannot write the session's id maps: {}",
            String::from_utf8_lossy(answer.get(..n).unwrap_or_default())
        )));
    }
    if spec.owner.is_some() {
        sys::clear_securebits().map_err(|e| err("clear the secure bits", e))?;
    }
    sys::become_user(0, 0).map_err(|e| err("become root inside", e))?;
    // Changing ids made this process non-dumpable; nothing of the session runs yet, and the
    // shell user's namespace is made through its /proc files: dumpable until the spawner
    // confines itself.
    sys::dumpable().map_err(|e| err("dumpable", e))
}

/// The session's id map (for `uid_map` or `gid_map`), given ours. Each line of a map must
/// fall within one line of the parent's: an identity map over our own ids follows our
/// lines (a rootless server's root and its subordinate ids are two).
pub fn session_map(spec: &BuildSpec, ours: &str) -> String {
    let count = u64::from(spec.map.count);
    if spec.map.base != 0 {
        return format!("0 {} {}\n", spec.map.base, spec.map.count);
    }
    let mut out = String::new();
    for line in ours.lines() {
        let mut f = line.split_whitespace().map(|x| x.parse::<u64>().ok());
        let (Some(Some(first)), Some(Some(_)), Some(Some(n))) = (f.next(), f.next(), f.next())
        else {
            continue;
        };
        let end = first.saturating_add(n).min(count);
        if first < end {
            out.push_str(&format!("{first} {first} {}\n", end.saturating_sub(first)));
        }
    }
    out
}

/// The ids root inside (and the shell user) have from where the init stands.
fn root_id(spec: &BuildSpec) -> u32 {
    // For an unprivileged server this is 0 in the zygote's namespace: the server's user.
    spec.map.base
}

fn user_id(spec: &BuildSpec) -> u32 {
    spec.map.outside(RUNTIME_UID).unwrap_or(spec.map.base)
}

fn own(path: &str, id: u32) -> std::io::Result<()> {
    sys::lchown(&c(path)?, id, id).map_err(|e| err(&format!("chown {path}"), e))
}

fn mkdir(path: &str, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
        .map_err(|e| err(&format!("mkdir {path}"), e))?;
    // The umask does not apply to what a sandbox expects (1777 for /tmp).
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| err(&format!("chmod {path}"), e))
}

fn mount(
    source: &str,
    target: &str,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> std::io::Result<()> {
    let fstype = fstype.map(c).transpose()?;
    let data = data.map(c).transpose()?;
    sys::mount(
        Some(&c(source)?),
        &c(target)?,
        fstype.as_deref(),
        flags,
        data.as_deref(),
    )
    .map_err(|e| err(&format!("mount {source} on {target}"), e))
}

/// Binds `source` (opened first, so what is bound is what was opened) at `target`, then
/// applies `flags` (read-only, nosuid, nodev) to the new mount.
fn bind(source: &Path, target: &str, flags: libc::c_ulong) -> std::io::Result<()> {
    let fd =
        sys::open_path(&c(source)?).map_err(|e| err(&format!("open {}", source.display()), e))?;
    let via = format!("/proc/self/fd/{}", fd.as_raw_fd());
    mount(&via, target, None, libc::MS_BIND, None)?;
    if flags != 0 {
        sys::mount(
            None,
            &c(target)?,
            None,
            libc::MS_BIND | libc::MS_REMOUNT | flags,
            None,
        )
        .map_err(|e| err(&format!("remount {target}"), e))?;
    }
    Ok(())
}

/// Builds the new root below the stage: what every session gets before its own filesystems.
fn build(spec: &BuildSpec) -> std::io::Result<()> {
    let stage = Stage::new(spec);
    let root = root_id(spec);
    let nosuid_nodev = libc::MS_NOSUID | libc::MS_NODEV;
    // Nothing done here may reach the host's mount namespace.
    sys::mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE, None)
        .map_err(|e| err("make mounts private", e))?;
    // One size-limited file system for everything a session writes outside its storage.
    mount(
        "agentcore",
        &stage.top,
        Some("tmpfs"),
        nosuid_nodev,
        Some(&format!("size={},mode=0755", spec.space_bytes.max(1 << 20))),
    )?;
    let root_dir = stage.root.as_str();
    mkdir(root_dir, 0o755)?;
    mount(root_dir, root_dir, None, libc::MS_BIND, None)?;
    own(root_dir, root)?;
    let r = |p: &str| format!("{root_dir}/{p}");
    for (dir, mode) in [
        ("proc", 0o555),
        ("dev", 0o755),
        ("sys", 0o555),
        ("tmp", 0o1777),
        ("root", 0o700),
        ("mnt", 0o755),
        ("var", 0o755),
        ("var/task", 0o755),
        ("var/tmp", 0o1777),
        ("var/lib", 0o755),
        ("var/cache", 0o755),
        ("var/log", 0o755),
        ("run", 0o755),
        ("home", 0o755),
        ("srv", 0o755),
    ] {
        mkdir(&r(dir), mode)?;
        own(&r(dir), root)?;
    }
    let home = r("home/agentcore-runtime-user");
    mkdir(&home, 0o755)?;
    own(&home, user_id(spec))?;
    // The host's system directories, each under its own writable layer.
    let layer_dir = match &spec.layer {
        wire::Layer::Memory => std::path::PathBuf::from(&stage.layer),
        wire::Layer::Disk(d) => d.clone(),
    };
    mkdir(&layer_dir.to_string_lossy(), 0o700)?;
    // Relative layer paths keep host paths out of the sandbox's mountinfo.
    std::env::set_current_dir(&layer_dir).map_err(|e| err("enter the layer", e))?;
    for d in SYSTEM_DIRS {
        let host = Path::new("/").join(d);
        let Ok(meta) = std::fs::symlink_metadata(&host) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&host)?;
            std::os::unix::fs::symlink(&target, r(d))
                .map_err(|e| err(&format!("symlink {d}"), e))?;
            continue;
        }
        if !meta.is_dir() {
            continue;
        }
        for part in ["u", "w"] {
            mkdir(&format!("{d}/{part}"), 0o755)?;
        }
        own(&format!("{d}/u"), root)?;
        if d == "usr" {
            // Root inside owns /usr/local and its directories, as in a container image.
            mkdir("usr/u/local", 0o755)?;
            own("usr/u/local", root)?;
            if let Ok(entries) = std::fs::read_dir("/usr/local") {
                for e in entries.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        let sub = format!("usr/u/local/{}", e.file_name().to_string_lossy());
                        mkdir(&sub, 0o755)?;
                        own(&sub, root)?;
                    }
                }
            }
        }
        mkdir(&r(d), 0o755)?;
        let xattr = if spec.host_root { "" } else { ",userxattr" };
        mount(
            &format!("agentcore-{d}"),
            &r(d),
            Some("overlay"),
            nosuid_nodev,
            Some(&format!(
                "lowerdir=/{d},upperdir={d}/u,workdir={d}/w{xattr}"
            )),
        )?;
    }
    std::env::set_current_dir("/").map_err(|e| err("leave the layer", e))?;
    accounts(spec, root_dir)?;
    devices(spec, root_dir)?;
    mount(
        "proc",
        &r("proc"),
        Some("proc"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        None,
    )?;
    let sys_flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    if mount("sysfs", &r("sys"), Some("sysfs"), sys_flags, None).is_err() {
        // Not in a network namespace of our own (host network, unprivileged): the host's,
        // read-only throughout, without its cgroup hierarchy (session limits live there).
        let fd = sys::open_path(c"/sys").map_err(|e| err("open /sys", e))?;
        let via = format!("/proc/self/fd/{}", fd.as_raw_fd());
        mount(&via, &r("sys"), None, libc::MS_BIND | libc::MS_REC, None)?;
        sys::make_tree_read_only(&c(r("sys"))?).map_err(|e| err("make /sys read-only", e))?;
        let cgroup = r("sys/fs/cgroup");
        if Path::new(&cgroup).is_dir() {
            mount(
                "agentcore-hidden",
                &cgroup,
                Some("tmpfs"),
                libc::MS_RDONLY | nosuid_nodev | libc::MS_NOEXEC,
                Some("size=4k,mode=555"),
            )?;
        }
    }
    for h in &spec.hidden {
        let target = r(h.to_string_lossy().trim_start_matches('/'));
        if Path::new(&target).exists() {
            mount(
                "agentcore-hidden",
                &target,
                Some("tmpfs"),
                libc::MS_RDONLY | nosuid_nodev | libc::MS_NOEXEC,
                Some("size=4k,mode=000"),
            )?;
        }
    }
    sys::sethostname("localhost").map_err(|e| err("sethostname", e))?;
    if spec.own_network {
        network(spec)?;
    }
    Ok(())
}

/// `/etc/passwd`, `/etc/group` with the shell user (any other user of its id gives way),
/// `/etc/hostname`, and `/etc/resolv.conf` for the network helper's DNS.
fn accounts(spec: &BuildSpec, new_root: &str) -> std::io::Result<()> {
    let root = root_id(spec);
    let uid = RUNTIME_UID.to_string();
    let keep = |line: &&str| {
        !line.starts_with("agentcore-runtime-user:") && line.split(':').nth(2) != Some(&uid)
    };
    let filtered = |path: &str| -> String {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter(keep)
            .map(|l| format!("{l}\n"))
            .collect()
    };
    let passwd = format!(
        "{}{RUNTIME_USER}:x:{RUNTIME_UID}:{RUNTIME_UID}::/home/{RUNTIME_USER}:/bin/bash\n",
        filtered("/etc/passwd")
    );
    let group = format!(
        "{}{RUNTIME_USER}:x:{RUNTIME_UID}:\n",
        filtered("/etc/group")
    );
    let mut files = vec![
        ("etc/passwd", passwd),
        ("etc/group", group),
        ("etc/hostname", "localhost\n".to_owned()),
    ];
    if let Some(ns) = &spec.nameserver {
        files.push(("etc/resolv.conf", format!("nameserver {ns}\n")));
    }
    for (name, text) in files {
        let path = format!("{new_root}/{name}");
        // A new file (the host's belongs to an id unmapped inside): remove, then create.
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, text).map_err(|e| err(&format!("write {name}"), e))?;
        own(&path, root)?;
    }
    Ok(())
}

/// `/dev`: the harmless devices of the host, a private devpts, `/dev/shm`.
fn devices(spec: &BuildSpec, new_root: &str) -> std::io::Result<()> {
    let dev = format!("{new_root}/dev");
    for n in ["null", "zero", "full", "random", "urandom", "tty"] {
        let t = format!("{dev}/{n}");
        std::fs::write(&t, b"").map_err(|e| err(&format!("create {t}"), e))?;
        bind(
            &Path::new("/dev").join(n),
            &t,
            libc::MS_NOSUID | libc::MS_NOEXEC,
        )?;
    }
    mkdir(&format!("{dev}/pts"), 0o755)?;
    mount(
        "devpts",
        &format!("{dev}/pts"),
        Some("devpts"),
        libc::MS_NOSUID | libc::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )?;
    let shm = format!("{dev}/shm");
    mkdir(&shm, 0o1777)?;
    mount(
        "agentcore-shm",
        &shm,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some(&format!("size={},mode=1777", spec.shm_bytes.max(1 << 20))),
    )?;
    for (link, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        std::os::unix::fs::symlink(target, format!("{dev}/{link}"))
            .map_err(|e| err(&format!("symlink /dev/{link}"), e))?;
    }
    Ok(())
}

/// The sandbox's own network: loopback up, low ports and ping for everyone inside (root
/// inside does not administer this namespace), and the host's addresses unreachable.
fn network(spec: &BuildSpec) -> std::io::Result<()> {
    sys::interface_up("lo").map_err(|e| err("bring up lo", e))?;
    let _ = std::fs::write("/proc/sys/net/ipv4/ip_unprivileged_port_start", "0");
    let _ = std::fs::write("/proc/sys/net/ipv4/ping_group_range", "0 2147483647");
    for (addr, prefix) in &spec.blocked {
        if let Err(e) = super::net::add_unreachable_route(*addr, *prefix) {
            // IPv6 may be off in this namespace: then nothing of it is reachable anyway.
            if addr.is_ipv4() {
                return Err(err(&format!("block {addr}/{prefix}"), e));
            }
        }
    }
    Ok(())
}

/// Binds a session's filesystems and code, then makes the new root the root.
fn bind_session(spec: &BuildSpec, claim: &ClaimSpec) -> std::io::Result<()> {
    let new_root = Stage::new(spec).root;
    let storage_flags = libc::MS_NOSUID | libc::MS_NODEV;
    for m in &claim.mounts {
        let target = format!("{new_root}{}", m.inside.trim_end_matches('/'));
        mkdir(&target, 0o755)?;
        bind(&m.host, &target, storage_flags)?;
    }
    if let Some(code) = &claim.code {
        let ro = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV;
        if code.is_dir() {
            bind(code, &format!("{new_root}/var/task"), ro)?;
        } else {
            let name = code
                .file_name()
                .ok_or_else(|| std::io::Error::other("agent code has no file name"))?;
            let target = format!("{new_root}/var/task/{}", name.to_string_lossy());
            std::fs::write(&target, b"").map_err(|e| err("create the code file", e))?;
            bind(code, &target, ro)?;
        }
    }
    std::env::set_current_dir(&new_root).map_err(|e| err("enter the new root", e))?;
    sys::pivot_root_here().map_err(|e| err("pivot_root", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(base: u32, count: u32) -> BuildSpec {
        BuildSpec {
            stage: "/mnt".into(),
            map: wire::IdMap { base, count },
            owner: None,
            host_root: base != 0,
            own_network: true,
            nameserver: None,
            blocked: Vec::new(),
            space_bytes: 1 << 20,
            shm_bytes: 1 << 20,
            layer: wire::Layer::Memory,
            hidden: Vec::new(),
        }
    }

    #[test]
    fn session_maps_follow_the_parents_lines() {
        let rootless = "         0       1001          1\n         1     165536      65535\n";
        assert_eq!(session_map(&spec(0, 65536), rootless), "0 0 1\n1 1 65535\n");
        assert_eq!(session_map(&spec(0, 1), "0 1001 1\n"), "0 0 1\n");
        assert_eq!(
            session_map(&spec(0x7000_0000, 65536), "0 0 4294967295\n"),
            "0 1879048192 65536\n"
        );
    }
}
