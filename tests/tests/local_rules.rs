//! agentcore-local plays the service's rules: an agent answering `/ping` with `HealthyBusy`
//! keeps its session from being stopped as idle, and every response carries a request id,
//! successes included.

use std::time::{Duration, Instant};

use agentcore_local::LocalRuntime;
use tests::Fixture;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_busy_keeps_a_session_from_being_idled() {
    let bin = tests::example_binary("race");
    let f = Fixture::with(
        LocalRuntime::builder()
            .agent_with_code("*", "exec /var/task/race --agent-mode", bin)
            .max_idle_timeout(Duration::from_millis(500))
            .reap_interval(Duration::from_millis(100)),
    )
    .await;
    let session = f.session();
    // Background work for 3 s: the agent answers at once, then reports HealthyBusy.
    session
        .invoke("")
        .json(&serde_json::json!({ "background": { "ms": 3000 } }))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let t0 = Instant::now();
    // Far past the 0.5 s idle timeout, the busy session still runs…
    while t0.elapsed() < Duration::from_millis(2000) {
        assert_eq!(f.local.running_sessions(), 1, "stopped while HealthyBusy");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // …and is idled once its agent is Healthy again.
    while f.local.running_sessions() != 0 {
        assert!(t0.elapsed() < Duration::from_secs(15), "never idled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        t0.elapsed() >= Duration::from_millis(2900),
        "idled while busy"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_has_a_request_id() {
    let f = Fixture::new().await;
    let http = reqwest::Client::new();
    let base = f.local.endpoint();
    for (method, path) in [
        ("GET", format!("/runtimes/{}/", f.id)),
        ("POST", "/runtimes/".to_owned()),
        ("GET", "/no/such/path".to_owned()),
    ] {
        let resp = http
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .send()
            .await
            .unwrap();
        let id = resp.headers().get("x-amzn-requestid");
        assert!(
            id.is_some_and(|v| !v.is_empty()),
            "{method} {path}: {}",
            resp.status()
        );
    }
}
