//! A client-side rate limiter for InvokeAgentRuntimeCommand (25 TPS per agent on AWS).

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// governor's clock on tokio's time: permits are spaced in tokio time, so a paused test clock
/// (`#[tokio::test(start_paused = true)]`) drives the limiter too.
#[derive(Debug, Clone, Copy)]
struct TokioClock {
    origin: tokio::time::Instant,
}

impl Clock for TokioClock {
    type Instant = Duration;
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

type Gcra = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

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
    clock: TokioClock,
    inner: Gcra,
}

impl CommandRateLimiter {
    /// The service's default quota per agent.
    pub const SERVICE_LIMIT: u32 = 25;

    /// At most `n` command starts per second (`n` of 0 is treated as 1).
    pub fn per_second(n: u32) -> Self {
        let rate = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        let clock = TokioClock {
            origin: tokio::time::Instant::now(),
        };
        Self {
            rate,
            clock,
            inner: RateLimiter::direct_with_clock(Quota::per_second(rate), clock),
        }
    }

    /// The configured rate.
    pub fn rate(&self) -> u32 {
        self.rate.get()
    }

    /// Waits for a permit.
    ///
    /// Dropping the future before it completes takes no permit.
    pub async fn acquire(&self) {
        while let Err(not_until) = self.inner.check() {
            tokio::time::sleep(not_until.wait_time_from(self.clock.now())).await;
        }
    }
}

impl fmt::Debug for CommandRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandRateLimiter")
            .field("per_second", &self.rate)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Permits are spaced on tokio's clock: a burst of `n`, then one every `1/n` s — in
    /// virtual time (governor's own clock and timer would have waited in real time).
    #[tokio::test(start_paused = true)]
    async fn permits_are_spaced_in_tokio_time() {
        let limiter = CommandRateLimiter::per_second(4);
        let start = tokio::time::Instant::now();
        let mut at = Vec::new();
        for _ in 0..6 {
            limiter.acquire().await;
            at.push(start.elapsed().as_millis());
        }
        assert_eq!(at, [0, 0, 0, 0, 250, 500]);
    }
}
