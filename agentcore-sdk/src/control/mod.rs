//! Control plane: create, read, update, delete and list agent runtimes and their endpoints;
//! wait until a runtime is `READY`.
//!
//! Every operation is a builder returned by a [`Client`] method and finished with
//! `.send().await`. Input is validated when `send` is called, before any request is made.
//!
//! ```no_run
//! # async fn f(client: agentcore_sdk::Client) -> Result<(), agentcore_sdk::Error> {
//! use std::time::Duration;
//! use futures::TryStreamExt;
//!
//! let created = client
//!     .create_agent_runtime()
//!     .name("coding_agent")
//!     .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/coder:latest")
//!     .role_arn("arn:aws:iam::123456789012:role/AgentRuntime")
//!     .session_storage("/mnt/workspace")
//!     .environment_variable("GIT_AUTHOR_NAME", "agent")
//!     .send()
//!     .await?;
//! let ready = client
//!     .wait_until_ready(created.agent_runtime_id.as_str())
//!     .timeout(Duration::from_secs(600))
//!     .send()
//!     .await?;
//! println!("{} is {}", ready.agent_runtime_arn, ready.status);
//!
//! let all: Vec<_> = client.list_agent_runtimes().into_stream().try_collect().await?;
//! # Ok(()) }
//! ```

mod model;
mod resources;
mod rules;
pub(crate) mod server_support;
mod settings;
mod waiter;

use std::collections::{BTreeMap, HashSet};

use futures::Stream;
use http::Method;
use tracing::Instrument;

pub use model::*;
pub use resources::*;
pub use waiter::WaitUntilReady;

use crate::client::Client;
use crate::error::Error;
use crate::transport::{Request, Transport};
use crate::types::{ClientToken, EndpointName, MountPath, RuntimeId, RuntimeName, encode_segment};

fn runtime_path(id: &RuntimeId, suffix: &str) -> String {
    format!("/runtimes/{}/{suffix}", encode_segment(id.as_str()))
}

fn endpoint_path(id: &RuntimeId, name: Option<&EndpointName>) -> String {
    match name {
        Some(n) => runtime_path(
            id,
            &format!("runtime-endpoints/{}/", encode_segment(n.as_str())),
        ),
        None => runtime_path(id, "runtime-endpoints/"),
    }
}

/// `agentRuntimeVersion`: `[1-9][0-9]{0,4}`.
fn check_version(v: &Option<String>) -> Result<(), Error> {
    if let Some(v) = v {
        let ok = !v.is_empty()
            && v.len() <= 5
            && v.chars().all(|c| c.is_ascii_digit())
            && !v.starts_with('0');
        if !ok {
            return Err(Error::invalid(
                "agentRuntimeVersion",
                format!("must be a version number 1..=99999, got {v:?}"),
            ));
        }
    }
    Ok(())
}

/// `nextToken`: 1 to 2048 characters, no whitespace.
fn check_next_token(t: &Option<String>) -> Result<(), Error> {
    if let Some(t) = t {
        let n = t.chars().count();
        if !(1..=2048).contains(&n) || t.chars().any(char::is_whitespace) {
            return Err(Error::invalid(
                "nextToken",
                format!("must be 1 to 2048 characters without whitespace, got {n} characters"),
            ));
        }
    }
    Ok(())
}

fn parse_runtime_id(id: &str) -> Result<RuntimeId, Error> {
    id.parse()
}

fn check_range(field: &'static str, v: Option<u32>, lo: u32, hi: u32) -> Result<(), Error> {
    match v {
        Some(v) if !(lo..=hi).contains(&v) => Err(Error::invalid(
            field,
            format!("must be from {lo} to {hi}, got {v}"),
        )),
        _ => Ok(()),
    }
}

fn check_client_token(t: &Option<String>) -> Result<(), Error> {
    if let Some(t) = t {
        t.parse::<ClientToken>()?;
    }
    Ok(())
}

/// Validates everything the service validates in a runtime's create / update body.
impl AgentRuntimeInput {
    /// Checks the request rules of CreateAgentRuntime (`create`) or UpdateAgentRuntime: what
    /// the SDK checks before sending, and what agentcore-local checks on receipt.
    pub fn validate(&self, create: bool) -> Result<(), Error> {
        validate_runtime_input(self, create)
    }
}

/// The one send path of every control-plane operation: the request goes out in a span
/// `agentcore.control` (fields `operation`, `path`, and `request_id` once known) through the
/// transport's signing and retries, and the JSON answer is decoded.
pub(crate) async fn send<T: serde::de::DeserializeOwned>(
    transport: &Transport,
    req: &Request,
) -> Result<T, Error> {
    transport.send_json(req).instrument(control_span(req)).await
}

/// [`send`] for operations whose answer has no members.
pub(crate) async fn send_empty(transport: &Transport, req: &Request) -> Result<(), Error> {
    transport
        .send_unary(req)
        .instrument(control_span(req))
        .await
        .map(drop)
}

fn control_span(req: &Request) -> tracing::Span {
    tracing::info_span!(
        "agentcore.control",
        operation = req.operation,
        path = %req.path,
        request_id = tracing::field::Empty
    )
}

fn validate_runtime_input(input: &AgentRuntimeInput, create: bool) -> Result<(), Error> {
    if create {
        match &input.agent_runtime_name {
            Some(n) => {
                n.parse::<RuntimeName>()?;
            }
            None => return Err(Error::invalid("agentRuntimeName", "is required")),
        }
    }
    match &input.agent_runtime_artifact {
        None => return Err(Error::invalid("agentRuntimeArtifact", "is required")),
        Some(AgentRuntimeArtifact::ContainerConfiguration(c)) => {
            if c.container_uri.is_empty() || c.container_uri.len() > 1024 {
                return Err(Error::invalid(
                    "agentRuntimeArtifact.containerConfiguration.containerUri",
                    "must be 1 to 1024 characters",
                ));
            }
        }
        Some(_) => {}
    }
    match &input.role_arn {
        None => return Err(Error::invalid("roleArn", "is required")),
        Some(r) => {
            let ok = r.starts_with("arn:aws")
                && r.split(':').nth(2) == Some("iam")
                && r.split(':')
                    .nth(5)
                    .is_some_and(|s| s.starts_with("role/") && s.len() > 5)
                && r.len() <= 2048;
            if !ok {
                return Err(Error::invalid(
                    "roleArn",
                    format!(
                        "must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), got {r:?}"
                    ),
                ));
            }
        }
    }
    if let Some(d) = &input.description
        && (d.is_empty() || d.len() > 4096)
    {
        return Err(Error::invalid(
            "description",
            "must be 1 to 4096 characters",
        ));
    }
    check_client_token(&input.client_token)?;
    if let Some(env) = &input.environment_variables {
        if env.len() > 50 {
            return Err(Error::invalid(
                "environmentVariables",
                format!("at most 50 variables, got {}", env.len()),
            ));
        }
        for (k, v) in env.iter() {
            if k.is_empty() || k.len() > 100 {
                return Err(Error::invalid(
                    "environmentVariables",
                    format!("name {k:?} must be 1 to 100 characters"),
                ));
            }
            if v.len() > 5000 {
                return Err(Error::invalid(
                    "environmentVariables",
                    format!("value of {k:?} must be at most 5000 characters"),
                ));
            }
        }
    }
    if let Some(fs) = &input.filesystem_configurations {
        validate_filesystem_configurations(fs)?;
    }
    if let Some(t) = &input.tags {
        check_tags(t)?;
    }
    if let Some(v) = &input.platform_version {
        let n = v.chars().count();
        if !(1..=128).contains(&n) || v.chars().any(char::is_whitespace) {
            return Err(Error::invalid(
                "platformVersion",
                format!("must be 1 to 128 characters without whitespace, got {v:?}"),
            ));
        }
    }
    if let Some(ports) = &input.allowed_ports {
        if !(1..=5).contains(&ports.len()) {
            return Err(Error::invalid(
                "allowedPorts",
                format!("must have 1 to 5 entries, got {}", ports.len()),
            ));
        }
        for p in ports {
            let (from, to) = match p {
                AllowedPort::Port(p) => (*p, *p),
                AllowedPort::PortRange(r) => (r.from, r.to),
                _ => continue,
            };
            if from > to {
                return Err(Error::invalid(
                    "allowedPorts",
                    format!("a port range must have from ≤ to, got {from}..{to}"),
                ));
            }
        }
    }
    if let Some(r) = &input.resource_configurations
        && r.len() > 1
    {
        return Err(Error::invalid(
            "resourceConfigurations",
            format!("at most 1 entry, got {}", r.len()),
        ));
    }
    // Every nested bound of the model, on the JSON that would be sent.
    let body = serde_json::to_value(input)
        .map_err(|e| Error::invalid("body", format!("does not serialize: {e}")))?;
    rules::check_runtime_body(&body)
}

/// At most 5 filesystem configurations with unique mount paths.
pub fn validate_filesystem_configurations(fs: &[FilesystemConfiguration]) -> Result<(), Error> {
    if fs.len() > 5 {
        return Err(Error::invalid(
            "filesystemConfigurations",
            format!("at most 5 entries, got {}", fs.len()),
        ));
    }
    let mut seen = HashSet::new();
    for (i, f) in fs.iter().enumerate() {
        if let FilesystemConfiguration::Unknown(v) = f {
            check_unknown_filesystem(i, v)?;
        }
        // Mount paths decode from responses unchecked; what is sent is checked here.
        if let Some(p) = f.mount_path() {
            p.as_str().parse::<MountPath>()?;
        }
        if let Some(p) = f.mount_path()
            && !seen.insert(p.normalized().to_owned())
        {
            return Err(Error::invalid(
                "filesystemConfigurations",
                format!("mount path {p} is used twice; mount paths must be unique"),
            ));
        }
    }
    Ok(())
}

/// A known member that failed to decode lands in `Unknown`; report why instead of accepting
/// it silently.
fn check_unknown_filesystem(index: usize, v: &serde_json::Value) -> Result<(), Error> {
    fn member<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> Option<String> {
        serde_json::from_value::<T>(v.clone())
            .err()
            .map(|e| e.to_string())
    }
    let Some(obj) = v.as_object() else {
        return Err(Error::invalid(
            "filesystemConfigurations",
            format!("entry {index} must be an object with exactly one member"),
        ));
    };
    if obj.len() != 1 {
        return Err(Error::invalid(
            "filesystemConfigurations",
            format!(
                "entry {index} must have exactly one member, got {}",
                obj.len()
            ),
        ));
    }
    let problem = obj.iter().find_map(|(k, inner)| match k.as_str() {
        "sessionStorage" => member::<SessionStorageConfiguration>(inner),
        "efsAccessPoint" | "s3FilesAccessPoint" => member::<AccessPointConfiguration>(inner),
        "capacityProviderVolume" => member::<CapacityProviderVolumeConfiguration>(inner),
        _ => None,
    });
    match problem {
        Some(p) => Err(Error::invalid(
            "filesystemConfigurations",
            format!("entry {index}: {p}"),
        )),
        None => Ok(()),
    }
}

/// Overlays the members of `body` (a JSON object in the service's own member names) on
/// `input`: each member of `body` replaces the one of the same name, the others are kept;
/// members this SDK does not know are kept as they are and sent.
fn overlay_json<T>(input: &T, body: serde_json::Value) -> Result<T, Error>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let serde_json::Value::Object(members) = body else {
        return Err(Error::invalid("body", "must be a JSON object"));
    };
    let mut current = match serde_json::to_value(input) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    for (k, v) in members {
        if v.is_null() {
            current.remove(&k);
        } else {
            current.insert(k, v);
        }
    }
    serde_json::from_value(serde_json::Value::Object(current))
        .map_err(|e| Error::invalid("body", e.to_string()))
}

/// Setters shared by create and update.
macro_rules! runtime_setters {
    () => {
        /// What the runtime runs.
        pub fn artifact(mut self, artifact: AgentRuntimeArtifact) -> Self {
            self.input.agent_runtime_artifact = Some(artifact);
            self
        }
        /// Shortcut for a container image artifact.
        pub fn container_uri(self, uri: impl Into<String>) -> Self {
            self.artifact(AgentRuntimeArtifact::container(uri))
        }
        /// The IAM role ARN sessions run with.
        pub fn role_arn(mut self, arn: impl Into<String>) -> Self {
            self.input.role_arn = Some(arn.into());
            self
        }
        /// Network settings.
        pub fn network_configuration(mut self, c: NetworkConfiguration) -> Self {
            self.input.network_configuration = Some(c);
            self
        }
        /// Protocol settings.
        pub fn protocol_configuration(mut self, c: ProtocolConfiguration) -> Self {
            self.input.protocol_configuration = Some(c);
            self
        }
        /// Session lifetime limits.
        pub fn lifecycle_configuration(mut self, c: LifecycleConfiguration) -> Self {
            self.input.lifecycle_configuration = Some(c);
            self
        }
        /// Replaces all environment variables.
        pub fn environment_variables(mut self, env: EnvironmentVariables) -> Self {
            self.input.environment_variables = Some(env);
            self
        }
        /// Adds one environment variable.
        pub fn environment_variable(
            mut self,
            name: impl Into<String>,
            value: impl Into<String>,
        ) -> Self {
            self.input
                .environment_variables
                .get_or_insert_with(EnvironmentVariables::new)
                .insert(name, value);
            self
        }
        /// Adds a filesystem configuration.
        pub fn filesystem_configuration(mut self, fs: FilesystemConfiguration) -> Self {
            self.input
                .filesystem_configurations
                .get_or_insert_with(Vec::new)
                .push(fs);
            self
        }
        /// Replaces all filesystem configurations.
        pub fn filesystem_configurations(mut self, fs: Vec<FilesystemConfiguration>) -> Self {
            self.input.filesystem_configurations = Some(fs);
            self
        }
        /// Adds session storage at `mount_path` (checked when sent).
        pub fn session_storage(mut self, mount_path: impl AsRef<str>) -> Self {
            match mount_path.as_ref().parse::<MountPath>() {
                Ok(p) => self.filesystem_configuration(FilesystemConfiguration::session_storage(p)),
                Err(e) => {
                    self.deferred.get_or_insert(e.into());
                    self
                }
            }
        }
        /// Description (1..=4096 characters).
        pub fn description(mut self, d: impl Into<String>) -> Self {
            self.input.description = Some(d.into());
            self
        }
        /// Idempotency token (33..=256 characters); one is generated when absent.
        pub fn client_token(mut self, t: impl Into<String>) -> Self {
            self.input.client_token = Some(t.into());
            self
        }
        /// Inbound authorizer (e.g. [`AuthorizerConfiguration::jwt`]).
        pub fn authorizer_configuration(mut self, c: AuthorizerConfiguration) -> Self {
            self.input.authorizer_configuration = Some(c);
            self
        }
        /// Lifecycle hooks.
        pub fn hooks_configuration(mut self, c: RuntimeHooksConfiguration) -> Self {
            self.input.hooks_configuration = Some(c);
            self
        }
        /// Run on a capacity provider.
        pub fn capacity_provider_configuration(mut self, c: CapacityProviderConfiguration) -> Self {
            self.input.capacity_provider_configuration = Some(c);
            self
        }
        /// Platform version.
        pub fn platform_version(mut self, v: impl Into<String>) -> Self {
            self.input.platform_version = Some(v.into());
            self
        }
        /// Adds a port reachable through the session URL.
        pub fn allowed_port(mut self, p: AllowedPort) -> Self {
            self.input
                .allowed_ports
                .get_or_insert_with(Vec::new)
                .push(p);
            self
        }
        /// Replaces the ports reachable through the session URL.
        pub fn allowed_ports(mut self, p: Vec<AllowedPort>) -> Self {
            self.input.allowed_ports = Some(p);
            self
        }
        /// Resources of each session (at most one entry).
        pub fn resource_configurations(mut self, r: Vec<ResourceConfiguration>) -> Self {
            self.input.resource_configurations = Some(r);
            self
        }
        /// Headers passed through to the agent.
        pub fn request_header_configuration(mut self, c: RequestHeaderConfiguration) -> Self {
            self.input.request_header_configuration = Some(c);
            self
        }
        /// Sets every member given in `body`, a request body in the service's JSON (camelCase
        /// member names, as in the service model and `--cli-input-json`): each member replaces
        /// what the builder has under that name (`null` removes it); members this SDK does not
        /// know are sent as they are. Setters called later win. A body that is not an object
        /// or whose members do not decode is reported by `send`.
        ///
        /// ```no_run
        /// # async fn f(client: agentcore_sdk::Client) -> Result<(), agentcore_sdk::Error> {
        /// let settings = serde_json::json!({
        ///     "agentRuntimeName": "coder",
        ///     "agentRuntimeArtifact": {"containerConfiguration": {"containerUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/coder:1"}},
        ///     "roleArn": "arn:aws:iam::123456789012:role/agentcore",
        ///     "lifecycleConfiguration": {"idleRuntimeSessionTimeout": 600},
        /// });
        /// client.create_agent_runtime().from_json(settings).send().await?;
        /// # Ok(()) }
        /// ```
        pub fn from_json(mut self, body: serde_json::Value) -> Self {
            match overlay_json(&self.input, body) {
                Ok(input) => self.input = input,
                Err(e) => {
                    self.deferred.get_or_insert(e.into());
                }
            }
            self
        }
    };
}

/// CreateAgentRuntime. See [`Client::create_agent_runtime`].
#[derive(Debug, Clone)]
#[must_use = "call .send().await"]
pub struct CreateAgentRuntime {
    transport: Transport,
    input: AgentRuntimeInput,
    deferred: Option<crate::error::Deferred>,
}

impl CreateAgentRuntime {
    crate::config::config_override_setter!();

    pub(crate) fn new(transport: Transport) -> Self {
        Self {
            transport,
            input: AgentRuntimeInput::default(),
            deferred: None,
        }
    }

    /// The runtime name: `[a-zA-Z][a-zA-Z0-9_]{0,47}`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.input.agent_runtime_name = Some(name.into());
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.input
            .tags
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }

    runtime_setters!();

    /// Validates and sends the request.
    ///
    /// Dropping the future before it completes abandons the call here; a request that already
    /// reached the service may still take effect. Sending it again with the same client token is
    /// safe and tells the outcome.
    pub async fn send(self) -> Result<AgentRuntimeChange, Error> {
        if let Some(e) = self.deferred {
            return Err(e.into());
        }
        let mut input = self.input;
        validate_runtime_input(&input, true)?;
        input
            .client_token
            .get_or_insert_with(|| ClientToken::generate().into_string());
        let req = Request::control("CreateAgentRuntime", Method::PUT, "/runtimes/".into())
            .json_body(&input)?;
        send(&self.transport, &req).await
    }
}

/// UpdateAgentRuntime. See [`Client::update_agent_runtime`].
#[derive(Debug, Clone)]
#[must_use = "call .send().await"]
pub struct UpdateAgentRuntime {
    transport: Transport,
    id: String,
    input: AgentRuntimeInput,
    deferred: Option<crate::error::Deferred>,
}

impl UpdateAgentRuntime {
    crate::config::config_override_setter!();

    pub(crate) fn new(transport: Transport, id: String) -> Self {
        Self {
            transport,
            id,
            input: AgentRuntimeInput::default(),
            deferred: None,
        }
    }

    runtime_setters!();

    /// Starts from `runtime` as GetAgentRuntime returned it: every setting it has — including
    /// members this SDK does not know, kept in `unknown_members` — is sent back unless a
    /// later setter changes it. The read-modify-write of an update, losing nothing:
    ///
    /// ```no_run
    /// # async fn f(client: agentcore_sdk::Client) -> Result<(), agentcore_sdk::Error> {
    /// let rt = client.get_agent_runtime("coder-abc1234567").send().await?;
    /// client
    ///     .update_agent_runtime(&rt.agent_runtime_id)
    ///     .from_runtime(&rt)
    ///     .environment_variable("LOG_LEVEL", "debug")
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn from_runtime(mut self, runtime: &AgentRuntime) -> Self {
        let rt = runtime.clone();
        let i = &mut self.input;
        i.agent_runtime_artifact = rt.agent_runtime_artifact;
        i.role_arn = Some(rt.role_arn);
        i.network_configuration = rt.network_configuration;
        i.description = rt.description;
        i.authorizer_configuration = rt.authorizer_configuration;
        i.request_header_configuration = rt.request_header_configuration;
        i.protocol_configuration = rt.protocol_configuration;
        i.lifecycle_configuration = Some(rt.lifecycle_configuration);
        i.environment_variables = rt.environment_variables;
        i.filesystem_configurations =
            (!rt.filesystem_configurations.is_empty()).then_some(rt.filesystem_configurations);
        i.hooks_configuration = rt.hooks_configuration;
        i.metadata_configuration = rt.metadata_configuration;
        i.capacity_provider_configuration = rt.capacity_provider_configuration;
        i.platform_version = rt.platform_version;
        i.allowed_ports = rt.allowed_ports;
        i.resource_configurations = rt.resource_configurations;
        i.unknown_members = rt.unknown_members;
        self
    }

    /// Instance metadata settings (update only).
    pub fn metadata_configuration(mut self, c: RuntimeMetadataConfiguration) -> Self {
        self.input.metadata_configuration = Some(c);
        self
    }

    /// Validates and sends the request. The service requires the artifact and role again.
    ///
    /// Dropping the future before it completes abandons the call here; a request that already
    /// reached the service may still take effect. Sending it again with the same client token is
    /// safe and tells the outcome.
    pub async fn send(self) -> Result<AgentRuntimeChange, Error> {
        if let Some(e) = self.deferred {
            return Err(e.into());
        }
        let id = parse_runtime_id(&self.id)?;
        let mut input = self.input;
        validate_runtime_input(&input, false)?;
        input
            .client_token
            .get_or_insert_with(|| ClientToken::generate().into_string());
        let req = Request::control("UpdateAgentRuntime", Method::PUT, runtime_path(&id, ""))
            .json_body(&input)?;
        send(&self.transport, &req).await
    }
}

/// GetAgentRuntime. See [`Client::get_agent_runtime`].
#[derive(Debug, Clone)]
#[must_use = "call .send().await"]
pub struct GetAgentRuntime {
    transport: Transport,
    id: String,
    version: Option<String>,
}

impl GetAgentRuntime {
    crate::config::config_override_setter!();

    pub(crate) fn new(transport: Transport, id: String) -> Self {
        Self {
            transport,
            id,
            version: None,
        }
    }

    /// A specific version (default: the latest).
    pub fn version(mut self, v: impl Into<String>) -> Self {
        self.version = Some(v.into());
        self
    }

    /// Sends the request.
    ///
    /// Dropping the future abandons the call; nothing changes on the service.
    pub async fn send(self) -> Result<AgentRuntime, Error> {
        let id = parse_runtime_id(&self.id)?;
        check_version(&self.version)?;
        let req = Request::control("GetAgentRuntime", Method::GET, runtime_path(&id, ""))
            .query("version", self.version);
        send(&self.transport, &req).await
    }
}

/// DeleteAgentRuntime. See [`Client::delete_agent_runtime`].
#[derive(Debug, Clone)]
#[must_use = "call .send().await"]
pub struct DeleteAgentRuntime {
    transport: Transport,
    id: String,
    version: Option<String>,
    client_token: Option<String>,
}

impl DeleteAgentRuntime {
    crate::config::config_override_setter!();

    pub(crate) fn new(transport: Transport, id: String) -> Self {
        Self {
            transport,
            id,
            version: None,
            client_token: None,
        }
    }

    /// Delete one version only.
    pub fn version(mut self, v: impl Into<String>) -> Self {
        self.version = Some(v.into());
        self
    }

    /// Idempotency token; one is generated when absent.
    pub fn client_token(mut self, t: impl Into<String>) -> Self {
        self.client_token = Some(t.into());
        self
    }

    /// Sends the request.
    ///
    /// Dropping the future before it completes abandons the call here; a request that already
    /// reached the service may still take effect. Sending it again with the same client token is
    /// safe and tells the outcome.
    pub async fn send(self) -> Result<DeletedAgentRuntime, Error> {
        let id = parse_runtime_id(&self.id)?;
        check_version(&self.version)?;
        check_client_token(&self.client_token)?;
        let token = self
            .client_token
            .unwrap_or_else(|| ClientToken::generate().into_string());
        let req = Request::control("DeleteAgentRuntime", Method::DELETE, runtime_path(&id, ""))
            .query("version", self.version)
            .query("clientToken", Some(token));
        send(&self.transport, &req).await
    }
}

/// A paginated list request: `send()` for one page, `into_stream()` for every item,
/// `into_pages()` for every page.
#[derive(Debug, Clone)]
#[must_use = "call .send().await or .into_stream()"]
pub struct ListRequest<P> {
    transport: Transport,
    operation: &'static str,
    path: Result<String, crate::error::Deferred>,
    max_results: Option<u32>,
    next_token: Option<String>,
    _page: std::marker::PhantomData<fn() -> P>,
}

/// A page type of a list operation.
pub trait Page: serde::de::DeserializeOwned + Send + 'static {
    /// The item type.
    type Item: Send + 'static;
    /// The token of the next page, if there is one.
    fn next_token(&self) -> Option<&str>;
    /// The items of this page.
    fn into_items(self) -> Vec<Self::Item>;
}

impl Page for AgentRuntimesPage {
    type Item = AgentRuntimeSummary;
    fn next_token(&self) -> Option<&str> {
        self.next_token.as_deref()
    }
    fn into_items(self) -> Vec<AgentRuntimeSummary> {
        self.agent_runtimes
    }
}

impl Page for AgentRuntimeEndpointsPage {
    type Item = AgentRuntimeEndpoint;
    fn next_token(&self) -> Option<&str> {
        self.next_token.as_deref()
    }
    fn into_items(self) -> Vec<AgentRuntimeEndpoint> {
        self.runtime_endpoints
    }
}

impl<P: Page> ListRequest<P> {
    crate::config::config_override_setter!();

    pub(crate) fn new(
        transport: Transport,
        operation: &'static str,
        path: Result<String, Error>,
    ) -> Self {
        let path = path.map_err(crate::error::Deferred::from);
        Self {
            transport,
            operation,
            path,
            max_results: None,
            next_token: None,
            _page: std::marker::PhantomData,
        }
    }

    /// Items per page (1..=100).
    pub fn max_results(mut self, n: u32) -> Self {
        self.max_results = Some(n);
        self
    }

    /// Start from this page token.
    pub fn next_token(mut self, t: impl Into<String>) -> Self {
        self.next_token = Some(t.into());
        self
    }

    /// Fetches one page.
    ///
    /// Dropping the future abandons the call; nothing changes on the service.
    pub async fn send(&self) -> Result<P, Error> {
        let path = self.path.clone().map_err(Error::from)?;
        check_range("maxResults", self.max_results, 1, 100)?;
        check_next_token(&self.next_token)?;
        let req = Request::control(self.operation, Method::POST, path)
            .query("maxResults", self.max_results)
            .query("nextToken", self.next_token.clone());
        send(&self.transport, &req).await
    }

    /// Every item of every page, fetching pages as the stream is read.
    ///
    /// Dropping the stream stops fetching pages; nothing changes on the service.
    pub fn into_stream(
        self,
    ) -> impl Stream<Item = Result<P::Item, Error>> + Send + Sync + Unpin + 'static {
        use futures::{StreamExt, TryStreamExt};
        // Items need not be `Sync`: the stream is, through `SyncStream` (used by `&mut` only).
        sync_wrapper::SyncStream::new(
            self.into_pages()
                .map_ok(|p| futures::stream::iter(p.into_items().into_iter().map(Ok)))
                .try_flatten()
                .boxed(),
        )
    }

    /// Every page, one request each. Stops when the service returns no token (or repeats
    /// the last one).
    ///
    /// Dropping the stream stops fetching pages; nothing changes on the service.
    pub fn into_pages(self) -> impl Stream<Item = Result<P, Error>> + Send + Sync + 'static {
        futures::stream::try_unfold(Some(self), |state| async move {
            let Some(mut req) = state else {
                return Ok(None);
            };
            let page: P = req.send().await?;
            let next_state = match page.next_token() {
                Some(t) if !t.is_empty() && Some(t) != req.next_token.as_deref() => {
                    req.next_token = Some(t.to_owned());
                    Some(req)
                }
                _ => None,
            };
            Ok(Some((page, next_state)))
        })
    }
}

/// CreateAgentRuntimeEndpoint. See [`Client::create_agent_runtime_endpoint`].
#[derive(Debug, Clone)]
#[must_use = "call .send().await"]
pub struct CreateAgentRuntimeEndpoint {
    transport: Transport,
    id: String,
    input: AgentRuntimeEndpointInput,
    deferred: Option<crate::error::Deferred>,
}

impl CreateAgentRuntimeEndpoint {
    crate::config::config_override_setter!();

    pub(crate) fn new(transport: Transport, id: String) -> Self {
        Self {
            transport,
            id,
            input: AgentRuntimeEndpointInput::default(),
            deferred: None,
        }
    }

    /// Sets every member given in `body`, a request body in the service's JSON (camelCase
    /// member names): each member replaces what the builder has under that name (`null`
    /// removes it); members this SDK does not know are sent as they are. Setters called later
    /// win; a body that is not an object is reported by `send`.
    pub fn from_json(mut self, body: serde_json::Value) -> Self {
        match overlay_json(&self.input, body) {
            Ok(input) => self.input = input,
            Err(e) => {
                self.deferred.get_or_insert(e.into());
            }
        }
        self
    }
    /// The endpoint name: `[a-zA-Z][a-zA-Z0-9_]{0,47}`.
    pub fn name(mut self, n: impl Into<String>) -> Self {
        self.input.name = Some(n.into());
        self
    }
    /// The runtime version it serves (default: latest).
    pub fn agent_runtime_version(mut self, v: impl Into<String>) -> Self {
        self.input.agent_runtime_version = Some(v.into());
        self
    }
    /// Description (1..=256 characters).
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.input.description = Some(d.into());
        self
    }
    /// Idempotency token; one is generated when absent.
    pub fn client_token(mut self, t: impl Into<String>) -> Self {
        self.input.client_token = Some(t.into());
        self
    }
    /// Adds a tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.input
            .tags
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }
    /// Validates and sends the request.
    ///
    /// Dropping the future before it completes abandons the call here; a request that already
    /// reached the service may still take effect. Sending it again with the same client token is
    /// safe and tells the outcome.
    pub async fn send(self) -> Result<AgentRuntimeEndpointChange, Error> {
        if let Some(e) = self.deferred {
            return Err(e.into());
        }
        let id = parse_runtime_id(&self.id)?;
        let mut input = self.input;
        match &input.name {
            Some(n) => {
                n.parse::<EndpointName>()?;
            }
            None => return Err(Error::invalid("name", "is required")),
        }
        validate_endpoint_input(&input)?;
        input
            .client_token
            .get_or_insert_with(|| ClientToken::generate().into_string());
        let req = Request::control(
            "CreateAgentRuntimeEndpoint",
            Method::PUT,
            endpoint_path(&id, None),
        )
        .json_body(&input)?;
        send(&self.transport, &req).await
    }
}

impl AgentRuntimeEndpointInput {
    /// Checks the request rules of Create/UpdateAgentRuntimeEndpoint: what the SDK checks
    /// before sending.
    pub fn validate(&self) -> Result<(), Error> {
        validate_endpoint_input(self)
    }
}

fn validate_endpoint_input(input: &AgentRuntimeEndpointInput) -> Result<(), Error> {
    if let Some(d) = &input.description
        && (d.is_empty() || d.len() > 256)
    {
        return Err(Error::invalid("description", "must be 1 to 256 characters"));
    }
    check_version(&input.agent_runtime_version)?;
    if let Some(n) = &input.name {
        n.parse::<EndpointName>()?;
    }
    if let Some(t) = &input.tags {
        check_tags(t)?;
    }
    check_client_token(&input.client_token)
}

/// UpdateAgentRuntimeEndpoint. See [`Client::update_agent_runtime_endpoint`].
#[derive(Debug, Clone)]
#[must_use = "call .send().await"]
pub struct UpdateAgentRuntimeEndpoint {
    transport: Transport,
    id: String,
    name: String,
    input: AgentRuntimeEndpointInput,
    deferred: Option<crate::error::Deferred>,
}

impl UpdateAgentRuntimeEndpoint {
    crate::config::config_override_setter!();

    pub(crate) fn new(transport: Transport, id: String, name: String) -> Self {
        Self {
            transport,
            id,
            name,
            input: AgentRuntimeEndpointInput::default(),
            deferred: None,
        }
    }

    /// Sets every member given in `body`, a request body in the service's JSON (camelCase
    /// member names): each member replaces what the builder has under that name (`null`
    /// removes it); members this SDK does not know are sent as they are. Setters called later
    /// win; a body that is not an object is reported by `send`.
    pub fn from_json(mut self, body: serde_json::Value) -> Self {
        match overlay_json(&self.input, body) {
            Ok(input) => self.input = input,
            Err(e) => {
                self.deferred.get_or_insert(e.into());
            }
        }
        self
    }
    /// The runtime version it should serve.
    pub fn agent_runtime_version(mut self, v: impl Into<String>) -> Self {
        self.input.agent_runtime_version = Some(v.into());
        self
    }
    /// Description (1..=256 characters).
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.input.description = Some(d.into());
        self
    }
    /// Idempotency token; one is generated when absent.
    pub fn client_token(mut self, t: impl Into<String>) -> Self {
        self.input.client_token = Some(t.into());
        self
    }
    /// Validates and sends the request.
    ///
    /// Dropping the future before it completes abandons the call here; a request that already
    /// reached the service may still take effect. Sending it again with the same client token is
    /// safe and tells the outcome.
    pub async fn send(self) -> Result<AgentRuntimeEndpointChange, Error> {
        if let Some(e) = self.deferred {
            return Err(e.into());
        }
        let id = parse_runtime_id(&self.id)?;
        let name: EndpointName = self.name.parse()?;
        let mut input = self.input;
        validate_endpoint_input(&input)?;
        input
            .client_token
            .get_or_insert_with(|| ClientToken::generate().into_string());
        let req = Request::control(
            "UpdateAgentRuntimeEndpoint",
            Method::PUT,
            endpoint_path(&id, Some(&name)),
        )
        .json_body(&input)?;
        send(&self.transport, &req).await
    }
}

/// GetAgentRuntimeEndpoint. See [`Client::get_agent_runtime_endpoint`].
#[derive(Debug, Clone)]
#[must_use = "call .send().await"]
pub struct GetAgentRuntimeEndpoint {
    transport: Transport,
    id: String,
    name: String,
}

impl GetAgentRuntimeEndpoint {
    crate::config::config_override_setter!();

    pub(crate) fn new(transport: Transport, id: String, name: String) -> Self {
        Self {
            transport,
            id,
            name,
        }
    }
    /// Sends the request.
    ///
    /// Dropping the future abandons the call; nothing changes on the service.
    pub async fn send(self) -> Result<AgentRuntimeEndpoint, Error> {
        let id = parse_runtime_id(&self.id)?;
        let name: EndpointName = self.name.parse()?;
        let req = Request::control(
            "GetAgentRuntimeEndpoint",
            Method::GET,
            endpoint_path(&id, Some(&name)),
        );
        send(&self.transport, &req).await
    }
}

/// DeleteAgentRuntimeEndpoint. See [`Client::delete_agent_runtime_endpoint`].
#[derive(Debug, Clone)]
#[must_use = "call .send().await"]
pub struct DeleteAgentRuntimeEndpoint {
    transport: Transport,
    id: String,
    name: String,
    client_token: Option<String>,
}

impl DeleteAgentRuntimeEndpoint {
    crate::config::config_override_setter!();

    pub(crate) fn new(transport: Transport, id: String, name: String) -> Self {
        Self {
            transport,
            id,
            name,
            client_token: None,
        }
    }
    /// Idempotency token; one is generated when absent.
    pub fn client_token(mut self, t: impl Into<String>) -> Self {
        self.client_token = Some(t.into());
        self
    }
    /// Sends the request.
    ///
    /// Dropping the future before it completes abandons the call here; a request that already
    /// reached the service may still take effect. Sending it again with the same client token is
    /// safe and tells the outcome.
    pub async fn send(self) -> Result<DeletedAgentRuntimeEndpoint, Error> {
        let id = parse_runtime_id(&self.id)?;
        let name: EndpointName = self.name.parse()?;
        check_client_token(&self.client_token)?;
        let token = self
            .client_token
            .unwrap_or_else(|| ClientToken::generate().into_string());
        let req = Request::control(
            "DeleteAgentRuntimeEndpoint",
            Method::DELETE,
            endpoint_path(&id, Some(&name)),
        )
        .query("clientToken", Some(token));
        send(&self.transport, &req).await
    }
}

pub(crate) fn list_runtimes_path() -> Result<String, Error> {
    Ok("/runtimes/".into())
}

pub(crate) fn list_versions_path(id: &str) -> Result<String, Error> {
    Ok(runtime_path(&parse_runtime_id(id)?, "versions/"))
}

pub(crate) fn list_endpoints_path(id: &str) -> Result<String, Error> {
    Ok(endpoint_path(&parse_runtime_id(id)?, None))
}

/// Control-plane operations: runtimes and their endpoints.
impl Client {
    /// CreateAgentRuntime.
    pub fn create_agent_runtime(&self) -> CreateAgentRuntime {
        CreateAgentRuntime::new(self.transport().clone())
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
        GetAgentRuntime::new(self.transport().clone(), id.as_ref().to_owned())
    }

    /// UpdateAgentRuntime of the runtime `id`.
    pub fn update_agent_runtime(&self, id: impl AsRef<str>) -> UpdateAgentRuntime {
        UpdateAgentRuntime::new(self.transport().clone(), id.as_ref().to_owned())
    }

    /// DeleteAgentRuntime of the runtime `id`.
    pub fn delete_agent_runtime(&self, id: impl AsRef<str>) -> DeleteAgentRuntime {
        DeleteAgentRuntime::new(self.transport().clone(), id.as_ref().to_owned())
    }

    /// ListAgentRuntimes, page by page or as one stream.
    pub fn list_agent_runtimes(&self) -> ListRequest<AgentRuntimesPage> {
        ListRequest::new(
            self.transport().clone(),
            "ListAgentRuntimes",
            list_runtimes_path(),
        )
    }

    /// ListAgentRuntimeVersions of the runtime `id`.
    pub fn list_agent_runtime_versions(
        &self,
        id: impl AsRef<str>,
    ) -> ListRequest<AgentRuntimesPage> {
        ListRequest::new(
            self.transport().clone(),
            "ListAgentRuntimeVersions",
            list_versions_path(id.as_ref()),
        )
    }

    /// CreateAgentRuntimeEndpoint on the runtime `id`.
    pub fn create_agent_runtime_endpoint(&self, id: impl AsRef<str>) -> CreateAgentRuntimeEndpoint {
        CreateAgentRuntimeEndpoint::new(self.transport().clone(), id.as_ref().to_owned())
    }

    /// GetAgentRuntimeEndpoint `name` of the runtime `id`.
    pub fn get_agent_runtime_endpoint(
        &self,
        id: impl AsRef<str>,
        name: impl AsRef<str>,
    ) -> GetAgentRuntimeEndpoint {
        GetAgentRuntimeEndpoint::new(
            self.transport().clone(),
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
            self.transport().clone(),
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
            self.transport().clone(),
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
            self.transport().clone(),
            "ListAgentRuntimeEndpoints",
            list_endpoints_path(id.as_ref()),
        )
    }
}
