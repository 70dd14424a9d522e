//! Every case is a real escape attempt from inside a session of agentcore-local, made the way
//! a model-written command would make it. Each must fail while a sibling session keeps
//! working with nothing lost from its storage; and the sandbox must look like the service's
//! microVM (`whoami`, `/var/task`, a writable layer reset on stop, storage kept).

use std::time::Duration;

use agentcore_local::{Limits, LocalRuntime, Network};
use agentcore_sdk::{CommandStatus, Session};
use tests::{Fixture, create_runtime, read_until};
use tokio::io::AsyncWriteExt;

/// A server whose sessions are small enough to exhaust in a test, a victim session holding a
/// secret in its storage and in a process's environment, and an attacker session.
struct Scene {
    f: Fixture,
    victim: Session,
    attacker: Session,
    secret: String,
}

async fn scene(test: &str) -> Option<Scene> {
    scene_in(test, LocalRuntime::builder()).await
}

/// The id modes a server of this user can run in: the best one (a root server's high range,
/// or a rootless server's subordinate ids), and the single id it falls back to (for a root
/// server, what used to map root inside to host root).
fn modes() -> Vec<(&'static str, agentcore_local::LocalRuntimeBuilder)> {
    vec![
        ("best", LocalRuntime::builder()),
        (
            "single-id",
            LocalRuntime::builder().isolation(agentcore_local::Isolation::SingleId),
        ),
    ]
}

async fn scene_in(test: &str, builder: agentcore_local::LocalRuntimeBuilder) -> Option<Scene> {
    let f = Fixture::with(
        builder.session_limits(
            Limits::default()
                .memory_bytes(256 << 20)
                .pids(200)
                .cpus(1.0)
                .disk_bytes(64 << 20),
        ),
    )
    .await;
    if !tests::sandboxed(&f.local, test) {
        return None;
    }
    let secret = format!("secret-{}", uuid::Uuid::new_v4().simple());
    let victim = f.session();
    let out = victim
        .command(format!(
            "echo {secret} > /mnt/workspace/secret && \
             (VICTIM_SECRET={secret} setsid sleep 100000 >/dev/null 2>&1 &) && echo planted"
        ))
        .output()
        .await
        .unwrap();
    assert_eq!(out.stdout, "planted\n", "{out:?}");
    let attacker = f.session();
    Some(Scene {
        f,
        victim,
        attacker,
        secret,
    })
}

impl Scene {
    /// Runs `script` in the attacker's session; its output must not hold the secret.
    async fn attack(&self, script: &str) -> agentcore_sdk::CommandOutput {
        let out = self
            .attacker
            .command(script)
            .timeout(Duration::from_secs(60))
            .output()
            .await
            .unwrap();
        assert!(
            !out.stdout.contains(&self.secret) && !out.stderr.contains(&self.secret),
            "the attack read the victim's secret: {script}\n{out:?}"
        );
        out
    }

    /// The victim still works, and its storage and processes are intact.
    async fn victim_intact(&self) {
        let out = self
            .victim
            .command("cat /mnt/workspace/secret; pgrep -c -f 'sleep 100000'")
            .output()
            .await
            .unwrap();
        assert_eq!(out.stdout, format!("{}\n1\n", self.secret), "{out:?}");
    }

    fn data_dir(&self) -> String {
        self.f.local.data_dir().display().to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_sessions_storage_is_out_of_reach_by_every_path() {
    let Some(s) = scene("another_sessions_storage_is_out_of_reach_by_every_path").await else {
        return;
    };
    let data = s.data_dir();
    // The data directory on its host path.
    let out = s
        .attack(&format!(
            "cat {data}/storage/*/*/workspace/secret; ls -la {data}; \
             test -e {data} && echo DATA-DIR-VISIBLE; true"
        ))
        .await;
    assert!(!out.stdout.contains("DATA-DIR-VISIBLE"), "{out:?}");
    // Through other processes' roots, working directories and open files.
    s.attack(
        "for p in /proc/[0-9]*; do cat $p/root/mnt/workspace/secret $p/cwd/secret \
         $p/root$PWD/secret 2>/dev/null; ls -l $p/fd 2>/dev/null; done; \
         cat /proc/*/root/*/storage/*/*/workspace/secret; true",
    )
    .await;
    // A symlink stored in session storage pointing outside, followed now and after a
    // stop/resume (when the server has set the session up again).
    s.attack(&format!(
        "ln -s {data} /mnt/workspace/to-data; ln -s / /mnt/workspace/to-root; \
         ln -s /proc/1/root /mnt/workspace/to-init; \
         cat /mnt/workspace/to-data/storage/*/*/workspace/secret \
             /mnt/workspace/to-root{data}/storage/*/*/workspace/secret \
             /mnt/workspace/to-init{data}/storage/*/*/workspace/secret; true"
    ))
    .await;
    s.attacker.stop().await.unwrap();
    let out = s
        .attack(
            "ls -la /mnt/workspace/; cat /mnt/workspace/to-data/storage/*/*/workspace/secret; \
             find / -xdev -name secret 2>/dev/null; true",
        )
        .await;
    assert!(
        out.stdout.contains("to-data"),
        "the attacker's own storage stays: {out:?}"
    );
    // `..` in a mount path is refused before anything is mounted.
    let http = reqwest::Client::new();
    for path in ["/mnt/../etc", "/mnt/workspace/../../tmp", "/mnt/./x/.."] {
        let resp = http
            .put(format!("{}/runtimes/", s.f.local.endpoint()))
            .json(&serde_json::json!({
                "agentRuntimeName": "dotdot",
                "agentRuntimeArtifact": {"containerConfiguration": {"containerUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"}},
                "roleArn": "arn:aws:iam::123456789012:role/local",
                "networkConfiguration": {"networkMode": "PUBLIC"},
                "filesystemConfigurations": [{"sessionStorage": {"mountPath": path}}],
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status().as_u16(),
            400,
            "mount path {path} was accepted"
        );
    }
    s.victim_intact().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_files_host_home_and_other_environments_are_invisible() {
    let Some(s) = scene("state_files_host_home_and_other_environments_are_invisible").await else {
        return;
    };
    let env_secret = format!("env-{}", uuid::Uuid::new_v4().simple());
    s.f.client
        .create_agent_runtime()
        .name("withsecret")
        .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/withsecret:1")
        .role_arn("arn:aws:iam::123456789012:role/local")
        .environment_variable("API_KEY", &env_secret)
        .send()
        .await
        .unwrap();
    let data = s.data_dir();
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let repo = env!("CARGO_MANIFEST_DIR");
    let out = s
        .attack(&format!(
            "cat {data}/runtimes.json; find / -xdev -name runtimes.json 2>/dev/null; \
             ls -A {home}; cat {home}/.aws/credentials {home}/.ssh/id_* 2>/dev/null; \
             test -e {repo} && echo REPO-VISIBLE; \
             cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n' | grep -i secret; true"
        ))
        .await;
    assert!(!out.stdout.contains(&env_secret), "{out:?}");
    assert!(!out.stdout.contains("REPO-VISIBLE"), "{out:?}");
    // The server's own environment does not leak into sessions either.
    let env = s.attack("env").await;
    for (k, _) in std::env::vars() {
        if k.starts_with("CARGO") || k.starts_with("RUST") || k.starts_with("AWS") {
            assert!(
                !env.stdout.contains(&format!("{k}=")),
                "{k} leaked: {env:?}"
            );
        }
    }
    // The state file is for the server's user alone.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(s.f.local.data_dir().join("runtimes.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o077,
        0,
        "runtimes.json is readable by others: {mode:o}"
    );
    s.victim_intact().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_processes_cannot_be_seen_or_signalled() {
    let Some(s) = scene("other_processes_cannot_be_seen_or_signalled").await else {
        return;
    };
    let server = std::process::id();
    let out = s
        .attack(&format!(
            "ps -eo pid,args; kill -9 {server}; kill -9 -1; pkill -9 -f 'sleep 100000'; \
             kill -9 1; echo after-kills"
        ))
        .await;
    assert!(
        !out.stdout.lines().any(|l| l
            .trim_start()
            .split_once(' ')
            .is_some_and(|(_, args)| args.starts_with("sleep 100000"))),
        "{out:?}"
    );
    // `kill -9 -1` killed the attacker's own command (nothing else), or it survived.
    let ps = s.attack("ps -eo pid= | wc -l").await;
    assert!(
        ps.stdout.trim().parse::<u32>().unwrap() < 10,
        "a session sees only its own few processes: {ps:?}"
    );
    // The server is alive and serves; the victim's process and storage are untouched.
    s.victim_intact().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setsid_and_double_fork_do_not_survive_stop() {
    let Some(s) = scene("setsid_and_double_fork_do_not_survive_stop").await else {
        return;
    };
    let tag = format!("{}", 1_000_000 + fastrand::u32(..1_000_000));
    s.attack(&format!(
        "setsid sleep {tag}1 >/dev/null 2>&1 < /dev/null & \
         (sh -c 'nohup sleep {tag}2 >/dev/null 2>&1 &' &); disown -a; echo started"
    ))
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(tests::host_processes_with(&format!("sleep {tag}")).len(), 2);
    s.attacker.stop().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let left = tests::host_processes_with(&format!("sleep {tag}"));
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "survived StopRuntimeSession: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // No zombie either: the sandbox's init reaps what it adopts.
    let out = s
        .attack("for i in 1 2 3; do setsid sh -c 'sleep 0.1 &'; done; sleep 0.5; ps -eo stat= | grep -c Z; true")
        .await;
    assert_eq!(out.stdout.trim(), "0", "zombies: {out:?}");
    s.victim_intact().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_bomb_is_contained() {
    let Some(s) = scene("a_fork_bomb_is_contained").await else {
        return;
    };
    let bomb = s
        .attacker
        .command("bomb() { bomb | bomb & }; bomb; sleep 30")
        .timeout(Duration::from_secs(4));
    let (bombed, alive) = tokio::join!(bomb.output(), async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        s.victim.command("echo alive").output().await
    });
    assert_eq!(alive.unwrap().stdout, "alive\n");
    let bombed = bombed.unwrap();
    assert_eq!(bombed.status, CommandStatus::TimedOut, "{bombed:?}");
    // The attacker's session is usable again, and the victim never noticed.
    s.attacker.stop().await.unwrap();
    let out = s.attack("echo recovered").await;
    assert_eq!(out.stdout, "recovered\n");
    s.victim_intact().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_hog_is_killed_alone() {
    let Some(s) = scene("a_memory_hog_is_killed_alone").await else {
        return;
    };
    // `tail` keeps the whole newline-free input: 10 GiB if nothing stops it.
    let out = s
        .attack("hog=$(head -c 10G /dev/zero | tr '\\0' x); echo survived ${#hog}")
        .await;
    if s.f.local.isolation_report().limits.contains("cgroup") {
        assert_eq!(out.exit_code, 137, "the hog was not killed: {out:?}");
    } else {
        // Without cgroups (an unprivileged server without delegation), RLIMIT_AS refuses it.
        assert_ne!(out.exit_code, 0, "the hog was not stopped: {out:?}");
        assert!(!out.stdout.contains("survived"), "{out:?}");
    }
    s.victim_intact().await;
    let out = s.attack("echo still-here").await;
    assert_eq!(out.stdout, "still-here\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_outside_the_writable_layer_do_not_reach_the_host() {
    let Some(s) = scene("writes_outside_the_writable_layer_do_not_reach_the_host").await else {
        return;
    };
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let host_paths = [
        format!("/usr/local/bin/agentcore-escape-{tag}"),
        format!("/usr/agentcore-escape-{tag}"),
        format!("/etc/agentcore-escape-{tag}"),
        format!("/opt/agentcore-escape-{tag}"),
        format!("/agentcore-escape-{tag}"),
        format!("/tmp/agentcore-escape-{tag}"),
    ];
    let script = host_paths
        .iter()
        .map(|p| format!("echo x > {p}; "))
        .collect::<String>();
    let out = s
        .attack(&format!(
            "{script} echo localhost-only > /proc/sys/kernel/hostname; \
             mount -o remount,rw / 2>/dev/null; mount --bind / /mnt 2>/dev/null; \
             chmod u+s /usr/bin/bash; echo done"
        ))
        .await;
    assert!(out.stdout.contains("done"), "{out:?}");
    for p in &host_paths {
        assert!(!std::path::Path::new(p).exists(), "{p} reached the host");
    }
    use std::os::unix::fs::PermissionsExt;
    let bash = std::fs::metadata("/usr/bin/bash")
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(bash & 0o4000, 0, "setuid bit reached the host's bash");
    assert_ne!(
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap()
            .trim(),
        "localhost-only"
    );
    s.victim_intact().await;
}

/// Accepts on a host loopback port and counts connections.
async fn host_loopback_service() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((_c, _)) = listener.accept().await {
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    (port, hits)
}

fn connect_attempts(ports: &[u16]) -> String {
    let mut script = String::new();
    for host in ["127.0.0.1", "10.0.2.2", "localhost"] {
        for port in ports {
            script.push_str(&format!(
                "timeout 3 bash -c 'exec 3<>/dev/tcp/{host}/{port}' 2>/dev/null && echo REACHED-{host}-{port}; "
            ));
        }
    }
    script
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_api_and_host_loopback_are_unreachable() {
    let Some(s) = scene("the_server_api_and_host_loopback_are_unreachable").await else {
        return;
    };
    let (port, hits) = host_loopback_service().await;
    let api = s.f.local.addr().port();
    let out = s
        .attack(&format!(
            "{} curl -s -m 3 http://127.0.0.1:{api}/runtimes/ 2>/dev/null; ip route; echo tried",
            connect_attempts(&[api, port])
        ))
        .await;
    assert!(!out.stdout.contains("REACHED"), "{out:?}");
    assert!(out.stdout.contains("tried"), "{out:?}");
    // The default network still has a way out (user-mode networking), just not to the host.
    let report = s.f.local.isolation_report();
    if report.network.contains("slirp4netns") || report.network.contains("pasta") {
        assert!(
            out.stdout.contains("default via"),
            "no outbound route: {out:?}"
        );
    } else {
        tests::skip(
            "the_server_api_and_host_loopback_are_unreachable",
            &format!(
                "the outbound route part: this host gives sessions no outbound network ({})",
                report.lacks.join("; ")
            ),
        );
    }
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    s.victim_intact().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_sandbox_reaches_nothing() {
    let Some(s) = scene("a_sealed_sandbox_reaches_nothing").await else {
        return;
    };
    let created =
        s.f.client
            .create_agent_runtime()
            .name("sealed")
            .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/sealed:1")
            .role_arn("arn:aws:iam::123456789012:role/local")
            .environment_variable("AGENTCORE_LOCAL_NETWORK", "none")
            .send()
            .await
            .unwrap();
    let sealed =
        s.f.client
            .wait_until_ready(created.agent_runtime_id.as_str())
            .send()
            .await
            .unwrap();
    let (port, hits) = host_loopback_service().await;
    let api = s.f.local.addr().port();
    let session = s.f.client.session(&sealed.agent_runtime_arn).unwrap();
    let out = session
        .command(format!(
            "{} timeout 3 bash -c 'exec 3<>/dev/tcp/1.1.1.1/53' 2>/dev/null && echo REACHED-OUT; \
             ip -o link | grep -vc ' lo:'; ip route | wc -l",
            connect_attempts(&[api, port])
        ))
        .output()
        .await
        .unwrap();
    assert!(!out.stdout.contains("REACHED"), "{out:?}");
    assert_eq!(
        out.stdout, "0\n0\n",
        "only a loopback interface, no route: {out:?}"
    );
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    s.victim_intact().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_view_is_the_microvms() {
    let f = Fixture::new().await;
    if !tests::sandboxed(&f.local, "the_view_is_the_microvms") {
        return;
    }
    let session = f.session();
    let out = session
        .command(
            "whoami; hostname; test -d /var/task && test -d /home/agentcore-runtime-user && echo dirs; \
             echo t > /tmp/t; echo r > /rootfile; echo u > /usr/local/bin/u; echo w > /mnt/workspace/w; \
             cat /proc/1/cmdline | tr '\\0' ' '; echo",
        )
        .output()
        .await
        .unwrap();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(&lines[..3], &["root", "localhost", "dirs"], "{out:?}");
    assert!(
        lines[3].starts_with("agentcore-init"),
        "PID 1 is the sandbox's init: {out:?}"
    );
    // Shells run as the service's shell user.
    let mut shell = session.shell().connect().await.unwrap();
    shell
        .write_all(b"echo user=$(whoami) home=$HOME; echo s > /mnt/workspace/s; printf 'stat%s:%s\\n' us $?\n")
        .await
        .unwrap();
    // (A failed write shows as a timeout with the shell's output.)
    let seen = read_until(&mut shell, "status:0").await;
    assert!(
        seen.contains("user=agentcore-runtime-user home=/home/agentcore-runtime-user"),
        "{seen}"
    );
    assert!(
        seen.contains("status:0"),
        "the shell user can write the workspace: {seen}"
    );
    shell.detach().await;
    // After stop/resume: the writable layer is fresh, session storage is kept.
    session.stop().await.unwrap();
    let out = session
        .command(
            "for f in /tmp/t /rootfile /usr/local/bin/u /mnt/workspace/w /mnt/workspace/s; do \
             test -e $f && echo kept $f || echo gone $f; done",
        )
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.stdout,
        "gone /tmp/t\ngone /rootfile\ngone /usr/local/bin/u\nkept /mnt/workspace/w\nkept /mnt/workspace/s\n"
    );
    // A second runtime's session is a different machine altogether.
    let (arn, _) = create_runtime(&f.client, "other").await;
    let other = f.client.session(&arn).unwrap();
    let out = other
        .command("ls /mnt/workspace | wc -l")
        .output()
        .await
        .unwrap();
    assert_eq!(out.stdout, "0\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_lifetime_stops_a_busy_session() {
    let f = Fixture::with(
        LocalRuntime::builder()
            .max_lifetime(Duration::from_secs(2))
            .reap_interval(Duration::from_millis(100)),
    )
    .await;
    let session = f.session();
    let out = session
        .command("echo $$ > /mnt/workspace/pid; sleep 30; echo not-stopped")
        .timeout(Duration::from_secs(60))
        .output()
        .await
        .unwrap();
    assert!(!out.stdout.contains("not-stopped"), "{out:?}");
    assert_eq!(f.local.running_sessions(), 0);
}

/// Sessions started and entered concurrently each get their own sandbox, every time (a
/// descriptor mix-up between concurrent spawns once sent commands into the wrong namespace).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sessions_each_enter_their_own_sandbox() {
    let f = Fixture::new().await;
    if !tests::sandboxed(&f.local, "concurrent_sessions_each_enter_their_own_sandbox") {
        return;
    }
    let runs = futures::future::join_all((0..30).map(|i| {
        let s = f.session();
        async move {
            let mut outs = Vec::new();
            for _ in 0..3 {
                outs.push(
                    s.command(format!(
                        "echo {i} >> /mnt/workspace/mine; sort -u /mnt/workspace/mine"
                    ))
                    .output()
                    .await
                    .map(|o| (o.exit_code, o.stdout, o.stderr)),
                );
            }
            (i, outs)
        }
    }))
    .await;
    for (i, outs) in runs {
        for o in outs {
            assert_eq!(o.unwrap(), (0, format!("{i}\n"), String::new()));
        }
    }
    assert_eq!(f.local.running_sessions(), 30);
}

/// A data directory in a closed home (0700, as a user's home is) works: what a sandbox
/// binds is opened by the sandbox's parent, so no other user ever needs a path into it, and
/// what the server creates in it is closed to other users too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_in_a_closed_home_works_and_stays_closed() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let data = home.path().join("agentcore");
    let f = Fixture::with(LocalRuntime::builder().data_dir(&data)).await;
    let out = f
        .session()
        .command("echo ok > /mnt/workspace/f && cat /mnt/workspace/f")
        .output()
        .await
        .unwrap();
    assert_eq!(out.stdout, "ok\n", "{out:?}");
    for dir in [data.clone(), data.join("storage")] {
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "{} is open to others: {mode:o}",
            dir.display()
        );
    }
}

/// A server killed outright (SIGKILL, no cleanup) takes its sessions' processes with it: each
/// sandbox's init lives only as long as the server holds its lifeline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandboxes_die_with_a_killed_server() {
    if std::env::var(agentcore_local::sandbox::ISOLATION_ENV).as_deref() == Ok("none") {
        tests::skip(
            "sandboxes_die_with_a_killed_server",
            "it is about the sandbox, and sessions here are not sandboxed",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (mut server, client) = tests::spawn_server(&dir.path().join("data")).await;
    let (arn, _) = create_runtime(&client, "orphans").await;
    let tag = format!("{}", 3_000_000 + fastrand::u32(..1_000_000));
    tests::start_detached_sleep(&client.session(&arn).unwrap(), &tag).await;
    server.start_kill().unwrap();
    server.wait().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let left = tests::host_processes_with(&format!("sleep {tag}"));
        let sandboxes = tests::host_processes_with(&dir.path().display().to_string());
        if left.is_empty() && sandboxes.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "outlived the server: {left:?} {sandboxes:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reachable from other machines without signature verification, anyone could run commands
/// in every session: refused unless asked for explicitly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_listener_needs_verification_or_an_explicit_opt_in() {
    let err = LocalRuntime::builder()
        .listen(([0, 0, 0, 0], 0).into())
        .start()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("--insecure-public"), "{err}");
    let verified = LocalRuntime::builder()
        .listen(([0, 0, 0, 0], 0).into())
        .verify_sigv4([("k".to_owned(), "s".to_owned())], [])
        .start()
        .await
        .unwrap();
    verified.shutdown().await;
    let builder = LocalRuntime::builder().verify_sigv4(
        [("AKIDLOCAL".to_owned(), "secret-access-key-value".to_owned())],
        ["bearer-token-value".to_owned()],
    );
    let debug = format!("{builder:?}");
    assert!(debug.contains("AKIDLOCAL"), "{debug}");
    assert!(
        !debug.contains("secret-access-key-value") && !debug.contains("bearer-token-value"),
        "{debug}"
    );
    let open = LocalRuntime::builder()
        .listen(([0, 0, 0, 0], 0).into())
        .insecure_public(true)
        .start()
        .await
        .unwrap();
    open.shutdown().await;
}

async fn host_network_runtime(f: &Fixture) -> agentcore_sdk::RuntimeArn {
    let created = f
        .client
        .create_agent_runtime()
        .name(format!("hostnet{}", fastrand::u32(..)))
        .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/hostnet:1")
        .role_arn("arn:aws:iam::123456789012:role/local")
        .environment_variable("AGENTCORE_LOCAL_NETWORK", "host")
        .send()
        .await
        .unwrap();
    f.client
        .wait_until_ready(created.agent_runtime_id.as_str())
        .send()
        .await
        .unwrap()
        .agent_runtime_arn
}

fn loopback_probe(port: u16) -> String {
    format!("timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}' && echo REACHED; true")
}

/// The operator's network is the widest a session gets: a runtime asking for the host's
/// network (any API client can create one) still cannot reach a host loopback listener,
/// whether the server's mode is `none` or `private`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_cannot_widen_the_operators_network() {
    for mode in [Network::None, Network::Private] {
        let f = Fixture::with(LocalRuntime::builder().network(mode)).await;
        if !tests::sandboxed(&f.local, "a_runtime_cannot_widen_the_operators_network") {
            return;
        }
        let arn = host_network_runtime(&f).await;
        let (port, hits) = host_loopback_service().await;
        let out = f
            .client
            .session(&arn)
            .unwrap()
            .command(loopback_probe(port))
            .output()
            .await
            .unwrap();
        assert_eq!(out.stdout, "", "{mode}: {out:?}");
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "{mode}");
    }
}

/// `host` networking needs the operator: a server on the host network, or one that lets
/// runtimes widen their network; then, and only then, a session reaches the host's loopback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_networking_is_the_operators_explicit_opt_in() {
    let f = Fixture::with(LocalRuntime::builder().allow_runtime_network(true)).await;
    if !tests::sandboxed(&f.local, "host_networking_is_the_operators_explicit_opt_in") {
        return;
    }
    let arn = host_network_runtime(&f).await;
    let (port, hits) = host_loopback_service().await;
    let opted = f.client.session(&arn).unwrap();
    let out = opted.command(loopback_probe(port)).output().await.unwrap();
    assert_eq!(out.stdout, "REACHED\n", "{out:?}");
    let private = f
        .session()
        .command(loopback_probe(port))
        .output()
        .await
        .unwrap();
    assert_eq!(private.stdout, "", "{private:?}");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------------------------------
// A second set of attempts (host root, the host's terminal, host-side helpers, keyrings,
// inherited descriptors, /var/task, setuid files for other users, and the weaknesses).

/// Python inside the sandbox (Debian's, from the host's /usr), for system calls.
const PY_SYSCALLS: &str = r#"
import ctypes, os, platform
libc = ctypes.CDLL(None, use_errno=True)
NR = {'x86_64': dict(keyctl=250, add_key=248, bpf=321, userfaultfd=323),
      'aarch64': dict(keyctl=219, add_key=217, bpf=280, userfaultfd=282)}[platform.machine()]
def call(name, *args):
    r = libc.syscall(NR[name], *args)
    return 'ok' if r >= 0 else os.strerror(ctypes.get_errno())
"#;

fn python(script: &str) -> String {
    format!("python3 - <<'PY'\n{PY_SYSCALLS}\n{script}\nPY")
}

/// Item 1: root inside is never host root. As a root server (both id modes; the single-id one
/// used to map root inside to host uid 0): host-global sysctls, the session's own cgroup
/// limits and host device inodes stay out of reach; every attempt writes back the value it
/// read, so a failure of the sandbox changes nothing on the host. (A session may mount its
/// own cgroup namespace's hierarchy: it shows only its leaf, below the limits.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_inside_is_never_host_root() {
    for (mode, builder) in modes() {
        let Some(s) = scene_in("root_inside_is_never_host_root", builder).await else {
            return;
        };
        let out = s
            .attack(
                "awk '$1 == 0 {print \"outside=\" $2}' /proc/self/uid_map; \
                 for f in kernel/core_pattern kernel/panic fs/suid_dumpable kernel/poweroff_cmd \
                          vm/overcommit_ratio vm/swappiness; do \
                   v=$(cat /proc/sys/$f) && printf '%s\\n' \"$v\" > /proc/sys/$f 2>/dev/null \
                     && echo WROTE $f; done; \
                 mkdir -p /tmp/cg /tmp/cgm; \
                 mount -t cgroup2 none /tmp/cg 2>/dev/null && \
                   for f in memory.max pids.max cpu.max; do \
                     [ -e /tmp/cg/$f ] && cat /tmp/cg/$f > /tmp/v && cat /tmp/v > /tmp/cg/$f 2>/dev/null \
                       && echo WROTE-CG $f; done; \
                 mount -t cgroup -o memory none /tmp/cgm 2>/dev/null && \
                   echo 999999999999 > /tmp/cgm/memory.limit_in_bytes 2>/dev/null; \
                 chown 1234 /dev/null 2>/dev/null && echo CHOWNED; \
                 echo done",
            )
            .await;
        assert!(out.stdout.ends_with("done\n"), "{mode}: {out:?}");
        for bad in ["WROTE ", "CHOWNED"] {
            assert!(!out.stdout.contains(bad), "{mode}: {out:?}");
        }
        // The limit the session runs under is as the server set it (256 MiB).
        let big = s
            .attack("x=$(head -c 400M /dev/zero | tr '\\0' x); echo held ${#x}")
            .await;
        assert!(
            !big.stdout.contains("held 419430400"),
            "{mode}: the memory limit was lifted: {big:?}"
        );
        let outside: u64 = out
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("outside="))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{mode}: no uid_map: {out:?}"));
        if nix::unistd::geteuid().is_root() {
            assert_ne!(outside, 0, "{mode}: root inside is host root");
        }
        s.victim_intact().await;
    }
}

/// Item 2: nothing of a session reaches the terminal the server runs in: no controlling
/// terminal, no inherited terminal descriptor to push keystrokes into (`TIOCSTI`), and an
/// agent's output goes to the server's log, not to the terminal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystrokes_never_reach_the_servers_terminal() {
    if !tests::have_tmux("keystrokes_never_reach_the_servers_terminal") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("PWNED");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let name = format!("agentcore-tty-{}", std::process::id());
    // The server in the foreground of an interactive shell, as a developer runs it.
    let tmux = tests::Tmux::start(&name, "bash --norc --noprofile -i");
    let server = format!(
        "{} --listen 127.0.0.1:{port} --data-dir {} --ready-delay-ms 0 \
         --agent '*=echo AGENT-OUT-$((40+2)); echo AGENT-ERR-$((40+2)) >&2; exec sleep 1000'",
        tests::server_binary().display(),
        dir.path().join("data").display()
    );
    tmux.keys(&["-l", &server]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("listening on").await;
    let client = tests::client_for(&format!("http://127.0.0.1:{port}"), None);
    let (arn, _) = create_runtime(&client, "tty").await;
    let session = client.session(&arn).unwrap();
    let inject = format!("touch {}\n", marker.display());
    let out = session
        .command(python(&format!(
            r#"
import fcntl, termios, glob
hits = []
paths = ['/dev/tty'] + sorted(glob.glob('/proc/self/fd/*'))
for p in paths:
    try:
        fd = os.open(p, os.O_RDWR | os.O_NOCTTY)
    except OSError:
        continue
    try:
        for ch in {inject:?}:
            fcntl.ioctl(fd, termios.TIOCSTI, ch.encode())
        hits.append(p)
    except OSError:
        pass
for fd in (0, 1, 2):
    try:
        fcntl.ioctl(fd, termios.TIOCSTI, b'x')
        hits.append(fd)
    except OSError:
        pass
print('hits', hits)
try:
    os.close(os.open('/dev/tty', os.O_RDWR))
    print('ctty yes')
except OSError:
    print('ctty none')
"#
        )))
        .output()
        .await
        .unwrap();
    assert!(out.stdout.contains("hits []"), "{out:?}");
    assert!(
        out.stdout.contains("ctty none"),
        "a command has no terminal: {out:?}"
    );
    // The agent starts (and prints) on an invocation; it never answers, which is fine here.
    let _ = tokio::time::timeout(Duration::from_secs(3), session.invoke("{}").send()).await;
    tmux.keys(&["C-c"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    tmux.keys(&["-l", "echo SHELL-$((6*7))"]);
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("SHELL-42").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let screen = format!("{screen}{}", tmux.screen());
    assert!(
        !marker.exists(),
        "a session typed into the server's terminal:\n{screen}"
    );
    assert!(
        !screen.contains("AGENT-OUT-42") && !screen.contains("AGENT-ERR-42"),
        "{screen}"
    );
}

/// Item 3: a runtime's environment (`PATH`, `LD_PRELOAD`, `BASH_ENV`) applies inside the
/// sandbox only: no host-side helper (the network helper, id mappers, or anything that
/// starts shells) runs a program it names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtimes_environment_never_reaches_the_host() {
    let evil = tempfile::tempdir().unwrap();
    let marker = evil.path().join("RAN-ON-HOST");
    for prog in [
        "nsenter",
        "setpriv",
        "env",
        "unshare",
        "slirp4netns",
        "pasta",
        "newuidmap",
        "newgidmap",
        "bash",
        "sh",
        "mount",
        "ip",
        "python3",
    ] {
        let p = evil.path().join(prog);
        std::fs::write(
            &p,
            format!("#!/bin/sh\necho {prog} >> {}\nexit 1\n", marker.display()),
        )
        .unwrap();
        std::os::unix::fs::PermissionsExt::set_mode(
            &mut std::fs::metadata(&p).unwrap().permissions(),
            0o755,
        );
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    std::fs::write(
        evil.path().join("bashenv"),
        format!("echo BASH_ENV >> {}\n", marker.display()),
    )
    .unwrap();
    let so = evil.path().join("evil.so");
    let c_file = evil.path().join("evil.c");
    std::fs::write(
        &c_file,
        format!(
            "#include <stdio.h>\n__attribute__((constructor)) static void f(void) {{ FILE *o = fopen(\"{}\", \"a\"); if (o) {{ fputs(\"LD_PRELOAD\\n\", o); fclose(o); }} }}\n",
            marker.display()
        ),
    )
    .unwrap();
    let have_so = std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&c_file)
        .status()
        .is_ok_and(|s| s.success());
    if !have_so {
        tests::skip(
            "a_runtimes_environment_never_reaches_the_host",
            "LD_PRELOAD part: no C compiler (install one: `sudo apt-get install gcc`)",
        );
    }
    for (mode, builder) in modes() {
        let f = Fixture::with(builder.agent("*", "exec sleep 1000")).await;
        if !tests::sandboxed(&f.local, "a_runtimes_environment_never_reaches_the_host") {
            return;
        }
        let created = f
            .client
            .create_agent_runtime()
            .name(format!("evil{}", fastrand::u32(..)))
            .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/evil:1")
            .role_arn("arn:aws:iam::123456789012:role/local")
            .session_storage("/mnt/workspace")
            .environment_variable("PATH", format!("{}:/usr/bin:/bin", evil.path().display()))
            .environment_variable("LD_PRELOAD", so.display().to_string())
            .environment_variable(
                "BASH_ENV",
                evil.path().join("bashenv").display().to_string(),
            )
            .send()
            .await
            .unwrap();
        let rt = f
            .client
            .wait_until_ready(created.agent_runtime_id.as_str())
            .send()
            .await
            .unwrap();
        let session = f.client.session(&rt.agent_runtime_arn).unwrap();
        let out = session
            .command("echo inside-$((1+1))")
            .output()
            .await
            .unwrap();
        assert_eq!(out.stdout, "inside-2\n", "{mode}: {out:?}");
        let mut shell = session.shell().connect().await.unwrap();
        shell.write_all(b"echo shell-$((2+2))\n").await.unwrap();
        read_until(&mut shell, "shell-4").await;
        shell.detach().await;
        let _ = tokio::time::timeout(Duration::from_secs(3), session.invoke("{}").send()).await;
        assert!(
            !marker.exists(),
            "{mode}: ran on the host: {}",
            std::fs::read_to_string(&marker).unwrap_or_default()
        );
    }
}

/// Item 4: the server's session keyring (a login session's) and keys one session adds are
/// out of reach: every session joins a fresh keyring, and keyring calls are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyrings_are_never_shared() {
    let secret = format!("keyring-secret-{}", fastrand::u64(..));
    let key = tests::add_session_key("agentcore-host-key", &secret);
    for (mode, builder) in modes() {
        let Some(s) = scene_in("keyrings_are_never_shared", builder).await else {
            return;
        };
        let out = s
            .attack(&python(&format!(
                r#"
buf = ctypes.create_string_buffer(4096)
print('read', call('keyctl', 11, {key}, buf, 4096), buf.value.decode(errors='replace'))
print('add', call('add_key', b'user', b'agentcore-session-key', b'x' * 8, 1, 0xfffffffd))
print('keys', open('/proc/keys').read().count('{secret}'))
"#
            )))
            .await;
        assert!(!out.stdout.contains(&secret), "{mode}: {out:?}");
        assert!(
            out.stdout.contains("read Operation not permitted"),
            "{mode}: {out:?}"
        );
        assert!(
            out.stdout.contains("add Operation not permitted"),
            "{mode}: {out:?}"
        );
        s.victim_intact().await;
    }
}

/// Item 5: descriptors the server inherited (here a directory holding a secret, left open
/// without close-on-exec, as a careless parent does) reach no process of a session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inherited_descriptors_never_reach_a_session() {
    let dir = tempfile::tempdir().unwrap();
    let secret = format!("fd-secret-{}", fastrand::u64(..));
    std::fs::write(dir.path().join("secret-file"), &secret).unwrap();
    let _leaked = tests::leak_directory_descriptor(dir.path());
    for (mode, builder) in modes() {
        let Some(s) = scene_in("inherited_descriptors_never_reach_a_session", builder).await else {
            return;
        };
        let probe = "for fd in /proc/self/fd/*; do cat $fd/secret-file 2>/dev/null; done; \
                     ls /proc/self/fd | tr '\\n' ' '; echo";
        let out = s.attack(probe).await;
        assert!(!out.stdout.contains(&secret), "{mode}: {out:?}");
        let mut shell = s.attacker.shell().connect().await.unwrap();
        shell
            .write_all(format!("{probe}; echo END$((1))\n").as_bytes())
            .await
            .unwrap();
        let seen = read_until(&mut shell, "END1").await;
        assert!(!seen.contains(&secret), "{mode}: {seen}");
        shell.detach().await;
        s.victim_intact().await;
    }
}

/// Item 6: `/var/task` (the agent's code) is a locked read-only mount: not remountable
/// read-write, not unmountable, so the host's copy is never written (here through a
/// world-writable directory in it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn var_task_is_a_locked_read_only_mount() {
    let code = tempfile::tempdir().unwrap();
    let ww = code.path().join("ww");
    std::fs::create_dir(&ww).unwrap();
    std::fs::set_permissions(&ww, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    std::fs::set_permissions(
        code.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    for (mode, builder) in modes() {
        let f = Fixture::with(builder.agent_with_code("*", "exec sleep 1000", code.path())).await;
        if !tests::sandboxed(&f.local, "var_task_is_a_locked_read_only_mount") {
            return;
        }
        let out = f
            .session()
            .command(
                "mount -o remount,bind,rw /var/task 2>&1; mount -o remount,rw /var/task 2>&1; \
                 umount -l /var/task 2>&1; echo x > /var/task/ww/evil; touch /var/task/evil2; \
                 ls /var/task; echo done",
            )
            .output()
            .await
            .unwrap();
        assert!(
            out.stdout.contains("ww"),
            "{mode}: /var/task is still the code: {out:?}"
        );
        assert!(
            !ww.join("evil").exists(),
            "{mode}: wrote the host's code: {out:?}"
        );
        assert!(!code.path().join("evil2").exists(), "{mode}: {out:?}");
    }
}

/// Item 7: setuid files a session makes (in its writable layer or its storage) help no
/// other host user: no host user has a path to them, and inside they are on `nosuid` mounts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sessions_setuid_files_help_no_one() {
    for (mode, builder) in modes() {
        let Some(s) = scene_in("a_sessions_setuid_files_help_no_one", builder).await else {
            return;
        };
        let out = s
            .attack(
                "for d in /usr/local/bin /mnt/workspace /tmp; do cp /bin/bash $d/rootsh && \
                 chmod 4755 $d/rootsh && echo made $d; done",
            )
            .await;
        assert!(
            out.stdout.contains("made /mnt/workspace"),
            "{mode}: {out:?}"
        );
        // Inside: the shell user gains nothing from them.
        let mut shell = s.attacker.shell().connect().await.unwrap();
        shell
            .write_all(b"for d in /usr/local/bin /mnt/workspace /tmp; do $d/rootsh -p -c 'echo euid=$(id -u)'; done; echo END$((1))\n")
            .await
            .unwrap();
        let seen = read_until(&mut shell, "END1").await;
        assert!(!seen.contains("euid=0"), "{mode}: {seen}");
        shell.detach().await;
        // Outside: another user cannot reach any copy on the host.
        if nix::unistd::geteuid().is_root() {
            let found = std::process::Command::new("find")
                .arg(s.f.local.data_dir())
                .args(["-name", "rootsh"])
                .output()
                .unwrap();
            let paths = String::from_utf8_lossy(&found.stdout).into_owned();
            assert!(
                !paths.trim().is_empty(),
                "{mode}: the storage copy is somewhere"
            );
            for p in paths.lines() {
                let run = std::process::Command::new("runuser")
                    .args(["-u", "nobody", "--", p, "-p", "-c", "id -u"])
                    .output()
                    .unwrap();
                assert!(
                    !run.status.success(),
                    "{mode}: nobody ran {p}: {}",
                    String::from_utf8_lossy(&run.stdout)
                );
            }
        } else {
            tests::skip(
                "a_sessions_setuid_files_help_no_one",
                "the other-user part needs root (runuser)",
            );
        }
        s.victim_intact().await;
    }
}

/// Defence in depth: every session process runs with `no_new_privs` and the seccomp filter
/// (BPF, userfaultfd and keyrings refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_run_under_no_new_privs_and_seccomp() {
    let Some(s) = scene("sessions_run_under_no_new_privs_and_seccomp").await else {
        return;
    };
    let out = s
        .attack(&python(
            r#"
status = open('/proc/self/status').read()
print('nnp', 'NoNewPrivs:	1' in status, 'seccomp', 'Seccomp:	2' in status)
print('bpf', call('bpf', 0, 0, 0), 'uffd', call('userfaultfd', 0), 'keyctl', call('keyctl', 0, 0))
"#,
        ))
        .await;
    assert!(out.stdout.contains("nnp True seccomp True"), "{out:?}");
    assert!(
        out.stdout.contains(
            "bpf Operation not permitted uffd Operation not permitted keyctl Operation not permitted"
        ),
        "{out:?}"
    );
}

/// Weakness: the host's own addresses (which reach services bound to 0.0.0.0) and the
/// link-local ranges (instance metadata) are unreachable from a private network, in a place
/// root inside cannot undo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hosts_addresses_and_link_local_are_unreachable() {
    let Some(s) = scene("the_hosts_addresses_and_link_local_are_unreachable").await else {
        return;
    };
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((_c, _)) = listener.accept().await {
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let mut addrs: Vec<String> = nix::ifaddrs::getifaddrs()
        .unwrap()
        .filter_map(|a| a.address?.as_sockaddr_in().map(|v4| v4.ip().to_string()))
        .filter(|ip| !ip.starts_with("127."))
        .collect();
    addrs.sort();
    addrs.dedup();
    let mut script = String::new();
    for ip in &addrs {
        script.push_str(&format!(
            "timeout 3 bash -c 'exec 3<>/dev/tcp/{ip}/{port}' 2>/dev/null && echo REACHED {ip}; "
        ));
    }
    script.push_str(
        "timeout 3 bash -c 'exec 3<>/dev/tcp/169.254.169.254/80' 2>/dev/null && echo REACHED imds; \
         ip route del unreachable 169.254.0.0/16 2>/dev/null && echo DELETED; echo done",
    );
    let out = s.attack(&script).await;
    assert!(out.stdout.ends_with("done\n"), "{out:?}");
    assert!(
        !out.stdout.contains("REACHED") && !out.stdout.contains("DELETED"),
        "{addrs:?}: {out:?}"
    );
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// Weakness: what a session writes outside its storage (root, /tmp, the writable layer) is
/// bounded, so it can fill neither the host's disk nor its memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_outside_storage_are_bounded() {
    let Some(s) = scene("writes_outside_storage_are_bounded").await else {
        return;
    };
    let out = s
        .attack(
            "for f in /tmp/big /usr/local/big /root/big /var/tmp/big; do \
               head -c 200M /dev/zero > $f 2>/dev/null && echo FILLED $f; rm -f $f; done; echo done",
        )
        .await;
    assert_eq!(out.stdout, "done\n", "{out:?}");
    s.victim_intact().await;
}

/// Weakness: the sandbox's mount table shows no host path of its writable layer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mount_table_shows_no_layer_paths() {
    let Some(s) = scene("the_mount_table_shows_no_layer_paths").await else {
        return;
    };
    let out = s.attack("cat /proc/self/mountinfo").await;
    assert!(out.stdout.contains("upperdir=usr/u"), "{out:?}");
    assert!(
        !out.stdout.contains("upperdir=/") && !out.stdout.contains("workdir=/"),
        "{out:?}"
    );
    assert!(!out.stdout.contains("scratch"), "{out:?}");
}

/// Weakness: SIGTERM stops a server as Ctrl-C does: its sessions' processes end and their
/// cgroups go before it exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_sessions_and_removes_their_cgroups() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, client) = tests::spawn_server(&dir.path().join("data")).await;
    let (arn, _) = create_runtime(&client, "term").await;
    let tag = format!("{}", 4_000_000 + fastrand::u32(..1_000_000));
    tests::start_detached_sleep(&client.session(&arn).unwrap(), &tag).await;
    let found = tests::host_processes_with(&format!("sleep {tag}"));
    let pid = found[0].split(':').next().unwrap().to_owned();
    let cgroups: Vec<std::path::PathBuf> = tests::cgroup_dirs_of(&pid);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.id().unwrap() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(20), server.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(tests::host_processes_with(&format!("sleep {tag}")).is_empty());
    for c in &cgroups {
        assert!(!c.exists(), "left behind: {}", c.display());
    }
}

/// A rootless server started from a cgroup of its user's own (a desktop terminal's systemd
/// scope) without delegated controllers: each session still gets a cgroup of its own as the
/// root of its cgroup namespace, so `cgroup.freeze` / `cgroup.kill` reach only the session,
/// never the server and the user's other processes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_cannot_freeze_or_kill_the_servers_cgroup() {
    let test = "a_session_cannot_freeze_or_kill_the_servers_cgroup";
    if !nix::unistd::geteuid().is_root() {
        tests::skip(test, "making a user-owned cgroup for the server needs root");
        return;
    }
    let Some(unified) = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .into_iter()
        .map(std::path::Path::new)
        .find(|m| m.join("cgroup.controllers").exists())
    else {
        tests::skip(test, "this host has no cgroup v2 hierarchy");
        return;
    };
    let user = "nobody";
    let uid = nix::unistd::User::from_name(user).unwrap().unwrap().uid;
    let scope = unified.join(format!("agentcore-test-scope-{}", std::process::id()));
    std::fs::create_dir_all(&scope).unwrap();
    // As the user's own systemd manager makes it: every file the user's.
    for e in std::fs::read_dir(&scope).unwrap().flatten() {
        let _ = nix::unistd::chown(&e.path(), Some(uid), None);
    }
    nix::unistd::chown(&scope, Some(uid), None).unwrap();
    struct Remove(std::path::PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            // Whatever happened: thawed, emptied, removed.
            let _ = std::fs::write(self.0.join("cgroup.freeze"), "0");
            let _ = std::fs::write(self.0.join("cgroup.kill"), "1");
            for _ in 0..50 {
                if tests_remove_cgroup(&self.0) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    let _remove = Remove(scope.clone());
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The server, in the user's own cgroup, beside another of the user's processes.
    let script = format!(
        "echo $$ > {procs}; sleep 1000 & exec runuser -u {user} -- env -i PATH=/usr/bin:/bin \
         {bin} --listen 127.0.0.1:{port} --data-dir {data} --ready-delay-ms 0",
        procs = scope.join("cgroup.procs").display(),
        bin = tests::server_binary().display(),
        data = dir.path().join("data").display(),
    );
    let mut server = tokio::process::Command::new("sh")
        .args(["-c", &script])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = tests::client_for(&format!("http://127.0.0.1:{port}"), None);
    let mut tries = 0;
    let (arn, _) = loop {
        if client.list_agent_runtimes().send().await.is_ok() {
            break create_runtime(&client, "cgscope").await;
        }
        tries += 1;
        assert!(tries < 100, "the server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let ready = client
        .session(&arn)
        .unwrap()
        .command("echo ready")
        .output()
        .await
        .unwrap();
    assert_eq!(ready.stdout, "ready\n", "{ready:?}");
    // One session freezes its cgroup namespace's root, another kills it: each reaches
    // only itself (a frozen session's command ends at its timeout).
    for (verb, timeout) in [("cgroup.freeze", 2), ("cgroup.kill", 10)] {
        let _ = client
            .session(&arn)
            .unwrap()
            .command(format!(
                "mkdir -p /tmp/cg && mount -t cgroup2 none /tmp/cg && echo 1 > /tmp/cg/{verb}; echo done"
            ))
            .timeout(Duration::from_secs(timeout))
            .output()
            .await;
    }
    // The server and the user's other process are alive, and serve.
    let procs = std::fs::read_to_string(scope.join("cgroup.procs")).unwrap_or_default();
    assert!(
        procs.lines().count() >= 2,
        "the scope's processes are gone: {procs:?}"
    );
    let events = std::fs::read_to_string(scope.join("cgroup.events")).unwrap_or_default();
    assert!(!events.contains("frozen 1"), "{events}");
    let again = client
        .session(&arn)
        .unwrap()
        .command("echo alive")
        .output()
        .await
        .unwrap();
    assert_eq!(again.stdout, "alive\n");
    server.start_kill().unwrap();
    let _ = server.wait().await;
    let _ = std::fs::write(scope.join("cgroup.kill"), "1");
}

fn tests_remove_cgroup(dir: &std::path::Path) -> bool {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                tests_remove_cgroup(&e.path());
            }
        }
    }
    std::fs::remove_dir(dir).is_ok() || !dir.exists()
}

/// Per-user kernel budgets a session uses (inotify instances here) are charged to an id of
/// its own, not to host root's or another session's: a session that takes all it can leaves
/// host root and the next session theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sessions_kernel_budgets_are_its_own() {
    let test = "a_sessions_kernel_budgets_are_its_own";
    if !nix::unistd::geteuid().is_root() {
        tests::skip(
            test,
            "a rootless server's sessions are charged to its user: nothing to check",
        );
        return;
    }
    let Some(s) = scene(test).await else {
        return;
    };
    let hog = s.attacker.command(
        "python3 -c 'import ctypes, time\nlibc = ctypes.CDLL(None)\nn = 0\nwhile libc.inotify_init1(0) >= 0 and n < 100000: n += 1\nprint(\"held\", n, flush=True)\ntime.sleep(30)'",
    );
    let hog = tokio::spawn(hog.timeout(Duration::from_secs(60)).output());
    tokio::time::sleep(Duration::from_secs(3)).await;
    // SAFETY: inotify_init1 with no flags; the descriptor is closed at once.
    let fd = unsafe { libc::inotify_init1(0) };
    assert!(fd >= 0, "host root has no inotify instance left");
    // SAFETY: closing the descriptor just made.
    unsafe { libc::close(fd) };
    let other = s
        .victim
        .command("python3 -c 'import ctypes\nprint(ctypes.CDLL(None).inotify_init1(0) >= 0)'")
        .output()
        .await
        .unwrap();
    assert_eq!(other.stdout, "True\n", "{other:?}");
    s.attacker.stop().await.unwrap();
    let _ = hog.await;
}

/// Another local user cannot use the server's API (it runs commands in every session and
/// holds every runtime's environment): loopback connections of other users get 403
/// `AccessDeniedException`, unless the operator serves every user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_local_users_cannot_use_the_api() {
    let test = "other_local_users_cannot_use_the_api";
    if !nix::unistd::geteuid().is_root() {
        tests::skip(test, "acting as another local user needs root (runuser)");
        return;
    }
    let probe = |endpoint: String| {
        std::process::Command::new("runuser")
            .args(["-u", "nobody", "--", "python3", "-c"])
            .arg(format!(
                "import urllib.request, urllib.error\n\
                 try:\n    r = urllib.request.urlopen(urllib.request.Request('{endpoint}/runtimes/', method='POST', data=b'{{}}'))\n    print('status', r.status)\n\
                 except urllib.error.HTTPError as e:\n    print('status', e.code, e.headers.get('x-amzn-errortype'))\n\
                 except Exception as e:\n    print('error', e)"
            ))
            .output()
            .unwrap()
    };
    let f = Fixture::new().await;
    let out = probe(f.local.endpoint());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("status 403 AccessDeniedException"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The server's own user is served.
    f.client.list_agent_runtimes().send().await.unwrap();
    let open = Fixture::with(LocalRuntime::builder().allow_other_users(true)).await;
    let out = probe(open.local.endpoint());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("status 200"),
        "{out:?}"
    );
}

/// Host addresses that appear while the server runs (a VPN, a container bridge) are blocked
/// in private sessions too, within a few seconds, also in sessions already running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_addresses_added_later_are_blocked_too() {
    let test = "host_addresses_added_later_are_blocked_too";
    if !nix::unistd::geteuid().is_root() {
        tests::skip(test, "adding a host address needs root");
        return;
    }
    let Some(s) = scene(test).await else {
        return;
    };
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((_c, _)) = listener.accept().await {
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    // The attacker's sandbox exists before the address does.
    s.attack("true").await;
    let addr = format!("198.51.100.{}", 1 + std::process::id() % 250);
    let add = std::process::Command::new("ip")
        .args(["addr", "add", &format!("{addr}/32"), "dev", "lo"])
        .status()
        .unwrap();
    assert!(add.success());
    struct Del(String);
    impl Drop for Del {
        fn drop(&mut self) {
            let _ = std::process::Command::new("ip")
                .args(["addr", "del", &format!("{}/32", self.0), "dev", "lo"])
                .status();
        }
    }
    let _del = Del(addr.clone());
    tokio::time::sleep(Duration::from_secs(5)).await;
    let probe = format!(
        "timeout 3 bash -c 'exec 3<>/dev/tcp/{addr}/{port}' 2>/dev/null && echo REACHED; echo done"
    );
    let running = s.attack(&probe).await;
    assert_eq!(
        running.stdout, "done\n",
        "a running session reached {addr}: {running:?}"
    );
    let fresh = s.f.session().command(&probe).output().await.unwrap();
    assert_eq!(
        fresh.stdout, "done\n",
        "a new session reached {addr}: {fresh:?}"
    );
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
}
