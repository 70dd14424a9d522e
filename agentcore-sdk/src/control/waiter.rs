//! Waiting for an agent runtime to become `READY`.

use std::time::Duration;

use tokio::time::Instant;

use super::{AgentRuntime, AgentRuntimeStatus, GetAgentRuntime};
use crate::client::Client;
use crate::error::Error;
use crate::transport::Transport;

/// Polls GetAgentRuntime until the runtime is `READY`. See [`Client::wait_until_ready`].
///
/// Fails fast with [`Error::WaiterFailed`] (carrying the service's `failureReason`) when the
/// runtime reaches a `*_FAILED` state or starts `DELETING`, and with [`Error::Timeout`] when
/// the time bound passes.
#[derive(Debug, Clone)]
#[must_use = "call .send().await"]
pub struct WaitUntilReady {
    transport: Transport,
    id: String,
    timeout: Duration,
    initial_delay: Duration,
    max_delay: Duration,
}

impl WaitUntilReady {
    crate::config::config_override_setter!();

    pub(crate) fn new(transport: Transport, id: String) -> Self {
        Self {
            transport,
            id,
            timeout: Duration::from_secs(15 * 60),
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15),
        }
    }

    /// Give up after this long (default 15 minutes).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// First delay between polls (default 1 s); it grows by half each poll.
    pub fn initial_delay(mut self, d: Duration) -> Self {
        self.initial_delay = d;
        self
    }

    /// Longest delay between polls (default 15 s).
    pub fn max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }

    /// Polls until `READY`, failure or timeout.
    ///
    /// Dropping the future stops polling; the runtime is not affected.
    pub async fn send(self) -> Result<AgentRuntime, Error> {
        let Self {
            transport,
            id,
            timeout,
            initial_delay,
            max_delay,
        } = self;
        let poll = || GetAgentRuntime::new(transport.clone(), id.clone()).send();
        poll_until_ready(&id, timeout, initial_delay, max_delay, poll).await
    }
}

/// The waiter's loop over any poll: `READY` returns, a failed state or `DELETING` fails
/// fast, and no poll starts after `timeout` (delays grow by half, capped at `max_delay`).
async fn poll_until_ready<F, Fut>(
    id: &str,
    timeout: Duration,
    initial_delay: Duration,
    max_delay: Duration,
    mut poll: F,
) -> Result<AgentRuntime, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<AgentRuntime, Error>>,
{
    let start = Instant::now();
    // No deadline when the timeout is too large to add (e.g. `Duration::MAX`).
    let deadline = start.checked_add(timeout);
    let mut delay = initial_delay;
    loop {
        let rt = poll().await?;
        match &rt.status {
            AgentRuntimeStatus::Ready => return Ok(rt),
            s if s.is_failed() || *s == AgentRuntimeStatus::Deleting => {
                return Err(Error::WaiterFailed {
                    id: id.to_owned(),
                    status: s.clone(),
                    reason: rt.failure_reason,
                });
            }
            s => tracing::debug!(runtime = %id, status = %s, "waiting for READY"),
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return Err(Error::Timeout {
                operation: "WaitUntilReady",
                after: now.saturating_duration_since(start),
            });
        }
        let left = deadline.map_or(delay, |d| d.saturating_duration_since(now));
        tokio::time::sleep(delay.min(left)).await;
        delay = delay.mul_f64(1.5).min(max_delay);
    }
}

impl Client {
    /// Polls the runtime `id` until it is `READY`.
    pub fn wait_until_ready(&self, id: impl AsRef<str>) -> WaitUntilReady {
        WaitUntilReady::new(self.transport().clone(), id.as_ref().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime(status: AgentRuntimeStatus) -> AgentRuntime {
        serde_json::from_value(serde_json::json!({
            "agentRuntimeArn": "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/coder-AbCdE12345",
            "agentRuntimeId": "coder-AbCdE12345",
            "agentRuntimeName": "coder",
            "agentRuntimeVersion": "1",
            "roleArn": "arn:aws:iam::123456789012:role/r",
            "status": status.as_str(),
            "lastUpdatedAt": "2026-01-01T00:00:00Z",
            "createdAt": "2026-01-01T00:00:00Z",
        }))
        .unwrap()
    }

    /// With paused time: polls back off by half (1, 1.5, 2.25 … capped at 4 s) and the
    /// timeout ends the wait — measured on tokio's clock, so it holds in virtual time (with
    /// `std::time::Instant` the deadline never came and this looped forever).
    #[tokio::test(start_paused = true)]
    async fn backs_off_and_times_out_in_virtual_time() {
        let start = tokio::time::Instant::now();
        let polls = std::sync::Mutex::new(Vec::new());
        let poll = || {
            polls.lock().unwrap().push(start.elapsed());
            async { Ok(runtime(AgentRuntimeStatus::Creating)) }
        };
        let waited = tokio::time::timeout(
            Duration::from_secs(3600),
            poll_until_ready(
                "coder-AbCdE12345",
                Duration::from_secs(20),
                Duration::from_secs(1),
                Duration::from_secs(4),
                poll,
            ),
        )
        .await
        .expect("the waiter's own timeout ends it");
        assert!(matches!(waited, Err(Error::Timeout { .. })), "{waited:?}");
        let at: Vec<u128> = polls
            .lock()
            .unwrap()
            .iter()
            .map(|d| d.as_millis())
            .collect();
        assert_eq!(at, [0, 1000, 2500, 4750, 8125, 12125, 16125, 20000]);
    }

    /// A failed state ends the wait at once with the service's reason.
    #[tokio::test(start_paused = true)]
    async fn a_failed_state_fails_fast() {
        let mut statuses = vec![
            AgentRuntimeStatus::CreateFailed,
            AgentRuntimeStatus::Creating,
        ];
        let poll = || {
            let s = statuses.pop().unwrap();
            async move { Ok(runtime(s)) }
        };
        let err = poll_until_ready(
            "coder-AbCdE12345",
            Duration::MAX,
            Duration::from_secs(1),
            Duration::from_secs(15),
            poll,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::WaiterFailed { .. }), "{err}");
    }
}
