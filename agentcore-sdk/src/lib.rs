//! # agentcore-sdk
//!
//! A typed, async Rust SDK for **Amazon Bedrock AgentCore Runtime**, the service that gives
//! every agent session its own Linux microVM with a persistent workspace.
//!
//! - **Control plane** ([`control`]): create, get, update, delete and list agent runtimes and
//!   endpoints, with filesystem configurations (session storage, EFS, S3 Files), lifecycle,
//!   network and protocol settings; wait until a runtime is `READY`.
//! - **Data plane** ([`data`]): invoke the agent (streamed response), run one-shot commands
//!   as a `Stream` of [`CommandEvent`]s (or collect them with
//!   [`CommandStream::output`]), stop sessions.
//! - **Sessions** ([`Session`]): a runtime ARN plus a session id, so a coding-agent loop calls
//!   `session.invoke(..)`, `session.command(..)`, `session.stop()`.
//!
//! Every request is validated before it is sent ([`Error::InvalidInput`]), signed with SigV4
//! (service `bedrock-agentcore` for both planes), retried on throttling and server errors,
//! and traced with `tracing` spans carrying the runtime, session id and request id.
//!
//! ## Quick start
//!
//! ```no_run
//! use futures::StreamExt;
//! use agentcore_sdk::{Client, CommandEvent};
//!
//! # async fn run() -> Result<(), agentcore_sdk::Error> {
//! let client = Client::new(&aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await)?;
//! let session = client.session("arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/coder-AbCdE12345")?;
//!
//! // Stream a command's output as it is produced...
//! let mut events = session.command("cd /mnt/workspace && cargo test 2>&1").send().await?;
//! while let Some(event) = events.next().await {
//!     if let CommandEvent::Delta { stdout, .. } = event? {
//!         print!("{stdout}");
//!     }
//! }
//!
//! // ...or collect it.
//! let out = session.command("git -C /mnt/workspace log --oneline -1").output().await?;
//! println!("exit {}: {}", out.exit_code, out.stdout);
//! # Ok(()) }
//! ```
//!
//! ## Futures, streams and cancellation
//!
//! Every future and stream of this crate is `Send` (and `Sync` but for the race and bench
//! futures and `watch::LogLines`; `agentcore-sdk/tests/auto_traits.rs` checks it when it
//! compiles), so it can be spawned and moved between threads. Each documents what dropping it
//! part-way does, here and on the service; in short:
//!
//! - a unary call dropped before its answer may still take effect on the service (mutations
//!   are idempotent with their client token: send again to learn the outcome);
//! - a command's stream dropped early is not a cancellation: the protocol has none, so bound
//!   commands with their `timeout` or stop the session;
//! - an invocation dropped early is not cancelled in the agent;
//! - a `shell::Shell` dropped is detached (the shell keeps running for the reconnect
//!   window); its writer dropped alone is end of input; `close()` dropped carries on.
//!
//! ## Against a local runtime
//!
//! The `agentcore-local` crate serves the same wire protocol on loopback with real processes.
//! Point the client at it with [`ConfigBuilder::endpoint_url`] or the
//! `AGENTCORE_ENDPOINT_URL` environment variable.

// Nothing the network, a server or a user sends may panic the SDK: no unchecked indexing,
// unwrap / expect or overflowing arithmetic outside tests (each exception says why).
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::arithmetic_side_effects
    )
)]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod client;
pub mod config;
pub mod control;
pub mod data;
pub mod error;
#[cfg(feature = "workflow")]
pub mod files;
#[cfg(feature = "workflow")]
mod helper;
#[cfg(feature = "preview")]
pub mod preview;
#[cfg(feature = "workflow")]
pub mod process;
mod session;
#[cfg(feature = "shell")]
pub mod shell;
mod transport;
pub mod types;
#[cfg(feature = "workflow")]
pub mod workflow;

/// Support for agentcore-local and this workspace's benches and fuzz targets: the wire
/// encoders and decoders and the request bodies as servers decode them.
///
/// **Not part of the public API**: no semver promise; anything here may change or go in any
/// release. It exists so the local runtime speaks exactly what this SDK decodes (one copy).
#[doc(hidden)]
pub mod __private {
    /// Responses built from the model types.
    pub mod server_support {
        pub use crate::control::server_support::*;
    }
    pub use crate::control::{AgentRuntimeEndpointInput, AgentRuntimeInput};
    pub use crate::data::command::{ResponseChunk, decode_command_message};
    pub use crate::data::event_stream::{
        Frame, FrameDecoder, MAX_MESSAGE_LEN, classify, encode_chunk, encode_exception,
        encode_message, header_str,
    };
}

pub use client::Client;
pub use config::{Config, ConfigBuilder, ConfigOverride, RetryConfig, TimeoutConfig};
pub use data::{CommandEvent, CommandOutput, CommandStatus, CommandStream, InvokeResponse};
pub use error::{Error, Result, ServiceError, ServiceErrorKind};
pub use session::Session;
#[cfg(feature = "shell")]
pub use transport::websocket::WebSocketAuth;
pub use types::{
    Command, EndpointName, IntoRuntimeArn, MountPath, RuntimeArn, RuntimeId, RuntimeName,
    SessionId, ShellId,
};

#[cfg(feature = "macros")]
pub use agentcore_sdk_macros::sh;

/// Re-exported so users can name credential types without another dependency.
pub use aws_credential_types::Credentials;
