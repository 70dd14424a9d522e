//! Session endpoints: for a runtime with `allowedPorts`, InvokeAgentRuntime answers with an
//! `X-Amzn-Bedrock-AgentCore-Runtime-Session-Endpoint-Url` header, a URL addressing that one
//! session, through which method, path, query, body and WebSocket upgrades reach servers
//! listening on those ports inside the session.
//!
//! The URL is `{scheme}://{host}/session-endpoints/{token}` with a random token per session
//! sandbox; a request selects its port with the next path segment:
//! `{url}/{port}{path}?{query}` (the SDK's `SessionEndpoint::request_url` is the one place
//! that mapping is written; AWS's documentation does not say how the service's own URLs
//! select a port, see docs/PROTOCOL.md).
//!
//! Requests reach the sandbox's own external address (e.g. `10.0.2.100` with
//! `slirp4netns`) from inside its network namespace, so, as on the service, a server bound
//! to `0.0.0.0` answers and one bound to `127.0.0.1` does not (502). A sandbox without such
//! an address — no network helper, `none` or `host` network, no sandbox at all — gets no
//! session endpoint: the header is left out, as the service leaves it out when direct access
//! is not available for a session.
//!
//! Answers of the endpoint itself: a port outside `allowedPorts` is 403 with
//! `x-amzn-errortype: AccessDenied` and an empty body; a session that is not running (or a
//! token never given out) 404; nothing listening 502 with a message. With
//! `--verify-sigv4`, requests are verified like every other route (SigV4, or a bearer token
//! in `Authorization`), failures answered 401 `AuthenticationRequired` / 403 `AccessDenied`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use axum::body::Body;
use axum::extract::{OriginalUri, Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use crate::server::AppState;
use crate::sessions::{SessionKey, SessionState};
use crate::store::StoredRuntime;

/// The response header that carries the URL.
pub const HEADER: &str = "x-amzn-bedrock-agentcore-runtime-session-endpoint-url";

/// The path prefix of session endpoint URLs.
pub const PREFIX: &str = "/session-endpoints/";

struct Entry {
    key: SessionKey,
    session: Weak<SessionState>,
}

/// The session endpoints a server gave out.
pub struct SessionEndpoints {
    scheme: &'static str,
    tokens: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for SessionEndpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionEndpoints")
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl SessionEndpoints {
    /// Endpoints of a server that speaks `https` when `tls`.
    pub fn new(tls: bool) -> Self {
        Self {
            scheme: if tls { "https" } else { "http" },
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// The URL of `session`'s endpoint as seen by a client that called `host`, when its
    /// runtime has allowed ports and its sandbox an address of its own.
    pub fn url_for(
        &self,
        runtime: &StoredRuntime,
        session: &Arc<SessionState>,
        headers: &HeaderMap,
    ) -> Option<String> {
        if allowed_ports(runtime).is_empty() || session.sandbox.external_address().is_none() {
            return None;
        }
        let host = headers.get("host").and_then(|h| h.to_str().ok())?;
        let mut tokens = self.tokens.lock().ok()?;
        // Entries of sandboxes that are gone go too.
        tokens.retain(|_, e| e.session.strong_count() > 0);
        let existing = tokens
            .iter()
            .find(|(_, e)| {
                e.session
                    .upgrade()
                    .is_some_and(|s| Arc::ptr_eq(&s, session))
            })
            .map(|(t, _)| t.clone());
        let token = existing.unwrap_or_else(|| {
            let t = uuid::Uuid::new_v4().simple().to_string();
            tokens.insert(
                t.clone(),
                Entry {
                    key: session.key.clone(),
                    session: Arc::downgrade(session),
                },
            );
            t
        });
        Some(format!("{}://{host}{PREFIX}{token}", self.scheme))
    }

    fn lookup(&self, token: &str) -> Option<(SessionKey, Arc<SessionState>)> {
        let tokens = self.tokens.lock().ok()?;
        let e = tokens.get(token)?;
        let s = e.session.upgrade()?;
        (!s.stopped.is_cancelled()).then(|| (e.key.clone(), s))
    }
}

/// The ports a runtime's latest version allows (empty without `allowedPorts`).
pub fn allowed_ports(runtime: &StoredRuntime) -> Vec<(u16, u16)> {
    use agentcore_sdk::control::AllowedPort;
    runtime
        .latest()
        .input
        .allowed_ports
        .iter()
        .flatten()
        .filter_map(|p| match p {
            AllowedPort::Port(p) => Some((*p, *p)),
            AllowedPort::PortRange(r) => Some((r.from, r.to)),
            _ => None,
        })
        .collect()
}

/// An answer of the endpoint itself: `status`, the error code in `x-amzn-errortype`, and
/// a body only when there is something to say.
fn refuse(status: StatusCode, code: &'static str, message: Option<String>) -> Response {
    let mut resp = match message {
        Some(m) => (status, axum::Json(serde_json::json!({ "message": m }))).into_response(),
        None => status.into_response(),
    };
    resp.headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(code));
    resp
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) and the endpoint's own credentials: not passed on.
fn forwarded(name: &HeaderName) -> bool {
    !matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "authorization"
            | "x-amz-date"
            | "x-amz-security-token"
            | "x-amz-content-sha256"
    )
}

/// `ANY /session-endpoints/{token}/{port}[/{*rest}]`.
pub async fn proxy(
    State(s): State<Arc<AppState>>,
    Path(params): Path<HashMap<String, String>>,
    mut req: Request,
) -> Response {
    let token = params.get("token").map(String::as_str).unwrap_or_default();
    let Some((key, session)) = s.session_endpoints.lookup(token) else {
        return refuse(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            Some("no running session has this session endpoint".into()),
        );
    };
    let runtime = match s.store.lock() {
        Ok(store) => store.get(&key.runtime_id).ok().cloned(),
        Err(_) => None,
    };
    let Some(runtime) = runtime else {
        return refuse(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            Some("the runtime of this session is gone".into()),
        );
    };
    let port = params.get("port").and_then(|p| p.parse::<u16>().ok());
    let allowed = port.filter(|p| {
        allowed_ports(&runtime)
            .iter()
            .any(|(from, to)| (from..=to).contains(&p))
    });
    let Some(port) = allowed else {
        return refuse(StatusCode::FORBIDDEN, "AccessDenied", None);
    };
    let Some(addr) = session.sandbox.external_address() else {
        return refuse(
            StatusCode::BAD_GATEWAY,
            "BadGateway",
            Some("the session has no network address of its own".into()),
        );
    };
    // The path as the client sent it (the router trims a trailing slash).
    let uri = req
        .extensions()
        .get::<OriginalUri>()
        .map(|o| o.0.clone())
        .unwrap_or_else(|| req.uri().clone());
    let prefix = format!("{PREFIX}{token}/{port}");
    let rest = uri.path().strip_prefix(&prefix).unwrap_or("/");
    let path = if rest.is_empty() { "/" } else { rest };
    let target = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    let stream = match session.sandbox.connect_to(addr, port).await {
        Ok(s) => s,
        Err(e) => {
            return refuse(
                StatusCode::BAD_GATEWAY,
                "BadGateway",
                Some(format!(
                    "nothing answers on port {port} of the session ({e}): its server must \
                     listen on 0.0.0.0 (one bound to 127.0.0.1 is not reachable from outside)"
                )),
            );
        }
    };
    let busy = session.busy();
    let upgrade = req
        .headers()
        .get("upgrade")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut out = http::Request::builder()
        .method(req.method().clone())
        .uri(&target)
        .header("host", format!("localhost:{port}"));
    for (name, value) in req.headers() {
        if forwarded(name) {
            out = out.header(name, value);
        }
    }
    if let Some(u) = &upgrade {
        out = out
            .header("connection", "upgrade")
            .header("upgrade", u.as_str());
    }
    let client_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));
    let body = req.into_body();
    let out = match out.body(body) {
        Ok(r) => r,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "ValidationException",
                Some(format!("cannot forward the request: {e}")),
            );
        }
    };
    let (mut sender, conn) =
        match hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await {
            Ok(v) => v,
            Err(e) => {
                return refuse(
                    StatusCode::BAD_GATEWAY,
                    "BadGateway",
                    Some(format!("the session's server failed: {e}")),
                );
            }
        };
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let resp = match sender.send_request(out).await {
        Ok(r) => r,
        Err(e) => {
            return refuse(
                StatusCode::BAD_GATEWAY,
                "BadGateway",
                Some(format!("the session's server failed: {e}")),
            );
        }
    };
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_upgrade) = client_upgrade else {
            return refuse(
                StatusCode::BAD_GATEWAY,
                "BadGateway",
                Some("the session's server switched protocols unasked".into()),
            );
        };
        let mut back = Response::builder().status(StatusCode::SWITCHING_PROTOCOLS);
        for (name, value) in resp.headers() {
            back = back.header(name, value);
        }
        let stopped = session.stopped.clone();
        tokio::spawn(async move {
            let _busy = busy;
            let server = hyper::upgrade::on(resp).await;
            let client = client_upgrade.await;
            if let (Ok(server), Ok(client)) = (server, client) {
                let mut server = hyper_util::rt::TokioIo::new(server);
                let mut client = hyper_util::rt::TokioIo::new(client);
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    () = stopped.cancelled() => {}
                }
            }
        });
        return back
            .body(Body::empty())
            .unwrap_or_else(|_| refuse(StatusCode::BAD_GATEWAY, "BadGateway", None));
    }
    let (parts, body) = resp.into_parts();
    // The session stays busy while the answer streams.
    let body = body.map_frame(move |f| {
        let _ = &busy;
        f
    });
    let mut back = Response::new(Body::new(body));
    *back.status_mut() = parts.status;
    for (name, value) in &parts.headers {
        if forwarded(name) {
            back.headers_mut().append(name, value.clone());
        }
    }
    back
}
