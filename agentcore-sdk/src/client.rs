//! The client: one handle on both planes.
//!
//! `Client` is only the handle (configuration and connections). Its operations are added by
//! the modules that implement them — `control`, `data`, `shell`, `session` each have an
//! `impl Client` block next to their builders, as aws-sdk-rust does — so this module names
//! none of them and they depend on it, not the other way round.

use std::fmt;

use crate::config::Config;
use crate::error::Error;
use crate::transport::Transport;

/// The AgentCore Runtime client. Cheap to clone; clones share configuration and connections.
///
/// ```no_run
/// # async fn f() -> Result<(), agentcore_sdk::Error> {
/// let sdk_config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
/// let client = agentcore_sdk::Client::new(&sdk_config)?;
/// let arn = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/coder-AbCdE12345";
/// let out = client.run(arn, "uname -a").await?;
/// print!("{}", out.stdout);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    transport: Transport,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.transport.config)
            .finish()
    }
}

impl Client {
    /// A client from the configuration `aws_config` loaded (region, credential chain,
    /// endpoint URL). `AGENTCORE_ENDPOINT_URL` overrides the endpoint of both planes.
    pub fn new(sdk_config: &aws_types::SdkConfig) -> Result<Self, Error> {
        Ok(Self::from_conf(Config::from_sdk_config(sdk_config)?))
    }

    /// A client from a finished [`Config`].
    pub fn from_conf(config: Config) -> Self {
        Self {
            transport: Transport::new(config),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.transport.config
    }

    /// The handle the operation builders hold.
    pub(crate) fn transport(&self) -> &Transport {
        &self.transport
    }
}
