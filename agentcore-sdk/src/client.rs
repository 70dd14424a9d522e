//! The client: one entry point for both planes.

use std::fmt;

use crate::config::Config;
use crate::control::{
    AgentRuntimeEndpointsPage, AgentRuntimesPage, CapacityProviderVersionsPage, CreateAgentRuntime,
    CreateAgentRuntimeEndpoint, DeleteAgentRuntime, DeleteAgentRuntimeEndpoint, GetAgentRuntime,
    GetAgentRuntimeEndpoint, ListRequest, ListTagsForResource, ResourcePolicyRequest, TagResource,
    UntagResource, UpdateAgentRuntime, UpdateAgentRuntimeEndpoint, WaitUntilReady, resource_policy,
};
use crate::data::{
    CommandRequest, Common, DeleteCapacityProviderSessionRequest, GetAgentCardRequest,
    InvokeRequest, StopSessionRequest,
};
use crate::error::Error;
use crate::session::Session;
use crate::transport::Transport;
use crate::types::{Command, IntoRuntimeArn, SessionId};

/// The AgentCore Runtime client. Cheap to clone; clones share configuration and connections.
///
/// ```no_run
/// # async fn f() -> Result<(), agentcore_sdk::Error> {
/// let sdk_config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
/// let client = agentcore_sdk::Client::new(&sdk_config)?;
/// let arn = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/coder-AbCdE12345";
/// let out = client.run(arn, "uname -a").await?;
/// print!("{}", out.stdout);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    transport: Transport,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.transport.config)
            .finish()
    }
}

impl Client {
    /// A client from the configuration `aws_config` loaded (region, credential chain,
    /// endpoint URL). `AGENTCORE_ENDPOINT_URL` overrides the endpoint of both planes.
    pub fn new(sdk_config: &aws_types::SdkConfig) -> Result<Self, Error> {
        Ok(Self::from_conf(Config::from_sdk_config(sdk_config)?))
    }

    /// A client from a finished [`Config`].
    pub fn from_conf(config: Config) -> Self {
        Self {
            transport: Transport { config },
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.transport.config
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.transport
    }

    // ---- sessions -------------------------------------------------------------------------

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

    // ---- data plane -----------------------------------------------------------------------

    /// InvokeAgentRuntimeCommand: `command` on `arn` (in a new session unless one is set with
    /// `.session_id(..)`); finish with `.send()` for the event stream or `.output()`.
    ///
    /// ```no_run
    /// # async fn f(client: agentcore_sdk::Client, arn: agentcore_sdk::RuntimeArn) -> Result<(), agentcore_sdk::Error> {
    /// let out = client.command(&arn, "uname -a").output().await?;
    /// # Ok(()) }
    /// ```
    pub fn command(&self, arn: impl IntoRuntimeArn, command: impl Into<Command>) -> CommandRequest {
        CommandRequest::new(self.clone(), Common::new(arn)).command(command)
    }

    /// Runs `command` on `arn` to its end, as [`Session::run`] does; `Ok` even for a non-zero
    /// exit (see [`CommandOutput::check`](crate::CommandOutput::check)).
    pub async fn run(
        &self,
        arn: impl IntoRuntimeArn,
        command: impl Into<Command>,
    ) -> Result<crate::CommandOutput, Error> {
        self.command(arn, command).output().await
    }

    /// InvokeAgentRuntime on `arn`. Set the payload with `.payload(..)` or `.json(..)`.
    pub fn invoke(&self, arn: impl IntoRuntimeArn) -> InvokeRequest {
        InvokeRequest::new(self.clone(), Common::new(arn))
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
        InvokeRequest::new(self.clone(), Common::by_id(runtime_id.as_ref(), account_id))
    }

    /// InvokeAgentRuntimeCommand on the runtime `runtime_id` of `account_id` (see
    /// [`invoke_by_id`](Self::invoke_by_id)).
    pub fn command_by_id(
        &self,
        runtime_id: impl AsRef<str>,
        account_id: impl Into<String>,
        command: impl Into<Command>,
    ) -> CommandRequest {
        CommandRequest::new(self.clone(), Common::by_id(runtime_id.as_ref(), account_id))
            .command(command)
    }

    /// StopRuntimeSession of `session_id` on `arn`.
    pub fn stop_session(
        &self,
        arn: impl IntoRuntimeArn,
        session_id: impl AsRef<str>,
    ) -> StopSessionRequest {
        StopSessionRequest::new(self.clone(), Common::new(arn)).session_id(session_id)
    }

    #[cfg(feature = "shell")]
    /// A WebSocket to the agent on `arn` (`/runtimes/{arn}/ws`); finish with
    /// `.connect().await`. See [`AgentSocket`](crate::data::AgentSocket).
    pub fn invoke_websocket(&self, arn: impl IntoRuntimeArn) -> crate::data::AgentSocketBuilder {
        crate::data::AgentSocketBuilder::new(self.clone(), arn)
    }

    /// GetAgentCard: the agent card an A2A agent on `arn` publishes.
    pub fn get_agent_card(&self, arn: impl IntoRuntimeArn) -> GetAgentCardRequest {
        GetAgentCardRequest::new(self.clone(), Common::new(arn))
    }

    /// DeleteCapacityProviderSession: ends `session_id` on the capacity provider
    /// `capacity_provider_id`.
    pub fn delete_capacity_provider_session(
        &self,
        capacity_provider_id: impl AsRef<str>,
        session_id: impl AsRef<str>,
    ) -> DeleteCapacityProviderSessionRequest {
        DeleteCapacityProviderSessionRequest::new(
            self.clone(),
            capacity_provider_id.as_ref().to_owned(),
            session_id.as_ref().to_owned(),
        )
    }

    /// TagResource: adds tags to a runtime or endpoint (by ARN).
    pub fn tag_resource(&self, resource_arn: impl AsRef<str>) -> TagResource {
        TagResource::new(self.clone(), resource_arn.as_ref().to_owned())
    }

    /// UntagResource: removes tags from a runtime or endpoint (by ARN).
    pub fn untag_resource(&self, resource_arn: impl AsRef<str>) -> UntagResource {
        UntagResource::new(self.clone(), resource_arn.as_ref().to_owned())
    }

    /// ListTagsForResource: the tags of a runtime or endpoint (by ARN).
    pub fn list_tags_for_resource(&self, resource_arn: impl AsRef<str>) -> ListTagsForResource {
        ListTagsForResource::new(self.clone(), resource_arn.as_ref().to_owned())
    }

    /// PutResourcePolicy: attaches `policy` (an IAM policy document) to a runtime or
    /// endpoint.
    pub fn put_resource_policy(
        &self,
        resource_arn: impl AsRef<str>,
        policy: impl Into<String>,
    ) -> ResourcePolicyRequest<resource_policy::Put> {
        ResourcePolicyRequest::new(
            self.clone(),
            resource_arn.as_ref().to_owned(),
            Some(policy.into()),
        )
    }

    /// GetResourcePolicy: the policy of a runtime or endpoint, if it has one.
    pub fn get_resource_policy(
        &self,
        resource_arn: impl AsRef<str>,
    ) -> ResourcePolicyRequest<resource_policy::Get> {
        ResourcePolicyRequest::new(self.clone(), resource_arn.as_ref().to_owned(), None)
    }

    /// DeleteResourcePolicy: removes the policy of a runtime or endpoint.
    pub fn delete_resource_policy(
        &self,
        resource_arn: impl AsRef<str>,
    ) -> ResourcePolicyRequest<resource_policy::Delete> {
        ResourcePolicyRequest::new(self.clone(), resource_arn.as_ref().to_owned(), None)
    }

    /// ListAgentRuntimeVersionsByCapacityProvider: runtime versions running on a capacity
    /// provider.
    pub fn list_agent_runtime_versions_by_capacity_provider(
        &self,
        capacity_provider_id: impl AsRef<str>,
    ) -> ListRequest<CapacityProviderVersionsPage> {
        ListRequest::new(
            self.clone(),
            "ListAgentRuntimeVersionsByCapacityProvider",
            crate::control::capacity_provider_versions_path(capacity_provider_id.as_ref()),
        )
    }

    #[cfg(feature = "shell")]
    /// An interactive shell in a session of `arn`; finish with `.connect().await`.
    pub fn shell(&self, arn: impl IntoRuntimeArn) -> crate::shell::ShellBuilder {
        crate::shell::ShellBuilder::new(self.clone(), arn)
    }

    // ---- control plane: runtimes ----------------------------------------------------------

    /// CreateAgentRuntime.
    pub fn create_agent_runtime(&self) -> CreateAgentRuntime {
        CreateAgentRuntime::new(self.clone())
    }

    /// GetAgentRuntime of the runtime `id`. Every id parameter takes anything that is a
    /// string: `&str`, `String`, or the typed ids responses carry.
    ///
    /// ```no_run
    /// # async fn f(client: agentcore_sdk::Client) -> Result<(), agentcore_sdk::Error> {
    /// let created = client
    ///     .create_agent_runtime()
    ///     .name("coder")
    ///     .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/coder:1")
    ///     .role_arn("arn:aws:iam::123456789012:role/agentcore")
    ///     .send()
    ///     .await?;
    /// let got = client.get_agent_runtime(&created.agent_runtime_id).send().await?;
    /// # Ok(()) }
    /// ```
    pub fn get_agent_runtime(&self, id: impl AsRef<str>) -> GetAgentRuntime {
        GetAgentRuntime::new(self.clone(), id.as_ref().to_owned())
    }

    /// UpdateAgentRuntime of the runtime `id`.
    pub fn update_agent_runtime(&self, id: impl AsRef<str>) -> UpdateAgentRuntime {
        UpdateAgentRuntime::new(self.clone(), id.as_ref().to_owned())
    }

    /// DeleteAgentRuntime of the runtime `id`.
    pub fn delete_agent_runtime(&self, id: impl AsRef<str>) -> DeleteAgentRuntime {
        DeleteAgentRuntime::new(self.clone(), id.as_ref().to_owned())
    }

    /// ListAgentRuntimes, page by page or as one stream.
    pub fn list_agent_runtimes(&self) -> ListRequest<AgentRuntimesPage> {
        ListRequest::new(
            self.clone(),
            "ListAgentRuntimes",
            crate::control::list_runtimes_path(),
        )
    }

    /// ListAgentRuntimeVersions of the runtime `id`.
    pub fn list_agent_runtime_versions(
        &self,
        id: impl AsRef<str>,
    ) -> ListRequest<AgentRuntimesPage> {
        ListRequest::new(
            self.clone(),
            "ListAgentRuntimeVersions",
            crate::control::list_versions_path(id.as_ref()),
        )
    }

    /// Polls the runtime `id` until it is `READY`.
    pub fn wait_until_ready(&self, id: impl AsRef<str>) -> WaitUntilReady {
        WaitUntilReady::new(self.clone(), id.as_ref().to_owned())
    }

    // ---- control plane: endpoints ---------------------------------------------------------

    /// CreateAgentRuntimeEndpoint on the runtime `id`.
    pub fn create_agent_runtime_endpoint(&self, id: impl AsRef<str>) -> CreateAgentRuntimeEndpoint {
        CreateAgentRuntimeEndpoint::new(self.clone(), id.as_ref().to_owned())
    }

    /// GetAgentRuntimeEndpoint `name` of the runtime `id`.
    pub fn get_agent_runtime_endpoint(
        &self,
        id: impl AsRef<str>,
        name: impl AsRef<str>,
    ) -> GetAgentRuntimeEndpoint {
        GetAgentRuntimeEndpoint::new(
            self.clone(),
            id.as_ref().to_owned(),
            name.as_ref().to_owned(),
        )
    }

    /// UpdateAgentRuntimeEndpoint `name` of the runtime `id`.
    pub fn update_agent_runtime_endpoint(
        &self,
        id: impl AsRef<str>,
        name: impl AsRef<str>,
    ) -> UpdateAgentRuntimeEndpoint {
        UpdateAgentRuntimeEndpoint::new(
            self.clone(),
            id.as_ref().to_owned(),
            name.as_ref().to_owned(),
        )
    }

    /// DeleteAgentRuntimeEndpoint `name` of the runtime `id`.
    pub fn delete_agent_runtime_endpoint(
        &self,
        id: impl AsRef<str>,
        name: impl AsRef<str>,
    ) -> DeleteAgentRuntimeEndpoint {
        DeleteAgentRuntimeEndpoint::new(
            self.clone(),
            id.as_ref().to_owned(),
            name.as_ref().to_owned(),
        )
    }

    /// ListAgentRuntimeEndpoints of the runtime `id`.
    pub fn list_agent_runtime_endpoints(
        &self,
        id: impl AsRef<str>,
    ) -> ListRequest<AgentRuntimeEndpointsPage> {
        ListRequest::new(
            self.clone(),
            "ListAgentRuntimeEndpoints",
            crate::control::list_endpoints_path(id.as_ref()),
        )
    }
}
