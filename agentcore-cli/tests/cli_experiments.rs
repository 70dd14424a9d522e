//! `race`, `bench` and `watch` with the sample spec files of agentcore-cli/specs/, against
//! agentcore-local hosting the examples' experiments agent (as the specs' comments say);
//! and `invoke --header` reaching an agent through the runtime's header allowlist.

mod common;

use std::path::{Path, PathBuf};

use common::{Local, redact, snapshot, text};

fn spec(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("specs")
        .join(name)
}

/// agentcore-local whose every runtime hosts the experiments agent (the `race` example in
/// agent mode), as `agentcore-rs local --agent '*=…' --agent-code '*=…'` does.
async fn with_demo_agent() -> Local {
    let agent = tests::example_binary("race");
    Local::with(agentcore_local::LocalRuntime::builder().agent_with_code(
        "*",
        "exec /var/task/race --agent-mode",
        agent,
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn race_with_the_sample_spec() {
    let local = with_demo_agent().await;
    let out_dir = local.home.path().join("race-out");
    let out = local
        .cli()
        .args(["race", "--out"])
        .arg(&out_dir)
        .arg(spec("race.toml"))
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    // Not a terminal: a log line per step, then the report.
    assert!(stdout.contains("fast-right"), "{stdout}");
    assert!(stdout.contains("WON"), "{stdout}");
    assert!(stdout.contains("winner pushed"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("race.json")).unwrap()).unwrap();
    assert_eq!(report["winner"], "fast-right", "{report}");
    // Every session it started is in the ledger, stopped.
    let ledger = agentcore_sdk::workflow::Ledger::read(out_dir.join("sessions.ledger")).unwrap();
    assert_eq!(ledger.sessions.len(), 4);
    assert_eq!(ledger.not_stopped().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_with_the_sample_spec_and_resume() {
    let local = with_demo_agent().await;
    // The sample, smaller: 2 harnesses × 2 models × 1 repeat.
    let sample = std::fs::read_to_string(spec("bench.toml")).unwrap();
    let small = sample.replace("repeats = 2", "repeats = 1").replace(
        r#"values = ["claude-code", "codex", "aider"]"#,
        r#"values = ["claude-code", "aider"]"#,
    );
    assert_ne!(small, sample, "the sample changed: update this test");
    let spec_file = local.home.path().join("bench.toml");
    std::fs::write(&spec_file, small).unwrap();
    let out_dir = local.home.path().join("bench-out");
    let out = local
        .cli()
        .args(["bench", "--out"])
        .arg(&out_dir)
        .arg(&spec_file)
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("2 variants") || stdout.contains("4 variants"),
        "{stdout}"
    );
    assert!(stdout.contains("4 runs (4 this time"), "{stdout}");
    for f in [
        "bench.csv",
        "bench.json",
        "bench.svg",
        "bench-job/result.json",
        "sessions.ledger",
    ] {
        assert!(out_dir.join(f).exists(), "{f} missing: {stdout}");
    }
    let csv = std::fs::read_to_string(out_dir.join("bench.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(
        std::fs::read_to_string(out_dir.join("bench.svg"))
            .unwrap()
            .contains("<svg")
    );
    let sessions = |report: &serde_json::Value| -> Vec<String> {
        let mut ids: Vec<String> = report["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["session_id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let first: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("bench.json")).unwrap())
            .unwrap();
    // Again with the same output: every row is resumed, nothing runs; JSON on stdout.
    let out = local
        .cli()
        .args(["-o", "json", "bench", "--out"])
        .arg(&out_dir)
        .arg(&spec_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["runs"].as_array().unwrap().len(), 4);
    assert_eq!(
        sessions(&report),
        sessions(&first),
        "the same runs, not new ones"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_with_the_sample_spec_and_a_note() {
    let local = with_demo_agent().await;
    let out = local
        .cli()
        .args(["watch", "--note", "use tabs, not spaces"])
        .arg(spec("watch.toml"))
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("agent │ step 1/5: working"), "{stdout}");
    assert!(
        stdout.contains("read note: use tabs, not spaces"),
        "{stdout}"
    );
    assert!(stdout.contains("log   │ step"), "{stdout}");
    assert!(stdout.contains("agent │ done"), "{stdout}");
    assert!(stdout.ends_with("agent finished\n"), "{stdout}");
    let first = stdout.lines().take(2).collect::<Vec<_>>().join("\n");
    snapshot("watch-head.txt", &redact(&format!("{first}\n"), &[]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_headers_reach_the_agent_through_the_allowlist() {
    let local = with_demo_agent().await;
    let settings = local.home.path().join("hdr.toml");
    std::fs::write(
        &settings,
        r#"
agentRuntimeName = "hdr"
roleArn = "arn:aws:iam::123456789012:role/local"
agentRuntimeArtifact = { containerConfiguration = { containerUri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/hdr:1" } }
requestHeaderConfiguration = { requestHeaderAllowlist = ["X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant"] }
"#,
    )
    .unwrap();
    let out = local
        .cli()
        .args(["runtimes", "create", "--wait", "--file"])
        .arg(&settings)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = local
        .cli()
        .args([
            "invoke",
            "-r",
            "hdr",
            "-H",
            "X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant=acme",
            "-H",
            "X-Amzn-Bedrock-AgentCore-Runtime-Custom-Other=dropped",
            r#"{"echoHeaders": true}"#,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        seen["x-amzn-bedrock-agentcore-runtime-custom-tenant"], "acme",
        "{seen}"
    );
    assert!(
        seen.get("x-amzn-bedrock-agentcore-runtime-custom-other")
            .is_none(),
        "{seen}"
    );
    // A header the request sets itself is refused before anything is sent.
    let out = local
        .cli()
        .args(["invoke", "-r", "hdr", "-H", "Authorization=x", "{}"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("set by the request itself"),
        "{}",
        text(&out.stderr)
    );
}
