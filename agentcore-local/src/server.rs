//! The HTTP surface: both planes on one listener, routed exactly like the service.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentcore_sdk::__private::{AgentRuntimeEndpointInput, AgentRuntimeInput};
use agentcore_sdk::data::SESSION_ID_HEADER;
use agentcore_sdk::{RuntimeArn, ServiceErrorKind, SessionId};
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::agent::{self, AgentSpec};
use crate::api_error::ApiError;
use crate::command;
use crate::sandbox::Isolation;
use crate::sessions::{SessionKey, Sessions};
use crate::store::{Store, StoredRuntime};

/// Everything the handlers share.
#[derive(Debug)]
pub struct AppState {
    /// Control-plane state.
    pub store: Mutex<Store>,
    /// Live sessions.
    pub sessions: Sessions,
    /// Sandbox mode.
    pub isolation: Isolation,
    /// Agent commands.
    pub agents: Vec<AgentSpec>,
    /// Interactive shells.
    pub shells: crate::shell::Shells,
    /// Session endpoints given out.
    pub session_endpoints: crate::session_endpoint::SessionEndpoints,
}

type Shared = State<Arc<AppState>>;
type ApiResult = Result<Response, ApiError>;

impl AppState {
    /// The agent code to bind into `runtime`'s sessions.
    pub(crate) fn agent_code(&self, runtime: &StoredRuntime) -> Option<&std::path::Path> {
        agent::resolve(&self.agents, runtime).and_then(|a| a.code.as_deref())
    }

    fn store(&self) -> Result<std::sync::MutexGuard<'_, Store>, ApiError> {
        self.store
            .lock()
            .map_err(|_| ApiError::internal("state lock poisoned"))
    }
}

/// The router for both planes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        // Paths arrive with or without a trailing slash (botocore sends `/runtimes/{id}/`,
        // other clients `/runtimes/{id}`): `normalize` strips it before routing.
        .route("/runtimes", put(create_runtime).post(list_runtimes))
        .route(
            "/runtimes/{id}",
            get(get_runtime).put(update_runtime).delete(delete_runtime),
        )
        .route("/runtimes/{id}/versions", post(list_versions))
        .route(
            "/runtimes/{id}/runtime-endpoints",
            put(create_endpoint).post(list_endpoints),
        )
        .route(
            "/runtimes/{id}/runtime-endpoints/{name}",
            get(get_endpoint)
                .put(update_endpoint)
                .delete(delete_endpoint),
        )
        .route(
            "/tags/{arn}",
            get(list_tags).post(tag_resource).delete(untag_resource),
        )
        .route(
            "/resourcepolicy/{arn}",
            get(get_policy).put(put_policy).delete(delete_policy),
        )
        .route(
            "/capacity-providers/{id}/runtime-versions",
            post(list_capacity_provider_versions),
        )
        .route(
            "/capacity-providers/{id}/sessions/{sid}",
            axum::routing::delete(delete_capacity_provider_session),
        )
        .route(
            "/runtimes/{arn}/invocations/.well-known/agent-card.json",
            get(agent_card),
        )
        .route("/runtimes/{arn}/commands", post(run_command))
        .route(
            "/runtimes/{arn}/invocations",
            post(invoke).layer(DefaultBodyLimit::max(
                agentcore_sdk::data::MAX_PAYLOAD_BYTES + 1024,
            )),
        )
        .route("/runtimes/{arn}/stopruntimesession", post(stop_session))
        .route("/runtimes/{arn}/ws/shells", get(crate::shell::upgrade))
        .route("/runtimes/{arn}/ws", get(agent_websocket))
        .route(
            "/session-endpoints/{token}/{port}",
            axum::routing::any(crate::session_endpoint::proxy),
        )
        .route(
            "/session-endpoints/{token}/{port}/{*rest}",
            axum::routing::any(crate::session_endpoint::proxy).layer(DefaultBodyLimit::max(
                agentcore_sdk::data::MAX_PAYLOAD_BYTES,
            )),
        )
        .fallback(|| async {
            ApiError::new(
                ServiceErrorKind::Other("UnknownOperationException".into()),
                "no such operation",
            )
            .into_response_with(StatusCode::NOT_FOUND)
        })
        .with_state(state)
}

impl ApiError {
    fn into_response_with(self, status: StatusCode) -> Response {
        let mut r = self.into_response();
        *r.status_mut() = status;
        r
    }
}

/// Runs a store mutation (which writes and fsyncs the state file) on a blocking thread, so a
/// slow disk never stalls the async workers.
async fn mutate<T: Send + 'static>(
    s: &Arc<AppState>,
    f: impl FnOnce(&mut Store) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let s = s.clone();
    tokio::task::spawn_blocking(move || f(&mut *s.store()?))
        .await
        .map_err(|e| ApiError::internal(format!("store task failed: {e}")))?
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    let body: &[u8] = if body.is_empty() { b"{}" } else { body };
    serde_json::from_slice(body).map_err(|e| {
        let mut err = ApiError::validation("body", format!("1 validation error detected: {e}"));
        err.message = format!("Invalid request body: {e}");
        err
    })
}

fn ok(status: StatusCode, body: Value) -> ApiResult {
    Ok((status, Json(body)).into_response())
}

fn page(items: Vec<Value>, q: &HashMap<String, String>, key: &str) -> Result<Value, ApiError> {
    let max = match q.get("maxResults") {
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|m| (1..=100).contains(m))
            .ok_or_else(|| {
                ApiError::validation("maxResults", "maxResults must be between 1 and 100")
            })?,
        None => 100,
    };
    let start = match q.get("nextToken") {
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| ApiError::validation("nextToken", "invalid nextToken"))?,
        None => 0,
    };
    let end = start.saturating_add(max).min(items.len());
    let slice = items.get(start..end).unwrap_or_default().to_vec();
    let mut body = json!({ key: slice });
    if end < items.len()
        && let Some(obj) = body.as_object_mut()
    {
        obj.insert("nextToken".into(), json!(end.to_string()));
    }
    Ok(body)
}

// ---- control plane ------------------------------------------------------------------------

async fn create_runtime(
    State(s): Shared,
    headers: HeaderMap,
    uri: axum::http::Uri,
    body: Bytes,
) -> ApiResult {
    let input: AgentRuntimeInput = parse_json(&body)?;
    let region = crate::auth::signed_region(&headers, &uri);
    let out = mutate(&s, move |st| st.create(input, region)).await?;
    ok(StatusCode::ACCEPTED, out)
}

/// Strips one trailing slash from control-plane paths before routing, keeping the path
/// as sent for signature verification (`OriginalUri`).
pub fn normalize(mut req: axum::extract::Request) -> axum::extract::Request {
    let uri = req.uri().clone();
    let path = uri.path();
    if path.len() > 1 && path.ends_with('/') {
        let base = path.strip_suffix('/').unwrap_or(path);
        let trimmed = match uri.query() {
            Some(q) => format!("{base}?{q}"),
            None => base.to_owned(),
        };
        if let Ok(new) = trimmed.parse::<axum::http::Uri>() {
            req.extensions_mut().insert(axum::extract::OriginalUri(uri));
            *req.uri_mut() = new;
        }
    }
    req
}

/// The ARN of a `{arn}` path label (axum has percent-decoded it).
async fn tag_resource(State(s): Shared, Path(arn): Path<String>, body: Bytes) -> ApiResult {
    #[derive(serde::Deserialize)]
    struct Body {
        tags: std::collections::BTreeMap<String, String>,
    }
    let b: Body = parse_json(&body)?;
    mutate(&s, move |st| st.tag(&arn, b.tags)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn untag_resource(
    State(s): Shared,
    Path(arn): Path<String>,
    uri: axum::http::Uri,
) -> ApiResult {
    let keys: Vec<String> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .filter(|(k, _)| k == "tagKeys")
                .map(|(_, v)| v.into_owned())
                .collect()
        })
        .unwrap_or_default();
    mutate(&s, move |st| st.untag(&arn, &keys)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_tags(State(s): Shared, Path(arn): Path<String>) -> ApiResult {
    let tags = s.store()?.tags(&arn)?;
    ok(StatusCode::OK, json!({ "tags": tags }))
}

async fn put_policy(State(s): Shared, Path(arn): Path<String>, body: Bytes) -> ApiResult {
    #[derive(serde::Deserialize)]
    struct Body {
        policy: String,
    }
    let b: Body = parse_json(&body)?;
    if b.policy.is_empty() || b.policy.chars().count() > 20480 {
        return Err(ApiError::validation(
            "policy",
            "policy must be 1 to 20480 characters",
        ));
    }
    let policy = b.policy.clone();
    mutate(&s, move |st| st.put_policy(&arn, policy)).await?;
    ok(StatusCode::CREATED, json!({ "policy": b.policy }))
}

async fn get_policy(State(s): Shared, Path(arn): Path<String>) -> ApiResult {
    let policy = s.store()?.policy(&arn)?;
    ok(
        StatusCode::OK,
        match policy {
            Some(p) => json!({ "policy": p }),
            None => json!({}),
        },
    )
}

async fn delete_policy(State(s): Shared, Path(arn): Path<String>) -> ApiResult {
    mutate(&s, move |st| st.delete_policy(&arn)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The local runtime has no capacity providers: nothing runs on one.
async fn list_capacity_provider_versions(Path(id): Path<String>) -> ApiResult {
    Err(ApiError::not_found(format!(
        "Capacity provider {id} not found"
    )))
}

async fn delete_capacity_provider_session(Path((id, _sid)): Path<(String, String)>) -> ApiResult {
    Err(ApiError::not_found(format!(
        "Capacity provider {id} not found"
    )))
}

async fn agent_websocket(
    State(s): Shared,
    Path(arn): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    ws: Result<
        axum::extract::WebSocketUpgrade,
        axum::extract::ws::rejection::WebSocketUpgradeRejection,
    >,
) -> ApiResult {
    let rt = resolve_runtime(&s, &arn, q.get("qualifier"))?;
    let sid = session_id(&headers, &q, false)?;
    let ws = ws.map_err(|e| {
        ApiError::validation(
            "Upgrade",
            format!("a WebSocket upgrade request is required: {e}"),
        )
    })?;
    let session = start_session(&s, &rt, &sid).await?;
    let spec = agent::resolve(&s.agents, &rt).cloned();
    let target = agent::AgentTarget::of(&rt);
    let wanted_bearer = headers
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|p| p.trim() == agentcore_sdk::shell::protocol::BEARER_PROTOCOL)
        });
    let ws = if wanted_bearer {
        ws.protocols([agentcore_sdk::shell::protocol::BEARER_PROTOCOL])
    } else {
        ws
    };
    let resp = ws
        .max_message_size(16 * 1024 * 1024)
        .on_upgrade(move |socket| agent::websocket(session, spec, target, socket));
    Ok(with_session_header(resp, &sid))
}

/// The session `sid` of `rt`, its sandbox started if it is not running.
pub(crate) async fn start_session(
    s: &Arc<AppState>,
    rt: &StoredRuntime,
    sid: &str,
) -> Result<Arc<crate::sessions::SessionState>, ApiError> {
    s.sessions
        .get_or_start(rt, sid, s.agent_code(rt))
        .await
        .map_err(|e| match e.kind() {
            // A deliberate stop: not to be retried into a new session.
            std::io::ErrorKind::Interrupted => {
                ApiError::new(agentcore_sdk::ServiceErrorKind::Conflict, e.to_string())
            }
            _ => ApiError::internal(format!("cannot start session: {e}")),
        })
}

async fn agent_card(
    State(s): Shared,
    Path(arn): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> ApiResult {
    let rt = resolve_runtime(&s, &arn, q.get("qualifier"))?;
    let sid = session_id(&headers, &q, false)?;
    let session = start_session(&s, &rt, &sid).await?;
    let spec = agent::resolve(&s.agents, &rt).cloned();
    let target = agent::AgentTarget::of(&rt);
    let resp = agent::card(session, spec, &target, &rt.arn, rt.name.as_str()).await?;
    Ok(with_session_header(resp, &sid))
}

async fn list_runtimes(State(s): Shared, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    let items: Vec<Value> = s
        .store()?
        .all()
        .map(|r| r.summary(r.latest()))
        .collect::<Result<_, _>>()?;
    ok(StatusCode::OK, page(items, &q, "agentRuntimes")?)
}

async fn get_runtime(
    State(s): Shared,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let version = q
        .get("version")
        .map(|v| {
            v.parse::<u32>()
                .map_err(|_| ApiError::validation("version", "invalid version"))
        })
        .transpose()?;
    let out = s.store()?.get(&id)?.describe(version)?;
    ok(StatusCode::OK, out)
}

async fn update_runtime(State(s): Shared, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let input: AgentRuntimeInput = parse_json(&body)?;
    let out = mutate(&s, move |st| st.update(&id, input)).await?;
    ok(StatusCode::ACCEPTED, out)
}

async fn delete_runtime(
    State(s): Shared,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    if let Some(v) = q.get("version") {
        let version = v
            .parse::<u32>()
            .map_err(|_| ApiError::validation("version", "invalid version"))?;
        let out = mutate(&s, move |st| st.delete_version(&id, version)).await?;
        return ok(StatusCode::ACCEPTED, out);
    }
    let out = mutate(&s, {
        let id = id.clone();
        move |st| st.delete(&id)
    })
    .await?;
    s.sessions.stop_runtime(&id);
    ok(StatusCode::ACCEPTED, out)
}

async fn list_versions(
    State(s): Shared,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let items: Vec<Value> = {
        let store = s.store()?;
        let rt = store.get(&id)?;
        rt.versions
            .iter()
            .rev()
            .map(|v| rt.summary(v))
            .collect::<Result<_, _>>()?
    };
    ok(StatusCode::OK, page(items, &q, "agentRuntimes")?)
}

async fn create_endpoint(State(s): Shared, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let input: AgentRuntimeEndpointInput = parse_json(&body)?;
    let out = mutate(&s, move |st| st.create_endpoint(&id, input)).await?;
    ok(StatusCode::ACCEPTED, out)
}

async fn list_endpoints(
    State(s): Shared,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let items: Vec<Value> = {
        let store = s.store()?;
        let rt = store.get(&id)?;
        rt.endpoints
            .iter()
            .map(|(n, e)| rt.describe_endpoint(n, e))
            .collect::<Result<_, _>>()?
    };
    ok(StatusCode::OK, page(items, &q, "runtimeEndpoints")?)
}

async fn get_endpoint(State(s): Shared, Path((id, name)): Path<(String, String)>) -> ApiResult {
    let store = s.store()?;
    let rt = store.get(&id)?;
    let e = rt
        .endpoints
        .get(&name)
        .ok_or_else(|| ApiError::not_found(format!("Endpoint {name} not found")))?;
    ok(StatusCode::OK, rt.describe_endpoint(&name, e)?)
}

async fn update_endpoint(
    State(s): Shared,
    Path((id, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let input: AgentRuntimeEndpointInput = parse_json(&body)?;
    let out = mutate(&s, move |st| st.update_endpoint(&id, &name, input)).await?;
    ok(StatusCode::ACCEPTED, out)
}

async fn delete_endpoint(State(s): Shared, Path((id, name)): Path<(String, String)>) -> ApiResult {
    let out = mutate(&s, move |st| st.delete_endpoint(&id, &name)).await?;
    ok(StatusCode::ACCEPTED, out)
}

// ---- data plane ---------------------------------------------------------------------------

/// The runtime an ARN names, checked against the qualifier.
pub(crate) fn resolve_runtime(
    s: &AppState,
    arn: &str,
    qualifier: Option<&String>,
) -> Result<StoredRuntime, ApiError> {
    let arn: RuntimeArn = arn.parse()?;
    let store = s.store()?;
    let rt = store.by_arn(&arn)?;
    check_qualifier(rt, qualifier)
}

/// The runtime an ARN names or, as InvokeAgentRuntime and InvokeAgentRuntimeCommand allow, a
/// runtime id with the `accountId` query parameter.
fn resolve_runtime_or_id(
    s: &AppState,
    target: &str,
    q: &HashMap<String, String>,
) -> Result<StoredRuntime, ApiError> {
    if target.starts_with("arn:") {
        return resolve_runtime(s, target, q.get("qualifier"));
    }
    let account = q.get("accountId").ok_or_else(|| {
        ApiError::validation(
            "accountId",
            "accountId is required when agentRuntimeArn is a runtime id",
        )
    })?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::validation(
            "accountId",
            "accountId must be 12 digits",
        ));
    }
    let id: agentcore_sdk::RuntimeId = target.parse()?;
    let store = s.store()?;
    let rt = store
        .all()
        .find(|r| {
            r.id == id.as_str()
                && r.arn
                    .parse::<RuntimeArn>()
                    .is_ok_and(|a| a.account() == account)
        })
        .ok_or_else(|| {
            ApiError::not_found(format!("Agent runtime {id} not found in account {account}"))
        })?;
    check_qualifier(rt, q.get("qualifier"))
}

fn check_qualifier(
    rt: &StoredRuntime,
    qualifier: Option<&String>,
) -> Result<StoredRuntime, ApiError> {
    if let Some(q) = qualifier
        && !rt.endpoints.contains_key(q)
    {
        return Err(ApiError::not_found(format!(
            "Endpoint {q} not found for {}",
            rt.arn
        )));
    }
    Ok(rt.clone())
}

/// The session id from the header or query (validated), or a new one.
pub(crate) fn session_id(
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    required: bool,
) -> Result<String, ApiError> {
    let raw = headers
        .get(SESSION_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            query
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(SESSION_ID_HEADER))
                .map(|(_, v)| v.clone())
        });
    match raw {
        Some(id) => Ok(id.parse::<SessionId>()?.into_string()),
        None if required => Err(ApiError::validation(
            "runtimeSessionId",
            "runtimeSessionId is required",
        )),
        None => Ok(SessionId::generate().into_string()),
    }
}

fn with_session_header(mut resp: Response, session_id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(session_id) {
        resp.headers_mut().insert(SESSION_ID_HEADER, v);
    }
    if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}

#[derive(serde::Deserialize)]
struct CommandBody {
    command: String,
    timeout: Option<i64>,
}

async fn run_command(
    State(s): Shared,
    Path(arn): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let body: CommandBody = parse_json(&body)?;
    if body.command.is_empty() || body.command.len() > 65_536 {
        return Err(ApiError::validation(
            "command",
            "command must be 1 to 65536 bytes",
        ));
    }
    let timeout = body.timeout.unwrap_or(300);
    if !(1..=3600).contains(&timeout) {
        return Err(ApiError::validation(
            "timeout",
            "timeout must be between 1 and 3600 seconds",
        ));
    }
    let rt = resolve_runtime_or_id(&s, &arn, &q)?;
    let sid = session_id(&headers, &q, false)?;
    let session = start_session(&s, &rt, &sid).await?;
    let rx = command::spawn(session, body.command, Duration::from_secs(timeout as u64))
        .await
        .map_err(|e| {
            ApiError::new(
                ServiceErrorKind::RuntimeClient,
                format!("cannot start bash: {e}"),
            )
        })?;
    let stream = tokio_stream_from(rx);
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/vnd.amazon.eventstream"),
    );
    Ok(with_session_header(resp, &sid))
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Bytes>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx).map(|o| o.map(Ok)))
}

async fn invoke(
    State(s): Shared,
    Path(arn): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let rt = resolve_runtime_or_id(&s, &arn, &q)?;
    let sid = session_id(&headers, &q, false)?;
    let session = start_session(&s, &rt, &sid).await?;
    let spec = agent::resolve(&s.agents, &rt).cloned();
    let allowlist: Vec<String> = rt
        .latest()
        .input
        .request_header_configuration
        .as_ref()
        .map(|c| c.allowlist().to_vec())
        .unwrap_or_default();
    let endpoint = s.session_endpoints.url_for(&rt, &session, &headers);
    let target = agent::AgentTarget::of(&rt);
    let mut resp = agent::invoke(session, spec, headers, &allowlist, &target, body).await?;
    if let Some(url) = endpoint.and_then(|u| HeaderValue::from_str(&u).ok()) {
        resp.headers_mut()
            .insert(crate::session_endpoint::HEADER, url);
    }
    Ok(with_session_header(resp, &sid))
}

async fn stop_session(
    State(s): Shared,
    Path(arn): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let rt = resolve_runtime(&s, &arn, q.get("qualifier"))?;
    let sid = session_id(&headers, &q, true)?;
    let body: Value = parse_json(&body)?;
    // The model's rule (33 to 256 of `[a-zA-Z0-9-]`, starting and ending alphanumeric): a
    // token is remembered, so nothing else is.
    let token = match body.get("clientToken") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(t.parse::<agentcore_sdk::types::ClientToken>()?),
        Some(_) => {
            return Err(ApiError::validation(
                "clientToken",
                "1 validation error detected: Value at 'clientToken' failed to satisfy constraint: Member must be a string",
            ));
        }
    };
    let token = token.as_ref().map(|t| t.as_str());
    // Answered once every process of the session is gone: a stop that was acknowledged
    // leaves nothing running. As the service: a session that is not running (never
    // started, or stopped already) is not found, unless this is a retry of the stop that
    // stopped it (same clientToken).
    let key = SessionKey {
        runtime_id: rt.id.clone(),
        session_id: sid.clone(),
    };
    if !s.sessions.stop_requested(&key, token).await {
        return Err(ApiError::not_found(format!(
            "Session {sid} not found or already terminated"
        )));
    }
    let resp = (StatusCode::OK, Json(json!({}))).into_response();
    Ok(with_session_header(resp, &sid))
}
