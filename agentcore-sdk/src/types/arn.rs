//! The agent runtime ARN, parsed.

use std::fmt;
use std::str::FromStr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::Invalid;
use super::ids::RuntimeId;

/// Everything but RFC 3986 unreserved characters is encoded, so the ARN (with its `:` and `/`)
/// travels as one path segment.
pub(crate) const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes `s` as one URI path segment or query value.
pub(crate) fn encode_segment(s: &str) -> String {
    utf8_percent_encode(s, PATH_SEGMENT).to_string()
}

/// An agent runtime ARN:
/// `arn:{partition}:bedrock-agentcore:{region}:{account}:runtime/{agentRuntimeId}`.
///
/// ```
/// use agentcore_sdk::RuntimeArn;
/// let arn: RuntimeArn = "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/coder-AbCdE12345".parse()?;
/// assert_eq!(arn.region(), "us-west-2");
/// assert_eq!(arn.account(), "123456789012");
/// assert_eq!(arn.runtime_id().as_str(), "coder-AbCdE12345");
/// // How it travels in a URL path: one segment.
/// assert_eq!(arn.path_segment(), "arn%3Aaws%3Abedrock-agentcore%3Aus-west-2%3A123456789012%3Aruntime%2Fcoder-AbCdE12345");
/// # Ok::<(), agentcore_sdk::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(into = "String")]
pub struct RuntimeArn {
    full: String,
    partition: String,
    region: String,
    account: String,
    runtime_id: RuntimeId,
}

impl RuntimeArn {
    /// The ARN of `runtime_id` in `region` / `account` on the `aws` partition, checked (the
    /// public `new`, in `error`, returns it as an `Error`).
    pub(crate) fn checked_new(
        region: &str,
        account: &str,
        runtime_id: &RuntimeId,
    ) -> Result<Self, Invalid> {
        Self::checked(&format!(
            "arn:aws:bedrock-agentcore:{region}:{account}:runtime/{runtime_id}"
        ))
    }
    /// The partition: `aws`, `aws-cn`, `aws-us-gov`.
    pub fn partition(&self) -> &str {
        &self.partition
    }
    /// The region, e.g. `us-east-1`.
    pub fn region(&self) -> &str {
        &self.region
    }
    /// The 12-digit account id.
    pub fn account(&self) -> &str {
        &self.account
    }
    /// The agent runtime id.
    pub fn runtime_id(&self) -> &RuntimeId {
        &self.runtime_id
    }
    /// The whole ARN.
    pub fn as_str(&self) -> &str {
        &self.full
    }
    /// The ARN percent-encoded as one URI path segment (`:` and `/` encoded).
    pub fn path_segment(&self) -> String {
        encode_segment(&self.full)
    }
}

impl RuntimeArn {
    /// Checks `s` against the ARN's shape (see `error` for the `FromStr` impl).
    pub(crate) fn checked(s: &str) -> Result<Self, Invalid> {
        let bad = |why: &str| {
            Invalid::new(
                "agentRuntimeArn",
                format!(
                    "{why}; expected arn:<partition>:bedrock-agentcore:<region>:<account>:runtime/<runtime id>, got {s:?}"
                ),
            )
        };
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        let [arn, partition, service, region, account, resource] = parts[..] else {
            return Err(bad("not an ARN"));
        };
        if arn != "arn" {
            return Err(bad("must start with 'arn:'"));
        }
        if partition != "aws" && !partition.starts_with("aws-") {
            return Err(bad("unknown partition"));
        }
        if service != "bedrock-agentcore" {
            return Err(bad("service must be bedrock-agentcore"));
        }
        if region.is_empty()
            || !region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(bad("region must be lowercase letters, digits and '-'"));
        }
        if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad("account must be 12 digits"));
        }
        let id = resource
            .strip_prefix("runtime/")
            .ok_or_else(|| bad("resource must be runtime/<id>"))?;
        let runtime_id = RuntimeId::checked(id).map_err(|_| bad("invalid runtime id"))?;
        Ok(Self {
            full: s.to_owned(),
            partition: partition.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            runtime_id,
        })
    }
}

impl From<RuntimeArn> for String {
    fn from(a: RuntimeArn) -> String {
        a.full
    }
}

/// Decodes whatever the service sends (responses are never checked with request rules): an
/// ARN of a shape this SDK does not know keeps its text, with the parts it could find. It is
/// checked again when a request is sent with it.
impl<'de> serde::Deserialize<'de> for RuntimeArn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let full = String::deserialize(d)?;
        if let Ok(arn) = Self::checked(&full) {
            return Ok(arn);
        }
        let parts: Vec<&str> = full.splitn(6, ':').collect();
        let part = |i: usize| parts.get(i).copied().unwrap_or_default().to_owned();
        let id = parts
            .get(5)
            .and_then(|r| r.rsplit('/').next())
            .unwrap_or_default()
            .to_owned();
        Ok(Self {
            partition: part(1),
            region: part(3),
            account: part(4),
            runtime_id: RuntimeId::unchecked(id),
            full,
        })
    }
}

impl fmt::Display for RuntimeArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl fmt::Debug for RuntimeArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.full, f)
    }
}

/// Anything that names an agent runtime ARN: a [`RuntimeArn`] or a string parsed as one.
///
/// Builders take `impl IntoRuntimeArn` so both `&str` and an already-parsed ARN work; a
/// string that does not parse is reported when the request is sent.
///
/// The error is the one parsing an ARN gives, [`Error`](crate::Error) (written as the
/// `FromStr` error so that this ground module names no module above it).
pub trait IntoRuntimeArn {
    /// Converts, validating strings.
    fn into_runtime_arn(self) -> Result<RuntimeArn, <RuntimeArn as FromStr>::Err>;
}

// A `RuntimeArn` decoded from a response is not checked; one that is sent is.
impl IntoRuntimeArn for RuntimeArn {
    fn into_runtime_arn(self) -> Result<RuntimeArn, <RuntimeArn as FromStr>::Err> {
        self.full.parse()
    }
}

impl IntoRuntimeArn for &RuntimeArn {
    fn into_runtime_arn(self) -> Result<RuntimeArn, <RuntimeArn as FromStr>::Err> {
        self.full.parse()
    }
}

impl IntoRuntimeArn for &str {
    fn into_runtime_arn(self) -> Result<RuntimeArn, <RuntimeArn as FromStr>::Err> {
        self.parse()
    }
}

impl IntoRuntimeArn for String {
    fn into_runtime_arn(self) -> Result<RuntimeArn, <RuntimeArn as FromStr>::Err> {
        self.parse()
    }
}

impl IntoRuntimeArn for &String {
    fn into_runtime_arn(self) -> Result<RuntimeArn, <RuntimeArn as FromStr>::Err> {
        self.parse()
    }
}

impl AsRef<str> for RuntimeArn {
    fn as_ref(&self) -> &str {
        &self.full
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_partitions() {
        let a: RuntimeArn =
            "arn:aws-cn:bedrock-agentcore:cn-north-1:123456789012:runtime/a-0123456789"
                .parse()
                .unwrap();
        assert_eq!(a.partition(), "aws-cn");
    }

    #[test]
    fn rejects_wrong_shapes() {
        for bad in [
            "",
            "arn:aws:s3:us-east-1:123456789012:runtime/a-0123456789",
            "arn:aws:bedrock-agentcore:us-east-1:1234:runtime/a-0123456789",
            "arn:aws:bedrock-agentcore:us-east-1:123456789012:gateway/a-0123456789",
            "arn:aws:bedrock-agentcore:US:123456789012:runtime/a-0123456789",
            "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/a-01234",
            "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/",
        ] {
            assert!(bad.parse::<RuntimeArn>().is_err(), "{bad}");
        }
    }
}
