//! Statuses the service reports: of runtimes and endpoints (control plane) and of commands
//! (data plane). Shared vocabulary: the error type names them too.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum CommandStatus {
    /// The command ran to its end; see the exit code.
    Completed,
    /// The command was killed at its timeout.
    TimedOut,
    /// A status this SDK does not know yet.
    #[serde(untagged)]
    Unknown(String),
}

impl CommandStatus {
    /// The wire form.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Completed => "COMPLETED",
            Self::TimedOut => "TIMED_OUT",
            Self::Unknown(s) => s,
        }
    }
}

impl fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! status_enum {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        #[non_exhaustive]
        pub enum $name {
            /// Being created.
            Creating,
            /// Creation failed; see `failureReason`.
            CreateFailed,
            /// Being updated.
            Updating,
            /// The update failed; see `failureReason`.
            UpdateFailed,
            /// Ready to serve sessions.
            Ready,
            /// Being deleted.
            Deleting,
            /// Deletion failed.
            DeleteFailed,
            /// A status this SDK does not know yet.
            #[serde(untagged)]
            Unknown(String),
        }

        impl $name {
            /// The wire form, e.g. `CREATE_FAILED`.
            pub fn as_str(&self) -> &str {
                match self {
                    Self::Creating => "CREATING",
                    Self::CreateFailed => "CREATE_FAILED",
                    Self::Updating => "UPDATING",
                    Self::UpdateFailed => "UPDATE_FAILED",
                    Self::Ready => "READY",
                    Self::Deleting => "DELETING",
                    Self::DeleteFailed => "DELETE_FAILED",
                    Self::Unknown(s) => s,
                }
            }
            /// `true` for the `*_FAILED` states.
            pub fn is_failed(&self) -> bool {
                matches!(self, Self::CreateFailed | Self::UpdateFailed | Self::DeleteFailed)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

status_enum! {
    /// The status of an agent runtime.
    AgentRuntimeStatus
}

status_enum! {
    /// The status of an agent runtime endpoint.
    AgentRuntimeEndpointStatus
}
