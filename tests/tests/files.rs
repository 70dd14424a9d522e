//! Files of any size (`agentcore_sdk::files`) against agentcore-local: binary files up and
//! down with matching checksums and flat client memory (measured in a child process),
//! transfers resumed after cut connections, directories with modes and symlinks, refusal of
//! links that point outside, the small operations, and a watched directory.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use agentcore_sdk::Error;
use agentcore_sdk::files::{FileKind, TransferChannel, WatchEventKind};
use futures::StreamExt;
use tests::{FaultProxy, Fixture, client_for};

/// Bytes no compressor or terminal would leave alone: every value, in a pseudo-random order.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn sha256_hex(data: &[u8]) -> String {
    let out = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(data)?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// Uploads and downloads `len` bytes from a fresh client process; its peak RSS.
async fn transfer_in_child(f: &Fixture, session: &str, len: usize) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("up.bin");
    let back = dir.path().join("back.bin");
    let data = noise(len, len as u64);
    std::fs::write(&local, &data).unwrap();
    let remote = format!("/mnt/workspace/big-{len}.bin");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_agentcore-test-client"))
        .args([
            f.local.endpoint().as_str(),
            f.arn.as_str(),
            session,
            "transfer",
            local.to_str().unwrap(),
            &remote,
            back.to_str().unwrap(),
        ])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = std::fs::read(&back).unwrap();
    assert!(got == data, "{len} bytes came back byte for byte");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .strip_prefix("peak-rss ")
        .and_then(|n| n.parse().ok())
        .expect("the child reports its peak RSS")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_file_goes_up_and_down_with_its_checksum_and_flat_client_memory() {
    let f = Fixture::new().await;
    let session = f.session();
    let small = transfer_in_child(&f, session.id().as_str(), 8 << 20).await;
    let large = transfer_in_child(&f, session.id().as_str(), 32 << 20).await;
    eprintln!(
        "client peak RSS: 8 MiB transfer {:.1} MiB, 32 MiB transfer {:.1} MiB",
        small as f64 / 1048576.0,
        large as f64 / 1048576.0
    );
    // Four times the bytes, about the same memory: nothing is buffered whole.
    assert!(
        large < 32 << 20,
        "peak RSS {large} is below the file's size"
    );
    assert!(
        large.saturating_sub(small) < 8 << 20,
        "RSS grew {} bytes from 8 to 32 MiB",
        large.saturating_sub(small)
    );
    // The session has the same bytes.
    let sum = session
        .run("sha256sum /mnt/workspace/big-33554432.bin")
        .await
        .unwrap()
        .check()
        .unwrap();
    assert!(
        sum.stdout
            .starts_with(&sha256_hex(&noise(32 << 20, 32 << 20)))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_and_downloads_resume_after_a_cut_connection() {
    let f = Fixture::new().await;
    let proxy = Arc::new(FaultProxy::start(f.local.addr()).await);
    let client = client_for(&proxy.endpoint(), None);
    let session = client.session(&f.arn).unwrap();
    let files = session.files();
    let dir = tempfile::tempdir().unwrap();
    let data = noise(12 << 20, 7);
    let local = dir.path().join("data.bin");
    std::fs::write(&local, &data).unwrap();

    let cut_once = |at: u64| {
        let proxy = proxy.clone();
        let done = Arc::new(AtomicBool::new(false));
        move |p: agentcore_sdk::files::Progress| {
            if p.done >= at && !done.swap(true, Ordering::SeqCst) {
                assert!(proxy.cut() > 0, "a connection was live to cut");
            }
        }
    };
    let up = files
        .upload(&local, "/mnt/workspace/data.bin")
        .progress(cut_once(4 << 20))
        .send()
        .await
        .unwrap();
    assert!(up.resumed >= 1, "the upload was resumed: {up:?}");
    assert_eq!(up.channel, TransferChannel::Shell);
    assert_eq!(up.sha256, sha256_hex(&data));

    let back = dir.path().join("back.bin");
    let down = files
        .download("/mnt/workspace/data.bin", &back)
        .progress(cut_once(5 << 20))
        .send()
        .await
        .unwrap();
    assert!(down.resumed >= 1, "the download was resumed: {down:?}");
    assert_eq!(down.sha256, up.sha256);
    assert!(std::fs::read(&back).unwrap() == data);
    assert!(!dir.path().join("back.bin.part").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_round_trips_with_modes_and_symlinks() {
    let f = Fixture::new().await;
    let session = f.session();
    let files = session.files();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("bin")).unwrap();
    std::fs::create_dir_all(src.join("private/deep")).unwrap();
    std::fs::create_dir_all(src.join("empty")).unwrap();
    std::fs::write(src.join("bin/run.sh"), b"#!/bin/sh\necho hi\n").unwrap();
    std::fs::write(src.join("private/key"), b"secret").unwrap();
    std::fs::write(src.join("private/deep/blob"), noise(300_000, 3)).unwrap();
    std::fs::write(src.join("name with spaces"), b"x").unwrap();
    std::os::unix::fs::symlink("bin/run.sh", src.join("run")).unwrap();
    std::os::unix::fs::symlink("../bin", src.join("private/bin-link")).unwrap();
    let mode = |p: &str, m: u32| {
        std::fs::set_permissions(src.join(p), std::fs::Permissions::from_mode(m)).unwrap()
    };
    mode("bin/run.sh", 0o755);
    mode("private/key", 0o600);
    mode("private", 0o700);

    let up = files
        .upload_dir(&src, "/mnt/workspace/tree")
        .send()
        .await
        .unwrap();
    assert!(up.bytes > 300_000);
    let remote = session
        .run("cd /mnt/workspace/tree && stat -c '%a %n' bin/run.sh private private/key && readlink run private/bin-link && ./run")
        .await
        .unwrap()
        .check()
        .unwrap();
    assert_eq!(
        remote.stdout,
        "755 bin/run.sh\n700 private\n600 private/key\nbin/run.sh\n../bin\nhi\n"
    );

    let dst = tmp.path().join("dst");
    files
        .download_dir("/mnt/workspace/tree", &dst)
        .send()
        .await
        .unwrap();
    let m = |p: &str| {
        std::fs::symlink_metadata(dst.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(
        (m("bin/run.sh"), m("private"), m("private/key")),
        (0o755, 0o700, 0o600)
    );
    assert_eq!(
        std::fs::read_link(dst.join("run")).unwrap(),
        std::path::Path::new("bin/run.sh")
    );
    assert_eq!(
        std::fs::read_link(dst.join("private/bin-link")).unwrap(),
        std::path::Path::new("../bin")
    );
    assert_eq!(
        std::fs::read(dst.join("private/deep/blob")).unwrap(),
        noise(300_000, 3)
    );
    assert!(dst.join("empty").is_dir());
    assert_eq!(std::fs::read(dst.join("name with spaces")).unwrap(), b"x");
    // A destination that is not empty is never merged into.
    assert!(matches!(
        files.download_dir("/mnt/workspace/tree", &dst).send().await,
        Err(Error::AlreadyExists { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinks_that_point_outside_are_refused_both_ways() {
    let f = Fixture::new().await;
    let session = f.session();
    let files = session.files();
    let tmp = tempfile::tempdir().unwrap();
    // In the session: a tree with a link to /etc and a file behind it.
    session
        .run("mkdir -p /mnt/workspace/evil && cd /mnt/workspace/evil && echo ok > fine && ln -s /etc/passwd escape && ln -s ../../.. up")
        .await
        .unwrap()
        .check()
        .unwrap();
    let dst = tmp.path().join("dst");
    match files.download_dir("/mnt/workspace/evil", &dst).send().await {
        Err(Error::UnsafeArchiveEntry { entry, reason }) => {
            assert!(entry == "escape" || entry == "up", "{entry}: {reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(!dst.exists(), "nothing was left at the destination");
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(
        leftovers.is_empty(),
        "no temporary directory left: {leftovers:?}"
    );

    // Here: a local tree with a link outside is refused before anything is sent.
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", src.join("escape")).unwrap();
    match files.upload_dir(&src, "/mnt/workspace/up").send().await {
        Err(Error::UnsafeArchiveEntry { entry, .. }) => assert_eq!(entry, "escape"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(!files.exists("/mnt/workspace/up").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_write_list_stat_rename_mkdir_remove() {
    let f = Fixture::new().await;
    let session = f.session();
    let files = session.files();
    // Relative paths never leave this process.
    assert!(matches!(
        files.read("relative").await,
        Err(Error::InvalidInput { field: "path", .. })
    ));
    let small = noise(5_000, 1);
    files
        .write("/mnt/workspace/a/b/small.bin", &small)
        .await
        .unwrap();
    assert_eq!(
        files.read("/mnt/workspace/a/b/small.bin").await.unwrap(),
        small
    );
    // Larger than what goes through commands: the shell carries it.
    let big = noise(600_000, 2);
    files.write("/mnt/workspace/a/big.bin", &big).await.unwrap();
    assert!(files.read("/mnt/workspace/a/big.bin").await.unwrap() == big);
    // Through commands only, as for a caller without shell permission.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("cmd.bin"), &big[..100_000]).unwrap();
    let report = files
        .upload(tmp.path().join("cmd.bin"), "/mnt/workspace/a/cmd.bin")
        .channel(TransferChannel::Commands)
        .send()
        .await
        .unwrap();
    assert_eq!(report.channel, TransferChannel::Commands);
    assert!(files.read("/mnt/workspace/a/cmd.bin").await.unwrap() == big[..100_000]);

    files
        .write("/mnt/workspace/a/with space", b"")
        .await
        .unwrap();
    session
        .run("ln -s big.bin /mnt/workspace/a/link")
        .await
        .unwrap()
        .check()
        .unwrap();
    let mut names: Vec<(String, FileKind, u64)> = files
        .list("/mnt/workspace/a")
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            (
                e.name,
                e.kind,
                if e.kind == FileKind::File { e.size } else { 0 },
            )
        })
        .collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        names,
        vec![
            ("b".into(), FileKind::Dir, 0),
            ("big.bin".into(), FileKind::File, 600_000),
            ("cmd.bin".into(), FileKind::File, 100_000),
            ("link".into(), FileKind::Symlink, 0),
            ("with space".into(), FileKind::File, 0),
        ]
    );
    let link = files.stat("/mnt/workspace/a/link").await.unwrap();
    assert_eq!(link.link_target.as_deref(), Some("big.bin"));
    let small_stat = files.stat("/mnt/workspace/a/b/small.bin").await.unwrap();
    assert_eq!((small_stat.size, small_stat.mode), (5_000, 0o644));

    files
        .rename("/mnt/workspace/a/big.bin", "/mnt/workspace/c/moved.bin")
        .await
        .unwrap();
    assert!(!files.exists("/mnt/workspace/a/big.bin").await.unwrap());
    assert_eq!(
        files.stat("/mnt/workspace/c/moved.bin").await.unwrap().size,
        600_000
    );
    files.mkdir("/mnt/workspace/d/e/f").await.unwrap();
    files.mkdir("/mnt/workspace/d/e/f").await.unwrap();
    assert!(files.stat("/mnt/workspace/d/e/f").await.unwrap().is_dir());
    assert!(matches!(
        files.remove("/mnt/workspace/d").await,
        Err(Error::CommandFailed { .. } | Error::WrongState { .. })
    ));
    files.remove("/mnt/workspace/d/e/f").await.unwrap();
    files.remove_all("/mnt/workspace/d").await.unwrap();
    files.remove_all("/mnt/workspace/d").await.unwrap();
    assert!(!files.exists("/mnt/workspace/d").await.unwrap());
    assert!(matches!(
        files.stat("/mnt/workspace/nothing").await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        files.read("/mnt/workspace/nothing").await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_directory_reports_changes_as_a_stream_across_a_cut() {
    let f = Fixture::new().await;
    let proxy = FaultProxy::start(f.local.addr()).await;
    let client = client_for(&proxy.endpoint(), None);
    let session = client.session(&f.arn).unwrap();
    let files = session.files();
    files.mkdir("/mnt/workspace/w/sub").await.unwrap();
    files.write("/mnt/workspace/w/old", b"1").await.unwrap();
    let mut watch = files
        .watch("/mnt/workspace/w")
        .interval(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    async fn next(watch: &mut agentcore_sdk::files::FileWatch) -> agentcore_sdk::files::WatchEvent {
        tokio::time::timeout(Duration::from_secs(30), watch.next())
            .await
            .expect("an event within 30 s")
            .expect("the watch goes on")
            .unwrap()
    }
    // Written through a staging file that is renamed: one event, the SDK's own file unseen.
    files
        .write("/mnt/workspace/w/new.txt", b"hello")
        .await
        .unwrap();
    let first = next(&mut watch).await;
    assert_eq!(
        (first.kind, first.path.as_str(), first.file_kind),
        (WatchEventKind::Created, "new.txt", FileKind::File)
    );
    // The watch's connection is cut; what changes meanwhile is reported once it is back
    // (the changes are made through a direct client: the cut spares no connection).
    assert!(proxy.cut() > 0);
    let session = f
        .client
        .session_with_id(&f.arn, session.id().as_str())
        .unwrap();
    session
        .run("cd /mnt/workspace/w && echo more >> old && rm -r sub && mkdir made")
        .await
        .unwrap()
        .check()
        .unwrap();
    let mut events = Vec::new();
    while events.len() < 3 {
        events.push(next(&mut watch).await);
    }
    let mut seen: Vec<(WatchEventKind, String, FileKind)> = events
        .into_iter()
        .map(|e| (e.kind, e.path, e.file_kind))
        .collect();
    seen.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        seen,
        vec![
            (WatchEventKind::Created, "made".into(), FileKind::Dir),
            (WatchEventKind::Modified, "old".into(), FileKind::File),
            (WatchEventKind::Removed, "sub".into(), FileKind::Dir),
        ]
    );
    watch.close().await.unwrap();
}

/// A loopback proxy to `upstream` that refuses interactive shells (403 AccessDenied, as the
/// service answers a caller without the shell's IAM permission) and passes everything else.
async fn proxy_without_shells(upstream: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                // WebSockets get connections of their own: the first request line tells.
                let mut first = vec![0u8; 4096];
                let n = inbound.read(&mut first).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&first[..n]).to_string();
                if head
                    .lines()
                    .next()
                    .is_some_and(|l| l.contains("/ws/shells"))
                {
                    let _ = inbound
                        .write_all(
                            b"HTTP/1.1 403 Forbidden\r\nx-amzn-errortype: AccessDeniedException\r\ncontent-type: application/json\r\ncontent-length: 34\r\n\r\n{\"message\":\"no shells for you :(\"}",
                        )
                        .await;
                    return;
                }
                let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                if outbound.write_all(&first[..n]).await.is_ok() {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_shell_permission_an_upload_goes_through_commands() {
    let f = Fixture::new().await;
    let client = client_for(&proxy_without_shells(f.local.addr()).await, None);
    let session = client.session(&f.arn).unwrap();
    let data = noise(600_000, 11);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.bin"), &data).unwrap();
    // Large enough for the shell; the shell is refused; commands carry it.
    let report = session
        .files()
        .upload(dir.path().join("a.bin"), "/mnt/workspace/a.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(report.channel, TransferChannel::Commands);
    assert_eq!(report.sha256, sha256_hex(&data));
    assert!(session.files().read("/mnt/workspace/a.bin").await.unwrap() == data);
    // Asked for the shell explicitly, the refusal is the answer.
    let refused = session
        .files()
        .upload(dir.path().join("a.bin"), "/mnt/workspace/b.bin")
        .channel(TransferChannel::Shell)
        .send()
        .await;
    assert_eq!(
        refused.err().and_then(|e| e.service_kind().cloned()),
        Some(agentcore_sdk::ServiceErrorKind::AccessDenied)
    );
}
