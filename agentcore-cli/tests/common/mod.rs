//! Helpers of the CLI's end-to-end tests: a local runtime per test, the `agentcore-rs`
//! binary run against it with a clean environment, and snapshot files with ids and times
//! redacted.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use agentcore_local::LocalRuntime;

/// The `agentcore-rs` binary: `$AGENTCORE_RS_BIN` (a staged copy, for other users), else
/// the one cargo built for these tests.
pub fn bin() -> PathBuf {
    std::env::var_os("AGENTCORE_RS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_agentcore-rs")))
}

/// A local runtime in this process, with a home directory for the CLI.
pub struct Local {
    pub local: LocalRuntime,
    pub home: tempfile::TempDir,
}

impl Local {
    /// A local runtime with the built-in echo agent.
    pub async fn start() -> Self {
        Self::with(LocalRuntime::builder()).await
    }

    /// `builder`, started on a fresh data directory.
    pub async fn with(builder: agentcore_local::LocalRuntimeBuilder) -> Self {
        let home = tempfile::tempdir().expect("home");
        let local = builder
            .data_dir(home.path().join("data"))
            .ready_delay(Duration::from_millis(20))
            .start()
            .await
            .expect("local runtime starts");
        Self { local, home }
    }

    /// `agentcore-rs ARGS` against this runtime: a clean environment (no AWS variables, no
    /// config file, no colour), `AGENTCORE_ENDPOINT_URL` set.
    pub fn cli(&self) -> assert_cmd::Command {
        let mut cmd = clean_cli(self.home.path());
        cmd.env("AGENTCORE_ENDPOINT_URL", self.local.endpoint());
        cmd
    }

    /// Runs `agentcore-rs ARGS` against this runtime ([`cli`](Self::cli)); its stdout, after
    /// asserting it succeeded (else a failure with its stderr).
    #[allow(dead_code)] // not every test binary runs the CLI this way
    pub fn run<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        ok(self.cli().args(args).output().expect("agentcore-rs runs"))
    }

    /// The endpoint.
    pub fn endpoint(&self) -> String {
        self.local.endpoint()
    }

    /// Creates a READY runtime named `name` with session storage; its ARN.
    pub async fn runtime(&self, name: &str) -> String {
        let client = self.local.client();
        let created = client
            .create_agent_runtime()
            .name(name)
            .container_uri(format!(
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/{name}:1"
            ))
            .role_arn("arn:aws:iam::123456789012:role/local")
            .session_storage("/mnt/workspace")
            .send()
            .await
            .expect("create runtime");
        client
            .wait_until_ready(created.agent_runtime_id.as_str())
            .initial_delay(Duration::from_millis(20))
            .send()
            .await
            .expect("READY")
            .agent_runtime_arn
            .to_string()
    }
}

/// `agentcore-rs` with a clean environment and `home` as its home directory.
pub fn clean_cli(home: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(bin());
    cmd.env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("LANG", "C.UTF-8")
        .env("AGENTCORE_RS_CONFIG", home.join("no-config.toml"))
        .timeout(Duration::from_secs(120));
    if let Some(v) = std::env::var_os("AGENTCORE_LOCAL_ISOLATION") {
        cmd.env("AGENTCORE_LOCAL_ISOLATION", v);
    }
    cmd
}

/// A fresh session id.
pub fn session_id() -> String {
    format!("cli-test-session-{}", uuid_like())
}

fn uuid_like() -> String {
    let n: u128 = (u128::from(fastrand::u64(..)) << 64) | u128::from(fastrand::u64(..));
    format!("{n:032x}")
}

/// The stdout of a run that must have succeeded (else a failure with its stderr).
pub fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Replaces what changes from run to run: runtime ids, ARNs' accounts stay; times, session
/// ids, request ids, ports and temp paths become placeholders.
pub fn redact(s: &str, extra: &[(&str, &str)]) -> String {
    let mut s = s.to_owned();
    for (from, to) in extra {
        if !from.is_empty() {
            s = s.replace(from, to);
        }
    }
    let rules = [
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIME]"),
        (
            r"(runtime/[A-Za-z][A-Za-z0-9_]*)-[A-Za-z0-9]{10}",
            "$1-[ID]",
        ),
        (r"\b([A-Za-z][A-Za-z0-9_]*)-[A-Za-z0-9]{10}\b", "$1-[ID]"),
        (r"http://127\.0\.0\.1:\d+", "http://127.0.0.1:[PORT]"),
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[UUID]",
        ),
    ];
    for (re, to) in rules {
        let re = regex_lite::Regex::new(re).expect("regex");
        s = re.replace_all(&s, to).into_owned();
    }
    s
}

/// Compares `actual` with `tests/snapshots/NAME` (or `$AGENTCORE_RS_SNAPSHOTS/NAME`, a staged
/// copy, for other users); `UPDATE_SNAPSHOTS=1` writes it instead.
pub fn snapshot(name: &str, actual: &str) {
    let dir = std::env::var_os("AGENTCORE_RS_SNAPSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests")
                .join("snapshots")
        });
    let path = dir.join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().expect("dir")).expect("snapshots dir");
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {} (run with UPDATE_SNAPSHOTS=1 to write it); got:\n{actual}",
            path.display()
        )
    });
    assert_eq!(
        expected, actual,
        "snapshot {name} differs (UPDATE_SNAPSHOTS=1 rewrites it)"
    );
}
