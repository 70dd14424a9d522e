//! Session endpoints: an authenticated URL that addresses one session, through which HTTP
//! requests and WebSockets reach servers listening (on `0.0.0.0`) on the runtime's
//! `allowedPorts` inside it.
//!
//! The URL is the service's: it arrives in the
//! `X-Amzn-Bedrock-AgentCore-Runtime-Session-Endpoint-Url` header of InvokeAgentRuntime
//! ([`InvokeResponse::session_endpoint`](crate::InvokeResponse::session_endpoint)), and a
//! [`Session`](crate::Session) keeps the latest one it was given
//! ([`Session::endpoint`](crate::Session::endpoint)). It is never built by hand; how a
//! request names its port is [`SessionEndpoint::request_url`], the one place that mapping is
//! written (see docs/PROTOCOL.md for what AWS documents about it, and what it does not).
//!
//! ```no_run
//! # async fn f(session: agentcore_sdk::Session) -> Result<(), agentcore_sdk::Error> {
//! // An invocation hands the session its endpoint (runtimes with allowedPorts).
//! session.invoke("{}").send().await?.bytes().await?;
//! let page = session.endpoint_request(8000, http::Method::GET, "/index.html").send().await?;
//! println!("{} {}", page.status(), String::from_utf8_lossy(&page.bytes().await?));
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use url::Url;

use super::invoke::ByteStream;
use crate::error::{Deferred, Error, service_error_from_response};
use crate::transport::{Transport, signing};

/// The response header that carries a session's endpoint URL.
pub const SESSION_ENDPOINT_URL_HEADER: &str =
    "x-amzn-bedrock-agentcore-runtime-session-endpoint-url";

/// The IAM action a caller needs for requests through session endpoints.
pub const IAM_ACTION: &str = "bedrock-agentcore:InvokeAgentRuntimeProxy";

/// The ports `allowedPorts` may name (the service reserves 8443).
pub const PORTS: std::ops::RangeInclusive<u16> = 8000..=12000;

/// Where a session's latest endpoint is kept (shared by the clones of a `Session`).
pub(crate) type EndpointSlot = Arc<Mutex<Option<SessionEndpoint>>>;

/// A session's endpoint URL, as the service gave it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionEndpoint {
    url: Url,
}

impl SessionEndpoint {
    /// A URL received from the service (e.g. stored from an earlier invocation's
    /// [`session_endpoint`](crate::InvokeResponse::session_endpoint)): `https`, or `http` on
    /// a loopback host (agentcore-local).
    pub fn parse(url: &str) -> Result<Self, Error> {
        let parsed = Url::parse(url).map_err(|e| {
            Error::invalid("sessionEndpointUrl", format!("is not a URL ({e}): {url:?}"))
        })?;
        let loopback = crate::config::is_loopback(&parsed);
        match parsed.scheme() {
            "https" => {}
            "http" if loopback => {}
            other => {
                return Err(Error::invalid(
                    "sessionEndpointUrl",
                    format!("must be https (http only on loopback), got {other}"),
                ));
            }
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(Error::invalid(
                "sessionEndpointUrl",
                "must not have a query or a fragment",
            ));
        }
        Ok(Self { url: parsed })
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The URL of a request to `path_and_query` (`/app.js?v=2`) on `port` of the session.
    ///
    /// **The one place the (URL, port, path) → request mapping is written.** AWS's
    /// documentation says the service checks "access to the requested port" on each
    /// request, but not how a request names it (docs/PROTOCOL.md); this SDK, and
    /// agentcore-local, put the port in the first path segment after the endpoint URL:
    /// `{url}/{port}{path_and_query}`. If the service turns out to select the port
    /// otherwise (a host label, a header), this function is what changes.
    ///
    /// ```
    /// # use agentcore_sdk::data::SessionEndpoint;
    /// let e = SessionEndpoint::parse("https://abc.example.com/s/123")?;
    /// assert_eq!(e.request_url(8000, "/app.js?v=2")?.as_str(), "https://abc.example.com/s/123/8000/app.js?v=2");
    /// # Ok::<(), agentcore_sdk::Error>(())
    /// ```
    pub fn request_url(&self, port: u16, path_and_query: &str) -> Result<Url, Error> {
        check_port(port)?;
        check_path(path_and_query)?;
        let base = self.url.as_str().trim_end_matches('/');
        let text = format!("{base}/{port}{path_and_query}");
        Url::parse(&text).map_err(|e| Error::invalid("path", format!("does not make a URL: {e}")))
    }
}

impl fmt::Debug for SessionEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SessionEndpoint")
            .field(&self.url.as_str())
            .finish()
    }
}

impl fmt::Display for SessionEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.url.as_str())
    }
}

/// A port `allowedPorts` can name.
pub(crate) fn check_port(port: u16) -> Result<(), Error> {
    if !PORTS.contains(&port) || port == 8443 {
        return Err(Error::invalid(
            "port",
            format!("must be 8000 to 12000 but not 8443 (allowedPorts), got {port}"),
        ));
    }
    Ok(())
}

/// A path (and query) of a request: starts with `/`, no spaces or control characters.
pub(crate) fn check_path(path: &str) -> Result<(), Error> {
    if !path.starts_with('/') {
        return Err(Error::invalid(
            "path",
            format!("must start with /, got {path:?}"),
        ));
    }
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) || path.contains('#') {
        return Err(Error::invalid(
            "path",
            "must not contain whitespace, control characters or #",
        ));
    }
    Ok(())
}

/// How requests through a session endpoint are authorised.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum EndpointAuth {
    /// SigV4 with the client's credentials (service `bedrock-agentcore`; IAM action
    /// [`IAM_ACTION`]).
    #[default]
    SigV4,
    /// `Authorization: Bearer <token>`, checked by the runtime's JWT authorizer.
    Bearer(String),
}

impl fmt::Debug for EndpointAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SigV4 => f.write_str("SigV4"),
            Self::Bearer(_) => f.write_str("Bearer(** redacted **)"),
        }
    }
}

/// Adds the authorisation of a request to `url` to `headers`: a bearer token, or a SigV4
/// signature over the host, the content type (when present), the `x-amz-*` headers it adds
/// and the payload.
pub(crate) async fn authorize(
    transport: &Transport,
    auth: &EndpointAuth,
    method: &str,
    url: &str,
    headers: &mut HeaderMap,
    body: &[u8],
) -> Result<(), Error> {
    match auth {
        EndpointAuth::Bearer(token) => {
            let value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| Error::invalid("bearerToken", "must be a valid header value"))?;
            headers.insert(http::header::AUTHORIZATION, value);
            Ok(())
        }
        EndpointAuth::SigV4 => {
            let cfg = &transport.config.inner;
            let timeouts = transport.timeouts();
            let Some(creds) = signing::credentials(cfg, &timeouts).await? else {
                return Ok(());
            };
            let parsed = Url::parse(url).map_err(|e| Error::Config(e.to_string()))?;
            let host = match (parsed.host_str(), parsed.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_owned(),
                _ => String::new(),
            };
            let mut signed = HeaderMap::new();
            signed.insert(
                http::header::HOST,
                HeaderValue::from_str(&host).map_err(|e| Error::Config(e.to_string()))?,
            );
            if let Some(ct) = headers.get(http::header::CONTENT_TYPE) {
                signed.insert(http::header::CONTENT_TYPE, ct.clone());
            }
            signing::sign_headers(&creds, &cfg.region, method, url, &mut signed, body)?;
            for (name, value) in signed {
                if let Some(name) = name
                    && name != http::header::HOST
                {
                    headers.insert(name, value);
                }
            }
            Ok(())
        }
    }
}

/// A request through a session endpoint; see
/// [`Session::endpoint_request`](crate::Session::endpoint_request). Finish with `.send()`.
#[derive(Debug, Clone)]
#[must_use = "call .send().await"]
pub struct EndpointRequest {
    transport: Transport,
    endpoint: Option<SessionEndpoint>,
    port: u16,
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
    auth: EndpointAuth,
    deferred: Option<Deferred>,
}

impl EndpointRequest {
    crate::config::config_override_setter!();

    pub(crate) fn new(
        transport: Transport,
        endpoint: Option<SessionEndpoint>,
        port: u16,
        method: Method,
        path: &str,
    ) -> Self {
        Self {
            transport,
            endpoint,
            port,
            method,
            path: path.to_owned(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            auth: EndpointAuth::SigV4,
            deferred: None,
        }
    }

    /// A request header (hop-by-hop headers and `Host` are the client's own business).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(n), Ok(v)) => {
                self.headers.append(n, v);
            }
            _ => {
                self.deferred = Some(Deferred::from(Error::invalid(
                    "header",
                    format!("{name:?} is not a valid header"),
                )))
            }
        }
        self
    }

    /// The request body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// SigV4 (default) or a bearer token.
    pub fn auth(mut self, auth: EndpointAuth) -> Self {
        self.auth = auth;
        self
    }

    /// Sends the request and returns once the response headers arrived; any status of the
    /// session's server is `Ok` (read it from the response). The endpoint's own refusals —
    /// 401/403 for credentials or a port outside `allowedPorts`, 404 for a session that is
    /// not running — are [`Error::Service`].
    ///
    /// Dropping the future abandons the request; the session's server may have received it.
    pub async fn send(self) -> Result<EndpointResponse, Error> {
        if let Some(d) = self.deferred {
            return Err(d.into());
        }
        let endpoint = self.endpoint.ok_or_else(|| Error::NoSessionEndpoint {
            reason: "no invocation of this session returned one (the runtime needs \
                     allowedPorts; invoke the session first)"
                .into(),
        })?;
        let url = endpoint.request_url(self.port, &self.path)?;
        let mut headers = self.headers;
        authorize(
            &self.transport,
            &self.auth,
            self.method.as_str(),
            url.as_str(),
            &mut headers,
            &self.body,
        )
        .await?;
        let timeouts = self.transport.timeouts();
        let request = self
            .transport
            .config
            .inner
            .http
            .request(self.method, url.as_str())
            .headers(headers)
            .body(self.body);
        let op = "InvokeAgentRuntimeProxy";
        let resp = tokio::time::timeout(timeouts.get_operation(), request.send())
            .await
            .map_err(|_| Error::Timeout {
                operation: op,
                after: timeouts.get_operation(),
            })?
            .map_err(|e| Error::transport(op, e))?;
        into_response(resp, timeouts.get_read_idle()).await
    }
}

/// A response through a session endpoint: the endpoint's own refusals become errors.
pub(crate) async fn into_response(
    resp: reqwest::Response,
    idle: std::time::Duration,
) -> Result<EndpointResponse, Error> {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    if status >= 400 && headers.contains_key("x-amzn-errortype") {
        let body = resp.bytes().await.unwrap_or_default();
        return Err(service_error_from_response(status, &headers, &body).into());
    }
    let body = futures::TryStreamExt::map_err(resp.bytes_stream(), |e| {
        Error::transport("InvokeAgentRuntimeProxy", e)
    });
    Ok(EndpointResponse {
        status,
        headers,
        body: ByteStream::new(body, idle),
    })
}

/// What a server in the session answered through its session endpoint.
#[derive(Debug)]
pub struct EndpointResponse {
    status: u16,
    headers: HeaderMap,
    body: ByteStream,
}

impl EndpointResponse {
    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body as a stream.
    pub fn into_stream(self) -> ByteStream {
        self.body
    }

    /// The whole body (up to [`COLLECT_LIMIT_BYTES`](super::COLLECT_LIMIT_BYTES)).
    ///
    /// Dropping the future drops the body.
    pub async fn bytes(self) -> Result<Bytes, Error> {
        self.body.collect().await
    }
}

#[cfg(feature = "shell")]
pub use socket::EndpointSocketBuilder;

#[cfg(feature = "shell")]
mod socket {
    use super::*;
    use crate::data::AgentSocket;
    use crate::transport::websocket::{Ws, dial_url, service_refusal};

    /// A WebSocket to a server in the session; see
    /// [`Session::endpoint_websocket`](crate::Session::endpoint_websocket).
    #[derive(Debug, Clone)]
    #[must_use = "call .connect().await"]
    pub struct EndpointSocketBuilder {
        transport: Transport,
        endpoint: Option<SessionEndpoint>,
        session_id: crate::types::SessionId,
        port: u16,
        path: String,
        auth: EndpointAuth,
        protocols: Vec<String>,
    }

    impl EndpointSocketBuilder {
        pub(crate) fn new(
            transport: Transport,
            endpoint: Option<SessionEndpoint>,
            session_id: crate::types::SessionId,
            port: u16,
            path: &str,
        ) -> Self {
            Self {
                transport,
                endpoint,
                session_id,
                port,
                path: path.to_owned(),
                auth: EndpointAuth::SigV4,
                protocols: Vec::new(),
            }
        }

        /// SigV4 (default) or a bearer token.
        pub fn auth(mut self, auth: EndpointAuth) -> Self {
            self.auth = auth;
            self
        }

        /// A WebSocket subprotocol to offer (`Sec-WebSocket-Protocol`).
        pub fn protocol(mut self, p: impl Into<String>) -> Self {
            self.protocols.push(p.into());
            self
        }

        /// Opens the WebSocket: a [`Stream`](futures::Stream) + [`Sink`](futures::Sink) of
        /// messages, as with the agent's own socket.
        ///
        /// Dropping the future abandons the upgrade.
        pub async fn connect(self) -> Result<AgentSocket, Error> {
            let mut extra = Vec::new();
            if !self.protocols.is_empty() {
                let v = HeaderValue::from_str(&self.protocols.join(", "))
                    .map_err(|_| Error::invalid("protocol", "must be a valid header value"))?;
                extra.push((http::header::SEC_WEBSOCKET_PROTOCOL, v));
            }
            let timeout = self.transport.timeouts().get_operation();
            let (ws, _) = dial(
                &self.transport,
                self.endpoint.as_ref(),
                &self.auth,
                self.port,
                &self.path,
                extra,
            )
            .await?;
            Ok(AgentSocket::from_parts(ws, self.session_id, timeout))
        }
    }

    /// Opens a WebSocket to `port` and `path` of the session through `endpoint`.
    pub(crate) async fn dial(
        transport: &Transport,
        endpoint: Option<&SessionEndpoint>,
        auth: &EndpointAuth,
        port: u16,
        path: &str,
        mut extra: Vec<(HeaderName, HeaderValue)>,
    ) -> Result<(Ws, HeaderMap), Error> {
        let endpoint = endpoint.ok_or_else(|| Error::NoSessionEndpoint {
            reason: "no invocation of this session returned one (the runtime needs \
                     allowedPorts; invoke the session first)"
                .into(),
        })?;
        let http_url = endpoint.request_url(port, path)?;
        let mut headers = HeaderMap::new();
        authorize(transport, auth, "GET", http_url.as_str(), &mut headers, &[]).await?;
        for (name, value) in headers {
            if let Some(name) = name {
                extra.push((name, value));
            }
        }
        let mut ws_url = http_url.clone();
        let scheme = if http_url.scheme() == "https" {
            "wss"
        } else {
            "ws"
        };
        ws_url
            .set_scheme(scheme)
            .map_err(|_| Error::Config("cannot make a WebSocket URL".into()))?;
        dial_url(
            &transport.config,
            transport.timeouts().get_operation(),
            "InvokeAgentRuntimeProxy (WebSocket)",
            &ws_url,
            extra,
            service_refusal,
        )
        .await
    }
}

#[cfg(feature = "preview")]
pub(crate) use socket::dial;
