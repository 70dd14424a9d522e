//! Messages between the server and its helper processes: the zygote (one per server), each
//! sandbox's init and each sandbox's spawner. One JSON message per `SOCK_SEQPACKET` packet,
//! descriptors beside it (`SCM_RIGHTS`). Large payloads (a command's text and environment)
//! travel in a memory file, so no packet ever nears the socket's size limit.
//!
//! The spawner lives inside a session and may be subverted by it: what it sends is parsed
//! like any untrusted input (bounded, no panics), and the server never waits on it without
//! a deadline.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Largest packet either side sends or accepts.
pub const MAX_PACKET: usize = 64 * 1024;
/// Most descriptors in one packet.
pub const MAX_FDS: usize = 8;
/// Largest spawn payload (command text, arguments, environment).
pub const MAX_PAYLOAD: u64 = 8 << 20;

/// How ids map into a sandbox: what root inside is on the outside of the session's user
/// namespace, as seen by the sandbox's init (host ids for a root server, the zygote's user
/// namespace ids otherwise).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdMap {
    /// The id root inside maps to.
    pub base: u32,
    /// How many ids are mapped (1: root only).
    pub count: u32,
}

impl IdMap {
    /// Where `id` inside lands outside, if mapped.
    pub fn outside(&self, id: u32) -> Option<u32> {
        (id < self.count)
            .then(|| self.base.checked_add(id))
            .flatten()
    }
}

/// Server → zygote.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum ToZygote {
    /// First message: how to become the sandboxes' parent.
    Start {
        /// Map subordinate ids through `newuidmap` (the server answers `Mapped`).
        subordinate: bool,
        /// Map only the server's own ids (no helper needed).
        single: bool,
        /// This server's cgroup directories, removed when the server is gone.
        cgroups: Vec<PathBuf>,
    },
    /// The server wrote the zygote's id maps.
    Mapped,
    /// Build a sandbox; descriptors: its control socket, its lifeline's read end.
    Build {
        /// Request id.
        id: u64,
        /// What to build.
        spec: Box<BuildSpec>,
    },
    /// Remove a directory tree with the zygote's rights (which cover every id of the
    /// sandboxes), in a child process.
    Remove {
        /// Request id.
        id: u64,
        /// The tree.
        path: PathBuf,
    },
    /// Add unreachable routes in a sandbox's network namespace (descriptor: the namespace),
    /// in a child process: host addresses that appeared after the sandbox was built.
    Block {
        /// Request id (answered with `Removed`).
        id: u64,
        /// (address, prefix length).
        routes: Vec<(std::net::IpAddr, u8)>,
    },
    /// Give a tree's files new owners (ids as the zygote sees them), in a child process:
    /// data directories of earlier versions, whose sessions had other ids.
    Chown {
        /// Request id (answered with `Removed`).
        id: u64,
        /// The tree.
        path: PathBuf,
        /// uid ranges: (from, to, count).
        uids: Vec<(u32, u32, u32)>,
        /// gid ranges: (from, to, count).
        gids: Vec<(u32, u32, u32)>,
    },
}

/// Zygote → server.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum FromZygote {
    /// Write my id maps (subordinate ids) with `newuidmap`/`newgidmap`.
    NeedMap {
        /// The zygote's pid.
        pid: i32,
    },
    /// Ready; `probe` says whether a sandbox's mounts work here.
    Ready {
        /// `Err` with the reason when they do not.
        probe: Result<(), String>,
    },
    /// A sandbox's init was created; descriptor: its pidfd.
    Built {
        /// Request id.
        id: u64,
        /// The init's pid in the server's PID namespace.
        pid: i32,
    },
    /// A request failed.
    Failed {
        /// Request id.
        id: u64,
        /// Why.
        error: String,
    },
    /// A removal finished.
    Removed {
        /// Request id.
        id: u64,
        /// `Some` when it failed.
        error: Option<String>,
    },
}

/// Where a sandbox's writable layer lives.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layer {
    /// In the sandbox's own memory file system, with the rest of its writable space.
    Memory,
    /// In this host directory (when the kernel cannot put an overlay's upper layer in memory
    /// for an unprivileged user).
    Disk(PathBuf),
}

/// What a sandbox is built of before a session claims it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildSpec {
    /// An existing host directory the init may cover with the sandbox's writable space while
    /// it builds (nothing the sandbox needs from the host may lie below it).
    pub stage: PathBuf,
    /// Ids of the session's user namespace, as seen by the init.
    pub map: IdMap,
    /// The host id that owns the session's user namespace (a root server's, one per
    /// sandbox, mapped to nothing): the kernel charges per-user budgets of the session
    /// (inotify instances, namespaces…) to it, never to host root.
    pub owner: Option<u32>,
    /// Whether the init is root of the host (then overlays use trusted xattrs).
    pub host_root: bool,
    /// Whether the sandbox has a network namespace of its own.
    pub own_network: bool,
    /// `nameserver` for `/etc/resolv.conf` (the network helper's DNS), if any.
    pub nameserver: Option<String>,
    /// Destinations made unreachable in the sandbox's network: `(address, prefix length)`.
    pub blocked: Vec<(std::net::IpAddr, u8)>,
    /// Bytes of the sandbox's writable space outside session storage (root, `/tmp`,
    /// writable layer when in memory).
    pub space_bytes: u64,
    /// Bytes of `/dev/shm`.
    pub shm_bytes: u64,
    /// Where the writable layer lives.
    pub layer: Layer,
    /// Host paths that stay invisible even under a system directory (the data directory).
    pub hidden: Vec<PathBuf>,
}

/// One filesystem of a session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MountSpec {
    /// Path inside, e.g. `/mnt/workspace`.
    pub inside: String,
    /// Host directory.
    pub host: PathBuf,
}

/// What a session brings to a built sandbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClaimSpec {
    /// Its filesystems.
    pub mounts: Vec<MountSpec>,
    /// The agent's code, bound read-only at `/var/task` (a directory) or inside it (a file).
    pub code: Option<PathBuf>,
    /// Resource limits (setrlimit resource, value) for what no cgroup covers.
    pub rlimits: Vec<(u32, u64)>,
}

/// Server → a sandbox (its init until claimed, then its spawner).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum ToSandbox {
    /// Bind the session's filesystems and start the spawner.
    Claim(Box<ClaimSpec>),
    /// Start a process; descriptors: the payload (a memory file holding a [`SpawnPayload`]),
    /// then stdin, stdout, stderr where `stdio` says they are passed.
    Spawn {
        /// Process id chosen by the server.
        id: u64,
        /// A PTY of this size (rows, columns) instead of passed stdio.
        pty: Option<(u16, u16)>,
    },
    /// Signal a process (or its group, or its session) if it has not been reaped.
    Signal {
        /// Process id.
        id: u64,
        /// Signal number.
        signal: i32,
        /// What the signal reaches.
        scope: crate::sandbox::SignalScope,
    },
    /// Connect to a TCP port inside; the answer carries the socket.
    Connect {
        /// Request id.
        id: u64,
        /// Address inside (loopback or the sandbox's own).
        addr: std::net::Ipv4Addr,
        /// Port.
        port: u16,
    },
}

/// What a process is started with (in the payload memory file).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpawnPayload {
    /// Absolute path of the program inside the sandbox.
    pub program: String,
    /// argv, including argv\[0\].
    pub argv: Vec<String>,
    /// The whole environment.
    pub env: Vec<(String, String)>,
    /// Working directory inside (falls back to `/`).
    pub cwd: String,
    /// Run as the shell user instead of root.
    pub runtime_user: bool,
    /// Which of stdin, stdout, stderr were passed (others are `/dev/null`).
    pub stdio: [bool; 3],
}

/// A sandbox → the server.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum FromSandbox {
    /// The init built the sandbox; descriptors: its network and user namespaces (when it
    /// has its own network).
    Built,
    /// Set-up or a claim failed.
    Failed {
        /// Why.
        error: String,
    },
    /// The spawner serves.
    Ready,
    /// A process started; descriptor: its PTY's master (with a PTY).
    Spawned {
        /// Process id.
        id: u64,
        /// Its pid inside.
        pid: i32,
    },
    /// A process could not start.
    SpawnFailed {
        /// Process id.
        id: u64,
        /// Why.
        error: String,
    },
    /// A process ended.
    Exited {
        /// Process id.
        id: u64,
        /// Exit code.
        code: Option<i32>,
        /// Signal.
        signal: Option<i32>,
    },
    /// A connection is under way; descriptor: the socket.
    Connected {
        /// Request id.
        id: u64,
    },
    /// A connection could not be made.
    ConnectFailed {
        /// Request id.
        id: u64,
        /// Why.
        error: String,
    },
}

fn encode<T: Serialize>(msg: &T) -> std::io::Result<Vec<u8>> {
    let bytes = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
    if bytes.len() > MAX_PACKET {
        return Err(std::io::Error::other("message too large"));
    }
    Ok(bytes)
}

/// Sends one message with descriptors (blocking or not, as the socket is).
pub fn send<T: Serialize>(sock: BorrowedFd<'_>, msg: &T, fds: &[RawFd]) -> std::io::Result<()> {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    let bytes = encode(msg)?;
    let iov = [IoSlice::new(&bytes)];
    let cmsgs = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage<'_>] = if fds.is_empty() { &[] } else { &cmsgs };
    loop {
        match sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// One received packet.
#[derive(Debug)]
pub enum Received<T> {
    /// A message and its descriptors.
    Message(T, Vec<OwnedFd>),
    /// The peer closed its end.
    Closed,
}

/// Receives one message (blocking or not, as the socket is: `WouldBlock` when not ready).
/// A packet that is too large, carries too many descriptors or does not parse is an error
/// (its descriptors are closed).
pub fn recv<T: serde::de::DeserializeOwned>(sock: BorrowedFd<'_>) -> std::io::Result<Received<T>> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let mut buf = vec![0u8; MAX_PACKET];
    let mut cmsg = nix::cmsg_space!([RawFd; MAX_FDS]);
    let (n, fds, truncated) = loop {
        let mut iov = [IoSliceMut::new(&mut buf)];
        match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(msg) => {
                let mut fds = Vec::new();
                let truncated = msg
                    .flags
                    .intersects(MsgFlags::MSG_TRUNC | MsgFlags::MSG_CTRUNC);
                if let Ok(cmsgs) = msg.cmsgs() {
                    for c in cmsgs {
                        if let ControlMessageOwned::ScmRights(raw) = c {
                            for fd in raw {
                                // SAFETY: the kernel just installed these descriptors for us.
                                fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
                            }
                        }
                    }
                }
                break (msg.bytes, fds, truncated);
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    if n == 0 && fds.is_empty() {
        return Ok(Received::Closed);
    }
    if truncated {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "oversized message",
        ));
    }
    let msg = serde_json::from_slice(buf.get(..n).unwrap_or_default()).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("malformed message: {e}"),
        )
    })?;
    Ok(Received::Message(msg, fds))
}

/// Writes a spawn payload into a new memory file, ready to pass.
pub fn payload_file(p: &SpawnPayload) -> std::io::Result<OwnedFd> {
    use std::io::Write;
    let bytes = serde_json::to_vec(p).map_err(std::io::Error::other)?;
    if bytes.len() as u64 > MAX_PAYLOAD {
        return Err(std::io::Error::other("command and environment too large"));
    }
    let fd = super::sys::memfd(c"agentcore-spawn")?;
    let mut f = std::fs::File::from(fd);
    f.write_all(&bytes)?;
    Ok(OwnedFd::from(f))
}

/// Reads a spawn payload from a memory file (from its start, whatever its offset).
pub fn read_payload(fd: OwnedFd) -> std::io::Result<SpawnPayload> {
    use std::io::{Read, Seek};
    let mut f = std::fs::File::from(fd);
    f.seek(std::io::SeekFrom::Start(0))?;
    let mut bytes = Vec::new();
    f.take(MAX_PAYLOAD).read_to_end(&mut bytes)?;
    serde_json::from_slice(&bytes).map_err(|e| std::io::Error::other(format!("bad payload: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_descriptors_cross_a_socket_pair() {
        let (a, b) = super::super::sys::seqpacket_pair().unwrap();
        let (r, w) = super::super::sys::pipe().unwrap();
        send(
            a.as_fd_ref(),
            &ToSandbox::Signal {
                id: 7,
                signal: 9,
                scope: crate::sandbox::SignalScope::Group,
            },
            &[w.as_raw_fd()],
        )
        .unwrap();
        drop(w);
        match recv::<ToSandbox>(b.as_fd_ref()).unwrap() {
            Received::Message(ToSandbox::Signal { id, signal, scope }, fds) => {
                assert_eq!(
                    (id, signal, scope),
                    (7, 9, crate::sandbox::SignalScope::Group)
                );
                assert_eq!(fds.len(), 1);
                let mut f = std::fs::File::from(fds.into_iter().next().unwrap());
                std::io::Write::write_all(&mut f, b"x").unwrap();
                drop(f);
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::fs::File::from(r), &mut s).unwrap();
                assert_eq!(s, "x");
            }
            other => panic!("{other:?}"),
        }
        drop(a);
        assert!(matches!(
            recv::<ToSandbox>(b.as_fd_ref()).unwrap(),
            Received::Closed
        ));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let (a, b) = super::super::sys::seqpacket_pair().unwrap();
        nix::sys::socket::send(
            a.as_raw_fd(),
            b"{not json",
            nix::sys::socket::MsgFlags::empty(),
        )
        .unwrap();
        assert!(recv::<FromSandbox>(b.as_fd_ref()).is_err());
        let big = vec![b'x'; MAX_PACKET + 10];
        nix::sys::socket::send(a.as_raw_fd(), &big, nix::sys::socket::MsgFlags::empty()).unwrap();
        assert!(recv::<FromSandbox>(b.as_fd_ref()).is_err());
    }

    #[test]
    fn payloads_round_trip_through_a_memory_file() {
        let p = SpawnPayload {
            program: "/bin/bash".into(),
            argv: vec!["bash".into(), "-c".into(), "x".repeat(70_000)],
            env: vec![("A".into(), "é".into())],
            cwd: "/".into(),
            runtime_user: false,
            stdio: [false, true, true],
        };
        let back = read_payload(payload_file(&p).unwrap()).unwrap();
        assert_eq!(back.argv, p.argv);
        assert_eq!(back.env, p.env);
    }

    trait AsFdRef {
        fn as_fd_ref(&self) -> BorrowedFd<'_>;
    }
    impl AsFdRef for OwnedFd {
        fn as_fd_ref(&self) -> BorrowedFd<'_> {
            std::os::fd::AsFd::as_fd(self)
        }
    }
}
