//! Filesystem mount paths: exactly one level under `/mnt`.

use super::Invalid;
use std::fmt;

/// Where a filesystem configuration is mounted in the session's microVM: `/mnt/<name>` with
/// `<name>` made of letters, digits, `.`, `_` and `-` (6 to 200 characters, optional trailing
/// `/`).
///
/// ```
/// use agentcore_sdk::MountPath;
/// let p: MountPath = "/mnt/workspace".parse()?;
/// assert_eq!(p.name(), "workspace");
/// assert!("/mnt/a/b".parse::<MountPath>().is_err());
/// assert!("/home/x".parse::<MountPath>().is_err());
/// # Ok::<(), agentcore_sdk::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct MountPath(String);

impl MountPath {
    /// The path as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The directory name under `/mnt` (without a trailing `/`).
    pub fn name(&self) -> &str {
        self.0.trim_start_matches("/mnt/").trim_end_matches('/')
    }

    /// The path without a trailing `/`, for comparing two mount paths.
    pub fn normalized(&self) -> &str {
        self.0.trim_end_matches('/')
    }
}

impl MountPath {
    /// Checks `s` against the service's rule (see `error` for the `FromStr` impl).
    pub(crate) fn checked(s: &str) -> Result<Self, Invalid> {
        let rule = |why: &str| {
            Invalid::new(
                "mountPath",
                format!(
                    "{why}: must match /mnt/[a-zA-Z0-9._-]+/? (one level under /mnt, 6 to 200 characters), got {s:?}"
                ),
            )
        };
        if !(6..=200).contains(&s.len()) {
            return Err(rule("wrong length"));
        }
        let rest = s
            .strip_prefix("/mnt/")
            .ok_or_else(|| rule("must start with /mnt/"))?;
        let name = rest.strip_suffix('/').unwrap_or(rest);
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(rule("bad directory name"));
        }
        if name == "." || name == ".." {
            return Err(rule("'.' and '..' are not directories"));
        }
        Ok(Self(s.to_owned()))
    }
}

/// Decodes whatever the service sends (responses are never checked with request rules);
/// mount paths are checked when a request carrying them is sent.
impl<'de> serde::Deserialize<'de> for MountPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self(String::deserialize(d)?))
    }
}

impl fmt::Display for MountPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MountPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_paths() {
        for ok in ["/mnt/a", "/mnt/workspace/", "/mnt/my.data-1_x"] {
            assert!(ok.parse::<MountPath>().is_ok(), "{ok}");
        }
        for bad in [
            "/mnt/",
            "/mnt",
            "/mnt//",
            "/mnt/a/b",
            "/tmp/abc",
            "/mnt/a b",
            "/mnt/..",
            &format!("/mnt/{}", "a".repeat(200)),
        ] {
            assert!(bad.parse::<MountPath>().is_err(), "{bad}");
        }
        assert_eq!(
            "/mnt/ws/".parse::<MountPath>().unwrap().normalized(),
            "/mnt/ws"
        );
    }
}
