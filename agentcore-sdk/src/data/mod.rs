//! Data plane: invoke the agent, run one-shot commands, stop sessions.
//!
//! Most code goes through a [`Session`](crate::Session), which remembers the runtime ARN and
//! session id; the builders here are what it returns.

pub(crate) mod command;
pub(crate) mod endpoint;
pub(crate) mod event_stream;
mod invoke;
#[cfg(feature = "shell")]
mod socket;

use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use http::Method;
use tracing::Instrument;

pub use crate::config::limiter::CommandRateLimiter;
#[cfg(feature = "shell")]
pub use crate::transport::websocket::WebSocketAuth;
pub use crate::types::CommandStatus;
pub use crate::types::headers::{SESSION_ID_HEADER, USER_ID_HEADER};
pub(crate) use command::ResponseChunk;
#[cfg(feature = "workflow")]
pub(crate) use command::floor_boundary;
pub use command::{CommandEvent, CommandOutput, CommandStream};
pub use command::{OUTPUT_LIMIT_BYTES, OUTPUT_TAIL_BYTES};
#[cfg(feature = "shell")]
pub use endpoint::EndpointSocketBuilder;
pub use endpoint::{
    EndpointAuth, EndpointRequest, EndpointResponse, IAM_ACTION as SESSION_ENDPOINT_IAM_ACTION,
    PORTS as SESSION_ENDPOINT_PORTS, SESSION_ENDPOINT_URL_HEADER, SessionEndpoint,
};
pub use invoke::{
    ByteStream, COLLECT_LIMIT_BYTES, InvokeResponse, MAX_SSE_EVENT_BYTES, SseEvent, SseStream,
};
#[cfg(feature = "shell")]
pub use socket::{AgentMessage, AgentSocket, AgentSocketBuilder};

/// The last [`OUTPUT_TAIL_BYTES`] of a command's output, cut at a character boundary.
#[cfg(feature = "workflow")]
pub(crate) fn command_tail(s: &str) -> String {
    command::tail(s, OUTPUT_TAIL_BYTES)
}

use crate::client::Client;
use crate::config::Plane;
use crate::error::{Deferred, Error, request_id};
use crate::transport::{Request, Transport};
use crate::types::{
    ClientToken, Command, EndpointName, IntoRuntimeArn, RuntimeArn, RuntimeId, SessionId,
    UnknownMembers, check_capacity_provider_id, encode_segment, validate_command_timeout,
};

/// The largest invocation payload the service accepts.
pub const MAX_PAYLOAD_BYTES: usize = 100_000_000;

/// Request parts every data-plane call shares: target, qualifier, tracing headers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Common {
    pub(crate) arn: Option<Result<Target, Deferred>>,
    pub(crate) session_id: Option<String>,
    pub(crate) qualifier: Option<String>,
    pub(crate) account_id: Option<String>,
    pub(crate) trace_id: Option<String>,
    pub(crate) traceparent: Option<String>,
    pub(crate) tracestate: Option<String>,
    pub(crate) baggage: Option<String>,
}

/// What the `{agentRuntimeArn}` path segment names: an ARN, or (InvokeAgentRuntime and
/// InvokeAgentRuntimeCommand only, as the model allows) a runtime id with `accountId`.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Arn(RuntimeArn),
    Id(RuntimeId),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Arn(a) => a.fmt(f),
            Target::Id(id) => id.fmt(f),
        }
    }
}

impl Common {
    pub(crate) fn new(arn: impl IntoRuntimeArn) -> Self {
        Self {
            arn: Some(
                arn.into_runtime_arn()
                    .map(Target::Arn)
                    .map_err(Deferred::from),
            ),
            ..Self::default()
        }
    }

    /// A runtime named by id in `account_id` (checked when sent).
    pub(crate) fn by_id(runtime_id: &str, account_id: impl Into<String>) -> Self {
        Self {
            arn: Some(
                runtime_id
                    .parse::<RuntimeId>()
                    .map(Target::Id)
                    .map_err(Deferred::from),
            ),
            account_id: Some(account_id.into()),
            ..Self::default()
        }
    }

    fn arn(&self) -> Result<Target, Error> {
        match &self.arn {
            Some(Ok(a)) => Ok(a.clone()),
            Some(Err(invalid)) => Err(invalid.clone().into()),
            None => Err(Error::invalid("agentRuntimeArn", "is required")),
        }
    }

    fn session_id(&self, required: bool) -> Result<Option<SessionId>, Error> {
        match &self.session_id {
            Some(s) => Ok(Some(s.parse()?)),
            None if required => Err(Error::invalid("runtimeSessionId", "is required")),
            None => Ok(None),
        }
    }

    /// Builds the request with the path, query and headers every data-plane call shares.
    fn request(
        &self,
        operation: &'static str,
        suffix: &str,
        session_id: Option<&SessionId>,
    ) -> Result<(Request, Target), Error> {
        self.request_with(Method::POST, operation, suffix, session_id)
    }

    fn request_with(
        &self,
        method: Method,
        operation: &'static str,
        suffix: &str,
        session_id: Option<&SessionId>,
    ) -> Result<(Request, Target), Error> {
        let arn = self.arn()?;
        let segment = match &arn {
            Target::Arn(a) => a.path_segment(),
            Target::Id(id) => {
                if !matches!(
                    operation,
                    "InvokeAgentRuntime" | "InvokeAgentRuntimeCommand"
                ) {
                    return Err(Error::invalid(
                        "agentRuntimeArn",
                        format!("{operation} takes an ARN, not a runtime id"),
                    ));
                }
                if self.account_id.is_none() {
                    return Err(Error::invalid(
                        "accountId",
                        "is required when the runtime is named by id",
                    ));
                }
                encode_segment(id.as_str())
            }
        };
        if let Some(q) = &self.qualifier {
            q.parse::<EndpointName>().map_err(|_| {
                Error::invalid("qualifier", format!("must be an endpoint name, got {q:?}"))
            })?;
        }
        if let Some(a) = &self.account_id
            && (a.len() != 12 || !a.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(Error::invalid("accountId", "must be 12 digits"));
        }
        // As the model counts (characters), per operation: InvokeAgentRuntime allows 128 for
        // trace ids and parents, the command and stop operations 1024.
        let trace_max = if operation == "InvokeAgentRuntime" {
            128
        } else {
            1024
        };
        check_len("X-Amzn-Trace-Id", &self.trace_id, trace_max)?;
        check_len("traceparent", &self.traceparent, trace_max)?;
        check_len("tracestate", &self.tracestate, 512)?;
        check_len("baggage", &self.baggage, 8192)?;
        let path = format!("/runtimes/{segment}/{suffix}");
        let req = Request::new(operation, Plane::Data, method, path)
            .query("qualifier", self.qualifier.clone())
            .query("accountId", self.account_id.clone())
            .header(SESSION_ID_HEADER, session_id.map(SessionId::as_str))?
            .header("x-amzn-trace-id", self.trace_id.as_deref())?
            .header("traceparent", self.traceparent.as_deref())?
            .header("tracestate", self.tracestate.as_deref())?
            .header("baggage", self.baggage.as_deref())?;
        Ok((req, arn))
    }
}

fn check_len(field: &'static str, v: &Option<String>, max: usize) -> Result<(), Error> {
    check_between(field, v, 0, max)
}

/// `lo..=hi` characters, as the model counts them.
fn check_between(
    field: &'static str,
    v: &Option<String>,
    lo: usize,
    hi: usize,
) -> Result<(), Error> {
    match v {
        Some(v) if !(lo..=hi).contains(&v.chars().count()) => Err(Error::invalid(
            field,
            format!("must be {lo} to {hi} characters, got {}", v.chars().count()),
        )),
        _ => Ok(()),
    }
}

/// Setters shared by every data-plane builder.
macro_rules! common_setters {
    () => {
        /// The runtime session id (33..=256 characters). The same id reaches the same session.
        pub fn session_id(mut self, id: impl AsRef<str>) -> Self {
            self.common.session_id = Some(id.as_ref().to_owned());
            self
        }
        /// The endpoint to call (default `DEFAULT`).
        pub fn qualifier(mut self, q: impl Into<String>) -> Self {
            self.common.qualifier = Some(q.into());
            self
        }
        /// The account id, for cross-account calls.
        pub fn account_id(mut self, id: impl Into<String>) -> Self {
            self.common.account_id = Some(id.into());
            self
        }
        /// `X-Amzn-Trace-Id`.
        pub fn trace_id(mut self, v: impl Into<String>) -> Self {
            self.common.trace_id = Some(v.into());
            self
        }
        /// W3C `traceparent`.
        pub fn traceparent(mut self, v: impl Into<String>) -> Self {
            self.common.traceparent = Some(v.into());
            self
        }
        /// W3C `tracestate`.
        pub fn tracestate(mut self, v: impl Into<String>) -> Self {
            self.common.tracestate = Some(v.into());
            self
        }
        /// W3C `baggage`.
        pub fn baggage(mut self, v: impl Into<String>) -> Self {
            self.common.baggage = Some(v.into());
            self
        }
    };
}

/// The echoed session id of a response, if valid.
fn echoed_session(headers: &http::HeaderMap) -> Option<SessionId> {
    headers
        .get(SESSION_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse().ok())
}

fn body_stream(
    resp: reqwest::Response,
    operation: &'static str,
) -> impl futures::Stream<Item = Result<Bytes, Error>> + Send + 'static {
    resp.bytes_stream()
        .map_err(move |e| Error::transport(operation, e))
}

/// InvokeAgentRuntimeCommand: run a command in the session's microVM. See
/// [`Session::command`](crate::Session::command) and [`Client::command`].
#[derive(Debug, Clone)]
#[must_use = "call .send().await or .output().await"]
pub struct CommandRequest {
    transport: Transport,
    common: Common,
    command: Option<Command>,
    timeout: Option<Duration>,
    limiter: Option<std::sync::Arc<CommandRateLimiter>>,
}

#[derive(serde::Serialize)]
struct CommandBody<'a> {
    command: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout: Option<u32>,
}

impl CommandRequest {
    crate::config::config_override_setter!();

    pub(crate) fn new(transport: Transport, common: Common) -> Self {
        Self {
            transport,
            common,
            command: None,
            timeout: None,
            limiter: None,
        }
    }

    common_setters!();

    /// Also wait for a permit of this limiter before every attempt (the client's limiter of
    /// the runtime, if any, still applies: this one can only lower the rate).
    pub fn rate_limiter(mut self, limiter: std::sync::Arc<CommandRateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// The command line, run with `bash -c` (1..=65536 bytes).
    pub fn command(mut self, command: impl Into<Command>) -> Self {
        self.command = Some(command.into());
        self
    }

    /// How long the command may run (whole seconds, 1..=3600; the service's default is 300).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// Starts the command and returns its output stream once the service accepted it.
    ///
    /// Throttling and server errors *before* the stream starts are retried; a stream that
    /// started is never re-sent.
    ///
    /// Dropping the future before it completes abandons the request here; a request that reached
    /// the service may have started the command, which then fares as when its
    /// [`CommandStream`] is dropped.
    pub async fn send(self) -> Result<CommandStream, Error> {
        let command = self
            .command
            .ok_or_else(|| Error::invalid("command", "is required"))?;
        command.validate()?;
        let timeout = self.timeout.map(validate_command_timeout).transpose()?;
        let session = self.common.session_id(false)?;
        let (req, arn) =
            self.common
                .request("InvokeAgentRuntimeCommand", "commands", session.as_ref())?;
        // The client's limiter of this runtime, and the caller's own: every attempt waits
        // for both, so a caller's limiter can only lower the rate.
        let runtime = match &arn {
            Target::Arn(a) => a.runtime_id().as_str(),
            Target::Id(id) => id.as_str(),
        };
        let mut req = req;
        req.limiters.extend(
            self.transport
                .config
                .inner
                .command_limiters
                .get(runtime)
                .into_iter()
                .chain(self.limiter.clone()),
        );
        let req = req
            .json_body(&CommandBody {
                command: command.as_str(),
                timeout,
            })?
            .header("accept", Some("application/vnd.amazon.eventstream"))?
            .streaming();
        let span = tracing::info_span!(
            "agentcore.command",
            runtime = %arn,
            session = session.as_ref().map(SessionId::as_str),
            request_id = tracing::field::Empty,
        );
        let resp = self.transport.send(&req).instrument(span.clone()).await?;
        let headers = resp.headers().clone();
        let rid = request_id(&headers);
        let deadline = Duration::from_secs(u64::from(timeout.unwrap_or(300)))
            .saturating_add(self.transport.timeouts().get_stream_grace());
        Ok(CommandStream::from_byte_stream(
            body_stream(resp, "InvokeAgentRuntimeCommand"),
            deadline,
        )
        .with_metadata(echoed_session(&headers).or(session), rid, span))
    }

    /// Runs the command to its end and collects its output.
    ///
    /// Dropping the future stops reading the output; what happens to the command is as for a
    /// dropped [`CommandStream`].
    pub async fn output(self) -> Result<CommandOutput, Error> {
        self.send().await?.output().await
    }
}

/// InvokeAgentRuntime: send a payload to the agent, stream its answer. See
/// [`Session::invoke`](crate::Session::invoke) and [`Client::invoke`].
#[derive(Debug, Clone)]
#[must_use = "call .send().await"]
pub struct InvokeRequest {
    transport: Transport,
    common: Common,
    payload: Bytes,
    content_type: Option<String>,
    accept: Option<String>,
    user_id: Option<String>,
    mcp_session_id: Option<String>,
    mcp_protocol_version: Option<String>,
    mcp_method: Option<String>,
    mcp_name: Option<String>,
    deferred: Option<String>,
    /// Where a session keeps the endpoint URL each answer brings.
    endpoint_slot: Option<endpoint::EndpointSlot>,
    /// Extra headers ([`header`](Self::header)), in order.
    extra_headers: Vec<(String, String)>,
    bearer: Option<crate::transport::BearerToken>,
}

impl InvokeRequest {
    crate::config::config_override_setter!();

    pub(crate) fn new(transport: Transport, common: Common) -> Self {
        Self {
            transport,
            common,
            payload: Bytes::new(),
            content_type: None,
            accept: None,
            user_id: None,
            mcp_session_id: None,
            mcp_protocol_version: None,
            mcp_method: None,
            mcp_name: None,
            deferred: None,
            endpoint_slot: None,
            extra_headers: Vec::new(),
            bearer: None,
        }
    }

    pub(crate) fn endpoint_slot(mut self, slot: endpoint::EndpointSlot) -> Self {
        self.endpoint_slot = Some(slot);
        self
    }

    common_setters!();

    /// The raw payload (at most 100 MB).
    pub fn payload(mut self, payload: impl Into<Bytes>) -> Self {
        self.payload = payload.into();
        self
    }

    /// A JSON payload; sets `Content-Type: application/json`.
    pub fn json(mut self, value: &impl serde::Serialize) -> Self {
        match serde_json::to_vec(value) {
            Ok(v) => {
                self.payload = Bytes::from(v);
                self.content_type = Some("application/json".into());
            }
            Err(e) => self.deferred = Some(format!("cannot be serialized: {e}")),
        }
        self
    }

    /// `Content-Type` of the payload (default `application/json`).
    pub fn content_type(mut self, v: impl Into<String>) -> Self {
        self.content_type = Some(v.into());
        self
    }

    /// `Accept` (e.g. `text/event-stream`).
    pub fn accept(mut self, v: impl Into<String>) -> Self {
        self.accept = Some(v.into());
        self
    }

    /// `X-Amzn-Bedrock-AgentCore-Runtime-User-Id`.
    pub fn user_id(mut self, v: impl Into<String>) -> Self {
        self.user_id = Some(v.into());
        self
    }

    /// `Mcp-Session-Id`, for MCP servers.
    pub fn mcp_session_id(mut self, v: impl Into<String>) -> Self {
        self.mcp_session_id = Some(v.into());
        self
    }

    /// `Mcp-Protocol-Version`, for MCP servers.
    pub fn mcp_protocol_version(mut self, v: impl Into<String>) -> Self {
        self.mcp_protocol_version = Some(v.into());
        self
    }

    /// `Mcp-Method` (e.g. `tools/call`), for MCP servers.
    pub fn mcp_method(mut self, v: impl Into<String>) -> Self {
        self.mcp_method = Some(v.into());
        self
    }

    /// `Mcp-Name` (e.g. the tool's name), for MCP servers.
    pub fn mcp_name(mut self, v: impl Into<String>) -> Self {
        self.mcp_name = Some(v.into());
        self
    }

    /// Adds a request header, e.g. one of the runtime's `requestHeaderAllowlist`
    /// (`X-Amzn-Bedrock-AgentCore-Runtime-Custom-*`, which the service passes to the agent).
    /// Headers this request sets itself (`Host`, `Authorization`, `Content-Length`, `X-Amz-*`,
    /// the session id) are refused when sent; use their own setters. Repeatable.
    ///
    /// ```no_run
    /// # async fn f(session: agentcore_sdk::Session) -> Result<(), agentcore_sdk::Error> {
    /// let reply = session
    ///     .invoke(r#"{"prompt": "hello"}"#)
    ///     .header("X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant", "acme")
    ///     .send()
    ///     .await?
    ///     .bytes()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_headers.push((name.into(), value.into()));
        self
    }

    /// Authorises the call with an OAuth bearer token (`Authorization: Bearer <token>`)
    /// instead of SigV4, for a runtime whose inbound authorizer is a JWT authorizer. The token
    /// never appears in `Debug` output or errors.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.bearer = Some(crate::transport::BearerToken(token.into()));
        self
    }

    /// Sends the payload and returns once the agent's response headers arrived.
    ///
    /// Dropping the future cancels the HTTP request; an invocation that reached the agent is not
    /// cancelled there (the agent is not told, and may finish its work in the session).
    pub async fn send(self) -> Result<InvokeResponse, Error> {
        if let Some(rule) = self.deferred {
            return Err(Error::invalid("payload", rule));
        }
        if self.payload.len() > MAX_PAYLOAD_BYTES {
            return Err(Error::invalid(
                "payload",
                format!(
                    "must be at most {MAX_PAYLOAD_BYTES} bytes, got {}",
                    self.payload.len()
                ),
            ));
        }
        let session = self.common.session_id(false)?;
        check_between("Content-Type", &self.content_type, 1, 256)?;
        check_between("Accept", &self.accept, 1, 256)?;
        check_between(USER_ID_HEADER, &self.user_id, 1, 1024)?;
        check_between("Mcp-Session-Id", &self.mcp_session_id, 1, 1024)?;
        check_between("Mcp-Protocol-Version", &self.mcp_protocol_version, 1, 1024)?;
        check_between("Mcp-Method", &self.mcp_method, 1, 1024)?;
        check_between("Mcp-Name", &self.mcp_name, 1, 1024)?;
        let (mut req, arn) =
            self.common
                .request("InvokeAgentRuntime", "invocations", session.as_ref())?;
        req.body = self.payload;
        let req = req
            .header(
                "content-type",
                Some(self.content_type.as_deref().unwrap_or("application/json")),
            )?
            .header("accept", self.accept.as_deref())?
            .header(USER_ID_HEADER, self.user_id.as_deref())?
            .header("mcp-session-id", self.mcp_session_id.as_deref())?
            .header("mcp-protocol-version", self.mcp_protocol_version.as_deref())?
            .header("mcp-method", self.mcp_method.as_deref())?
            .header("mcp-name", self.mcp_name.as_deref())?
            .streaming();
        let mut req = req;
        for (name, value) in &self.extra_headers {
            let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                Error::invalid("header", format!("{name:?} is not a valid header name"))
            })?;
            if is_managed_header(&name) {
                return Err(Error::invalid(
                    "header",
                    format!("{name} is set by the request itself"),
                ));
            }
            let value = http::HeaderValue::from_str(value).map_err(|_| {
                Error::invalid(
                    "header",
                    format!("the value of {name} must be visible ASCII"),
                )
            })?;
            req.headers.append(name, value);
        }
        if let Some(token) = self.bearer {
            if token.0.is_empty() {
                return Err(Error::invalid("bearerToken", "must not be empty"));
            }
            req.bearer = Some(token);
        }
        let span = tracing::info_span!(
            "agentcore.invoke",
            runtime = %arn,
            session = session.as_ref().map(SessionId::as_str),
            request_id = tracing::field::Empty,
        );
        let resp = self.transport.send(&req).instrument(span).await?;
        let headers = resp.headers().clone();
        if let Some(slot) = &self.endpoint_slot {
            // Refreshed by every answer: absent means there is none (now).
            let endpoint = headers
                .get(SESSION_ENDPOINT_URL_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(|u| SessionEndpoint::parse(u).ok());
            if let Ok(mut s) = slot.lock() {
                *s = endpoint;
            }
        }
        let idle = self.transport.timeouts().get_read_idle();
        Ok(InvokeResponse {
            status: resp.status().as_u16(),
            content_type: headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            session_id: echoed_session(&headers).or(session),
            request_id: request_id(&headers),
            body: ByteStream::new(body_stream(resp, "InvokeAgentRuntime"), idle),
            headers,
        })
    }
}

/// Headers an invocation sets itself, which [`InvokeRequest::header`] may not replace.
fn is_managed_header(name: &http::HeaderName) -> bool {
    let n = name.as_str();
    matches!(
        n,
        "host" | "authorization" | "content-length" | "transfer-encoding" | "connection"
    ) || n.starts_with("x-amz-")
        || n.eq_ignore_ascii_case(SESSION_ID_HEADER)
}

/// StopRuntimeSession: stop the session's microVM now. See
/// [`Session::stop`](crate::Session::stop) and [`Client::stop_session`].
#[derive(Debug, Clone)]
#[must_use = "call .send().await"]
pub struct StopSessionRequest {
    transport: Transport,
    common: Common,
    client_token: Option<String>,
}

/// What StopRuntimeSession returns.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StopSessionOutput {
    /// The session id the service echoed.
    pub session_id: Option<SessionId>,
}

impl StopSessionRequest {
    crate::config::config_override_setter!();

    pub(crate) fn new(transport: Transport, common: Common) -> Self {
        Self {
            transport,
            common,
            client_token: None,
        }
    }

    common_setters!();

    /// Idempotency token; one is generated when absent. A stop sent with the token of one
    /// that stopped the session is answered as that one was and stops nothing — not even
    /// the session started again since — so a token is for retries of one stop, never to be
    /// reused for another.
    pub fn client_token(mut self, t: impl Into<String>) -> Self {
        self.client_token = Some(t.into());
        self
    }

    /// Sends the request.
    ///
    /// A session that is not running (never started, or stopped already) is a
    /// `ResourceNotFound` service error; a stop sent again with the same
    /// [`client_token`](Self::client_token) as one that stopped the session gets that
    /// answer, `Ok`.
    ///
    /// Dropping the future before it completes abandons the call here; the session may be
    /// stopped anyway (send again with the same client token to learn whether it was).
    pub async fn send(self) -> Result<StopSessionOutput, Error> {
        let session = self.common.session_id(true)?;
        let token = match self.client_token {
            Some(t) => t.parse::<ClientToken>()?,
            None => ClientToken::generate(),
        };
        let (req, arn) =
            self.common
                .request("StopRuntimeSession", "stopruntimesession", session.as_ref())?;
        let req = req.json_body(&serde_json::json!({ "clientToken": token.as_str() }))?;
        let span = tracing::info_span!(
            "agentcore.stop_session",
            runtime = %arn,
            session = session.as_ref().map(SessionId::as_str),
            request_id = tracing::field::Empty,
        );
        let (headers, _) = self.transport.send_unary(&req).instrument(span).await?;
        Ok(StopSessionOutput {
            session_id: echoed_session(&headers).or(session),
        })
    }
}

/// GetAgentCard: the agent card of an A2A agent. See [`Client::get_agent_card`].
#[derive(Debug, Clone)]
#[must_use = "call .send().await"]
pub struct GetAgentCardRequest {
    transport: Transport,
    common: Common,
}

/// What GetAgentCard returns.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AgentCard {
    /// The card, as the agent published it (a JSON document).
    pub card: serde_json::Value,
    /// The session id the service echoed.
    pub session_id: Option<SessionId>,
}

impl GetAgentCardRequest {
    crate::config::config_override_setter!();

    pub(crate) fn new(transport: Transport, common: Common) -> Self {
        Self { transport, common }
    }

    common_setters!();

    /// Sends the request.
    ///
    /// Dropping the future abandons the call; nothing changes on the service.
    pub async fn send(self) -> Result<AgentCard, Error> {
        let session = self.common.session_id(false)?;
        let (req, arn) = self.common.request_with(
            Method::GET,
            "GetAgentCard",
            "invocations/.well-known/agent-card.json",
            session.as_ref(),
        )?;
        let span = tracing::info_span!("agentcore.get_agent_card", runtime = %arn, request_id = tracing::field::Empty);
        let (headers, body) = self.transport.send_unary(&req).instrument(span).await?;
        let card = serde_json::from_slice(&body)
            .map_err(|e| Error::malformed_with("GetAgentCard response is not JSON", e))?;
        Ok(AgentCard {
            card,
            session_id: echoed_session(&headers).or(session),
        })
    }
}

/// DeleteCapacityProviderSession. See [`Client::delete_capacity_provider_session`].
#[derive(Debug, Clone)]
#[must_use = "call .send().await"]
pub struct DeleteCapacityProviderSessionRequest {
    transport: Transport,
    capacity_provider_id: String,
    session_id: String,
}

/// What DeleteCapacityProviderSession returns.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DeletedCapacityProviderSession {
    /// The capacity provider's ARN.
    pub capacity_provider_arn: String,
    /// The session.
    pub session_id: String,
    /// Its status (`Deleting`, `Deleted`, …).
    pub status: String,
    /// Members this SDK does not know, kept as received.
    #[serde(flatten)]
    pub unknown_members: UnknownMembers,
}

impl DeleteCapacityProviderSessionRequest {
    crate::config::config_override_setter!();

    pub(crate) fn new(
        transport: Transport,
        capacity_provider_id: String,
        session_id: String,
    ) -> Self {
        Self {
            transport,
            capacity_provider_id,
            session_id,
        }
    }

    /// Validates and sends the request.
    ///
    /// Dropping the future before it completes abandons the call here; a request that already
    /// reached the service may still take effect (sending it again is safe).
    pub async fn send(self) -> Result<DeletedCapacityProviderSession, Error> {
        check_capacity_provider_id(&self.capacity_provider_id)?;
        let sid = &self.session_id;
        let mut chars = sid.chars();
        let ok = (1..=100).contains(&sid.len())
            && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(Error::invalid(
                "sessionId",
                format!(
                    "must be 1 to 100 letters, digits, - or _, starting with a letter or digit, got {sid:?}"
                ),
            ));
        }
        let path = format!(
            "/capacity-providers/{}/sessions/{}",
            encode_segment(&self.capacity_provider_id),
            encode_segment(sid)
        );
        let req = Request::new(
            "DeleteCapacityProviderSession",
            Plane::Data,
            Method::DELETE,
            path,
        );
        let span = tracing::info_span!("agentcore.delete_capacity_provider_session", capacity_provider = %self.capacity_provider_id, request_id = tracing::field::Empty);
        self.transport.send_json(&req).instrument(span).await
    }
}

/// Data-plane operations.
impl Client {
    /// The limiter every command to this agent runtime through this client (and its clones)
    /// waits on, retries included: made at the client's
    /// [`command_rate_limit`](crate::ConfigBuilder::command_rate_limit), else at the
    /// service's quota ([`CommandRateLimiter::SERVICE_LIMIT`], 25 per second), on first use.
    /// The fleet experiments use it, so two of them on one runtime share 25 per second.
    ///
    /// ```
    /// # fn f(client: agentcore_sdk::Client) -> Result<(), agentcore_sdk::Error> {
    /// let arn = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/coder-AbCdE12345";
    /// let limiter = client.command_rate_limiter(arn)?;
    /// assert!(std::sync::Arc::ptr_eq(&limiter, &client.command_rate_limiter(arn)?));
    /// # Ok(()) }
    /// ```
    pub fn command_rate_limiter(
        &self,
        arn: impl IntoRuntimeArn,
    ) -> Result<std::sync::Arc<CommandRateLimiter>, Error> {
        let arn = arn.into_runtime_arn()?;
        Ok(self
            .transport()
            .config
            .inner
            .command_limiters
            .get_or_register(arn.runtime_id().as_str(), CommandRateLimiter::SERVICE_LIMIT))
    }

    /// InvokeAgentRuntimeCommand: `command` on `arn` (in a new session unless one is set with
    /// `.session_id(..)`); finish with `.send()` for the event stream or `.output()`.
    ///
    /// ```no_run
    /// # async fn f(client: agentcore_sdk::Client, arn: agentcore_sdk::RuntimeArn) -> Result<(), agentcore_sdk::Error> {
    /// let out = client.command(&arn, "uname -a").output().await?;
    /// # Ok(()) }
    /// ```
    pub fn command(&self, arn: impl IntoRuntimeArn, command: impl Into<Command>) -> CommandRequest {
        CommandRequest::new(self.transport().clone(), Common::new(arn)).command(command)
    }

    /// Runs `command` on `arn` to its end, as [`Session::run`](crate::Session::run) does; `Ok` even for a non-zero
    /// exit (see [`CommandOutput::check`](CommandOutput::check)).
    ///
    /// Dropping the future stops reading the output; what happens to the command is as for a
    /// dropped [`CommandStream`](crate::CommandStream).
    pub async fn run(
        &self,
        arn: impl IntoRuntimeArn,
        command: impl Into<Command>,
    ) -> Result<CommandOutput, Error> {
        self.command(arn, command).output().await
    }

    /// InvokeAgentRuntime on `arn`. Set the payload with `.payload(..)` or `.json(..)`.
    pub fn invoke(&self, arn: impl IntoRuntimeArn) -> InvokeRequest {
        InvokeRequest::new(self.transport().clone(), Common::new(arn))
    }

    /// InvokeAgentRuntime on the runtime `runtime_id` of `account_id`, as the model allows
    /// instead of an ARN (the path carries the id, the query `accountId`). Both are checked
    /// when the request is sent.
    ///
    /// ```no_run
    /// # async fn f(client: agentcore_sdk::Client) -> Result<(), agentcore_sdk::Error> {
    /// let reply = client
    ///     .invoke_by_id("coder-AbCdE12345", "123456789012")
    ///     .json(&serde_json::json!({"prompt": "hi"}))
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn invoke_by_id(
        &self,
        runtime_id: impl AsRef<str>,
        account_id: impl Into<String>,
    ) -> InvokeRequest {
        InvokeRequest::new(
            self.transport().clone(),
            Common::by_id(runtime_id.as_ref(), account_id),
        )
    }

    /// InvokeAgentRuntimeCommand on the runtime `runtime_id` of `account_id` (see
    /// [`invoke_by_id`](Self::invoke_by_id)).
    pub fn command_by_id(
        &self,
        runtime_id: impl AsRef<str>,
        account_id: impl Into<String>,
        command: impl Into<Command>,
    ) -> CommandRequest {
        CommandRequest::new(
            self.transport().clone(),
            Common::by_id(runtime_id.as_ref(), account_id),
        )
        .command(command)
    }

    /// StopRuntimeSession of `session_id` on `arn`.
    pub fn stop_session(
        &self,
        arn: impl IntoRuntimeArn,
        session_id: impl AsRef<str>,
    ) -> StopSessionRequest {
        StopSessionRequest::new(self.transport().clone(), Common::new(arn)).session_id(session_id)
    }

    #[cfg(feature = "shell")]
    /// A WebSocket to the agent on `arn` (`/runtimes/{arn}/ws`); finish with
    /// `.connect().await`. See [`AgentSocket`].
    pub fn invoke_websocket(&self, arn: impl IntoRuntimeArn) -> AgentSocketBuilder {
        AgentSocketBuilder::new(self.transport().clone(), arn)
    }

    /// GetAgentCard: the agent card an A2A agent on `arn` publishes.
    pub fn get_agent_card(&self, arn: impl IntoRuntimeArn) -> GetAgentCardRequest {
        GetAgentCardRequest::new(self.transport().clone(), Common::new(arn))
    }

    /// DeleteCapacityProviderSession: ends `session_id` on the capacity provider
    /// `capacity_provider_id`.
    pub fn delete_capacity_provider_session(
        &self,
        capacity_provider_id: impl AsRef<str>,
        session_id: impl AsRef<str>,
    ) -> DeleteCapacityProviderSessionRequest {
        DeleteCapacityProviderSessionRequest::new(
            self.transport().clone(),
            capacity_provider_id.as_ref().to_owned(),
            session_id.as_ref().to_owned(),
        )
    }
}
