//! The checks of [`types`](crate::types) as [`Error`]s.
//!
//! `types` is the ground of the crate and names no module above it, so its parsers report a
//! plain `Invalid`; the public conversions that return this crate's `Error` — `FromStr` and
//! `TryFrom` of every validated newtype, `RuntimeArn::new`, `Command::validate` — are
//! written here, one layer up.

use std::str::FromStr;

use super::Error;
use crate::types::{
    ClientToken, Command, EndpointName, MountPath, RuntimeArn, RuntimeId, RuntimeName, SessionId,
    ShellId,
};

macro_rules! parse_as_error {
    ($($name:ident),+ $(,)?) => {$(
        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Ok(Self::checked(s)?)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = Error;
            fn try_from(s: &str) -> Result<Self, Error> {
                s.parse()
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(s: String) -> Result<Self, Error> {
                s.parse()
            }
        }

    )+};
}

macro_rules! try_from_string_ref {
    ($($name:ident),+ $(,)?) => {$(
        impl TryFrom<&String> for $name {
            type Error = Error;
            fn try_from(s: &String) -> Result<Self, Error> {
                s.parse()
            }
        }
    )+};
}

parse_as_error!(
    SessionId,
    RuntimeName,
    EndpointName,
    RuntimeId,
    ShellId,
    ClientToken,
    RuntimeArn,
    MountPath,
);

try_from_string_ref!(
    SessionId,
    RuntimeName,
    EndpointName,
    RuntimeId,
    ShellId,
    ClientToken,
    RuntimeArn,
);

impl RuntimeArn {
    /// Builds the ARN of `runtime_id` in `region` / `account` on the `aws` partition.
    pub fn new(region: &str, account: &str, runtime_id: &RuntimeId) -> Result<Self, Error> {
        Ok(Self::checked_new(region, account, runtime_id)?)
    }
}

impl Command {
    /// Checks the service's length limit, and that there is no NUL byte (which `bash -c`
    /// cannot receive).
    pub fn validate(&self) -> Result<(), Error> {
        Ok(self.check()?)
    }
}
