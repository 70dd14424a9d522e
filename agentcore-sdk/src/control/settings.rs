//! Runtime settings added to the service model after the first release: ports, capacity
//! providers, resources, lifecycle hooks, metadata, S3 bucket mounts, the typed inbound
//! authorizer and code artifacts.
//!
//! Every structure keeps members this SDK does not know in `unknown_members`, and every
//! union and enum has an `Unknown` variant, so a response from a newer service decodes and
//! a get → update round trip sends back what it received.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::types::MountPath;

/// Members of a structure that this SDK does not know, kept as received (see the module
/// documentation).
pub use crate::types::UnknownMembers;

/// A string enum of the service model with an `Unknown` variant for values added later.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $wire:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $wire)] $variant,)+
            /// A value this SDK does not know yet, kept as received.
            #[serde(untagged)]
            Unknown(String),
        }

        impl $name {
            /// The wire form.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Unknown(s) => s,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A structure of the service model: camelCase members, unknown members kept.
macro_rules! wire_struct {
    ($(#[$doc:meta])* $name:ident { $($body:tt)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        #[non_exhaustive]
        pub struct $name {
            $($body)*
            /// Members this SDK does not know, kept as received.
            #[serde(flatten)]
            pub unknown_members: UnknownMembers,
        }
    };
}

// ---- ports ----

/// A port (or range) on the runtime reachable through the session URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum AllowedPort {
    /// One port (8000..=12000).
    Port(u16),
    /// A range of ports.
    PortRange(PortRange),
    /// A member this SDK does not know yet, kept as received.
    #[serde(untagged)]
    Unknown(serde_json::Value),
}

wire_struct! {
    /// A range of ports, both ends included (8000..=12000).
    PortRange {
        /// First port.
        pub from: u16,
        /// Last port.
        pub to: u16,
    }
}

impl PortRange {
    /// `from..=to`.
    pub fn new(from: u16, to: u16) -> Self {
        Self {
            from,
            to,
            unknown_members: UnknownMembers::new(),
        }
    }
}

// ---- capacity providers ----

wire_struct! {
    /// Runs the runtime on a capacity provider.
    CapacityProviderConfiguration {
        /// The capacity provider's ARN.
        pub capacity_provider_arn: String,
        /// The operating system settings.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub operating_system_configuration: Option<OperatingSystemConfiguration>,
    }
}

impl CapacityProviderConfiguration {
    /// The capacity provider `arn`, default operating system settings.
    pub fn new(arn: impl Into<String>) -> Self {
        Self {
            capacity_provider_arn: arn.into(),
            operating_system_configuration: None,
            unknown_members: UnknownMembers::new(),
        }
    }
}

/// Operating system settings of a capacity provider runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum OperatingSystemConfiguration {
    /// Linux.
    Linux(LinuxOperatingSystemConfiguration),
    /// A member this SDK does not know yet, kept as received.
    #[serde(untagged)]
    Unknown(serde_json::Value),
}

wire_struct! {
    /// Linux settings.
    LinuxOperatingSystemConfiguration {
        /// Standard or privileged.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub privilege_mode: Option<PrivilegeMode>,
    }
}

wire_enum! {
    /// How privileged the agent's processes are.
    PrivilegeMode {
        /// Standard.
        Standard = "STANDARD",
        /// Privileged.
        Privileged = "PRIVILEGED",
    }
}

// ---- resources, hooks, metadata ----

wire_struct! {
    /// Resources of each session's microVM.
    ResourceConfiguration {
        /// Minimum memory, in MiB.
        #[serde(rename = "minimumMemoryInMiB")]
        pub minimum_memory_in_mib: i32,
    }
}

impl ResourceConfiguration {
    /// At least `mib` MiB of memory.
    pub fn minimum_memory_mib(mib: i32) -> Self {
        Self {
            minimum_memory_in_mib: mib,
            unknown_members: UnknownMembers::new(),
        }
    }
}

wire_struct! {
    /// Lifecycle hooks of the runtime.
    RuntimeHooksConfiguration {
        /// Hooks run while the runtime is built.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub build: Option<BuildLifecycleHooks>,
    }
}

wire_struct! {
    /// Hooks run while the runtime is built.
    BuildLifecycleHooks {
        /// Warm-up hook.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub warmup: Option<LifecycleHook>,
    }
}

wire_struct! {
    /// One hook.
    LifecycleHook {
        /// What it does.
        pub action: LifecycleHookAction,
    }
}

/// What a hook does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum LifecycleHookAction {
    /// An HTTP POST to the agent.
    HttpPost(HttpPostLifecycleHookAction),
    /// A member this SDK does not know yet, kept as received.
    #[serde(untagged)]
    Unknown(serde_json::Value),
}

wire_struct! {
    /// An HTTP POST to the agent.
    HttpPostLifecycleHookAction {
        /// The path (`/...`, 1..=32 characters).
        pub path: String,
        /// The port (8000..=12000).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub port: Option<u16>,
    }
}

impl RuntimeHooksConfiguration {
    /// A warm-up hook: POST `path` on the agent.
    pub fn warmup_post(path: impl Into<String>, port: Option<u16>) -> Self {
        Self {
            build: Some(BuildLifecycleHooks {
                warmup: Some(LifecycleHook {
                    action: LifecycleHookAction::HttpPost(HttpPostLifecycleHookAction {
                        path: path.into(),
                        port,
                        unknown_members: UnknownMembers::new(),
                    }),
                    unknown_members: UnknownMembers::new(),
                }),
                unknown_members: UnknownMembers::new(),
            }),
            unknown_members: UnknownMembers::new(),
        }
    }
}

wire_struct! {
    /// Instance metadata settings of the microVM.
    RuntimeMetadataConfiguration {
        /// Require IMDSv2-style session tokens for the metadata service.
        #[serde(rename = "requireMMDSV2")]
        pub require_mmdsv2: bool,
    }
}

impl RuntimeMetadataConfiguration {
    /// Requires (or not) MMDSv2.
    pub fn new(require_mmdsv2: bool) -> Self {
        Self {
            require_mmdsv2,
            unknown_members: UnknownMembers::new(),
        }
    }
}

wire_struct! {
    /// The workload identity of the runtime (returned by the service).
    WorkloadIdentityDetails {
        /// Its ARN.
        pub workload_identity_arn: String,
    }
}

// ---- filesystems ----

wire_struct! {
    /// An S3 bucket mounted into every session.
    S3BucketMountConfiguration {
        /// The bucket name.
        pub bucket: String,
        /// Where it is mounted.
        pub mount_path: MountPath,
        /// Only keys under this prefix.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub prefix: Option<String>,
        /// The bucket owner's account id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub s3_bucket_owner: Option<String>,
        /// The bucket's region.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub s3_bucket_region: Option<String>,
    }
}

// ---- code artifacts ----

/// Where an agent's code is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Code {
    /// In S3.
    S3(S3Location),
    /// A member this SDK does not know yet, kept as received.
    #[serde(untagged)]
    Unknown(serde_json::Value),
}

wire_struct! {
    /// An S3 object or prefix.
    S3Location {
        /// The bucket.
        pub bucket: String,
        /// The key prefix.
        pub prefix: String,
        /// The object version.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub version_id: Option<String>,
    }
}

wire_enum! {
    /// The managed runtime that runs code artifacts.
    ManagedRuntime {
        /// Python 3.10.
        Python310 = "PYTHON_3_10",
        /// Python 3.11.
        Python311 = "PYTHON_3_11",
        /// Python 3.12.
        Python312 = "PYTHON_3_12",
        /// Python 3.13.
        Python313 = "PYTHON_3_13",
        /// Python 3.14.
        Python314 = "PYTHON_3_14",
        /// Node.js 22.
        Node22 = "NODE_22",
    }
}

impl From<&str> for ManagedRuntime {
    fn from(s: &str) -> Self {
        serde_json::from_value(serde_json::Value::String(s.to_owned()))
            .unwrap_or_else(|_| Self::Unknown(s.to_owned()))
    }
}

// ---- inbound authorizer ----

/// How callers of the runtime are authorized (instead of IAM SigV4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum AuthorizerConfiguration {
    /// OAuth / OIDC bearer tokens checked against a discovery document.
    #[serde(rename = "customJWTAuthorizer")]
    CustomJwtAuthorizer(Box<CustomJwtAuthorizerConfiguration>),
    /// A member this SDK does not know yet, kept as received.
    #[serde(untagged)]
    Unknown(serde_json::Value),
}

impl AuthorizerConfiguration {
    /// A JWT authorizer from the OIDC discovery URL, accepting `clients`.
    pub fn jwt(discovery_url: impl Into<String>, clients: Vec<String>) -> Self {
        Self::CustomJwtAuthorizer(Box::new(CustomJwtAuthorizerConfiguration {
            discovery_url: discovery_url.into(),
            allowed_audience: None,
            allowed_clients: Some(clients),
            allowed_scopes: None,
            advertised_scope_mapping: None,
            custom_claims: None,
            private_endpoint: None,
            private_endpoint_overrides: None,
            certificate_configurations: None,
            allowed_workload_configuration: None,
            unknown_members: UnknownMembers::new(),
        }))
    }
}

wire_struct! {
    /// A JWT authorizer.
    CustomJwtAuthorizerConfiguration {
        /// The OIDC / OAuth discovery URL (`…/.well-known/openid-configuration`).
        pub discovery_url: String,
        /// Accepted `aud` values.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub allowed_audience: Option<Vec<String>>,
        /// Accepted client ids.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub allowed_clients: Option<Vec<String>>,
        /// Accepted scopes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub allowed_scopes: Option<Vec<String>>,
        /// Scopes advertised to clients, mapped to accepted scopes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub advertised_scope_mapping: Option<BTreeMap<String, String>>,
        /// Extra claim checks.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub custom_claims: Option<Vec<CustomClaimValidation>>,
        /// Reach the identity provider through a private endpoint.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub private_endpoint: Option<PrivateEndpoint>,
        /// Private endpoints for other domains.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub private_endpoint_overrides: Option<Vec<PrivateEndpointOverride>>,
        /// Certificates to trust for the identity provider.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub certificate_configurations: Option<Vec<CertificateConfiguration>>,
        /// Workloads allowed to call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub allowed_workload_configuration: Option<AllowedWorkloadConfiguration>,
    }
}

wire_struct! {
    /// One claim check.
    CustomClaimValidation {
        /// The claim's name in the token.
        pub inbound_token_claim_name: String,
        /// Its type.
        pub inbound_token_claim_value_type: ClaimValueType,
        /// What it must match.
        pub authorizing_claim_match_value: AuthorizingClaimMatchValue,
    }
}

wire_enum! {
    /// The type of a claim.
    ClaimValueType {
        /// A string.
        String = "STRING",
        /// An array of strings.
        StringArray = "STRING_ARRAY",
    }
}

wire_struct! {
    /// What a claim must match.
    AuthorizingClaimMatchValue {
        /// The value(s).
        pub claim_match_value: ClaimMatchValue,
        /// How.
        pub claim_match_operator: ClaimMatchOperator,
    }
}

/// A claim's expected value(s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ClaimMatchValue {
    /// One string.
    MatchValueString(String),
    /// Several strings.
    MatchValueStringList(Vec<String>),
    /// A member this SDK does not know yet, kept as received.
    #[serde(untagged)]
    Unknown(serde_json::Value),
}

wire_enum! {
    /// How a claim is matched.
    ClaimMatchOperator {
        /// Equal.
        Equals = "EQUALS",
        /// Contains.
        Contains = "CONTAINS",
        /// Contains any of.
        ContainsAny = "CONTAINS_ANY",
    }
}

/// A private endpoint to reach an identity provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum PrivateEndpoint {
    /// A VPC Lattice resource you manage.
    SelfManagedLatticeResource(SelfManagedLatticeResource),
    /// A VPC resource the service manages.
    ManagedVpcResource(ManagedVpcResource),
    /// A member this SDK does not know yet, kept as received.
    #[serde(untagged)]
    Unknown(serde_json::Value),
}

/// A VPC Lattice resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum SelfManagedLatticeResource {
    /// Its resource configuration id or ARN.
    ResourceConfigurationIdentifier(String),
    /// A member this SDK does not know yet, kept as received.
    #[serde(untagged)]
    Unknown(serde_json::Value),
}

wire_struct! {
    /// A VPC resource the service manages.
    ManagedVpcResource {
        /// The VPC id.
        pub vpc_identifier: String,
        /// Subnet ids.
        pub subnet_ids: Vec<String>,
        /// IPv4 or IPv6.
        pub endpoint_ip_address_type: EndpointIpAddressType,
        /// Security group ids.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub security_group_ids: Option<Vec<String>>,
        /// Tags.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub tags: Option<BTreeMap<String, String>>,
        /// Routing domain.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub routing_domain: Option<String>,
    }
}

wire_enum! {
    /// An IP address family.
    EndpointIpAddressType {
        /// IPv4.
        Ipv4 = "IPV4",
        /// IPv6.
        Ipv6 = "IPV6",
    }
}

wire_struct! {
    /// A private endpoint for one domain.
    PrivateEndpointOverride {
        /// The domain.
        pub domain: String,
        /// Its private endpoint.
        pub private_endpoint: PrivateEndpoint,
    }
}

/// A certificate to trust.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum CertificateConfiguration {
    /// From S3.
    S3(S3CertificateConfiguration),
    /// From Secrets Manager.
    SecretsManager(SecretsManagerCertificateConfiguration),
    /// A member this SDK does not know yet, kept as received.
    #[serde(untagged)]
    Unknown(serde_json::Value),
}

wire_struct! {
    /// A certificate in S3.
    S3CertificateConfiguration {
        /// `s3://…`.
        pub uri: String,
        /// The bucket owner's account id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub bucket_owner_account_id: Option<String>,
    }
}

wire_struct! {
    /// A certificate in Secrets Manager.
    SecretsManagerCertificateConfiguration {
        /// The secret's ARN.
        pub secret_arn: String,
    }
}

wire_struct! {
    /// Workloads allowed to call.
    AllowedWorkloadConfiguration {
        /// Hosting environments.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub hosting_environments: Option<Vec<HostingEnvironment>>,
        /// Workload identity names.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub workload_identities: Option<Vec<String>>,
    }
}

wire_struct! {
    /// A hosting environment.
    HostingEnvironment {
        /// Its ARN.
        pub arn: String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_members_and_values_survive() {
        let v = serde_json::json!({
            "discoveryUrl": "https://idp/.well-known/openid-configuration",
            "allowedClients": ["a"],
            "futureMember": {"x": 1}
        });
        let c: CustomJwtAuthorizerConfiguration = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(
            c.unknown_members["futureMember"],
            serde_json::json!({"x": 1})
        );
        assert_eq!(serde_json::to_value(&c).unwrap(), v);
        let r: ManagedRuntime = serde_json::from_str("\"RUST_1_90\"").unwrap();
        assert_eq!(r, ManagedRuntime::Unknown("RUST_1_90".into()));
        assert_eq!(
            ManagedRuntime::from("PYTHON_3_12"),
            ManagedRuntime::Python312
        );
        let p: AllowedPort =
            serde_json::from_str(r#"{"portRange":{"from":8000,"to":8010}}"#).unwrap();
        assert_eq!(p, AllowedPort::PortRange(PortRange::new(8000, 8010)));
    }
}
