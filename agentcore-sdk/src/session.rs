//! A session handle: one runtime ARN and one session id, so a loop never repeats them.

use std::fmt;

use crate::client::Client;
use crate::config::limiter::CommandRateLimiter;
use crate::data::endpoint::EndpointSlot;
use crate::data::{
    CommandOutput, CommandRequest, Common, EndpointRequest, InvokeRequest, SessionEndpoint,
    StopSessionOutput, StopSessionRequest,
};
use crate::error::Error;
use crate::types::{Command, IntoRuntimeArn, RuntimeArn, SessionId};

/// One runtime session: a microVM with its own filesystem (and session storage that outlives
/// it). Commands, invocations and shells made through the same `Session` reach the same
/// microVM; after [`Session::stop`] (or an idle timeout) the next call boots a fresh one that
/// mounts the same session storage.
///
/// ```no_run
/// # async fn f(client: agentcore_sdk::Client, arn: &str) -> Result<(), agentcore_sdk::Error> {
/// let session = client.session(arn)?; // a new random session id
/// println!("resume later with {}", session.id());
///
/// session.invoke(r#"{"prompt":"fix the failing test"}"#).send().await?.bytes().await?;
/// let test = session.command("cd /mnt/workspace/repo && cargo test").output().await?;
/// if test.success() {
///     session.command("cd /mnt/workspace/repo && git push").output().await?;
/// }
/// session.stop().await?;
///
/// // Next day, same files:
/// let again = client.session_with_id(arn, session.id().as_str())?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Session {
    client: Client,
    arn: RuntimeArn,
    id: SessionId,
    qualifier: Option<String>,
    limiter: Option<std::sync::Arc<CommandRateLimiter>>,
    /// The latest session endpoint an invocation returned (shared by clones).
    endpoint: EndpointSlot,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("arn", &self.arn)
            .field("id", &self.id)
            .field("qualifier", &self.qualifier)
            .finish()
    }
}

impl Session {
    pub(crate) fn new(client: Client, arn: RuntimeArn, id: SessionId) -> Self {
        Self {
            client,
            arn,
            id,
            qualifier: None,
            limiter: None,
            endpoint: EndpointSlot::default(),
        }
    }

    /// Commands of this session wait for permits of `limiter` (share one limiter between the
    /// sessions of one agent to stay under its command rate limit).
    pub fn with_rate_limiter(mut self, limiter: std::sync::Arc<CommandRateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Calls go to this endpoint instead of `DEFAULT`.
    pub fn with_qualifier(mut self, qualifier: impl Into<String>) -> Self {
        self.qualifier = Some(qualifier.into());
        self
    }

    /// The session id. Keep it to resume the session later.
    pub fn id(&self) -> &SessionId {
        &self.id
    }

    /// The runtime ARN.
    pub fn arn(&self) -> &RuntimeArn {
        &self.arn
    }

    /// The endpoint name, if not `DEFAULT`.
    pub fn qualifier(&self) -> Option<&str> {
        self.qualifier.as_deref()
    }

    /// The client this session uses.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn common(&self) -> Common {
        let mut c = Common::new(&self.arn);
        c.session_id = Some(self.id.as_str().to_owned());
        c.qualifier = self.qualifier.clone();
        c
    }

    /// A command in this session; finish with `.send()` (stream) or `.output()` (collected).
    pub fn command(&self, command: impl Into<Command>) -> CommandRequest {
        let req =
            CommandRequest::new(self.client.transport().clone(), self.common()).command(command);
        match &self.limiter {
            Some(l) => req.rate_limiter(l.clone()),
            None => req,
        }
    }

    /// Runs `command` to its end; `Ok` even for a non-zero exit (see
    /// [`CommandOutput::check`](crate::CommandOutput::check)).
    ///
    /// Dropping the future stops reading the output; what happens to the command is as for a
    /// dropped [`CommandStream`](crate::CommandStream).
    pub async fn run(&self, command: impl Into<Command>) -> Result<CommandOutput, Error> {
        self.command(command).output().await
    }

    /// An invocation of the agent in this session with `payload`. Its answer also refreshes
    /// the session's [`endpoint`](Self::endpoint).
    pub fn invoke(&self, payload: impl Into<bytes::Bytes>) -> InvokeRequest {
        InvokeRequest::new(self.client.transport().clone(), self.common())
            .payload(payload)
            .endpoint_slot(self.endpoint.clone())
    }

    /// The session's endpoint, as the latest invocation through this `Session` (or a clone)
    /// returned it: `None` before any, or when the service gave none (a runtime without
    /// `allowedPorts`, or no direct access for this session).
    pub fn endpoint(&self) -> Option<SessionEndpoint> {
        self.endpoint.lock().ok().and_then(|e| e.clone())
    }

    /// Uses `endpoint` (a URL an earlier invocation returned, e.g. stored by another
    /// program) until an invocation brings a newer one.
    pub fn with_endpoint(self, endpoint: SessionEndpoint) -> Self {
        if let Ok(mut e) = self.endpoint.lock() {
            *e = Some(endpoint);
        }
        self
    }

    /// An HTTP request to `path` (with its query) on `port` of the session, through its
    /// [`endpoint`](Self::endpoint), signed with SigV4; finish with `.send().await`.
    /// Without an endpoint, `send` fails with [`Error::NoSessionEndpoint`].
    pub fn endpoint_request(&self, port: u16, method: http::Method, path: &str) -> EndpointRequest {
        EndpointRequest::new(
            self.client.transport().clone(),
            self.endpoint(),
            port,
            method,
            path,
        )
    }

    #[cfg(feature = "shell")]
    /// A WebSocket to `path` on `port` of the session, through its
    /// [`endpoint`](Self::endpoint); finish with `.connect().await`.
    pub fn endpoint_websocket(&self, port: u16, path: &str) -> crate::data::EndpointSocketBuilder {
        crate::data::EndpointSocketBuilder::new(
            self.client.transport().clone(),
            self.endpoint(),
            self.id.clone(),
            port,
            path,
        )
    }

    #[cfg(feature = "shell")]
    /// A WebSocket to this session's agent; finish with `.connect().await`.
    pub fn invoke_websocket(&self) -> crate::data::AgentSocketBuilder {
        let b = crate::data::AgentSocketBuilder::new(self.client.transport().clone(), &self.arn)
            .session_id(self.id.as_str());
        match &self.qualifier {
            Some(q) => b.qualifier(q),
            None => b,
        }
    }

    #[cfg(feature = "shell")]
    /// An interactive shell in this session; finish with `.connect().await`.
    pub fn shell(&self) -> crate::shell::ShellBuilder {
        let b = crate::shell::ShellBuilder::new(self.client.transport().clone(), &self.arn)
            .session_id(self.id.as_str());
        match &self.qualifier {
            Some(q) => b.qualifier(q),
            None => b,
        }
    }

    /// Stops the session's microVM now; its session storage is kept.
    ///
    /// A session that is not running — never started, or stopped already (by a stop, or by
    /// its idle timeout) — is a [`ResourceNotFound`](crate::ServiceErrorKind::ResourceNotFound)
    /// service error, as the service answers. Retries of this one call (after a throttle or a
    /// 5xx) carry its client token.
    ///
    /// Dropping the future before it completes abandons the call here; the session may be
    /// stopped anyway, and calling again then answers `ResourceNotFound`.
    pub async fn stop(&self) -> Result<StopSessionOutput, Error> {
        StopSessionRequest::new(self.client.transport().clone(), self.common())
            .send()
            .await
    }
}

/// Sessions: a runtime ARN and a session id, so a loop never repeats them.
impl Client {
    /// A handle on a new session of the runtime, with a random session id.
    pub fn session(&self, arn: impl IntoRuntimeArn) -> Result<Session, Error> {
        Ok(Session::new(
            self.clone(),
            arn.into_runtime_arn()?,
            SessionId::generate(),
        ))
    }

    /// A handle on the session `session_id` of the runtime (to resume it).
    pub fn session_with_id(
        &self,
        arn: impl IntoRuntimeArn,
        session_id: impl AsRef<str>,
    ) -> Result<Session, Error> {
        Ok(Session::new(
            self.clone(),
            arn.into_runtime_arn()?,
            session_id.as_ref().parse()?,
        ))
    }
}
