//! The server's asynchronous end of a helper's `SOCK_SEQPACKET` socket.

use std::os::fd::{AsFd, OwnedFd, RawFd};

use tokio::io::unix::AsyncFd;

use super::wire::{self, Received};

/// One socket to a helper process.
#[derive(Debug)]
pub struct Conn {
    fd: AsyncFd<OwnedFd>,
}

impl Conn {
    /// Wraps the server's end (made non-blocking).
    pub fn new(fd: OwnedFd) -> std::io::Result<Self> {
        super::sys::set_nonblocking(fd.as_fd(), true)?;
        Ok(Self {
            fd: super::sys::async_fd(fd)?,
        })
    }

    /// Sends a message with descriptors.
    pub async fn send<T: serde::Serialize>(&self, msg: &T, fds: &[RawFd]) -> std::io::Result<()> {
        loop {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|fd| wire::send(fd.get_ref().as_fd(), msg, fds)) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    /// Receives one message.
    pub async fn recv<T: serde::de::DeserializeOwned>(&self) -> std::io::Result<Received<T>> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| wire::recv(fd.get_ref().as_fd())) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }
}
