//! Shared setup for the examples: a client for AWS, for a local endpoint, or for an
//! in-process local runtime, and a demo runtime with session storage.

pub mod coding;
pub mod experiments;
pub mod preview;

use std::time::Duration;

use agentcore_local::LocalRuntime;
use agentcore_sdk::{Client, Config, RuntimeArn};

/// Where the examples run.
pub struct Target {
    /// The client.
    pub client: Client,
    /// The runtime to use.
    pub arn: RuntimeArn,
    /// The endpoint override, if any (to print re-attach commands).
    pub endpoint: Option<String>,
    /// The in-process local runtime, when one was started (keep it alive).
    pub local: Option<LocalRuntime>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// - `--runtime` given: that runtime, credentials and region from the AWS configuration
///   (region from the ARN when none is configured); a loopback `--endpoint` without
///   `AWS_ACCESS_KEY_ID` uses dummy local credentials.
/// - only `--endpoint`: a runtime named `demo_name` on that (local) endpoint.
/// - neither: an in-process agentcore-local and a runtime named `demo_name` on it.
pub async fn target(
    runtime: Option<&str>,
    endpoint: Option<&str>,
    demo_name: &str,
) -> Result<Target, BoxError> {
    let local_creds = endpoint.is_some() && std::env::var_os("AWS_ACCESS_KEY_ID").is_none();
    match (runtime, endpoint) {
        (Some(arn), _) => {
            let arn: RuntimeArn = arn.parse()?;
            let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .load()
                .await;
            let mut b = Config::builder_from_sdk_config(&sdk);
            if sdk.region().is_none() {
                b = b.region(arn.region());
            }
            if let Some(e) = endpoint {
                b = b.endpoint_url(e);
            }
            if local_creds {
                b = b.static_credentials("local", "local");
            }
            Ok(Target {
                client: Client::from_conf(b.build()?),
                arn,
                endpoint: endpoint.map(str::to_owned),
                local: None,
            })
        }
        (None, Some(e)) => {
            let client = Client::from_conf(
                Config::builder()
                    .region(agentcore_local::REGION)
                    .endpoint_url(e)
                    .static_credentials("local", "local")
                    .build()?,
            );
            let arn = demo_runtime(&client, demo_name).await?;
            Ok(Target {
                client,
                arn,
                endpoint: Some(e.to_owned()),
                local: None,
            })
        }
        (None, None) => {
            let local = LocalRuntime::builder().start().await?;
            let client = local.client();
            let arn = demo_runtime(&client, demo_name).await?;
            Ok(Target {
                client,
                arn,
                endpoint: Some(local.endpoint()),
                local: Some(local),
            })
        }
    }
}

/// The runtime named `name`, created with session storage at `/mnt/workspace` if missing,
/// once it is READY.
pub async fn demo_runtime(client: &Client, name: &str) -> Result<RuntimeArn, agentcore_sdk::Error> {
    demo_runtime_with(client, name, |create| create).await
}

/// [`demo_runtime`], with `configure` adding settings to the runtime when it is created.
pub async fn demo_runtime_with(
    client: &Client,
    name: &str,
    configure: impl FnOnce(
        agentcore_sdk::control::CreateAgentRuntime,
    ) -> agentcore_sdk::control::CreateAgentRuntime,
) -> Result<RuntimeArn, agentcore_sdk::Error> {
    use futures::TryStreamExt;
    let existing: Vec<_> = client
        .list_agent_runtimes()
        .into_stream()
        .try_collect()
        .await?;
    let id = match existing
        .into_iter()
        .find(|r| r.agent_runtime_name.as_str() == name)
    {
        Some(rt) => rt.agent_runtime_id,
        None => {
            configure(
                client
                    .create_agent_runtime()
                    .name(name)
                    .container_uri(format!(
                        "123456789012.dkr.ecr.us-east-1.amazonaws.com/{name}:latest"
                    ))
                    .role_arn("arn:aws:iam::123456789012:role/local")
                    .session_storage("/mnt/workspace"),
            )
            .send()
            .await?
            .agent_runtime_id
        }
    };
    Ok(client
        .wait_until_ready(id.as_str())
        .timeout(Duration::from_secs(60))
        .send()
        .await?
        .agent_runtime_arn)
}
