//! Who is on the other end of a loopback connection: the API runs commands in every session
//! and holds every runtime's environment, so by default only the server's own user (and
//! root) may use it; other local users are refused.

use std::net::{IpAddr, SocketAddr};

/// The uid owning the client socket of a loopback TCP connection (`peer` → `local`). `None`
/// when it cannot be told (not Linux, the socket already gone).
///
/// Runs on the accept path for every connection, so it must not cost more as connections
/// grow: one exact `sock_diag` netlink query (constant time), and only where netlink is
/// unavailable a scan of `/proc/net/tcp{,6}` (linear in the sockets of the namespace).
pub fn loopback_peer_uid(local: SocketAddr, peer: SocketAddr) -> Option<u32> {
    #[cfg(target_os = "linux")]
    if let Some(uid) = sock_diag_uid(local, peer) {
        return Some(uid);
    }
    proc_net_uid(local, peer)
}

/// The owner of the TCP socket bound to `peer` and connected to `local`, asked of the kernel
/// by its 4-tuple (`SOCK_DIAG_BY_FAMILY` without a dump; the kernel answers within `send`,
/// so the non-blocking `recv` never waits).
#[cfg(target_os = "linux")]
fn sock_diag_uid(local: SocketAddr, peer: SocketAddr) -> Option<u32> {
    use netlink_packet_core::{NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload};
    use netlink_packet_sock_diag::SockDiagMessage;
    use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
    use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
    use netlink_sys::{Socket, protocols::NETLINK_SOCK_DIAG};

    if peer.is_ipv4() != local.is_ipv4() {
        return None;
    }
    let socket = Socket::new(NETLINK_SOCK_DIAG).ok()?;
    socket.set_non_blocking(true).ok()?;
    socket.connect(&netlink_sys::SocketAddr::new(0, 0)).ok()?;
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST;
    let request = InetRequest {
        family: if peer.is_ipv4() { AF_INET } else { AF_INET6 },
        protocol: IPPROTO_TCP,
        extensions: ExtensionFlags::empty(),
        states: StateFlags::all(),
        socket_id: SocketId {
            source_port: peer.port(),
            destination_port: local.port(),
            source_address: peer.ip(),
            destination_address: local.ip(),
            interface_id: 0,
            // INET_DIAG_NOCOOKIE: match by the addresses alone.
            cookie: [0xff; 8],
        },
    };
    let mut packet = NetlinkMessage::new(header, SockDiagMessage::InetRequest(request).into());
    packet.finalize();
    let mut out = vec![0u8; packet.buffer_len()];
    packet.serialize(&mut out);
    socket.send(&out, 0).ok()?;
    let mut reply = vec![0u8; 8192];
    let n = socket.recv(&mut &mut reply[..], 0).ok()?;
    let message = NetlinkMessage::<SockDiagMessage>::deserialize(reply.get(..n)?).ok()?;
    match message.payload {
        NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(r)) => Some(r.header.uid),
        _ => None,
    }
}

/// [`loopback_peer_uid`] from `/proc/net/tcp{,6}` of this network namespace.
fn proc_net_uid(local: SocketAddr, peer: SocketAddr) -> Option<u32> {
    let table = match peer.ip() {
        IpAddr::V4(_) => "/proc/net/tcp",
        IpAddr::V6(_) => "/proc/net/tcp6",
    };
    let text = std::fs::read_to_string(table).ok()?;
    let want_local = encode(peer);
    let want_remote = encode(local);
    text.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (l, r, uid) = (f.get(1)?, f.get(2)?, f.get(7)?);
        (l.eq_ignore_ascii_case(&want_local) && r.eq_ignore_ascii_case(&want_remote))
            .then(|| uid.parse().ok())
            .flatten()
    })
}

/// An address as `/proc/net/tcp` writes it: the address in the kernel's byte order (each
/// 32-bit word little-endian), a colon, the port in hex.
fn encode(a: SocketAddr) -> String {
    let addr = match a.ip() {
        IpAddr::V4(v4) => format!("{:08X}", u32::from_le_bytes(v4.octets())),
        IpAddr::V6(v6) => v6
            .octets()
            .chunks(4)
            .map(|w| {
                let word: [u8; 4] = w.try_into().unwrap_or_default();
                format!("{:08X}", u32::from_le_bytes(word))
            })
            .collect(),
    };
    format!("{addr}:{:04X}", a.port())
}

/// What a refused client reads: an AWS-shaped 403, so SDKs report it as such.
pub const REFUSAL: &[u8] = b"HTTP/1.1 403 Forbidden\r\n\
x-amzn-errortype: AccessDeniedException\r\n\
content-type: application/json\r\n\
connection: close\r\n\
content-length: 166\r\n\r\n\
{\"__type\":\"AccessDeniedException\",\"message\":\"this agentcore-local serves only the user that started it (start it with --allow-other-users to serve every local user)\"}";

/// How long a refused client may keep sending before its connection is closed.
const REFUSAL_LINGER: std::time::Duration = std::time::Duration::from_secs(2);
/// How much of a refused client's request is read (and thrown away) at most.
const REFUSAL_DRAIN_BYTES: usize = 1 << 20;

/// Answers a refused client with [`REFUSAL`] and closes the connection gracefully: what the
/// client sends (its request, a body it is still writing) is read and thrown away — up to
/// [`REFUSAL_DRAIN_BYTES`], for up to [`REFUSAL_LINGER`] — before the close. Closing with
/// unread input makes the kernel reset the connection, and a reset can discard the 403
/// before the client reads it (the client then sees a broken pipe or a reset, not the answer).
pub(crate) async fn refuse<S>(mut stream: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = tokio::time::timeout(REFUSAL_LINGER, async {
        if stream.write_all(REFUSAL).await.is_err() || stream.shutdown().await.is_err() {
            return;
        }
        let mut buf = [0u8; 8192];
        let mut read = 0usize;
        while read < REFUSAL_DRAIN_BYTES {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read = read.saturating_add(n),
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client still writing its request when it is refused reads the whole 403 (CI once
    /// saw python's urllib fail with a broken pipe instead: the refusal closed the connection
    /// with the request unread, and the reset that followed lost the answer).
    #[tokio::test]
    async fn a_refused_client_writing_slowly_reads_the_whole_refusal() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            refuse(s).await;
        });
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"POST /runtimes/ HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n")
            .await
            .unwrap();
        // The refusal is answered and the server's side shut while the body is on its way.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        c.write_all(b"{}").await.unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, REFUSAL);
        drop(c);
        server.await.unwrap();
    }

    #[test]
    fn addresses_are_written_as_the_kernel_writes_them() {
        let a: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(encode(a), "0100007F:1F90");
        let b: SocketAddr = "[::1]:443".parse().unwrap();
        assert_eq!(encode(b), "00000000000000000000000001000000:01BB");
        let refusal = std::str::from_utf8(REFUSAL).unwrap();
        let body = refusal.split("\r\n\r\n").nth(1).unwrap();
        assert!(refusal.contains(&format!("content-length: {}", body.len())));
    }

    #[tokio::test]
    async fn the_owner_of_a_loopback_client_socket_is_found_both_ways() {
        let me = nix::unistd::geteuid().as_raw();
        for addr in ["127.0.0.1:0", "[::1]:0"] {
            let Ok(listener) = tokio::net::TcpListener::bind(addr).await else {
                continue; // no IPv6 loopback here
            };
            let local = listener.local_addr().unwrap();
            let client = tokio::net::TcpStream::connect(local).await.unwrap();
            let (_, peer) = listener.accept().await.unwrap();
            assert_eq!(loopback_peer_uid(local, peer), Some(me), "{addr}");
            #[cfg(target_os = "linux")]
            assert_eq!(sock_diag_uid(local, peer), Some(me), "netlink, {addr}");
            assert_eq!(proc_net_uid(local, peer), Some(me), "/proc, {addr}");
            // A 4-tuple nobody holds: no owner, from either source.
            let other = SocketAddr::new(peer.ip(), peer.port().wrapping_add(1));
            #[cfg(target_os = "linux")]
            assert_eq!(sock_diag_uid(local, other), None);
            assert_eq!(proc_net_uid(local, other), None);
            drop(client);
        }
    }
}
