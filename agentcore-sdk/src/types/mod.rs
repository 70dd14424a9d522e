//! Validated newtypes shared by every part of the SDK.
//!
//! Each type checks the service's rule when it is parsed, so a request built from them is
//! rejected before anything is sent.

mod arn;
mod command;
mod ids;
mod mount_path;

pub(crate) use arn::encode_segment;
pub use arn::{IntoRuntimeArn, RuntimeArn};
pub use command::Command;
pub(crate) use command::validate_command_timeout;
pub use ids::{ClientToken, EndpointName, RuntimeId, RuntimeName, SessionId, ShellId};
pub use mount_path::MountPath;
