//! The session table under races: a stop while a session's sandbox is still being set up,
//! and the next call for the same session id right after. At most one sandbox per session
//! ever exists, and none is left outside the table.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use agentcore_local::LocalRuntime;
use tests::Fixture;

/// The tests here count this process's helper processes: one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Sandboxes (their inits) below this process.
fn sandboxes() -> usize {
    let me = std::process::id();
    let parent_of = |pid: &str| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let mut n = 0;
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        let Ok(comm) = std::fs::read_to_string(format!("/proc/{pid}/comm")) else {
            continue;
        };
        if !matches!(comm.trim(), "agentcore-init" | "agentcore-spawn") {
            continue;
        }
        // Walk up to this process.
        let mut cur = pid.clone();
        for _ in 0..8 {
            match parent_of(&cur) {
                Some(p) if p == me => {
                    n += 1;
                    break;
                }
                Some(p) if p > 1 => cur = p.to_string(),
                _ => break,
            }
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_during_set_up_leaves_no_sandbox_and_never_two() {
    let _one = ONE_AT_A_TIME.lock().await;
    let f = Fixture::with(
        LocalRuntime::builder()
            .sandbox_pool(0)
            .__setup_delay(Duration::from_millis(300)),
    )
    .await;
    if !tests::sandboxed(
        &f.local,
        "a_stop_during_set_up_leaves_no_sandbox_and_never_two",
    ) {
        return;
    }
    // Watch the number of sandboxes all along.
    let most = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (most, done) = (most.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                most.fetch_max(sandboxes(), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    // Stops the watcher however the test ends.
    struct Stop(Arc<AtomicBool>);
    impl Drop for Stop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let _stop = Stop(done.clone());
    let s = f.session();
    for round in 0..3 {
        // A command starts the session; a stop arrives while its sandbox is set up.
        let first = {
            let s = s.clone();
            tokio::spawn(async move { s.command("echo first").output().await })
        };
        while f.local.__starting_sessions() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        s.stop().await.unwrap();
        let first = first.await.unwrap();
        // The caller whose session was stopped under it learns so (a conflict, which the SDK
        // does not retry into a new session).
        match &first {
            Err(agentcore_sdk::Error::Service(e)) => {
                assert_eq!(*e.kind(), agentcore_sdk::ServiceErrorKind::Conflict, "{e}")
            }
            other => panic!("round {round}: {other:?}"),
        }
        // Nothing of it is left running, and the table knows no session.
        assert_eq!(f.local.running_sessions(), 0, "round {round}: {first:?}");
        // The next call starts one fresh sandbox, on the same storage.
        let out = s
            .command("echo r$((1+1)) >> /mnt/workspace/log; cat /mnt/workspace/log | wc -l")
            .output()
            .await
            .unwrap();
        assert_eq!(out.stdout.trim(), (round + 1).to_string(), "{out:?}");
        assert_eq!(f.local.running_sessions(), 1);
        s.stop().await.unwrap();
        assert_eq!(f.local.running_sessions(), 0);
    }
    // Stops are acknowledged once every process is gone.
    assert_eq!(sandboxes(), 0, "a sandbox outlived its stop");
    done.store(true, Ordering::SeqCst);
    watcher.join().unwrap();
    assert!(
        most.load(Ordering::SeqCst) <= 2,
        "more than one sandbox for one session (an init and its spawner count once each)"
    );
}

/// The server's sandbox helper (the zygote) going away (killed by someone on the host) stops
/// nothing: running sessions go on, and new ones get a new helper.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_sandbox_helper_is_replaced() {
    let _one = ONE_AT_A_TIME.lock().await;
    let zygotes = || -> Vec<i32> {
        let me = std::process::id().to_string();
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| {
                let pid = e.file_name().to_string_lossy().parse::<i32>().ok()?;
                let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
                let (head, rest) = stat.rsplit_once(')')?;
                let parent = rest.split_whitespace().nth(1)?;
                (head.ends_with("(agentcore-zygot") && parent == me).then_some(pid)
            })
            .collect()
    };
    let before = zygotes();
    let f = Fixture::with(LocalRuntime::builder().sandbox_pool(0)).await;
    if !tests::sandboxed(&f.local, "a_killed_sandbox_helper_is_replaced") {
        return;
    }
    let running = f.session();
    assert_eq!(
        running.command("echo a").output().await.unwrap().stdout,
        "a\n"
    );
    let zygotes: Vec<i32> = zygotes()
        .into_iter()
        .filter(|z| !before.contains(z))
        .collect();
    assert_eq!(zygotes.len(), 1, "{zygotes:?}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(zygotes[0]),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        running.command("echo b").output().await.unwrap().stdout,
        "b\n"
    );
    let fresh = f.session();
    assert_eq!(
        fresh.command("echo c").output().await.unwrap().stdout,
        "c\n"
    );
}

/// As the service: stopping a session that is not running — never started, or stopped
/// already — is ResourceNotFound; a retry of the stop that stopped it (same client token)
/// gets that stop's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_session_that_is_not_running_is_not_found_unless_retried() {
    let _one = ONE_AT_A_TIME.lock().await;
    let f = Fixture::new().await;
    let not_found =
        |r: Result<agentcore_sdk::data::StopSessionOutput, agentcore_sdk::Error>| match r {
            Err(agentcore_sdk::Error::Service(e)) => {
                assert_eq!(
                    *e.kind(),
                    agentcore_sdk::ServiceErrorKind::ResourceNotFound,
                    "{e}"
                );
                assert!(
                    e.message().contains("not found or already terminated"),
                    "{e}"
                );
            }
            other => panic!("expected ResourceNotFound: {other:?}"),
        };
    let never = f.session();
    not_found(never.stop().await);
    // Tokens are remembered, so they are held to the model's rule (33 to 256 of
    // `[a-zA-Z0-9-]`): a long or odd one is refused before anything is stopped.
    let http = reqwest::Client::new();
    let arn = urlencode(f.arn.as_str());
    for body in [
        serde_json::json!({"clientToken": "short"}),
        serde_json::json!({"clientToken": "x".repeat(300)}),
        serde_json::json!({"clientToken": "a/b".repeat(20)}),
        serde_json::json!({"clientToken": 12}),
    ] {
        let resp = http
            .post(format!(
                "{}/runtimes/{arn}/stopruntimesession",
                f.local.endpoint()
            ))
            .header(
                "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id",
                never.id().as_str(),
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{body}");
        let kind = resp.headers()["x-amzn-errortype"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(kind.starts_with("ValidationException"), "{kind}: {body}");
    }

    let s = f.session();
    s.command("true").output().await.unwrap();
    let token = "stop-token-0123456789abcdef0123456789";
    let stop = || {
        f.client
            .stop_session(&f.arn, s.id().as_str())
            .client_token(token)
    };
    stop().send().await.unwrap();
    assert_eq!(f.local.running_sessions(), 0);
    // The same stop again (a retry after a lost answer): the same answer.
    stop().send().await.unwrap();
    // A new stop of the stopped session.
    not_found(s.stop().await);
    // The token answers for its own session only.
    let other = f.session();
    not_found(
        f.client
            .stop_session(&f.arn, other.id().as_str())
            .client_token(token)
            .send()
            .await,
    );
    // The session starts again on the next call. A retry of the old stop stops nothing
    // (it was answered already); a new stop does.
    s.command("true").output().await.unwrap();
    stop().send().await.unwrap();
    assert_eq!(f.local.running_sessions(), 1);
    s.stop().await.unwrap();
    assert_eq!(f.local.running_sessions(), 0);
}

/// `s` percent-encoded for a path segment.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
