//! Waiting for an agent runtime to become `READY`.

use std::time::{Duration, Instant};

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
    pub async fn send(self) -> Result<AgentRuntime, Error> {
        let start = Instant::now();
        // No deadline when the timeout is too large to add (e.g. `Duration::MAX`).
        let deadline = start.checked_add(self.timeout);
        let mut delay = self.initial_delay;
        loop {
            let rt = GetAgentRuntime::new(self.transport.clone(), self.id.clone())
                .send()
                .await?;
            match &rt.status {
                AgentRuntimeStatus::Ready => return Ok(rt),
                s if s.is_failed() || *s == AgentRuntimeStatus::Deleting => {
                    return Err(Error::WaiterFailed {
                        id: self.id,
                        status: s.clone(),
                        reason: rt.failure_reason,
                    });
                }
                s => tracing::debug!(runtime = %self.id, status = %s, "waiting for READY"),
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
            delay = delay.mul_f64(1.5).min(self.max_delay);
        }
    }
}

impl Client {
    /// Polls the runtime `id` until it is `READY`.
    pub fn wait_until_ready(&self, id: impl AsRef<str>) -> WaitUntilReady {
        WaitUntilReady::new(self.transport().clone(), id.as_ref().to_owned())
    }
}
