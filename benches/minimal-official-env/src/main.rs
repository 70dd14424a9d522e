//! The same program with AWS's official crate and credentials from the environment, without
//! `aws-config` (the crate's own config builder and credential types).
use aws_sdk_bedrockagentcore::config::{Credentials, Region};
use aws_sdk_bedrockagentcore::types::{InvokeAgentRuntimeCommandRequestBody, InvokeAgentRuntimeCommandStreamOutput};

#[tokio::main]
async fn main() {
    let arn = std::env::args().nth(1).expect("runtime ARN");
    let var = |k: &str| std::env::var(k).expect(k);
    let config = aws_sdk_bedrockagentcore::Config::builder()
        .region(Region::new(var("AWS_REGION")))
        .credentials_provider(Credentials::new(
            var("AWS_ACCESS_KEY_ID"),
            var("AWS_SECRET_ACCESS_KEY"),
            std::env::var("AWS_SESSION_TOKEN").ok(),
            None,
            "environment",
        ))
        .build();
    let client = aws_sdk_bedrockagentcore::Client::from_conf(config);
    let out = client
        .invoke_agent_runtime_command()
        .agent_runtime_arn(arn)
        .runtime_session_id(format!("minimal-{:0>40}", std::process::id()))
        .body(InvokeAgentRuntimeCommandRequestBody::builder().command("uname -a").build().expect("body"))
        .send()
        .await
        .expect("command");
    let mut stream = out.stream;
    while let Some(InvokeAgentRuntimeCommandStreamOutput::Chunk(c)) = stream.recv().await.expect("event") {
        if let Some(d) = c.content_delta() {
            print!("{}", d.stdout().unwrap_or_default());
        }
    }
}
