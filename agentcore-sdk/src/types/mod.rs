//! Validated newtypes shared by every part of the SDK.
//!
//! Each type checks the service's rule when it is parsed, so a request built from them is
//! rejected before anything is sent.
//!
//! This module is the ground of the crate's layering: the vocabulary every other module
//! shares — ids, statuses, members kept as received, header names — and nothing else. It
//! uses no other module of the crate; its checks report an `Invalid` that `error` turns
//! into [`Error::InvalidInput`](crate::Error::InvalidInput), and the `FromStr` / `TryFrom`
//! impls returning `Error` are written there.

mod arn;
mod command;
mod ids;
mod mount_path;
mod status;

pub(crate) use arn::encode_segment;
pub use arn::{IntoRuntimeArn, RuntimeArn};
pub use command::Command;
pub(crate) use command::validate_command_timeout;
pub use ids::{ClientToken, EndpointName, RuntimeId, RuntimeName, SessionId, ShellId};
pub use mount_path::MountPath;
pub use status::{AgentRuntimeEndpointStatus, AgentRuntimeStatus, CommandStatus};

/// Members of a structure this SDK does not know, kept as received (serde `flatten`), so an
/// update built from a response sends them back.
pub type UnknownMembers = std::collections::BTreeMap<String, serde_json::Value>;

/// Header names shared by the data plane, shells and WebSocket upgrades.
pub(crate) mod headers {
    /// The session id header, on requests and responses.
    pub const SESSION_ID_HEADER: &str = "x-amzn-bedrock-agentcore-runtime-session-id";
    /// The user id header.
    pub const USER_ID_HEADER: &str = "x-amzn-bedrock-agentcore-runtime-user-id";
    /// The session id as a query parameter (presigned and bearer WebSocket upgrades).
    #[cfg(feature = "shell")]
    pub(crate) const SESSION_ID_QUERY: &str = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id";
}

/// A value that broke one of the service's rules: the field (wire name) and the rule.
/// `error` turns it into `Error::InvalidInput`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid {
    pub(crate) field: &'static str,
    pub(crate) rule: String,
}

impl Invalid {
    pub(crate) fn new(field: &'static str, rule: impl Into<String>) -> Self {
        Self {
            field,
            rule: rule.into(),
        }
    }
}

/// Checks a capacity provider id: `<name>-<10 letters or digits>`.
pub(crate) fn check_capacity_provider_id(id: &str) -> Result<(), Invalid> {
    let ok = id.rsplit_once('-').is_some_and(|(name, suffix)| {
        let mut c = name.chars();
        c.next().is_some_and(|f| f.is_ascii_alphabetic())
            && name.len() <= 48
            && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && suffix.len() == 10
            && suffix.chars().all(|c| c.is_ascii_alphanumeric())
    });
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            "capacityProviderId",
            format!("must be <name>-<10 letters or digits>, got {id:?}"),
        ))
    }
}
