//! The session helper: one versioned bash script that processes and files run in the session
//! through one-shot commands (and, for uploads, through the interactive shell).
//!
//! Nothing needs to be in the image but `bash` and coreutils (`base64`, `sha256sum`, `stat`,
//! `tail`, `head`, `tee`, `truncate`, `setsid`, `mkfifo`, `find`, `tar` for directories).
//! The script is placed at `/tmp/.agentcore-sdk-<uid>/<first 16 hex digits of its
//! SHA-256>/helper` the first time a command needs it (a command that finds it missing, or
//! different, exits with [`MISSING`] and is sent again with the script), so two SDK versions
//! never share one, and it is checked before every run.

pub(crate) mod follow;

use std::sync::LazyLock;
use std::time::Duration;

use base64::Engine;
use sha2::Digest;

use crate::data::CommandOutput;
use crate::error::Error;
use crate::session::Session;
use crate::types::Command;

/// The script.
pub(crate) const SCRIPT: &str = include_str!("helper.sh");

/// The exit code of a command that did not find the helper (or found another text there).
const MISSING: i32 = 90;

/// The helper's SHA-256 (hex) and the first 16 hex digits (its directory's name).
static INSTALLED: LazyLock<(String, String)> = LazyLock::new(|| {
    let sum = hex(&sha2::Sha256::digest(SCRIPT.as_bytes()));
    let dir: String = sum.chars().take(16).collect();
    (sum, dir)
});

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len().saturating_mul(2));
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn quoted_args(sub: &str, args: &[&str]) -> String {
    let mut s = String::from(sub);
    for a in args {
        s.push(' ');
        Command::push_quoted(&mut s, a);
    }
    s
}

/// The command text that runs `helper sub args` if the helper is in place, else exits with
/// [`MISSING`]; with `install`, it puts the helper in place first.
///
/// The helper lives in `/tmp/.agentcore-sdk-$EUID/<hash>/`: a directory of the commands' own
/// user (checked: owned by it, not a link, mode 0755), so where `/tmp` is shared — a local
/// runtime without a sandbox — no other user can put or swap a file there, and each user
/// has their own.
pub(crate) fn command_text(sub: &str, args: &[&str], install: bool) -> String {
    let (sum, dir) = &*INSTALLED;
    let call = quoted_args(sub, args);
    let ours = "[ -O \"$b\" ] && [ ! -L \"$b\" ] && [ -O \"$d\" ] && [ ! -L \"$d\" ]";
    if install {
        format!(
            "b=/tmp/.agentcore-sdk-$EUID; d=$b/{dir}; h=$d/helper\n\
             if ! {{ {ours} && printf '%s  %s\\n' {sum} \"$h\" | sha256sum -c --status 2>/dev/null; }}; then\n\
             mkdir -p \"$d\" && chmod 755 \"$b\" \"$d\" && {ours} \\\n\
             || {{ echo \"agentcore-helper: cannot use $d\" >&2; exit 91; }}\n\
             t=$(mktemp \"$d/.helper.XXXXXX\") || exit 91\n\
             cat > \"$t\" <<'AGENTCORE_SDK_HELPER_END'\n\
             {SCRIPT}\
             AGENTCORE_SDK_HELPER_END\n\
             chmod 755 \"$t\" && mv -f \"$t\" \"$h\" || exit 91\n\
             fi\n\
             exec bash \"$h\" {call}"
        )
    } else {
        format!(
            "b=/tmp/.agentcore-sdk-$EUID; d=$b/{dir}; h=$d/helper; {ours} && \
             printf '%s  %s\\n' {sum} \"$h\" | sha256sum -c --status 2>/dev/null \
             || exit {MISSING}; exec bash \"$h\" {call}"
        )
    }
}

/// The line an interactive shell is given to run the helper at `path` (as the commands'
/// user placed it) in place of itself.
pub(crate) fn shell_line(path: &str, sub: &str, args: &[&str]) -> String {
    format!(
        "exec bash {} {}\n",
        Command::quote(path),
        quoted_args(sub, args)
    )
}

/// How long a helper command may run.
pub(crate) const SHORT: Duration = Duration::from_secs(300);
/// For commands that follow something (output, a watch, a download): the service's maximum.
pub(crate) const LONG: Duration = Duration::from_secs(3600);

/// Runs `helper sub args` in `session`, placing the helper there first when it is missing.
/// A non-zero exit becomes the matching typed error.
pub(crate) async fn run(
    session: &Session,
    sub: &str,
    args: &[&str],
    timeout: Duration,
) -> Result<CommandOutput, Error> {
    let out = session
        .command(command_text(sub, args, false))
        .timeout(timeout)
        .output()
        .await?;
    let out = if out.exit_code == MISSING {
        session
            .command(command_text(sub, args, true))
            .timeout(timeout)
            .output()
            .await?
    } else {
        out
    };
    check(out)
}

/// What an attempt that failed in transit leaves open: the same request may succeed again.
pub(crate) fn transient(e: &Error) -> bool {
    e.is_retryable()
        || matches!(
            e,
            Error::TruncatedStream { .. } | Error::Transport { .. } | Error::Timeout { .. }
        )
}

/// Backoff between attempts of an idempotent step cut in transit.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let ms = 200u64.saturating_mul(1u64 << attempt.min(5));
    Duration::from_millis(ms.min(5000))
}

/// Attempts of an idempotent helper step before a transient failure is given up on.
pub(crate) const ATTEMPTS: u32 = 8;

/// [`run`] for steps that may run twice with the same effect: transient failures (a cut
/// connection, throttling) are tried again.
pub(crate) async fn run_idempotent(
    session: &Session,
    sub: &str,
    args: &[&str],
    timeout: Duration,
) -> Result<CommandOutput, Error> {
    let mut attempt: u32 = 0;
    loop {
        match run(session, sub, args, timeout).await {
            Err(e) if transient(&e) && attempt.saturating_add(1) < ATTEMPTS => {
                tracing::debug!(sub, attempt, error = %e, "helper step cut; trying again");
                tokio::time::sleep(backoff(attempt)).await;
                attempt = attempt.saturating_add(1);
            }
            other => return other,
        }
    }
}

/// The helper's message (its stderr), without its prefix.
fn message(out: &CommandOutput) -> String {
    let text = out.stderr.trim();
    let line = text.lines().last().unwrap_or(text);
    line.strip_prefix("agentcore-helper: ")
        .unwrap_or(line)
        .to_owned()
}

/// Maps the helper's exit codes to errors.
pub(crate) fn check(out: CommandOutput) -> Result<CommandOutput, Error> {
    match out.exit_code {
        0 if out.success() => Ok(out),
        3 => Err(Error::NotFound {
            what: message(&out),
        }),
        4 => Err(Error::AlreadyExists {
            what: message(&out),
        }),
        5 => Err(Error::WrongState {
            what: message(&out),
        }),
        7 => Err(Error::ChecksumMismatch {
            what: message(&out),
        }),
        _ => out.check(),
    }
}

/// Base64 (standard alphabet, padded) of command output, ignoring whitespace.
pub(crate) fn decode_b64(text: &str) -> Result<Vec<u8>, Error> {
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .map_err(|e| Error::malformed_with("the session helper's base64 did not decode", e))
}

/// Bytes for a command's text: base64 with the URL alphabet (no `/` or `+`, so no path in it
/// can be mistaken for one), padded.
pub(crate) fn encode_b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_never_names_a_mount_path_and_fits_a_command() {
        // Without a sandbox, agentcore-local rewrites `/mnt/...` in command text.
        assert!(!SCRIPT.contains("/mnt"));
        let text = command_text("list", &[], true);
        assert!(text.len() < 40 * 1024, "{}", text.len());
        assert!(!SCRIPT.contains("AGENTCORE_SDK_HELPER_END"));
    }

    #[test]
    fn the_path_holds_the_users_id_and_the_scripts_hash() {
        let text = command_text("list", &[], false);
        assert!(
            text.starts_with("b=/tmp/.agentcore-sdk-$EUID; d=$b/"),
            "{text}"
        );
        assert_eq!(INSTALLED.1.len(), 16);
        assert!(text.contains(&INSTALLED.0));
        let line = shell_line("/tmp/.agentcore-sdk-0/x/helper", "recv", &["/a b"]);
        assert_eq!(
            line,
            "exec bash /tmp/.agentcore-sdk-0/x/helper recv '/a b'\n"
        );
    }
}
