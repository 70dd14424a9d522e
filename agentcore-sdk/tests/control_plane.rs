//! Control plane against wiremock: every operation's exact HTTP shape, pagination, waiter.

mod common;

use std::time::Duration;

use agentcore_sdk::control::{
    AgentRuntimeStatus, FilesystemConfiguration, LifecycleConfiguration, NetworkConfiguration,
    ProtocolConfiguration, ServerProtocol,
};
use agentcore_sdk::{Error, ServiceErrorKind};
use common::*;
use futures::TryStreamExt;
use serde_json::json;
use wiremock::matchers::{
    body_json, header, header_regex, method, path, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const ID: &str = "coder-AbCdE12345";
const ROLE: &str = "arn:aws:iam::123456789012:role/AgentRuntime";

fn runtime_json(status: &str) -> serde_json::Value {
    json!({
        "agentRuntimeArn": ARN,
        "agentRuntimeName": "coder",
        "agentRuntimeId": ID,
        "agentRuntimeVersion": "1",
        "createdAt": "2026-11-21T10:00:00Z",
        "lastUpdatedAt": "2026-11-21T10:00:05.123Z",
        "roleArn": ROLE,
        "status": status,
        "lifecycleConfiguration": {"idleRuntimeSessionTimeout": 900, "maxLifetime": 28800},
        "filesystemConfigurations": [{"sessionStorage": {"mountPath": "/mnt/workspace"}}],
        "environmentVariables": {"TOKEN": "secret-value"},
        "agentRuntimeArtifact": {"containerConfiguration": {"containerUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/coder:1"}},
        "failureReason": if status.ends_with("FAILED") { json!("image pull failed") } else { json!(null) },
    })
}

fn change_json(status: &str) -> serde_json::Value {
    json!({
        "agentRuntimeArn": ARN,
        "agentRuntimeId": ID,
        "agentRuntimeVersion": "1",
        "createdAt": "2026-11-21T10:00:00Z",
        "status": status,
    })
}

#[tokio::test]
async fn create_agent_runtime_shape() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/runtimes/"))
        .and(header("content-type", "application/json"))
        .and(header_regex("authorization", AUTH_RE))
        .and(body_json(json!({
            "agentRuntimeName": "coder",
            "agentRuntimeArtifact": {"containerConfiguration": {"containerUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/coder:1"}},
            "roleArn": ROLE,
            "networkConfiguration": {"networkMode": "PUBLIC"},
            "clientToken": "token-000000000000000000000000000000001",
            "description": "coding agent",
            "protocolConfiguration": {"serverProtocol": "HTTP"},
            "lifecycleConfiguration": {"idleRuntimeSessionTimeout": 600, "maxLifetime": 3600},
            "environmentVariables": {"GIT_AUTHOR_NAME": "agent", "TOKEN": "s3cret"},
            "filesystemConfigurations": [
                {"sessionStorage": {"mountPath": "/mnt/workspace"}},
                {"efsAccessPoint": {"accessPointArn": "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-0123456789abcdef0", "mountPath": "/mnt/shared"}},
                {"s3FilesAccessPoint": {"accessPointArn": "arn:aws:s3files:us-east-1:123456789012:file-system/fs-0123456789abcdef01/access-point/fsap-0123456789abcdef01", "mountPath": "/mnt/data"}}
            ],
            "tags": {"team": "infra"}
        })))
        .respond_with(ResponseTemplate::new(202).set_body_json(change_json("CREATING")))
        .expect(1)
        .mount(&server)
        .await;
    let created = client(&server.uri())
        .create_agent_runtime()
        .name("coder")
        .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/coder:1")
        .role_arn(ROLE)
        .network_configuration(NetworkConfiguration::public())
        .client_token("token-000000000000000000000000000000001")
        .description("coding agent")
        .protocol_configuration(ProtocolConfiguration::new(ServerProtocol::Http))
        .lifecycle_configuration(LifecycleConfiguration::new(Some(600), Some(3600)))
        .environment_variable("GIT_AUTHOR_NAME", "agent")
        .environment_variable("TOKEN", "s3cret")
        .session_storage("/mnt/workspace")
        .filesystem_configuration(FilesystemConfiguration::efs(
            "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-0123456789abcdef0",
            "/mnt/shared".parse().unwrap(),
        ))
        .filesystem_configuration(FilesystemConfiguration::s3_files(
            "arn:aws:s3files:us-east-1:123456789012:file-system/fs-0123456789abcdef01/access-point/fsap-0123456789abcdef01",
            "/mnt/data".parse().unwrap(),
        ))
        .tag("team", "infra")
        .send()
        .await
        .unwrap();
    assert_eq!(created.agent_runtime_id.as_str(), ID);
    assert_eq!(created.status, AgentRuntimeStatus::Creating);
    assert_eq!(created.agent_runtime_arn.as_str(), ARN);
}

#[tokio::test]
async fn create_generates_a_client_token() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/runtimes/"))
        .respond_with(|req: &Request| {
            let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
            let token = body["clientToken"].as_str().unwrap_or_default();
            assert!(token.len() >= 33, "{token}");
            ResponseTemplate::new(202).set_body_json(change_json("CREATING"))
        })
        .expect(1)
        .mount(&server)
        .await;
    client(&server.uri())
        .create_agent_runtime()
        .name("coder")
        .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1")
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn get_agent_runtime_shape_and_redacted_env() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/runtimes/{ID}/")))
        .and(query_param("version", "3"))
        .and(header_regex("authorization", AUTH_RE))
        .respond_with(ResponseTemplate::new(200).set_body_json(runtime_json("READY")))
        .expect(1)
        .mount(&server)
        .await;
    let rt = client(&server.uri())
        .get_agent_runtime(ID)
        .version("3")
        .send()
        .await
        .unwrap();
    assert_eq!(rt.status, AgentRuntimeStatus::Ready);
    assert_eq!(
        rt.lifecycle_configuration.idle_runtime_session_timeout,
        Some(900)
    );
    assert_eq!(
        rt.filesystem_configurations[0]
            .mount_path()
            .unwrap()
            .as_str(),
        "/mnt/workspace"
    );
    assert_eq!(
        rt.environment_variables.as_ref().unwrap().get("TOKEN"),
        Some("secret-value")
    );
    assert!(!format!("{rt:?}").contains("secret-value"));
}

#[tokio::test]
async fn update_agent_runtime_shape() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path(format!("/runtimes/{ID}/")))
        .and(body_json(json!({
            "agentRuntimeArtifact": {"containerConfiguration": {"containerUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/img:2"}},
            "roleArn": ROLE,
            "clientToken": "token-000000000000000000000000000000002",
            "filesystemConfigurations": [{"sessionStorage": {"mountPath": "/mnt/workspace"}}]
        })))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({
            "agentRuntimeArn": ARN, "agentRuntimeId": ID, "agentRuntimeVersion": "2",
            "createdAt": "2026-11-21T10:00:00Z", "lastUpdatedAt": "2026-11-21T11:00:00Z", "status": "UPDATING"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let up = client(&server.uri())
        .update_agent_runtime(ID)
        .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/img:2")
        .role_arn(ROLE)
        .client_token("token-000000000000000000000000000000002")
        .session_storage("/mnt/workspace")
        .send()
        .await
        .unwrap();
    assert_eq!(up.agent_runtime_version, "2");
    assert!(up.last_updated_at.is_some());
}

#[tokio::test]
async fn delete_agent_runtime_shape() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(format!("/runtimes/{ID}/")))
        .and(query_param(
            "clientToken",
            "token-000000000000000000000000000000003",
        ))
        .and(query_param_is_missing("version"))
        .respond_with(
            ResponseTemplate::new(202)
                .set_body_json(json!({"status": "DELETING", "agentRuntimeId": ID})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let d = client(&server.uri())
        .delete_agent_runtime(ID)
        .client_token("token-000000000000000000000000000000003")
        .send()
        .await
        .unwrap();
    assert_eq!(d.status, AgentRuntimeStatus::Deleting);
}

#[tokio::test]
async fn list_agent_runtimes_paginates_as_a_stream() {
    let server = MockServer::start().await;
    let summary = |n: u32| {
        json!({
            "agentRuntimeArn": ARN, "agentRuntimeId": ID, "agentRuntimeVersion": n.to_string(),
            "agentRuntimeName": "coder", "description": "", "lastUpdatedAt": 1763719200.5, "status": "READY"
        })
    };
    Mock::given(method("POST"))
        .and(path("/runtimes/"))
        .and(query_param("maxResults", "2"))
        .and(query_param_is_missing("nextToken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"agentRuntimes": [summary(1), summary(2)], "nextToken": "page/2+="}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/runtimes/"))
        .and(query_param("nextToken", "page/2+="))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"agentRuntimes": [summary(3)]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let all: Vec<_> = client(&server.uri())
        .list_agent_runtimes()
        .max_results(2)
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        all.iter()
            .map(|r| r.agent_runtime_version.as_str())
            .collect::<Vec<_>>(),
        ["1", "2", "3"]
    );
}

#[tokio::test]
async fn list_versions_and_endpoints_shapes() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/runtimes/{ID}/versions/")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"agentRuntimes": []})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/runtimes/{ID}/runtime-endpoints/")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"runtimeEndpoints": [{
            "name": "DEFAULT", "id": "DEFAULT-AbCdE12345", "liveVersion": "1",
            "agentRuntimeEndpointArn": format!("{ARN}/runtime-endpoint/DEFAULT"), "agentRuntimeArn": ARN,
            "status": "READY", "createdAt": "2026-11-21T10:00:00Z", "lastUpdatedAt": "2026-11-21T10:00:00Z"
        }]})))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server.uri());
    assert!(
        c.list_agent_runtime_versions(ID)
            .send()
            .await
            .unwrap()
            .agent_runtimes
            .is_empty()
    );
    let eps: Vec<_> = c
        .list_agent_runtime_endpoints(ID)
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(eps[0].name.as_str(), "DEFAULT");
}

#[tokio::test]
async fn endpoint_crud_shapes() {
    let server = MockServer::start().await;
    let change = json!({
        "targetVersion": "2", "agentRuntimeEndpointArn": format!("{ARN}/runtime-endpoint/prod"),
        "agentRuntimeArn": ARN, "status": "CREATING", "createdAt": "2026-11-21T10:00:00Z"
    });
    Mock::given(method("PUT"))
        .and(path(format!("/runtimes/{ID}/runtime-endpoints/")))
        .and(body_json(json!({"name": "prod", "agentRuntimeVersion": "2", "description": "production", "clientToken": "token-000000000000000000000000000000004"})))
        .respond_with(ResponseTemplate::new(202).set_body_json(change.clone()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/runtimes/{ID}/runtime-endpoints/prod/")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "name": "prod", "id": "prod-AbCdE12345", "agentRuntimeEndpointArn": format!("{ARN}/runtime-endpoint/prod"),
            "agentRuntimeArn": ARN, "status": "READY", "createdAt": "2026-11-21T10:00:00Z", "lastUpdatedAt": "2026-11-21T10:00:00Z"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("/runtimes/{ID}/runtime-endpoints/prod/")))
        .and(body_json(json!({"agentRuntimeVersion": "3", "clientToken": "token-000000000000000000000000000000005"})))
        .respond_with(ResponseTemplate::new(202).set_body_json(change))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("/runtimes/{ID}/runtime-endpoints/prod/")))
        .and(query_param(
            "clientToken",
            "token-000000000000000000000000000000006",
        ))
        .respond_with(
            ResponseTemplate::new(202)
                .set_body_json(json!({"status": "DELETING", "endpointName": "prod"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server.uri());
    c.create_agent_runtime_endpoint(ID)
        .name("prod")
        .agent_runtime_version("2")
        .description("production")
        .client_token("token-000000000000000000000000000000004")
        .send()
        .await
        .unwrap();
    assert_eq!(
        c.get_agent_runtime_endpoint(ID, "prod")
            .send()
            .await
            .unwrap()
            .id,
        "prod-AbCdE12345"
    );
    c.update_agent_runtime_endpoint(ID, "prod")
        .agent_runtime_version("3")
        .client_token("token-000000000000000000000000000000005")
        .send()
        .await
        .unwrap();
    c.delete_agent_runtime_endpoint(ID, "prod")
        .client_token("token-000000000000000000000000000000006")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn waiter_polls_until_ready() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/runtimes/{ID}/")))
        .respond_with(ResponseTemplate::new(200).set_body_json(runtime_json("CREATING")))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/runtimes/{ID}/")))
        .respond_with(ResponseTemplate::new(200).set_body_json(runtime_json("READY")))
        .expect(1)
        .mount(&server)
        .await;
    let rt = client(&server.uri())
        .wait_until_ready(ID)
        .initial_delay(Duration::from_millis(5))
        .send()
        .await
        .unwrap();
    assert_eq!(rt.status, AgentRuntimeStatus::Ready);
}

#[tokio::test]
async fn waiter_fails_fast_with_failure_reason() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(runtime_json("CREATE_FAILED")))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server.uri())
        .wait_until_ready(ID)
        .send()
        .await
        .unwrap_err();
    match err {
        Error::WaiterFailed { status, reason, .. } => {
            assert_eq!(
                status,
                agentcore_sdk::control::AgentRuntimeStatus::CreateFailed
            );
            assert_eq!(reason.as_deref(), Some("image pull failed"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn waiter_is_bounded_by_its_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(runtime_json("CREATING")))
        .mount(&server)
        .await;
    let err = client(&server.uri())
        .wait_until_ready(ID)
        .initial_delay(Duration::from_millis(10))
        .timeout(Duration::from_millis(100))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                operation: "WaitUntilReady",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn waiter_surfaces_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"__type": "ResourceNotFoundException", "message": "no such runtime"}),
        ))
        .mount(&server)
        .await;
    let err = client(&server.uri())
        .wait_until_ready(ID)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.service_kind(),
        Some(&ServiceErrorKind::ResourceNotFound)
    );
}

#[tokio::test]
async fn malformed_json_body_is_a_typed_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"agentRuntimeArn\": 5"))
        .mount(&server)
        .await;
    let err = client(&server.uri())
        .get_agent_runtime(ID)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::MalformedResponse { .. }), "{err:?}");
}

#[tokio::test]
async fn endpoint_override_keeps_a_base_path() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/proxy/agentcore/runtimes/{ID}/")))
        .respond_with(ResponseTemplate::new(200).set_body_json(runtime_json("READY")))
        .expect(1)
        .mount(&server)
        .await;
    client(&format!("{}/proxy/agentcore", server.uri()))
        .get_agent_runtime(ID)
        .send()
        .await
        .unwrap();
}

/// Responses are never checked with request rules: a service that relaxed its patterns (a
/// mount path outside `/mnt`, a hyphenated name, an ARN of a new resource shape) and added
/// members still decodes, every member kept. What is sent back is checked when it is sent.
#[tokio::test]
async fn responses_with_relaxed_patterns_and_new_members_decode() {
    let server = MockServer::start().await;
    let mut body = runtime_json("READY");
    body["agentRuntimeName"] = json!("coder-v2");
    body["agentRuntimeArn"] =
        json!("arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/team/coder-v2");
    body["filesystemConfigurations"] =
        json!([{"sessionStorage": {"mountPath": "/data/workspace"}}]);
    body["futureSetting"] = json!({"level": 3});
    body["lifecycleConfiguration"]["futureLimit"] = json!(7);
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&body))
        .mount(&server)
        .await;
    let client = client(&server.uri());
    let rt = client.get_agent_runtime(ID).send().await.unwrap();
    assert_eq!(rt.agent_runtime_name.as_str(), "coder-v2");
    assert_eq!(rt.agent_runtime_arn.region(), "us-east-1");
    assert_eq!(rt.unknown_members["futureSetting"], json!({"level": 3}));
    assert_eq!(
        rt.lifecycle_configuration.unknown_members["futureLimit"],
        json!(7)
    );
    assert_eq!(
        serde_json::to_value(&rt).unwrap()["futureSetting"],
        json!({"level": 3})
    );
    // Sending it back: the relaxed mount path is checked now, before anything is sent.
    let e = client
        .update_agent_runtime(ID)
        .from_runtime(&rt)
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput { field, .. } if field.contains("mountPath") || field.contains("filesystem")),
        "{e}"
    );
    // And the unchecked ARN is checked before a data-plane call uses it.
    let e = client.run(&rt.agent_runtime_arn, "true").await.unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn create_from_json_sends_every_member_known_or_not() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/runtimes/"))
        .and(body_json(json!({
            "agentRuntimeName": "coder",
            "agentRuntimeArtifact": {"containerConfiguration": {"containerUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/coder:1"}},
            "roleArn": ROLE,
            "lifecycleConfiguration": {"idleRuntimeSessionTimeout": 600},
            "futureMember": {"nested": [1, 2]},
            "description": "set later",
            "clientToken": "token-000000000000000000000000000000001",
        })))
        .respond_with(ResponseTemplate::new(202).set_body_json(change_json("CREATING")))
        .expect(1)
        .mount(&server)
        .await;
    client(&server.uri())
        .create_agent_runtime()
        .description("replaced by the body")
        .from_json(json!({
            "agentRuntimeName": "coder",
            "agentRuntimeArtifact": {"containerConfiguration": {"containerUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/coder:1"}},
            "roleArn": ROLE,
            "lifecycleConfiguration": {"idleRuntimeSessionTimeout": 600},
            "futureMember": {"nested": [1, 2]},
            "description": null,
        }))
        .description("set later")
        .client_token("token-000000000000000000000000000000001")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn from_json_refuses_what_is_not_an_object_or_does_not_decode() {
    let c = client("http://127.0.0.1:9");
    let err = c
        .create_agent_runtime()
        .from_json(json!(["not", "an", "object"]))
        .send()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("must be a JSON object"), "{err}");
    let err = c
        .create_agent_runtime()
        .from_json(json!({"lifecycleConfiguration": "soon"}))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            agentcore_sdk::Error::InvalidInput { field: "body", .. }
        ),
        "{err}"
    );
    let err = c
        .create_agent_runtime_endpoint(ID)
        .from_json(json!(7))
        .send()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("must be a JSON object"), "{err}");
}

#[tokio::test]
async fn update_from_runtime_then_json_keeps_what_the_body_does_not_name() {
    let server = MockServer::start().await;
    let mut current = runtime_json("READY");
    current["futureMember"] = json!("kept");
    Mock::given(method("PUT"))
        .and(path(format!("/runtimes/{ID}/")))
        .and(body_json(json!({
            "agentRuntimeArtifact": {"containerConfiguration": {"containerUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/coder:2"}},
            "roleArn": ROLE,
            "lifecycleConfiguration": {"idleRuntimeSessionTimeout": 900, "maxLifetime": 28800},
            "filesystemConfigurations": [{"sessionStorage": {"mountPath": "/mnt/workspace"}}],
            "environmentVariables": {"TOKEN": "secret-value"},
            "futureMember": "kept",
            "clientToken": "token-000000000000000000000000000000001",
        })))
        .respond_with(ResponseTemplate::new(202).set_body_json(change_json("UPDATING")))
        .expect(1)
        .mount(&server)
        .await;
    let rt: agentcore_sdk::control::AgentRuntime = serde_json::from_value(current).unwrap();
    client(&server.uri())
        .update_agent_runtime(ID)
        .from_runtime(&rt)
        .from_json(json!({"agentRuntimeArtifact": {"containerConfiguration": {"containerUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/coder:2"}}}))
        .client_token("token-000000000000000000000000000000001")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn endpoint_from_json_create_and_update() {
    let server = MockServer::start().await;
    let change = json!({
        "agentRuntimeEndpointArn": "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/coder-AbCdE12345/runtime-endpoint/prod",
        "agentRuntimeArn": ARN,
        "endpointName": "prod",
        "status": "CREATING",
        "targetVersion": "1",
        "createdAt": "2026-11-21T10:00:00Z",
    });
    Mock::given(method("PUT"))
        .and(path(format!("/runtimes/{ID}/runtime-endpoints/")))
        .and(body_json(json!({
            "name": "prod",
            "agentRuntimeVersion": "1",
            "futureMember": true,
            "clientToken": "token-000000000000000000000000000000001",
        })))
        .respond_with(ResponseTemplate::new(202).set_body_json(change.clone()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("/runtimes/{ID}/runtime-endpoints/prod/")))
        .and(body_json(json!({
            "description": "from a file",
            "clientToken": "token-000000000000000000000000000000001",
        })))
        .respond_with(ResponseTemplate::new(202).set_body_json(change))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server.uri());
    c.create_agent_runtime_endpoint(ID)
        .from_json(json!({"name": "prod", "agentRuntimeVersion": "1", "futureMember": true}))
        .client_token("token-000000000000000000000000000000001")
        .send()
        .await
        .unwrap();
    c.update_agent_runtime_endpoint(ID, "prod")
        .from_json(json!({"description": "from a file"}))
        .client_token("token-000000000000000000000000000000001")
        .send()
        .await
        .unwrap();
}
