//! Client configuration: region, endpoints, credentials, retries, timeouts.
//!
//! Start from the AWS configuration users already load, or build one by hand:
//!
//! ```no_run
//! # async fn f() -> Result<(), agentcore_sdk::Error> {
//! use agentcore_sdk::{Client, Config};
//! // The usual way: credential chain and region from the environment.
//! let sdk_config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
//! let client = Client::new(&sdk_config);
//!
//! // By hand, e.g. against a local runtime.
//! let config = Config::builder()
//!     .region("us-east-1")
//!     .endpoint_url("http://127.0.0.1:8080")
//!     .static_credentials("local", "local")
//!     .build()?;
//! let client = Client::from_conf(config);
//! # Ok(()) }
//! ```

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use url::Url;

pub(crate) mod credentials;
pub(crate) mod limiter;
pub(crate) mod tls;

use crate::error::Error;

/// Environment variable that overrides the endpoint of both planes.
pub const ENDPOINT_ENV: &str = "AGENTCORE_ENDPOINT_URL";

/// Which API an endpoint serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plane {
    Control,
    Data,
}

/// Retry behaviour for throttling, 5xx, `RetryableConflictException` and failed connections.
///
/// A command's request is never sent again once its response stream has started.
///
/// ```
/// use std::time::Duration;
/// use agentcore_sdk::RetryConfig;
/// let retry = RetryConfig::standard().max_attempts(5).initial_backoff(Duration::from_millis(50));
/// assert_eq!(retry.get_max_attempts(), 5);
/// let none = RetryConfig::disabled();
/// assert_eq!(none.get_max_attempts(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl RetryConfig {
    /// 3 attempts, backoff from 200 ms doubling up to 20 s, with jitter.
    pub fn standard() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(20),
        }
    }
    /// One attempt only.
    pub fn disabled() -> Self {
        Self {
            max_attempts: 1,
            ..Self::standard()
        }
    }
    /// Total attempts including the first (at least 1).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }
    /// Backoff before the second attempt; it doubles on each further attempt.
    pub fn initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }
    /// Upper bound for one backoff.
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }
    /// Total attempts including the first.
    pub fn get_max_attempts(&self) -> u32 {
        self.max_attempts
    }
    /// The delay before attempt `attempt + 1` (`attempt` counts from 1): exponential, capped,
    /// with ±25% jitter so clients that failed together do not retry together.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            .min(self.max_backoff);
        exp.mul_f64(0.75 + fastrand::f64() * 0.5)
    }
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self::standard()
    }
}

/// Timeouts. Streams get their own bound: a command's stream may last its `timeout` plus
/// [`TimeoutConfig::stream_grace`]; an invocation's stream may be idle at most
/// [`TimeoutConfig::read_idle`].
///
/// ```
/// use std::time::Duration;
/// use agentcore_sdk::TimeoutConfig;
/// let t = TimeoutConfig::standard()
///     .operation(Duration::from_secs(20))
///     .credentials(Duration::from_secs(2));
/// assert_eq!(t.get_operation(), Duration::from_secs(20));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutConfig {
    connect: Duration,
    operation: Duration,
    read_idle: Duration,
    stream_grace: Duration,
    credentials: Duration,
}

impl TimeoutConfig {
    /// Connect 10 s, one attempt 60 s, stream idle 15 min, command stream grace 60 s,
    /// loading credentials 5 s.
    pub fn standard() -> Self {
        Self {
            connect: Duration::from_secs(10),
            operation: Duration::from_secs(60),
            read_idle: Duration::from_secs(15 * 60),
            stream_grace: Duration::from_secs(60),
            credentials: Duration::from_secs(5),
        }
    }
    /// Time to establish a connection (TCP + TLS).
    pub fn connect(mut self, d: Duration) -> Self {
        self.connect = d;
        self
    }
    /// Time for one attempt: from sending the request to the end of the response — headers
    /// and body within this one budget for unary calls (control plane, stop session, agent
    /// card) and for error responses of any call; for streaming calls (commands,
    /// invocations), to the response headers (the stream then has its own bounds). Also the
    /// bound on opening a WebSocket (TCP, TLS, upgrade). Retries get a fresh budget each.
    pub fn operation(mut self, d: Duration) -> Self {
        self.operation = d;
        self
    }
    /// Longest silence tolerated inside an invocation response stream.
    pub fn read_idle(mut self, d: Duration) -> Self {
        self.read_idle = d;
        self
    }
    /// Extra time a command stream may take beyond the command's own timeout before the SDK
    /// gives up on the server.
    pub fn stream_grace(mut self, d: Duration) -> Self {
        self.stream_grace = d;
        self
    }
    /// Longest wait for the credentials provider. Concurrent requests share one load; when
    /// it does not answer in time they fail with [`Error::Credentials`] (credentials cached
    /// earlier and not expired yet are used instead).
    pub fn credentials(mut self, d: Duration) -> Self {
        self.credentials = d;
        self
    }
    /// See [`TimeoutConfig::credentials`].
    pub fn get_credentials(&self) -> Duration {
        self.credentials
    }
    /// See [`TimeoutConfig::connect`].
    pub fn get_connect(&self) -> Duration {
        self.connect
    }
    /// See [`TimeoutConfig::operation`].
    pub fn get_operation(&self) -> Duration {
        self.operation
    }
    /// See [`TimeoutConfig::read_idle`].
    pub fn get_read_idle(&self) -> Duration {
        self.read_idle
    }
    /// See [`TimeoutConfig::stream_grace`].
    pub fn get_stream_grace(&self) -> Duration {
        self.stream_grace
    }
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        Self::standard()
    }
}

/// Settings that replace the client's for one call: retries and timeouts. Every operation
/// builder takes one with `.config_override(..)`, as aws-sdk-rust's
/// `customize().config_override(..)` and reqwest's per-request `timeout` do.
///
/// ```no_run
/// # async fn f(client: agentcore_sdk::Client) -> Result<(), agentcore_sdk::Error> {
/// use std::time::Duration;
/// use agentcore_sdk::config::ConfigOverride;
/// use agentcore_sdk::{RetryConfig, TimeoutConfig};
/// // A quick health check: one attempt, 2 s.
/// let quick = ConfigOverride::new()
///     .retry_config(RetryConfig::disabled())
///     .timeout_config(client.config().timeouts().operation(Duration::from_secs(2)));
/// let rt = client.get_agent_runtime("coder-AbCdE12345").config_override(quick).send().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConfigOverride {
    retry: Option<RetryConfig>,
    timeouts: Option<TimeoutConfig>,
}

impl ConfigOverride {
    /// No override: the client's settings.
    pub fn new() -> Self {
        Self::default()
    }
    /// Retries of this call (WebSocket upgrades are not retried; shells reconnect with their
    /// own policy).
    pub fn retry_config(mut self, retry: RetryConfig) -> Self {
        self.retry = Some(retry);
        self
    }
    /// Timeouts of this call. The connect timeout is the HTTP client's, shared by every call
    /// (it bounds WebSocket connections through `operation`).
    pub fn timeout_config(mut self, timeouts: TimeoutConfig) -> Self {
        self.timeouts = Some(timeouts);
        self
    }
    /// The retry settings set, if any.
    pub fn get_retry_config(&self) -> Option<RetryConfig> {
        self.retry
    }
    /// The timeouts set, if any.
    pub fn get_timeout_config(&self) -> Option<TimeoutConfig> {
        self.timeouts
    }
}

/// The `config_override` setter of every operation builder (which holds a `transport`).
macro_rules! config_override_setter {
    () => {
        /// Settings that replace the client's for this call only: retries and timeouts
        /// (see [`ConfigOverride`](crate::config::ConfigOverride)).
        pub fn config_override(mut self, o: crate::config::ConfigOverride) -> Self {
            self.transport.overrides = o;
            self
        }
    };
}
pub(crate) use config_override_setter;

/// A finished client configuration. Cheap to clone.
#[derive(Clone)]
pub struct Config {
    pub(crate) inner: Arc<ConfigInner>,
}

pub(crate) struct ConfigInner {
    pub(crate) region: String,
    pub(crate) control_endpoint: Url,
    pub(crate) data_endpoint: Url,
    pub(crate) credentials: Option<SharedCredentialsProvider>,
    pub(crate) retry: RetryConfig,
    pub(crate) timeouts: TimeoutConfig,
    pub(crate) user_agent: String,
    pub(crate) http: reqwest::Client,
    /// TLS for WSS connections (built-in roots plus any added ones).
    #[cfg(feature = "shell")]
    pub(crate) ws_tls: Arc<rustls::ClientConfig>,
    pub(crate) credentials_cache: credentials::CredentialsCache,
    pub(crate) command_limiters: limiter::LimiterRegistry,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("Config")
            .field("region", &i.region)
            .field("control_endpoint", &i.control_endpoint.as_str())
            .field("data_endpoint", &i.data_endpoint.as_str())
            .field(
                "credentials",
                &i.credentials.as_ref().map(|_| "** provider **"),
            )
            .field("retry", &i.retry)
            .field("timeouts", &i.timeouts)
            .field("user_agent", &i.user_agent)
            .finish()
    }
}

impl Config {
    /// A builder with nothing set.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// A builder from the standard environment variables alone, without `aws-config`: region
    /// from `AWS_REGION` (or `AWS_DEFAULT_REGION`), credentials from `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` when set. For profiles, SSO or instance
    /// roles use `aws-config` and [`from_sdk_config`](Self::from_sdk_config).
    ///
    /// ```no_run
    /// let client = agentcore_sdk::Client::from_conf(agentcore_sdk::Config::builder_from_env().build()?);
    /// # Ok::<(), agentcore_sdk::Error>(())
    /// ```
    pub fn builder_from_env() -> ConfigBuilder {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mut b = ConfigBuilder::default();
        if let Some(r) = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")) {
            b = b.region(r);
        }
        if let (Some(id), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            b = b.credentials_provider(Credentials::new(
                id,
                secret,
                var("AWS_SESSION_TOKEN"),
                None,
                "agentcore-sdk-environment",
            ));
        }
        b
    }

    /// The configuration `aws_config` loaded: region, credentials provider and any
    /// `endpoint_url`; `AGENTCORE_ENDPOINT_URL` still wins over the latter.
    pub fn from_sdk_config(sdk_config: &aws_types::SdkConfig) -> Result<Self, Error> {
        Self::builder_from_sdk_config(sdk_config).build()
    }

    /// A builder pre-filled from an `aws_config` configuration, to adjust before building.
    pub fn builder_from_sdk_config(sdk_config: &aws_types::SdkConfig) -> ConfigBuilder {
        ConfigBuilder {
            region: sdk_config.region().map(|r| r.to_string()),
            credentials: sdk_config.credentials_provider(),
            sdk_endpoint: sdk_config.endpoint_url().map(str::to_owned),
            ..ConfigBuilder::default()
        }
    }

    /// The signing region.
    pub fn region(&self) -> &str {
        &self.inner.region
    }
    /// The control-plane endpoint in use.
    pub fn control_endpoint(&self) -> &Url {
        &self.inner.control_endpoint
    }
    /// The data-plane endpoint in use.
    pub fn data_endpoint(&self) -> &Url {
        &self.inner.data_endpoint
    }
    /// The retry settings.
    pub fn retry(&self) -> RetryConfig {
        self.inner.retry
    }
    /// The timeouts.
    pub fn timeouts(&self) -> TimeoutConfig {
        self.inner.timeouts
    }

    pub(crate) fn endpoint(&self, plane: Plane) -> &Url {
        match plane {
            Plane::Control => &self.inner.control_endpoint,
            Plane::Data => &self.inner.data_endpoint,
        }
    }
}

/// Builds a [`Config`]. See [`Config`] for an example.
#[derive(Default)]
pub struct ConfigBuilder {
    region: Option<String>,
    endpoint: Option<String>,
    control_endpoint: Option<String>,
    data_endpoint: Option<String>,
    sdk_endpoint: Option<String>,
    credentials: Option<SharedCredentialsProvider>,
    anonymous: bool,
    retry: RetryConfig,
    timeouts: TimeoutConfig,
    user_agent_suffix: Option<String>,
    root_certificates: Vec<Vec<u8>>,
    proxy: Option<String>,
    pool_idle_timeout: Option<Duration>,
    pool_max_idle_per_host: Option<usize>,
    command_rate: Option<u32>,
}

impl fmt::Debug for ConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigBuilder")
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("control_endpoint", &self.control_endpoint)
            .field("data_endpoint", &self.data_endpoint)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "** provider **"),
            )
            .field("anonymous", &self.anonymous)
            .field("retry", &self.retry)
            .field("timeouts", &self.timeouts)
            .field("root_certificates", &self.root_certificates.len())
            .field("proxy", &self.proxy.as_deref().map(redact_userinfo))
            .field("pool_idle_timeout", &self.pool_idle_timeout)
            .field("pool_max_idle_per_host", &self.pool_max_idle_per_host)
            .finish()
    }
}

/// A proxy URL without its password (`http://user:***@host:port`).
fn redact_userinfo(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "<unparsable proxy URL>".to_owned(),
    }
}

impl ConfigBuilder {
    /// The AWS region, e.g. `us-west-2`. Required.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// One endpoint for both planes (local runtime, proxy). `http://` is accepted only for
    /// loopback hosts. Wins over `AGENTCORE_ENDPOINT_URL`.
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// The control-plane endpoint only (e.g. a VPC endpoint).
    pub fn control_endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.control_endpoint = Some(url.into());
        self
    }

    /// The data-plane endpoint only (e.g. a VPC endpoint).
    pub fn data_endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.data_endpoint = Some(url.into());
        self
    }

    /// Any credentials provider: `aws_config`'s chain, a static one, your own.
    pub fn credentials_provider(mut self, provider: impl ProvideCredentials + 'static) -> Self {
        self.credentials = Some(SharedCredentialsProvider::new(provider));
        self.anonymous = false;
        self
    }

    /// Fixed credentials (e.g. `local` / `local` for a local runtime).
    pub fn static_credentials(
        self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.credentials_provider(Credentials::new(
            access_key_id,
            secret_access_key,
            None,
            None,
            "agentcore-sdk-static",
        ))
    }

    /// Send requests unsigned. Only useful against a local runtime that does not verify
    /// signatures.
    pub fn anonymous(mut self) -> Self {
        self.anonymous = true;
        self.credentials = None;
        self
    }

    /// Retry settings.
    pub fn retry_config(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// Timeouts.
    pub fn timeout_config(mut self, timeouts: TimeoutConfig) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Appended to the `User-Agent` header, e.g. `my-orchestrator/2.1`.
    pub fn user_agent_suffix(mut self, suffix: impl Into<String>) -> Self {
        self.user_agent_suffix = Some(suffix.into());
        self
    }

    /// Start at most `n` commands per second per agent runtime from this client (the service
    /// allows 25 per agent), spaced evenly. Every command to a runtime through this client
    /// (and its clones) shares that runtime's limiter, retries included; a limiter given to
    /// a session or a request is waited on as well, so it can only lower the rate. Without
    /// this, commands are not limited until an experiment registers the service's quota for
    /// its runtime ([`Client::command_rate_limiter`](crate::Client::command_rate_limiter)).
    pub fn command_rate_limit(mut self, n: u32) -> Self {
        self.command_rate = Some(n);
        self
    }

    /// Also trust this CA certificate (PEM; one or more certificates), for HTTPS calls and
    /// WSS shells alike — e.g. a TLS-terminating proxy or an agentcore-local started with
    /// `--tls-cert`. The built-in roots stay trusted. A PEM without a certificate is reported
    /// by [`build`](Self::build).
    pub fn add_root_certificate(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.root_certificates.push(pem.as_ref().to_vec());
        self
    }

    /// Send HTTP(S) calls through this proxy (`http://host:port`, credentials in the URL are
    /// used and never logged). Without it, the `HTTPS_PROXY` / `NO_PROXY` environment
    /// variables apply. Shell and WebSocket connections connect directly.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
        self
    }

    /// How long an idle pooled connection is kept (default 90 s).
    pub fn pool_idle_timeout(mut self, d: Duration) -> Self {
        self.pool_idle_timeout = Some(d);
        self
    }

    /// At most `n` idle pooled connections per host.
    pub fn pool_max_idle_per_host(mut self, n: usize) -> Self {
        self.pool_max_idle_per_host = Some(n);
        self
    }

    /// Checks the settings and builds the configuration.
    pub fn build(self) -> Result<Config, Error> {
        let region = self.region.filter(|r| !r.is_empty()).ok_or_else(|| {
            Error::Config(
                "no region: set it in the AWS config, AWS_REGION, or ConfigBuilder::region".into(),
            )
        })?;
        if !region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(Error::Config(format!("invalid region {region:?}")));
        }
        let env_endpoint = std::env::var(ENDPOINT_ENV).ok().filter(|s| !s.is_empty());
        let shared = self.endpoint.or(env_endpoint).or(self.sdk_endpoint);
        let control = match self.control_endpoint.or_else(|| shared.clone()) {
            Some(u) => parse_endpoint(&u)?,
            None => default_endpoint("bedrock-agentcore-control", &region)?,
        };
        let data = match self.data_endpoint.or(shared) {
            Some(u) => parse_endpoint(&u)?,
            None => default_endpoint("bedrock-agentcore", &region)?,
        };
        if self.credentials.is_none() && !self.anonymous {
            return Err(Error::Config(
                "no credentials provider: load one with aws_config, set one with ConfigBuilder::credentials_provider, or call ConfigBuilder::anonymous for an unsigned local runtime".into(),
            ));
        }
        let mut user_agent = format!("agentcore-rs/{}", env!("CARGO_PKG_VERSION"));
        if let Some(s) = &self.user_agent_suffix {
            user_agent.push(' ');
            user_agent.push_str(s);
        }
        use rustls::pki_types::pem::PemObject;
        let mut extra_roots = Vec::new();
        for pem in &self.root_certificates {
            let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(pem)
                .collect::<Result<_, _>>()
                .map_err(|e| Error::Config(format!("add_root_certificate: invalid PEM: {e}")))?;
            if certs.is_empty() {
                return Err(Error::Config(
                    "add_root_certificate: no certificate in the PEM".into(),
                ));
            }
            extra_roots.extend(certs);
        }
        let mut http = reqwest::Client::builder()
            .connect_timeout(self.timeouts.connect)
            .user_agent(user_agent.clone())
            .http2_adaptive_window(true)
            .tcp_nodelay(true)
            // Redirects are the caller's business (a session's server may answer one through
            // its session endpoint; the service's own APIs never do).
            .redirect(reqwest::redirect::Policy::none())
            .https_only(false);
        http = http.tls_backend_preconfigured(tls::http(&extra_roots)?);
        if let Some(p) = &self.proxy {
            let proxy = reqwest::Proxy::all(p.as_str())
                .map_err(|_| Error::Config(format!("invalid proxy URL {}", redact_userinfo(p))))?;
            http = http.proxy(proxy);
        }
        if let Some(d) = self.pool_idle_timeout {
            http = http.pool_idle_timeout(d);
        }
        if let Some(n) = self.pool_max_idle_per_host {
            http = http.pool_max_idle_per_host(n);
        }
        let http = http
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        #[cfg(feature = "shell")]
        let ws_tls = tls::websocket(&extra_roots)?;
        Ok(Config {
            inner: Arc::new(ConfigInner {
                region,
                control_endpoint: control,
                data_endpoint: data,
                credentials: self.credentials,
                retry: self.retry,
                timeouts: self.timeouts,
                user_agent,
                http,
                #[cfg(feature = "shell")]
                ws_tls,
                credentials_cache: credentials::CredentialsCache::default(),
                command_limiters: limiter::LimiterRegistry::new(self.command_rate),
            }),
        })
    }
}

fn default_endpoint(prefix: &str, region: &str) -> Result<Url, Error> {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    parse_endpoint(&format!("https://{prefix}.{region}.{suffix}"))
}

/// Parses an endpoint and enforces TLS for anything but loopback.
pub(crate) fn parse_endpoint(s: &str) -> Result<Url, Error> {
    let url =
        Url::parse(s).map_err(|e| Error::Config(format!("invalid endpoint URL {s:?}: {e}")))?;
    match url.scheme() {
        "https" | "wss" => {}
        "http" | "ws" => {
            if !is_loopback(&url) {
                return Err(Error::Config(format!(
                    "plain {}:// is only allowed for loopback endpoints (127.0.0.0/8, ::1, localhost); use https:// for {s:?}",
                    url.scheme()
                )));
            }
        }
        other => {
            return Err(Error::Config(format!(
                "unsupported endpoint scheme {other:?} in {s:?}"
            )));
        }
    }
    if url.host_str().is_none() {
        return Err(Error::Config(format!("endpoint {s:?} has no host")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!(
            "endpoint {s:?} must not have a query or fragment"
        )));
    }
    Ok(url)
}

pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_on_loopback() {
        assert!(parse_endpoint("http://127.0.0.1:8080").is_ok());
        assert!(parse_endpoint("http://localhost:1").is_ok());
        assert!(parse_endpoint("http://[::1]:1").is_ok());
        assert!(parse_endpoint("http://10.0.0.1:8080").is_err());
        assert!(parse_endpoint("http://example.com").is_err());
        assert!(parse_endpoint("https://example.com").is_ok());
        assert!(parse_endpoint("ftp://example.com").is_err());
    }

    #[test]
    fn default_endpoints_per_plane() {
        let c = Config::builder()
            .region("eu-west-1")
            .anonymous()
            .build()
            .unwrap();
        if std::env::var(ENDPOINT_ENV).is_err() {
            assert_eq!(
                c.control_endpoint().as_str(),
                "https://bedrock-agentcore-control.eu-west-1.amazonaws.com/"
            );
            assert_eq!(
                c.data_endpoint().as_str(),
                "https://bedrock-agentcore.eu-west-1.amazonaws.com/"
            );
        }
    }

    #[test]
    fn missing_region_and_credentials_are_config_errors() {
        assert!(matches!(
            Config::builder().anonymous().build(),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            Config::builder().region("us-east-1").build(),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn debug_hides_credentials() {
        let c = Config::builder()
            .region("us-east-1")
            .static_credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
            .build()
            .unwrap();
        let s = format!("{c:?}");
        assert!(!s.contains("wJalrXUtnFEMI"), "{s}");
        assert!(!s.contains("AKIDEXAMPLE"), "{s}");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let r = RetryConfig::standard()
            .initial_backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_millis(300));
        let b1 = r.backoff(1);
        assert!(b1 >= Duration::from_millis(75) && b1 <= Duration::from_millis(125));
        let b5 = r.backoff(5);
        assert!(b5 <= Duration::from_millis(375));
    }
}
