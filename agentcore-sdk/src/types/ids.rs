//! Validated identifiers: session ids, runtime ids and names, endpoint names.

use super::Invalid;
use std::fmt;

/// Characters allowed after the first letter in runtime and endpoint names.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Checks `[a-zA-Z][a-zA-Z0-9_]{0,max_tail}`.
fn check_name(field: &'static str, s: &str, max_len: usize) -> Result<(), Invalid> {
    let mut chars = s.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !first_ok || !chars.all(is_name_char) || s.len() > max_len {
        return Err(Invalid::new(
            field,
            format!(
                "must match [a-zA-Z][a-zA-Z0-9_]{{0,{}}} (a letter, then letters, digits or '_', at most {max_len} characters), got {s:?}",
                max_len.saturating_sub(1)
            ),
        ));
    }
    Ok(())
}

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A value decoded from a response, not checked.
            #[allow(dead_code)]
            pub(crate) fn unchecked(s: String) -> Self {
                Self(s)
            }
            /// The value as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// The owned string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// Decodes whatever the service sends: responses are never checked with request
        /// rules (a relaxed pattern must not break every Get). What is sent is checked when
        /// it is sent.
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok(Self(String::deserialize(d)?))
            }
        }
    };
}

string_newtype! {
    /// A runtime session id: 33 to 256 characters (`X-Amzn-Bedrock-AgentCore-Runtime-Session-Id`).
    ///
    /// The same session id always reaches the same session: its microVM while it runs, and its
    /// session storage after it stopped.
    ///
    /// ```
    /// use agentcore_sdk::SessionId;
    /// let id = SessionId::generate();
    /// assert_eq!(id.as_str().len(), 36);
    /// let mine: SessionId = "repo-fix-issue-42-attempt-0000000001".parse()?;
    /// assert!("too-short".parse::<SessionId>().is_err());
    /// # Ok::<(), agentcore_sdk::Error>(())
    /// ```
    SessionId
}

impl SessionId {
    /// Smallest length the service accepts.
    pub const MIN_LEN: usize = 33;
    /// Largest length the service accepts.
    pub const MAX_LEN: usize = 256;

    /// A new random session id (a UUID v4, 36 characters).
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }
}

impl SessionId {
    /// Checks `s` against the service's rule (see `error` for the `FromStr` impl).
    pub(crate) fn checked(s: &str) -> Result<Self, Invalid> {
        let n = s.chars().count();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&n) {
            return Err(Invalid::new(
                "runtimeSessionId",
                format!("must be 33 to 256 characters, got {n}"),
            ));
        }
        if s.chars().any(|c| c.is_control()) {
            return Err(Invalid::new(
                "runtimeSessionId",
                "must not contain control characters",
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

string_newtype! {
    /// An agent runtime name: `[a-zA-Z][a-zA-Z0-9_]{0,47}`.
    ///
    /// ```
    /// use agentcore_sdk::RuntimeName;
    /// assert!("coding_agent".parse::<RuntimeName>().is_ok());
    /// assert!("coding-agent".parse::<RuntimeName>().is_err());
    /// ```
    RuntimeName
}

impl RuntimeName {
    /// Checks `s` against the service's rule (see `error` for the `FromStr` impl).
    pub(crate) fn checked(s: &str) -> Result<Self, Invalid> {
        check_name("agentRuntimeName", s, 48)?;
        Ok(Self(s.to_owned()))
    }
}

string_newtype! {
    /// An agent runtime endpoint name (a qualifier): `[a-zA-Z][a-zA-Z0-9_]{0,47}`.
    /// `DEFAULT` is the endpoint every runtime has.
    EndpointName
}

impl EndpointName {
    /// The endpoint every runtime has, pointing at its latest version.
    pub fn default_endpoint() -> Self {
        Self("DEFAULT".to_owned())
    }
}

impl EndpointName {
    /// Checks `s` against the service's rule (see `error` for the `FromStr` impl).
    pub(crate) fn checked(s: &str) -> Result<Self, Invalid> {
        check_name("endpointName", s, 48)?;
        Ok(Self(s.to_owned()))
    }
}

string_newtype! {
    /// An agent runtime id: `[a-zA-Z][a-zA-Z0-9_]{0,99}-[a-zA-Z0-9]{10}`, e.g.
    /// `coding_agent-AbCdE12345`.
    RuntimeId
}

impl RuntimeId {
    /// Checks `s` against the service's rule (see `error` for the `FromStr` impl).
    pub(crate) fn checked(s: &str) -> Result<Self, Invalid> {
        let bad = || {
            Invalid::new(
                "agentRuntimeId",
                format!("must match [a-zA-Z][a-zA-Z0-9_]{{0,99}}-[a-zA-Z0-9]{{10}}, got {s:?}"),
            )
        };
        let (name, suffix) = s.rsplit_once('-').ok_or_else(bad)?;
        check_name("agentRuntimeId", name, 100).map_err(|_| bad())?;
        if suffix.len() != 10 || !suffix.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad());
        }
        Ok(Self(s.to_owned()))
    }
}

string_newtype! {
    /// An interactive shell id: `^[a-zA-Z0-9][a-zA-Z0-9_-]{0,127}$`. Client-chosen; the same
    /// session id and shell id re-attach the same PTY.
    ShellId
}

impl ShellId {
    /// A new random shell id (a UUID v4).
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }
}

impl ShellId {
    /// Checks `s` against the service's rule (see `error` for the `FromStr` impl).
    pub(crate) fn checked(s: &str) -> Result<Self, Invalid> {
        let mut chars = s.chars();
        let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            && s.len() <= 128;
        if !ok {
            return Err(Invalid::new(
                "shellId",
                format!("must match ^[a-zA-Z0-9][a-zA-Z0-9_-]{{0,127}}$, got {s:?}"),
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

string_newtype! {
    /// An idempotency token: 33 to 256 characters, `[a-zA-Z0-9](-*[a-zA-Z0-9]){0,256}`.
    ClientToken
}

impl ClientToken {
    /// A new random client token (a UUID v4).
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }
}

impl ClientToken {
    /// Checks `s` against the service's rule (see `error` for the `FromStr` impl).
    pub(crate) fn checked(s: &str) -> Result<Self, Invalid> {
        let ok = (33..=256).contains(&s.len())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if !ok {
            return Err(Invalid::new(
                "clientToken",
                "must be 33 to 256 letters, digits and inner '-'",
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_id_bounds() {
        assert!("a".repeat(32).parse::<SessionId>().is_err());
        assert!("a".repeat(33).parse::<SessionId>().is_ok());
        assert!("a".repeat(256).parse::<SessionId>().is_ok());
        assert!("a".repeat(257).parse::<SessionId>().is_err());
        assert!(
            format!("{}\n", "a".repeat(40))
                .parse::<SessionId>()
                .is_err()
        );
    }

    #[test]
    fn runtime_names() {
        assert!("a".parse::<RuntimeName>().is_ok());
        assert!("a".repeat(48).parse::<RuntimeName>().is_ok());
        assert!("a".repeat(49).parse::<RuntimeName>().is_err());
        assert!("1abc".parse::<RuntimeName>().is_err());
        assert!("".parse::<RuntimeName>().is_err());
    }

    #[test]
    fn runtime_ids() {
        assert!("coding_agent-AbCdE12345".parse::<RuntimeId>().is_ok());
        assert!("coding_agent-AbCdE1234".parse::<RuntimeId>().is_err());
        assert!("coding-agent".parse::<RuntimeId>().is_err());
        assert!("-AbCdE12345".parse::<RuntimeId>().is_err());
    }

    #[test]
    fn shell_ids() {
        assert!("main".parse::<ShellId>().is_ok());
        assert!("a-b_c".parse::<ShellId>().is_ok());
        assert!("-a".parse::<ShellId>().is_err());
        assert!("a".repeat(129).parse::<ShellId>().is_err());
        assert!(ShellId::generate().as_str().parse::<ShellId>().is_ok());
    }
}
