//! Agent hosting per the container contract: an HTTP server on `$PORT` with `GET /ping` and
//! `POST /invocations`, one process per session, started on the session's first invocation.
//!
//! A runtime is matched to an agent command by its name, then by its container URI, then by
//! the `*` entry; with no match the built-in echo agent answers (in process).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::api_error::ApiError;
use crate::sandbox::{Process, Stdio, User};
use crate::sessions::SessionState;
use crate::store::StoredRuntime;
use agentcore_sdk::ServiceErrorKind;
use http_body_util::{BodyExt, Full, Limited};

/// How long an agent may take to answer `/ping` healthy after it starts.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// An agent command for runtimes named `name` (or whose container URI is `name`, or `*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSpec {
    /// Runtime name, container URI, or `*`.
    pub name: String,
    /// Shell command that starts the agent; it must listen on `$PORT`.
    pub command: String,
    /// The agent's code on the host (a file or a directory), visible read-only inside the
    /// session at `/var/task` (a directory) or `/var/task/<file name>` (a file). The sandbox
    /// shows nothing else of the host, so an agent program outside the system directories
    /// must be given here.
    pub code: Option<std::path::PathBuf>,
}

impl std::str::FromStr for AgentSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (name, command) = s
            .split_once('=')
            .ok_or_else(|| format!("expected NAME=COMMAND, got {s:?}"))?;
        if name.is_empty() || command.is_empty() {
            return Err(format!("expected NAME=COMMAND, got {s:?}"));
        }
        Ok(Self {
            name: name.to_owned(),
            command: command.to_owned(),
            code: None,
        })
    }
}

/// Picks the agent command for a runtime.
pub fn resolve<'a>(specs: &'a [AgentSpec], runtime: &StoredRuntime) -> Option<&'a AgentSpec> {
    let uri = runtime.container_uri();
    specs
        .iter()
        .find(|s| s.name == runtime.name)
        .or_else(|| specs.iter().find(|s| Some(&s.name) == uri.as_ref()))
        .or_else(|| specs.iter().find(|s| s.name == "*"))
}

/// Where the service sends an invocation in the session: the agent's port and path, from
/// the runtime's `protocolConfiguration` (defaults per protocol: HTTP and AGUI 8080
/// `/invocations`, MCP 8000 `/mcp`, A2A 9000 `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentTarget {
    /// The port the agent serves on.
    pub port: u16,
    /// The path invocations are POSTed to.
    pub path: String,
}

impl AgentTarget {
    /// The target of `runtime`'s latest version.
    pub fn of(runtime: &StoredRuntime) -> Self {
        use agentcore_sdk::control::ServerProtocol;
        let config = runtime.latest().input.protocol_configuration.as_ref();
        let (port, path) = match config.map(|c| &c.server_protocol) {
            Some(ServerProtocol::Mcp) => (8000, "/mcp"),
            Some(ServerProtocol::A2a) => (9000, "/"),
            _ => (8080, "/invocations"),
        };
        Self {
            port: config.and_then(|c| c.port).unwrap_or(port),
            path: config
                .and_then(|c| c.path.clone())
                .unwrap_or_else(|| path.to_owned()),
        }
    }
}

/// A running agent process of one session.
#[derive(Debug)]
pub struct AgentProcess {
    port: u16,
    process: Process,
}

impl AgentProcess {
    /// Whether the process is still running.
    fn alive(&mut self) -> bool {
        self.process.try_wait().is_none()
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        // An agent given up on (it never became healthy) must not run on.
        if self.process.try_wait().is_none() {
            let s = self.process.signaller();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    s.signal(libc::SIGKILL, crate::sandbox::SignalScope::Group)
                        .await
                });
            }
        }
    }
}

/// An agent's answer with host directories written back to the paths inside.
fn inside_paths(
    body: hyper::body::Incoming,
    map: crate::sandbox::PathMap,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let rewriter = crate::sandbox::paths::Rewriter::new(map);
    futures::stream::unfold(
        (Some(http_body_util::BodyStream::new(body)), rewriter),
        |(body, mut rewriter)| async move {
            use futures::StreamExt;
            let mut body = body?;
            loop {
                match body.next().await {
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            let out = rewriter.push(&data);
                            if !out.is_empty() {
                                return Some((Ok(Bytes::from(out)), (Some(body), rewriter)));
                            }
                        }
                    }
                    Some(Err(e)) => {
                        return Some((Err(std::io::Error::other(e)), (None, rewriter)));
                    }
                    None => {
                        let rest = rewriter.flush();
                        return (!rest.is_empty())
                            .then(|| (Ok(Bytes::from(rest)), (None, rewriter)));
                    }
                }
            }
        },
    )
}

/// Longest agent output line kept in the server's log.
const LOG_LINE: usize = 4096;

/// Logs what an agent prints (its own stdout and stderr, never the server's), a bounded
/// line at a time.
fn log_output(session: &str, stream: &'static str, r: Option<crate::sandbox::Reader>) {
    let Some(r) = r else { return };
    let session = session.to_owned();
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut lines = tokio::io::BufReader::new(r);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let mut limited = (&mut lines).take(LOG_LINE as u64);
            match tokio::io::AsyncBufReadExt::read_until(&mut limited, b'\n', &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf);
                    tracing::debug!(session = %session, stream, "agent: {}", line.trim_end());
                }
            }
        }
    });
}

type AgentResponse = http::Response<hyper::body::Incoming>;

/// Sends one request to the agent on `port` inside the session's sandbox, over a fresh
/// connection; `keep` lives until the response body has been read.
async fn send(
    session: &SessionState,
    port: u16,
    req: http::Request<Full<Bytes>>,
    keep: impl Send + 'static,
) -> std::io::Result<AgentResponse> {
    let stream = session.sandbox.connect(port).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        let _keep = keep;
        let _ = conn.await;
    });
    sender
        .send_request(req)
        .await
        .map_err(std::io::Error::other)
}

async fn healthy(session: &SessionState, port: u16) -> bool {
    matches!(
        ping(session, port).await.as_deref(),
        Some("Healthy" | "HealthyBusy")
    )
}

/// The status the agent's `/ping` answers (within 2 s), if it answers one.
async fn ping(session: &SessionState, port: u16) -> Option<String> {
    let req = http::Request::get("/ping")
        .header("host", format!("127.0.0.1:{port}"))
        .body(Full::new(Bytes::new()))
        .ok()?;
    let ask = async {
        let resp = send(session, port, req, ()).await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let body = Limited::new(resp.into_body(), 64 * 1024)
            .collect()
            .await
            .ok()?
            .to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).ok()?;
        Some(v.get("status")?.as_str()?.to_owned())
    };
    tokio::time::timeout(Duration::from_secs(2), ask)
        .await
        .ok()
        .flatten()
}

/// Whether the session's agent, if one runs, answers `/ping` with `HealthyBusy`: it works in
/// the background, and the service does not stop such a session for being idle.
pub async fn reports_busy(session: &SessionState) -> bool {
    let port = match session.agent.try_lock() {
        Ok(mut slot) => match slot.as_mut() {
            Some(a) => {
                if !a.alive() {
                    return false;
                }
                a.port
            }
            None => return false,
        },
        // Being started or used right now: not idle anyway.
        Err(_) => return true,
    };
    ping(session, port).await.as_deref() == Some("HealthyBusy")
}

async fn start(
    session: &Arc<SessionState>,
    spec: &AgentSpec,
    target: &AgentTarget,
) -> Result<AgentProcess, ApiError> {
    let free = session
        .sandbox
        .agent_port()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    // `agent_port` is 8080 exactly where the sandbox has a network of its own: there the
    // agent serves on the configured port, as in the service's microVM. Elsewhere the
    // session shares the host's ports and gets a free one (its `$PORT`).
    let port = if free == 8080 { target.port } else { free };
    // Agents start in their code directory, as in the service's container.
    let script = format!("cd /var/task 2>/dev/null || true\n{}", spec.command);
    let port_text = port.to_string();
    let spec = session.process(
        User::Root,
        "/bin/sh",
        &["-c", &script],
        &[("PORT", &port_text), ("AGENTCORE_PORT", &port_text)],
        Stdio::Pipes { stdin: false },
    );
    let mut process = session.spawn(spec).await.map_err(|e| {
        ApiError::new(
            ServiceErrorKind::RuntimeClient,
            format!("cannot start agent: {e}"),
        )
    })?;
    log_output(&session.key.session_id, "stdout", process.stdout.take());
    log_output(&session.key.session_id, "stderr", process.stderr.take());
    let agent = AgentProcess { port, process };
    let now = Instant::now();
    let deadline = now.checked_add(STARTUP_TIMEOUT).unwrap_or(now);
    loop {
        if healthy(session, port).await {
            return Ok(agent);
        }
        if let Some(status) = agent.process.try_wait() {
            return Err(ApiError::new(
                ServiceErrorKind::RuntimeClient,
                format!(
                    "agent exited during startup with code {}",
                    status.shell_code()
                ),
            ));
        }
        if Instant::now() >= deadline {
            return Err(ApiError::new(
                ServiceErrorKind::RuntimeClient,
                "agent did not answer /ping healthy within 30 s",
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Request headers passed on to the agent.
const FORWARDED: [&str; 11] = [
    "content-type",
    "accept",
    agentcore_sdk::data::USER_ID_HEADER,
    "mcp-session-id",
    "mcp-protocol-version",
    "mcp-method",
    "mcp-name",
    "x-amzn-trace-id",
    "traceparent",
    "tracestate",
    "baggage",
];

/// Whether the runtime's `requestHeaderAllowlist` lets `name` through to the agent.
fn allowed(allowlist: &[String], name: &str) -> bool {
    allowlist.iter().any(|a| a.eq_ignore_ascii_case(name))
}

/// GetAgentCard for `session`: the hosted agent's `/.well-known/agent-card.json`, or a card
/// describing the built-in echo agent.
pub async fn card(
    session: Arc<SessionState>,
    spec: Option<AgentSpec>,
    target: &AgentTarget,
    runtime_arn: &str,
    runtime_name: &str,
) -> Result<Response, ApiError> {
    let Some(spec) = spec else {
        let card = serde_json::json!({
            "name": runtime_name,
            "description": "agentcore-local's built-in echo agent",
            "url": format!("/runtimes/{runtime_arn}/invocations"),
            "version": "1.0.0",
            "capabilities": {"streaming": true},
            "defaultInputModes": ["application/json"],
            "defaultOutputModes": ["application/json", "text/event-stream"],
            "skills": [{"id": "echo", "name": "echo", "description": "Answers with its input"}],
        });
        return Ok(axum::Json(card).into_response());
    };
    let port = {
        let mut slot = session.agent.lock().await;
        if !slot.as_mut().is_some_and(AgentProcess::alive) {
            *slot = Some(start(&session, &spec, target).await?);
        }
        slot.as_ref().map(|a| a.port).unwrap_or_default()
    };
    let req = http::Request::get("/.well-known/agent-card.json")
        .header("host", format!("127.0.0.1:{port}"))
        .header(
            agentcore_sdk::data::SESSION_ID_HEADER,
            &session.key.session_id,
        )
        .body(Full::new(Bytes::new()))
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let resp = send(&session, port, req, ()).await.map_err(|e| {
        ApiError::new(
            ServiceErrorKind::RuntimeClient,
            format!("agent request failed: {e}"),
        )
    })?;
    let (parts, body) = resp.into_parts();
    let mut out = Response::new(Body::new(body));
    *out.status_mut() = parts.status;
    out.headers_mut().insert(
        "content-type",
        axum::http::HeaderValue::from_static("application/json"),
    );
    Ok(out)
}

/// InvokeAgentRuntime for `session`: proxies to its agent, starting it if needed, and
/// streams the agent's response back.
pub async fn invoke(
    session: Arc<SessionState>,
    spec: Option<AgentSpec>,
    headers: HeaderMap,
    allowlist: &[String],
    target: &AgentTarget,
    payload: Bytes,
) -> Result<Response, ApiError> {
    let Some(spec) = spec else {
        return Ok(echo(&session, &headers, payload));
    };
    let busy = session.busy();
    let port = {
        let mut slot = session.agent.lock().await;
        if !slot.as_mut().is_some_and(AgentProcess::alive) {
            *slot = Some(start(&session, &spec, target).await?);
        }
        slot.as_ref().map(|a| a.port).unwrap_or_default()
    };
    let mut req = http::Request::post(target.path.as_str())
        .header("host", format!("127.0.0.1:{port}"))
        .header(
            agentcore_sdk::data::SESSION_ID_HEADER,
            &session.key.session_id,
        );
    for name in FORWARDED {
        if let Some(v) = headers.get(name) {
            req = req.header(name, v);
        }
    }
    // Custom headers the runtime's requestHeaderConfiguration allows through.
    for (name, v) in &headers {
        if allowed(allowlist, name.as_str()) && !FORWARDED.contains(&name.as_str()) {
            req = req.header(name, v);
        }
    }
    // Without a sandbox, paths in what goes to the agent and comes back are rewritten.
    let paths = session.sandbox.path_map().cloned();
    let payload = match &paths {
        Some(m) => Bytes::from(m.to_host_bytes(&payload)),
        None => payload,
    };
    let req = req
        .body(Full::new(payload))
        .map_err(|e| ApiError::internal(e.to_string()))?;
    // The session stays busy while its answer streams.
    let resp = send(&session, port, req, busy).await.map_err(|e| {
        ApiError::new(
            ServiceErrorKind::RuntimeClient,
            format!("agent request failed: {e}"),
        )
    })?;
    let (parts, body) = resp.into_parts();
    if !parts.status.is_success() {
        // The service does not pass an agent's error status on: it answers 424
        // RuntimeClientError, whose message names the status.
        return Err(ApiError::new(
            ServiceErrorKind::RuntimeClient,
            format!(
                "Received error ({}) from runtime. Please check your CloudWatch logs for more information.",
                parts.status.as_u16()
            ),
        ));
    }
    let content_type = parts
        .headers
        .get("content-type")
        .cloned()
        .unwrap_or_else(|| axum::http::HeaderValue::from_static("application/json"));
    let mut out = match paths {
        Some(map) => Response::new(Body::from_stream(inside_paths(body, map))),
        None => Response::new(Body::new(body)),
    };
    *out.status_mut() = parts.status;
    out.headers_mut().insert("content-type", content_type);
    // MCP and trace headers of the agent's answer reach the caller, as through the service.
    for name in RETURNED {
        if let Some(v) = parts.headers.get(name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    Ok(out)
}

const RETURNED: [&str; 6] = [
    "mcp-session-id",
    "mcp-protocol-version",
    "x-amzn-trace-id",
    "traceparent",
    "tracestate",
    "baggage",
];

/// The built-in agent: answers `{"echo": <payload>, "sessionId": ...}`, or the payload as
/// one server-sent event when asked for `text/event-stream`.
fn echo(session: &SessionState, headers: &HeaderMap, payload: Bytes) -> Response {
    let wants_sse = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream"));
    let echoed = serde_json::from_slice::<serde_json::Value>(&payload).unwrap_or_else(|_| {
        serde_json::Value::String(String::from_utf8_lossy(&payload).into_owned())
    });
    let body = serde_json::json!({"echo": echoed, "sessionId": session.key.session_id});
    if wants_sse {
        (
            [("content-type", "text/event-stream")],
            format!("data: {body}\n\n"),
        )
            .into_response()
    } else {
        axum::Json(body).into_response()
    }
}

/// The agent's own WebSocket (`/runtimes/{arn}/ws`): the built-in echo agent answers each
/// message with itself; a hosted agent is reached on `/ws` of its port, messages proxied both
/// ways. When the agent fails the client gets close code 1011.
pub async fn websocket(
    session: Arc<SessionState>,
    spec: Option<AgentSpec>,
    target: AgentTarget,
    mut client: axum::extract::ws::WebSocket,
) {
    use axum::extract::ws::{CloseFrame, Message as AxMessage};
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as TMessage;

    let _busy = session.busy();
    let Some(spec) = spec else {
        while let Some(Ok(msg)) = client.next().await {
            let reply = match msg {
                AxMessage::Text(t) => AxMessage::Text(t),
                AxMessage::Binary(b) => AxMessage::Binary(b),
                AxMessage::Close(_) => break,
                _ => continue,
            };
            if client.send(reply).await.is_err() {
                break;
            }
        }
        return;
    };
    let fail = |reason: String| {
        AxMessage::Close(Some(CloseFrame {
            code: 1011,
            reason: reason.chars().take(120).collect::<String>().into(),
        }))
    };
    let port = {
        let mut slot = session.agent.lock().await;
        if !slot.as_mut().is_some_and(AgentProcess::alive) {
            match start(&session, &spec, &target).await {
                Ok(a) => *slot = Some(a),
                Err(e) => {
                    let _ = client
                        .send(fail(format!("agent did not start: {}", e.message)))
                        .await;
                    return;
                }
            }
        }
        slot.as_ref().map(|a| a.port).unwrap_or_default()
    };
    let agent = async {
        let stream = session.sandbox.connect(port).await?;
        let url = format!("ws://127.0.0.1:{port}/ws");
        let mut req =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
                url.as_str(),
            )
            .map_err(std::io::Error::other)?;
        if let Ok(v) = axum::http::HeaderValue::from_str(&session.key.session_id) {
            req.headers_mut()
                .insert(agentcore_sdk::data::SESSION_ID_HEADER, v);
        }
        let (ws, _) = tokio_tungstenite::client_async(req, stream)
            .await
            .map_err(std::io::Error::other)?;
        Ok::<_, std::io::Error>(ws)
    }
    .await;
    let agent = match agent {
        Ok(a) => a,
        Err(e) => {
            let _ = client
                .send(fail(format!("agent WebSocket failed: {e}")))
                .await;
            return;
        }
    };
    let (mut to_agent, mut from_agent) = agent.split();
    let (mut to_client, mut from_client) = client.split();
    let up = async {
        while let Some(Ok(msg)) = from_client.next().await {
            let m = match msg {
                AxMessage::Text(t) => TMessage::Text(t.as_str().into()),
                AxMessage::Binary(b) => TMessage::Binary(b),
                AxMessage::Close(_) => break,
                _ => continue,
            };
            if to_agent.send(m).await.is_err() {
                break;
            }
        }
        let _ = to_agent.close().await;
    };
    let down = async {
        loop {
            match from_agent.next().await {
                Some(Ok(TMessage::Text(t))) => {
                    if to_client
                        .send(AxMessage::Text(t.as_str().into()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Some(Ok(TMessage::Binary(b))) => {
                    if to_client.send(AxMessage::Binary(b)).await.is_err() {
                        return;
                    }
                }
                Some(Ok(TMessage::Close(_))) | None => {
                    let _ = to_client.send(AxMessage::Close(None)).await;
                    return;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    let _ = to_client
                        .send(fail(format!("agent WebSocket failed: {e}")))
                        .await;
                    return;
                }
            }
        }
    };
    tokio::select! {
        () = up => {}
        () = down => {}
        () = session.stopped.cancelled() => {}
    }
}
