//! What the CLI does when its own ends misbehave: a reader that closes stdout early, a full
//! disk, empty stdin under `--it`, secrets in malformed flags, a mistyped ledger, the
//! config file's output format, and usage errors.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{Local, clean_cli, session_id, text};

/// `agentcore-rs ARGS` against `local` as a plain process, so the test controls its
/// descriptors (assert_cmd's captures them).
fn command(local: &Local, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(common::bin());
    cmd.env_clear()
        .env("HOME", local.home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("AGENTCORE_RS_CONFIG", local.home.path().join("none.toml"))
        .env("AGENTCORE_ENDPOINT_URL", local.endpoint())
        .envs(
            std::env::var_os("AGENTCORE_LOCAL_ISOLATION").map(|v| ("AGENTCORE_LOCAL_ISOLATION", v)),
        )
        .args(args)
        .stdin(Stdio::null());
    cmd
}

/// [`command`] started with stdout and stderr piped.
fn spawn(local: &Local, args: &[&str]) -> Child {
    command(local, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `child` to exit (at most 30 s; a kill and a failure after that).
async fn exit_code(mut child: Child) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running 30 s after its stdout closed");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads one line of `child`'s stdout, then closes it, as `| head -1` does.
fn read_a_line_and_close(child: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    line
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_ends_exec_and_logs_at_once_and_quietly() {
    let local = Local::start().await;
    // exec: the command would run for its whole timeout (60 s).
    let mut child = spawn(&local, &["exec", "--timeout", "60", "--", "yes"]);
    assert_eq!(read_a_line_and_close(&mut child), "y\n");
    let stderr = child.stderr.take().unwrap();
    assert_eq!(exit_code(child).await, Some(141));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut { stderr }, &mut err).unwrap();
    assert!(!err.contains("error"), "{err}");

    // logs -f of a process that never ends.
    let sid = session_id();
    let out = local
        .cli()
        .args(["exec", "-s", &sid, "--detach", "--"])
        .arg("while :; do echo tick; sleep 0.05; done")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pid = text(&out.stdout).trim().to_owned();
    let mut child = spawn(&local, &["logs", "-f", "-s", &sid, &pid]);
    assert_eq!(read_a_line_and_close(&mut child), "tick\n");
    assert_eq!(exit_code(child).await, Some(141));
    let out = local
        .cli()
        .args(["kill", "-s", &sid, "-S", "KILL", &pid])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_that_cannot_be_written_is_an_error_not_a_silent_loss() {
    if !std::path::Path::new("/dev/full").exists() {
        return;
    }
    let local = Local::start().await;
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = command(&local, &["exec", "--", "echo hi"])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("No space left on device"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interactive_shell_with_empty_stdin_ends() {
    let local = Local::start().await;
    let child = command(&local, &["exec", "--it"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // End of input reaches the shell as Ctrl-D once it is ready: it logs out.
    assert_eq!(exit_code(child).await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_header_never_echoes_its_value() {
    let local = Local::start().await;
    let out = local
        .cli()
        .args(["invoke", "-H", "Authorization: Bearer sk-SECRET-42", "{}"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = text(&out.stderr);
    assert!(err.contains("--header expects NAME=VALUE"), "{err}");
    assert!(!err.contains("sk-SECRET-42"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_files_output_format_reaches_exec() {
    let local = Local::start().await;
    let config = local.home.path().join("config.toml");
    std::fs::write(&config, "output = \"json\"\n").unwrap();
    let out = local
        .cli()
        .env("AGENTCORE_RS_CONFIG", &config)
        .args(["exec", "--", "echo hi; exit 4"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stdout"], "hi\n");
    assert_eq!(v["exitCode"], 4);
}

#[test]
fn usage_errors_and_mistyped_ledgers_are_errors() {
    let home = tempfile::tempdir().unwrap();
    // No command at all: help on stderr, and a usage error.
    let out = clean_cli(home.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(text(&out.stderr).contains("Usage: agentcore-rs"));
    // A ledger that is not there is not "nothing left to stop".
    let out = clean_cli(home.path())
        .env("AGENTCORE_ENDPOINT_URL", "http://127.0.0.1:9")
        .args(["sessions", "stop-all", "--ledger", "no-such.ledger"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("no-such.ledger: no such ledger file"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn man_pages_of_every_command() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("man");
    let out = clean_cli(home.path())
        .args(["man", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let exec = std::fs::read_to_string(dir.join("agentcore-rs-exec.1")).unwrap();
    assert!(exec.contains("timeout"), "{exec}");
    for page in [
        "agentcore-rs.1",
        "agentcore-rs-runtimes-create.1",
        "agentcore-rs-cp.1",
    ] {
        assert!(dir.join(page).is_file(), "{page}");
    }
}
