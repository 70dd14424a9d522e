//! Session endpoints end to end: agentcore-local's `allowedPorts`, the endpoint URL on
//! InvokeAgentRuntime, requests and WebSockets through it (SDK-signed, verified), its own
//! answers (403 outside `allowedPorts`, 502 for 127.0.0.1 or nothing listening, 404 for a
//! stopped session), and `protocolConfiguration.port/path` for invocations.

use std::time::Duration;

use agentcore_local::LocalRuntime;
use agentcore_sdk::control::{AllowedPort, PortRange, ProtocolConfiguration, ServerProtocol};
use agentcore_sdk::data::{AgentMessage, EndpointAuth};
use agentcore_sdk::{Client, Config, Credentials, Error, RuntimeArn, ServiceErrorKind, Session};
use examples::preview;
use futures::{SinkExt, StreamExt};
use http::Method;

/// Why sessions of `local` get no session endpoint, if they do not (agentcore-local gives
/// one only to a sandbox with an address of its own).
fn no_endpoint_reason(local: &LocalRuntime) -> Option<String> {
    if local.isolation() == agentcore_local::Isolation::None {
        return Some(
            "sessions here are not sandboxed, so they have no address of their own and \
             agentcore-local gives them no session endpoint"
                .into(),
        );
    }
    let net = &local.isolation_report().network;
    (!net.starts_with("private (")).then(|| {
        format!(
            "sessions here have no network helper ({net}), so no address of their own and no \
             session endpoint (install slirp4netns)"
        )
    })
}

async fn runtime_with_ports(client: &Client, name: &str) -> RuntimeArn {
    let id = client
        .create_agent_runtime()
        .name(name)
        .container_uri(format!(
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/{name}:1"
        ))
        .role_arn("arn:aws:iam::123456789012:role/local")
        .session_storage("/mnt/workspace")
        .allowed_port(AllowedPort::PortRange(PortRange::new(8000, 8010)))
        .allowed_port(AllowedPort::Port(9000))
        .send()
        .await
        .unwrap()
        .agent_runtime_id;
    client
        .wait_until_ready(id.as_str())
        .initial_delay(Duration::from_millis(20))
        .send()
        .await
        .unwrap()
        .agent_runtime_arn
}

/// A session of a runtime with `allowedPorts`, invoked once (which gives it its endpoint);
/// `None` (recorded as a skip) where agentcore-local gives no endpoints.
async fn session_with_endpoint(
    local: &LocalRuntime,
    client: &Client,
    test: &str,
) -> Option<Session> {
    let arn = runtime_with_ports(client, "ports").await;
    let session = client.session(&arn).unwrap();
    let resp = session.invoke("{}").send().await.unwrap();
    let header = resp.session_endpoint_url().map(str::to_owned);
    resp.bytes().await.unwrap();
    match no_endpoint_reason(local) {
        Some(why) => {
            assert!(
                header.is_none(),
                "no endpoint without an address of its own"
            );
            assert!(session.endpoint().is_none());
            tests::skip(test, &why);
            None
        }
        None => {
            let header = header.expect("the invocation carries the session endpoint URL");
            assert!(header.len() <= 128, "{header}");
            assert_eq!(
                session.endpoint().map(|e| e.to_string()),
                Some(header),
                "the session keeps the URL it was given"
            );
            Some(session)
        }
    }
}

fn service_error(r: Result<impl std::fmt::Debug, Error>) -> agentcore_sdk::ServiceError {
    match r {
        Err(Error::Service(e)) => *e,
        other => panic!("expected the endpoint's own refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_and_websockets_reach_servers_on_allowed_ports() {
    const TEST: &str = "requests_and_websockets_reach_servers_on_allowed_ports";
    let local = LocalRuntime::builder()
        .ready_delay(Duration::from_millis(20))
        .start()
        .await
        .unwrap();
    let client = local.client();
    let Some(session) = session_with_endpoint(&local, &client, TEST).await else {
        return;
    };
    let dir = "/mnt/workspace/site";
    preview::start_app(&session, dir, 8001, "0.0.0.0", "first")
        .await
        .unwrap();
    preview::start_app(&session, dir, 8002, "127.0.0.1", "first")
        .await
        .unwrap();

    // HTTP: method, path, query and body arrive; the answer comes back.
    let page = session
        .endpoint_request(8001, Method::GET, "/message?x=1")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.bytes().await.unwrap(), "first");
    let body = vec![7u8; 100_000];
    let posted = session
        .endpoint_request(8001, Method::POST, "/upload/here")
        .header("content-type", "application/octet-stream")
        .body(body.clone())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let expected = sha256_hex(&body);
    assert_eq!(
        String::from_utf8_lossy(&posted),
        format!("posted 100000 bytes to /upload/here: {expected}")
    );
    // The app's own statuses are answers, not errors.
    let missing = session
        .endpoint_request(8001, Method::GET, "/nothing/")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    // WebSocket.
    let mut ws = session
        .endpoint_websocket(8001, "/echo")
        .connect()
        .await
        .unwrap();
    ws.send(AgentMessage::Text("hello".into())).await.unwrap();
    ws.send(AgentMessage::Binary(vec![0, 1, 2, 255].into()))
        .await
        .unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        AgentMessage::Text("hello".into())
    );
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        AgentMessage::Binary(vec![0, 1, 2, 255].into())
    );
    ws.close().await.unwrap();

    // A server bound to 127.0.0.1 inside is not reachable, as on the service: 502.
    let e = service_error(
        session
            .endpoint_request(8002, Method::GET, "/message")
            .send()
            .await,
    );
    assert_eq!(e.status(), Some(502));
    assert!(e.message().contains("0.0.0.0"), "{}", e.message());
    // Nothing listening: 502.
    let e = service_error(
        session
            .endpoint_request(8003, Method::GET, "/")
            .send()
            .await,
    );
    assert_eq!(e.status(), Some(502));
    // A port outside allowedPorts: 403 AccessDenied, its code in a header, an empty body.
    let e = service_error(
        session
            .endpoint_request(8050, Method::GET, "/")
            .send()
            .await,
    );
    assert_eq!(
        (e.kind(), e.status()),
        (&ServiceErrorKind::AccessDenied, Some(403))
    );
    let url = session.endpoint().unwrap().request_url(8050, "/").unwrap();
    let raw = reqwest::get(url.as_str()).await.unwrap();
    assert_eq!(raw.status(), 403);
    assert_eq!(raw.headers()["x-amzn-errortype"], "AccessDenied");
    assert!(raw.bytes().await.unwrap().is_empty());
    // Bad ports never leave this process.
    assert!(matches!(
        session.endpoint_request(80, Method::GET, "/").send().await,
        Err(Error::InvalidInput { field: "port", .. })
    ));

    // A stopped session: 404.
    session.stop().await.unwrap();
    let url = session
        .endpoint()
        .unwrap()
        .request_url(8001, "/message")
        .unwrap();
    let raw = reqwest::get(url.as_str()).await.unwrap();
    assert_eq!(raw.status(), 404);
}

fn sha256_hex(data: &[u8]) -> String {
    use std::io::Write;
    let mut c = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(data).unwrap();
    let out = c.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_verification_on_only_signed_or_bearer_requests_pass() {
    const TEST: &str = "with_verification_on_only_signed_or_bearer_requests_pass";
    let local = LocalRuntime::builder()
        .verify_sigv4(
            [("AKIDTEST".to_owned(), "s3cr3t".to_owned())],
            ["good-token".to_owned()],
        )
        .ready_delay(Duration::from_millis(20))
        .start()
        .await
        .unwrap();
    let client = Client::from_conf(
        Config::builder()
            .region("us-east-1")
            .endpoint_url(local.endpoint())
            .credentials_provider(Credentials::new("AKIDTEST", "s3cr3t", None, None, "t"))
            .build()
            .unwrap(),
    );
    let Some(session) = session_with_endpoint(&local, &client, TEST).await else {
        return;
    };
    preview::start_app(&session, "/mnt/workspace/site", 8001, "0.0.0.0", "signed")
        .await
        .unwrap();
    let signed = session
        .endpoint_request(8001, Method::POST, "/x")
        .header("content-type", "text/plain")
        .body("abc")
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    let bearer = session
        .endpoint_request(8001, Method::GET, "/message")
        .auth(EndpointAuth::Bearer("good-token".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.bytes().await.unwrap(), "signed");
    let e = service_error(
        session
            .endpoint_request(8001, Method::GET, "/message")
            .auth(EndpointAuth::Bearer("bad-token".into()))
            .send()
            .await,
    );
    assert_eq!(
        (e.kind(), e.status()),
        (&ServiceErrorKind::AccessDenied, Some(403))
    );
    let mut ws = session
        .endpoint_websocket(8001, "/echo")
        .connect()
        .await
        .unwrap();
    ws.send(AgentMessage::Text("signed upgrade".into()))
        .await
        .unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        AgentMessage::Text("signed upgrade".into())
    );
    // No credentials at all: 401 AuthenticationRequired, code in a header, empty body.
    let url = session
        .endpoint()
        .unwrap()
        .request_url(8001, "/message")
        .unwrap();
    let raw = reqwest::get(url.as_str()).await.unwrap();
    assert_eq!(raw.status(), 401);
    assert_eq!(raw.headers()["x-amzn-errortype"], "AuthenticationRequired");
    assert!(raw.bytes().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_without_allowed_ports_has_no_endpoint() {
    let f = tests::Fixture::new().await;
    let session = f.session();
    let resp = session.invoke("{}").send().await.unwrap();
    assert_eq!(resp.session_endpoint_url(), None);
    resp.bytes().await.unwrap();
    assert!(session.endpoint().is_none());
    assert!(matches!(
        session
            .endpoint_request(8000, Method::GET, "/")
            .send()
            .await,
        Err(Error::NoSessionEndpoint { .. })
    ));
    assert!(matches!(
        session.preview(8000).start().await,
        Err(Error::NoSessionEndpoint { .. })
    ));
}

/// An agent that serves `/ping` and answers POSTs with the path and port it got them on.
const PATH_AGENT: &str = r#"
import http.server, json, os, socketserver
PORT = int(os.environ["PORT"])
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        self.reply({"status": "Healthy"})
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.reply({"path": self.path, "port": PORT})
socketserver.TCPServer.allow_reuse_address = True
socketserver.TCPServer(("0.0.0.0", PORT), H).serve_forever()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocations_go_to_the_configured_port_and_path() {
    let code = tempfile::tempdir().unwrap();
    std::fs::write(code.path().join("agent.py"), PATH_AGENT).unwrap();
    let local = LocalRuntime::builder()
        .agent_with_code("pathy", "exec python3 agent.py", code.path())
        .ready_delay(Duration::from_millis(20))
        .start()
        .await
        .unwrap();
    let client = local.client();
    let mut config = ProtocolConfiguration::new(ServerProtocol::Http);
    config.port = Some(9100);
    config.path = Some("/agent/invoke".into());
    let id = client
        .create_agent_runtime()
        .name("pathy")
        .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/pathy:1")
        .role_arn("arn:aws:iam::123456789012:role/local")
        .protocol_configuration(config)
        .send()
        .await
        .unwrap()
        .agent_runtime_id;
    let arn = client
        .wait_until_ready(id.as_str())
        .send()
        .await
        .unwrap()
        .agent_runtime_arn;
    let reply: serde_json::Value = client
        .session(&arn)
        .unwrap()
        .invoke("{}")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["path"], "/agent/invoke");
    if tests::sandboxed(
        &local,
        "invocations_go_to_the_configured_port_and_path (port)",
    ) {
        // In a network of its own the agent serves on the configured port, as in a microVM.
        assert_eq!(reply["port"], 9100);
    }
}
