//! The interactive-shell wire protocol: binary WebSocket messages of one channel byte and a
//! payload (Kubernetes `v5.channel.k8s.io` style), and the STATUS JSON.
//!
//! ```
//! use agentcore_sdk::shell::protocol::{Frame, Status};
//! let bytes = Frame::Resize { width: 120, height: 40 }.encode();
//! assert_eq!(bytes[0], 0x04);
//! assert_eq!(Frame::decode(&bytes)?, Frame::Resize { width: 120, height: 40 });
//! let exit = Status::exited(Some(3), None);
//! assert_eq!(exit.exit_code(), Some(3));
//! # Ok::<(), agentcore_sdk::Error>(())
//! ```

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Channel bytes.
pub mod channel {
    /// Client → shell: raw input bytes.
    pub const STDIN: u8 = 0x00;
    /// Shell → client: raw PTY output.
    pub const STDOUT: u8 = 0x01;
    /// Shell → client: UTF-8 platform diagnostics.
    pub const STDERR: u8 = 0x02;
    /// Shell → client: STATUS JSON.
    pub const STATUS: u8 = 0x03;
    /// Client → shell: `{"width": cols, "height": rows}`.
    pub const RESIZE: u8 = 0x04;
    /// Either way, empty; echoed by the server (for browsers).
    pub const HEARTBEAT: u8 = 0x05;
    /// Empty: the client asks for a graceful end, or the server announces shutdown.
    pub const CLOSE: u8 = 0xFF;
}

/// A frame's payload must stay under 64 KiB.
pub const MAX_PAYLOAD: usize = 64 * 1024 - 1;

/// WebSocket close code: the shell ended normally.
pub const CLOSE_NORMAL: u16 = 1000;
/// WebSocket close code: the proxy is going away; reconnect.
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// WebSocket close code: another client attached the same shell id; do not reconnect.
pub const CLOSE_KICKED: u16 = 4000;

/// Response header carrying the shell id on the 101.
pub const SHELL_ID_HEADER: &str = "x-amzn-bedrock-agentcore-shell-id";
pub use crate::transport::websocket::{BEARER_PROTOCOL, MAX_BEARER_LEN};
/// Extension request header: re-attach and resume the output at this absolute offset (sent
/// only to servers whose confirmation carried `outputOffset`).
pub const RESUME_OFFSET_HEADER: &str = "x-agentcore-output-offset";

/// Bytes of output the server keeps for a detached shell.
pub const REPLAY_BUFFER: usize = 256 * 1024;

/// One shell frame.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame {
    /// Input to the shell.
    Stdin(Bytes),
    /// PTY output.
    Stdout(Bytes),
    /// Platform diagnostics.
    Stderr(Bytes),
    /// Status JSON.
    Status(Box<Status>),
    /// Terminal size.
    Resize {
        /// Columns.
        width: u16,
        /// Rows.
        height: u16,
    },
    /// Keepalive for browsers.
    Heartbeat,
    /// Graceful end.
    Close,
    /// A channel this version does not know; tolerated.
    Unknown(u8, Bytes),
}

#[derive(Serialize, Deserialize)]
struct ResizeJson {
    width: u16,
    height: u16,
}

impl Frame {
    /// Decodes one binary WebSocket message.
    pub fn decode(msg: &[u8]) -> Result<Frame, Error> {
        let (&ch, payload) = msg
            .split_first()
            .ok_or_else(|| Error::malformed("empty shell frame"))?;
        let payload = Bytes::copy_from_slice(payload);
        Ok(match ch {
            channel::STDIN => Frame::Stdin(payload),
            channel::STDOUT => Frame::Stdout(payload),
            channel::STDERR => Frame::Stderr(payload),
            channel::STATUS => {
                Frame::Status(Box::new(serde_json::from_slice(&payload).map_err(|e| {
                    Error::malformed_with("shell STATUS frame is not valid JSON", e)
                })?))
            }
            channel::RESIZE => {
                let r: ResizeJson = serde_json::from_slice(&payload).map_err(|e| {
                    Error::malformed_with("shell RESIZE frame is not valid JSON", e)
                })?;
                Frame::Resize {
                    width: r.width,
                    height: r.height,
                }
            }
            channel::HEARTBEAT => Frame::Heartbeat,
            channel::CLOSE => Frame::Close,
            other => Frame::Unknown(other, payload),
        })
    }

    /// Encodes into one binary WebSocket message.
    pub fn encode(&self) -> Vec<u8> {
        let (ch, payload): (u8, Vec<u8>) = match self {
            Frame::Stdin(b) => (channel::STDIN, b.to_vec()),
            Frame::Stdout(b) => (channel::STDOUT, b.to_vec()),
            Frame::Stderr(b) => (channel::STDERR, b.to_vec()),
            Frame::Status(s) => (channel::STATUS, serde_json::to_vec(s).unwrap_or_default()),
            Frame::Resize { width, height } => (
                channel::RESIZE,
                serde_json::to_vec(&ResizeJson {
                    width: *width,
                    height: *height,
                })
                .unwrap_or_default(),
            ),
            Frame::Heartbeat => (channel::HEARTBEAT, Vec::new()),
            Frame::Close => (channel::CLOSE, Vec::new()),
            Frame::Unknown(ch, b) => (*ch, b.to_vec()),
        };
        let mut out = Vec::with_capacity(payload.len().saturating_add(1));
        out.push(ch);
        out.extend_from_slice(&payload);
        out
    }
}

/// STATUS JSON (Kubernetes `metav1.Status` shape).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Status {
    /// `Status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Shell id, reconnect flag, dropped bytes.
    #[serde(default)]
    pub metadata: StatusMetadata,
    /// `Success` or `Failure`.
    #[serde(default)]
    pub status: String,
    /// `NonZeroExitCode`, `InternalError`...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// HTTP-like code for platform errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    /// Exit code and signal causes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<StatusDetails>,
}

/// STATUS metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StatusMetadata {
    /// The shell id (confirmation frame).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell_id: Option<String>,
    /// `true` when this connection re-attached an existing shell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconnected: Option<bool>,
    /// Output lost while detached, beyond the replay buffer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_dropped: Option<u64>,
    /// Extension (agentcore-local): the absolute offset, in the shell's output, of the next
    /// byte this connection receives. A server that sends it accepts
    /// [`RESUME_OFFSET_HEADER`] on re-attach and replays from exactly that byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_offset: Option<u64>,
}

/// STATUS details.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StatusDetails {
    /// Causes: `ExitCode` and `Signal`.
    #[serde(default)]
    pub causes: Vec<StatusCause>,
}

/// One cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StatusCause {
    /// `ExitCode` or `Signal`.
    pub reason: String,
    /// The number, as text.
    pub message: String,
}

impl Status {
    /// The first frame of a connection.
    pub fn confirmation(shell_id: &str, reconnected: bool, bytes_dropped: Option<u64>) -> Self {
        Self {
            kind: Some("Status".into()),
            api_version: Some("v1".into()),
            metadata: StatusMetadata {
                shell_id: Some(shell_id.to_owned()),
                reconnected: Some(reconnected),
                bytes_dropped,
                output_offset: None,
            },
            status: "Success".into(),
            ..Self::default()
        }
    }

    /// The shell ended with `exit_code` (or was killed by `signal`).
    pub fn exited(exit_code: Option<i32>, signal: Option<i32>) -> Self {
        if exit_code == Some(0) && signal.is_none() {
            return Self {
                status: "Success".into(),
                ..Self::default()
            };
        }
        let mut causes = Vec::new();
        let code = exit_code
            .or(signal.map(|s| s.saturating_add(128)))
            .unwrap_or(1);
        causes.push(StatusCause {
            reason: "ExitCode".into(),
            message: code.to_string(),
        });
        if let Some(s) = signal {
            causes.push(StatusCause {
                reason: "Signal".into(),
                message: s.to_string(),
            });
        }
        Self {
            status: "Failure".into(),
            reason: Some("NonZeroExitCode".into()),
            message: Some(format!("command terminated with non-zero exit code {code}")),
            details: Some(StatusDetails { causes }),
            ..Self::default()
        }
    }

    /// A platform error.
    pub fn internal_error(message: impl Into<String>) -> Self {
        Self {
            status: "Failure".into(),
            reason: Some("InternalError".into()),
            message: Some(message.into()),
            code: Some(500),
            ..Self::default()
        }
    }

    /// Adds the `outputOffset` extension to a confirmation.
    pub fn with_output_offset(mut self, offset: u64) -> Self {
        self.metadata.output_offset = Some(offset);
        self
    }

    /// `true` for a confirmation frame (it names the shell).
    pub fn is_confirmation(&self) -> bool {
        self.metadata.shell_id.is_some()
    }

    /// The exit code this status reports: 0 for a plain success, the `ExitCode` cause for a
    /// `NonZeroExitCode` failure, `None` otherwise.
    pub fn exit_code(&self) -> Option<i32> {
        if self.status == "Success" {
            return Some(0);
        }
        self.cause("ExitCode")
    }

    /// The signal that killed the shell, if any.
    pub fn signal(&self) -> Option<i32> {
        self.cause("Signal")
    }

    fn cause(&self, reason: &str) -> Option<i32> {
        self.details
            .as_ref()?
            .causes
            .iter()
            .find(|c| c.reason == reason)
            .and_then(|c| c.message.parse().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_every_channel() {
        let frames = [
            Frame::Stdin(Bytes::from_static(b"ls\n")),
            Frame::Stdout(Bytes::from_static(b"\x1b[0mfile\r\n")),
            Frame::Stderr(Bytes::from_static(b"warn")),
            Frame::Status(Box::new(Status::confirmation("main", true, Some(10)))),
            Frame::Resize {
                width: 80,
                height: 24,
            },
            Frame::Heartbeat,
            Frame::Close,
            Frame::Unknown(0x42, Bytes::from_static(b"?")),
        ];
        for f in frames {
            assert_eq!(Frame::decode(&f.encode()).unwrap(), f);
        }
    }

    #[test]
    fn status_shapes() {
        let s: Status = serde_json::from_str(r#"{"metadata":{},"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"137"},{"reason":"Signal","message":"9"}]}}"#).unwrap();
        assert_eq!(s.exit_code(), Some(137));
        assert_eq!(s.signal(), Some(9));
        let ok: Status = serde_json::from_str(r#"{"metadata":{},"status":"Success"}"#).unwrap();
        assert_eq!(ok.exit_code(), Some(0));
        assert!(!ok.is_confirmation());
        let c = serde_json::to_value(Status::confirmation("s1", false, None)).unwrap();
        assert_eq!(c["kind"], "Status");
        assert_eq!(c["metadata"]["shellId"], "s1");
        assert_eq!(c["metadata"]["reconnected"], false);
    }

    #[test]
    fn bad_frames_are_errors_not_panics() {
        assert!(Frame::decode(&[]).is_err());
        assert!(Frame::decode(&[channel::STATUS, b'{']).is_err());
        assert!(Frame::decode(&[channel::RESIZE, b'x']).is_err());
    }
}
