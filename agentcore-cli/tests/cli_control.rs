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
    ok(local
        .cli()
        .args(["runtimes", "wait", "helper"])
        .output()
        .unwrap());

    // List, in every format.
    let table = ok(local.cli().args(["runtimes", "list"]).output().unwrap());
    snapshot("runtimes-list-table.txt", &redact(&table, &[]));
    let tsv = ok(local
        .cli()
        .args(["-o", "text", "runtimes", "list"])
        .output()
        .unwrap());
    snapshot("runtimes-list-text.txt", &redact(&tsv, &[]));
    let json = ok(local
        .cli()
        .args(["-o", "json", "runtimes", "list"])
        .output()
        .unwrap());
    let list: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);

    // Get: every member, the unknown one too, in JSON.
    let json = ok(local
        .cli()
        .args(["-o", "json", "runtimes", "get", "coder"])
        .output()
        .unwrap());
    let rt: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        rt["futureMember"],
        serde_json::json!({"kept": true}),
        "{rt}"
    );
    assert_eq!(rt["lifecycleConfiguration"]["maxLifetime"], 3600);
    let table = ok(local
        .cli()
        .args(["runtimes", "get", "coder"])
        .output()
        .unwrap());
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
    let json = ok(local
        .cli()
        .args(["-o", "json", "runtimes", "get", "coder"])
        .output()
        .unwrap());
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
    let json = ok(local
        .cli()
        .args(["-o", "json", "runtimes", "get", "coder", "--version", "1"])
        .output()
        .unwrap());
    let v1: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v1["description"], "from a TOML file");
    let versions = ok(local
        .cli()
        .args(["runtimes", "versions", "coder"])
        .output()
        .unwrap());
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
    ok(local
        .cli()
        .args([
            "endpoints",
            "create",
            "coder",
            "canary",
            "--target-version",
            "2",
        ])
        .output()
        .unwrap());
    ok(local
        .cli()
        .args([
            "endpoints",
            "update",
            "coder",
            "prod",
            "--target-version",
            "2",
            "--description",
            "moved",
        ])
        .output()
        .unwrap());
    let json = ok(local
        .cli()
        .args(["-o", "json", "endpoints", "get", "coder", "prod"])
        .output()
        .unwrap());
    let ep: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(ep["description"], "moved", "{ep}");
    let list = ok(local
        .cli()
        .args(["endpoints", "list", "coder"])
        .output()
        .unwrap());
    assert!(list.starts_with("NAME "), "{list}");
    for name in ["DEFAULT", "prod", "canary"] {
        assert!(list.contains(name), "{list}");
    }
    ok(local
        .cli()
        .args(["endpoints", "delete", "coder", "canary"])
        .output()
        .unwrap());

    // Status: runtime, versions and endpoints at a glance.
    let status = ok(local
        .cli()
        .args(["status", "--runtime", "coder"])
        .output()
        .unwrap());
    snapshot("status.txt", &redact(&status, &[]));
    let json = ok(local
        .cli()
        .args(["-o", "json", "status", "--runtime", "coder"])
        .output()
        .unwrap());
    let st: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(st["runtime"]["agentRuntimeName"], "coder");
    assert_eq!(st["versions"].as_array().unwrap().len(), 2);

    // Delete.
    let out = ok(local
        .cli()
        .args(["runtimes", "delete", "helper"])
        .output()
        .unwrap());
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
