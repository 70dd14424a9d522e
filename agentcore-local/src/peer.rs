//! Who is on the other end of a loopback connection: the API runs commands in every session
//! and holds every runtime's environment, so by default only the server's own user (and
//! root) may use it; other local users are refused.

use std::net::{IpAddr, SocketAddr};

/// The uid owning the client socket of a loopback TCP connection (`peer` → `local`), from
/// `/proc/net/tcp{,6}` of this network namespace. `None` when it cannot be told (not Linux,
/// the socket already gone).
pub fn loopback_peer_uid(local: SocketAddr, peer: SocketAddr) -> Option<u32> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    async fn the_owner_of_a_loopback_client_socket_is_found() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let local = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(local).await.unwrap();
        let (_, peer) = listener.accept().await.unwrap();
        assert_eq!(
            loopback_peer_uid(local, peer),
            Some(nix::unistd::geteuid().as_raw())
        );
    }
}
