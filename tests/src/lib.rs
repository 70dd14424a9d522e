//! Shared helpers for the cross-crate integration tests in `tests/`.

use agentcore_local::LocalRuntime;
use agentcore_sdk::{Client, RuntimeArn, Session};

/// A started local runtime with one agent runtime that has session storage at
/// `/mnt/workspace`.
pub struct Fixture {
    /// The server.
    pub local: LocalRuntime,
    /// A client for it.
    pub client: Client,
    /// The agent runtime's ARN.
    pub arn: RuntimeArn,
    /// The agent runtime's id.
    pub id: String,
}

impl Fixture {
    /// Starts a server in a fresh temp dir and creates a READY runtime.
    pub async fn new() -> Self {
        Self::with(LocalRuntime::builder()).await
    }

    /// Starts `builder` and creates a READY runtime named `coder`.
    pub async fn with(builder: agentcore_local::LocalRuntimeBuilder) -> Self {
        let local = builder
            .ready_delay(std::time::Duration::from_millis(50))
            .start()
            .await
            .expect("local runtime starts");
        let client = local.client();
        let (arn, id) = create_runtime(&client, "coder").await;
        Self {
            local,
            client,
            arn,
            id,
        }
    }

    /// A new session of the runtime.
    pub fn session(&self) -> Session {
        self.client.session(&self.arn).expect("valid arn")
    }
}

/// Creates a runtime with session storage at `/mnt/workspace` and waits until READY.
pub async fn create_runtime(client: &Client, name: &str) -> (RuntimeArn, String) {
    let created = client
        .create_agent_runtime()
        .name(name)
        .container_uri(format!("local/{name}:latest"))
        .role_arn("arn:aws:iam::123456789012:role/local")
        .session_storage("/mnt/workspace")
        .send()
        .await
        .expect("create runtime");
    let ready = client
        .wait_until_ready(created.agent_runtime_id.as_str())
        .initial_delay(std::time::Duration::from_millis(20))
        .send()
        .await
        .expect("runtime becomes READY");
    (
        ready.agent_runtime_arn,
        ready.agent_runtime_id.into_string(),
    )
}

/// Peak resident set size of this process, in bytes (Linux `VmHWM`).
pub fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}
