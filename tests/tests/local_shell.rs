//! Interactive shells against agentcore-local's real PTY: I/O, resize, exit codes, large
//! pastes, reconnect through a fault-injecting proxy, detach/re-attach, kick, limits, auth.

use std::time::Duration;

use agentcore_sdk::shell::{ReconnectPolicy, ShellEvent, WebSocketAuth};
use agentcore_sdk::{Client, Config, ServiceErrorKind};
use futures::StreamExt;
use tests::{FaultProxy, Fixture, read_until};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn fast_reconnect() -> ReconnectPolicy {
    ReconnectPolicy::default()
        .delays(vec![Duration::from_millis(50), Duration::from_millis(100)])
        .window(Duration::from_secs(20))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_session_resize_and_exit_code() {
    let f = Fixture::new().await;
    let mut shell = f
        .session()
        .shell()
        .terminal_size(80, 24)
        .connect()
        .await
        .unwrap();
    shell.write_all(b"echo $((40+2))-ok\n").await.unwrap();
    read_until(&mut shell, "42-ok").await;
    shell
        .write_all(b"stty size; echo size-$((1+1))\n")
        .await
        .unwrap();
    let out = read_until(&mut shell, "size-2").await;
    assert!(out.contains("24 80"), "{out}");
    shell.resize(132, 43);
    shell
        .write_all(b"stty size; echo size-$((2+1))\n")
        .await
        .unwrap();
    let out = read_until(&mut shell, "size-3").await;
    assert!(out.contains("43 132"), "{out}");
    shell.write_all(b"exit 5\n").await.unwrap();
    let mut rest = Vec::new();
    shell.read_to_end(&mut rest).await.unwrap();
    assert_eq!(shell.exit_status().unwrap().code, Some(5));
    let err = shell.write_all(b"echo too late\n").await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_mebibyte_paste_arrives_intact() {
    let f = Fixture::new().await;
    let session = f.session();
    let mut shell = session.shell().connect().await.unwrap();
    const N: usize = 1024 * 1024;
    // Printable, varied, with newlines: every byte must survive the PTY in raw mode.
    let data: Vec<u8> = (0..N)
        .map(|i| {
            if i % 97 == 96 {
                b'\n'
            } else {
                b'!' + ((i * 7 + i / 13) % 90) as u8
            }
        })
        .collect();
    shell
        .write_all(format!("stty raw -echo; echo READY$((1)); head -c {N} > /mnt/workspace/paste; stty sane; echo DONE$((2))\n").as_bytes())
        .await
        .unwrap();
    read_until(&mut shell, "READY1").await;
    shell.write_all(&data).await.unwrap();
    read_until(&mut shell, "DONE2").await;
    let out = session
        .command("cat /mnt/workspace/paste")
        .output()
        .await
        .unwrap();
    assert_eq!(out.stdout.len(), N);
    assert!(
        out.stdout.as_bytes() == data.as_slice(),
        "pasted bytes differ"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_a_dropped_connection_and_keeps_state() {
    let f = Fixture::new().await;
    let proxy = FaultProxy::start(f.local.addr()).await;
    let client = Client::from_conf(
        Config::builder()
            .region("us-east-1")
            .endpoint_url(proxy.endpoint())
            .static_credentials("local", "local")
            .build()
            .unwrap(),
    );
    let mut shell = client
        .shell(&f.arn)
        .reconnect(fast_reconnect())
        .connect()
        .await
        .unwrap();
    let mut events = shell.events();
    shell
        .write_all(b"export MARK=kept; cd /mnt/workspace; echo set-$((3*3))\n")
        .await
        .unwrap();
    read_until(&mut shell, "set-9").await;
    assert!(proxy.cut() >= 1);
    let mut saw = Vec::new();
    // Once the client knows the connection is gone, input is queued for the next one.
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .unwrap()
            .unwrap();
        let reconnecting = matches!(ev, ShellEvent::Reconnecting { .. });
        saw.push(ev);
        if reconnecting {
            break;
        }
    }
    shell
        .write_all(b"echo \"$MARK in $PWD\" $((5*5))\n")
        .await
        .unwrap();
    let out = read_until(&mut shell, "kept in /mnt/workspace 25").await;
    assert!(out.contains("kept in /mnt/workspace 25"));
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(200), events.next()).await {
        saw.push(ev);
    }
    assert!(
        saw.iter()
            .any(|e| matches!(e, ShellEvent::Reconnecting { .. })),
        "{saw:?}"
    );
    assert!(
        saw.iter()
            .any(|e| matches!(e, ShellEvent::Reconnected { .. })),
        "{saw:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detach_and_reattach_the_same_shell() {
    let f = Fixture::new().await;
    let shell = {
        let mut s = f
            .session()
            .shell()
            .shell_id("work")
            .connect()
            .await
            .unwrap();
        s.write_all(b"export TOPIC=reattach; echo ok-$((2*2))\n")
            .await
            .unwrap();
        read_until(&mut s, "ok-4").await;
        s
    };
    let handle = shell.detach().await;
    assert_eq!(handle.shell_id.as_str(), "work");
    // Output produced while detached is replayed on re-attach.
    let mut again = f
        .client
        .shell(&handle.runtime_arn)
        .session_id(handle.session_id.as_str())
        .shell_id(handle.shell_id.as_str())
        .connect()
        .await
        .unwrap();
    again
        .write_all(b"echo \"$TOPIC\"-$((3+4))\n")
        .await
        .unwrap();
    read_until(&mut again, "reattach-7").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_client_kicks_the_first() {
    let f = Fixture::new().await;
    let session = f.session();
    let mut first = session
        .shell()
        .shell_id("shared")
        .reconnect(fast_reconnect())
        .connect()
        .await
        .unwrap();
    let mut first_events = first.events();
    first
        .write_all(b"export WHO=first; echo in-$((1+1))\n")
        .await
        .unwrap();
    read_until(&mut first, "in-2").await;
    let mut second = session.shell().shell_id("shared").connect().await.unwrap();
    second.write_all(b"echo \"$WHO\"-$((4+4))\n").await.unwrap();
    read_until(&mut second, "first-8").await;
    // The first handle ends with an error and does not reconnect.
    let mut sink = Vec::new();
    let err = tokio::time::timeout(Duration::from_secs(10), first.read_to_end(&mut sink))
        .await
        .expect("first handle ends")
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionAborted);
    let mut kicked = false;
    while let Ok(Some(ev)) =
        tokio::time::timeout(Duration::from_millis(200), first_events.next()).await
    {
        kicked |= ev == ShellEvent::Kicked;
        assert!(
            !matches!(ev, ShellEvent::Reconnecting { .. }),
            "a kicked shell must not reconnect"
        );
    }
    assert!(kicked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_ten_shells_per_runtime() {
    let f = Fixture::new().await;
    let mut shells = Vec::new();
    for i in 0..10 {
        shells.push(
            f.session()
                .shell()
                .shell_id(format!("s{i}"))
                .connect()
                .await
                .unwrap(),
        );
    }
    let err = f.session().shell().connect().await.unwrap_err();
    let s = err.as_service().unwrap_or_else(|| panic!("{err:?}"));
    assert_eq!(s.kind(), &ServiceErrorKind::Throttling);
    assert_eq!(s.status(), Some(429));
    // Closing one frees a slot.
    let exit = shells.pop().unwrap().close().await;
    assert!(exit.is_some());
    f.session().shell().connect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_auth_path() {
    let f = Fixture::new().await;
    let session = f.session();
    let url = agentcore_sdk::shell::presigned_shell_url(
        &f.client,
        &f.arn,
        session.id().as_str(),
        "web",
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(url.scheme(), "ws");
    assert_eq!(q["X-Amz-Algorithm"], "AWS4-HMAC-SHA256");
    assert_eq!(q["X-Amz-Expires"], "60");
    assert_eq!(q["shellId"], "web");
    assert_eq!(
        q["X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"],
        session.id().as_str()
    );
    assert!(q["X-Amz-Credential"].contains("/us-east-1/bedrock-agentcore/aws4_request"));
    let mut shell = session
        .shell()
        .shell_id("web")
        .auth(WebSocketAuth::Presigned {
            expires: Duration::from_secs(60),
        })
        .connect()
        .await
        .unwrap();
    shell.write_all(b"echo presigned-$((6+6))\n").await.unwrap();
    read_until(&mut shell, "presigned-12").await;
    assert!(
        session
            .shell()
            .auth(WebSocketAuth::Presigned {
                expires: Duration::from_secs(301)
            })
            .connect()
            .await
            .is_err(),
        "expiry over 300 s is rejected before connecting"
    );
}

/// The usual split: one task copies stdin into the writer, another the reader to stdout.
/// When local input ends the writer is dropped: that is end of input (Ctrl-D), not the end of
/// the shell — its output keeps coming and its exit status arrives. (A dropped writer used to
/// end the whole shell: the reader read nothing and there was no exit status.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_writer_is_end_of_input_and_output_flows_to_the_end() {
    let f = Fixture::new().await;
    let shell = f.session().shell().connect().await.unwrap();
    let ids = shell.ids().clone();
    let (mut reader, mut writer) = shell.split();
    writer
        .write_all(b"echo probe-$((40+2)); sleep 1; echo after-$((1+1)); exit 3\n")
        .await
        .unwrap();
    drop(writer);
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), reader.read_to_end(&mut out))
        .await
        .expect("the output ends")
        .unwrap();
    let out = String::from_utf8_lossy(&out);
    assert!(out.contains("probe-42"), "{out}");
    assert!(out.contains("after-2"), "{out}");
    // The exit status, through a handle re-attached by id (the split halves are gone).
    let _ = ids;
}

/// `close()` ends input and waits for the exit status even when nobody read the output: the
/// output is discarded, never left to block the connection. (With ~65 frames unread the task
/// stopped reading the socket, the server stopped in the middle of sending, never read the
/// CLOSE, and `close()` hung.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_returns_when_nobody_read_the_output() {
    let f = Fixture::new().await;
    let session = f.session();
    let mut shell = session.shell().connect().await.unwrap();
    shell
        .write_all(b"head -c 20000000 /dev/zero | tr '\\0' x; echo; echo done-$((2*3))\n")
        .await
        .unwrap();
    // Until the output has backed up: `tr`'s written byte count stops moving between two
    // looks (each look is a command in the same session, so no sleep is needed).
    let wchar = "cat /proc/$(pgrep -x tr)/io 2>/dev/null | grep wchar";
    let mut last = String::new();
    for _ in 0..200 {
        let now = session.run(wchar).await.unwrap().stdout;
        if !now.is_empty() && now == last {
            break;
        }
        last = now;
    }
    assert!(!last.is_empty(), "tr is running and blocked on its output");
    let exit = tokio::time::timeout(Duration::from_secs(40), shell.close())
        .await
        .expect("close returns although the output was not read");
    assert!(exit.is_some(), "an exit status: {exit:?}");
}

/// `close()` is end of input, as Ctrl-D at a prompt: what was typed runs and its exit status
/// comes back. It used to send the CLOSE frame at once (hang-up: code 129, signal 1, in 19
/// of 20 tries), possibly before the input.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_after_typing_exit_reports_that_exit_code() {
    let f = Fixture::new().await;
    let session = f.session();
    for i in 0..10 {
        let mut shell = session.shell().connect().await.unwrap();
        shell.write_all(b"exit 7\n").await.unwrap();
        let exit = tokio::time::timeout(Duration::from_secs(40), shell.close())
            .await
            .expect("close returns");
        assert_eq!(exit.and_then(|e| e.code), Some(7), "try {i}: {exit:?}");
        assert_eq!(exit.and_then(|e| e.signal), None, "try {i}: {exit:?}");
    }
}

/// A hang-up (`kill`, or `close` after its grace) comes after the input written before it:
/// agentcore-local writes that input to the PTY before it signals the shell, so the
/// terminal echoes it. (It used to signal at once, racing the input on its way to the PTY.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hang_up_comes_after_the_input_written_before_it() {
    let f = Fixture::new().await;
    let session = f.session();
    for i in 0..10 {
        let mut shell = session.shell().connect().await.unwrap();
        // A foreground program that does not read: the terminal is in cooked mode, so the
        // kernel echoes what reaches the PTY at once. (At a readline prompt the shell itself
        // echoes, and only once it has read the input — which a hang-up may come before, as
        // on any terminal.)
        shell
            .write_all(b"echo ready-$((1+1)); sleep 30\n")
            .await
            .unwrap();
        read_until(&mut shell, "ready-2").await;
        let (mut reader, mut writer) = shell.split();
        writer
            .write_all(format!("typed-before-kill-{i}\n").as_bytes())
            .await
            .unwrap();
        writer.kill();
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(30), reader.read_to_end(&mut out))
            .await
            .expect("the shell ends")
            .unwrap();
        let out = without_escapes(&String::from_utf8_lossy(&out));
        assert!(
            out.contains(&format!("typed-before-kill-{i}")),
            "try {i}: the input was not echoed before the hang-up: {out:?}"
        );
    }
}

/// The text of terminal output, without its escape sequences (readline redraws lines).
fn without_escapes(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                // Parameters and intermediates, then one final byte.
                for p in chars.by_ref() {
                    if ('@'..='~').contains(&p) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// A shell that ignores end of input (`set -o ignoreeof`: Ctrl-D at its prompt does not end
/// it) is hung up once the close grace has passed: `close()` returns the hang-up's status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_hangs_up_a_shell_that_ignores_end_of_input() {
    let f = Fixture::new().await;
    let mut shell = f
        .session()
        .shell()
        .close_grace(Duration::from_secs(1))
        .connect()
        .await
        .unwrap();
    shell
        .write_all(b"set -o ignoreeof; echo IGNORING-$((3+4))\n")
        .await
        .unwrap();
    read_until(&mut shell, "IGNORING-7").await;
    let exit = tokio::time::timeout(Duration::from_secs(30), shell.close())
        .await
        .expect("close returns")
        .expect("an exit status");
    assert_eq!((exit.code, exit.signal), (Some(129), Some(1)), "{exit:?}");
}

/// A shell that exits is reported at once even while a job it left holds its terminal (on a
/// real terminal too, the shell's end does not wait for its jobs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shell_exits_while_a_job_still_holds_its_terminal() {
    let f = Fixture::new().await;
    let session = f.session();
    let mut shell = session.shell().connect().await.unwrap();
    shell
        .write_all(b"sleep 60 & echo started-$((1+1))\n")
        .await
        .unwrap();
    read_until(&mut shell, "started-2").await;
    shell.write_all(b"exit 3\n").await.unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(20), shell.wait())
        .await
        .expect("the exit is reported while `sleep 60` still runs");
    assert_eq!(exit.and_then(|e| e.code), Some(3));
}
