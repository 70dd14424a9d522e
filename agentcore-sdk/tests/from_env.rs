//! `Config::builder_from_env`: region and credentials from the standard environment variables
//! (its own test binary: it sets the process environment).

use wiremock::matchers::{header_regex, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn region_and_credentials_come_from_the_environment() {
    let server = MockServer::start().await;
    // The request is signed with the environment's key, for its region, with its token.
    Mock::given(method("POST"))
        .and(header_regex(
            "authorization",
            r"Credential=AKIDFROMENV/\d{8}/eu-north-1/bedrock-agentcore/aws4_request",
        ))
        .and(header_regex("x-amz-security-token", "^token-from-env$"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"agentRuntimes": []})),
        )
        .expect(1)
        .mount(&server)
        .await;
    // SAFETY: this test binary has one test and sets the environment before any thread reads it.
    unsafe {
        std::env::remove_var("AWS_DEFAULT_REGION");
        std::env::set_var("AWS_REGION", "eu-north-1");
        std::env::set_var("AWS_ACCESS_KEY_ID", "AKIDFROMENV");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "secret-from-env");
        std::env::set_var("AWS_SESSION_TOKEN", "token-from-env");
    }
    let config = agentcore_sdk::Config::builder_from_env()
        .endpoint_url(server.uri())
        .build()
        .unwrap();
    assert_eq!(config.region(), "eu-north-1");
    let debug = format!("{config:?}");
    assert!(
        !debug.contains("secret-from-env") && !debug.contains("token-from-env"),
        "{debug}"
    );
    let client = agentcore_sdk::Client::from_conf(config);
    let page = client.list_agent_runtimes().send().await.unwrap();
    assert!(page.agent_runtimes.is_empty());

    // Without credentials in the environment the builder says so.
    unsafe {
        std::env::remove_var("AWS_ACCESS_KEY_ID");
    }
    let e = agentcore_sdk::Config::builder_from_env()
        .build()
        .unwrap_err();
    assert!(matches!(e, agentcore_sdk::Error::Config(_)), "{e:?}");
}
