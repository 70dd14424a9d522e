//! What an ordinary user on a laptop meets first (CI also runs this binary as an
//! unprivileged user with a subordinate id range and as one without): who a session's
//! processes are, and a data directory that its owner can remove with plain `rm -rf` after
//! the server stops, even after it was SIGKILLed (and all of it with `agentcore-local purge`).

use std::time::Duration;

use agentcore_local::LocalRuntime;
use tests::{Fixture, create_runtime, read_until};
use tokio::io::AsyncWriteExt;

/// Root in a command, `agentcore-runtime-user` in a shell, in every sandbox mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoami_is_root_in_a_command_and_the_runtime_user_in_a_shell() {
    let f = Fixture::new().await;
    if !tests::sandboxed(
        &f.local,
        "whoami_is_root_in_a_command_and_the_runtime_user_in_a_shell",
    ) {
        return;
    }
    let s = f.session();
    let out = s.command("whoami; id -u").output().await.unwrap();
    assert_eq!(out.stdout, "root\n0\n", "{out:?}");
    let mut shell = s.shell().connect().await.unwrap();
    shell
        .write_all(
            b"echo who=$(whoami) uid=$(id -u); touch /mnt/workspace/by-shell && echo W$((1))\n",
        )
        .await
        .unwrap();
    let seen = read_until(&mut shell, "W1").await;
    assert!(
        seen.contains("who=agentcore-runtime-user uid=1000"),
        "{seen}"
    );
    shell.detach().await;
}

/// Files root inside made (storage, writable layer, /tmp) belong to the server's user, or
/// are gone with the sandbox: after a stop, `rm -rf` of the data directory succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_is_removable_after_a_stop() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let f = Fixture::with(LocalRuntime::builder().data_dir(&data)).await;
    write_everywhere(&f.session()).await;
    f.local.shutdown().await;
    remove_as_plain_user(&data);
}

/// The same after the server was SIGKILLed (no clean-up of its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_is_removable_after_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut server, client) = tests::spawn_server(&data).await;
    let (arn, _) = create_runtime(&client, "killed").await;
    write_everywhere(&client.session(&arn).unwrap()).await;
    server.start_kill().unwrap();
    server.wait().await.unwrap();
    // The sandboxes die with the server's lifeline; give the kernel a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    remove_as_plain_user(&data);
}

/// What other ids inside made (the shell user's files in session storage belong to a
/// subordinate id the server's user cannot remove with `rm -rf`) goes with
/// `agentcore-local purge`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_removes_what_every_id_inside_made() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let f = Fixture::with(LocalRuntime::builder().data_dir(&data)).await;
    let s = f.session();
    let mut shell = s.shell().connect().await.unwrap();
    shell
        .write_all(b"mkdir -p /mnt/workspace/d/e && chmod 500 /mnt/workspace/d && echo P$((1))\n")
        .await
        .unwrap();
    read_until(&mut shell, "P1").await;
    shell.detach().await;
    f.local.shutdown().await;
    let purge = std::process::Command::new(tests::server_binary())
        .args(["purge", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        purge.status.success(),
        "{}",
        String::from_utf8_lossy(&purge.stderr)
    );
    assert!(!data.exists());
}

async fn write_everywhere(s: &agentcore_sdk::Session) {
    let out = s
        .command(
            "mkdir -p /mnt/workspace/a/b && echo x > /mnt/workspace/a/b/f; \
             echo y > /usr/local/bin/tool; mkdir -p /etc/agent && echo z > /etc/agent/conf; \
             echo t > /tmp/t; setsid sleep 100000 >/dev/null 2>&1 < /dev/null & echo ok",
        )
        .output()
        .await
        .unwrap();
    assert_eq!(out.stdout, "ok\n", "{out:?}");
}

/// `rm -rf` as the server's user, nothing more.
fn remove_as_plain_user(dir: &std::path::Path) {
    let out = std::process::Command::new("rm")
        .arg("-rf")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success() && !dir.exists(),
        "rm -rf {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A data directory written by an earlier version (its sessions' files belonged to root's
/// subordinate ids, or to host root) keeps working: root inside still owns its storage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_of_an_earlier_version_keeps_working() {
    if !nix::unistd::geteuid().is_root() {
        tests::skip(
            "a_data_directory_of_an_earlier_version_keeps_working",
            "making the earlier version's owners needs root",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let f = Fixture::with(LocalRuntime::builder().data_dir(&data)).await;
    if !tests::sandboxed(
        &f.local,
        "a_data_directory_of_an_earlier_version_keeps_working",
    ) {
        return;
    }
    let s = f.session();
    let out = s
        .command("mkdir /mnt/workspace/repo && echo v1 > /mnt/workspace/repo/f && echo ok")
        .output()
        .await
        .unwrap();
    assert_eq!(out.stdout, "ok\n", "{out:?}");
    let arn = f.arn.clone();
    let session_id = s.id().clone();
    f.local.shutdown().await;
    // As the earlier version left it: no FORMAT file; storage owned by root's subordinate
    // range (or host root where root had none).
    std::fs::remove_file(data.join("FORMAT")).unwrap();
    let old_root = std::fs::read_to_string("/etc/subuid")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("root:"))
        .and_then(|r| r.split(':').next()?.parse::<u32>().ok())
        .unwrap_or(0);
    let chown = std::process::Command::new("chown")
        .args(["-R", &format!("{old_root}:{old_root}")])
        .arg(data.join("storage"))
        .status()
        .unwrap();
    assert!(chown.success());
    let again = LocalRuntime::builder()
        .data_dir(&data)
        .start()
        .await
        .unwrap();
    let client = again.client();
    let out = client
        .session_with_id(&arn, session_id.as_str())
        .unwrap()
        .command("echo v2 >> /mnt/workspace/repo/f && cat /mnt/workspace/repo/f && stat -c %u /mnt/workspace/repo/f")
        .output()
        .await
        .unwrap();
    assert_eq!(out.stdout, "v1\nv2\n0\n", "{out:?}");
    again.shutdown().await;
}
