//! The smallest useful program with agentcore-sdk: run one command, print its output.
#[tokio::main]
async fn main() -> Result<(), agentcore_sdk::Error> {
    let arn = std::env::args().nth(1).expect("runtime ARN");
    let client = agentcore_sdk::Client::new(&aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await)?;
    let out = client.run(arn.as_str(), "uname -a").await?;
    print!("{}", out.stdout);
    Ok(())
}
