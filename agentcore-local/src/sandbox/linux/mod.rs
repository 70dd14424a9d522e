//! Linux sandboxes. Layers, each using only those above it in this list:
//!
//! - [`sys`]: the system calls, the one place with `unsafe`;
//! - [`wire`]: messages between the server and its helper processes;
//! - [`probe`], [`ids`], [`cgroups`], [`net`], [`seccomp`]: what the host offers and the
//!   policy made of it (pure functions where they can be, tested with injected paths);
//! - the helper processes, which run this crate's code re-executed from the server's own
//!   binary: [`zygote`] (one per server) → [`init`] (PID 1 of each sandbox) → [`spawner`]
//!   (starts everything of a session);
//! - [`conn`] and [`host`]: the server's side.

pub mod cgroups;
pub mod conn;
pub mod host;
pub mod ids;
pub mod init;
pub mod net;
pub mod probe;
pub mod seccomp;
pub mod spawner;
pub mod sys;
pub mod wire;
pub mod zygote;
