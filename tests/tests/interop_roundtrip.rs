//! A get → update round trip through our SDK on a runtime that boto3 created with every
//! member of today's model set (and updated with the update-only ones) leaves every member
//! in place.

use agentcore_local::LocalRuntime;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_update_keeps_every_member_boto3_set() {
    let Some(python) = tokio::task::spawn_blocking(|| {
        tests::python_with_boto3("sdk_update_keeps_every_member_boto3_set")
    })
    .await
    .unwrap() else {
        return;
    };
    let local = LocalRuntime::builder()
        .verify_sigv4([("AKIDLOCAL".to_owned(), "local-secret".to_owned())], [])
        .start()
        .await
        .unwrap();
    let mut child = tokio::process::Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/interop/boto3_roundtrip.py"
        ))
        .arg(local.endpoint())
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: serde_json::Value =
        serde_json::from_str(&lines.next_line().await.unwrap().expect("boto3 created")).unwrap();
    let id = first["id"].as_str().unwrap().to_owned();

    // Our SDK: read, change one thing, write back.
    let client = agentcore_sdk::Client::from_conf(
        agentcore_sdk::Config::builder()
            .region("us-east-1")
            .endpoint_url(local.endpoint())
            .static_credentials("AKIDLOCAL", "local-secret")
            .build()
            .unwrap(),
    );
    let rt = client.get_agent_runtime(&id).send().await.unwrap();
    assert!(rt.platform_version.is_some() && rt.allowed_ports.is_some());
    assert!(
        rt.metadata_configuration.is_some(),
        "update-only member came back"
    );
    client
        .update_agent_runtime(&id)
        .from_runtime(&rt)
        .description("changed by the Rust SDK")
        .send()
        .await
        .unwrap();

    stdin.write_all(b"go\n").await.unwrap();
    let second: serde_json::Value =
        serde_json::from_str(&lines.next_line().await.unwrap().expect("boto3 read back")).unwrap();
    assert!(child.wait().await.unwrap().success());
    assert_eq!(second["description"], "changed by the Rust SDK");
    let (before, after) = (&second["before"], &second["after"]);
    for member in [
        "agentRuntimeArtifact",
        "authorizerConfiguration",
        "requestHeaderConfiguration",
        "protocolConfiguration",
        "lifecycleConfiguration",
        "hooksConfiguration",
        "metadataConfiguration",
        "environmentVariables",
        "filesystemConfigurations",
        "capacityProviderConfiguration",
        "platformVersion",
        "allowedPorts",
        "resourceConfigurations",
        "networkConfiguration",
    ] {
        assert!(!before[member].is_null(), "boto3 set {member}: {before}");
    }
    assert_eq!(
        before, after,
        "the round trip through our SDK changed members"
    );
}
