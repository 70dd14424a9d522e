//! The text of a one-shot command.

use std::fmt;
use std::time::Duration;

use super::Invalid;

/// A shell command line to run with `bash -c` in the session's microVM.
///
/// Any string converts into a `Command`; its length (1 to 65,536 bytes) is checked when the
/// request is built, before anything is sent. With the `macros` feature, `sh!` builds a
/// `Command` whose interpolated values are quoted for the shell.
///
/// ```
/// use agentcore_sdk::Command;
/// let c = Command::from("git status --short");
/// assert_eq!(c.to_string(), "git status --short");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Command(String);

impl Command {
    /// The largest command the service accepts, in bytes.
    pub const MAX_BYTES: usize = 65_536;

    /// A command from a raw shell string, run as is.
    pub fn raw(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The shell string that will run.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The service's length limit, and no NUL byte (which `bash -c` cannot receive); the
    /// public `validate` (in `error`) returns it as an `Error`.
    pub(crate) fn check(&self) -> Result<(), Invalid> {
        let n = self.0.len();
        if n == 0 || n > Self::MAX_BYTES {
            return Err(Invalid::new(
                "command",
                format!("must be 1 to 65536 bytes, got {n}"),
            ));
        }
        if self.0.contains('\0') {
            return Err(Invalid::new("command", "must not contain a NUL byte"));
        }
        Ok(())
    }

    /// `value` quoted for POSIX shells: one word, no expansion of any kind.
    ///
    /// ```
    /// use agentcore_sdk::Command;
    /// assert_eq!(Command::quote("it's $HOME"), r#"'it'\''s $HOME'"#);
    /// assert_eq!(Command::quote(""), "''");
    /// assert_eq!(Command::quote("plain-word_1.0/x"), "plain-word_1.0/x");
    /// ```
    pub fn quote(value: &str) -> String {
        let mut out = String::with_capacity(value.len().saturating_add(2));
        Self::push_quoted(&mut out, value);
        out
    }

    /// Appends `value` quoted for POSIX shells to `out` (used by `sh!`).
    pub fn push_quoted(out: &mut String, value: &str) {
        let safe = !value.is_empty()
            && value.bytes().all(|b| {
                b.is_ascii_alphanumeric()
                    || matches!(
                        b,
                        b'-' | b'_' | b'.' | b'/' | b',' | b':' | b'@' | b'%' | b'+'
                    )
            });
        if safe {
            out.push_str(value);
            return;
        }
        out.push('\'');
        for c in value.chars() {
            if c == '\'' {
                // Close the quote, add an escaped quote, reopen.
                out.push_str("'\\''");
            } else {
                out.push(c);
            }
        }
        out.push('\'');
    }
}

impl From<&str> for Command {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl From<String> for Command {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&String> for Command {
    fn from(s: &String) -> Self {
        Self(s.clone())
    }
}

impl From<&Command> for Command {
    fn from(c: &Command) -> Self {
        c.clone()
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Command").field(&self.0).finish()
    }
}

/// Checks a command timeout: whole seconds from 1 to 3600. Returns the seconds.
pub(crate) fn validate_command_timeout(t: Duration) -> Result<u32, Invalid> {
    let secs = t.as_secs();
    if t.subsec_nanos() != 0 || !(1..=3600).contains(&secs) {
        return Err(Invalid::new(
            "timeout",
            format!("must be whole seconds from 1 to 3600, got {t:?}"),
        ));
    }
    Ok(secs as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_limits() {
        assert!(Command::from("").validate().is_err());
        assert!(Command::from("x".repeat(65_536)).validate().is_ok());
        assert!(Command::from("x".repeat(65_537)).validate().is_err());
    }

    #[test]
    fn timeout_limits() {
        assert!(validate_command_timeout(Duration::from_secs(0)).is_err());
        assert_eq!(
            validate_command_timeout(Duration::from_secs(3600)).unwrap(),
            3600
        );
        assert!(validate_command_timeout(Duration::from_secs(3601)).is_err());
        assert!(validate_command_timeout(Duration::from_millis(1500)).is_err());
    }
}
