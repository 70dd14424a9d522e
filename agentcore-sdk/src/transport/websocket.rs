//! WebSocket connections of the data plane — a shell (`/runtimes/{arn}/ws/shells`) or the
//! agent itself (`/runtimes/{arn}/ws`) — and how their upgrade is authorised: SigV4-signed
//! upgrade headers, a presigned URL (query-string SigV4), or an OAuth bearer token sent as a
//! WebSocket subprotocol.

use std::fmt;
use std::time::{Duration, SystemTime};

use base64::Engine;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use url::Url;

use super::signing;
use crate::config::{Config, TimeoutConfig};
use crate::error::{Error, service_error_from_response};
use crate::types::headers::{SESSION_ID_HEADER, SESSION_ID_QUERY};
use crate::types::{RuntimeArn, SessionId, ShellId};

/// A boxed future that is `Send` and `Sync` (what the public futures that await it need to be
/// `Sync` too).
pub(crate) type SyncBoxFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + Sync + 'a>>;

/// A WebSocket of the data plane over TCP or TLS.
pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// WebSocket subprotocol prefix carrying a base64url bearer token.
pub const BEARER_PROTOCOL: &str = "base64UrlBearerAuthorization";
/// The largest encoded bearer token.
pub const MAX_BEARER_LEN: usize = 4096;

/// How a WebSocket upgrade — of a shell ([`ShellBuilder::auth`](crate::shell::ShellBuilder::auth))
/// or of an agent socket ([`AgentSocketBuilder::auth`](crate::data::AgentSocketBuilder::auth))
/// — is authorised. (It was called `ShellAuth`, a name kept as a deprecated alias.)
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum WebSocketAuth {
    /// SigV4-signed upgrade request headers (default).
    #[default]
    SigV4,
    /// A SigV4 presigned URL (query-string auth) valid for `expires` (at most 300 s).
    Presigned {
        /// Validity of the URL.
        expires: Duration,
    },
    /// An OAuth bearer token, sent as the `base64UrlBearerAuthorization.<token>` subprotocol.
    Bearer(String),
}

impl fmt::Debug for WebSocketAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SigV4 => f.write_str("SigV4"),
            Self::Presigned { expires } => f
                .debug_struct("Presigned")
                .field("expires", expires)
                .finish(),
            Self::Bearer(_) => f.write_str("Bearer(** redacted **)"),
        }
    }
}

impl WebSocketAuth {
    /// Checks what can be checked before connecting: the presigned expiry, the token's size.
    pub(crate) fn check(&self) -> Result<(), Error> {
        match self {
            Self::Presigned { expires } => check_expiry(*expires),
            Self::Bearer(t) => bearer_protocol(t).map(drop),
            Self::SigV4 => Ok(()),
        }
    }
}

/// Everything needed to (re)open the same WebSocket.
#[derive(Debug, Clone)]
pub(crate) struct WsTarget {
    pub(crate) config: Config,
    pub(crate) arn: RuntimeArn,
    pub(crate) session_id: SessionId,
    /// `Some` for a shell (`/ws/shells?shellId=…`), `None` for the agent's socket (`/ws`).
    pub(crate) shell_id: Option<ShellId>,
    pub(crate) qualifier: String,
    pub(crate) auth: WebSocketAuth,
    /// The call's timeouts: `operation` bounds the TCP + TLS + upgrade of one attempt,
    /// `credentials` the wait for credentials.
    pub(crate) timeouts: TimeoutConfig,
}

impl WsTarget {
    fn operation(&self) -> &'static str {
        match self.shell_id {
            Some(_) => "InvokeAgentRuntimeCommandShell",
            None => "InvokeAgentRuntimeWebSocket",
        }
    }

    /// The URL (`wss://…/runtimes/{arn}/ws[/shells]?qualifier=…[&shellId=…]`), without auth.
    fn url(&self, session_in_query: bool) -> Result<Url, Error> {
        let base = self.config.data_endpoint().clone();
        let suffix = match self.shell_id {
            Some(_) => "ws/shells",
            None => "ws",
        };
        let path = format!(
            "{}/runtimes/{}/{suffix}",
            base.path().trim_end_matches('/'),
            self.arn.path_segment()
        );
        let mut url = base;
        let scheme = if url.scheme() == "http" { "ws" } else { "wss" };
        url.set_scheme(scheme).map_err(|_| {
            Error::Config("cannot turn the data endpoint into a WebSocket URL".into())
        })?;
        url.set_path(&path);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("qualifier", &self.qualifier);
            if let Some(id) = &self.shell_id {
                q.append_pair("shellId", id.as_str());
            }
            if session_in_query {
                q.append_pair(SESSION_ID_QUERY, self.session_id.as_str());
            }
        }
        Ok(url)
    }
}

/// The same URL with the `http(s)` scheme, which is what SigV4 signs.
pub(crate) fn as_http(url: &Url) -> String {
    let s = url.as_str();
    match url.scheme() {
        "wss" => format!("https{}", s.get(3..).unwrap_or_default()),
        "ws" => format!("http{}", s.get(2..).unwrap_or_default()),
        _ => s.to_owned(),
    }
}

pub(crate) fn host_value(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => String::new(),
    }
}

/// Presigns the URL of `target` for `expires` (≤ 300 s).
pub(crate) async fn presign(target: &WsTarget, expires: Duration) -> Result<Url, Error> {
    let url = target.url(true)?;
    let cfg = &target.config.inner;
    let creds = signing::credentials(cfg, &target.timeouts)
        .await?
        .ok_or_else(|| Error::Credentials {
            message: "presigned WebSocket URLs need credentials".into(),
            source: None,
        })?;
    let http_url = Url::parse(&as_http(&url)).map_err(|e| Error::Config(e.to_string()))?;
    let host = host_value(&http_url);
    let mut signed = signing::presign_url(
        &creds,
        &cfg.region,
        &http_url,
        &[("host", host.as_str())],
        expires,
        SystemTime::now(),
    )?;
    let _ = signed.set_scheme(url.scheme());
    Ok(signed)
}

pub(crate) fn check_expiry(expires: Duration) -> Result<(), Error> {
    if expires.is_zero() || expires > Duration::from_secs(300) {
        return Err(Error::invalid(
            "expires",
            format!("presigned shell URLs expire after 1 to 300 s, got {expires:?}"),
        ));
    }
    Ok(())
}

pub(crate) fn bearer_protocol(token: &str) -> Result<String, Error> {
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token.as_bytes());
    if token.is_empty() || encoded.len() > MAX_BEARER_LEN {
        return Err(Error::invalid(
            "bearerToken",
            format!(
                "must be non-empty and at most {MAX_BEARER_LEN} characters once base64url-encoded"
            ),
        ));
    }
    Ok(format!("{BEARER_PROTOCOL}.{encoded}, {BEARER_PROTOCOL}"))
}

/// How a refused upgrade (status, headers, body) becomes an error: shells name their IAM
/// action and limits, agent sockets report the service error as is.
pub(crate) type RefusedUpgrade = fn(u16, &http::HeaderMap, &[u8]) -> Error;

/// A refused upgrade reported as the service error it carries.
pub(crate) fn service_refusal(status: u16, headers: &http::HeaderMap, body: &[u8]) -> Error {
    service_error_from_response(status, headers, body).into()
}

/// Opens the WebSocket of `target` with its auth (SigV4-signed upgrade headers, a presigned
/// URL, or a bearer token), adding `extra` headers: the connection and the upgrade
/// response's headers. The TCP + TLS + upgrade take at most the operation timeout.
pub(crate) fn dial<'a>(
    target: &'a WsTarget,
    extra: Vec<(http::HeaderName, http::HeaderValue)>,
    refused: RefusedUpgrade,
) -> SyncBoxFuture<'a, Result<(Ws, http::HeaderMap), Error>> {
    Box::pin(async move {
        let op = target.operation();
        let (url, auth_headers): (Url, Vec<(String, String)>) = match &target.auth {
            WebSocketAuth::SigV4 => {
                let url = target.url(false)?;
                let mut headers = http::HeaderMap::new();
                let http_url = as_http(&url);
                let parsed = Url::parse(&http_url).map_err(|e| Error::Config(e.to_string()))?;
                headers.insert(
                    http::header::HOST,
                    http::HeaderValue::from_str(&host_value(&parsed))
                        .map_err(|e| Error::Config(e.to_string()))?,
                );
                headers.insert(
                    SESSION_ID_HEADER,
                    http::HeaderValue::from_str(target.session_id.as_str()).map_err(|_| {
                        Error::invalid("runtimeSessionId", "must be a valid header value")
                    })?,
                );
                let cfg = &target.config.inner;
                if let Some(creds) = signing::credentials(cfg, &target.timeouts).await? {
                    signing::sign_headers(
                        &creds,
                        &cfg.region,
                        "GET",
                        &http_url,
                        &mut headers,
                        &[],
                    )?;
                }
                headers.remove(http::header::HOST);
                let pairs = headers
                    .iter()
                    .filter_map(|(k, v)| {
                        v.to_str()
                            .ok()
                            .map(|v| (k.as_str().to_owned(), v.to_owned()))
                    })
                    .collect();
                (url, pairs)
            }
            WebSocketAuth::Presigned { expires } => (presign(target, *expires).await?, Vec::new()),
            WebSocketAuth::Bearer(token) => (
                target.url(true)?,
                vec![("sec-websocket-protocol".to_owned(), bearer_protocol(token)?)],
            ),
        };
        let mut headers = Vec::new();
        for (k, v) in auth_headers {
            let name = http::HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| Error::Config(e.to_string()))?;
            let value =
                http::HeaderValue::from_str(&v).map_err(|e| Error::Config(e.to_string()))?;
            headers.push((name, value));
        }
        headers.extend(extra);
        dial_url(
            &target.config,
            target.timeouts.get_operation(),
            op,
            &url,
            headers,
            refused,
        )
        .await
    })
}

/// Opens a WebSocket to `url` with `headers` (already authorised): TCP, TLS (the
/// configuration's WSS roots) and the upgrade within `timeout`.
pub(crate) async fn dial_url(
    config: &Config,
    timeout: Duration,
    op: &'static str,
    url: &Url,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
    refused: RefusedUpgrade,
) -> Result<(Ws, http::HeaderMap), Error> {
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| Error::Config(format!("invalid WebSocket URL: {e}")))?;
    for (name, value) in headers {
        request.headers_mut().insert(name, value);
    }
    let user_agent = http::HeaderValue::from_str(&config.inner.user_agent)
        .unwrap_or(http::HeaderValue::from_static("agentcore-rs"));
    request
        .headers_mut()
        .insert(http::header::USER_AGENT, user_agent);
    let connector = if url.scheme() == "wss" {
        Connector::Rustls(config.inner.ws_tls.clone())
    } else {
        Connector::Plain
    };
    let connected = tokio::time::timeout(
        timeout,
        tokio_tungstenite::connect_async_tls_with_config(request, None, true, Some(connector)),
    )
    .await
    .map_err(|_| Error::Timeout {
        operation: op,
        after: timeout,
    })?;
    let (ws, response) = match connected {
        Ok(ok) => ok,
        Err(tungstenite::Error::Http(resp)) => {
            let body = resp.body().clone().unwrap_or_default();
            return Err(refused(resp.status().as_u16(), resp.headers(), &body));
        }
        Err(e) => return Err(Error::transport(op, e)),
    };
    Ok((ws, response.headers().clone()))
}
