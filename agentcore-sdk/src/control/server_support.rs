//! Response values built from the SDK's own model types, for servers (agentcore-local): what
//! a server sends is then exactly what this SDK decodes. Re-exported from `__private`; not
//! part of the public API.

use std::time::SystemTime;

use super::{
    AgentRuntimeChange, AgentRuntimeEndpoint, AgentRuntimeEndpointStatus, AgentRuntimeStatus,
    AgentRuntimeSummary, DeletedAgentRuntime, DeletedAgentRuntimeEndpoint, UnknownMembers,
};
use crate::types::{EndpointName, RuntimeArn, RuntimeId, RuntimeName};

/// CreateAgentRuntime / UpdateAgentRuntime's answer.
pub fn runtime_change(
    arn: RuntimeArn,
    id: RuntimeId,
    version: u32,
    created_at: SystemTime,
    last_updated_at: SystemTime,
    status: AgentRuntimeStatus,
) -> AgentRuntimeChange {
    AgentRuntimeChange {
        agent_runtime_arn: arn,
        agent_runtime_id: id,
        agent_runtime_version: version.to_string(),
        created_at,
        last_updated_at: Some(last_updated_at),
        status,
        workload_identity_details: None,
        unknown_members: UnknownMembers::default(),
    }
}

/// One line of ListAgentRuntimes / ListAgentRuntimeVersions.
pub fn runtime_summary(
    arn: RuntimeArn,
    id: RuntimeId,
    version: u32,
    name: RuntimeName,
    description: String,
    last_updated_at: SystemTime,
    status: AgentRuntimeStatus,
) -> AgentRuntimeSummary {
    AgentRuntimeSummary {
        agent_runtime_arn: arn,
        agent_runtime_id: id,
        agent_runtime_version: version.to_string(),
        agent_runtime_name: name,
        description,
        last_updated_at,
        status,
        unknown_members: UnknownMembers::default(),
    }
}

/// An endpoint as GetAgentRuntimeEndpoint (and its create / update) describe it.
#[allow(clippy::too_many_arguments, reason = "one argument per wire member")]
pub fn runtime_endpoint(
    name: EndpointName,
    id: String,
    version: u32,
    runtime_arn: RuntimeArn,
    status: AgentRuntimeEndpointStatus,
    description: Option<String>,
    created_at: SystemTime,
    last_updated_at: SystemTime,
) -> AgentRuntimeEndpoint {
    AgentRuntimeEndpoint {
        agent_runtime_endpoint_arn: format!("{runtime_arn}/runtime-endpoint/{name}"),
        name,
        id,
        live_version: Some(version.to_string()),
        target_version: Some(version.to_string()),
        agent_runtime_arn: runtime_arn,
        status,
        description,
        failure_reason: None,
        created_at,
        last_updated_at,
        unknown_members: UnknownMembers::default(),
    }
}

/// DeleteAgentRuntime's answer (`DELETING`).
pub fn deleted_runtime(id: RuntimeId, version: u32) -> DeletedAgentRuntime {
    DeletedAgentRuntime {
        status: AgentRuntimeStatus::Deleting,
        agent_runtime_id: Some(id),
        agent_runtime_version: Some(version.to_string()),
        unknown_members: UnknownMembers::default(),
    }
}

/// DeleteAgentRuntimeEndpoint's answer (`DELETING`).
pub fn deleted_endpoint(id: RuntimeId, name: EndpointName) -> DeletedAgentRuntimeEndpoint {
    DeletedAgentRuntimeEndpoint {
        status: AgentRuntimeEndpointStatus::Deleting,
        agent_runtime_id: Some(id),
        endpoint_name: Some(name),
        unknown_members: UnknownMembers::default(),
    }
}
