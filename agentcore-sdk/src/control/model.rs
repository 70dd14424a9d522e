//! Control-plane data types, camelCase on the wire like the service model.
//!
//! Unions of the service model (one member set at a time) are Rust enums. Each has an
//! `Unknown` variant that keeps a member added to the service after this SDK was released, so
//! responses never fail to decode because AWS grew the API.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use std::time::SystemTime;

use crate::types::{EndpointName, MountPath, RuntimeArn, RuntimeId, RuntimeName};

pub use super::settings::*;

/// ISO-8601 timestamps (the model's `timestampFormat: iso8601`); epoch seconds are accepted
/// too.
pub(crate) mod timestamp {
    use std::time::SystemTime;

    use aws_smithy_types::DateTime;
    use aws_smithy_types::date_time::Format;
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Number(f64),
    }

    pub(crate) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let text = DateTime::from(*t)
            .fmt(Format::DateTime)
            .map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let t = match Raw::deserialize(d)? {
            Raw::Text(s) => DateTime::from_str(&s, Format::DateTime)
                .map_err(|e| serde::de::Error::custom(format!("bad timestamp {s:?}: {e}")))?,
            Raw::Number(n) if n.is_finite() => DateTime::from_secs_f64(n),
            Raw::Number(n) => {
                return Err(serde::de::Error::custom(format!("bad timestamp {n}")));
            }
        };
        SystemTime::try_from(t)
            .map_err(|e| serde::de::Error::custom(format!("timestamp out of range: {e}")))
    }

    pub(crate) mod option {
        use super::*;
        use serde::Serialize;

        pub(crate) fn serialize<S: Serializer>(
            t: &Option<SystemTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => Option::<String>::None.serialize(s),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<SystemTime>, D::Error> {
            #[derive(Deserialize)]
            struct Wrap(#[serde(with = "super")] SystemTime);
            Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
        }
    }
}

pub use crate::types::{AgentRuntimeEndpointStatus, AgentRuntimeStatus};

/// What an agent runtime runs: a container image, or code from S3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum AgentRuntimeArtifact {
    /// A container image from ECR.
    ContainerConfiguration(ContainerConfiguration),
    /// Code from S3 run on a managed runtime.
    CodeConfiguration(CodeConfiguration),
    /// A member this SDK does not know yet, kept as received.
    #[serde(untagged)]
    Unknown(serde_json::Value),
}

impl AgentRuntimeArtifact {
    /// A container image artifact.
    ///
    /// ```
    /// use agentcore_sdk::control::AgentRuntimeArtifact;
    /// let a = AgentRuntimeArtifact::container("123456789012.dkr.ecr.us-east-1.amazonaws.com/agent:latest");
    /// assert_eq!(serde_json::to_value(&a).unwrap()["containerConfiguration"]["containerUri"],
    ///            "123456789012.dkr.ecr.us-east-1.amazonaws.com/agent:latest");
    /// ```
    pub fn container(uri: impl Into<String>) -> Self {
        Self::ContainerConfiguration(ContainerConfiguration {
            container_uri: uri.into(),
            unknown_members: UnknownMembers::new(),
        })
    }
}

/// A container image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ContainerConfiguration {
    /// The image URI (ECR).
    pub container_uri: String,
    /// Members this SDK does not know, kept as received (and sent back by an update built
    /// from this value).
    #[serde(flatten)]
    pub unknown_members: UnknownMembers,
}

/// Code from S3 on a managed runtime (`PYTHON_3_12`, `NODE_22`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CodeConfiguration {
    /// Where the code is.
    pub code: Code,
    /// The managed runtime.
    pub runtime: ManagedRuntime,
    /// The entry point (1 or 2 items).
    pub entry_point: Vec<String>,
    /// Members this SDK does not know, kept as received (and sent back by an update built
    /// from this value).
    #[serde(flatten)]
    pub unknown_members: UnknownMembers,
}

impl CodeConfiguration {
    /// Code at `s3://bucket/prefix` run by `runtime` (e.g. `"PYTHON_3_12"` or
    /// [`ManagedRuntime::Python312`]) with `entry_point`.
    pub fn s3(
        bucket: impl Into<String>,
        prefix: impl Into<String>,
        runtime: impl Into<ManagedRuntime>,
        entry_point: Vec<String>,
    ) -> Self {
        Self {
            code: Code::S3(S3Location {
                bucket: bucket.into(),
                prefix: prefix.into(),
                version_id: None,
                unknown_members: UnknownMembers::new(),
            }),
            runtime: runtime.into(),
            entry_point,
            unknown_members: UnknownMembers::new(),
        }
    }
}

/// Network mode.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum NetworkMode {
    /// Public internet access.
    Public,
    /// Inside your VPC.
    Vpc,
    /// A mode this SDK does not know yet.
    #[serde(untagged)]
    Unknown(String),
}

/// Where sessions' microVMs connect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct NetworkConfiguration {
    /// `PUBLIC` or `VPC`.
    pub network_mode: NetworkMode,
    /// Subnets and security groups for `VPC` mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_mode_config: Option<VpcConfig>,
    /// Members this SDK does not know, kept as received (and sent back by an update built
    /// from this value).
    #[serde(flatten)]
    pub unknown_members: UnknownMembers,
}

impl NetworkConfiguration {
    /// Public network mode.
    pub fn public() -> Self {
        Self {
            network_mode: NetworkMode::Public,
            network_mode_config: None,
            unknown_members: UnknownMembers::new(),
        }
    }
    /// VPC network mode.
    pub fn vpc(subnets: Vec<String>, security_groups: Vec<String>) -> Self {
        Self {
            network_mode: NetworkMode::Vpc,
            network_mode_config: Some(VpcConfig {
                subnets,
                security_groups,
                require_service_s3_endpoint: None,
                unknown_members: UnknownMembers::new(),
            }),
            unknown_members: UnknownMembers::new(),
        }
    }
}

/// VPC subnets and security groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct VpcConfig {
    /// Security group ids (`sg-...`).
    pub security_groups: Vec<String>,
    /// Subnet ids (`subnet-...`).
    pub subnets: Vec<String>,
    /// Whether the service S3 endpoint is required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_service_s3_endpoint: Option<bool>,
    /// Members this SDK does not know, kept as received (and sent back by an update built
    /// from this value).
    #[serde(flatten)]
    pub unknown_members: UnknownMembers,
}

/// The protocol the agent speaks.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum ServerProtocol {
    /// Plain HTTP (`/invocations`, `/ping`).
    Http,
    /// Model Context Protocol.
    Mcp,
    /// Agent-to-agent.
    A2a,
    /// AG-UI.
    Agui,
    /// A protocol this SDK does not know yet.
    #[serde(untagged)]
    Unknown(String),
}

/// How the runtime talks to the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ProtocolConfiguration {
    /// The protocol.
    pub server_protocol: ServerProtocol,
    /// The agent's port (8000..=12000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The agent's path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Members this SDK does not know, kept as received (and sent back by an update built
    /// from this value).
    #[serde(flatten)]
    pub unknown_members: UnknownMembers,
}

impl ProtocolConfiguration {
    /// The given protocol on its default port and path.
    pub fn new(server_protocol: ServerProtocol) -> Self {
        Self {
            server_protocol,
            port: None,
            path: None,
            unknown_members: UnknownMembers::new(),
        }
    }
}

/// Session lifetime limits, in seconds (each 60..=1209600).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LifecycleConfiguration {
    /// Idle time before a session's microVM stops (default 900).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_runtime_session_timeout: Option<u32>,
    /// Longest life of a session's microVM (default 28800).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_lifetime: Option<u32>,
    /// Members this SDK does not know, kept as received (and sent back by an update built
    /// from this value).
    #[serde(flatten)]
    pub unknown_members: UnknownMembers,
}

impl LifecycleConfiguration {
    /// Both limits, in seconds.
    pub fn new(idle_runtime_session_timeout: Option<u32>, max_lifetime: Option<u32>) -> Self {
        Self {
            idle_runtime_session_timeout,
            max_lifetime,
            unknown_members: UnknownMembers::new(),
        }
    }
}

/// One filesystem mounted into every session's microVM.
///
/// ```
/// use agentcore_sdk::control::FilesystemConfiguration;
/// let fs = FilesystemConfiguration::session_storage("/mnt/workspace".parse()?);
/// assert_eq!(serde_json::to_string(&fs).unwrap(),
///            r#"{"sessionStorage":{"mountPath":"/mnt/workspace"}}"#);
/// # Ok::<(), agentcore_sdk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum FilesystemConfiguration {
    /// Managed per-session persistent storage: survives stop/resume of the same session id,
    /// isolated per session, at most 1 GB, deleted after 14 idle days.
    SessionStorage(SessionStorageConfiguration),
    /// An Amazon EFS access point.
    EfsAccessPoint(AccessPointConfiguration),
    /// An Amazon S3 Files access point.
    S3FilesAccessPoint(AccessPointConfiguration),
    /// A volume of the runtime's capacity provider.
    CapacityProviderVolume(CapacityProviderVolumeConfiguration),
    /// An S3 bucket.
    S3BucketMount(S3BucketMountConfiguration),
    /// A member this SDK does not know yet, kept as received.
    #[serde(untagged)]
    Unknown(serde_json::Value),
}

impl FilesystemConfiguration {
    /// Session storage mounted at `mount_path`.
    pub fn session_storage(mount_path: MountPath) -> Self {
        Self::SessionStorage(SessionStorageConfiguration {
            mount_path,
            unknown_members: UnknownMembers::new(),
        })
    }
    /// An EFS access point mounted at `mount_path`.
    pub fn efs(access_point_arn: impl Into<String>, mount_path: MountPath) -> Self {
        Self::EfsAccessPoint(AccessPointConfiguration {
            access_point_arn: access_point_arn.into(),
            mount_path,
            unknown_members: UnknownMembers::new(),
        })
    }
    /// An S3 Files access point mounted at `mount_path`.
    pub fn s3_files(access_point_arn: impl Into<String>, mount_path: MountPath) -> Self {
        Self::S3FilesAccessPoint(AccessPointConfiguration {
            access_point_arn: access_point_arn.into(),
            mount_path,
            unknown_members: UnknownMembers::new(),
        })
    }
    /// Where it is mounted (`None` for an unknown member).
    pub fn mount_path(&self) -> Option<&MountPath> {
        match self {
            Self::SessionStorage(c) => Some(&c.mount_path),
            Self::EfsAccessPoint(c) | Self::S3FilesAccessPoint(c) => Some(&c.mount_path),
            Self::CapacityProviderVolume(c) => Some(&c.mount_path),
            Self::S3BucketMount(c) => Some(&c.mount_path),
            Self::Unknown(_) => None,
        }
    }
}

/// Session storage settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SessionStorageConfiguration {
    /// Where it is mounted, e.g. `/mnt/workspace`.
    pub mount_path: MountPath,
    /// Members this SDK does not know, kept as received (and sent back by an update built
    /// from this value).
    #[serde(flatten)]
    pub unknown_members: UnknownMembers,
}

/// An EFS or S3 Files access point and where to mount it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AccessPointConfiguration {
    /// The access point ARN.
    pub access_point_arn: String,
    /// Where it is mounted.
    pub mount_path: MountPath,
    /// Members this SDK does not know, kept as received (and sent back by an update built
    /// from this value).
    #[serde(flatten)]
    pub unknown_members: UnknownMembers,
}

/// A capacity provider volume and where to mount it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CapacityProviderVolumeConfiguration {
    /// The volume name.
    pub volume_name: String,
    /// Where it is mounted.
    pub mount_path: MountPath,
    /// Members this SDK does not know, kept as received (and sent back by an update built
    /// from this value).
    #[serde(flatten)]
    pub unknown_members: UnknownMembers,
}

/// Environment variables of the runtime. Values are secret-bearing: `Debug` shows the names
/// only.
///
/// ```
/// use agentcore_sdk::control::EnvironmentVariables;
/// let env = EnvironmentVariables::new().with("GITHUB_TOKEN", "ghp_secret");
/// assert!(!format!("{env:?}").contains("ghp_secret"));
/// assert_eq!(env.get("GITHUB_TOKEN"), Some("ghp_secret"));
/// ```
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EnvironmentVariables(BTreeMap<String, String>);

impl EnvironmentVariables {
    /// No variables.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a variable.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.insert(name.into(), value.into());
        self
    }
    /// Sets a variable.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }
    /// A variable's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
    /// How many variables there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// `true` when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Names and values.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for EnvironmentVariables {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl fmt::Debug for EnvironmentVariables {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "** redacted **")))
            .finish()
    }
}

/// Headers passed through to the agent (a union of the service model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum RequestHeaderConfiguration {
    /// Header names allowed through (1..=20).
    RequestHeaderAllowlist(Vec<String>),
    /// A member this SDK does not know yet, kept as received.
    #[serde(untagged)]
    Unknown(serde_json::Value),
}

impl RequestHeaderConfiguration {
    /// Allow these headers through.
    pub fn allow(headers: Vec<String>) -> Self {
        Self::RequestHeaderAllowlist(headers)
    }

    /// The allowed header names (empty for an unknown member).
    pub fn allowlist(&self) -> &[String] {
        match self {
            Self::RequestHeaderAllowlist(h) => h,
            Self::Unknown(_) => &[],
        }
    }
}

/// The full description of an agent runtime (GetAgentRuntime).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AgentRuntime {
    /// The runtime ARN.
    pub agent_runtime_arn: RuntimeArn,
    /// The runtime name.
    pub agent_runtime_name: RuntimeName,
    /// The runtime id.
    pub agent_runtime_id: RuntimeId,
    /// The version described.
    pub agent_runtime_version: String,
    /// When it was created.
    #[serde(with = "timestamp")]
    pub created_at: SystemTime,
    /// When it was last updated.
    #[serde(with = "timestamp")]
    pub last_updated_at: SystemTime,
    /// The IAM role sessions run with.
    pub role_arn: String,
    /// The current status.
    pub status: AgentRuntimeStatus,
    /// Why it failed, for `*_FAILED` states.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// The description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_runtime_artifact: Option<AgentRuntimeArtifact>,
    /// Network settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_configuration: Option<NetworkConfiguration>,
    /// Protocol settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_configuration: Option<ProtocolConfiguration>,
    /// Session lifetime limits.
    #[serde(default)]
    pub lifecycle_configuration: LifecycleConfiguration,
    /// Environment variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_variables: Option<EnvironmentVariables>,
    /// Mounted filesystems.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filesystem_configurations: Vec<FilesystemConfiguration>,
    /// Inbound authorizer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_configuration: Option<AuthorizerConfiguration>,
    /// Headers passed through to the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_header_configuration: Option<RequestHeaderConfiguration>,
    /// Workload identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_identity_details: Option<WorkloadIdentityDetails>,
    /// Instance metadata settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_configuration: Option<RuntimeMetadataConfiguration>,
    /// Lifecycle hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks_configuration: Option<RuntimeHooksConfiguration>,
    /// Capacity provider to run on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_provider_configuration: Option<CapacityProviderConfiguration>,
    /// Platform version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_version: Option<String>,
    /// Extra ports reachable through the session URL (1..=5, non-overlapping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_ports: Option<Vec<AllowedPort>>,
    /// Resources of each session (at most one entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_configurations: Option<Vec<ResourceConfiguration>>,
    /// Members this SDK does not know, kept as received (and sent back by an update built
    /// from this value).
    #[serde(flatten)]
    pub unknown_members: UnknownMembers,
}

/// One line of ListAgentRuntimes / ListAgentRuntimeVersions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AgentRuntimeSummary {
    /// The runtime ARN.
    pub agent_runtime_arn: RuntimeArn,
    /// The runtime id.
    pub agent_runtime_id: RuntimeId,
    /// The version.
    pub agent_runtime_version: String,
    /// The runtime name.
    pub agent_runtime_name: RuntimeName,
    /// The description.
    #[serde(default)]
    pub description: String,
    /// When it was last updated.
    #[serde(with = "timestamp")]
    pub last_updated_at: SystemTime,
    /// The status.
    pub status: AgentRuntimeStatus,
    /// Members this SDK does not know, kept as received (and sent back by an update built
    /// from this value).
    #[serde(flatten)]
    pub unknown_members: UnknownMembers,
}

/// What CreateAgentRuntime and UpdateAgentRuntime return.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AgentRuntimeChange {
    /// The runtime ARN.
    pub agent_runtime_arn: RuntimeArn,
    /// The runtime id.
    pub agent_runtime_id: RuntimeId,
    /// The new version.
    pub agent_runtime_version: String,
    /// When the runtime was created.
    #[serde(with = "timestamp")]
    pub created_at: SystemTime,
    /// When it was updated (UpdateAgentRuntime only).
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_updated_at: Option<SystemTime>,
    /// The status, usually `CREATING` or `UPDATING`.
    pub status: AgentRuntimeStatus,
    /// Workload identity (kept as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_identity_details: Option<serde_json::Value>,
    /// Members this SDK does not know, kept as received (and sent back by an update built
    /// from this value).
    #[serde(flatten)]
    pub unknown_members: UnknownMembers,
}

/// What DeleteAgentRuntime returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DeletedAgentRuntime {
    /// Usually `DELETING`.
    pub status: AgentRuntimeStatus,
    /// The runtime id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_runtime_id: Option<RuntimeId>,
    /// The version deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_runtime_version: Option<String>,
    /// Members this SDK does not know, kept as received (and sent back by an update built
    /// from this value).
    #[serde(flatten)]
    pub unknown_members: UnknownMembers,
}

/// An agent runtime endpoint (Get / List AgentRuntimeEndpoint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AgentRuntimeEndpoint {
    /// The endpoint name.
    pub name: EndpointName,
    /// The endpoint id.
    pub id: String,
    /// The version serving now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_version: Option<String>,
    /// The version being rolled out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_version: Option<String>,
    /// The endpoint ARN.
    pub agent_runtime_endpoint_arn: String,
    /// The runtime ARN.
    pub agent_runtime_arn: RuntimeArn,
    /// The status.
    pub status: AgentRuntimeEndpointStatus,
    /// The description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// When it was created.
    #[serde(with = "timestamp")]
    pub created_at: SystemTime,
    /// When it was last updated.
    #[serde(with = "timestamp")]
    pub last_updated_at: SystemTime,
    /// Members this SDK does not know, kept as received (and sent back by an update built
    /// from this value).
    #[serde(flatten)]
    pub unknown_members: UnknownMembers,
}

/// What Create / UpdateAgentRuntimeEndpoint return.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AgentRuntimeEndpointChange {
    /// The version being rolled out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_version: Option<String>,
    /// The version serving now (update only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_version: Option<String>,
    /// The endpoint ARN.
    pub agent_runtime_endpoint_arn: String,
    /// The runtime ARN.
    pub agent_runtime_arn: RuntimeArn,
    /// The runtime id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_runtime_id: Option<RuntimeId>,
    /// The endpoint name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_name: Option<EndpointName>,
    /// The status.
    pub status: AgentRuntimeEndpointStatus,
    /// When it was created.
    #[serde(with = "timestamp")]
    pub created_at: SystemTime,
    /// When it was last updated (update only).
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_updated_at: Option<SystemTime>,
    /// Members this SDK does not know, kept as received (and sent back by an update built
    /// from this value).
    #[serde(flatten)]
    pub unknown_members: UnknownMembers,
}

/// What DeleteAgentRuntimeEndpoint returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DeletedAgentRuntimeEndpoint {
    /// Usually `DELETING`.
    pub status: AgentRuntimeEndpointStatus,
    /// The runtime id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_runtime_id: Option<RuntimeId>,
    /// The endpoint name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_name: Option<EndpointName>,
    /// Members this SDK does not know, kept as received (and sent back by an update built
    /// from this value).
    #[serde(flatten)]
    pub unknown_members: UnknownMembers,
}

/// The create / update body of an agent runtime, as sent on the wire. Built by
/// [`CreateAgentRuntime`](super::CreateAgentRuntime) and
/// [`UpdateAgentRuntime`](super::UpdateAgentRuntime); public so servers (like
/// `agentcore-local`) can decode it. Not part of the public API (see `__private`).
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AgentRuntimeInput {
    /// Name (create only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_runtime_name: Option<String>,
    /// What it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_runtime_artifact: Option<AgentRuntimeArtifact>,
    /// The IAM role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// Network settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_configuration: Option<NetworkConfiguration>,
    /// Idempotency token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Inbound authorizer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_configuration: Option<AuthorizerConfiguration>,
    /// Headers passed through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_header_configuration: Option<RequestHeaderConfiguration>,
    /// Protocol settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_configuration: Option<ProtocolConfiguration>,
    /// Session lifetime limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_configuration: Option<LifecycleConfiguration>,
    /// Environment variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_variables: Option<EnvironmentVariables>,
    /// Mounted filesystems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filesystem_configurations: Option<Vec<FilesystemConfiguration>>,
    /// Tags (create only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// Instance metadata settings (update only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_configuration: Option<RuntimeMetadataConfiguration>,
    /// Lifecycle hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks_configuration: Option<RuntimeHooksConfiguration>,
    /// Capacity provider to run on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_provider_configuration: Option<CapacityProviderConfiguration>,
    /// Platform version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_version: Option<String>,
    /// Extra ports reachable through the session URL (1..=5, non-overlapping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_ports: Option<Vec<AllowedPort>>,
    /// Resources of each session (at most one entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_configurations: Option<Vec<ResourceConfiguration>>,
    /// Members this SDK does not know, kept as received (and sent back by an update built
    /// from this value).
    #[serde(flatten)]
    pub unknown_members: UnknownMembers,
}

/// The create / update body of an agent runtime endpoint, as sent on the wire. Not part of
/// the public API (see `__private`).
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AgentRuntimeEndpointInput {
    /// Endpoint name (create only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The runtime version it serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_runtime_version: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Idempotency token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// Tags (create only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// Members this SDK does not know, kept as received (and sent back by an update built
    /// from this value).
    #[serde(flatten)]
    pub unknown_members: UnknownMembers,
}

/// A page of a list operation, as on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AgentRuntimesPage {
    /// The runtimes (or versions) on this page.
    #[serde(default)]
    pub agent_runtimes: Vec<AgentRuntimeSummary>,
    /// The token of the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// A page of ListAgentRuntimeEndpoints, as on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AgentRuntimeEndpointsPage {
    /// The endpoints on this page.
    #[serde(default)]
    pub runtime_endpoints: Vec<AgentRuntimeEndpoint>,
    /// The token of the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_union_members_are_kept() {
        let fs: FilesystemConfiguration =
            serde_json::from_str(r#"{"futureVolume":{"mountPath":"/mnt/x"}}"#).unwrap();
        assert!(matches!(fs, FilesystemConfiguration::Unknown(_)));
        let s: AgentRuntimeStatus = serde_json::from_str(r#""PAUSED""#).unwrap();
        assert_eq!(s, AgentRuntimeStatus::Unknown("PAUSED".into()));
        let s: AgentRuntimeStatus = serde_json::from_str(r#""CREATE_FAILED""#).unwrap();
        assert!(s.is_failed());
    }

    #[test]
    fn timestamps_both_forms() {
        #[derive(Deserialize)]
        struct T {
            #[serde(with = "timestamp")]
            t: SystemTime,
        }
        #[derive(Serialize)]
        struct Wrapper(#[serde(with = "timestamp")] SystemTime);
        let a: T = serde_json::from_str(r#"{"t":"2026-01-02T03:04:05Z"}"#).unwrap();
        let b: T = serde_json::from_str(r#"{"t":1767323045}"#).unwrap();
        assert_eq!(a.t, b.t);
        // Far out of range: decoded or refused, never a panic (the test fails on one).
        for far in [
            r#"{"t":1e300}"#,
            r#"{"t":-1e300}"#,
            r#"{"t":"9999-12-31T23:59:59Z"}"#,
        ] {
            if let Ok(t) = serde_json::from_str::<T>(far) {
                let _ = serde_json::to_string(&Wrapper(t.t));
            }
        }
    }
}
