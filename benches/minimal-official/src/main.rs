//! The same program with AWS's official crate.
use aws_sdk_bedrockagentcore::types::{InvokeAgentRuntimeCommandRequestBody, InvokeAgentRuntimeCommandStreamOutput};

#[tokio::main]
async fn main() {
    let arn = std::env::args().nth(1).expect("runtime ARN");
    let client = aws_sdk_bedrockagentcore::Client::new(&aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await);
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
