//! The system calls the sandbox needs, each behind a small safe function: the one place in
//! the sandbox with `unsafe`. Nothing here decides policy; callers do.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn cvt_long(r: libc::c_long) -> io::Result<libc::c_long> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Takes ownership of a descriptor a system call just returned.
fn owned(fd: libc::c_int) -> io::Result<OwnedFd> {
    let fd = cvt(fd)?;
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Which side of a fork this is.
#[derive(Debug)]
pub enum Forked {
    /// The new process.
    Child,
    /// The caller, with the child's pid and a pidfd for it.
    Parent {
        /// The child's pid (in the caller's PID namespace).
        pid: i32,
        /// A pidfd for the child.
        pidfd: OwnedFd,
    },
}

/// Forks into new namespaces (`CLONE_NEW*` flags), returning twice like `fork`. Only for a
/// single-threaded process: no other thread can hold a lock the child would need.
pub fn clone_into(namespaces: libc::c_int) -> io::Result<Forked> {
    let mut pidfd: libc::c_int = -1;
    let flags = (namespaces | libc::CLONE_PIDFD | libc::SIGCHLD) as libc::c_ulong;
    // SAFETY: a fork-like clone (no CLONE_VM, no new stack): the child continues on a copy
    // of this stack; `pidfd` is written by the kernel in the parent only. The raw system call
    // takes (flags, stack, parent_tid, ...) in this order on every architecture we build for.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags,
            std::ptr::null_mut::<libc::c_void>(),
            &mut pidfd as *mut libc::c_int,
            0usize,
            0usize,
        )
    };
    match cvt_long(r)? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent {
            pid: i32::try_from(pid).map_err(|_| io::Error::other("pid out of range"))?,
            pidfd: owned(pidfd)?,
        }),
    }
}

/// Plain `fork`: `Some(pid)` in the parent, `None` in the child. Single-threaded callers only.
pub fn fork() -> io::Result<Option<i32>> {
    // SAFETY: the callers are single-threaded helper processes.
    match cvt(unsafe { libc::fork() })? {
        0 => Ok(None),
        pid => Ok(Some(pid)),
    }
}

/// `unshare(2)`.
pub fn unshare(flags: libc::c_int) -> io::Result<()> {
    // SAFETY: no pointers.
    cvt(unsafe { libc::unshare(flags) }).map(drop)
}

/// `mount(2)`.
pub fn mount(
    source: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: libc::c_ulong,
    data: Option<&CStr>,
) -> io::Result<()> {
    let p = |s: Option<&CStr>| s.map_or(std::ptr::null(), CStr::as_ptr);
    // SAFETY: valid NUL-terminated strings or null.
    cvt(unsafe {
        libc::mount(
            p(source),
            target.as_ptr(),
            p(fstype),
            flags,
            p(data).cast::<libc::c_void>(),
        )
    })
    .map(drop)
}

/// Makes the current directory the root (`pivot_root(".", ".")`) and detaches the old root.
pub fn pivot_root_here() -> io::Result<()> {
    // SAFETY: constant paths.
    cvt_long(unsafe { libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) })?;
    // SAFETY: constant path.
    cvt(unsafe { libc::umount2(c".".as_ptr(), libc::MNT_DETACH) })?;
    // SAFETY: constant path.
    cvt(unsafe { libc::chdir(c"/".as_ptr()) }).map(drop)
}

/// `sethostname(2)`.
pub fn sethostname(name: &str) -> io::Result<()> {
    // SAFETY: pointer and length of a live buffer.
    cvt(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) }).map(drop)
}

/// Becomes `uid`/`gid` (real, effective, saved), with no supplementary groups where the user
/// namespace allows `setgroups` (with a single mapped id it does not, and the groups stay).
pub fn become_user(uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: no pointers (null list of length 0).
    let r = unsafe { libc::setgroups(0, std::ptr::null()) };
    if r != 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EPERM) {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: no pointers.
    cvt(unsafe { libc::setresgid(gid, gid, gid) })?;
    // SAFETY: no pointers.
    cvt(unsafe { libc::setresuid(uid, uid, uid) }).map(drop)
}

/// Sets the effective uid alone, keeping the effective capabilities (`SECBIT_NO_SETUID_FIXUP`
/// for the change; the caller clears the secure bits once it is done).
pub fn set_euid_keeping_caps(euid: u32) -> io::Result<()> {
    const SECBIT_NO_SETUID_FIXUP: libc::c_ulong = 1 << 2;
    // SAFETY: integer arguments.
    cvt(unsafe { libc::prctl(libc::PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP, 0, 0, 0) })?;
    // SAFETY: integer arguments (-1 leaves an id as it is).
    cvt(unsafe { libc::setresuid(u32::MAX, euid, u32::MAX) }).map(drop)
}

/// Clears the secure bits (default capability rules again).
pub fn clear_securebits() -> io::Result<()> {
    // SAFETY: integer arguments.
    cvt(unsafe { libc::prctl(libc::PR_SET_SECUREBITS, 0, 0, 0, 0) }).map(drop)
}

/// `prctl(PR_SET_NO_NEW_PRIVS)`: no exec ever gains privileges (setuid bits, file caps).
pub fn no_new_privs() -> io::Result<()> {
    // SAFETY: integer arguments.
    cvt(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }).map(drop)
}

/// `prctl(PR_SET_DUMPABLE, 0)`: nobody without privilege over this process's memory's user
/// namespace may ptrace it or open its `/proc` files (`exe`, `root`, `fd`, `environ`).
pub fn not_dumpable() -> io::Result<()> {
    // SAFETY: integer arguments.
    cvt(unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) }).map(drop)
}

/// `prctl(PR_SET_DUMPABLE, 1)`: a change of ids made the process non-dumpable, and its own
/// `/proc` files then belong to a root it may not be; before anything untrusted runs, it may
/// become dumpable again for as long as it needs them.
pub fn dumpable() -> io::Result<()> {
    // SAFETY: integer arguments.
    cvt(unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) }).map(drop)
}

/// `prctl(PR_SET_NAME)` (what `ps` shows).
pub fn set_name(name: &CStr) {
    // SAFETY: a NUL-terminated string.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr(), 0, 0, 0) };
}

/// Joins a new, anonymous session keyring: nothing of the caller's keyrings stays reachable.
pub fn join_new_session_keyring() -> io::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: a null name asks for an anonymous keyring.
    cvt_long(unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    })
    .map(drop)
}

/// Closes every descriptor from `first` up.
pub fn close_from(first: u32) {
    // SAFETY: integer arguments; closes descriptors only this process uses from here on.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0u32) };
    if r != 0 {
        // Kernels before 5.9: close them one by one.
        let max = u32::try_from(
            // SAFETY: no pointers.
            unsafe { libc::sysconf(libc::_SC_OPEN_MAX) },
        )
        .unwrap_or(1024)
        .min(1 << 20);
        for fd in first..max {
            // SAFETY: closing a descriptor number nobody else in this process uses.
            unsafe { libc::close(fd as libc::c_int) };
        }
    }
}

/// Sends `signal` to the process behind `pidfd`.
pub fn pidfd_signal(pidfd: BorrowedFd<'_>, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: a valid pidfd, no siginfo.
    cvt_long(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0u32,
        )
    })
    .map(drop)
}

/// `setsid(2)`.
pub fn setsid() -> io::Result<()> {
    // SAFETY: no arguments.
    cvt(unsafe { libc::setsid() }).map(drop)
}

/// Makes `fd` (a terminal) the controlling terminal of this session.
pub fn set_controlling_terminal(fd: RawFd) -> io::Result<()> {
    // SAFETY: integer arguments.
    cvt(unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) }).map(drop)
}

/// Sets a terminal's size.
pub fn set_window_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: a pointer to a live winsize.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) }).map(drop)
}

/// A new PTY from `ptmx`: (master, slave), both close-on-exec, the slave opened through the
/// master (`TIOCGPTPEER`), so no path lookup can swap it.
pub fn open_pty(ptmx: &CStr) -> io::Result<(OwnedFd, OwnedFd)> {
    // SAFETY: a NUL-terminated path.
    let master = owned(unsafe {
        libc::open(
            ptmx.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    })?;
    let unlock: libc::c_int = 0;
    // SAFETY: a pointer to a live int.
    cvt(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) })?;
    const TIOCGPTPEER: libc::c_ulong = 0x5441;
    // SAFETY: integer arguments.
    let slave = owned(unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    })?;
    Ok((master, slave))
}

/// Brings a network interface up (`SIOCSIFFLAGS`).
pub fn interface_up(name: &str) -> io::Result<()> {
    // SAFETY: plain socket call.
    let sock =
        owned(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    if name.len() >= req.ifr_name.len() {
        return Err(io::Error::other("interface name too long"));
    }
    for (d, s) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    // SAFETY: a pointer to a live ifreq.
    cvt(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) })?;
    // SAFETY: the flags member of the union is the one SIOCGIFFLAGS filled.
    unsafe {
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    }
    // SAFETY: a pointer to a live ifreq.
    cvt(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) }).map(drop)
}

/// An anonymous memory file.
pub fn memfd(name: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: a NUL-terminated name.
    owned(unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) })
}

/// Blocks SIGCHLD and returns a signalfd that becomes readable when a child changes state.
pub fn sigchld_fd() -> io::Result<OwnedFd> {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: pointers to a live sigset.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    // SAFETY: a pointer to a live sigset.
    owned(unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) })
}

/// Empties a signalfd (its contents do not matter: the caller reaps with `waitpid`).
pub fn drain(fd: BorrowedFd<'_>) {
    let mut buf = [0u8; 1024];
    loop {
        // SAFETY: a pointer and length of a live buffer.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
    }
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    /// Its pid.
    pub pid: i32,
    /// Exit code, if it exited.
    pub code: Option<i32>,
    /// Signal, if a signal killed it.
    pub signal: Option<i32>,
}

/// Reaps one ended child without blocking.
pub fn reap_one() -> Option<Ended> {
    let mut status: libc::c_int = 0;
    // SAFETY: a pointer to a live int.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    if pid <= 0 {
        return None;
    }
    let (code, signal) = if libc::WIFEXITED(status) {
        (Some(libc::WEXITSTATUS(status)), None)
    } else if libc::WIFSIGNALED(status) {
        (None, Some(libc::WTERMSIG(status)))
    } else {
        (None, None)
    };
    Some(Ended { pid, code, signal })
}

/// Waits for one specific child.
pub fn wait_for(pid: i32) -> Option<Ended> {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: a pointer to a live int.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        if r < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return None;
        }
    }
    let (code, signal) = if libc::WIFEXITED(status) {
        (Some(libc::WEXITSTATUS(status)), None)
    } else {
        (None, Some(libc::WTERMSIG(status)))
    };
    Some(Ended { pid, code, signal })
}

/// `kill(2)` (a negative pid is a process group).
pub fn kill(pid: i32, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: integer arguments.
    cvt(unsafe { libc::kill(pid, signal) }).map(drop)
}

/// Default dispositions for every signal and an empty signal mask: what a freshly started
/// program expects, whatever this process had.
pub fn reset_signals() {
    for sig in 1..libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: setting a default disposition.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    // SAFETY: sigset_t is plain data, initialised by sigemptyset.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: pointers to a live sigset.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// Ignores the signals a terminal or a process group sends (the helper processes live as
/// long as the server's socket, not as long as a terminal).
pub fn ignore_terminal_signals() {
    for sig in [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGPIPE,
        libc::SIGTSTP,
        libc::SIGTTIN,
        libc::SIGTTOU,
        libc::SIGUSR1,
        libc::SIGUSR2,
    ] {
        // SAFETY: setting an ignore disposition.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
}

/// `dup2(2)` (clears close-on-exec on `to`).
pub fn dup2(from: RawFd, to: RawFd) -> io::Result<()> {
    if from == to {
        // SAFETY: integer arguments.
        return cvt(unsafe { libc::fcntl(from, libc::F_SETFD, 0) }).map(drop);
    }
    // SAFETY: integer arguments.
    cvt(unsafe { libc::dup2(from, to) }).map(drop)
}

/// Moves a descriptor to a number at or above `min` (close-on-exec).
pub fn dup_above(fd: RawFd, min: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: integer arguments.
    owned(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) })
}

/// `execve(2)`; returns only on failure.
pub fn execve(path: &CStr, argv: &[CString], envp: &[CString]) -> io::Error {
    let mut a: Vec<*const libc::c_char> = argv.iter().map(|s| s.as_ptr()).collect();
    a.push(std::ptr::null());
    let mut e: Vec<*const libc::c_char> = envp.iter().map(|s| s.as_ptr()).collect();
    e.push(std::ptr::null());
    // SAFETY: NUL-terminated strings in null-terminated arrays that outlive the call.
    unsafe { libc::execve(path.as_ptr(), a.as_ptr(), e.as_ptr()) };
    io::Error::last_os_error()
}

/// `_exit(2)`: ends this process without running anything of the parent's (no atexit, no
/// destructors, no flushing of buffers a fork copied).
pub fn exit(code: i32) -> ! {
    // SAFETY: always safe.
    unsafe { libc::_exit(code) }
}

/// Sets a resource limit.
pub fn set_rlimit(resource: u32, value: u64) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: a pointer to a live rlimit. The resource type differs between C libraries.
    cvt(unsafe { libc::setrlimit(resource as _, &lim) }).map(drop)
}

/// `chdir(2)` to a directory descriptor.
pub fn fchdir(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: integer argument.
    cvt(unsafe { libc::fchdir(fd.as_raw_fd()) }).map(drop)
}

/// Opens a path (`O_PATH`, no following of a final symlink) for use as a mount source by
/// `/proc/self/fd/N`: what is bound is what was opened, whatever the path becomes later.
pub fn open_path(path: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: a NUL-terminated path.
    owned(unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    })
}

/// A connected TCP socket to `addr:port`, connecting in the background (non-blocking).
pub fn tcp_connect_nonblocking(addr: std::net::Ipv4Addr, port: u16) -> io::Result<OwnedFd> {
    // SAFETY: plain socket call.
    let sock = owned(unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        )
    })?;
    let sa = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(addr).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: a pointer to a live sockaddr_in and its size.
    let r = unsafe {
        libc::connect(
            sock.as_raw_fd(),
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if r != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(e);
        }
    }
    Ok(sock)
}

/// A `SOCK_SEQPACKET` socket pair (close-on-exec).
pub fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: a pointer to a live array of two ints.
    cvt(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    // SAFETY: two fresh descriptors we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A pipe (close-on-exec): (read end, write end).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: a pointer to a live array of two ints.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: two fresh descriptors we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Sets or clears `O_NONBLOCK`.
pub fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    // SAFETY: integer arguments.
    let flags = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
    let flags = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    // SAFETY: integer arguments.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags) }).map(drop)
}

/// `poll(2)` on descriptors for readability; returns which are ready (hang-up counts).
pub fn poll_readable(fds: &[BorrowedFd<'_>], timeout_ms: i32) -> io::Result<Vec<bool>> {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|f| libc::pollfd {
            fd: f.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        // SAFETY: a pointer to a live array and its length.
        let r = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, timeout_ms) };
        if r >= 0 {
            break;
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
    Ok(p.iter().map(|x| x.revents != 0).collect())
}

/// The uid and gid of this process.
pub fn ids() -> (u32, u32) {
    // SAFETY: no arguments.
    unsafe { (libc::getuid(), libc::getgid()) }
}

/// The value of an environment variable, read without Rust's environment lock (usable
/// before `main` and in a forked child).
pub fn getenv(name: &CStr) -> Option<CString> {
    // SAFETY: a NUL-terminated name; the result is copied out at once.
    let p = unsafe { libc::getenv(name.as_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: getenv returns a NUL-terminated string.
    Some(unsafe { CStr::from_ptr(p) }.to_owned())
}

/// Changes the owner of a path without following a final symlink.
pub fn lchown(path: &CStr, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: a NUL-terminated path.
    cvt(unsafe { libc::lchown(path.as_ptr(), uid, gid) }).map(drop)
}

/// Sets close-on-exec on a descriptor.
pub fn set_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: integer arguments.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) }).map(drop)
}

/// `chdir(2)`.
pub fn chdir(path: &CStr) -> io::Result<()> {
    // SAFETY: a NUL-terminated path.
    cvt(unsafe { libc::chdir(path.as_ptr()) }).map(drop)
}

/// Sends one netlink route request and waits for its acknowledgement.
pub fn netlink_route(request: &[u8]) -> io::Result<()> {
    // SAFETY: plain socket call.
    let sock = owned(unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    })?;
    // SAFETY: sockaddr_nl is plain data; all-zero addresses the kernel.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: pointers to a live buffer and address.
    let sent = unsafe {
        libc::sendto(
            sock.as_raw_fd(),
            request.as_ptr().cast(),
            request.len(),
            0,
            (&addr as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = [0u8; 4096];
    // SAFETY: a pointer and length of a live buffer.
    let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // nlmsghdr (16 bytes), then for NLMSG_ERROR an i32: 0 is success, else -errno.
    let code = buf
        .get(16..20)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(i32::from_ne_bytes)
        .ok_or_else(|| io::Error::other("short netlink answer"))?;
    match code {
        0 => Ok(()),
        e => Err(io::Error::from_raw_os_error(e.saturating_neg())),
    }
}

/// Registers an owned descriptor with tokio's reactor.
pub fn async_fd(fd: OwnedFd) -> io::Result<tokio::io::unix::AsyncFd<OwnedFd>> {
    // SAFETY: the descriptor is owned and stays open, unchanged, while the AsyncFd owns it.
    unsafe { tokio::io::unix::AsyncFd::register(fd) }.map_err(io::Error::from)
}

/// Makes a mount and every mount below it read-only (`mount_setattr`, Linux 5.12).
pub fn make_tree_read_only(path: &CStr) -> io::Result<()> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    const MOUNT_ATTR_RDONLY: u64 = 0x1;
    const AT_RECURSIVE: libc::c_uint = 0x8000;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: a NUL-terminated path and a pointer to a live, correctly sized struct.
    cvt_long(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path.as_ptr(),
            AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
    .map(drop)
}

/// Whether this process may read and write a path (`access(2)` with the real ids).
pub fn can_read_write(path: &CStr) -> bool {
    // SAFETY: a NUL-terminated path.
    unsafe { libc::access(path.as_ptr(), libc::R_OK | libc::W_OK) == 0 }
}

/// `setns(2)` on a descriptor number.
pub fn setns(fd: RawFd, nstype: libc::c_int) -> io::Result<()> {
    // SAFETY: integer arguments (a bad number is EBADF, nothing worse).
    cvt(unsafe { libc::setns(fd, nstype) }).map(drop)
}
