//! AWS's official Rust crates (`aws-sdk-bedrockagentcorecontrol`, `aws-sdk-bedrockagentcore`),
//! unmodified, drive agentcore-local through the whole runtime flow in a given region.
//!
//! ```text
//! official-interop <endpoint> <region>
//! ```
//! Prints `ok <step>` per step and exits non-zero at the first failure.

use std::time::Duration;

use aws_sdk_bedrockagentcore as data;
use aws_sdk_bedrockagentcorecontrol as control;
use control::types::{
    AgentRuntimeArtifact, AgentRuntimeStatus, AllowedPort, ContainerConfiguration,
    FilesystemConfiguration, NetworkConfiguration, NetworkMode, SessionStorageConfiguration,
};
use data::types::{InvokeAgentRuntimeCommandRequestBody, InvokeAgentRuntimeCommandStreamOutput};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn ok(step: &str) {
    println!("ok {step}");
}

fn check(cond: bool, what: &str) -> Res<()> {
    if cond { Ok(()) } else { Err(what.into()) }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(endpoint), Some(region)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: official-interop <endpoint> <region>");
        std::process::exit(2);
    };
    if let Err(e) = run(endpoint, region).await {
        eprintln!("official-interop: {e:?}");
        std::process::exit(1);
    }
}

async fn run(endpoint: &str, region: &str) -> Res<()> {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(control::config::Credentials::new(
            "AKIDLOCAL",
            "local-secret",
            None,
            None,
            "interop",
        ))
        .load()
        .await;
    let cp = control::Client::new(&conf);
    let dp = data::Client::new(&conf);

    // Control plane.
    let created = cp
        .create_agent_runtime()
        .agent_runtime_name("official_rust")
        .agent_runtime_artifact(AgentRuntimeArtifact::ContainerConfiguration(
            ContainerConfiguration::builder()
                .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/agent:1")
                .build()?,
        ))
        .role_arn("arn:aws:iam::123456789012:role/AgentRuntime")
        .network_configuration(
            NetworkConfiguration::builder()
                .network_mode(NetworkMode::Public)
                .build()?,
        )
        .filesystem_configurations(FilesystemConfiguration::SessionStorage(
            SessionStorageConfiguration::builder()
                .mount_path("/mnt/workspace")
                .build()?,
        ))
        .platform_version("2026.11")
        .allowed_ports(AllowedPort::Port(9000))
        .tags("team", "agents")
        .send()
        .await?;
    let id = created.agent_runtime_id().to_owned();
    let arn = created.agent_runtime_arn().to_owned();
    check(
        arn.starts_with("arn:aws") && arn.contains(&format!(":bedrock-agentcore:{region}:")),
        "the runtime ARN is in the client's region",
    )?;
    ok("create_agent_runtime");
    let mut ready = None;
    for _ in 0..100 {
        let got = cp.get_agent_runtime().agent_runtime_id(&id).send().await?;
        if *got.status() == AgentRuntimeStatus::Ready {
            ready = Some(got);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = ready.ok_or("the runtime never became READY")?;
    check(got.platform_version() == Some("2026.11"), "platformVersion came back")?;
    check(got.allowed_ports().len() == 1, "allowedPorts came back")?;
    ok("get_agent_runtime");
    let listed = cp.list_agent_runtimes().send().await?;
    check(
        listed.agent_runtimes().iter().any(|r| r.agent_runtime_id() == id),
        "the runtime is listed",
    )?;
    ok("list_agent_runtimes");
    cp.update_agent_runtime()
        .agent_runtime_id(&id)
        .agent_runtime_artifact(got.agent_runtime_artifact().cloned().ok_or("artifact")?)
        .role_arn(got.role_arn())
        .network_configuration(got.network_configuration().cloned().ok_or("network")?)
        .set_filesystem_configurations(Some(got.filesystem_configurations().to_vec()))
        .description("updated by the official crate")
        .send()
        .await?;
    let versions = cp
        .list_agent_runtime_versions()
        .agent_runtime_id(&id)
        .send()
        .await?;
    check(versions.agent_runtimes().len() == 2, "two versions after the update")?;
    ok("update_agent_runtime");
    cp.create_agent_runtime_endpoint()
        .agent_runtime_id(&id)
        .name("prod")
        .agent_runtime_version("2")
        .send()
        .await?;
    let ep = cp
        .get_agent_runtime_endpoint()
        .agent_runtime_id(&id)
        .endpoint_name("prod")
        .send()
        .await?;
    check(ep.live_version() == Some("2"), "the endpoint serves version 2")?;
    ok("endpoints");
    let tags = cp.list_tags_for_resource().resource_arn(&arn).send().await?;
    check(
        tags.tags().and_then(|t| t.get("team")).map(String::as_str) == Some("agents"),
        "tags from create",
    )?;
    cp.untag_resource().resource_arn(&arn).tag_keys("team").send().await?;
    cp.put_resource_policy()
        .resource_arn(&arn)
        .policy(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await?;
    let policy = cp.get_resource_policy().resource_arn(&arn).send().await?;
    check(policy.policy().is_some(), "the policy came back")?;
    ok("tags_and_policies");

    // Data plane.
    let session = "official-rust-interop-session-000000000000001";
    let invoked = dp
        .invoke_agent_runtime()
        .agent_runtime_arn(&arn)
        .runtime_session_id(session)
        .payload(aws_smithy_types_blob(br#"{"prompt":"hi"}"#))
        .send()
        .await?;
    let body = invoked.response.collect().await?.into_bytes();
    check(
        String::from_utf8_lossy(&body).contains("\"prompt\""),
        "the echo agent answered with the payload",
    )?;
    // The same runtime named by id + accountId, as the model allows.
    let account = arn.split(':').nth(4).unwrap_or_default();
    let invoked = dp
        .invoke_agent_runtime()
        .agent_runtime_arn(&id)
        .account_id(account)
        .runtime_session_id(session)
        .payload(aws_smithy_types_blob(br#"{"prompt":"by id"}"#))
        .send()
        .await?;
    let body = invoked.response.collect().await?.into_bytes();
    check(
        String::from_utf8_lossy(&body).contains("by id"),
        "the echo agent answered when named by id + accountId",
    )?;
    ok("invoke_agent_runtime");
    let out = dp
        .invoke_agent_runtime_command()
        .agent_runtime_arn(&arn)
        .runtime_session_id(session)
        .body(
            InvokeAgentRuntimeCommandRequestBody::builder()
                .command("echo from-official; echo err >&2; exit 3")
                .timeout(60)
                .build()?,
        )
        .send()
        .await?;
    let mut stream = out.stream;
    let (mut stdout, mut exit) = (String::new(), None);
    while let Some(ev) = stream.recv().await? {
        if let InvokeAgentRuntimeCommandStreamOutput::Chunk(c) = ev {
            if let Some(d) = c.content_delta() {
                stdout.push_str(d.stdout().unwrap_or_default());
            }
            if let Some(s) = c.content_stop() {
                exit = Some(s.exit_code());
            }
        }
    }
    check(stdout == "from-official\n", "command stdout")?;
    check(exit == Some(3), "command exit code")?;
    ok("invoke_agent_runtime_command");
    dp.stop_runtime_session()
        .agent_runtime_arn(&arn)
        .runtime_session_id(session)
        .send()
        .await?;
    ok("stop_runtime_session");

    cp.delete_agent_runtime_endpoint()
        .agent_runtime_id(&id)
        .endpoint_name("prod")
        .send()
        .await?;
    cp.delete_agent_runtime().agent_runtime_id(&id).send().await?;
    ok("delete");
    Ok(())
}

fn aws_smithy_types_blob(b: &[u8]) -> data::primitives::Blob {
    data::primitives::Blob::new(b.to_vec())
}
