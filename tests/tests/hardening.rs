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
    let patient = tests::client_for(
        &f.local.endpoint(),
        Some(
            TimeoutConfig::standard()
                .read_idle(Duration::MAX)
                .operation(Duration::MAX),
        ),
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
        Keepalive::default().ping_interval(Duration::ZERO),
        Keepalive::default().pong_timeout(Duration::ZERO),
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
        .keepalive(
            Keepalive::default()
                .ping_interval(Duration::MAX)
                .pong_timeout(Duration::MAX),
        )
        .connect()
        .await
        .unwrap();
    use tokio::io::AsyncWriteExt;
    shell.write_all(b"echo $((6*7))-ok\n").await.unwrap();
    tests::read_until(&mut shell, "42-ok").await;
}

/// Two servers on one data directory would overwrite each other's state file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_data_directory_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let first = LocalRuntime::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    let err = LocalRuntime::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
    first.shutdown().await;
    let again = LocalRuntime::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    again.shutdown().await;
}

/// An update retried with the same clientToken makes one version, not two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_update_with_the_same_client_token_is_applied_once() {
    let f = Fixture::new().await;
    for _ in 0..3 {
        f.client
            .update_agent_runtime(&f.id)
            .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/coder:2")
            .role_arn("arn:aws:iam::123456789012:role/local")
            .client_token("update-token-0123456789abcdef0123")
            .send()
            .await
            .unwrap();
    }
    let got = f.client.get_agent_runtime(&f.id).send().await.unwrap();
    assert_eq!(got.agent_runtime_version, "2");
}

async fn artifact(client: &Client, id: &str) -> String {
    let got = client.get_agent_runtime(id).send().await.unwrap();
    serde_json::to_string(&got.agent_runtime_artifact).unwrap()
}

/// Whether `body` has the acknowledged `uri` (`...:1` may have become `...:2` unacknowledged).
fn holds(body: &str, uri: &str) -> bool {
    body.contains(uri) || (uri.ends_with(":1") && body.contains(&uri.replace(":1", ":2")))
}

/// Kill the server with SIGKILL in the middle of a storm of creates and updates, three times:
/// on restart the state file parses and every change that was acknowledged is there (a change
/// made but not yet acknowledged when the server died may be there too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_changes_survive_sigkill_mid_storm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut acknowledged: Vec<(String, String)> = Vec::new(); // (id, container uri)
    for round in 0..3 {
        let (mut server, client) = tests::spawn_server(&data).await;
        // What was acknowledged before is still there.
        for (id, uri) in &acknowledged {
            let body = artifact(&client, id).await;
            assert!(holds(&body, uri), "round {round}: {id} lost {uri}: {body}");
        }
        let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let storm = (0..8).map(|w| {
            let client = client.clone();
            let acked = acked.clone();
            async move {
                for i in 0.. {
                    let name = format!("r{round}w{w}n{i}");
                    let Ok(rt) = client
                        .create_agent_runtime()
                        .name(&name)
                        .container_uri(format!(
                            "123456789012.dkr.ecr.us-east-1.amazonaws.com/{name}:1"
                        ))
                        .role_arn("arn:aws:iam::123456789012:role/local")
                        .send()
                        .await
                    else {
                        return;
                    };
                    let id = rt.agent_runtime_id.into_string();
                    acked.lock().unwrap().push((
                        id.clone(),
                        format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/{name}:1"),
                    ));
                    let uri = format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/{name}:2");
                    if client
                        .update_agent_runtime(&id)
                        .container_uri(&uri)
                        .role_arn("arn:aws:iam::123456789012:role/local")
                        .send()
                        .await
                        .is_err()
                    {
                        return;
                    }
                    let mut a = acked.lock().unwrap();
                    if let Some(last) = a.iter_mut().rev().find(|(i, _)| *i == id) {
                        last.1 = uri;
                    }
                }
            }
        });
        let kill_after = Duration::from_millis(100 + fastrand::u64(..400));
        tokio::select! {
            _ = futures::future::join_all(storm) => {}
            _ = tokio::time::sleep(kill_after) => {}
        }
        server.start_kill().unwrap();
        server.wait().await.unwrap();
        let new = acked.lock().unwrap().clone();
        assert!(
            !new.is_empty(),
            "round {round}: nothing acknowledged in {kill_after:?}"
        );
        acknowledged.extend(new);
        let text = std::fs::read(data.join("runtimes.json")).unwrap();
        serde_json::from_slice::<serde_json::Value>(&text).expect("the state file parses");
    }
    let (_server, client) = tests::spawn_server(&data).await;
    for (id, uri) in &acknowledged {
        let body = artifact(&client, id).await;
        assert!(holds(&body, uri), "{id} lost {uri}: {body}");
    }
}

/// Collecting in memory is bounded whatever the other side sends: `output()` keeps head and
/// tail with `truncated` set, `collect` and `read_file` refuse with `TooLarge`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collecting_in_memory_is_bounded() {
    let f = Fixture::new().await;
    let s = f.session();
    let out = s
        .command("seq 1 300000")
        .send()
        .await
        .unwrap()
        .output_up_to(64 * 1024)
        .await
        .unwrap();
    assert!(out.truncated);
    assert!(out.stdout.len() <= 64 * 1024, "{}", out.stdout.len());
    assert!(out.stdout.starts_with("1\n2\n3\n"));
    assert!(out.stdout.ends_with("299999\n300000\n"));
    assert!(out.success());
    let small = s.command("seq 1 3").output().await.unwrap();
    assert_eq!(
        (small.stdout.as_str(), small.truncated),
        ("1\n2\n3\n", false)
    );

    let payload = format!("{{\"big\":\"{}\"}}", "z".repeat(256 * 1024));
    let err = s
        .invoke(payload)
        .send()
        .await
        .unwrap()
        .into_stream()
        .collect_up_to(64 * 1024)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: 65536, .. }), "{err}");

    // A file whose base64 is over the output limit (64 MiB) is refused, not half-decoded.
    s.run("head -c 50M /dev/zero > /tmp/big")
        .await
        .unwrap()
        .check()
        .unwrap();
    let err = s.read_file("/tmp/big").await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    if f.local.isolation() != agentcore_local::Isolation::None {
        assert_eq!(s.read_file("/etc/hostname").await.unwrap(), b"localhost\n");
    }
}

/// A large paste while nobody reads the output: the shell (`cat`) stops reading its input once
/// its output backs up. Neither side may deadlock: once the reader starts, every byte comes
/// through. (Both sides used to await a write while the other direction backed up.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_paste_while_nobody_reads_does_not_deadlock() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let f = Fixture::new().await;
    let mut shell = f.session().shell().connect().await.unwrap();
    shell
        .write_all(b"stty raw -echo; echo RE''ADY; cat\n")
        .await
        .unwrap();
    tests::read_until(&mut shell, "READY").await;
    let (mut reader, mut writer) = shell.split();
    const N: usize = 8 * 1024 * 1024;
    let data: Vec<u8> = (0..N).map(|i| b'a' + (i % 26) as u8).collect();
    let expected = data.clone();
    let paste = tokio::spawn(async move {
        writer.write_all(&data).await.unwrap();
        writer
    });
    // Nobody reads for a while: every buffer on the way fills up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut got: Vec<u8> = Vec::with_capacity(N);
    let mut buf = vec![0u8; 64 * 1024];
    let read_all = async {
        while got.len() < N {
            let n = reader.read(&mut buf).await.unwrap();
            assert!(n > 0, "EOF after {} bytes", got.len());
            // `cat` may pass a leftover newline of the READY line first.
            got.extend(buf[..n].iter().filter(|b| b.is_ascii_lowercase()));
        }
    };
    tokio::time::timeout(Duration::from_secs(90), read_all)
        .await
        .unwrap_or_else(|_| panic!("deadlock: {} of {N} bytes came back", got.len()));
    assert!(got == expected, "the paste came back altered");
    tokio::time::timeout(Duration::from_secs(10), paste)
        .await
        .expect("the paste finished")
        .unwrap();
}

fn retrying() -> agentcore_sdk::shell::ReconnectPolicy {
    agentcore_sdk::shell::ReconnectPolicy::default()
        .delays(vec![Duration::from_millis(50), Duration::from_millis(100)])
        .window(Duration::from_secs(120))
}

/// While the shell is reconnecting, `detach()` is honoured at once (it used to wait out the
/// reconnect window), and a dropped handle ends the task: it must not get back in later and
/// kick a client that re-attached the shell in the meantime.
///
/// The reconnect attempts are refused by the proxy before they reach the server. With
/// `Fault::CutAfter(0)` (as this test first did) each attempt's upgrade request *does* reach
/// the server, which attaches it and only then loses the connection; an attempt in flight
/// when the handle is dropped can so be attached *after* the other client re-attached, and
/// kick it ("the shell has ended" on its next write, the flake seen under load). That is the
/// protocol's last-attach-wins, not the SDK coming back: see
/// `an_upgrade_already_sent_attaches_even_after_its_handle_is_gone` below, and the SDK's
/// in-memory test `a_handle_dropped_while_reconnecting_never_dials_again`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_is_honoured_while_reconnecting() {
    use agentcore_sdk::shell::ShellEvent;
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;
    let f = Fixture::new().await;
    let proxy = tests::FaultProxy::start(f.local.addr()).await;
    let via_proxy = tests::client_for(&proxy.endpoint(), None);
    let session_id = f.session().id().as_str().to_owned();
    let connect = || {
        via_proxy
            .shell(&f.arn)
            .session_id(&session_id)
            .reconnect(retrying())
            .connect()
    };
    // Until the shell reports a failed reconnect attempt.
    async fn reconnecting(events: &mut agentcore_sdk::shell::ShellEvents) {
        loop {
            let ev = tokio::time::timeout(Duration::from_secs(10), events.next())
                .await
                .expect("a reconnect attempt")
                .expect("events");
            if matches!(ev, ShellEvent::Reconnecting { attempt: 2.., .. }) {
                return;
            }
        }
    }

    // Detach while every reconnect attempt fails.
    let mut shell = connect().await.unwrap();
    let mut events = shell.events();
    shell.write_all(b"echo $((20+1))-up\n").await.unwrap();
    tests::read_until(&mut shell, "21-up").await;
    proxy.set_fault(tests::Fault::Refuse);
    proxy.cut();
    reconnecting(&mut events).await;
    tokio::time::timeout(Duration::from_secs(3), shell.detach())
        .await
        .expect("detach is honoured while reconnecting");

    // Drop while reconnecting; someone else re-attaches; the dropped one never comes back.
    proxy.set_fault(tests::Fault::None);
    let mut dropped = connect().await.unwrap();
    let mut events = dropped.events();
    let ids = dropped.ids().clone();
    proxy.set_fault(tests::Fault::Refuse);
    proxy.cut();
    reconnecting(&mut events).await;
    drop(dropped);
    proxy.set_fault(tests::Fault::None);
    let mut other = f
        .client
        .shell(&f.arn)
        .session_id(ids.session_id.as_str())
        .shell_id(ids.shell_id.as_str())
        .connect()
        .await
        .unwrap();
    let mut events = other.events();
    // Longer than the dropped handle's backoff (50, 100 ms): time for it to come back if it
    // could.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    other
        .write_all(b"echo $((40+2))-still-mine\n")
        .await
        .unwrap();
    tests::read_until(&mut other, "42-still-mine").await;
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(100), events.next()).await {
        assert!(
            !matches!(ev, ShellEvent::Kicked),
            "the dropped handle came back and kicked the re-attached client"
        );
    }
}

/// What made `control_is_honoured_while_reconnecting` flaky, reproduced on purpose: an upgrade
/// request already on its way to the server when its handle is dropped still attaches the
/// shell when it arrives, and kicks whoever attached it since (the protocol's rule: the last
/// attach wins, close 4000 for the one before). Here the proxy holds the request until the
/// other client has attached; under load, the server's own queue did the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_already_sent_attaches_even_after_its_handle_is_gone() {
    use agentcore_sdk::shell::ShellEvent;
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;
    let f = Fixture::new().await;
    let proxy = tests::FaultProxy::start(f.local.addr()).await;
    let via_proxy = tests::client_for(&proxy.endpoint(), None);
    let mut dropped = via_proxy
        .shell(&f.arn)
        .session_id(f.session().id().as_str())
        .reconnect(retrying())
        .connect()
        .await
        .unwrap();
    let mut events = dropped.events();
    let ids = dropped.ids().clone();
    // The reconnect's upgrade request is held on its way to the server.
    proxy.set_fault(tests::Fault::HoldUpstream);
    proxy.cut();
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("a reconnect attempt")
            .expect("events");
        if matches!(ev, ShellEvent::Reconnecting { .. }) {
            break;
        }
    }
    // The first attempt is dialled 50 ms after the event; then the handle goes.
    let mut other = f
        .client
        .shell(&f.arn)
        .session_id(ids.session_id.as_str())
        .shell_id(ids.shell_id.as_str())
        .connect()
        .await
        .unwrap();
    let mut other_events = other.events();
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(dropped);
    other.write_all(b"echo $((6*7))-mine\n").await.unwrap();
    tests::read_until(&mut other, "42-mine").await;
    // The held request arrives now: the server attaches it, and `other` is kicked.
    proxy.set_fault(tests::Fault::None);
    let kicked = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(ev) = other_events.next().await {
            if ev == ShellEvent::Kicked {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(
        kicked,
        "the stale upgrade attached and kicked the re-attached client"
    );
}

/// Ids go in as they come out: a typed id from one response is the argument of the next call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_ids_pass_straight_back_in() {
    let f = Fixture::new().await;
    let created = f
        .client
        .create_agent_runtime()
        .name("idsback")
        .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/idsback:1")
        .role_arn("arn:aws:iam::123456789012:role/local")
        .send()
        .await
        .unwrap();
    let ready = f
        .client
        .wait_until_ready(&created.agent_runtime_id)
        .send()
        .await
        .unwrap();
    let got = f
        .client
        .get_agent_runtime(&created.agent_runtime_id)
        .send()
        .await
        .unwrap();
    assert_eq!(got.agent_runtime_id, ready.agent_runtime_id);
    let endpoint = f
        .client
        .get_agent_runtime_endpoint(&got.agent_runtime_id, "DEFAULT")
        .send()
        .await
        .unwrap();
    assert_eq!(endpoint.name.as_str(), "DEFAULT");
    f.client
        .delete_agent_runtime(got.agent_runtime_id)
        .send()
        .await
        .unwrap();
}

/// Builders on both planes are `Clone`: build once, send many times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builders_clone_on_both_planes() {
    let f = Fixture::new().await;
    let get = f.client.get_agent_runtime(&f.id);
    let again = get.clone();
    assert_eq!(
        get.send().await.unwrap().agent_runtime_id,
        again.send().await.unwrap().agent_runtime_id
    );
    let update = f
        .client
        .update_agent_runtime(&f.id)
        .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/coder:3")
        .role_arn("arn:aws:iam::123456789012:role/local")
        .session_storage("/mnt/../bad");
    // A deferred validation error survives the clone.
    for u in [update.clone(), update] {
        assert!(matches!(
            u.send().await.unwrap_err(),
            Error::InvalidInput { .. }
        ));
    }
    let waiter = f.client.wait_until_ready(&f.id);
    waiter.clone().send().await.unwrap();
    waiter.send().await.unwrap();
    let cmd = f.session().command("echo cloned");
    let twin = cmd.clone();
    assert_eq!(cmd.output().await.unwrap().stdout, "cloned\n");
    assert_eq!(twin.output().await.unwrap().stdout, "cloned\n");
}

/// `is_retryable` is true only where sending again is safe: a refused connection reached
/// nothing; a connection that broke after the request went out may have started a command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_only_where_resending_is_safe() {
    let f = Fixture::new().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let no_retries = agentcore_sdk::RetryConfig::standard().max_attempts(1);
    let refused = Client::from_conf(
        Config::builder()
            .region("us-east-1")
            .endpoint_url(format!("http://127.0.0.1:{closed}"))
            .static_credentials("local", "local")
            .retry_config(no_retries)
            .build()
            .unwrap(),
    );
    let err = refused.run(&f.arn, "true").await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(err.is_retryable(), "{err:?}");

    let proxy = tests::FaultProxy::start(f.local.addr()).await;
    proxy.set_fault(tests::Fault::CutAfter(0));
    let broken = Client::from_conf(
        Config::builder()
            .region("us-east-1")
            .endpoint_url(proxy.endpoint())
            .static_credentials("local", "local")
            .retry_config(no_retries)
            .build()
            .unwrap(),
    );
    let err = broken.run(&f.arn, "true").await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(!err.is_retryable(), "{err:?}");
}

/// A background process that keeps the output pipe open used to keep the stream open forever,
/// past the command's own timeout. Now: the main process exits, what arrives within the drain
/// budget is delivered, then `contentStop`; and the timeout is a deadline for the whole stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_writer_does_not_keep_the_stream_open() {
    let f = Fixture::new().await;
    let s = f.session();
    let background = s
        .command("(while true; do echo tick; sleep 0.05; done) & echo started")
        .timeout(Duration::from_secs(8));
    // A hang fails here (the stream used to run past 35 s).
    let out = tokio::time::timeout(Duration::from_secs(30), background.output())
        .await
        .expect("the stream ends")
        .unwrap();
    assert!(out.stdout.contains("started\n"), "{}", out.stdout);
    assert_eq!(out.exit_code, 0);
    assert!(out.success());

    // In the foreground, the same loop is stopped by the timeout: a typed TimedOut end.
    let foreground = s
        .command("while true; do echo tick; sleep 0.05; done")
        .timeout(Duration::from_secs(2));
    let out = tokio::time::timeout(Duration::from_secs(30), foreground.output())
        .await
        .expect("the stream ends")
        .unwrap();
    assert_eq!(out.status, agentcore_sdk::CommandStatus::TimedOut);
    assert!(out.stdout.contains("tick"));
}
