//! The zygote: the server's own binary, re-executed once per server with a marker in its
//! environment, which a hook run before `main` recognises. It becomes the parent of every
//! sandbox (in the server user's user namespace when the server is not root) and forks
//! each sandbox's init into fresh namespaces. Nothing outside `agentcore-local` is needed:
//! the code that runs in a sandbox is this crate's, in whatever binary embeds it (the
//! `agentcore-local` binary, an example, a user's test binary).
//!
//! The zygote is single-threaded, never runs anything a session wrote, and lives exactly as
//! long as the server's end of its socket: when the server goes (even by SIGKILL) it removes
//! what the server left behind and exits.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::time::Duration;

use super::sys;
use super::wire::{self, FromZygote, Received, ToZygote};

/// The environment variable that makes the binary a zygote; its value is the socket's fd.
pub const MARKER: &std::ffi::CStr = c"AGENTCORE_LOCAL_ZYGOTE";
/// The descriptor the server passes the socket on.
pub const SOCKET_FD: RawFd = 3;
/// What the zygote and the sandboxes' inits are called in `ps`.
pub const ARGV0: &str = "agentcore-init";

// The hook: every binary that links agentcore-local checks the marker before `main` (a
// `#[used]` static in `.init_array` is kept by the linker whenever this crate is linked).
#[used]
#[unsafe(link_section = ".init_array")]
static HOOK: extern "C" fn() = hook;

extern "C" fn hook() {
    let Some(value) = sys::getenv(MARKER) else {
        return;
    };
    if value.to_bytes() != SOCKET_FD.to_string().as_bytes() {
        return;
    }
    // SAFETY: the server passed the socket on this descriptor; nothing else owns it.
    let sock = unsafe { OwnedFd::from_raw_fd(SOCKET_FD) };
    let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(sock))).unwrap_or(101);
    sys::exit(code);
}

/// Keeps the hook referenced from the code that starts zygotes.
pub fn hook_linked() -> bool {
    std::hint::black_box(HOOK as usize) != 0
}

/// Cleans up after the server once its socket closes: the cgroup directories of this server
/// and the scratch directories of its sandboxes.
#[derive(Debug, Default)]
struct Leftovers {
    cgroups: Vec<PathBuf>,
    scratch: Vec<PathBuf>,
}

fn run(sock: OwnedFd) -> i32 {
    sys::close_from(SOCKET_FD.unsigned_abs().saturating_add(1));
    let _ = sys::setsid();
    sys::ignore_terminal_signals();
    sys::set_name(c"agentcore-zygote");
    // Nothing of the login session's keyrings reaches a sandbox.
    let _ = sys::join_new_session_keyring();
    let s = sock.as_fd();
    let mut leftovers = Leftovers::default();
    let (subordinate, single) = match wire::recv::<ToZygote>(s) {
        Ok(Received::Message(
            ToZygote::Start {
                subordinate,
                single,
                cgroups,
            },
            _,
        )) => {
            leftovers.cgroups = cgroups;
            (subordinate, single)
        }
        _ => return 2,
    };
    if let Err(e) = enter_user_namespace(s, subordinate, single) {
        let _ = wire::send(
            s,
            &FromZygote::Ready {
                probe: Err(format!("cannot create a user namespace: {e}")),
            },
            &[],
        );
        return 3;
    }
    let probe = probe_mounts();
    let failed = probe.is_err();
    if wire::send(s, &FromZygote::Ready { probe }, &[]).is_err() || failed {
        return 4;
    }
    let Ok(sigchld) = sys::sigchld_fd() else {
        return 5;
    };
    let mut removals: Vec<(i32, u64)> = Vec::new();
    while let Ok(ready) = sys::poll_readable(&[s, sigchld.as_fd()], -1) {
        if ready.get(1) == Some(&true) {
            sys::drain(sigchld.as_fd());
            while let Some(ended) = sys::reap_one() {
                if let Some(i) = removals.iter().position(|(pid, _)| *pid == ended.pid) {
                    let (_, id) = removals.swap_remove(i);
                    let error = (ended.code != Some(0))
                        .then(|| format!("removal failed ({:?} {:?})", ended.code, ended.signal));
                    let _ = wire::send(s, &FromZygote::Removed { id, error }, &[]);
                }
            }
        }
        if ready.first() != Some(&true) {
            continue;
        }
        match wire::recv::<ToZygote>(s) {
            Ok(Received::Message(ToZygote::Build { id, spec }, fds)) => {
                if let Some(dir) = match &spec.layer {
                    wire::Layer::Disk(d) => Some(d.clone()),
                    wire::Layer::Memory => None,
                } {
                    leftovers.scratch.push(dir);
                }
                build(s, id, &spec, fds);
            }
            Ok(Received::Message(ToZygote::Remove { id, path }, _)) => {
                leftovers.scratch.retain(|p| p != &path);
                leftovers.cgroups.retain(|p| !p.starts_with(&path));
                match sys::fork() {
                    Ok(None) => sys::exit(i32::from(remove_tree(&path).is_err())),
                    Ok(Some(pid)) => removals.push((pid, id)),
                    Err(e) => {
                        let error = Some(e.to_string());
                        let _ = wire::send(s, &FromZygote::Removed { id, error }, &[]);
                    }
                }
            }
            Ok(Received::Message(
                ToZygote::Chown {
                    id,
                    path,
                    uids,
                    gids,
                },
                _,
            )) => match sys::fork() {
                Ok(None) => sys::exit(i32::from(chown_tree(&path, &uids, &gids).is_err())),
                Ok(Some(pid)) => removals.push((pid, id)),
                Err(e) => {
                    let error = Some(e.to_string());
                    let _ = wire::send(s, &FromZygote::Removed { id, error }, &[]);
                }
            },
            Ok(Received::Message(ToZygote::Block { id, routes }, fds)) => {
                let Some(netns) = fds.into_iter().next() else {
                    let error = Some("no network namespace".to_owned());
                    let _ = wire::send(s, &FromZygote::Removed { id, error }, &[]);
                    continue;
                };
                match sys::fork() {
                    Ok(None) => {
                        let ok = sys::setns(netns.as_raw_fd(), libc::CLONE_NEWNET).is_ok()
                            && routes.iter().all(|(a, p)| {
                                // Already there (a race with the build) is fine.
                                match super::net::add_unreachable_route(*a, *p) {
                                    Ok(()) => true,
                                    Err(e) => e.raw_os_error() == Some(libc::EEXIST) || a.is_ipv6(),
                                }
                            });
                        sys::exit(i32::from(!ok))
                    }
                    Ok(Some(pid)) => removals.push((pid, id)),
                    Err(e) => {
                        let error = Some(e.to_string());
                        let _ = wire::send(s, &FromZygote::Removed { id, error }, &[]);
                    }
                }
            }
            Ok(Received::Message(ToZygote::Start { .. } | ToZygote::Mapped, _)) => {}
            Ok(Received::Closed) | Err(_) => break,
        }
    }
    clean_up(&leftovers);
    0
}

/// Becomes root of a user namespace of the server user's own (not for a root server, which
/// stays root of the host and maps sessions itself).
fn enter_user_namespace(s: BorrowedFd<'_>, subordinate: bool, single: bool) -> std::io::Result<()> {
    if !subordinate && !single {
        return Ok(());
    }
    let (uid, gid) = sys::ids();
    sys::unshare(libc::CLONE_NEWUSER)?;
    if single {
        std::fs::write("/proc/self/setgroups", "deny")?;
        std::fs::write("/proc/self/uid_map", format!("0 {uid} 1"))?;
        std::fs::write("/proc/self/gid_map", format!("0 {gid} 1"))?;
    } else {
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        wire::send(s, &FromZygote::NeedMap { pid }, &[])?;
        match wire::recv::<ToZygote>(s)? {
            Received::Message(ToZygote::Mapped, _) => {}
            _ => return Err(std::io::Error::other("the server did not map our ids")),
        }
    }
    sys::become_user(0, 0)
}

/// Whether this host lets us build a sandbox's mounts: a child tries a private mount
/// namespace with a tmpfs. (Ubuntu's AppArmor restriction, for one, allows the user
/// namespace but not this.)
fn probe_mounts() -> Result<(), String> {
    match sys::fork() {
        Ok(None) => {
            let ok = sys::unshare(libc::CLONE_NEWNS).and_then(|()| {
                sys::mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE, None)?;
                sys::mount(
                    Some(c"agentcore"),
                    c"/tmp",
                    Some(c"tmpfs"),
                    0,
                    Some(c"size=4k"),
                )
            });
            sys::exit(match ok {
                Ok(()) => 0,
                Err(e) => e.raw_os_error().unwrap_or(1).clamp(1, 255),
            })
        }
        Ok(Some(pid)) => match sys::wait_for(pid) {
            Some(sys::Ended { code: Some(0), .. }) => Ok(()),
            Some(sys::Ended {
                code: Some(errno), ..
            }) => Err(format!(
                "mounting in a new mount namespace fails: {}",
                std::io::Error::from_raw_os_error(errno)
            )),
            other => Err(format!("the mount probe ended with {other:?}")),
        },
        Err(e) => Err(format!("cannot fork: {e}")),
    }
}

fn build(s: BorrowedFd<'_>, id: u64, spec: &wire::BuildSpec, fds: Vec<OwnedFd>) {
    let fail = |error: String| {
        let _ = wire::send(s, &FromZygote::Failed { id, error }, &[]);
    };
    let mut fds = fds.into_iter();
    let (Some(ctl), Some(lifeline), None) = (fds.next(), fds.next(), fds.next()) else {
        return fail("a build needs a control socket and a lifeline".into());
    };
    let mut namespaces =
        libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC;
    if spec.own_network {
        namespaces |= libc::CLONE_NEWNET;
    }
    match sys::clone_into(namespaces) {
        Ok(sys::Forked::Child) => {
            // The init keeps only its control socket (3) and lifeline (4).
            let moved = sys::dup_above(ctl.as_raw_fd(), 10)
                .and_then(|c| Ok((c, sys::dup_above(lifeline.as_raw_fd(), 10)?)))
                .and_then(|(c, l)| {
                    sys::dup2(c.as_raw_fd(), 3)?;
                    sys::dup2(l.as_raw_fd(), 4)
                });
            if moved.is_err() {
                sys::exit(120);
            }
            sys::close_from(5);
            // SAFETY: descriptors 3 and 4 were just set up and nothing else owns them.
            let (ctl, lifeline) = unsafe { (OwnedFd::from_raw_fd(3), OwnedFd::from_raw_fd(4)) };
            super::init::run(spec, ctl, lifeline)
        }
        Ok(sys::Forked::Parent { pid, pidfd }) => {
            drop((ctl, lifeline));
            let _ = wire::send(s, &FromZygote::Built { id, pid }, &[pidfd.as_raw_fd()]);
        }
        Err(e) => fail(format!("cannot create the sandbox's namespaces: {e}")),
    }
}

/// Where `id` goes under `ranges` (unchanged when in none).
pub fn shifted(id: u32, ranges: &[(u32, u32, u32)]) -> u32 {
    ranges
        .iter()
        .find_map(|(from, to, n)| {
            let off = id.checked_sub(*from)?;
            (off < *n).then(|| to.checked_add(off)).flatten()
        })
        .unwrap_or(id)
}

/// Gives every file of a tree (not following symlinks) its new owner.
fn chown_tree(
    path: &std::path::Path,
    uids: &[(u32, u32, u32)],
    gids: &[(u32, u32, u32)],
) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path)?;
    let (u, g) = (shifted(meta.uid(), uids), shifted(meta.gid(), gids));
    if (u, g) != (meta.uid(), meta.gid()) {
        std::os::unix::fs::lchown(path, Some(u), Some(g))?;
    }
    if meta.is_dir() {
        for e in std::fs::read_dir(path)? {
            chown_tree(&e?.path(), uids, gids)?;
        }
    }
    Ok(())
}

/// Removes a tree: ids of the sandboxes are ours here, so nothing is out of reach.
fn remove_tree(path: &std::path::Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(_) => {
            // Directories a session made unwritable (mode 0, or 0500): open them up first.
            make_writable(path);
            match std::fs::remove_dir_all(path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            }
        }
        Ok(()) => Ok(()),
    }
}

fn make_writable(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700));
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            make_writable(&e.path());
        }
    }
}

/// After the server is gone: wait for its sandboxes to die, then remove their cgroups and
/// scratch directories.
fn clean_up(leftovers: &Leftovers) {
    for dir in &leftovers.scratch {
        let _ = remove_tree(dir);
    }
    for _ in 0..100 {
        if leftovers.cgroups.iter().all(|d| remove_cgroup_tree(d)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Removes a cgroup directory and its children (cgroup directories go with `rmdir` once
/// empty of processes). `true` when it is gone.
pub fn remove_cgroup_tree(dir: &std::path::Path) -> bool {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    std::fs::remove_dir(dir).is_ok() || !dir.exists()
}
