//! A local preview proxy: one call opens a listener on 127.0.0.1 that a browser uses with no
//! credentials; every request and WebSocket upgrade it gets is signed (SigV4, or a bearer
//! token) and sent through the session's endpoint to a port of the session — so a dev
//! server with hot reload in the session works in a local browser.
//!
//! ```no_run
//! # async fn f(session: agentcore_sdk::Session) -> Result<(), agentcore_sdk::Error> {
//! session.invoke("{}").send().await?.bytes().await?; // brings the session's endpoint
//! let preview = session.preview(8000).start().await?;
//! println!("preview: {}", preview.url());
//! tokio::signal::ctrl_c().await.ok();
//! preview.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! It only answers requests whose `Host` is its own address (`127.0.0.1:PORT`,
//! `localhost:PORT`, `[::1]:PORT`, or hosts added with
//! [`allow_host`](PreviewBuilder::allow_host)) and whose `Origin`, when sent, is one of them:
//! a web page elsewhere cannot reach it through DNS rebinding or a cross-site WebSocket.
//! With [`require_token`](PreviewBuilder::require_token) it also wants a token: the URL it
//! prints carries it once, the proxy trades it for a cookie (`HttpOnly`, `SameSite=Strict`)
//! and redirects to the same page without it.

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use tokio_util::sync::CancellationToken;

use crate::data::endpoint::{authorize, check_port, dial};
use crate::data::{EndpointAuth, SessionEndpoint};
use crate::error::Error;
use crate::session::Session;

/// The cookie that carries the token once the browser presented it.
const COOKIE: &str = "agentcore_preview_token";
/// The query parameter that presents the token.
const QUERY: &str = "agentcore_preview_token";

type Body = BoxBody<Bytes, std::io::Error>;

fn full(status: StatusCode, text: impl Into<String>) -> Response<Body> {
    let mut r = Response::new(
        Full::new(Bytes::from(text.into()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Opens a preview; see [`Session::preview`].
#[must_use = "call .start().await"]
#[derive(Clone)]
pub struct PreviewBuilder {
    session: Session,
    port: u16,
    listen: SocketAddr,
    token: Option<String>,
    auth: EndpointAuth,
    hosts: Vec<String>,
    max_body: usize,
}

impl fmt::Debug for PreviewBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreviewBuilder")
            .field("port", &self.port)
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "** redacted **"))
            .field("auth", &self.auth)
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

impl PreviewBuilder {
    /// Where to listen (default `127.0.0.1:0`: a free port on loopback).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Wants a token from the browser (a random one, in [`Preview::url`]).
    pub fn require_token(mut self, require: bool) -> Self {
        self.token = require.then(|| uuid::Uuid::new_v4().simple().to_string());
        self
    }

    /// Wants this token from the browser.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// How requests are authorised on their way to the session (default SigV4).
    pub fn auth(mut self, auth: EndpointAuth) -> Self {
        self.auth = auth;
        self
    }

    /// Also answers requests for this `Host` (e.g. `preview.localhost:8080`).
    pub fn allow_host(mut self, host: impl Into<String>) -> Self {
        self.hosts.push(host.into().to_ascii_lowercase());
        self
    }

    /// The largest request body passed on (default 32 MiB; SigV4 signs the payload, so a
    /// body is read whole before it is sent).
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.max_body = n;
        self
    }

    /// Starts listening. Fails with [`Error::NoSessionEndpoint`] when the session has no
    /// endpoint yet (invoke it first; the runtime needs `allowedPorts`), and for a port
    /// outside 8000–12000.
    ///
    /// Dropping the future before it returns closes the listener.
    pub async fn start(self) -> Result<Preview, Error> {
        check_port(self.port)?;
        if let Some(t) = &self.token {
            if t.is_empty()
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(Error::invalid(
                    "token",
                    "must be 1 or more of A-Z a-z 0-9 - _",
                ));
            }
        }
        if self.session.endpoint().is_none() {
            return Err(Error::NoSessionEndpoint {
                reason: "no invocation of this session returned one (the runtime needs \
                         allowedPorts; invoke the session first)"
                    .into(),
            });
        }
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .map_err(|e| Error::local_io(self.listen, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::local_io(self.listen, e))?;
        let mut hosts = self.hosts.clone();
        let port = addr.port();
        hosts.extend([
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ]);
        if !addr.ip().is_unspecified() {
            hosts.push(addr.to_string());
        }
        let shared = Arc::new(Shared {
            session: self.session,
            port: self.port,
            token: self.token.clone(),
            auth: self.auth,
            hosts,
            max_body: self.max_body,
        });
        let stop = CancellationToken::new();
        let task = tokio::spawn(serve(listener, shared, stop.clone()));
        let host = if addr.ip().is_unspecified() || addr.ip().is_loopback() {
            format!("127.0.0.1:{port}")
        } else {
            addr.to_string()
        };
        let url = match &self.token {
            Some(t) => format!("http://{host}/?{QUERY}={t}"),
            None => format!("http://{host}/"),
        };
        Ok(Preview {
            addr,
            url,
            token: self.token,
            stop,
            task: Some(task),
        })
    }
}

/// A running preview proxy. Dropping it stops it (connections in progress end).
pub struct Preview {
    addr: SocketAddr,
    url: String,
    token: Option<String>,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl fmt::Debug for Preview {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Preview")
            .field("addr", &self.addr)
            .field("token", &self.token.as_ref().map(|_| "** redacted **"))
            .finish_non_exhaustive()
    }
}

impl Preview {
    /// The URL to open in a browser (`http://127.0.0.1:PORT/`, with the token when one is
    /// required — treat it as a secret then).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token it wants, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Stops listening and ends the connections in progress.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Preview {
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

struct Shared {
    session: Session,
    port: u16,
    token: Option<String>,
    auth: EndpointAuth,
    hosts: Vec<String>,
    max_body: usize,
}

async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>, stop: CancellationToken) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = stop.cancelled() => break,
        };
        let Ok((stream, _)) = accepted else { continue };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let stop = stop.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                let stop = stop.clone();
                async move { Ok::<_, Infallible>(handle(req, shared, stop).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .with_upgrades();
            let _ = conn.await;
        });
        // Finished connections are reaped as they end.
        while connections.try_join_next().is_some() {}
    }
    connections.abort_all();
}

/// The host part of an `Origin` (`http://127.0.0.1:1234` → `127.0.0.1:1234`).
fn origin_host(origin: &str) -> Option<String> {
    let url = url::Url::parse(origin).ok()?;
    let host = url.host_str()?;
    let port = url.port_or_known_default()?;
    Some(if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

fn has_token(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .any(|(k, v)| k == COOKIE && constant_eq(v, token))
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Hop-by-hop headers (RFC 9110 §7.6.1), and what this proxy sets itself.
fn passed_on(name: &http::HeaderName) -> bool {
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
            | "content-length"
    )
}

/// The `Cookie` header without the proxy's own cookie (the session's server never sees it).
fn strip_cookie(headers: &mut HeaderMap) {
    let kept: Vec<String> = headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|c| !c.starts_with(&format!("{COOKIE}=")) && !c.is_empty())
        .map(str::to_owned)
        .collect();
    headers.remove(http::header::COOKIE);
    if !kept.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&kept.join("; ")) {
            headers.insert(http::header::COOKIE, v);
        }
    }
}

async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
    stop: CancellationToken,
) -> Response<Body> {
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if !shared.hosts.contains(&host) {
        return full(
            StatusCode::FORBIDDEN,
            format!("the preview proxy answers only for its own address, not Host {host:?}\n"),
        );
    }
    if let Some(origin) = req.headers().get(http::header::ORIGIN) {
        let ok = origin
            .to_str()
            .ok()
            .and_then(origin_host)
            .is_some_and(|o| shared.hosts.contains(&o.to_ascii_lowercase()));
        if !ok {
            return full(StatusCode::FORBIDDEN, "cross-origin requests are refused\n");
        }
    }
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    if let Some(token) = &shared.token {
        let presented = req.uri().query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == QUERY)
                .map(|(_, v)| v.into_owned())
        });
        match presented {
            Some(t) if constant_eq(&t, token) => {
                // Trade it for a cookie and show the page without it in the address bar.
                let rest: Vec<(String, String)> = req
                    .uri()
                    .query()
                    .map(|q| {
                        url::form_urlencoded::parse(q.as_bytes())
                            .filter(|(k, _)| k != QUERY)
                            .map(|(k, v)| (k.into_owned(), v.into_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                let mut location = req.uri().path().to_owned();
                if !rest.is_empty() {
                    location.push('?');
                    location.push_str(
                        &url::form_urlencoded::Serializer::new(String::new())
                            .extend_pairs(rest)
                            .finish(),
                    );
                }
                let mut r = full(StatusCode::FOUND, "");
                if let (Ok(loc), Ok(cookie)) = (
                    HeaderValue::from_str(&location),
                    HeaderValue::from_str(&format!(
                        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
                    )),
                ) {
                    r.headers_mut().insert(http::header::LOCATION, loc);
                    r.headers_mut().insert(http::header::SET_COOKIE, cookie);
                }
                return r;
            }
            Some(_) => return full(StatusCode::UNAUTHORIZED, "wrong preview token\n"),
            None if !has_token(req.headers(), token) => {
                return full(
                    StatusCode::UNAUTHORIZED,
                    "this preview wants its token: open the URL it printed\n",
                );
            }
            None => {}
        }
    }
    let Some(endpoint) = shared.session.endpoint() else {
        return full(
            StatusCode::BAD_GATEWAY,
            "the session has no session endpoint (invoke it first; its runtime needs allowedPorts)\n",
        );
    };
    let upgrade = req
        .headers()
        .get(http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if upgrade {
        return websocket(req, shared, endpoint, &path_and_query, stop).await;
    }
    match forward(req, &shared, &endpoint, &path_and_query).await {
        Ok(r) => r,
        Err(e) => {
            let status = e
                .as_service()
                .and_then(|s| s.status())
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::BAD_GATEWAY);
            full(status, format!("preview proxy: {e}\n"))
        }
    }
}

async fn forward(
    req: Request<Incoming>,
    shared: &Shared,
    endpoint: &SessionEndpoint,
    path_and_query: &str,
) -> Result<Response<Body>, Error> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, shared.max_body).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(full(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request bodies are limited to {} bytes\n", shared.max_body),
            ));
        }
    };
    let mut headers = HeaderMap::new();
    for (name, value) in &parts.headers {
        if passed_on(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    strip_cookie(&mut headers);
    let url = endpoint.request_url(shared.port, path_and_query)?;
    let transport = shared.session.client().transport();
    authorize(
        transport,
        &shared.auth,
        parts.method.as_str(),
        url.as_str(),
        &mut headers,
        &body,
    )
    .await?;
    let timeouts = transport.timeouts();
    let sent = transport
        .config
        .inner
        .http
        .request(parts.method, url.as_str())
        .headers(headers)
        .body(body)
        .send();
    let resp = tokio::time::timeout(timeouts.get_operation(), sent)
        .await
        .map_err(|_| Error::Timeout {
            operation: "InvokeAgentRuntimeProxy",
            after: timeouts.get_operation(),
        })?
        .map_err(|e| Error::transport("InvokeAgentRuntimeProxy", e))?;
    let resp = crate::data::endpoint::into_response(resp, timeouts.get_read_idle()).await?;
    let mut out_headers = HeaderMap::new();
    for (name, value) in resp.headers() {
        if passed_on(name) {
            out_headers.append(name.clone(), value.clone());
        }
    }
    let status = StatusCode::from_u16(resp.status()).unwrap_or(StatusCode::BAD_GATEWAY);
    let stream = resp.into_stream().map(|chunk| {
        chunk
            .map(Frame::data)
            .map_err(|e| std::io::Error::other(e.to_string()))
    });
    let mut out = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    *out.status_mut() = status;
    *out.headers_mut() = out_headers;
    Ok(out)
}

async fn websocket(
    mut req: Request<Incoming>,
    shared: Arc<Shared>,
    endpoint: SessionEndpoint,
    path_and_query: &str,
    stop: CancellationToken,
) -> Response<Body> {
    use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
    use tokio_tungstenite::tungstenite::protocol::Role;
    let Some(key) = req
        .headers()
        .get(http::header::SEC_WEBSOCKET_KEY)
        .map(|k| k.as_bytes().to_vec())
    else {
        return full(
            StatusCode::BAD_REQUEST,
            "a WebSocket upgrade without a key\n",
        );
    };
    let mut extra = Vec::new();
    if let Some(p) = req.headers().get(http::header::SEC_WEBSOCKET_PROTOCOL) {
        extra.push((http::header::SEC_WEBSOCKET_PROTOCOL, p.clone()));
    }
    let transport = shared.session.client().transport();
    let dialed = dial(
        transport,
        Some(&endpoint),
        &shared.auth,
        shared.port,
        path_and_query,
        extra,
    )
    .await;
    let (upstream, upstream_headers) = match dialed {
        Ok(v) => v,
        Err(e) => {
            let status = e
                .as_service()
                .and_then(|s| s.status())
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::BAD_GATEWAY);
            return full(status, format!("preview proxy: {e}\n"));
        }
    };
    let browser = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = browser.await else { return };
        let browser = tokio_tungstenite::WebSocketStream::from_raw_socket(
            hyper_util::rt::TokioIo::new(upgraded),
            Role::Server,
            None,
        )
        .await;
        let (mut to_browser, mut from_browser) = browser.split();
        let (mut to_upstream, mut from_upstream) = upstream.split();
        let up = async {
            while let Some(Ok(m)) = from_browser.next().await {
                if to_upstream.send(m).await.is_err() {
                    break;
                }
            }
            let _ = to_upstream.close().await;
        };
        let down = async {
            while let Some(Ok(m)) = from_upstream.next().await {
                if to_browser.send(m).await.is_err() {
                    break;
                }
            }
            let _ = to_browser.close().await;
        };
        tokio::select! {
            () = up => {}
            () = down => {}
            () = stop.cancelled() => {}
        }
    });
    let mut r = full(StatusCode::SWITCHING_PROTOCOLS, "");
    let h = r.headers_mut();
    h.remove(http::header::CONTENT_TYPE);
    h.insert(http::header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(
        http::header::CONNECTION,
        HeaderValue::from_static("Upgrade"),
    );
    if let Ok(v) = HeaderValue::from_str(&derive_accept_key(&key)) {
        h.insert(http::header::SEC_WEBSOCKET_ACCEPT, v);
    }
    if let Some(p) = upstream_headers.get(http::header::SEC_WEBSOCKET_PROTOCOL) {
        h.insert(http::header::SEC_WEBSOCKET_PROTOCOL, p.clone());
    }
    r
}

/// The local preview proxy of a session.
impl Session {
    /// A local preview of `port` of this session (8000–12000, one of its runtime's
    /// `allowedPorts`); finish with `.start().await`. See [`preview`](crate::preview).
    pub fn preview(&self, port: u16) -> PreviewBuilder {
        PreviewBuilder {
            session: self.clone(),
            port,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: None,
            auth: EndpointAuth::SigV4,
            hosts: Vec::new(),
            max_body: 32 << 20,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_cookies() {
        assert_eq!(
            origin_host("http://127.0.0.1:8080").as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(
            origin_host("http://localhost").as_deref(),
            Some("localhost:80")
        );
        assert_eq!(origin_host("null"), None);
        let mut h = HeaderMap::new();
        h.insert(
            http::header::COOKIE,
            HeaderValue::from_static("a=1; agentcore_preview_token=t0k; b=2"),
        );
        assert!(has_token(&h, "t0k"));
        assert!(!has_token(&h, "t0j"));
        strip_cookie(&mut h);
        assert_eq!(h.get(http::header::COOKIE).unwrap(), "a=1; b=2");
    }
}
