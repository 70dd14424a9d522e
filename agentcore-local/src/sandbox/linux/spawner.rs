//! A sandbox's spawner: the sandbox's init once a session has claimed it, the one process
//! through which everything of the session starts (commands, agents, shells). It lives in
//! the session's own user namespace, in a locked copy of the sandbox's mounts, with
//! `no_new_privs` and the session's seccomp filter, all inherited by what it starts. Requests come from the server over the control socket; starting a process is one
//! `fork` of this small process and one `exec`, nothing on the host in between. As PID 1 it
//! also reaps the orphans of the session.
//!
//! Every process it starts gets its own session (no terminal of anyone else's), only the
//! descriptors it was meant to get, default signal handling, and the environment the server
//! sent (the runtime's variables apply here, inside, and nowhere else).

use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, IntoRawFd, OwnedFd, RawFd};

use super::sys;
use super::wire::{self, BuildSpec, ClaimSpec, FromSandbox, Received, SpawnPayload, ToSandbox};

/// Runs the spawner (in the session's user namespace already); never returns.
pub fn run(
    spec: &BuildSpec,
    claim: &ClaimSpec,
    ctl: OwnedFd,
    lifeline: OwnedFd,
    shell_user: Option<OwnedFd>,
) -> ! {
    if let Err(e) = confine(claim) {
        let _ = wire::send(
            ctl.as_fd(),
            &FromSandbox::Failed {
                error: format!("cannot confine the session: {e}"),
            },
            &[],
        );
        sys::exit(1);
    }
    let _ = spec;
    let mut spawner = Spawner {
        ctl,
        lifeline,
        live: HashMap::new(),
        shell_user,
    };
    if wire::send(spawner.ctl.as_fd(), &FromSandbox::Ready, &[]).is_err() {
        sys::exit(1);
    }
    spawner.serve()
}

/// The session's confinement, inherited by everything the spawner starts. (The keyring is
/// the zygote's fresh, empty one: keyring calls are refused here anyway, and one keyring
/// per sandbox would count against its user's key quota.)
fn confine(claim: &ClaimSpec) -> std::io::Result<()> {
    for (resource, value) in &claim.rlimits {
        sys::set_rlimit(*resource, *value)?;
    }
    sys::no_new_privs()?;
    super::seccomp::apply()?;
    sys::not_dumpable()?;
    sys::set_name(c"agentcore-spawn");
    Ok(())
}

struct Spawner {
    ctl: OwnedFd,
    /// Closed by the server when it ends the sandbox (or when it dies).
    lifeline: OwnedFd,
    /// Process id (the server's) → pid (inside), while unreaped.
    live: HashMap<u64, i32>,
    /// The user namespace whose uid 1000 is the shell user, when only root is mapped.
    shell_user: Option<OwnedFd>,
}

impl Spawner {
    fn send(&self, msg: &FromSandbox, fds: &[RawFd]) {
        if wire::send(self.ctl.as_fd(), msg, fds).is_err() {
            sys::exit(0);
        }
    }

    fn serve(&mut self) -> ! {
        let Ok(sigchld) = sys::sigchld_fd() else {
            sys::exit(1)
        };
        loop {
            let ready = match sys::poll_readable(
                &[self.ctl.as_fd(), sigchld.as_fd(), self.lifeline.as_fd()],
                -1,
            ) {
                Ok(r) => r,
                Err(_) => sys::exit(1),
            };
            if ready.get(2) == Some(&true) {
                sys::exit(0);
            }
            if ready.get(1) == Some(&true) {
                sys::drain(sigchld.as_fd());
                self.reap();
            }
            if ready.first() != Some(&true) {
                continue;
            }
            match wire::recv::<ToSandbox>(self.ctl.as_fd()) {
                Ok(Received::Message(ToSandbox::Spawn { id, pty }, fds)) => {
                    match self.spawn(id, pty, fds) {
                        Ok((pid, master)) => {
                            self.live.insert(id, pid);
                            let fds: Vec<RawFd> = master.iter().map(AsRawFd::as_raw_fd).collect();
                            self.send(&FromSandbox::Spawned { id, pid }, &fds);
                        }
                        Err(e) => self.send(
                            &FromSandbox::SpawnFailed {
                                id,
                                error: e.to_string(),
                            },
                            &[],
                        ),
                    }
                }
                Ok(Received::Message(ToSandbox::Signal { id, signal, scope }, _)) => {
                    if let Some(pid) = self.live.get(&id) {
                        signal_scope(*pid, signal, scope);
                    }
                }
                Ok(Received::Message(ToSandbox::Connect { id, addr, port }, _)) => {
                    match sys::tcp_connect_nonblocking(addr, port) {
                        Ok(sock) => self.send(&FromSandbox::Connected { id }, &[sock.as_raw_fd()]),
                        Err(e) => self.send(
                            &FromSandbox::ConnectFailed {
                                id,
                                error: e.to_string(),
                            },
                            &[],
                        ),
                    }
                }
                Ok(Received::Message(ToSandbox::Claim(_), _)) => {}
                // A bad request is the server's bug; the server going away is the end.
                Err(_) => {}
                Ok(Received::Closed) => sys::exit(0),
            }
        }
    }

    fn reap(&mut self) {
        while let Some(ended) = sys::reap_one() {
            let id = self
                .live
                .iter()
                .find(|(_, pid)| **pid == ended.pid)
                .map(|(id, _)| *id);
            if let Some(id) = id {
                self.live.remove(&id);
                self.send(
                    &FromSandbox::Exited {
                        id,
                        code: ended.code,
                        signal: ended.signal,
                    },
                    &[],
                );
            }
        }
    }

    /// Starts one process; returns its pid and, with a PTY, the PTY's master.
    fn spawn(
        &self,
        id: u64,
        pty: Option<(u16, u16)>,
        fds: Vec<OwnedFd>,
    ) -> std::io::Result<(i32, Option<OwnedFd>)> {
        let _ = id;
        let mut fds = fds.into_iter();
        let payload = fds
            .next()
            .ok_or_else(|| std::io::Error::other("no payload"))
            .and_then(wire::read_payload)?;
        let cstr = |s: &str| CString::new(s).map_err(|_| std::io::Error::other("NUL in argument"));
        let program = cstr(&payload.program)?;
        let argv = payload
            .argv
            .iter()
            .map(|a| cstr(a))
            .collect::<std::io::Result<Vec<_>>>()?;
        let envp = payload
            .env
            .iter()
            .map(|(k, v)| cstr(&format!("{k}={v}")))
            .collect::<std::io::Result<Vec<_>>>()?;
        let cwd = cstr(&payload.cwd)?;
        // stdin, stdout, stderr: a PTY's slave, what was passed, or /dev/null.
        let (master, stdio): (Option<OwnedFd>, [Option<OwnedFd>; 3]) = match pty {
            Some((rows, cols)) => {
                let (master, slave) = sys::open_pty(c"/dev/ptmx")?;
                sys::set_window_size(master.as_fd(), rows, cols)?;
                if payload.runtime_user && self.shell_user.is_none() {
                    // The terminal belongs to the user who logs in on it.
                    let id = super::init::RUNTIME_UID;
                    nix::unistd::fchown(&slave, Some(id.into()), Some(id.into()))?;
                }
                let a = slave.try_clone()?;
                let b = slave.try_clone()?;
                (Some(master), [Some(slave), Some(a), Some(b)])
            }
            None => {
                let mut next = |passed: bool| passed.then(|| fds.next()).flatten();
                let [i, o, e] = payload.stdio;
                (None, [next(i), next(o), next(e)])
            }
        };
        let (err_r, err_w) = sys::pipe()?;
        match sys::fork()? {
            None => {
                drop(err_r);
                let e = child(
                    &payload,
                    &program,
                    &argv,
                    &envp,
                    &cwd,
                    stdio,
                    pty.is_some(),
                    self.shell_user.as_ref().map(AsRawFd::as_raw_fd),
                    &err_w,
                );
                let code = e.raw_os_error().unwrap_or(libc::EIO);
                let _ = nix::unistd::write(&err_w, &code.to_ne_bytes());
                sys::exit(127)
            }
            Some(pid) => {
                drop(err_w);
                drop(stdio);
                // The child writes an errno if it could not exec; EOF means it did.
                let mut b = [0u8; 4];
                let n = read_full(&err_r, &mut b);
                if n == 4 {
                    let _ = sys::wait_for(pid);
                    return Err(std::io::Error::from_raw_os_error(i32::from_ne_bytes(b)));
                }
                Ok((pid, master))
            }
        }
    }
}

/// Signals a process, its group, or every process of its session (found in this PID
/// namespace's `/proc`, which the spawner, as its init, sees whole).
fn signal_scope(pid: i32, signal: i32, scope: crate::sandbox::SignalScope) {
    use crate::sandbox::SignalScope;
    match scope {
        SignalScope::Process => {
            let _ = sys::kill(pid, signal);
        }
        SignalScope::Group => {
            let _ = sys::kill(pid.saturating_neg(), signal);
        }
        SignalScope::Session => {
            let _ = sys::kill(pid.saturating_neg(), signal);
            for member in crate::sandbox::session_members(pid) {
                let _ = sys::kill(member, signal);
            }
        }
    }
}

fn read_full(fd: &OwnedFd, buf: &mut [u8]) -> usize {
    let mut got = 0;
    while got < buf.len() {
        match nix::unistd::read(fd.as_fd(), buf.get_mut(got..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(n) => got = got.saturating_add(n),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
        }
    }
    got
}

/// In the forked child: set up and exec. Returns only on failure.
#[allow(clippy::too_many_arguments)]
fn child(
    payload: &SpawnPayload,
    program: &CString,
    argv: &[CString],
    envp: &[CString],
    cwd: &CString,
    stdio: [Option<OwnedFd>; 3],
    terminal: bool,
    nested_user: Option<RawFd>,
    err_w: &OwnedFd,
) -> std::io::Error {
    // From here on descriptors are plain numbers: everything above 3 gets closed below, and
    // nothing may close it again on the way out.
    // The shell user's namespace, if any, at a number that survives the clean-up below.
    let nested_user = match nested_user {
        Some(fd) => match sys::dup_above(fd, 64) {
            Ok(f) => Some(f.into_raw_fd()),
            Err(e) => return e,
        },
        None => None,
    };
    let stdio: Vec<Option<RawFd>> = stdio
        .into_iter()
        .map(|f| f.map(std::os::fd::IntoRawFd::into_raw_fd))
        .collect();
    let attempt = || -> std::io::Result<()> {
        sys::reset_signals();
        sys::setsid()?;
        // Descriptors: 0-2 as planned, the exec-error pipe at 3, nothing else.
        let err_hi = sys::dup_above(err_w.as_raw_fd(), 64)?.into_raw_fd();
        let mut moved = Vec::new();
        for fd in &stdio {
            moved.push(match fd {
                Some(f) => Some(sys::dup_above(*f, 64)?.into_raw_fd()),
                None => None,
            });
        }
        let null = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")?;
        let null_hi = sys::dup_above(null.as_raw_fd(), 64)?.into_raw_fd();
        drop(null);
        for (target, fd) in moved.iter().enumerate() {
            sys::dup2(fd.unwrap_or(null_hi), target as RawFd)?;
        }
        sys::dup2(err_hi, 3)?;
        // Close-on-exec for the error pipe (and the shell user's namespace at 4); everything
        // above them closed now.
        sys::set_cloexec(3)?;
        if let Some(ns) = nested_user {
            sys::dup2(ns, 4)?;
            sys::set_cloexec(4)?;
        }
        sys::close_from(if nested_user.is_some() { 5 } else { 4 });
        if terminal {
            sys::set_controlling_terminal(0)?;
        }
        if payload.runtime_user {
            become_runtime_user(nested_user.map(|_| 4))?;
        }
        if sys::chdir(cwd).is_err() {
            sys::chdir(c"/")?;
        }
        Ok(())
    };
    if let Err(e) = attempt() {
        return e;
    }
    sys::execve(program, argv, envp)
}

/// Becomes `agentcore-runtime-user`: a real second user where the session's user namespace
/// maps one, else uid 1000 of the nested user namespace made for it (see
/// `init::nested_shell_user`), joined through its descriptor.
fn become_runtime_user(nested: Option<RawFd>) -> std::io::Result<()> {
    let id = super::init::RUNTIME_UID;
    match nested {
        None => sys::become_user(id, id),
        Some(fd) => sys::setns(fd, libc::CLONE_NEWUSER),
    }
}
