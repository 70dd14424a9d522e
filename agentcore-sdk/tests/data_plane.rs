//! Data plane against wiremock: exact HTTP shapes, event-stream decoding, errors, retries.

mod common;

use std::time::Duration;

use agentcore_sdk::{CommandEvent, CommandStatus, Error, ServiceErrorKind};
use common::*;
use futures::StreamExt;
use wiremock::matchers::{body_json, header, header_regex, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn command_request_shape_and_streamed_events() {
    let server = MockServer::start().await;
    let body = [
        start(),
        delta(Some("building…\n"), None),
        delta(None, Some("warning: unused\n")),
        delta(Some("ok ✓ 日本語 🚀\n"), Some("done\n")),
        stop(0, "COMPLETED"),
    ]
    .concat();
    Mock::given(method("POST"))
        .and(path(format!("/runtimes/{ARN_SEGMENT}/commands")))
        .and(query_param("qualifier", "DEFAULT"))
        .and(header("content-type", "application/json"))
        .and(header("accept", "application/vnd.amazon.eventstream"))
        .and(header(
            "x-amzn-bedrock-agentcore-runtime-session-id",
            SESSION,
        ))
        .and(header_regex("authorization", AUTH_RE))
        .and(header_regex("x-amz-date", r"^\d{8}T\d{6}Z$"))
        .and(body_json(
            serde_json::json!({"command": "cargo test", "timeout": 60}),
        ))
        .respond_with(eventstream_response(body))
        .expect(1)
        .mount(&server)
        .await;

    let client = client(&server.uri());
    let mut stream = client
        .command(ARN, "cargo test")
        .session_id(SESSION)
        .qualifier("DEFAULT")
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.session_id().unwrap().as_str(), SESSION);
    assert_eq!(stream.request_id(), Some("req-123"));
    let mut events = Vec::new();
    while let Some(e) = stream.next().await {
        events.push(e.unwrap());
    }
    assert_eq!(
        events,
        vec![
            CommandEvent::Start,
            CommandEvent::Delta {
                stdout: "building…\n".into(),
                stderr: String::new()
            },
            CommandEvent::Delta {
                stdout: String::new(),
                stderr: "warning: unused\n".into()
            },
            CommandEvent::Delta {
                stdout: "ok ✓ 日本語 🚀\n".into(),
                stderr: "done\n".into()
            },
            CommandEvent::Stop {
                exit_code: 0,
                status: CommandStatus::Completed
            },
        ]
    );
}

#[tokio::test]
async fn output_collects_many_chunks_and_exit_code() {
    let server = MockServer::start().await;
    let mut body = start();
    let mut expected = String::new();
    for i in 0..500 {
        let line = format!("line {i} ünïcødé\n");
        expected.push_str(&line);
        body.extend(delta(Some(&line), (i % 7 == 0).then_some("e")));
    }
    body.extend(stop(3, "COMPLETED"));
    Mock::given(method("POST"))
        .respond_with(eventstream_response(body))
        .mount(&server)
        .await;
    let session = client(&server.uri()).session(ARN).unwrap();
    let out = session.command("x").output().await.unwrap();
    assert_eq!(out.stdout, expected);
    assert_eq!(out.stderr, "e".repeat(72));
    assert_eq!(out.exit_code, 3);
    assert!(!out.success());
}

#[tokio::test]
async fn timed_out_status_is_reported() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(eventstream_response(
            [start(), stop(137, "TIMED_OUT")].concat(),
        ))
        .mount(&server)
        .await;
    let out = client(&server.uri())
        .command(ARN, "sleep 999")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status, CommandStatus::TimedOut);
    assert!(!out.success());
}

#[tokio::test]
async fn exception_mid_stream_is_a_typed_service_error() {
    let server = MockServer::start().await;
    let body = [
        start(),
        delta(Some("partial\n"), None),
        exception("throttlingException", "slow down"),
    ]
    .concat();
    Mock::given(method("POST"))
        .respond_with(eventstream_response(body))
        .mount(&server)
        .await;
    let mut stream = client(&server.uri())
        .command(ARN, "x")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap(), CommandEvent::Start);
    assert!(matches!(
        stream.next().await.unwrap().unwrap(),
        CommandEvent::Delta { .. }
    ));
    let err = stream.next().await.unwrap().unwrap_err();
    let service = err.as_service().expect("service error");
    assert_eq!(service.kind(), &ServiceErrorKind::Throttling);
    assert_eq!(service.message(), "slow down");
    assert!(service.is_mid_stream());
    assert!(stream.next().await.is_none(), "stream ends after an error");
}

#[tokio::test]
async fn stream_cut_before_content_stop_is_truncated_not_success() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(eventstream_response(
            [start(), delta(Some("half"), None)].concat(),
        ))
        .mount(&server)
        .await;
    let err = client(&server.uri())
        .command(ARN, "x")
        .output()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::TruncatedStream { events: 2, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn stream_cut_inside_a_frame_is_truncated() {
    let server = MockServer::start().await;
    let mut body = [start(), delta(Some("x"), None)].concat();
    let full = stop(0, "COMPLETED");
    body.extend_from_slice(&full[..full.len() / 2]);
    Mock::given(method("POST"))
        .respond_with(eventstream_response(body))
        .mount(&server)
        .await;
    let err = client(&server.uri())
        .command(ARN, "x")
        .output()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TruncatedStream { .. }), "{err:?}");
}

#[tokio::test]
async fn bad_crc_is_a_malformed_response() {
    let server = MockServer::start().await;
    let mut bad = delta(Some("corrupted"), None);
    let n = bad.len();
    bad[n - 6] ^= 0x55; // flip a payload byte: the message CRC no longer matches
    Mock::given(method("POST"))
        .respond_with(eventstream_response(
            [start(), bad, stop(0, "COMPLETED")].concat(),
        ))
        .mount(&server)
        .await;
    let err = client(&server.uri())
        .command(ARN, "x")
        .output()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::MalformedResponse { .. }), "{err:?}");
}

#[tokio::test]
async fn invalid_chunk_json_is_a_malformed_response() {
    let server = MockServer::start().await;
    let garbage = frame("event", (":event-type", "chunk"), b"{not json");
    Mock::given(method("POST"))
        .respond_with(eventstream_response([start(), garbage].concat()))
        .mount(&server)
        .await;
    let err = client(&server.uri())
        .command(ARN, "x")
        .output()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::MalformedResponse { .. }), "{err:?}");
}

#[tokio::test]
async fn unknown_events_are_skipped() {
    let server = MockServer::start().await;
    let body = [
        start(),
        frame("event", (":event-type", "futureEvent"), b"{}"),
        chunk(serde_json::json!({"contentProgress": {"pct": 50}})),
        delta(Some("x"), None),
        stop(0, "COMPLETED"),
    ]
    .concat();
    Mock::given(method("POST"))
        .respond_with(eventstream_response(body))
        .mount(&server)
        .await;
    let out = client(&server.uri())
        .command(ARN, "x")
        .output()
        .await
        .unwrap();
    assert_eq!(out.stdout, "x");
}

#[tokio::test]
async fn throttled_command_is_retried_before_the_stream_starts() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-amzn-errortype", "ThrottlingException")
                .set_body_json(serde_json::json!({"message": "Rate exceeded"})),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(eventstream_response(
            [start(), stop(0, "COMPLETED")].concat(),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let out = client(&server.uri())
        .command(ARN, "x")
        .output()
        .await
        .unwrap();
    assert!(out.success());
}

#[tokio::test]
async fn a_started_stream_is_never_resent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(eventstream_response(start()))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server.uri())
        .command(ARN, "x")
        .output()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TruncatedStream { .. }));
    // `expect(1)` is verified when the server drops.
}

#[tokio::test]
async fn retries_stop_after_max_attempts() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("unavailable"))
        .expect(3)
        .mount(&server)
        .await;
    let err = client(&server.uri())
        .command(ARN, "x")
        .send()
        .await
        .unwrap_err();
    let s = err.as_service().unwrap();
    assert_eq!(s.status(), Some(503));
    assert_eq!(s.kind(), &ServiceErrorKind::InternalServer);
    assert_eq!(s.message(), "unavailable");
}

#[tokio::test]
async fn error_mapping_header_and_body_forms() {
    let cases: Vec<(u16, Option<&str>, serde_json::Value, ServiceErrorKind)> = vec![
        (
            400,
            Some("ValidationException"),
            serde_json::json!({"message": "bad", "reason": "FieldValidationFailed", "fieldList": [{"name": "command", "message": "too long"}]}),
            ServiceErrorKind::Validation,
        ),
        (
            403,
            None,
            serde_json::json!({"__type": "AccessDeniedException", "message": "no"}),
            ServiceErrorKind::AccessDenied,
        ),
        (
            404,
            None,
            serde_json::json!({"code": "ResourceNotFoundException", "message": "gone"}),
            ServiceErrorKind::ResourceNotFound,
        ),
        (
            424,
            Some("RuntimeClientError:http://internal.amazon.com/coral/"),
            serde_json::json!({"message": "agent crashed"}),
            ServiceErrorKind::RuntimeClient,
        ),
        (
            402,
            None,
            serde_json::json!({"message": "quota"}),
            ServiceErrorKind::ServiceQuotaExceeded,
        ),
        (
            409,
            Some("ConflictException"),
            serde_json::json!({"message": "busy"}),
            ServiceErrorKind::Conflict,
        ),
        (
            401,
            Some("UnauthorizedException"),
            serde_json::json!({"Message": "who"}),
            ServiceErrorKind::Unauthorized,
        ),
    ];
    for (status, header_type, body, kind) in cases {
        let server = MockServer::start().await;
        let mut resp = ResponseTemplate::new(status)
            .insert_header("x-amzn-requestid", "rid-9")
            .set_body_json(body);
        if let Some(t) = header_type {
            resp = resp.insert_header("x-amzn-errortype", t);
        }
        Mock::given(method("POST"))
            .respond_with(resp)
            .expect(1)
            .mount(&server)
            .await;
        let err = client(&server.uri())
            .command(ARN, "x")
            .send()
            .await
            .unwrap_err();
        let s = err.as_service().unwrap_or_else(|| panic!("{err:?}"));
        assert_eq!(s.kind(), &kind);
        assert_eq!(s.status(), Some(status));
        assert_eq!(s.request_id(), Some("rid-9"));
        assert!(!s.message().is_empty());
        if kind == ServiceErrorKind::Validation {
            assert_eq!(s.reason(), Some("FieldValidationFailed"));
            assert_eq!(s.fields()[0].name, "command");
        }
    }
}

#[tokio::test]
async fn retryable_conflict_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(409).set_body_json(
            serde_json::json!({"__type": "RetryableConflictException", "message": "again"}),
        ))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-amzn-bedrock-agentcore-runtime-session-id", SESSION),
        )
        .mount(&server)
        .await;
    let out = client(&server.uri())
        .stop_session(ARN, SESSION)
        .send()
        .await
        .unwrap();
    assert_eq!(out.session_id.unwrap().as_str(), SESSION);
}

#[tokio::test]
async fn validation_failures_make_zero_requests() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let c = client(&server.uri());
    let checks: Vec<(&str, Error)> = vec![
        (
            "empty command",
            c.command(ARN, "").send().await.unwrap_err(),
        ),
        (
            "huge command",
            c.command(ARN, "x".repeat(65_537)).send().await.unwrap_err(),
        ),
        (
            "timeout 0",
            c.command(ARN, "x")
                .timeout(Duration::ZERO)
                .send()
                .await
                .unwrap_err(),
        ),
        (
            "timeout 3601",
            c.command(ARN, "x")
                .timeout(Duration::from_secs(3601))
                .send()
                .await
                .unwrap_err(),
        ),
        (
            "short session",
            c.command(ARN, "x")
                .session_id("short")
                .send()
                .await
                .unwrap_err(),
        ),
        (
            "bad arn",
            c.command("arn:aws:s3:::bucket", "x")
                .send()
                .await
                .unwrap_err(),
        ),
        (
            "bad qualifier",
            c.command(ARN, "x")
                .qualifier("no-dashes")
                .send()
                .await
                .unwrap_err(),
        ),
        (
            "bad account",
            c.command(ARN, "x")
                .account_id("12")
                .send()
                .await
                .unwrap_err(),
        ),
        (
            "stop without session",
            c.stop_session(ARN, "").send().await.unwrap_err(),
        ),
        (
            "payload too big",
            c.invoke(ARN)
                .payload(vec![0u8; 100 * 1024 * 1024 + 1])
                .send()
                .await
                .unwrap_err(),
        ),
        (
            "bad runtime name",
            c.create_agent_runtime()
                .name("has-dash")
                .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1")
                .role_arn("arn:aws:iam::123456789012:role/r")
                .send()
                .await
                .unwrap_err(),
        ),
        (
            "bad mount path",
            c.create_agent_runtime()
                .name("a")
                .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1")
                .role_arn("arn:aws:iam::123456789012:role/r")
                .session_storage("/data/x")
                .send()
                .await
                .unwrap_err(),
        ),
        (
            "duplicate mount",
            c.create_agent_runtime()
                .name("a")
                .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1")
                .role_arn("arn:aws:iam::123456789012:role/r")
                .session_storage("/mnt/ws")
                .session_storage("/mnt/ws/")
                .send()
                .await
                .unwrap_err(),
        ),
        ("six filesystems", {
            let mut b = c
                .create_agent_runtime()
                .name("a")
                .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1")
                .role_arn("arn:aws:iam::123456789012:role/r");
            for i in 0..6 {
                b = b.session_storage(format!("/mnt/fs{i}"));
            }
            b.send().await.unwrap_err()
        }),
        (
            "lifecycle",
            c.create_agent_runtime()
                .name("a")
                .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1")
                .role_arn("arn:aws:iam::123456789012:role/r")
                .lifecycle_configuration(agentcore_sdk::control::LifecycleConfiguration::new(
                    Some(30),
                    None,
                ))
                .send()
                .await
                .unwrap_err(),
        ),
        (
            "role",
            c.create_agent_runtime()
                .name("a")
                .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1")
                .role_arn("not-a-role")
                .send()
                .await
                .unwrap_err(),
        ),
        (
            "bad runtime id",
            c.get_agent_runtime("nope").send().await.unwrap_err(),
        ),
        (
            "max results",
            c.list_agent_runtimes()
                .max_results(101)
                .send()
                .await
                .unwrap_err(),
        ),
        (
            "endpoint name",
            c.create_agent_runtime_endpoint("coder-AbCdE12345")
                .name("bad-name")
                .send()
                .await
                .unwrap_err(),
        ),
    ];
    for (what, err) in checks {
        assert!(matches!(err, Error::InvalidInput { .. }), "{what}: {err:?}");
        assert!(!err.to_string().is_empty());
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn invoke_request_shape_and_sse() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/runtimes/{ARN_SEGMENT}/invocations")))
        .and(header("content-type", "application/json"))
        .and(header("accept", "text/event-stream"))
        .and(header("x-amzn-bedrock-agentcore-runtime-session-id", SESSION))
        .and(header("x-amzn-bedrock-agentcore-runtime-user-id", "alice"))
        .and(header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
        .and(header_regex("authorization", AUTH_RE))
        .and(body_json(serde_json::json!({"prompt": "hi"})))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-amzn-bedrock-agentcore-runtime-session-id", SESSION)
                .set_body_raw("data: {\"token\":\"Hel\"}\n\ndata: {\"token\":\"lo\"}\n\nevent: done\ndata: end\n\n", "text/event-stream"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let session = client(&server.uri()).session_with_id(ARN, SESSION).unwrap();
    let resp = session
        .invoke("")
        .json(&serde_json::json!({"prompt": "hi"}))
        .accept("text/event-stream")
        .user_id("alice")
        .traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        .send()
        .await
        .unwrap();
    assert!(resp.is_event_stream());
    assert_eq!(resp.session_id().unwrap().as_str(), SESSION);
    let events: Vec<_> = resp.events().map(|e| e.unwrap()).collect().await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].data, r#"{"token":"Hel"}"#);
    assert_eq!(events[2].event, "done");
}

#[tokio::test]
async fn invoke_json_roundtrip_and_raw_payload() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/runtimes/{ARN_SEGMENT}/invocations")))
        .and(header("content-type", "application/octet-stream"))
        .and(wiremock::matchers::body_bytes(vec![0u8, 1, 2, 255]))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"result": 42})))
        .expect(1)
        .mount(&server)
        .await;
    let v: serde_json::Value = client(&server.uri())
        .invoke(ARN)
        .payload(vec![0u8, 1, 2, 255])
        .content_type("application/octet-stream")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["result"], 42);
}

#[tokio::test]
async fn stop_session_shape() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/runtimes/{ARN_SEGMENT}/stopruntimesession")))
        .and(query_param("qualifier", "prod"))
        .and(header(
            "x-amzn-bedrock-agentcore-runtime-session-id",
            SESSION,
        ))
        .and(header("content-type", "application/json"))
        .and(header_regex("authorization", AUTH_RE))
        .and(body_json(
            serde_json::json!({"clientToken": "token-000000000000000000000000000000001"}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-amzn-bedrock-agentcore-runtime-session-id", SESSION),
        )
        .expect(1)
        .mount(&server)
        .await;
    client(&server.uri())
        .stop_session(ARN, SESSION)
        .qualifier("prod")
        .client_token("token-000000000000000000000000000000001")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn temporary_credentials_send_the_security_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("x-amz-security-token", "SESSIONTOKEN"))
        .and(header_regex(
            "authorization",
            r"SignedHeaders=[a-z0-9;-]*x-amz-security-token",
        ))
        .respond_with(eventstream_response(
            [start(), stop(0, "COMPLETED")].concat(),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let config = agentcore_sdk::Config::builder()
        .region("us-east-1")
        .endpoint_url(server.uri())
        .credentials_provider(agentcore_sdk::Credentials::new(
            "AKID",
            "SECRET",
            Some("SESSIONTOKEN".into()),
            None,
            "test",
        ))
        .build()
        .unwrap();
    agentcore_sdk::Client::from_conf(config)
        .command(ARN, "x")
        .output()
        .await
        .unwrap();
}

#[tokio::test]
async fn errors_and_debug_never_show_secrets() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(403).set_body_json(
            serde_json::json!({"__type": "AccessDeniedException", "message": "denied"}),
        ))
        .mount(&server)
        .await;
    let c = client(&server.uri());
    let err = c.command(ARN, "x").send().await.unwrap_err();
    for text in [format!("{err}"), format!("{err:?}"), format!("{c:?}")] {
        assert!(!text.contains("wJalrXUtnFEMI"), "{text}");
    }
}

#[tokio::test]
async fn a_bad_arn_is_reported_once_with_its_field() {
    let c = client("http://127.0.0.1:9");
    let errors = [
        c.command("arn:aws:s3:::bucket", "x")
            .send()
            .await
            .unwrap_err(),
        c.invoke("nope").send().await.unwrap_err(),
        c.shell("nope").connect().await.unwrap_err(),
    ];
    for err in errors {
        match &err {
            Error::InvalidInput { field, rule } => {
                assert_eq!(*field, "agentRuntimeArn");
                assert!(!rule.contains("invalid agentRuntimeArn"), "{rule}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            err.to_string().matches("invalid agentRuntimeArn").count(),
            1,
            "{err}"
        );
    }
}

#[tokio::test]
async fn invoke_extra_headers_and_bearer_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/runtimes/{ARN_SEGMENT}/invocations")))
        .and(header(
            "x-amzn-bedrock-agentcore-runtime-custom-tenant",
            "acme",
        ))
        .and(header("authorization", "Bearer jwt-token-123"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&server)
        .await;
    let session = client(&server.uri()).session_with_id(ARN, SESSION).unwrap();
    let request = session
        .invoke("{}")
        .header("X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant", "acme")
        .bearer_token("jwt-token-123");
    // The token never shows in Debug output.
    assert!(!format!("{request:?}").contains("jwt-token-123"));
    let body = request.send().await.unwrap().bytes().await.unwrap();
    assert_eq!(&body[..], b"ok");
    // A bearer call is not SigV4-signed.
    let got = &server.received_requests().await.unwrap()[0];
    assert!(!got.headers.contains_key("x-amz-date"));
}

#[tokio::test]
async fn invoke_refuses_headers_it_sets_itself_and_bad_ones() {
    let server = MockServer::start().await;
    let session = client(&server.uri()).session_with_id(ARN, SESSION).unwrap();
    for (name, value) in [
        ("Authorization", "x"),
        ("X-Amz-Date", "x"),
        ("x-amzn-bedrock-agentcore-runtime-session-id", "x"),
        ("Host", "x"),
        ("bad header", "x"),
        ("X-Ok", "line\nbreak"),
    ] {
        let err = session
            .invoke("{}")
            .header(name, value)
            .send()
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidInput {
                    field: "header",
                    ..
                }
            ),
            "{name}: {err}"
        );
    }
    let err = session
        .invoke("{}")
        .bearer_token("")
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidInput {
                field: "bearerToken",
                ..
            }
        ),
        "{err}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}
