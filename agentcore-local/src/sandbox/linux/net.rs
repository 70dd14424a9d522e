//! A sandbox's private network: outbound traffic through a user-mode network helper
//! (`slirp4netns`, else `pasta`), with the host's own addresses and the link-local ranges
//! (cloud metadata services among them) unreachable. The routes that make them
//! unreachable live in a network namespace the session's root does not administer, so it
//! cannot remove them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The DNS server slirp4netns offers inside.
pub const SLIRP_DNS: &str = "10.0.2.3";
/// The address slirp4netns gives the sandbox.
pub const SLIRP_GUEST: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 100);

/// Builds an `RTM_NEWROUTE` request for an unreachable route to `addr/prefix`.
pub fn unreachable_route_request(addr: IpAddr, prefix: u8) -> Vec<u8> {
    const RTM_NEWROUTE: u16 = 24;
    const NLM_F_REQUEST: u16 = 1;
    const NLM_F_ACK: u16 = 4;
    const NLM_F_EXCL: u16 = 0x200;
    const NLM_F_CREATE: u16 = 0x400;
    const RT_TABLE_MAIN: u8 = 254;
    const RTPROT_STATIC: u8 = 4;
    const RTN_UNREACHABLE: u8 = 7;
    const RTA_DST: u16 = 1;
    let (family, bytes): (u8, Vec<u8>) = match addr {
        IpAddr::V4(a) => (libc::AF_INET as u8, a.octets().to_vec()),
        IpAddr::V6(a) => (libc::AF_INET6 as u8, a.octets().to_vec()),
    };
    // Header, rtmsg and one attribute: small constants (at most 16 + 12 + 20 bytes).
    let attr_len = bytes.len().saturating_add(4);
    let padded = attr_len.saturating_add(3) & !3;
    let total = padded.saturating_add(16 + 12);
    let mut m = Vec::with_capacity(total);
    m.extend_from_slice(&(total as u32).to_ne_bytes());
    m.extend_from_slice(&RTM_NEWROUTE.to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE).to_ne_bytes());
    m.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    m.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel
    // struct rtmsg
    m.extend_from_slice(&[
        family,
        prefix,
        0,
        0,
        RT_TABLE_MAIN,
        RTPROT_STATIC,
        0, // RT_SCOPE_UNIVERSE
        RTN_UNREACHABLE,
    ]);
    m.extend_from_slice(&0u32.to_ne_bytes()); // flags
    m.extend_from_slice(&(attr_len as u16).to_ne_bytes());
    m.extend_from_slice(&RTA_DST.to_ne_bytes());
    m.extend_from_slice(&bytes);
    m.resize(total, 0);
    m
}

/// Adds an unreachable route in this process's network namespace.
pub fn add_unreachable_route(addr: IpAddr, prefix: u8) -> std::io::Result<()> {
    super::sys::netlink_route(&unreachable_route_request(addr, prefix))
}

/// What a private network blocks: every address of the host's interfaces but loopback, and
/// the link-local ranges (instance metadata services live there, e.g. 169.254.169.254 and
/// fd00:ec2::254).
pub fn blocked_destinations() -> Vec<(IpAddr, u8)> {
    let mut v: Vec<(IpAddr, u8)> = vec![
        (IpAddr::V4(Ipv4Addr::new(169, 254, 0, 0)), 16),
        (IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0)), 10),
        (
            IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
            128,
        ),
    ];
    if let Ok(addrs) = nix::ifaddrs::getifaddrs() {
        for a in addrs {
            let Some(sa) = a.address else { continue };
            let ip = if let Some(v4) = sa.as_sockaddr_in() {
                IpAddr::V4(v4.ip())
            } else if let Some(v6) = sa.as_sockaddr_in6() {
                IpAddr::V6(v6.ip())
            } else {
                continue;
            };
            if ip.is_loopback() || ip.is_unspecified() {
                continue;
            }
            let prefix = if ip.is_ipv4() { 32 } else { 128 };
            if !v.contains(&(ip, prefix)) {
                v.push((ip, prefix));
            }
        }
    }
    v
}

/// The network helper found on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Helper {
    /// `slirp4netns` at this path.
    Slirp(PathBuf),
    /// `pasta` (from passt) at this path.
    Pasta(PathBuf),
}

impl Helper {
    /// The first of slirp4netns and pasta on `path` (the server's `PATH` and the standard
    /// directories).
    pub fn find(path: &str) -> Option<Helper> {
        super::probe::find_program("slirp4netns", path)
            .map(Helper::Slirp)
            .or_else(|| super::probe::find_program("pasta", path).map(Helper::Pasta))
    }

    /// Its name.
    pub fn name(&self) -> &'static str {
        match self {
            Helper::Slirp(_) => "slirp4netns",
            Helper::Pasta(_) => "pasta",
        }
    }

    /// The sandbox's DNS server, where the helper offers one at a fixed address (pasta
    /// keeps the host's resolver configuration working by itself).
    pub fn nameserver(&self) -> Option<&'static str> {
        match self {
            Helper::Slirp(_) => Some(SLIRP_DNS),
            Helper::Pasta(_) => None,
        }
    }

    /// Starts the helper for the network namespace `netns` (owned by `userns`), until the
    /// `exit` descriptor's other end closes, and waits until the network is configured. Its
    /// environment is fixed: nothing of a runtime's reaches the host side.
    pub async fn start(
        &self,
        netns: &OwnedFd,
        userns: Option<&OwnedFd>,
        exit: &OwnedFd,
    ) -> std::io::Result<tokio::process::Child> {
        let fd = |f: &OwnedFd| format!("/proc/self/fd/{}", f.as_raw_fd());
        let (ready_r, ready_w) = super::sys::pipe()?;
        let mut keep = vec![netns.as_raw_fd(), exit.as_raw_fd()];
        keep.extend(userns.map(AsRawFd::as_raw_fd));
        let mut cmd = match self {
            Helper::Slirp(p) => {
                let mut c = tokio::process::Command::new(p);
                c.args([
                    "--configure",
                    "--mtu=65520",
                    "--disable-host-loopback",
                    "--enable-sandbox",
                    "--enable-seccomp",
                    &format!("--exit-fd={}", exit.as_raw_fd()),
                    &format!("--ready-fd={}", ready_w.as_raw_fd()),
                    "--netns-type=path",
                ]);
                keep.push(ready_w.as_raw_fd());
                c.args([fd(netns).as_str(), "tap0"]);
                c
            }
            Helper::Pasta(p) => {
                let mut c = tokio::process::Command::new(p);
                c.args(["--config-net", "--quiet", "--foreground", "--no-map-gw"]);
                c.args(["--netns", &fd(netns)]);
                c
            }
        };
        super::host::fixed_environment(&mut cmd);
        super::host::pass_fds(&mut cmd, keep);
        if let Some(u) = userns {
            // An unprivileged server's helper runs as root of the sandboxes' user namespace
            // (which owns their network namespaces), as rootless Podman runs it: its own
            // sandboxing (a mount namespace, dropped capabilities) needs that.
            super::host::enter_user_namespace_before_exec(&mut cmd, u.as_raw_fd());
        }
        let mut child = cmd
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        drop(ready_w);
        let stderr = child.stderr.take();
        if let Helper::Slirp(_) = self {
            let mut ready = tokio::net::unix::pipe::Receiver::from_owned_fd(ready_r)?;
            let mut b = [0u8; 1];
            let ok = matches!(
                tokio::time::timeout(
                    std::time::Duration::from_secs(10),
                    tokio::io::AsyncReadExt::read(&mut ready, &mut b)
                )
                .await,
                Ok(Ok(1))
            );
            if !ok {
                let _ = child.start_kill();
                let mut why = String::new();
                if let Some(mut e) = stderr {
                    let mut buf = vec![0u8; 4096];
                    if let Ok(Ok(n)) = tokio::time::timeout(
                        std::time::Duration::from_secs(1),
                        tokio::io::AsyncReadExt::read(&mut e, &mut buf),
                    )
                    .await
                    {
                        why = String::from_utf8_lossy(buf.get(..n).unwrap_or_default())
                            .trim()
                            .replace('\n', "; ");
                    }
                }
                return Err(std::io::Error::other(format!(
                    "{} did not configure the network: {why}",
                    self.name()
                )));
            }
        }
        if let Some(e) = stderr {
            let name = self.name();
            tokio::spawn(async move {
                use tokio::io::AsyncBufReadExt;
                let mut lines = tokio::io::BufReader::new(e).lines();
                while let Ok(Some(l)) = lines.next_line().await {
                    tracing::debug!(helper = name, "{}", l.chars().take(512).collect::<String>());
                }
            });
        }
        Ok(child)
    }
}

/// Whether a path is an executable file.
pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_requests_are_well_formed() {
        let m = unreachable_route_request(IpAddr::V4(Ipv4Addr::new(169, 254, 0, 0)), 16);
        assert_eq!(m.len(), 16 + 12 + 8);
        assert_eq!(
            u32::from_ne_bytes(m[0..4].try_into().unwrap()) as usize,
            m.len()
        );
        assert_eq!(m[16], libc::AF_INET as u8);
        assert_eq!(m[17], 16);
        assert_eq!(m[23], 7);
        assert_eq!(&m[32..36], &[169, 254, 0, 0]);
        let m6 = unreachable_route_request("fe80::".parse().unwrap(), 10);
        assert_eq!(m6.len(), 16 + 12 + 20);
    }

    #[test]
    fn the_host_addresses_and_metadata_ranges_are_blocked() {
        let b = blocked_destinations();
        assert!(b.contains(&(IpAddr::V4(Ipv4Addr::new(169, 254, 0, 0)), 16)));
        assert!(b.iter().all(|(a, _)| !a.is_loopback()));
    }
}
