//! Shared helpers for the cross-crate integration tests in `tests/`.

use agentcore_local::LocalRuntime;
use agentcore_sdk::{Client, RuntimeArn, Session};

/// A started local runtime with one agent runtime that has session storage at
/// `/mnt/workspace`.
pub struct Fixture {
    /// The server.
    pub local: LocalRuntime,
    /// A client for it.
    pub client: Client,
    /// The agent runtime's ARN.
    pub arn: RuntimeArn,
    /// The agent runtime's id.
    pub id: String,
}

impl Fixture {
    /// Starts a server in a fresh temp dir and creates a READY runtime.
    pub async fn new() -> Self {
        Self::with(LocalRuntime::builder()).await
    }

    /// Starts `builder` and creates a READY runtime named `coder`.
    pub async fn with(builder: agentcore_local::LocalRuntimeBuilder) -> Self {
        let local = builder
            .ready_delay(std::time::Duration::from_millis(50))
            .start()
            .await
            .expect("local runtime starts");
        let client = local.client();
        let (arn, id) = create_runtime(&client, "coder").await;
        Self {
            local,
            client,
            arn,
            id,
        }
    }

    /// A new session of the runtime.
    pub fn session(&self) -> Session {
        self.client.session(&self.arn).expect("valid arn")
    }
}

/// Creates a runtime with session storage at `/mnt/workspace` and waits until READY.
pub async fn create_runtime(client: &Client, name: &str) -> (RuntimeArn, String) {
    let created = client
        .create_agent_runtime()
        .name(name)
        .container_uri(format!(
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/{name}:latest"
        ))
        .role_arn("arn:aws:iam::123456789012:role/local")
        .session_storage("/mnt/workspace")
        .send()
        .await
        .expect("create runtime");
    let ready = client
        .wait_until_ready(created.agent_runtime_id.as_str())
        .initial_delay(std::time::Duration::from_millis(20))
        .send()
        .await
        .expect("runtime becomes READY");
    (
        ready.agent_runtime_arn,
        ready.agent_runtime_id.into_string(),
    )
}

/// Records that `test` did not run (or did not check everything) and why: on stderr, and in
/// the skip log that `scripts/test.sh` prints at the end (a skipped test is never a silent
/// pass). The log is `$AGENTCORE_TEST_SKIP_LOG`, else `target/<profile>/skipped.log`.
pub fn skip(test: &str, why: &str) {
    use std::io::Write;
    let line = format!("SKIPPED {test}: {why}");
    eprintln!("{line}");
    let path = std::env::var_os("AGENTCORE_TEST_SKIP_LOG")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            Some(exe.parent()?.parent()?.join("skipped.log"))
        });
    let file = path.and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    });
    if let Some(mut f) = file {
        let _ = writeln!(f, "{line}");
    }
}

/// Whether `local` sandboxes its sessions. When it does not (`AGENTCORE_LOCAL_ISOLATION=none`,
/// or a host without user namespaces), a test about isolation itself records that it did
/// not run, and why, and returns early.
pub fn sandboxed(local: &LocalRuntime, test: &str) -> bool {
    if local.isolation() == agentcore_local::Isolation::None {
        let report = local.isolation_report();
        skip(
            test,
            &format!(
                "it is about the sandbox, and sessions here are not sandboxed ({})",
                report.lacks.join("; ")
            ),
        );
        return false;
    }
    true
}

/// Whether tmux is installed; when not, records that `test` did not run and how to get it.
pub fn have_tmux(test: &str) -> bool {
    let ok = std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        skip(test, &missing_tool_message("tmux", "tmux"));
    }
    ok
}

/// What a test that needs `tool` says when it is missing: the tool and the command that
/// installs it (Debian's package `package`).
pub fn missing_tool_message(tool: &str, package: &str) -> String {
    format!(
        "{tool} is not installed (install it: `sudo apt-get install {package}`, or run scripts/setup.sh as root)"
    )
}

/// Joins a new session keyring for this process and adds a `user` key to it, as a login
/// session's keyring holds one; returns the key's serial.
pub fn add_session_key(description: &str, payload: &str) -> i64 {
    let desc = std::ffi::CString::new(description).expect("no NUL");
    let name = std::ffi::CString::new("agentcore-test-session").expect("no NUL");
    // SAFETY: keyctl(KEYCTL_JOIN_SESSION_KEYRING, name) and add_key with valid pointers.
    unsafe {
        libc::syscall(libc::SYS_keyctl, 1i64, name.as_ptr());
        libc::syscall(
            libc::SYS_add_key,
            c"user".as_ptr(),
            desc.as_ptr(),
            payload.as_ptr(),
            payload.len(),
            -3i64, // KEY_SPEC_SESSION_KEYRING
        )
    }
}

/// Opens a directory without close-on-exec and never closes it: a descriptor a careless
/// parent process leaks into everything it starts.
pub fn leak_directory_descriptor(dir: &std::path::Path) -> i32 {
    let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).expect("no NUL");
    // SAFETY: a valid path; the descriptor is deliberately left open.
    unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) }
}

/// The cgroup directories a host process is in (below its leaf, up to the sandbox's own).
pub fn cgroup_dirs_of(pid: &str) -> Vec<std::path::PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let mut dirs = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next(), parts.next(), parts.next());
        let (Some(controllers), Some(path)) = (controllers, path) else {
            continue;
        };
        if !path.contains("agentcore-local") {
            continue;
        }
        let base = if controllers.is_empty() {
            std::path::PathBuf::from("/sys/fs/cgroup")
        } else {
            let first = controllers.split(',').next().unwrap_or_default();
            std::path::Path::new("/sys/fs/cgroup").join(first)
        };
        let leaf = base.join(path.trim_start_matches('/'));
        if let Some(parent) = leaf.parent() {
            dirs.push(parent.to_owned());
        }
        dirs.push(leaf);
    }
    dirs
}

/// Peak resident set size of this process, in bytes (Linux `VmHWM`).
pub fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// What the [`FaultProxy`] does to traffic from the server to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything.
    None,
    /// Close each connection once it has forwarded this many bytes to the client.
    CutAfter(u64),
    /// Forward nothing (connections stay open).
    Stall,
    /// Forward at most this many bytes per second.
    Throttle(u64),
    /// Close new connections at once, before anything reaches the server (connections
    /// already open are not affected).
    Refuse,
    /// Hold what clients send to the server (requests, upgrades) until the fault changes.
    HoldUpstream,
}

/// A TCP proxy on loopback that injects faults: cut connections (now, or after N bytes),
/// stall them, or slow them down.
pub struct FaultProxy {
    addr: std::net::SocketAddr,
    conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    fault: std::sync::Arc<std::sync::Mutex<Fault>>,
    accept: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Proxies `127.0.0.1:<random port>` → `upstream`.
    pub async fn start(upstream: std::net::SocketAddr) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>> =
            Default::default();
        let fault = std::sync::Arc::new(std::sync::Mutex::new(Fault::None));
        let list = conns.clone();
        let shared = fault.clone();
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if *shared.lock().expect("fault") == Fault::Refuse {
                    drop(inbound);
                    continue;
                }
                let fault = shared.clone();
                let task = tokio::spawn(async move {
                    let Ok(outbound) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    let (mut ci, mut co) = inbound.into_split();
                    let (mut ui, mut uo) = outbound.into_split();
                    let held = fault.clone();
                    let up = tokio::spawn(async move {
                        let mut buf = vec![0u8; 16 * 1024];
                        loop {
                            let n = match ci.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            while *held.lock().expect("fault") == Fault::HoldUpstream {
                                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                            }
                            if uo.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        // A client that is gone does not close the server's side: like a
                        // proxy, this one closes it when the server's answer has nowhere to
                        // go (the connection task ends and aborts this one).
                        std::future::pending::<()>().await;
                    });
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut sent = 0u64;
                    loop {
                        let current = *fault.lock().expect("fault");
                        if current == Fault::Stall {
                            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                            continue;
                        }
                        let n = match ui.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let mut n = n;
                        let now = *fault.lock().expect("fault");
                        match now {
                            Fault::CutAfter(limit) if sent + n as u64 >= limit => {
                                n = (limit - sent.min(limit)) as usize;
                                let _ = co.write_all(&buf[..n]).await;
                                break;
                            }
                            Fault::Throttle(bps) if bps > 0 => {
                                tokio::time::sleep(std::time::Duration::from_secs_f64(
                                    n as f64 / bps as f64,
                                ))
                                .await;
                            }
                            // Bytes read while the stall began are held too, not forwarded.
                            Fault::Stall => {
                                while *fault.lock().expect("fault") == Fault::Stall {
                                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                                }
                            }
                            _ => {}
                        }
                        if co.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        sent += n as u64;
                    }
                    up.abort();
                });
                list.lock().expect("proxy list").push(task.abort_handle());
            }
        });
        Self {
            addr,
            conns,
            fault,
            accept,
        }
    }

    /// `http://127.0.0.1:<port>`, the proxy endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets the fault for all traffic from now on.
    pub fn set_fault(&self, fault: Fault) {
        *self.fault.lock().expect("fault") = fault;
    }

    /// Drops every live connection (both sides see the TCP connection end abruptly).
    pub fn cut(&self) -> usize {
        let mut conns = self.conns.lock().expect("proxy list");
        let n = conns.iter().filter(|c| !c.is_finished()).count();
        for c in conns.drain(..) {
            c.abort();
        }
        n
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// A client for `endpoint` with dummy credentials.
pub fn client_for(endpoint: &str, timeouts: Option<agentcore_sdk::TimeoutConfig>) -> Client {
    let mut b = agentcore_sdk::Config::builder()
        .region("us-east-1")
        .endpoint_url(endpoint)
        .static_credentials("local", "local");
    if let Some(t) = timeouts {
        b = b.timeout_config(t);
    }
    Client::from_conf(b.build().expect("config"))
}

/// Reads from `r` until `needle` appears in what was read (or 30 s pass); returns everything
/// read so far.
pub async fn read_until<R: tokio::io::AsyncRead + Unpin>(r: &mut R, needle: &str) -> String {
    use tokio::io::AsyncReadExt;
    let mut acc = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if String::from_utf8_lossy(&acc).contains(needle) {
            return String::from_utf8_lossy(&acc).into_owned();
        }
        match tokio::time::timeout_at(deadline, r.read(&mut buf)).await {
            Ok(Ok(0)) => panic!(
                "EOF before {needle:?}; got: {}",
                String::from_utf8_lossy(&acc)
            ),
            Ok(Ok(n)) => acc.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => panic!(
                "read error before {needle:?}: {e}; got: {}",
                String::from_utf8_lossy(&acc)
            ),
            Err(_) => panic!(
                "no {needle:?} within 30 s; got: {}",
                String::from_utf8_lossy(&acc)
            ),
        }
    }
}

/// The path of an example binary (`target/debug/examples/<name>`), building it if needed.
pub fn example_binary(name: &str) -> std::path::PathBuf {
    // target/debug/deps/<test binary> → target/debug/examples/<name>
    let exe = std::env::current_exe().expect("test binary path");
    let debug = exe.parent().and_then(|p| p.parent()).expect("target dir");
    let bin = debug.join("examples").join(name);
    if !bin.exists() {
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "-p", "examples", "--example", name])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building example {name} failed");
    }
    bin
}

/// The `agentcore-local` server binary, built if missing.
pub fn server_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let debug = exe.parent().and_then(|p| p.parent()).expect("target dir");
    let bin = debug.join("agentcore-local");
    if !bin.exists() {
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "-p", "agentcore-local", "--bin", "agentcore-local"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building agentcore-local failed");
    }
    bin
}

/// Starts the `agentcore-local` binary on a free loopback port with `data` as its data
/// directory; returns the process (killed on drop) and a client for it.
pub async fn spawn_server(data: &std::path::Path) -> (tokio::process::Child, Client) {
    use tokio::io::AsyncBufReadExt;
    let mut server = tokio::process::Command::new(server_binary())
        .args([
            "--listen",
            "127.0.0.1:0",
            "--ready-delay-ms",
            "0",
            "--data-dir",
        ])
        .arg(data)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(server.stdout.take().unwrap()).lines();
    let endpoint = loop {
        let line = lines.next_line().await.unwrap().expect("server starts");
        if let Some(e) = line.strip_prefix("listening on ") {
            break e.to_owned();
        }
    };
    let client = client_for(&endpoint, None);
    (server, client)
}

/// A tmux session running a command in a real terminal; killed when dropped.
pub struct Tmux(String);

impl Tmux {
    /// Starts `command` in a new 200×50 tmux session `name`.
    pub fn start(name: &str, command: &str) -> Self {
        let _ = std::process::Command::new("tmux")
            .args(["kill-session", "-t", name])
            .status();
        let status = std::process::Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                name,
                "-x",
                "200",
                "-y",
                "50",
                command,
            ])
            .status()
            .expect("tmux runs (scripts/setup.sh installs it)");
        assert!(status.success());
        Self(name.to_owned())
    }
    /// `tmux send-keys`.
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.0];
        args.extend_from_slice(keys);
        assert!(
            std::process::Command::new("tmux")
                .args(&args)
                .status()
                .unwrap()
                .success()
        );
    }
    /// The pane, with its scroll-back.
    pub fn screen(&self) -> String {
        let out = std::process::Command::new("tmux")
            .args(["capture-pane", "-p", "-J", "-S", "-5000", "-t", &self.0])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    /// Waits (30 s at most) until the pane shows `needle`; returns the pane.
    pub async fn wait_for(&self, needle: &str) -> String {
        let start = std::time::Instant::now();
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(30),
                "no {needle:?} on screen:\n{s}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .status();
    }
}

/// The key pair the interop clients sign with (`AKIDLOCAL` / `local-secret`).
pub const INTEROP_KEY: (&str, &str) = ("AKIDLOCAL", "local-secret");

/// A local runtime that verifies SigV4 signatures made with [`INTEROP_KEY`].
pub async fn interop_runtime() -> agentcore_local::LocalRuntime {
    agentcore_local::LocalRuntime::builder()
        .verify_sigv4([(INTEROP_KEY.0.to_owned(), INTEROP_KEY.1.to_owned())], [])
        .start()
        .await
        .expect("local runtime starts")
}

/// Runs an interop client (`program` then `args`) with no AWS configuration of the
/// machine's (no profile, config or credentials file); panics, with its output, when it
/// fails. Its standard output.
pub async fn run_interop_client(
    what: &str,
    program: impl AsRef<std::ffi::OsStr>,
    args: &[&std::ffi::OsStr],
) -> String {
    let out = tokio::process::Command::new(program)
        .args(args)
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("the interop client runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The steps of the whole runtime flow an interop client prints `ok` for: control plane,
/// then data plane, then clean-up.
pub const RUNTIME_FLOW_STEPS: [&str; 10] = [
    "create_agent_runtime",
    "get_agent_runtime",
    "list_agent_runtimes",
    "update_agent_runtime",
    "endpoints",
    "tags_and_policies",
    "invoke_agent_runtime",
    "invoke_agent_runtime_command",
    "stop_runtime_session",
    "delete",
];

/// Asserts that an interop client printed `ok <step>` for each of `steps`.
pub fn assert_steps(what: &str, stdout: &str, steps: &[&str]) {
    for step in steps {
        assert!(
            stdout.lines().any(|l| l == format!("ok {step}")),
            "no `ok {step}` from {what}:\n{stdout}"
        );
    }
}

/// The botocore version the model conformance suite and the boto3 interop test pin
/// (`tests/model/botocore-version`; `scripts/bump-model.sh` moves it to the newest release).
pub const BOTOCORE_VERSION: &str = include_str!("../model/botocore-version");

/// A venv under `target/tmp/<name>` with `packages` installed, made once per target directory
/// and package list; its python. When python3 or its venv module is missing, `test` records
/// that it did not run and why, and this is `None`.
fn python_venv(test: &str, name: &str, packages: &[&str]) -> Option<std::path::PathBuf> {
    let venv_works = std::process::Command::new("python3")
        .args(["-c", "import venv, ensurepip"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !venv_works {
        skip(
            test,
            &missing_tool_message("python3 with venv", "python3-venv"),
        );
        return None;
    }
    Some(python_venv_made(name, packages))
}

fn python_venv_made(name: &str, packages: &[&str]) -> std::path::PathBuf {
    let marker = packages.join(",").replace(['/', ' '], "_");
    venv_made_once(name, &marker, |python| pip_install(python, packages))
}

/// `pip install`s `args` with the venv's `python`; panics when pip fails.
pub fn pip_install(python: &std::path::Path, args: &[&str]) {
    let status = std::process::Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(args)
        .status()
        .expect("pip runs");
    assert!(status.success(), "pip install {args:?} failed");
}

/// The python of a venv under `target/tmp/<name>`, made and filled by `install` once per
/// target directory and `marker` (see [`made_once`]).
pub fn venv_made_once(
    name: &str,
    marker: &str,
    install: impl FnOnce(&std::path::Path),
) -> std::path::PathBuf {
    let venv = made_once(name, marker, |venv| {
        let status = std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(venv)
            .status()
            .expect("python3 runs");
        assert!(
            status.success(),
            "python3 -m venv failed (run scripts/setup.sh)"
        );
        install(&venv.join("bin/python"));
    });
    venv.join("bin/python")
}

/// A directory `target/tmp/<name>` that `make` fills once per target directory and `marker`
/// (a file `.installed-<marker>` in it says it is done). Safe when several tests (threads of
/// one binary, or several binaries) ask at once: the making is serialised by a lock file next
/// to the directory, and a directory left half made by an interrupted run is made again.
pub fn made_once(
    name: &str,
    marker: &str,
    make: impl FnOnce(&std::path::Path),
) -> std::path::PathBuf {
    // target/<profile>/deps/<test> → target/tmp (what CARGO_TARGET_TMPDIR names for tests).
    let exe = std::env::current_exe().expect("test binary path");
    let tmp = exe.ancestors().nth(3).expect("target dir").join("tmp");
    let dir = tmp.join(name);
    let ready = dir.join(format!(".installed-{marker}"));
    if ready.exists() {
        return dir;
    }
    std::fs::create_dir_all(&tmp).expect("target/tmp");
    let lock = std::fs::File::create(tmp.join(format!("{name}.lock"))).expect("lock file");
    lock.lock().expect("lock");
    if !ready.exists() {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("removing a half-made directory");
        }
        make(&dir);
        std::fs::write(&ready, b"").expect("marker");
    }
    dir
}

/// A venv with boto3 and the pinned botocore (`None`, recorded as not run, without python3).
pub fn python_with_boto3(test: &str) -> Option<std::path::PathBuf> {
    let botocore = format!("botocore=={}", BOTOCORE_VERSION.trim());
    python_venv(test, "boto3-venv", &["boto3", &botocore])
}

/// A venv with the official Python SDK (`bedrock-agentcore`, pinned), as
/// [`python_with_boto3`].
pub fn python_with_agentcore_sdk(test: &str) -> Option<std::path::PathBuf> {
    python_venv(
        test,
        "agentcore-python-sdk-venv",
        &["bedrock-agentcore==1.25.0"],
    )
}

/// A headless Chromium (Debian's `chromium`) driven over the DevTools protocol: open a page,
/// evaluate JavaScript in it, take a screenshot. Killed (with its profile directory removed)
/// when dropped.
pub struct Chromium {
    child: std::process::Child,
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Chromium {
    /// The browser binary, or `None` (with the reason recorded for `test`) when Debian's
    /// `chromium` is not installed.
    pub fn binary(test: &str) -> Option<std::path::PathBuf> {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let found = std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|p| p.join(name))
                    .find(|p| p.is_file())
            });
            if found.is_some() {
                return found;
            }
        }
        skip(test, &missing_tool_message("chromium", "chromium"));
        None
    }

    /// Starts `binary` headless with a fresh profile and attaches to its first page.
    pub async fn start(binary: &std::path::Path) -> Self {
        use std::io::BufRead;
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = std::process::Command::new(binary)
            .args([
                "--headless=new",
                // Root (CI) cannot use Chromium's own sandbox; the page is our own test app.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--window-size=1000,700",
                "--remote-debugging-port=0",
                "about:blank",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("chromium starts");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if !sent && let Some(url) = line.split("DevTools listening on ").nth(1) {
                    let _ = tx.send(url.trim().to_owned());
                    sent = true;
                }
            }
        });
        let browser_ws = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("chromium prints its DevTools address");
        // ws://127.0.0.1:PORT/devtools/browser/ID → the page's own socket from /json/list.
        let port = browser_ws
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .expect("host:port")
            .to_owned();
        let list: serde_json::Value = reqwest::get(format!("http://{port}/json/list"))
            .await
            .expect("DevTools answers")
            .json()
            .await
            .expect("DevTools JSON");
        let page = list
            .as_array()
            .and_then(|a| a.iter().find(|t| t["type"] == "page"))
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .expect("a page target")
            .to_owned();
        let (ws, _) = tokio_tungstenite::connect_async(page)
            .await
            .expect("attach to the page");
        Self {
            child,
            ws,
            next_id: 0,
            _profile: profile,
        }
    }

    /// Sends a DevTools command and returns its `result`.
    pub async fn call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        use futures::{SinkExt, StreamExt};
        self.next_id += 1;
        let id = self.next_id;
        let msg = serde_json::json!({"id": id, "method": method, "params": params});
        self.ws
            .send(tokio_tungstenite::tungstenite::Message::Text(
                msg.to_string().into(),
            ))
            .await
            .expect("send to chromium");
        loop {
            let m = tokio::time::timeout(std::time::Duration::from_secs(30), self.ws.next())
                .await
                .expect("chromium answers within 30 s")
                .expect("chromium is there")
                .expect("a DevTools message");
            let text = match m {
                tokio_tungstenite::tungstenite::Message::Text(t) => t.to_string(),
                _ => continue,
            };
            let v: serde_json::Value = serde_json::from_str(&text).expect("DevTools JSON");
            if v["id"] == id {
                if let Some(e) = v.get("error") {
                    panic!("{method} failed: {e}");
                }
                return v["result"].clone();
            }
        }
    }

    /// Opens `url` in the page.
    pub async fn navigate(&mut self, url: &str) {
        self.call("Page.enable", serde_json::json!({})).await;
        self.call("Page.navigate", serde_json::json!({ "url": url }))
            .await;
    }

    /// Evaluates `expression` in the page; its value.
    pub async fn eval(&mut self, expression: &str) -> serde_json::Value {
        let r = self
            .call(
                "Runtime.evaluate",
                serde_json::json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        r["result"]["value"].clone()
    }

    /// Waits (30 s at most) until `expression` is true in the page.
    pub async fn wait_for(&mut self, expression: &str) {
        for _ in 0..300 {
            if self.eval(expression).await == serde_json::Value::Bool(true) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let body = self
            .eval("document.body ? document.body.innerText : ''")
            .await;
        panic!("`{expression}` did not become true within 30 s; the page shows: {body}");
    }

    /// A PNG screenshot of the page.
    pub async fn screenshot(&mut self) -> Vec<u8> {
        use base64::Engine;
        let r = self
            .call(
                "Page.captureScreenshot",
                serde_json::json!({"format": "png"}),
            )
            .await;
        base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().expect("screenshot data"))
            .expect("base64 PNG")
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The host's live processes whose command line contains `needle`, as `"pid: command line"`
/// (zombies have none, so they are not listed).
pub fn host_processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) {
                found.push(format!("{}: {cmd}", entry.file_name().to_string_lossy()));
            }
        }
    }
    found
}

/// Starts `sleep <tag>` in `session` in a session of its own (`setsid`, no terminal, no
/// pipes), so it outlives the command that started it, and returns once the host sees it; find
/// it with [`host_processes_with`].
pub async fn start_detached_sleep(session: &agentcore_sdk::Session, tag: &str) {
    let out = session
        .command(format!(
            "setsid sleep {tag} >/dev/null 2>&1 < /dev/null & echo started"
        ))
        .output()
        .await
        .unwrap();
    assert_eq!(out.stdout, "started\n");
    // The command may end before its background child has exec'd (or while /proc shows it
    // mid-exec with an empty command line): wait until the host sees the sleep itself.
    let needle = format!("sleep {tag}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while host_processes_with(&needle).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the detached `{needle}` never showed up on the host"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_missing_tool_is_named_with_the_command_that_installs_it() {
        let m = super::missing_tool_message("tmux", "tmux");
        assert!(m.starts_with("tmux is not installed"), "{m}");
        assert!(m.contains("sudo apt-get install tmux"), "{m}");
    }

    /// Tests of one binary run in parallel threads and several binaries share a target
    /// directory: asking for the same venv at once must make it once (CI once failed with
    /// `python3 -m venv`'s "File exists" from two tests racing).
    #[test]
    fn a_venv_asked_for_by_many_at_once_is_made_once() {
        let works = std::process::Command::new("python3")
            .args(["-c", "import venv, ensurepip"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !works {
            super::skip(
                "a_venv_asked_for_by_many_at_once_is_made_once",
                "python3 with venv is not installed",
            );
            return;
        }
        let name = format!("race-venv-{}", std::process::id());
        let installs = std::sync::atomic::AtomicUsize::new(0);
        let pythons: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..6)
                .map(|_| {
                    s.spawn(|| {
                        super::venv_made_once(&name, "none", |python| {
                            assert!(python.exists());
                            installs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        })
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(installs.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(pythons.iter().all(|p| p == &pythons[0] && p.exists()));
        let venv = pythons[0].parent().unwrap().parent().unwrap();
        let _ = std::fs::remove_dir_all(venv);
        let _ = std::fs::remove_file(venv.with_extension("lock"));
    }
}
