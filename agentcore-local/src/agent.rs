//! Agent hosting per the container contract: an HTTP server on `$PORT` with `GET /ping` and
//! `POST /invocations`, one process per session, started on the session's first invocation.
//!
//! A runtime is matched to an agent command by its name, then by its container URI, then by
//! the `*` entry; with no match the built-in echo agent answers (in process).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::api_error::ApiError;
use crate::sandbox::Isolation;
use crate::sessions::{SessionState, kill_group};
use crate::store::StoredRuntime;
use agentcore_sdk::ServiceErrorKind;

/// How long an agent may take to answer `/ping` healthy after it starts.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// An agent command for runtimes named `name` (or whose container URI is `name`, or `*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSpec {
    /// Runtime name, container URI, or `*`.
    pub name: String,
    /// Shell command that starts the agent; it must listen on `$PORT`.
    pub command: String,
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

/// A running agent process of one session.
#[derive(Debug)]
pub struct AgentProcess {
    port: u16,
    pgid: i32,
    child: tokio::process::Child,
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        kill_group(self.pgid);
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn healthy(http: &reqwest::Client, port: u16) -> bool {
    match http
        .get(format!("http://127.0.0.1:{port}/ping"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => r
            .json::<serde_json::Value>()
            .await
            .map(|v| matches!(v["status"].as_str(), Some("Healthy" | "HealthyBusy")))
            .unwrap_or(false),
        _ => false,
    }
}

async fn start(
    session: &Arc<SessionState>,
    isolation: Isolation,
    spec: &AgentSpec,
    http: &reqwest::Client,
) -> Result<AgentProcess, ApiError> {
    let port = free_port().map_err(|e| ApiError::internal(e.to_string()))?;
    let mut cmd = session.command(isolation, "sh", &["-c", &spec.command]);
    cmd.process_group(0)
        .env("PORT", port.to_string())
        .env("AGENTCORE_PORT", port.to_string())
        .stdout(std::process::Stdio::inherit())
        .stderr(std::process::Stdio::inherit());
    let child = cmd.spawn().map_err(|e| {
        ApiError::new(
            ServiceErrorKind::RuntimeClient,
            format!("cannot start agent: {e}"),
        )
    })?;
    let pgid = child.id().map(|p| p as i32).unwrap_or(0);
    session.track(pgid);
    let mut agent = AgentProcess { port, pgid, child };
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if healthy(http, port).await {
            return Ok(agent);
        }
        if let Ok(Some(status)) = agent.child.try_wait() {
            return Err(ApiError::new(
                ServiceErrorKind::RuntimeClient,
                format!("agent exited during startup with {status}"),
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

/// InvokeAgentRuntime for `session`: proxies to its agent, starting it if needed, and
/// streams the agent's response back.
pub async fn invoke(
    session: Arc<SessionState>,
    isolation: Isolation,
    spec: Option<AgentSpec>,
    http: reqwest::Client,
    headers: HeaderMap,
    payload: Bytes,
) -> Result<Response, ApiError> {
    let Some(spec) = spec else {
        return Ok(echo(&session, &headers, payload));
    };
    let busy = session.busy();
    let port = {
        let mut slot = session.agent.lock().await;
        let alive = match slot.as_mut() {
            Some(a) => a.child.try_wait().ok().flatten().is_none(),
            None => false,
        };
        if !alive {
            *slot = Some(start(&session, isolation, &spec, &http).await?);
        }
        slot.as_ref().map(|a| a.port).unwrap_or_default()
    };
    let mut req = http
        .post(format!("http://127.0.0.1:{port}/invocations"))
        .header(
            agentcore_sdk::data::SESSION_ID_HEADER,
            &session.key.session_id,
        )
        .body(payload);
    for name in [
        "content-type",
        "accept",
        agentcore_sdk::data::USER_ID_HEADER,
        "mcp-session-id",
        "mcp-protocol-version",
    ] {
        if let Some(v) = headers.get(name) {
            req = req.header(name, v);
        }
    }
    let resp = req.send().await.map_err(|e| {
        ApiError::new(
            ServiceErrorKind::RuntimeClient,
            format!("agent request failed: {e}"),
        )
    })?;
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::OK);
    let content_type = resp
        .headers()
        .get("content-type")
        .cloned()
        .unwrap_or_else(|| axum::http::HeaderValue::from_static("application/json"));
    let stream = futures::StreamExt::map(resp.bytes_stream(), move |chunk| {
        // Keep the session busy while its answer streams.
        let _ = &busy;
        chunk.map_err(std::io::Error::other)
    });
    let mut out = Response::new(Body::from_stream(stream));
    *out.status_mut() = status;
    out.headers_mut().insert("content-type", content_type);
    Ok(out)
}

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
