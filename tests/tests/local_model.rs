//! agentcore-local follows today's model: paths with and without the trailing slash, ARNs in
//! the region a request was signed for, tags, resource policies, the agent card and deletion
//! of one version — driven through our SDK (and raw HTTP where a client differs).

use agentcore_local::LocalRuntime;
use agentcore_sdk::{ServiceErrorKind, control::AgentRuntimeStatus};
use tests::{Fixture, create_runtime};

fn kind(e: &agentcore_sdk::Error) -> Option<ServiceErrorKind> {
    match e {
        agentcore_sdk::Error::Service(s) => Some(s.kind().clone()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_with_and_without_the_trailing_slash() {
    let f = Fixture::new().await;
    let http = reqwest::Client::new();
    for path in [
        format!("/runtimes/{}", f.id),
        format!("/runtimes/{}/", f.id),
        format!("/runtimes/{}/runtime-endpoints/DEFAULT", f.id),
        format!("/runtimes/{}/runtime-endpoints/DEFAULT/", f.id),
    ] {
        let r = http
            .get(format!("{}{path}", f.local.endpoint()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "GET {path}");
    }
    for path in ["/runtimes", "/runtimes/"] {
        let r = http
            .post(format!("{}{path}", f.local.endpoint()))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "POST {path}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["agentRuntimes"].as_array().unwrap().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arns_are_in_the_region_the_request_was_signed_for() {
    // Signatures verified: the region is the credential scope's, and it must verify.
    let local = LocalRuntime::builder()
        .verify_sigv4([("AKIDLOCAL".to_owned(), "local-secret".to_owned())], [])
        .start()
        .await
        .unwrap();
    for region in ["eu-west-1", "ap-southeast-2"] {
        let client = agentcore_sdk::Client::from_conf(
            agentcore_sdk::Config::builder()
                .region(region)
                .endpoint_url(local.endpoint())
                .static_credentials("AKIDLOCAL", "local-secret")
                .build()
                .unwrap(),
        );
        let (arn, id) = create_runtime(&client, &format!("in_{}", region.replace('-', "_"))).await;
        assert_eq!(arn.region(), region, "{arn}");
        // The data plane takes that ARN.
        let out = client.run(&arn, "echo ok").await.unwrap();
        assert_eq!(out.stdout, "ok\n");
        let got = client.get_agent_runtime(&id).send().await.unwrap();
        assert_eq!(got.agent_runtime_arn, arn);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_requests_get_the_servers_region() {
    let local = LocalRuntime::builder()
        .region("eu-central-1")
        .start()
        .await
        .unwrap();
    let r: serde_json::Value = reqwest::Client::new()
        .put(format!("{}/runtimes", local.endpoint()))
        .body(r#"{"agentRuntimeName":"unsigned","agentRuntimeArtifact":{"containerConfiguration":{"containerUri":"123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"}},"roleArn":"arn:aws:iam::123456789012:role/r"}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        r["agentRuntimeArn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:bedrock-agentcore:eu-central-1:"),
        "{r}"
    );
    // Its own client signs for that region too.
    let (arn, _) = create_runtime(&local.client(), "signed").await;
    assert_eq!(arn.region(), "eu-central-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_and_resource_policies_of_runtimes_and_endpoints() {
    let f = Fixture::new().await;
    let arn = f.arn.to_string();
    let c = &f.client;
    c.tag_resource(&arn)
        .tag("team", "agents")
        .tag("cost-center", "42")
        .send()
        .await
        .unwrap();
    let tags = c.list_tags_for_resource(&arn).send().await.unwrap();
    assert_eq!(tags.len(), 2);
    assert_eq!(tags["team"], "agents");
    c.untag_resource(&arn).tag_key("team").send().await.unwrap();
    let tags = c.list_tags_for_resource(&arn).send().await.unwrap();
    assert_eq!(tags.keys().collect::<Vec<_>>(), ["cost-center"]);

    let endpoint = c
        .get_agent_runtime_endpoint(&f.id, "DEFAULT")
        .send()
        .await
        .unwrap()
        .agent_runtime_endpoint_arn;
    c.tag_resource(endpoint.as_str())
        .tag("stage", "prod")
        .send()
        .await
        .unwrap();
    assert_eq!(
        c.list_tags_for_resource(endpoint.as_str())
            .send()
            .await
            .unwrap()["stage"],
        "prod"
    );

    assert_eq!(c.get_resource_policy(&arn).send().await.unwrap(), None);
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"bedrock-agentcore:InvokeAgentRuntime","Resource":"*"}]}"#;
    assert_eq!(
        c.put_resource_policy(&arn, policy).send().await.unwrap(),
        policy
    );
    assert_eq!(
        c.get_resource_policy(&arn).send().await.unwrap().as_deref(),
        Some(policy)
    );
    c.delete_resource_policy(&arn).send().await.unwrap();
    assert_eq!(c.get_resource_policy(&arn).send().await.unwrap(), None);

    let missing = arn.replace(&f.id, "other-abcdefghij");
    let e = c.list_tags_for_resource(&missing).send().await.unwrap_err();
    assert_eq!(kind(&e), Some(ServiceErrorKind::ResourceNotFound), "{e}");
    // Bad input never leaves the client.
    let e = c
        .tag_resource("arn:aws:s3:::bucket")
        .tag("a", "b")
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(e, agentcore_sdk::Error::InvalidInput { .. }),
        "{e}"
    );
    let e = c.put_resource_policy(&arn, "").send().await.unwrap_err();
    assert!(
        matches!(e, agentcore_sdk::Error::InvalidInput { .. }),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_card_of_the_echo_agent() {
    let f = Fixture::new().await;
    let card = f
        .client
        .get_agent_card(&f.arn)
        .session_id(uuid::Uuid::new_v4().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(card.card["name"], "coder");
    assert!(card.card["skills"].is_array());
    assert!(card.session_id.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_version_is_deleted_and_the_runtime_stays() {
    let f = Fixture::new().await;
    let c = &f.client;
    let rt = c.get_agent_runtime(&f.id).send().await.unwrap();
    c.update_agent_runtime(&f.id)
        .from_runtime(&rt)
        .description("v2")
        .send()
        .await
        .unwrap();
    // The latest version is in use.
    let e = c
        .delete_agent_runtime(&f.id)
        .version("2")
        .send()
        .await
        .unwrap_err();
    assert_eq!(kind(&e), Some(ServiceErrorKind::Conflict), "{e}");
    // DEFAULT serves version 1 until it is moved.
    c.update_agent_runtime_endpoint(&f.id, "DEFAULT")
        .agent_runtime_version("2")
        .send()
        .await
        .unwrap();
    let deleted = c
        .delete_agent_runtime(&f.id)
        .version("1")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.agent_runtime_version.as_deref(), Some("1"));
    let versions: Vec<_> = futures::TryStreamExt::try_collect::<Vec<_>>(
        c.list_agent_runtime_versions(&f.id).into_stream(),
    )
    .await
    .unwrap();
    assert_eq!(
        versions
            .iter()
            .map(|v| v.agent_runtime_version.as_str())
            .collect::<Vec<_>>(),
        ["2"]
    );
    let now = c.get_agent_runtime(&f.id).send().await.unwrap();
    assert_ne!(now.status, AgentRuntimeStatus::Deleting);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_trace_and_allow_listed_headers_reach_hosted_agents_and_come_back() {
    let bin = tests::example_binary("race");
    let local = LocalRuntime::builder()
        .agent_with_code("*", "exec /var/task/race --agent-mode", bin)
        .ready_delay(std::time::Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let client = local.client();
    let created = client
        .create_agent_runtime()
        .name("headers")
        .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/headers:1")
        .role_arn("arn:aws:iam::123456789012:role/local")
        .request_header_configuration(agentcore_sdk::control::RequestHeaderConfiguration::allow(
            vec!["X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant".into()],
        ))
        .send()
        .await
        .unwrap();
    let ready = client
        .wait_until_ready(&created.agent_runtime_id)
        .send()
        .await
        .unwrap();
    let arn = ready.agent_runtime_arn;
    // Through our SDK: MCP and trace headers.
    let resp = client
        .invoke(&arn)
        .json(&serde_json::json!({"echoHeaders": true}))
        .mcp_method("tools/call")
        .mcp_name("run_tests")
        .mcp_session_id("client-mcp")
        .traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .trace_id("Root=1-5759e988-bd862e3fe1be46a994272793")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.mcp_session_id(), Some("agent-mcp-session"));
    assert!(resp.traceparent().is_some_and(|t| t.starts_with("00-0af7")));
    let seen: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(seen["mcp-method"], "tools/call", "{seen}");
    assert_eq!(seen["mcp-name"], "run_tests");
    assert_eq!(seen["mcp-session-id"], "client-mcp");
    assert!(seen["traceparent"].as_str().unwrap().starts_with("00-4bf9"));
    assert!(seen["x-amzn-trace-id"].is_string());
    // A custom header: passed when allow-listed, dropped otherwise (raw HTTP: it is not a
    // member of the model).
    let url = format!(
        "{}/runtimes/{}/invocations",
        local.endpoint(),
        arn.path_segment()
    );
    let seen: serde_json::Value = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant", "acme")
        .header("X-Amzn-Bedrock-AgentCore-Runtime-Custom-Other", "dropped")
        .body(r#"{"echoHeaders": true}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        seen["x-amzn-bedrock-agentcore-runtime-custom-tenant"], "acme",
        "{seen}"
    );
    assert!(
        seen.get("x-amzn-bedrock-agentcore-runtime-custom-other")
            .is_none(),
        "{seen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_and_command_address_a_runtime_by_id_and_account() {
    let f = Fixture::new().await;
    let account = f.arn.account().to_owned();
    // Invoke by id: the echo agent answers with the payload.
    let reply = f
        .client
        .invoke_by_id(&f.id, &account)
        .json(&serde_json::json!({"prompt": "by id"}))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(
        String::from_utf8_lossy(&reply).contains("by id"),
        "{reply:?}"
    );
    // A command by id runs in a real sandbox.
    let out = f
        .client
        .command_by_id(&f.id, &account, "echo $((6 * 7))")
        .output()
        .await
        .unwrap();
    assert_eq!(out.stdout.trim(), "42");
    // The wrong account does not find it.
    let e = f
        .client
        .command_by_id(&f.id, "999999999999", "true")
        .output()
        .await
        .unwrap_err();
    assert_eq!(kind(&e), Some(ServiceErrorKind::ResourceNotFound), "{e}");
    // Refused before sending: a bad account id, a bad runtime id.
    let e = f.client.invoke_by_id(&f.id, "12").send().await.unwrap_err();
    assert!(
        matches!(e, agentcore_sdk::Error::InvalidInput { .. }),
        "{e}"
    );
    let e = f
        .client
        .invoke_by_id("no/such id", &account)
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(e, agentcore_sdk::Error::InvalidInput { .. }),
        "{e}"
    );
    // On the wire, an id without accountId is refused by the server too.
    let r = reqwest::Client::new()
        .post(format!(
            "{}/runtimes/{}/invocations",
            f.local.endpoint(),
            f.id
        ))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
