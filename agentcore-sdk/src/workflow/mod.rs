//! What a coding-agent loop needs on top of the raw clients: checked command runs,
//! binary-safe file transfer, git steps, and the fleet experiments — [`race`] (who fixes it
//! first), [`bench`](mod@bench) (who fixes it best), [`watch`] (look over an agent's shoulder) — plus
//! [`fleet`] (one task over N sessions).
//!
//! What they share: every run ends as one [`Outcome`] (passed, failed, agent error, or an
//! infrastructure error left out of pass rates, with its [`Cause`]); every session they start
//! is tracked until its stop is acknowledged, optionally in a [`Ledger`] that [`stop_all`]
//! cleans up after a crash; [`Budget`]s and [`CancelHandle`]s end them cleanly; results are
//! also written in other tools' formats ([`harbor`]: a Harbor job directory and SWE-bench
//! predictions).

pub mod bench;
#[cfg(feature = "chart")]
mod chart;
mod files;
pub mod fleet;
mod git;
pub mod harbor;
pub mod ledger;
mod lifecycle;
pub mod outcome;
pub mod race;
pub mod watch;

pub use git::GitRepo;
pub use ledger::{Ledger, stop_all};
pub use lifecycle::{Budget, CancelHandle};
pub use outcome::{Cause, Outcome, PassRate};
