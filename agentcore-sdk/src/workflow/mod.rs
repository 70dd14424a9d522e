//! What a coding-agent loop needs on top of the raw clients: checked command runs,
//! binary-safe file transfer, git steps, and the fleet experiments — [`race`] (who fixes it
//! first), [`bench`](mod@bench) (who fixes it best), [`watch`] (look over an agent's shoulder) — plus
//! [`fleet`] (one task over N sessions).

pub mod bench;
#[cfg(feature = "chart")]
mod chart;
mod files;
pub mod fleet;
mod git;
pub mod race;
pub mod watch;

pub use git::GitRepo;
