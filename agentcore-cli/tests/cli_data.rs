//! `invoke` (HTTP, server-sent events, stdin, WebSocket, bearer tokens), `sessions stop` and
//! `stop-all`, `cp` both ways (files and directories) and `preview`, end to end against
//! agentcore-local.

mod common;

use std::io::Write;
use std::time::Duration;

use common::{Local, ok, redact, session_id, snapshot, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_streams_replies_over_http_and_websocket() {
    let local = Local::start().await;
    let session = session_id();
    // The built-in echo agent answers with the payload and the session id.
    let out = local.run(["invoke", "--session-id", &session, r#"{"prompt": "hi"}"#]);
    snapshot("invoke-json.txt", &redact(&out, &[(&session, "[SESSION]")]));
    // Server-sent events: each event's data on its own line; --raw keeps the framing.
    let out = local.run([
        "invoke",
        "-s",
        &session,
        "--accept",
        "text/event-stream",
        r#"{"n": 1}"#,
    ]);
    assert_eq!(
        out,
        format!("{{\"echo\":{{\"n\":1}},\"sessionId\":\"{session}\"}}\n")
    );
    let out = local.run([
        "invoke",
        "-s",
        &session,
        "--raw",
        "--accept",
        "text/event-stream",
        "{}",
    ]);
    assert!(out.starts_with("data: {"), "{out}");
    // The payload from stdin.
    let out = ok(local
        .cli()
        .args([
            "invoke",
            "-s",
            &session,
            "--content-type",
            "text/plain",
            "-",
        ])
        .write_stdin("from stdin")
        .output()
        .unwrap());
    assert!(out.contains(r#""echo":"from stdin""#), "{out}");
    // The agent's WebSocket: the payload is one message, each line of stdin another.
    let out = local.run([
        "invoke",
        "--ws",
        "--idle-timeout",
        "1",
        "-s",
        &session,
        "hello",
    ]);
    assert_eq!(out, "hello\n");
    let out = ok(local
        .cli()
        .args(["invoke", "--ws", "--idle-timeout", "1", "-s", &session, "-"])
        .write_stdin("one\ntwo\n")
        .output()
        .unwrap());
    assert_eq!(out, "one\ntwo\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_are_checked_and_never_printed() {
    let local = Local::with(agentcore_local::LocalRuntime::builder().verify_sigv4(
        [("local".to_owned(), "local".to_owned())],
        ["token-for-tests-123".to_owned()],
    ))
    .await;
    let session = session_id();
    let out = local.run([
        "invoke",
        "-s",
        &session,
        "--bearer-token",
        "token-for-tests-123",
        "{}",
    ]);
    assert!(out.contains("\"echo\""), "{out}");
    // From the environment, over the WebSocket too.
    let out = ok(local
        .cli()
        .env("AGENTCORE_BEARER_TOKEN", "token-for-tests-123")
        .args([
            "invoke",
            "--ws",
            "--idle-timeout",
            "1",
            "-s",
            &session,
            "ws",
        ])
        .output()
        .unwrap());
    assert_eq!(out, "ws\n");
    // A wrong token: refused, and the error does not show it.
    let out = local
        .cli()
        .args([
            "invoke",
            "-s",
            &session,
            "--bearer-token",
            "wrong-token-456",
            "{}",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = text(&out.stderr);
    assert!(err.contains("AccessDenied"), "{err}");
    assert!(!err.contains("wrong-token-456"), "{err}");
    // SigV4 with the local credentials still works for everything else.
    local.run(["runtimes", "list"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_stop_and_stop_all_from_a_ledger() {
    let local = Local::start().await;
    let arn = local.runtime("coder").await;
    let session = session_id();
    local.run([
        "exec",
        "-r",
        "coder",
        "-s",
        &session,
        "-d",
        "--process-id",
        "long",
        "--",
        "sleep 600",
    ]);
    let out = local.run(["sessions", "stop", "-r", "coder", &session]);
    assert_eq!(out, format!("{session}\n"));
    // Stopping it again: the service's answer for a session that is not running.
    let again = local
        .cli()
        .args(["sessions", "stop", "-r", "coder", &session])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(125));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("not found or already terminated"),
        "{stderr}"
    );
    // The session's processes went with it.
    let out = local.run(["--output", "json", "ps", "-r", "coder", "-s", &session]);
    assert_eq!(out.trim(), "[]");

    // A ledger with two sessions left running.
    let ledger = local.home.path().join("sessions.ledger");
    let client = local.local.client();
    let l = agentcore_sdk::workflow::Ledger::open(&ledger).unwrap();
    for _ in 0..2 {
        let s = client.session(arn.as_str()).unwrap();
        l.record_started(&s).await.unwrap();
        s.run("true").await.unwrap().check().unwrap();
    }
    let out = local
        .cli()
        .args(["sessions", "stop-all", "--ledger"])
        .arg(&ledger)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let state = agentcore_sdk::workflow::Ledger::read(&ledger).unwrap();
    assert_eq!(state.not_stopped().count(), 0);
    let out = ok(local
        .cli()
        .args(["-o", "json", "sessions", "stop-all", "--ledger"])
        .arg(&ledger)
        .output()
        .unwrap());
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(report.is_object(), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cp_files_and_directories_both_ways() {
    let local = Local::start().await;
    let session = session_id();
    let dir = local.home.path();
    // A file of 3 MiB of bytes that are not text, executable.
    let data: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    let file = dir.join("blob.bin");
    std::fs::write(&file, &data).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o750)).unwrap();
    }
    let out = local
        .cli()
        .args(["cp"])
        .arg(&file)
        .arg(format!("{session}:/mnt/workspace/blob.bin"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("copied 3145728 bytes"),
        "{}",
        text(&out.stderr)
    );
    let out = local.run([
        "exec",
        "-s",
        &session,
        "--",
        "stat -c '%s %a' /mnt/workspace/blob.bin",
    ]);
    assert_eq!(out, "3145728 750\n");
    // Back, into a local directory (under the source's name).
    let back = dir.join("back");
    std::fs::create_dir(&back).unwrap();
    ok(local
        .cli()
        .args(["cp", "--session-id", &session, ":/mnt/workspace/blob.bin"])
        .arg(&back)
        .output()
        .unwrap());
    assert_eq!(std::fs::read(back.join("blob.bin")).unwrap(), data);

    // A directory with a subdirectory and a symlink, into an existing session directory.
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("a.txt"), "alpha\n").unwrap();
    std::fs::write(tree.join("sub/b.txt"), "beta\n").unwrap();
    std::os::unix::fs::symlink("a.txt", tree.join("link")).unwrap();
    let out = local
        .cli()
        .args(["-o", "json", "cp", "--session-id", &session])
        .arg(&tree)
        .arg(":/mnt/workspace")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["upload"], true);
    let out = local.run([
        "exec",
        "-s",
        &session,
        "--",
        "cd /mnt/workspace/tree && find . | sort && cat sub/b.txt && readlink link",
    ]);
    assert_eq!(out, ".\n./a.txt\n./link\n./sub\n./sub/b.txt\nbeta\na.txt\n");
    let copy = dir.join("tree-copy");
    ok(local
        .cli()
        .args(["cp"])
        .arg(format!("{session}:/mnt/workspace/tree"))
        .arg(&copy)
        .output()
        .unwrap());
    assert_eq!(
        std::fs::read_to_string(copy.join("sub/b.txt")).unwrap(),
        "beta\n"
    );
    assert_eq!(
        std::fs::read_link(copy.join("link")).unwrap().to_str(),
        Some("a.txt")
    );
    // A path that is not there.
    let out = local
        .cli()
        .args(["cp", &format!("{session}:/mnt/workspace/nothing"), "./x"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("nothing"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_serves_a_port_of_the_session() {
    const TEST: &str = "preview_serves_a_port_of_the_session";
    let local = Local::start().await;
    if local.local.isolation() == agentcore_local::Isolation::None
        || !local
            .local
            .isolation_report()
            .network
            .starts_with("private (")
    {
        tests::skip(
            TEST,
            "sessions here have no address of their own, so agentcore-local gives them no session endpoint",
        );
        return;
    }
    let settings = local.home.path().join("web.json");
    std::fs::write(
        &settings,
        serde_json::json!({
            "agentRuntimeName": "web",
            "roleArn": "arn:aws:iam::123456789012:role/local",
            "agentRuntimeArtifact": {"containerConfiguration": {"containerUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1"}},
            "allowedPorts": [{"portRange": {"from": 8000, "to": 8010}}],
        })
        .to_string(),
    )
    .unwrap();
    ok(local
        .cli()
        .args(["runtimes", "create", "--wait", "--file"])
        .arg(&settings)
        .output()
        .unwrap());
    let session = session_id();
    local.run([
        "exec",
        "-r",
        "web",
        "-s",
        &session,
        "--",
        "mkdir -p /tmp/site && echo 'hello from the session' > /tmp/site/index.html",
    ]);
    local.run([
        "exec",
        "-r",
        "web",
        "-s",
        &session,
        "-d",
        "--process-id",
        "site",
        "--",
        "exec python3 -m http.server 8000 --bind 0.0.0.0 --directory /tmp/site",
    ]);
    let mut child = std::process::Command::new(common::bin())
        .env_clear()
        .env("HOME", local.home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AGENTCORE_RS_CONFIG", local.home.path().join("none.toml"))
        .env("AGENTCORE_ENDPOINT_URL", local.endpoint())
        .args([
            "preview",
            "-r",
            "web",
            "-s",
            &session,
            "--port",
            "8000",
            "--duration",
            "60",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut url = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut url).unwrap();
    let url = url.trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url:?}");
    // The server may take a moment to listen.
    let mut body = String::new();
    for _ in 0..50 {
        body = http_get(&format!("{url}index.html")).unwrap_or_default();
        if body.contains("hello from the session") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(body.contains("hello from the session"), "{body}");
}

/// A plain HTTP/1.1 GET of `url` (`http://host:port/path`); the whole answer.
fn http_get(url: &str) -> std::io::Result<String> {
    use std::io::Read;
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut s = std::net::TcpStream::connect(host)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}
