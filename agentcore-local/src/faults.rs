//! The service's rules and faults, played on purpose so that clients can be tested against
//! them: a request id on every response (always), the per-runtime command quota (opt in, 25
//! per second as AWS), and a deterministic, seeded [`FaultPlan`] (opt in: off by default, so
//! clients we did not write see a well-behaved server).
//!
//! Both are one middleware layer in front of the router ([`apply`]); the quota and the plan
//! only look at the three data-plane operations a session is used through: InvokeAgentRuntime,
//! InvokeAgentRuntimeCommand and StopRuntimeSession.

use std::collections::{HashMap, HashSet, VecDeque};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agentcore_sdk::ServiceErrorKind;
use agentcore_sdk::data::SESSION_ID_HEADER;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use crate::api_error::ApiError;

/// Faults injected at given rates, decided by a seeded hash of (seed, operation, session id,
/// how many requests of that operation the session made before): the same calls get the same
/// faults whatever else runs at the same time.
///
/// A spec string (`--faults`) is comma-separated `key=value`: `rate=0.1` (a tenth of the
/// requests get a fault, split evenly between throttling, conflict, 5xx and cut streams, and a
/// tenth of session starts are slow), or each rate on its own — `throttle`, `conflict`,
/// `5xx`, `cut`, `slow-start` — and `slow-start-ms`, `cut-after` (bytes of the body that go
/// out before the cut, default 0), `seed`:
///
/// ```
/// let plan: agentcore_local::FaultPlan = "rate=0.1,seed=7".parse().unwrap();
/// assert_eq!(plan.throttle, 0.025);
/// let plan: agentcore_local::FaultPlan = "conflict=0.5,seed=1".parse().unwrap();
/// assert_eq!((plan.conflict, plan.throttle), (0.5, 0.0));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    /// The seed of every draw.
    pub seed: u64,
    /// Share of requests answered 429 `ThrottlingException`.
    pub throttle: f64,
    /// Share answered 409 `RetryableConflictException` (concurrent use of a session).
    pub conflict: f64,
    /// Share answered 500 `InternalServerException`.
    pub server_error: f64,
    /// Share of streaming answers (invocations, commands) cut after [`cut_after_bytes`]
    /// bytes of their body.
    ///
    /// [`cut_after_bytes`]: FaultPlan::cut_after_bytes
    pub cut_stream: f64,
    /// Bytes of a cut body that reach the client first.
    pub cut_after_bytes: u64,
    /// Share of new sessions whose first request waits [`slow_start_delay`] first.
    ///
    /// [`slow_start_delay`]: FaultPlan::slow_start_delay
    pub slow_start: f64,
    /// How long a slow session start takes longer.
    pub slow_start_delay: Duration,
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self {
            seed: 0,
            throttle: 0.0,
            conflict: 0.0,
            server_error: 0.0,
            cut_stream: 0.0,
            cut_after_bytes: 0,
            slow_start: 0.0,
            slow_start_delay: Duration::from_secs(2),
        }
    }
}

impl FaultPlan {
    /// A plan where `rate` of the requests get a fault (split evenly between throttling,
    /// conflict, 5xx and cut streams) and `rate` of session starts are slow.
    pub fn uniform(rate: f64, seed: u64) -> Self {
        let each = rate / 4.0;
        Self {
            seed,
            throttle: each,
            conflict: each,
            server_error: each,
            cut_stream: each,
            slow_start: rate,
            ..Self::default()
        }
    }
}

impl std::str::FromStr for FaultPlan {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut plan = Self::default();
        let rate = |v: &str| -> Result<f64, String> {
            let r: f64 = v.parse().map_err(|_| format!("not a number: {v:?}"))?;
            if (0.0..=1.0).contains(&r) {
                Ok(r)
            } else {
                Err(format!("a rate is between 0 and 1, got {v}"))
            }
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("expected key=value, got {part:?}"))?;
            match k.trim() {
                "rate" => {
                    let seed = plan.seed;
                    plan = Self::uniform(rate(v)?, seed);
                }
                "seed" => plan.seed = v.parse().map_err(|_| format!("bad seed {v:?}"))?,
                "throttle" => plan.throttle = rate(v)?,
                "conflict" => plan.conflict = rate(v)?,
                "5xx" | "server-error" => plan.server_error = rate(v)?,
                "cut" => plan.cut_stream = rate(v)?,
                "cut-after" => {
                    plan.cut_after_bytes = v.parse().map_err(|_| format!("bad cut-after {v:?}"))?
                }
                "slow-start" => plan.slow_start = rate(v)?,
                "slow-start-ms" => {
                    plan.slow_start_delay = Duration::from_millis(
                        v.parse().map_err(|_| format!("bad slow-start-ms {v:?}"))?,
                    )
                }
                other => return Err(format!("unknown fault {other:?}")),
            }
        }
        if plan.throttle + plan.conflict + plan.server_error + plan.cut_stream > 1.0 {
            return Err("the fault rates add up to more than 1".into());
        }
        Ok(plan)
    }
}

/// What the rules and the fault plan did, for tests and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceStats {
    /// Data-plane requests seen (invocations, commands, stops).
    pub requests: u64,
    /// Commands answered 429 because their runtime was over its command quota.
    pub quota_throttled: u64,
    /// Injected 429s.
    pub injected_throttles: u64,
    /// Injected 409 `RetryableConflictException`s.
    pub injected_conflicts: u64,
    /// Injected 500s.
    pub injected_server_errors: u64,
    /// Cut response streams.
    pub injected_cuts: u64,
    /// Slowed session starts.
    pub injected_slow_starts: u64,
    /// The most commands one runtime started within any one second (a sliding window ending
    /// at each start), counting only commands that were let through.
    pub peak_commands_per_second: u64,
}

type Quota = governor::RateLimiter<
    String,
    governor::state::keyed::HashMapStateStore<String>,
    governor::clock::DefaultClock,
    governor::middleware::NoOpMiddleware,
>;

/// The rules in force on one server. See the [module documentation](self).
pub struct Rules {
    plan: Option<FaultPlan>,
    quota: Option<Quota>,
    counters: Mutex<HashMap<(Operation, String), u64>>,
    seen_sessions: Mutex<HashSet<String>>,
    recent_commands: Mutex<HashMap<String, VecDeque<Instant>>>,
    requests: AtomicU64,
    quota_throttled: AtomicU64,
    throttles: AtomicU64,
    conflicts: AtomicU64,
    server_errors: AtomicU64,
    cuts: AtomicU64,
    slow_starts: AtomicU64,
    peak: AtomicU64,
}

impl std::fmt::Debug for Rules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rules")
            .field("plan", &self.plan)
            .field("quota", &self.quota.is_some())
            .finish_non_exhaustive()
    }
}

/// The data-plane operations the rules look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Operation {
    Invoke,
    Command,
    Stop,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Self::Invoke => "invoke",
            Self::Command => "command",
            Self::Stop => "stop",
        }
    }
}

/// The operation and runtime of a data-plane path `/runtimes/{arn}/{op}`, the runtime
/// named by its id (the last part of the ARN, percent-decoded).
fn operation(path: &str) -> Option<(Operation, String)> {
    let rest = path.strip_prefix("/runtimes/")?;
    let (target, op) = rest.split_once('/')?;
    let op = match op.trim_end_matches('/') {
        "invocations" => Operation::Invoke,
        "commands" => Operation::Command,
        "stopruntimesession" => Operation::Stop,
        _ => return None,
    };
    let target = percent_encoding::percent_decode_str(target).decode_utf8_lossy();
    let runtime = target.rsplit('/').next().unwrap_or_default().to_owned();
    Some((op, runtime))
}

/// splitmix64: a well-spread 64-bit value from any 64-bit input.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A number in [0, 1) from the seed and the parts (FNV-1a over the parts, then mixed).
fn draw(seed: u64, parts: &[&str], n: u64) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ mix(seed);
    for p in parts {
        for b in p.bytes().chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    let x = mix(h ^ mix(n));
    // 53 random bits as a fraction: exact in an f64.
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    Throttle,
    Conflict,
    ServerError,
    Cut,
}

impl Rules {
    /// Rules with this fault plan (none: no faults) and command quota per runtime (none: no
    /// quota).
    pub fn new(plan: Option<FaultPlan>, commands_per_second: Option<u32>) -> Self {
        let quota = commands_per_second
            .and_then(NonZeroU32::new)
            .map(|n| governor::RateLimiter::hashmap(governor::Quota::per_second(n)));
        Self {
            plan,
            quota,
            counters: Mutex::new(HashMap::new()),
            seen_sessions: Mutex::new(HashSet::new()),
            recent_commands: Mutex::new(HashMap::new()),
            requests: AtomicU64::new(0),
            quota_throttled: AtomicU64::new(0),
            throttles: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
            server_errors: AtomicU64::new(0),
            cuts: AtomicU64::new(0),
            slow_starts: AtomicU64::new(0),
            peak: AtomicU64::new(0),
        }
    }

    /// What the rules did so far.
    pub fn stats(&self) -> ServiceStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ServiceStats {
            requests: get(&self.requests),
            quota_throttled: get(&self.quota_throttled),
            injected_throttles: get(&self.throttles),
            injected_conflicts: get(&self.conflicts),
            injected_server_errors: get(&self.server_errors),
            injected_cuts: get(&self.cuts),
            injected_slow_starts: get(&self.slow_starts),
            peak_commands_per_second: get(&self.peak),
        }
    }

    fn fault(&self, plan: &FaultPlan, op: Operation, session: &str) -> Option<Fault> {
        let n = {
            let mut c = self.counters.lock().ok()?;
            let n = c.entry((op, session.to_owned())).or_insert(0);
            let this = *n;
            *n = n.saturating_add(1);
            this
        };
        let x = draw(plan.seed, &[op.name(), session], n);
        let streaming = op != Operation::Stop;
        let mut edge = 0.0;
        for (rate, fault, applies) in [
            (plan.throttle, Fault::Throttle, true),
            (plan.conflict, Fault::Conflict, true),
            (plan.server_error, Fault::ServerError, true),
            (plan.cut_stream, Fault::Cut, streaming),
        ] {
            edge += rate;
            if x < edge {
                return applies.then_some(fault);
            }
        }
        None
    }

    fn slow_start(&self, plan: &FaultPlan, session: &str) -> Option<Duration> {
        let first = self.seen_sessions.lock().ok()?.insert(session.to_owned());
        (first && draw(plan.seed, &["start", session], 0) < plan.slow_start)
            .then_some(plan.slow_start_delay)
    }

    /// Counts a command let through and keeps the peak of one second.
    fn record_command(&self, runtime: &str) {
        let now = Instant::now();
        let Ok(mut recent) = self.recent_commands.lock() else {
            return;
        };
        let q = recent.entry(runtime.to_owned()).or_default();
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            q.pop_front();
        }
        q.push_back(now);
        self.peak.fetch_max(q.len() as u64, Ordering::Relaxed);
    }
}

/// The layer: command quota, then the fault plan, for the data-plane operations.
pub async fn apply(State(rules): State<Arc<Rules>>, req: Request, next: Next) -> Response {
    let Some((op, runtime)) = operation(req.uri().path()) else {
        return next.run(req).await;
    };
    rules.requests.fetch_add(1, Ordering::Relaxed);
    let session = req
        .headers()
        .get(SESSION_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if op == Operation::Command
        && let Some(q) = &rules.quota
        && q.check_key(&runtime).is_err()
    {
        rules.quota_throttled.fetch_add(1, Ordering::Relaxed);
        return ApiError::new(
            ServiceErrorKind::Throttling,
            "Rate exceeded: too many InvokeAgentRuntimeCommand requests for this agent runtime",
        )
        .into_response();
    }
    let mut cut = None;
    if let Some(plan) = &rules.plan
        && !session.is_empty()
    {
        if let Some(delay) = rules.slow_start(plan, &session) {
            rules.slow_starts.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(delay).await;
        }
        match rules.fault(plan, op, &session) {
            Some(Fault::Throttle) => {
                rules.throttles.fetch_add(1, Ordering::Relaxed);
                return ApiError::new(ServiceErrorKind::Throttling, "Rate exceeded (fault plan)")
                    .into_response();
            }
            Some(Fault::Conflict) => {
                rules.conflicts.fetch_add(1, Ordering::Relaxed);
                return ApiError::new(
                    ServiceErrorKind::RetryableConflict,
                    "The session is in use by another request (fault plan)",
                )
                .into_response();
            }
            Some(Fault::ServerError) => {
                rules.server_errors.fetch_add(1, Ordering::Relaxed);
                return ApiError::internal("Internal failure (fault plan)").into_response();
            }
            Some(Fault::Cut) => cut = Some(plan.cut_after_bytes),
            None => {}
        }
    }
    if op == Operation::Command {
        rules.record_command(&runtime);
    }
    let resp = next.run(req).await;
    match cut {
        Some(after) if resp.status().is_success() => {
            rules.cuts.fetch_add(1, Ordering::Relaxed);
            let (parts, body) = resp.into_parts();
            Response::from_parts(parts, Body::from_stream(cut_after(body, after)))
        }
        _ => resp,
    }
}

/// `body`, cut with an error once `limit` bytes went out: the connection is dropped mid-body
/// (HTTP/1.1 without its last chunk, HTTP/2 with a reset), as when a network path breaks.
fn cut_after(
    body: Body,
    limit: u64,
) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send {
    let cut = || Err(std::io::Error::other("stream cut by the fault plan"));
    futures::stream::unfold(
        (Some(body.into_data_stream()), limit),
        move |(body, left)| async move {
            let mut body = body?;
            if left == 0 {
                return Some((cut(), (None, 0)));
            }
            match body.next().await {
                Some(Ok(chunk)) => {
                    let n = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
                    if n >= left {
                        let keep = usize::try_from(left).unwrap_or(usize::MAX);
                        Some((Ok(chunk.slice(..keep.min(chunk.len()))), (Some(body), 0)))
                    } else {
                        Some((Ok(chunk), (Some(body), left.saturating_sub(n))))
                    }
                }
                _ => Some((cut(), (None, 0))),
            }
        },
    )
}

/// Adds `x-amzn-RequestId` to every response that has none, successes included, as AWS
/// does.
pub async fn request_id(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    if !resp.headers().contains_key("x-amzn-requestid")
        && let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
    {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_operation_and_runtime() {
        let arn =
            "arn%3Aaws%3Abedrock-agentcore%3Aus-east-1%3A123456789012%3Aruntime%2Fcoder-AbCdE12345";
        assert_eq!(
            operation(&format!("/runtimes/{arn}/commands")),
            Some((Operation::Command, "coder-AbCdE12345".into()))
        );
        assert_eq!(
            operation("/runtimes/coder-AbCdE12345/invocations"),
            Some((Operation::Invoke, "coder-AbCdE12345".into()))
        );
        assert_eq!(operation("/runtimes/coder-AbCdE12345"), None);
    }

    /// The plan's faults come at its rates and are the same for the same calls.
    #[test]
    fn faults_are_seeded_and_at_their_rates() {
        let plan = FaultPlan::uniform(0.2, 42);
        let run = || {
            let rules = Rules::new(Some(plan.clone()), None);
            (0..4000)
                .map(|i| rules.fault(&plan, Operation::Command, &format!("s{}", i % 40)))
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run(), "deterministic");
        let faults = a.iter().filter(|f| f.is_some()).count();
        assert!((600..1000).contains(&faults), "{faults} of 4000 at 20%");
        for kind in [
            Fault::Throttle,
            Fault::Conflict,
            Fault::ServerError,
            Fault::Cut,
        ] {
            let n = a.iter().filter(|f| **f == Some(kind)).count();
            assert!((120..280).contains(&n), "{kind:?}: {n}");
        }
        // Stops are never cut.
        let rules = Rules::new(Some(plan.clone()), None);
        assert!(
            (0..2000)
                .all(|i| rules.fault(&plan, Operation::Stop, &format!("s{i}")) != Some(Fault::Cut))
        );
    }

    #[test]
    fn specs_parse() {
        let p: FaultPlan = "rate=0.1,seed=9,cut-after=5,slow-start-ms=10"
            .parse()
            .unwrap();
        assert_eq!(p.seed, 9);
        assert_eq!(p.cut_after_bytes, 5);
        assert_eq!(p.slow_start, 0.1);
        assert_eq!(p.slow_start_delay, Duration::from_millis(10));
        assert!("throttle=2".parse::<FaultPlan>().is_err());
        assert!("nope=1".parse::<FaultPlan>().is_err());
        assert!("throttle=0.6,conflict=0.6".parse::<FaultPlan>().is_err());
    }
}
