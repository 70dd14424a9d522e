//! A client-side rate limiter for InvokeAgentRuntimeCommand (25 TPS per agent on AWS), and
//! the client's registry of them: one per agent runtime, shared by every call and every
//! experiment made through one client.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
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

/// Spaces command starts evenly to at most `n` per second (GCRA via `governor`, no bursts:
/// one start every `1/n` s, so no window of one second holds more than `n`). The client keeps
/// one per agent runtime ([`Client::command_rate_limiter`](crate::Client::command_rate_limiter)),
/// shared by every call through it; a limiter of your own (`CommandRequest::rate_limiter`)
/// is waited on as well, so it can only lower the rate.
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
            inner: RateLimiter::direct_with_clock(
                Quota::per_second(rate).allow_burst(NonZeroU32::MIN),
                clock,
            ),
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

/// The client's command limiters, one per agent runtime (keyed by runtime id).
#[derive(Debug, Default)]
pub(crate) struct LimiterRegistry {
    /// The rate of limiters made for runtimes nobody registered (`None`: no limit).
    default_rate: Option<u32>,
    by_runtime: Mutex<HashMap<String, Arc<CommandRateLimiter>>>,
}

impl LimiterRegistry {
    pub(crate) fn new(default_rate: Option<u32>) -> Self {
        Self {
            default_rate,
            by_runtime: Mutex::new(HashMap::new()),
        }
    }

    /// The limiter of `runtime`, if it has one (registered, or made at the default rate).
    pub(crate) fn get(&self, runtime: &str) -> Option<Arc<CommandRateLimiter>> {
        let mut map = self.by_runtime.lock().ok()?;
        if let Some(l) = map.get(runtime) {
            return Some(l.clone());
        }
        let rate = self.default_rate?;
        let l = Arc::new(CommandRateLimiter::per_second(rate));
        map.insert(runtime.to_owned(), l.clone());
        Some(l)
    }

    /// The limiter of `runtime`, made at the default rate, else at `rate`, when it has none.
    pub(crate) fn get_or_register(&self, runtime: &str, rate: u32) -> Arc<CommandRateLimiter> {
        let made = || {
            Arc::new(CommandRateLimiter::per_second(
                self.default_rate.unwrap_or(rate),
            ))
        };
        match self.by_runtime.lock() {
            Ok(mut map) => map.entry(runtime.to_owned()).or_insert_with(made).clone(),
            Err(_) => made(),
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

    /// Permits are spaced evenly on tokio's clock, one every `1/n` s (no burst, so no second
    /// holds more than `n`) — in virtual time (governor's own clock and timer would have
    /// waited in real time).
    #[tokio::test(start_paused = true)]
    async fn permits_are_spaced_in_tokio_time() {
        let limiter = CommandRateLimiter::per_second(4);
        let start = tokio::time::Instant::now();
        let mut at = Vec::new();
        for _ in 0..6 {
            limiter.acquire().await;
            at.push(start.elapsed().as_millis());
        }
        assert_eq!(at, [0, 250, 500, 750, 1000, 1250]);
    }

    /// One limiter per runtime: the same one for every caller, made at the client's rate
    /// when one is set, else at the rate the first caller asks.
    #[test]
    fn the_registry_hands_out_one_limiter_per_runtime() {
        let none = LimiterRegistry::new(None);
        assert!(none.get("a-0123456789").is_none(), "no limit unless asked");
        let a = none.get_or_register("a-0123456789", 25);
        assert_eq!(a.rate(), 25);
        assert!(Arc::ptr_eq(&a, &none.get("a-0123456789").unwrap()));
        assert!(Arc::ptr_eq(&a, &none.get_or_register("a-0123456789", 50)));
        let client_rate = LimiterRegistry::new(Some(10));
        assert_eq!(client_rate.get_or_register("b-0123456789", 25).rate(), 10);
        assert_eq!(client_rate.get("c-0123456789").unwrap().rate(), 10);
    }
}
