//! The smallest useful program with agentcore-sdk, credentials from the environment (no
//! `aws-config`): run one command, print its output.
#[tokio::main]
async fn main() -> Result<(), agentcore_sdk::Error> {
    let arn = std::env::args().nth(1).expect("runtime ARN");
    let config = agentcore_sdk::Config::builder_from_env().build()?;
    let client = agentcore_sdk::Client::from_conf(config);
    let out = client.run(arn.as_str(), "uname -a").await?;
    print!("{}", out.stdout);
    Ok(())
}
