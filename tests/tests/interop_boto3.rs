//! Interop: boto3 (AWS's Python SDK) drives agentcore-local. The test builds its own venv.

/// Regions of every partition: ARNs follow the region the client signed for.
const REGIONS: [(&str, &str); 4] = [
    ("us-east-1", "aws"),
    ("ap-southeast-2", "aws"),
    ("eu-central-1", "aws"),
    ("cn-north-1", "aws-cn"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_creates_runs_stops_and_finds_the_file() {
    let Some(python) = tokio::task::spawn_blocking(|| {
        tests::python_with_boto3("boto3_creates_runs_stops_and_finds_the_file")
    })
    .await
    .unwrap() else {
        return;
    };
    for (region, partition) in REGIONS {
        boto3_flow(&python, region, partition).await;
    }
}

async fn boto3_flow(python: &std::path::Path, region: &str, partition: &str) {
    // Signatures are verified: botocore's own SigV4 must pass agentcore-local's verifier.
    let local = tests::interop_runtime().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/boto3_interop.py");
    let endpoint = local.endpoint();
    let args = [script.as_ref(), endpoint.as_ref(), region.as_ref()];
    let stdout = tests::run_interop_client(&format!("boto3 in {region}"), python, &args).await;
    let r: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(r["validationCode"], "ValidationException");
    assert_eq!(r["validationStatus"], 400);
    assert_eq!(r["createStatus"], "CREATING");
    assert_eq!(r["status"], "READY");
    assert_eq!(r["mountPath"], "/mnt/workspace");
    assert_eq!(r["createdAtType"], "datetime");
    assert_eq!(r["listed"], serde_json::json!(["boto3_interop"]));
    let first = &r["first"];
    assert_eq!(first["stdout"], "streamed\n");
    assert_eq!(first["stderr"], "to-stderr\n");
    assert_eq!(first["stop"]["exitCode"], 3);
    assert_eq!(first["stop"]["status"], "COMPLETED");
    assert_eq!(first["first"], "contentStart");
    assert_eq!(first["last"], "contentStop");
    assert_eq!(
        first["sessionHeader"],
        "boto3-interop-session-0000000000000000001"
    );
    assert_eq!(r["afterStop"]["stdout"], "before-stop\n");
    let arn = r["arn"].as_str().unwrap();
    assert!(
        arn.starts_with(&format!("arn:{partition}:bedrock-agentcore:{region}:")),
        "{arn}"
    );
    assert!(r["invokeByArn"].as_str().unwrap().contains("by arn"), "{r}");
    assert!(r["invokeById"].as_str().unwrap().contains("by id"), "{r}");
    assert_eq!(
        r["endpointArn"].as_str().unwrap(),
        format!("{arn}/runtime-endpoint/prod")
    );
    assert_eq!(r["endpoints"], serde_json::json!(["DEFAULT", "prod"]));
    assert_eq!(r["tags"], serde_json::json!({"team": "interop"}));
    assert_eq!(r["updatedVersion"], "2");
    assert_eq!(r["afterDelete"], "ResourceNotFoundException");
}

/// boto3's `invoke_agent_runtime` returns `sessionEndpointUrl` for a runtime with
/// `allowedPorts`, and a request signed by botocore reaches a server in the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_gets_the_session_endpoint_url_and_reaches_the_session_through_it() {
    const TEST: &str = "boto3_gets_the_session_endpoint_url_and_reaches_the_session_through_it";
    let Some(python) = tokio::task::spawn_blocking(|| tests::python_with_boto3(TEST))
        .await
        .unwrap()
    else {
        return;
    };
    let local = tests::interop_runtime().await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/interop/boto3_session_endpoint.py"
    );
    let endpoint = local.endpoint();
    let args = [script.as_ref(), endpoint.as_ref()];
    let stdout = tests::run_interop_client("boto3", python, &args).await;
    let r: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        r["allowedPorts"],
        serde_json::json!([{"port": 8000}, {"portRange": {"from": 9000, "to": 9010}}])
    );
    assert!(
        r["withoutPorts"].is_null(),
        "no URL without allowedPorts: {r}"
    );
    let has_address = local.isolation() != agentcore_local::Isolation::None
        && local.isolation_report().network.starts_with("private (");
    if !has_address {
        assert!(r["sessionEndpointUrl"].is_null(), "{r}");
        tests::skip(
            TEST,
            "sessions here have no address of their own (no sandbox or no slirp4netns): no \
             session endpoint to reach through",
        );
        return;
    }
    let url = r["sessionEndpointUrl"]
        .as_str()
        .expect("sessionEndpointUrl");
    assert!(url.starts_with(&local.endpoint()), "{url}");
    assert_eq!(r["signedGet"]["status"], 200);
    assert_eq!(r["signedGet"]["body"], "from-the-session\n");
    assert_eq!(r["unsigned"]["status"], 401);
    assert_eq!(r["unsigned"]["code"], "AuthenticationRequired");
}
