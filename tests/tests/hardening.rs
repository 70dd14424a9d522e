//! Inputs that used to panic or hang, from either side of the wire: each must give a typed
//! answer, and the server must keep serving afterwards.

use std::time::Duration;

use agentcore_local::LocalRuntime;
use agentcore_sdk::shell::Keepalive;
use agentcore_sdk::{Client, Config, Error, TimeoutConfig};
use tests::{Fixture, create_runtime};

/// A huge `nextToken` used to overflow `start + max` inside the handler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_next_token_is_an_empty_page_not_a_panic() {
    let f = Fixture::new().await;
    let http = reqwest::Client::new();
    for token in ["18446744073709551615", "18446744073709551600"] {
        let resp = http
            .post(format!(
                "{}/runtimes/?nextToken={token}&maxResults=100",
                f.local.endpoint()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{token}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["agentRuntimes"], serde_json::json!([]), "{body}");
    }
    let listed = f.client.get_agent_runtime(&f.id).send().await.unwrap();
    assert_eq!(listed.agent_runtime_id.as_str(), f.id);
}

/// A state file holding a runtime without versions used to panic every request that looked
/// at it, under the store lock: poisoned, every later request was a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_without_versions_on_disk_does_not_poison_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let local = LocalRuntime::builder()
        .data_dir(dir.path())
        .ready_delay(Duration::from_millis(10))
        .start()
        .await
        .unwrap();
    let client = local.client();
    let (_, broken) = create_runtime(&client, "broken").await;
    let (_, kept) = create_runtime(&client, "kept").await;
    local.shutdown().await;
    let path = dir.path().join("runtimes.json");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let rt = state["runtimes"][&broken].as_object_mut().unwrap();
    rt.insert("versions".into(), serde_json::json!([]));
    std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();

    let local = LocalRuntime::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    let client = local.client();
    for _ in 0..2 {
        let got = client.get_agent_runtime(&kept).send().await.unwrap();
        assert_eq!(got.agent_runtime_id.as_str(), kept);
    }
    let err = client.get_agent_runtime(&broken).send().await.unwrap_err();
    assert_eq!(
        err.as_service().and_then(|e| e.status()),
        Some(404),
        "{err}"
    );
}

/// `Duration::MAX` means "no limit" wherever a user gives a duration: it used to overflow an
/// `Instant` addition and panic (in the waiter, and in a spawned task for the read-idle
/// timer, seen by the reader as a clean end of stream).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_durations_mean_no_limit() {
    let f = Fixture::new().await;
    let ready = f
        .client
        .wait_until_ready(&f.id)
        .timeout(Duration::MAX)
        .max_delay(Duration::MAX)
        .send()
        .await
        .unwrap();
    assert_eq!(ready.agent_runtime_id.as_str(), f.id);
    let patient = Client::from_conf(
        Config::builder()
            .region("us-east-1")
            .endpoint_url(f.local.endpoint())
            .static_credentials("local", "local")
            .timeout_config(
                TimeoutConfig::standard()
                    .read_idle(Duration::MAX)
                    .operation(Duration::MAX),
            )
            .build()
            .unwrap(),
    );
    let session = patient.session(&f.arn).unwrap();
    let echoed = session
        .invoke(r#"{"prompt":"hi"}"#)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(
        String::from_utf8_lossy(&echoed).contains("hi"),
        "{echoed:?}"
    );
}

/// A zero keepalive interval used to panic inside the shell's task (`interval(0)`), which the
/// reader saw as a clean EOF. It is bad input, refused before connecting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_keepalive_is_refused_before_connecting() {
    let f = Fixture::new().await;
    for k in [
        Keepalive {
            ping_interval: Duration::ZERO,
            ..Keepalive::default()
        },
        Keepalive {
            pong_timeout: Duration::ZERO,
            ..Keepalive::default()
        },
    ] {
        let err = f
            .session()
            .shell()
            .keepalive(k)
            .connect()
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    }
    // Huge intervals are fine.
    let mut shell = f
        .session()
        .shell()
        .keepalive(Keepalive {
            ping_interval: Duration::MAX,
            pong_timeout: Duration::MAX,
            ..Keepalive::default()
        })
        .connect()
        .await
        .unwrap();
    use tokio::io::AsyncWriteExt;
    shell.write_all(b"echo $((6*7))-ok\n").await.unwrap();
    tests::read_until(&mut shell, "42-ok").await;
}
