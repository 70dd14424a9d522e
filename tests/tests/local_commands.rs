//! One-shot commands against agentcore-local with real bash: streaming, exit codes,
//! timeouts, parallelism, session storage, stop/resume and restart persistence.

use std::time::Duration;

use agentcore_local::LocalRuntime;
use agentcore_sdk::{CommandEvent, CommandStatus, Error, ServiceErrorKind};
use futures::StreamExt;
use tests::{Fixture, create_runtime, peak_rss};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_streams_live_in_order() {
    let f = Fixture::new().await;
    let mut stream = f
        .session()
        .command("echo one; sleep 0.3; echo two >&2; sleep 0.3; echo three")
        .send()
        .await
        .unwrap();
    let mut seen = Vec::new();
    while let Some(ev) = stream.next().await {
        seen.push(ev.unwrap());
    }
    assert_eq!(seen.first(), Some(&CommandEvent::Start));
    assert_eq!(
        &seen[1..],
        &[
            CommandEvent::Delta {
                stdout: "one\n".into(),
                stderr: String::new()
            },
            CommandEvent::Delta {
                stdout: String::new(),
                stderr: "two\n".into()
            },
            CommandEvent::Delta {
                stdout: "three\n".into(),
                stderr: String::new()
            },
            CommandEvent::Stop {
                exit_code: 0,
                status: CommandStatus::Completed
            },
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_and_signals() {
    let f = Fixture::new().await;
    let s = f.session();
    assert_eq!(s.command("exit 7").output().await.unwrap().exit_code, 7);
    assert_eq!(s.command("true").output().await.unwrap().exit_code, 0);
    assert_eq!(
        s.command("kill -9 $$").output().await.unwrap().exit_code,
        137
    );
    assert_eq!(
        s.command("kill -TERM $$").output().await.unwrap().exit_code,
        143
    );
    let missing = s
        .command("definitely-not-a-command-xyz")
        .output()
        .await
        .unwrap();
    assert_eq!(missing.exit_code, 127);
    assert!(missing.stderr.contains("not found"), "{}", missing.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_kills_the_whole_process_group() {
    let f = Fixture::new().await;
    let s = f.session();
    let out = s
        .command("sleep 300 & echo $! > /mnt/workspace/bg.pid; echo started; sleep 300")
        .timeout(Duration::from_secs(1))
        .output()
        .await
        .unwrap();
    assert_eq!(out.status, CommandStatus::TimedOut);
    assert_eq!(out.stdout, "started\n");
    assert_eq!(out.exit_code, 137);
    // The background child was in the same process group: it is gone too.
    let check = s
        // A killed process may linger as a zombie until reaped: that counts as dead.
        .command("s=$(awk '{print $3}' /proc/$(cat /mnt/workspace/bg.pid)/stat 2>/dev/null); if [ -z \"$s\" ] || [ \"$s\" = Z ]; then echo dead; else echo alive; fi")
        .output()
        .await
        .unwrap();
    assert_eq!(check.stdout, "dead\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multibyte_utf8_is_never_split() {
    let f = Fixture::new().await;
    // 200k characters of 1-4 bytes: many 64 KiB reads end inside a character.
    let out = f
        .session()
        .command("for i in $(seq 1 20000); do printf 'aé日🚀z'; done; printf '\\n'")
        .output()
        .await
        .unwrap();
    assert_eq!(out.stdout, format!("{}\n", "aé日🚀z".repeat(20000)));
    assert!(!out.stdout.contains('\u{FFFD}'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_output_streams_with_bounded_memory() {
    let f = Fixture::new().await;
    const TOTAL: u64 = 128 * 1024 * 1024;
    let before = peak_rss();
    let mut stream = f
        .session()
        .command(format!("head -c {TOTAL} /dev/zero | tr '\\0' 'x'"))
        .timeout(Duration::from_secs(600))
        .send()
        .await
        .unwrap();
    let mut received = 0u64;
    let mut exit = None;
    while let Some(ev) = stream.next().await {
        match ev.unwrap() {
            CommandEvent::Delta { stdout, .. } => {
                assert!(stdout.bytes().all(|b| b == b'x'));
                received += stdout.len() as u64;
            }
            CommandEvent::Stop { exit_code, .. } => exit = Some(exit_code),
            _ => {}
        }
    }
    assert_eq!(received, TOTAL);
    assert_eq!(exit, Some(0));
    let growth = peak_rss().saturating_sub(before);
    // Server and client share this process: neither may hold the output.
    assert!(
        growth < 64 * 1024 * 1024,
        "peak RSS grew by {} MiB",
        growth >> 20
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_in_one_session_run_in_parallel() {
    let f = Fixture::new().await;
    let s = f.session();
    // Each command registers itself, then waits until all 6 registered: this only finishes
    // if the six run at the same time.
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            s.command(format!(
                "touch /mnt/workspace/par.{i}; for t in $(seq 1 200); do [ $(ls /mnt/workspace | grep -c '^par\\.') -ge 6 ] && exit 0; sleep 0.05; done; exit 9"
            ))
            .timeout(Duration::from_secs(60))
            .output()
        })
        .collect();
    for out in futures::future::join_all(tasks).await {
        assert_eq!(out.unwrap().exit_code, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_storage_is_at_its_real_path_and_isolated() {
    let f = Fixture::new().await;
    if !tests::sandboxed(&f.local, "session_storage_is_at_its_real_path_and_isolated") {
        return;
    }
    let a = f.session();
    let b = f.session();
    let out = a
        .command("echo from-a > /mnt/workspace/note && cat /mnt/workspace/note && ls /mnt")
        .output()
        .await
        .unwrap();
    assert_eq!(out.stdout, "from-a\nworkspace\n", "{out:?}");
    let other = b
        .command("ls -A /mnt/workspace | wc -l")
        .output()
        .await
        .unwrap();
    assert_eq!(
        other.stdout.trim(),
        "0",
        "sessions must not see each other's storage"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_state_carries_between_commands_but_files_do() {
    let f = Fixture::new().await;
    let s = f.session();
    s.command("export FOO=bar; cd /tmp; echo x > $HOME/h")
        .output()
        .await
        .unwrap();
    let out = s
        .command("echo \"[$FOO]\"; cat $HOME/h")
        .output()
        .await
        .unwrap();
    assert_eq!(out.stdout, "[]\nx\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_kills_running_commands_and_keeps_storage() {
    let f = Fixture::new().await;
    let s = f.session();
    s.command("echo kept > /mnt/workspace/kept; echo gone > $HOME/scratch")
        .output()
        .await
        .unwrap();
    let mut long = s.command("echo running; sleep 300").send().await.unwrap();
    assert_eq!(long.next().await.unwrap().unwrap(), CommandEvent::Start);
    assert!(matches!(
        long.next().await.unwrap().unwrap(),
        CommandEvent::Delta { .. }
    ));
    s.stop().await.unwrap();
    match long.next().await.unwrap().unwrap() {
        CommandEvent::Stop { exit_code, .. } => assert_eq!(exit_code, 137),
        other => panic!("{other:?}"),
    }
    assert_eq!(f.local.running_sessions(), 0);
    let out = s
        .command("cat /mnt/workspace/kept; cat $HOME/scratch 2>/dev/null || echo no-scratch")
        .output()
        .await
        .unwrap();
    assert_eq!(out.stdout, "kept\nno-scratch\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_and_runtimes_survive_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (arn, session_id) = {
        let local = LocalRuntime::builder()
            .data_dir(dir.path())
            .start()
            .await
            .unwrap();
        let client = local.client();
        let (arn, _) = create_runtime(&client, "persist").await;
        let s = client.session(&arn).unwrap();
        s.command("mkdir -p /mnt/workspace/repo && echo v1 > /mnt/workspace/repo/file")
            .output()
            .await
            .unwrap();
        s.stop().await.unwrap();
        local.shutdown().await;
        (arn, s.id().clone())
    };
    let local = LocalRuntime::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    let client = local.client();
    let rt = client
        .get_agent_runtime(arn.runtime_id().as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(rt.agent_runtime_arn, arn);
    let s = client.session_with_id(&arn, session_id.as_str()).unwrap();
    let out = s
        .command("cat /mnt/workspace/repo/file")
        .output()
        .await
        .unwrap();
    assert_eq!(out.stdout, "v1\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_are_stopped() {
    let f = Fixture::with(
        LocalRuntime::builder()
            .max_idle_timeout(Duration::from_millis(300))
            .reap_interval(Duration::from_millis(50)),
    )
    .await;
    let s = f.session();
    s.command("echo x > $HOME/marker").output().await.unwrap();
    assert_eq!(f.local.running_sessions(), 1);
    for _ in 0..100 {
        if f.local.running_sessions() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        f.local.running_sessions(),
        0,
        "idle session was not stopped"
    );
    let out = s
        .command("cat $HOME/marker 2>/dev/null || echo fresh")
        .output()
        .await
        .unwrap();
    assert_eq!(out.stdout, "fresh\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_errors_have_the_service_shape() {
    let f = Fixture::new().await;
    let missing: agentcore_sdk::RuntimeArn =
        "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/nope-AbCdE12345"
            .parse()
            .unwrap();
    let err = f.client.run(&missing, "true").await.unwrap_err();
    assert_eq!(
        err.service_kind(),
        Some(&ServiceErrorKind::ResourceNotFound)
    );
    let err = f
        .client
        .command(&f.arn, "true")
        .qualifier("nosuch")
        .output()
        .await
        .unwrap_err();
    assert_eq!(
        err.service_kind(),
        Some(&ServiceErrorKind::ResourceNotFound)
    );
    let err = f
        .client
        .create_agent_runtime()
        .name("coder")
        .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1")
        .role_arn("arn:aws:iam::123456789012:role/r")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.service_kind(),
        Some(&ServiceErrorKind::Conflict),
        "{err}"
    );
    assert!(matches!(err, Error::Service(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_the_builtin_echo_agent() {
    let f = Fixture::new().await;
    let s = f.session();
    let v: serde_json::Value = s
        .invoke("")
        .json(&serde_json::json!({"prompt": "hi"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["echo"]["prompt"], "hi");
    assert_eq!(v["sessionId"], s.id().as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_plane_round_trip() {
    use futures::TryStreamExt;
    let f = Fixture::new().await;
    let c = &f.client;
    let up = c
        .update_agent_runtime(&f.id)
        .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/coder:2")
        .role_arn("arn:aws:iam::123456789012:role/local")
        .session_storage("/mnt/workspace")
        .send()
        .await
        .unwrap();
    assert_eq!(up.agent_runtime_version, "2");
    let versions = c.list_agent_runtime_versions(&f.id).send().await.unwrap();
    assert_eq!(versions.agent_runtimes.len(), 2);
    c.create_agent_runtime_endpoint(&f.id)
        .name("prod")
        .agent_runtime_version("1")
        .send()
        .await
        .unwrap();
    let eps: Vec<_> = c
        .list_agent_runtime_endpoints(&f.id)
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(eps.len(), 2);
    let prod = c
        .get_agent_runtime_endpoint(&f.id, "prod")
        .send()
        .await
        .unwrap();
    assert_eq!(prod.live_version.as_deref(), Some("1"));
    c.delete_agent_runtime_endpoint(&f.id, "prod")
        .send()
        .await
        .unwrap();
    for i in 0..5 {
        create_runtime(c, &format!("extra{i}")).await;
    }
    let all: Vec<_> = c
        .list_agent_runtimes()
        .max_results(2)
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 6);
    c.delete_agent_runtime(&f.id).send().await.unwrap();
    let err = c.get_agent_runtime(&f.id).send().await.unwrap_err();
    assert_eq!(
        err.service_kind(),
        Some(&ServiceErrorKind::ResourceNotFound)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallback_without_namespaces_exports_mount_directories() {
    use agentcore_local::Isolation;
    let f = Fixture::with(LocalRuntime::builder().isolation(Isolation::None)).await;
    assert_eq!(f.local.isolation(), Isolation::None);
    let s = f.session();
    // No mount namespace: the storage directory is announced in AGENTCORE_MOUNT_<NAME>.
    let out = s
        .command("test -n \"$AGENTCORE_MOUNT_WORKSPACE\" && echo kept > \"$AGENTCORE_MOUNT_WORKSPACE/f\" && cat \"$AGENTCORE_MOUNT_WORKSPACE/f\"")
        .output()
        .await
        .unwrap();
    assert_eq!(out.stdout, "kept\n", "{out:?}");
    s.stop().await.unwrap();
    let again = s
        .command("cat \"$AGENTCORE_MOUNT_WORKSPACE/f\"")
        .output()
        .await
        .unwrap();
    assert_eq!(again.stdout, "kept\n");
    let other = f
        .session()
        .command("ls -A \"$AGENTCORE_MOUNT_WORKSPACE\" | wc -l")
        .output()
        .await
        .unwrap();
    assert_eq!(
        other.stdout.trim(),
        "0",
        "sessions stay isolated in the fallback too"
    );
}
