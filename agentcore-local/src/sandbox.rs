//! Where a session's processes run.
//!
//! In AgentCore Runtime each session is a microVM whose filesystem configurations are mounted
//! at their real paths (`/mnt/workspace`). Locally, each process of a session starts in its
//! own mount namespace (via util-linux `unshare`): a fresh tmpfs over `/mnt`, then one bind
//! mount per configured mount path onto the session's host directories. Commands, agents and
//! shells therefore see `/mnt/workspace` exactly as on AWS, and sessions cannot see each
//! other's storage.
//!
//! Where mount namespaces are unavailable (no `unshare`, no privileges, no user namespaces),
//! the fallback runs processes directly and exports each mount's host directory in
//! `AGENTCORE_MOUNT_<NAME>` (upper-cased, `-` and `.` as `_`), with the working directory set
//! to the first session-storage directory. [`Isolation`] tells which mode is active.

use std::path::{Path, PathBuf};
use std::process::Stdio;

/// How session processes are isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Mount namespace as root (`unshare --mount`).
    MountNamespace,
    /// User + mount namespace (`unshare --user --map-root-user --mount`) for unprivileged
    /// users.
    UserNamespace,
    /// No namespaces: mount paths are *not* at their real paths; see the module docs.
    None,
}

impl Isolation {
    /// Finds the best mode this machine supports by trying it.
    pub fn probe() -> Self {
        let works = |args: &[&str]| {
            std::process::Command::new("unshare")
                .args(args)
                .args([
                    "--propagation",
                    "private",
                    "--",
                    "sh",
                    "-c",
                    "mount -t tmpfs agentcore /mnt",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if works(&["--mount"]) {
            Isolation::MountNamespace
        } else if works(&["--user", "--map-root-user", "--mount"]) {
            Isolation::UserNamespace
        } else {
            Isolation::None
        }
    }
}

/// One mount of a session: the path inside, the directory outside.
#[derive(Debug, Clone)]
pub struct Mount {
    /// e.g. `/mnt/workspace`.
    pub path: String,
    /// The host directory.
    pub host_dir: PathBuf,
}

/// Sets a mount namespace up, then runs the real program (`"$@"`).
const SETUP: &str = r#"set -e
mount -t tmpfs -o mode=755 agentcore /mnt
while [ "$1" != "--" ]; do
  mkdir -p "$1"
  mount --bind "$2" "$1"
  shift 2
done
shift
cd "$AGENTCORE_WORKDIR" 2>/dev/null || cd /
unset AGENTCORE_WORKDIR
exec "$@""#;

/// Builds the command that runs `program args...` inside a session's sandbox.
pub fn command(
    isolation: Isolation,
    mounts: &[Mount],
    workdir: &Path,
    program: &str,
    args: &[&str],
) -> tokio::process::Command {
    let mut cmd = match isolation {
        Isolation::None => {
            let mut c = tokio::process::Command::new(program);
            c.args(args);
            for m in mounts {
                let name = m
                    .path
                    .trim_start_matches("/mnt/")
                    .trim_end_matches('/')
                    .to_ascii_uppercase()
                    .replace(['-', '.'], "_");
                c.env(format!("AGENTCORE_MOUNT_{name}"), &m.host_dir);
            }
            c.current_dir(workdir);
            c
        }
        Isolation::MountNamespace | Isolation::UserNamespace => {
            let mut c = tokio::process::Command::new("unshare");
            if isolation == Isolation::UserNamespace {
                c.args(["--user", "--map-root-user"]);
            }
            c.args([
                "--mount",
                "--propagation",
                "private",
                "--",
                "sh",
                "-c",
                SETUP,
                "agentcore-sandbox",
            ]);
            for m in mounts {
                c.arg(m.path.trim_end_matches('/')).arg(&m.host_dir);
            }
            c.arg("--").arg(program).args(args);
            c.env("AGENTCORE_WORKDIR", workdir);
            c
        }
    };
    cmd.stdin(Stdio::null());
    cmd
}
