//! What a coding-agent loop needs on top of the raw clients: checked command runs,
//! binary-safe file transfer, git steps, and fleets of sessions.

mod files;
pub mod fleet;
mod git;

pub use git::GitRepo;
