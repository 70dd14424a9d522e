//! `runtimes`, `endpoints` and `status` end to end against agentcore-local, in the three
//! output formats (snapshots with ids and times redacted).

mod common;

use common::{Local, ok, redact, snapshot, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtimes_lifecycle_from_files_and_flags() {
    let local = Local::start().await;
    let dir = local.home.path();
    // Create from TOML, with a member this CLI does not know (kept, sent as it is).
    let toml_file = dir.join("runtime.toml");
    std::fs::write(
        &toml_file,
        r#"
agentRuntimeName = "coder"
roleArn = "arn:aws:iam::123456789012:role/local"
description = "from a TOML file"
futureMember = { kept = true }

[agentRuntimeArtifact.containerConfiguration]
containerUri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/coder:1"

[lifecycleConfiguration]
idleRuntimeSessionTimeout = 600
maxLifetime = 3600

[[filesystemConfigurations]]
sessionStorage = { mountPath = "/mnt/workspace" }

[environmentVariables]
LOG_LEVEL = "debug"
"#,
    )
    .unwrap();
    let created = ok(local
        .cli()
        .args(["runtimes", "create", "--wait", "--file"])
        .arg(&toml_file)
        .output()
        .unwrap());
    snapshot("runtimes-create-wait.txt", &redact(&created, &[]));

    // Create from JSON and flags over it.
    let json_file = dir.join("runtime.json");
    std::fs::write(
        &json_file,
        serde_json::json!({
            "agentRuntimeName": "overridden",
            "roleArn": "arn:aws:iam::123456789012:role/local",
            "agentRuntimeArtifact": {"containerConfiguration": {"containerUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/helper:1"}},
        })
        .to_string(),
    )
    .unwrap();
    let out = ok(local
        .cli()
        .args([
            "--output",
            "json",
            "runtimes",
            "create",
            "--name",
            "helper",
            "--session-storage",
            "/mnt/data",
            "--env",
            "A=1",
            "--file",
        ])
        .arg(&json_file)
        .output()
        .unwrap());
    let change: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        change["agentRuntimeArn"]
            .as_str()
            .unwrap()
            .contains("runtime/helper-")
    );
    local.run(["runtimes", "wait", "helper"]);

    // List, in every format.
    let table = local.run(["runtimes", "list"]);
    snapshot("runtimes-list-table.txt", &redact(&table, &[]));
    let tsv = local.run(["-o", "text", "runtimes", "list"]);
    snapshot("runtimes-list-text.txt", &redact(&tsv, &[]));
    let json = local.run(["-o", "json", "runtimes", "list"]);
    let list: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);

    // Get: every member, the unknown one too, in JSON.
    let json = local.run(["-o", "json", "runtimes", "get", "coder"]);
    let rt: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        rt["futureMember"],
        serde_json::json!({"kept": true}),
        "{rt}"
    );
    assert_eq!(rt["lifecycleConfiguration"]["maxLifetime"], 3600);
    let table = local.run(["runtimes", "get", "coder"]);
    snapshot("runtimes-get-table.txt", &redact(&table, &[]));

    // Update from a file: only what it names changes; the rest (and the unknown member) stays.
    let update = dir.join("update.json");
    std::fs::write(
        &update,
        r#"{"description": "updated from a file", "agentRuntimeArtifact": {"containerConfiguration": {"containerUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/coder:2"}}}"#,
    )
    .unwrap();
    let out = ok(local
        .cli()
        .args([
            "runtimes", "update", "coder", "--env", "EXTRA=1", "--wait", "--file",
        ])
        .arg(&update)
        .output()
        .unwrap());
    assert!(out.contains("version      2"), "{out}");
    let json = local.run(["-o", "json", "runtimes", "get", "coder"]);
    let rt: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(rt["description"], "updated from a file");
    assert_eq!(rt["futureMember"], serde_json::json!({"kept": true}));
    assert_eq!(
        rt["lifecycleConfiguration"]["idleRuntimeSessionTimeout"],
        600
    );
    assert_eq!(
        rt["environmentVariables"].as_object().unwrap().len(),
        2,
        "{rt}"
    );
    // An old version is still there.
    let json = local.run(["-o", "json", "runtimes", "get", "coder", "--version", "1"]);
    let v1: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v1["description"], "from a TOML file");
    let versions = local.run(["runtimes", "versions", "coder"]);
    snapshot("runtimes-versions.txt", &redact(&versions, &[]));

    // Endpoints.
    let ep_file = dir.join("endpoint.toml");
    std::fs::write(
        &ep_file,
        "name = \"prod\"\nagentRuntimeVersion = \"1\"\ndescription = \"pinned\"\n",
    )
    .unwrap();
    ok(local
        .cli()
        .args(["endpoints", "create", "coder", "--file"])
        .arg(&ep_file)
        .output()
        .unwrap());
    local.run([
        "endpoints",
        "create",
        "coder",
        "canary",
        "--target-version",
        "2",
    ]);
    local.run([
        "endpoints",
        "update",
        "coder",
        "prod",
        "--target-version",
        "2",
        "--description",
        "moved",
    ]);
    let json = local.run(["-o", "json", "endpoints", "get", "coder", "prod"]);
    let ep: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(ep["description"], "moved", "{ep}");
    let list = local.run(["endpoints", "list", "coder"]);
    assert!(list.starts_with("NAME "), "{list}");
    for name in ["DEFAULT", "prod", "canary"] {
        assert!(list.contains(name), "{list}");
    }
    local.run(["endpoints", "delete", "coder", "canary"]);

    // Status: runtime, versions and endpoints at a glance.
    let status = local.run(["status", "--runtime", "coder"]);
    snapshot("status.txt", &redact(&status, &[]));
    let json = local.run(["-o", "json", "status", "--runtime", "coder"]);
    let st: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(st["runtime"]["agentRuntimeName"], "coder");
    assert_eq!(st["versions"].as_array().unwrap().len(), 2);

    // Delete.
    let out = local.run(["runtimes", "delete", "helper"]);
    assert!(out.contains("DELETING") || out.contains("DELETED"), "{out}");
    // Errors of the service come back as one line with the request id.
    let out = local
        .cli()
        .args([
            "runtimes",
            "create",
            "--name",
            "bad-name!",
            "--container-uri",
            "x",
            "--role-arn",
            "arn:aws:iam::1:role/r",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("agentRuntimeName"),
        "{}",
        text(&out.stderr)
    );
}
