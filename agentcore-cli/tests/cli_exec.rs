//! `exec` end to end against agentcore-local: streams to the right descriptors, the remote
//! exit code, `--json`, 124 on timeout, runtimes by name / id / ARN / default, sessions kept
//! by id, and detached processes with `ps`, `logs` and `kill`.

mod common;

use std::time::Duration;

use common::{Local, redact, session_id, snapshot, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_streams_and_passes_the_exit_code_through() {
    let local = Local::start().await;
    // No --runtime on a local endpoint: the runtime `default` is made and used.
    let out = local
        .cli()
        .args(["exec", "--", "echo out; echo err >&2; exit 7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out\n");
    assert_eq!(text(&out.stderr), "err\n");
    // The AWS sample line: the command's words joined, run by bash.
    let out = local
        .cli()
        .args(["exec", "--", "uname", "-s"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "Linux\n");

    // --json: one object, and still the exit code.
    let out = local
        .cli()
        .args([
            "exec",
            "--json",
            "--",
            "printf 'a\\nb'; echo oops >&2; exit 3",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"exitCode": 3, "status": "COMPLETED", "stdout": "a\nb", "stderr": "oops\n"})
    );
    // --output json is the same.
    let out = local
        .cli()
        .args(["--output", "json", "exec", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    snapshot("exec-json.txt", &text(&out.stdout));

    // A timeout is 124.
    let out = local
        .cli()
        .args(["exec", "--timeout", "1", "--", "sleep 10"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(124), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("timed out"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtimes_by_name_id_arn_and_sessions_by_id() {
    let local = Local::start().await;
    let arn = local.runtime("coder").await;
    let id = arn.rsplit('/').next().unwrap().to_owned();
    let session = session_id();
    for runtime in ["coder", id.as_str(), arn.as_str()] {
        let out = local
            .cli()
            .args(["exec", "--runtime", runtime, "--session-id", &session, "--"])
            .arg("echo x >> /mnt/workspace/count; wc -l < /mnt/workspace/count")
            .output()
            .unwrap();
        assert!(out.status.success(), "{runtime}: {}", text(&out.stderr));
    }
    // Same session all three times: the file has three lines.
    let out = local
        .cli()
        .env("AGENTCORE_RUNTIME", "coder")
        .args([
            "exec",
            "--session-id",
            &session,
            "--",
            "cat /mnt/workspace/count | wc -l",
        ])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout).trim(), "3");
    // A config file's runtime is used when nothing else names one.
    let config = local.home.path().join("config.toml");
    std::fs::write(&config, "runtime = \"coder\"\noutput = \"json\"\n").unwrap();
    let out = local
        .cli()
        .env("AGENTCORE_RS_CONFIG", &config)
        .args([
            "exec",
            "--session-id",
            &session,
            "--",
            "wc -l < /mnt/workspace/count",
        ])
        .output()
        .unwrap();
    // ... and its output format: exec prints one JSON object, as with --json.
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {} {}", text(&out.stdout), text(&out.stderr)));
    assert_eq!(v["stdout"], "3\n");
    // A name that does not exist.
    let out = local
        .cli()
        .args(["exec", "--runtime", "nosuch", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(
        text(&out.stderr),
        "agentcore-rs: error: no runtime named nosuch\n"
    );
    // An id that does not exist: the service's error, with its request id.
    let out = local
        .cli()
        .args(["exec", "--runtime", "nosuch-AbCdE12345", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = text(&out.stderr);
    assert!(err.contains("ResourceNotFoundException"), "{err}");
    assert!(err.contains("request id"), "{err}");
    assert_eq!(err.lines().count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detached_processes_ps_logs_and_kill() {
    let local = Local::start().await;
    let session = session_id();
    let out = local
        .cli()
        .args([
            "exec",
            "--session-id",
            &session,
            "--detach",
            "--process-id",
            "counter",
            "--env",
            "GREETING=hello",
            "--",
            "echo $GREETING; echo warn >&2; for i in 1 2 3; do echo tick $i; sleep 0.2; done",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "counter\n");
    // logs -f: everything until it exits.
    let out = local
        .cli()
        .args(["logs", "-f", "--session-id", &session, "counter"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello\ntick 1\ntick 2\ntick 3\n");
    assert_eq!(text(&out.stderr), "warn\n");
    // logs without -f: what is there.
    let out = local
        .cli()
        .args(["logs", "--session-id", &session, "counter"])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "hello\ntick 1\ntick 2\ntick 3\n");

    // A long one, killed.
    let out = local
        .cli()
        .args([
            "exec",
            "-s",
            &session,
            "-d",
            "--process-id",
            "sleeper",
            "--",
            "sleep 600",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ps = local
        .cli()
        .args(["ps", "--session-id", &session])
        .output()
        .unwrap();
    let table = text(&ps.stdout);
    assert!(table.starts_with("ID "), "{table}");
    assert!(table.contains("sleeper  running"), "{table}");
    assert!(table.contains("counter  exited   0"), "{table}");
    let out = local
        .cli()
        .args([
            "kill",
            "--session-id",
            &session,
            "--signal",
            "KILL",
            "sleeper",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Its end is recorded.
    let mut state = String::new();
    for _ in 0..50 {
        let ps = local
            .cli()
            .args(["--output", "json", "ps", "--session-id", &session])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&ps.stdout).unwrap();
        let sleeper = v
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == "sleeper")
            .unwrap()
            .clone();
        state = sleeper["state"].as_str().unwrap().to_owned();
        if state == "exited" {
            assert_eq!(sleeper["signal"], 9, "{sleeper}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, "exited");
    let out = local
        .cli()
        .args(["--output", "text", "ps", "--session-id", &session])
        .output()
        .unwrap();
    let rows = redact(&text(&out.stdout), &[]);
    assert!(
        rows.contains("sleeper\texited\tsignal 9\t[TIME]\t0\t0\tsleep 600"),
        "{rows}"
    );
    // An unknown process.
    let out = local
        .cli()
        .args(["logs", "--session-id", &session, "nosuch"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125), "{}", text(&out.stderr));
}
