//! Fault injection: a proxy that cuts, stalls and slows connections between the SDK and
//! agentcore-local. Streams must end in typed errors — never a fake success, never a hang —
//! and slow links must still deliver every byte.

use std::time::Duration;

use agentcore_sdk::{CommandStatus, Error, TimeoutConfig};
use tests::{Fault, FaultProxy, Fixture, client_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_stream_cut_midway_is_truncated_never_successful() {
    let f = Fixture::new().await;
    let proxy = FaultProxy::start(f.local.addr()).await;
    let client = client_for(&proxy.endpoint(), None);
    for cut in [300u64, 5_000, 200_000, 2_000_000] {
        proxy.set_fault(Fault::CutAfter(cut));
        let result = client
            .session(&f.arn)
            .unwrap()
            .command("head -c 8000000 /dev/zero | tr '\\0' x; echo; exit 0")
            .output()
            .await;
        match result {
            Err(Error::TruncatedStream { .. }) => {}
            // A cut inside the response headers: the request itself failed.
            Err(Error::Transport { .. }) if cut < 1_000 => {}
            other => panic!("cut after {cut} bytes gave {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_stream_times_out_instead_of_hanging() {
    let f = Fixture::new().await;
    let proxy = FaultProxy::start(f.local.addr()).await;
    let timeouts = TimeoutConfig::standard().stream_grace(Duration::from_secs(1));
    let client = client_for(&proxy.endpoint(), Some(timeouts));
    let mut stream = client
        .session(&f.arn)
        .unwrap()
        .command("echo started; sleep 30")
        .timeout(Duration::from_secs(1))
        .send()
        .await
        .unwrap();
    use futures::StreamExt;
    assert!(stream.next().await.unwrap().is_ok());
    proxy.set_fault(Fault::Stall);
    let mut last = None;
    while let Some(ev) = stream.next().await {
        last = Some(ev);
    }
    match last {
        Some(Err(Error::Timeout { operation, .. })) => {
            assert_eq!(operation, "InvokeAgentRuntimeCommand")
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_link_delivers_every_byte() {
    let f = Fixture::new().await;
    let proxy = FaultProxy::start(f.local.addr()).await;
    proxy.set_fault(Fault::Throttle(2 * 1024 * 1024));
    let client = client_for(&proxy.endpoint(), None);
    let out = client
        .session(&f.arn)
        .unwrap()
        .command("seq 1 300000")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status, CommandStatus::Completed);
    let expected: String = (1..=300_000).map(|i| format!("{i}\n")).collect();
    assert_eq!(out.stdout.len(), expected.len());
    assert!(out.stdout == expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shell_survives_twenty_cuts_with_every_byte_accounted_for() {
    use agentcore_sdk::shell::{ReconnectPolicy, ShellEvent};
    use futures::StreamExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let f = Fixture::new().await;
    let proxy = FaultProxy::start(f.local.addr()).await;
    let client = client_for(&proxy.endpoint(), None);
    let mut shell = client
        .shell(&f.arn)
        .reconnect(
            ReconnectPolicy::default()
                .delays(vec![Duration::from_millis(20), Duration::from_millis(50)])
                .window(Duration::from_secs(30)),
        )
        .connect()
        .await
        .unwrap();
    let mut events = shell.events();
    shell
        .write_all(b"export KEPT=state-survives; stty -echo\n")
        .await
        .unwrap();
    const LINES: u32 = 60_000;
    shell
        .write_all(
            format!(
                "echo BEGIN-$((1)); for i in $(seq 1 {LINES}); do echo line-$i; [ $((i % 1000)) = 0 ] && sleep 0.08; done; echo END-$((2))\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();

    // Cut the connection 20 times at random moments while the output flows.
    let cutter = {
        let proxy_cut = std::sync::Arc::new(proxy);
        let p = proxy_cut.clone();
        let task = tokio::spawn(async move {
            let mut seed: u64 = 0x9e3779b97f4a7c15;
            let mut cuts = 0;
            while cuts < 20 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                tokio::time::sleep(Duration::from_millis(80 + seed % 170)).await;
                if p.cut() > 0 {
                    cuts += 1;
                }
            }
            cuts
        });
        (proxy_cut, task)
    };

    let mut received = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while !String::from_utf8_lossy(&received).contains("END-2") {
        let n = tokio::time::timeout_at(deadline, shell.read(&mut buf))
            .await
            .expect("output finishes")
            .unwrap();
        assert!(n > 0, "unexpected EOF");
        received.extend_from_slice(&buf[..n]);
    }
    let cuts = cutter.1.await.unwrap();
    assert_eq!(cuts, 20);

    // Every cut was followed by a reconnect; the server reports what it could not replay.
    // (A cut can also hit a reconnect in progress: every cut shows as an attempt, and at
    // least one attempt succeeded.)
    let (mut attempts, mut reconnects) = (0, 0);
    let mut dropped = 0u64;
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(300), events.next()).await {
        match ev {
            ShellEvent::Reconnecting { .. } => attempts += 1,
            ShellEvent::Reconnected { bytes_dropped } => {
                reconnects += 1;
                dropped += bytes_dropped;
            }
            _ => {}
        }
    }
    assert!(
        attempts >= 20 && reconnects >= 1,
        "{attempts} attempts, {reconnects} reconnects"
    );

    // Checksum: the output between the markers is the produced output minus what was
    // reported dropped, byte for byte.
    let text = String::from_utf8_lossy(&received).replace("\r\n", "\n");
    let body = text
        .split("BEGIN-1\n")
        .nth(1)
        .unwrap()
        .split("END-2")
        .next()
        .unwrap();
    let expected: String = (1..=LINES).map(|i| format!("line-{i}\n")).collect();
    assert_eq!(
        body.len() as u64 + dropped,
        expected.len() as u64,
        "received + dropped = produced"
    );
    if dropped == 0 {
        assert!(
            body == expected,
            "output differs although nothing was reported dropped"
        );
    }

    // And the shell kept its state.
    shell.write_all(b"echo \"$KEPT\"-$((4*4))\n").await.unwrap();
    tests::read_until(&mut shell, "state-survives-16").await;
}
