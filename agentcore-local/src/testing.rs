//! Support for `#[agentcore_local::test]`: an isolated local runtime per test.
//!
//! The attribute expands to a plain `#[test]` that calls [`run_test`]; you rarely use this
//! module directly.

use std::fmt::Debug;
use std::future::Future;

use agentcore_sdk::{Client, RuntimeArn, Session};

use crate::LocalRuntime;

/// What a test function gets.
#[derive(Debug)]
pub struct TestContext {
    /// The local runtime (its data directory is a fresh temporary directory).
    pub local: LocalRuntime,
    /// A client for it.
    pub client: Client,
    /// The agent runtime created for the test.
    pub arn: RuntimeArn,
    /// A new session of that runtime.
    pub session: Session,
}

impl TestContext {
    /// Starts a local runtime and creates a READY runtime with session storage at
    /// `mount_path` (default `/mnt/workspace`), hosting `agent` if given.
    pub async fn start(
        test_name: &str,
        mount_path: Option<&str>,
        agent: Option<&str>,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let mut builder = LocalRuntime::builder().ready_delay(std::time::Duration::ZERO);
        if let Some(a) = agent {
            builder = builder.agent("*", a);
        }
        let local = builder.start().await?;
        let client = local.client();
        let created = client
            .create_agent_runtime()
            .name(runtime_name(test_name))
            .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/test:latest")
            .role_arn("arn:aws:iam::123456789012:role/local")
            .session_storage(mount_path.unwrap_or("/mnt/workspace"))
            .send()
            .await?;
        let ready = client
            .wait_until_ready(created.agent_runtime_id.as_str())
            .initial_delay(std::time::Duration::from_millis(10))
            .send()
            .await?;
        let session = client.session(&ready.agent_runtime_arn)?;
        Ok(Self {
            local,
            client,
            arn: ready.agent_runtime_arn,
            session,
        })
    }
}

/// A valid runtime name derived from a test name.
fn runtime_name(test_name: &str) -> String {
    let cleaned: String = test_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(46)
        .collect();
    format!("t_{cleaned}")
}

/// Test outcomes the attribute accepts: `()` or `Result<(), E: Debug>`.
pub trait TestResult {
    /// `Err` with a description on failure.
    fn into_test_result(self) -> Result<(), String>;
}

impl TestResult for () {
    fn into_test_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: Debug> TestResult for Result<(), E> {
    fn into_test_result(self) -> Result<(), String> {
        self.map_err(|e| format!("{e:?}"))
    }
}

/// Runs one test body on a fresh multi-threaded runtime with a fresh [`TestContext`];
/// everything is torn down afterwards, whether the test passed or not.
#[allow(
    clippy::expect_used,
    reason = "test support: a test that cannot get a tokio runtime cannot run, and panicking is how a test fails"
)]
pub fn run_test<F, Fut>(test_name: &str, mount_path: Option<&str>, agent: Option<&str>, body: F)
where
    F: FnOnce(TestContext) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime for the test");
    let outcome = rt.block_on(async {
        let ctx = TestContext::start(test_name, mount_path, agent)
            .await
            .unwrap_or_else(|e| panic!("agentcore test setup failed: {e}"));
        body(ctx).await
    });
    if let Err(e) = outcome {
        panic!("test returned an error: {e}");
    }
}
