//! A client-side rate limiter for InvokeAgentRuntimeCommand (25 TPS per agent on AWS).

use std::fmt;
use std::num::NonZeroU32;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Spaces command starts to at most `n` per second (GCRA via `governor`, bursts of at most
/// `n`). Share one (`Arc`) between every session that calls the same agent.
///
/// ```
/// use std::sync::Arc;
/// use agentcore_sdk::data::CommandRateLimiter;
/// let limiter = Arc::new(CommandRateLimiter::per_second(25));
/// assert_eq!(limiter.rate(), 25);
/// ```
pub struct CommandRateLimiter {
    rate: NonZeroU32,
    inner: DefaultDirectRateLimiter,
}

impl CommandRateLimiter {
    /// The service's default quota per agent.
    pub const SERVICE_LIMIT: u32 = 25;

    /// At most `n` command starts per second (`n` of 0 is treated as 1).
    pub fn per_second(n: u32) -> Self {
        let rate = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        Self {
            rate,
            inner: RateLimiter::direct(Quota::per_second(rate)),
        }
    }

    /// The configured rate.
    pub fn rate(&self) -> u32 {
        self.rate.get()
    }

    /// Waits for a permit.
    pub async fn acquire(&self) {
        self.inner.until_ready().await;
    }
}

impl fmt::Debug for CommandRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandRateLimiter")
            .field("per_second", &self.rate)
            .finish()
    }
}
