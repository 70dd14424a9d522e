//! What the CLI reports when it fails: one line on stderr and an exit code.

use std::fmt;

/// An error of the CLI or of the service: one line, and the exit code it means.
#[derive(Debug)]
pub struct CliError {
    /// The line (without the program's name).
    pub message: String,
    /// The exit code: 125 for errors of the CLI or the service, 124 for timeouts.
    pub code: u8,
}

/// Exit code of an error of the CLI or the service (as docker uses it).
pub const EXIT_ERROR: u8 = 125;
/// Exit code of a timeout (as `timeout(1)` uses it).
pub const EXIT_TIMEOUT: u8 = 124;
/// Exit code after Ctrl-C.
pub const EXIT_INTERRUPTED: u8 = 130;

impl CliError {
    /// An error with exit code 125.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: EXIT_ERROR,
        }
    }

    /// The same error, its message after `context: `.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// `err` and its sources on one line, each said once.
pub fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = s.source();
    }
    // One line, whatever the messages held.
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl From<agentcore_sdk::Error> for CliError {
    fn from(e: agentcore_sdk::Error) -> Self {
        let code = match &e {
            agentcore_sdk::Error::Timeout { .. } => EXIT_TIMEOUT,
            _ => EXIT_ERROR,
        };
        Self {
            message: one_line(&e),
            code,
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        Self::new(one_line(&e))
    }
}

/// The result type of commands.
pub type Result<T, E = CliError> = std::result::Result<T, E>;

/// Adds what was being done to an error.
pub trait Context<T> {
    /// On error, prefixes its message with `what: `.
    fn context(self, what: impl fmt::Display) -> Result<T>;
}

impl<T, E: Into<CliError>> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.into().context(what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_joined_on_one_line_without_repeats() {
        let io = std::io::Error::other("connection refused\nby peer");
        let e = agentcore_sdk::Error::Transport {
            operation: "GetAgentRuntime",
            source: Box::new(io),
        };
        let e = CliError::from(e);
        assert_eq!(
            e.message,
            "transport error during GetAgentRuntime: connection refused by peer"
        );
        assert_eq!(e.code, EXIT_ERROR);
        let t = CliError::from(agentcore_sdk::Error::Timeout {
            operation: "X",
            after: std::time::Duration::from_secs(1),
        });
        assert_eq!(t.code, EXIT_TIMEOUT);
    }
}
