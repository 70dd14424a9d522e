//! Where a command talks to and as whom: the config file, the environment and the flags
//! make a [`Client`]; runtime names become ARNs.

use std::path::PathBuf;
use std::time::Duration;

use agentcore_sdk::control::{AllowedPort, PortRange};
use agentcore_sdk::{Client, Config, RuntimeArn};
use futures::TryStreamExt;

use crate::cli::{Global, OutputFormat};
use crate::error::{CliError, Context as _, Result};

/// The config file's path as the user knows it, for messages.
fn config_file_name() -> String {
    ConfigFile::path().map_or_else(
        || "~/.config/agentcore-rs/config.toml".to_owned(),
        |p| p.display().to_string(),
    )
}

/// The runtime used on a local endpoint when none is named (session storage at
/// `/mnt/workspace`, every port `preview` may use).
pub const DEFAULT_RUNTIME: &str = "default";

/// The region of a local endpoint when none is configured (agentcore-local's).
const LOCAL_REGION: &str = "us-east-1";

/// `~/.config/agentcore-rs/config.toml`.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The AWS region.
    pub region: Option<String>,
    /// The endpoint of both planes.
    pub endpoint: Option<String>,
    /// The default output format.
    pub output: Option<OutputFormat>,
    /// The default runtime: a name, id or ARN.
    pub runtime: Option<String>,
    /// The AWS profile.
    pub profile: Option<String>,
}

impl ConfigFile {
    /// The file's path: `$AGENTCORE_RS_CONFIG`, else `$XDG_CONFIG_HOME/agentcore-rs/config.toml`,
    /// else `~/.config/agentcore-rs/config.toml`.
    pub fn path() -> Option<PathBuf> {
        if let Some(p) = std::env::var_os("AGENTCORE_RS_CONFIG").filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(p));
        }
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|p| !p.is_empty())
                    .map(|h| PathBuf::from(h).join(".config"))
            })?;
        Some(base.join("agentcore-rs").join("config.toml"))
    }

    /// Reads the file; a missing file is an empty configuration, a malformed one an error.
    pub fn load() -> Result<Self> {
        let Some(path) = Self::path() else {
            return Ok(Self::default());
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(CliError::from(e).context(path.display())),
        };
        toml::from_str(&text).map_err(|e| {
            CliError::new(format!(
                "{}: {}",
                path.display(),
                crate::error::one_line(&e)
            ))
        })
    }
}

/// Everything a command needs to reach the service.
pub struct Context {
    /// The global flags.
    pub global: Global,
    /// The config file.
    pub file: ConfigFile,
    client: tokio::sync::OnceCell<Client>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Whether `url`'s host is a loopback address (agentcore-local, a tunnel).
pub fn is_loopback(url: &str) -> bool {
    let Some(rest) = url.split_once("://").map(|(_, r)| r) else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Context {
    /// The context of these flags.
    pub fn new(global: Global) -> Result<Self> {
        Ok(Self {
            global,
            file: ConfigFile::load()?,
            client: tokio::sync::OnceCell::new(),
        })
    }

    /// The output format: the flag, else the config file's, else `table`.
    pub fn output(&self) -> OutputFormat {
        self.global
            .output
            .or(self.file.output)
            .unwrap_or(OutputFormat::Table)
    }

    /// The endpoint of both planes, when one overrides the service's: `--endpoint-url`, else
    /// `AGENTCORE_ENDPOINT_URL`.
    fn shared_endpoint(&self) -> Option<String> {
        self.global
            .endpoint_url
            .clone()
            .or_else(|| env("AGENTCORE_ENDPOINT_URL"))
    }

    /// (control, data) endpoint overrides: the shared one, else the per-service variables,
    /// else the config file's `endpoint`.
    fn endpoints(&self) -> (Option<String>, Option<String>) {
        if let Some(e) = self.shared_endpoint() {
            return (Some(e.clone()), Some(e));
        }
        let control = env("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL");
        let data = env("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE");
        let file = self.file.endpoint.clone();
        (control.or(file.clone()), data.or(file))
    }

    /// The data-plane endpoint override in effect, if any (for commands that re-attach).
    pub fn data_endpoint_override(&self) -> Option<String> {
        self.endpoints().1
    }

    /// Whether the endpoints are local (loopback): then no AWS account is needed.
    pub fn is_local(&self) -> bool {
        let (control, data) = self.endpoints();
        data.as_deref().is_some_and(is_loopback) && control.as_deref().is_some_and(is_loopback)
    }

    fn profile(&self) -> Option<String> {
        self.global
            .profile
            .clone()
            .or_else(|| env("AWS_PROFILE"))
            .or_else(|| self.file.profile.clone())
    }

    /// The client, made once: region and credentials from the AWS chain (`--profile`,
    /// `AWS_PROFILE`, the environment, SSO, instance roles...), or dummy credentials for a
    /// local endpoint when none are configured. `region_hint` (a runtime ARN's region) is
    /// used when no region is configured.
    pub async fn client(&self, region_hint: Option<&str>) -> Result<&Client> {
        self.client
            .get_or_try_init(|| self.make_client(region_hint))
            .await
    }

    async fn make_client(&self, region_hint: Option<&str>) -> Result<Client> {
        let (control, data) = self.endpoints();
        if control.is_some() || data.is_some() {
            // A bad endpoint is the error to report, before a missing region or credentials:
            // the same checks the real build makes, on a throwaway configuration.
            let mut probe = Config::builder()
                .region(LOCAL_REGION)
                .static_credentials("probe", "probe");
            if let Some(c) = &control {
                probe = probe.control_endpoint_url(c.clone());
            }
            if let Some(d) = &data {
                probe = probe.data_endpoint_url(d.clone());
            }
            probe.build()?;
        }
        let profile = self.profile();
        let flag_region = self.global.region.clone();
        let mut builder = if self.is_local() && profile.is_none() {
            // No AWS configuration is read for a local endpoint: fast, and no account.
            let mut b = Config::builder_from_env();
            if env("AWS_ACCESS_KEY_ID").is_none() {
                b = b.static_credentials("local", "local");
            }
            let region = flag_region
                .or_else(|| env("AWS_REGION"))
                .or_else(|| env("AWS_DEFAULT_REGION"))
                .or_else(|| self.file.region.clone())
                .or_else(|| region_hint.map(str::to_owned))
                .unwrap_or_else(|| LOCAL_REGION.to_owned());
            b.region(region)
        } else {
            let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
            if let Some(p) = &profile {
                loader = loader.profile_name(p);
            }
            if let Some(r) = &flag_region {
                loader = loader.region(aws_config::Region::new(r.clone()));
            }
            let sdk = loader.load().await;
            let mut b = Config::builder_from_sdk_config(&sdk);
            if sdk.region().is_none() {
                match self
                    .file
                    .region
                    .clone()
                    .or_else(|| region_hint.map(str::to_owned))
                {
                    Some(r) => b = b.region(r),
                    None => {
                        return Err(CliError::new(format!(
                            "no region: pass --region, set AWS_REGION, or set `region` in the profile or in {}",
                            config_file_name()
                        )));
                    }
                }
            }
            b
        };
        if let Some(c) = control {
            builder = builder.control_endpoint_url(c);
        }
        if let Some(d) = data {
            builder = builder.data_endpoint_url(d);
        }
        builder = builder.user_agent_suffix(format!("cli/{}", env!("CARGO_PKG_VERSION")));
        let config = builder.build()?;
        Ok(Client::from_conf(config))
    }

    /// The runtime to use, as named by `arg`, else `AGENTCORE_RUNTIME`, else the config
    /// file's `runtime`, else — on a local endpoint — the runtime named `default` (created if
    /// missing); with none of them, an error naming the three.
    pub fn runtime_source(&self, arg: Option<&str>) -> Option<String> {
        arg.map(str::to_owned)
            .or_else(|| env("AGENTCORE_RUNTIME"))
            .or_else(|| self.file.runtime.clone())
    }

    /// The client and the ARN of the runtime `arg` names (see [`runtime_source`](Self::runtime_source)).
    pub async fn runtime(&self, arg: Option<&str>) -> Result<(&Client, RuntimeArn)> {
        let source = self.runtime_source(arg);
        if source.as_deref().is_some_and(|s| s.trim().is_empty()) {
            return Err(CliError::new(
                "the runtime is empty: give a name, id or ARN (--runtime, AGENTCORE_RUNTIME)",
            ));
        }
        if source.is_none() && !self.is_local() {
            return Err(CliError::new(format!(
                "no runtime: pass --runtime NAME|ARN, set AGENTCORE_RUNTIME, or set `runtime` in {}",
                config_file_name()
            )));
        }
        let hint = source
            .as_deref()
            .and_then(|s| s.parse::<RuntimeArn>().ok())
            .map(|a| a.region().to_owned());
        let client = self.client(hint.as_deref()).await?;
        let arn = match source {
            Some(s) => resolve_arn(client, &s).await?,
            None => ensure_default_runtime(client).await?,
        };
        Ok((client, arn))
    }

    /// The client and the runtime id of `runtime` (a name, id or ARN), for control-plane
    /// calls.
    pub async fn runtime_id(&self, runtime: &str) -> Result<(&Client, String)> {
        let hint = runtime
            .parse::<RuntimeArn>()
            .ok()
            .map(|a| a.region().to_owned());
        let client = self.client(hint.as_deref()).await?;
        let id = resolve_id(client, runtime).await?;
        Ok((client, id))
    }
}

/// Whether `s` has the shape of a runtime id (`name-XXXXXXXXXX`; names have no `-`).
fn looks_like_id(s: &str) -> bool {
    s.contains('-')
}

/// The id of the runtime `s` names: an ARN's id, an id as it is, or the id of the runtime
/// with that name (ListAgentRuntimes).
pub async fn resolve_id(client: &Client, s: &str) -> Result<String> {
    if s.starts_with("arn:") {
        let arn: RuntimeArn = s.parse().context("--runtime")?;
        return Ok(arn.runtime_id().as_str().to_owned());
    }
    if looks_like_id(s) {
        return Ok(s.to_owned());
    }
    Ok(find_by_name(client, s)
        .await?
        .ok_or_else(|| CliError::new(format!("no runtime named {s}")))?
        .agent_runtime_id
        .into_string())
}

/// The ARN of the runtime `s` names (an ARN, an id or a name).
pub async fn resolve_arn(client: &Client, s: &str) -> Result<RuntimeArn> {
    if s.starts_with("arn:") {
        return s.parse().context("--runtime");
    }
    if looks_like_id(s) {
        return Ok(client
            .get_agent_runtime(s)
            .send()
            .await
            .context(format!("runtime {s}"))?
            .agent_runtime_arn);
    }
    Ok(find_by_name(client, s)
        .await?
        .ok_or_else(|| CliError::new(format!("no runtime named {s}")))?
        .agent_runtime_arn)
}

async fn find_by_name(
    client: &Client,
    name: &str,
) -> Result<Option<agentcore_sdk::control::AgentRuntimeSummary>> {
    let mut all = client.list_agent_runtimes().into_stream();
    while let Some(rt) = all.try_next().await? {
        if rt.agent_runtime_name.as_str() == name {
            return Ok(Some(rt));
        }
    }
    Ok(None)
}

/// The runtime named `default` of a local endpoint, created (session storage at
/// `/mnt/workspace`) if missing, once READY.
pub async fn ensure_default_runtime(client: &Client) -> Result<RuntimeArn> {
    let id = match find_by_name(client, DEFAULT_RUNTIME).await? {
        Some(rt) if rt.status == agentcore_sdk::control::AgentRuntimeStatus::Ready => {
            return Ok(rt.agent_runtime_arn);
        }
        Some(rt) => rt.agent_runtime_id,
        None => {
            client
                .create_agent_runtime()
                .name(DEFAULT_RUNTIME)
                .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/default:latest")
                .role_arn("arn:aws:iam::123456789012:role/local")
                .session_storage("/mnt/workspace")
                // Every port the service allows (8000–12000 but 8443), for `preview`.
                .allowed_port(AllowedPort::PortRange(PortRange::new(8000, 8442)))
                .allowed_port(AllowedPort::PortRange(PortRange::new(8444, 12000)))
                .description("created by agentcore-rs for a local endpoint")
                .send()
                .await
                .context("creating the runtime `default`")?
                .agent_runtime_id
        }
    };
    Ok(client
        .wait_until_ready(id.as_str())
        .initial_delay(Duration::from_millis(50))
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .context("waiting for the runtime `default`")?
        .agent_runtime_arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("http://127.0.0.1:8080"));
        assert!(is_loopback("http://localhost:8080/"));
        assert!(is_loopback("http://[::1]:9000"));
        assert!(is_loopback("https://127.0.0.2"));
        assert!(!is_loopback(
            "https://bedrock-agentcore.us-east-1.amazonaws.com"
        ));
        assert!(!is_loopback("http://10.0.0.1:8080"));
        assert!(!is_loopback("127.0.0.1:8080"));
    }

    #[test]
    fn ids_and_names() {
        assert!(looks_like_id("coder-AbCdE12345"));
        assert!(!looks_like_id("coder_agent"));
    }
}
