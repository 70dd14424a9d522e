//! `agentcore-bench`: performance figures of agentcore-sdk against agentcore-local on
//! loopback, printed as a table (and optionally JSON).
//!
//! ```text
//! cargo build --release -p agentcore-local -p agentcore-bench
//! target/release/agentcore-bench --server target/release/agentcore-local [--quick] [--json out.json]
//!     [--sessions-only] [--transfers-only] [--agent-bin target/release/examples/race [--fleet-only | --faults-only]]
//! ```
//!
//! The server runs as its own process, so the client's peak RSS is the client's alone
//! (reset per row through `/proc/self/clear_refs`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use agentcore_sdk::__private::FrameDecoder;
use agentcore_sdk::__private::decode_command_message;
use agentcore_sdk::shell::protocol::Frame;
use agentcore_sdk::{Client, CommandEvent, Config, RuntimeArn, TimeoutConfig};
use bytes::Bytes;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MIB: f64 = 1024.0 * 1024.0;

/// "512 MiB", "1 GiB": row labels say the size that actually ran (quick mode runs less).
fn size_label(bytes: u64) -> String {
    if bytes >= 1 << 30 && bytes.is_multiple_of(1 << 30) {
        format!("{} GiB", bytes >> 30)
    } else {
        format!("{} MiB", bytes >> 20)
    }
}

#[derive(serde::Serialize)]
struct Row {
    name: String,
    value: f64,
    unit: &'static str,
    note: String,
}

struct Bench {
    rows: Vec<Row>,
}

impl Bench {
    fn add(&mut self, name: &str, value: f64, unit: &'static str, note: impl Into<String>) {
        let note = note.into();
        println!("{name:<44} {value:>12.2} {unit:<8} {note}");
        self.rows.push(Row {
            name: name.into(),
            value,
            unit,
            note,
        });
    }
}

fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return 0.0;
    }
    v[(((p / 100.0) * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)]
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(18555)
}

async fn start_server(bin: &str, extra: &[String]) -> (Server, String) {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("agentcore-bench-{}-{port}", std::process::id()));
    let mut child = Command::new(bin)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(&dir)
        .args(["--ready-delay-ms", "0"])
        .args(extra)
        .stdout(Stdio::piped())
        // AGENTCORE_BENCH_SERVER_LOG=FILE keeps the server's log (to explain a failed row).
        .stderr(
            std::env::var_os("AGENTCORE_BENCH_SERVER_LOG")
                .and_then(|p| std::fs::File::create(p).ok())
                .map_or_else(Stdio::null, Stdio::from),
        )
        .spawn()
        .expect("agentcore-local starts");
    let mut line = String::new();
    let mut out = child.stdout.take().expect("stdout");
    let mut buf = [0u8; 1];
    while !line.ends_with('\n') {
        if out.read(&mut buf).unwrap_or(0) == 0 {
            break;
        }
        line.push(buf[0] as char);
    }
    let endpoint = line.trim().trim_start_matches("listening on ").to_owned();
    (Server(child), endpoint)
}

async fn runtime(client: &Client) -> RuntimeArn {
    let rt = client
        .create_agent_runtime()
        .name(format!("bench{}", std::process::id()))
        .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/bench:latest")
        .role_arn("arn:aws:iam::123456789012:role/local")
        .session_storage("/mnt/workspace")
        .send()
        .await
        .expect("create runtime");
    client
        .wait_until_ready(rt.agent_runtime_id.as_str())
        .send()
        .await
        .expect("ready")
        .agent_runtime_arn
}

/// Streams `bytes` of output through `bash -c`; returns (MiB/s, peak client RSS MiB).
async fn stream_output(client: &Client, arn: &RuntimeArn, bytes: u64) -> (f64, f64) {
    reset_peak_rss();
    let session = client.session(arn).expect("session");
    let t0 = Instant::now();
    let mut stream = session
        .command(format!("head -c {bytes} /dev/zero | tr '\\0' x"))
        .timeout(Duration::from_secs(3600))
        .send()
        .await
        .expect("command");
    let mut got = 0u64;
    while let Some(ev) = stream.next().await {
        if let CommandEvent::Delta { stdout, .. } = ev.expect("event") {
            got += stdout.len() as u64;
        }
    }
    assert_eq!(got, bytes, "every byte arrives");
    (
        bytes as f64 / MIB / t0.elapsed().as_secs_f64(),
        peak_rss_mib(),
    )
}

fn raw_tcp_ceiling(bytes: u64) -> f64 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let writer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let buf = vec![b'x'; 64 * 1024];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            s.write_all(&buf[..n]).expect("write");
            left -= n as u64;
        }
    });
    let mut s = TcpStream::connect(addr).expect("connect");
    let t0 = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0u64;
    while got < bytes {
        let n = s.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        got += n as u64;
    }
    let _ = writer.join();
    got as f64 / MIB / t0.elapsed().as_secs_f64()
}

fn event_stream_decode(total: usize) -> f64 {
    use agentcore_sdk::__private::ResponseChunk;
    let text: String = "x".repeat(64 * 1024);
    let frame = agentcore_sdk::__private::encode_chunk(&ResponseChunk::ContentDelta {
        stdout: Some(text),
        stderr: None,
    });
    let n = total / (64 * 1024);
    let t0 = Instant::now();
    let mut decoder = FrameDecoder::new();
    let mut out = 0usize;
    for _ in 0..n {
        // Network-sized pieces, as they would arrive.
        for piece in frame.chunks(16 * 1024) {
            decoder.push(piece);
            while let Some(m) = decoder.next_message().expect("decode") {
                if let Some(CommandEvent::Delta { stdout, .. }) =
                    decode_command_message(&m).expect("event")
                {
                    out += stdout.len();
                }
            }
        }
    }
    assert_eq!(out, n * 64 * 1024);
    out as f64 / MIB / t0.elapsed().as_secs_f64()
}

fn shell_frame_decode(total: usize) -> f64 {
    let frame = Frame::Stdout(Bytes::from(vec![b'x'; 32 * 1024])).encode();
    let n = total / (32 * 1024);
    let t0 = Instant::now();
    let mut out = 0usize;
    for _ in 0..n {
        if let Frame::Stdout(b) = Frame::decode(&frame).expect("decode") {
            out += b.len();
        }
    }
    out as f64 / MIB / t0.elapsed().as_secs_f64()
}

/// CPU seconds the server, its zygote and everything they reaped have used.
fn server_cpu_seconds(server: u32) -> f64 {
    let ticks = 100.0; // USER_HZ on Linux
    let stat = |pid: &str| -> f64 {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                let rest = s.rsplit_once(')')?.1.to_owned();
                let f: Vec<f64> = rest
                    .split_whitespace()
                    .map(|x| x.parse().unwrap_or(0.0))
                    .collect();
                // utime stime cutime cstime are fields 14-17 (1-based): 12-15 after `)`.
                Some(f.get(11)? + f.get(12)? + f.get(13)? + f.get(14)?)
            })
            .unwrap_or(0.0)
    };
    let mut total = stat(&server.to_string());
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let parent = s
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().nth(1).map(str::to_owned));
        if parent.as_deref() == Some(&server.to_string()) && s.contains("(agentcore-zygot") {
            total += stat(&pid);
        }
    }
    total / ticks
}

/// New sessions one after another, each stopped at once: how long to the first event, and
/// what setting up a sandbox costs in CPU (server, zygote and every helper they reaped,
/// pool refills included).
async fn new_session_rows(
    client: &Client,
    arn: &agentcore_sdk::RuntimeArn,
    server: u32,
    scale: usize,
    b: &mut Bench,
) {
    let n = (200 / scale).max(20);
    // Paced as sessions arrive in practice (20/s): the pool has a built sandbox ready.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu0 = server_cpu_seconds(server);
    let mut firsts = Vec::with_capacity(n);
    for _ in 0..n {
        let session = client.session(arn).expect("session");
        let t0 = Instant::now();
        let mut s = session.command("true").send().await.expect("send");
        let _ = s.next().await;
        firsts.push(t0.elapsed().as_secs_f64() * 1000.0);
        while s.next().await.is_some() {}
        session.stop().await.expect("stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let the pool finish refilling, so every sandbox built is counted once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu = (server_cpu_seconds(server) - cpu0) * 1000.0 / n as f64;
    b.add(
        &format!("new session, first event p50 ({n}, 20/s)"),
        percentile(&mut firsts, 50.0),
        "ms",
        "send() to ContentStart of `true` in a new session (a pooled sandbox claimed)",
    );
    b.add(
        &format!("new session, first event p99 ({n}, 20/s)"),
        percentile(&mut firsts, 99.0),
        "ms",
        "",
    );
    b.add(
        "sandbox set-up CPU per session",
        cpu,
        "ms",
        "server + zygote + reaped helpers, per session started and stopped (pool refills included)",
    );
    // Back to back, faster than the pool refills.
    let mut burst = Vec::with_capacity(n);
    for _ in 0..n {
        let session = client.session(arn).expect("session");
        let t0 = Instant::now();
        let mut s = session.command("true").send().await.expect("send");
        let _ = s.next().await;
        burst.push(t0.elapsed().as_secs_f64() * 1000.0);
        while s.next().await.is_some() {}
        session.stop().await.expect("stop");
    }
    b.add(
        &format!("new session, first event p50 ({n}, back to back)"),
        percentile(&mut burst, 50.0),
        "ms",
        "the pool runs dry: most sandboxes built on demand",
    );
}

/// Files of any size: a binary file up (the shell in raw mode) and down (base64 through one
/// command), each checked end to end, against the one-command output throughput of the same
/// run; peak client RSS of each.
async fn transfer_rows(client: &Client, arn: &RuntimeArn, scale: usize, b: &mut Bench) {
    use agentcore_sdk::files::TransferChannel;
    let bytes = 256 * 1024 * 1024 / scale as u64;
    let (baseline, _) = stream_output(client, arn, bytes).await;
    b.add(
        &format!("one command's output ({}), baseline", size_label(bytes)),
        baseline,
        "MiB/s",
        "the channel downloads use, as text",
    );
    let dir = std::env::temp_dir().join(format!("agentcore-bench-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let local = dir.join("up.bin");
    {
        // Incompressible bytes of every value, written in pieces (flat memory here too).
        let mut f = std::io::BufWriter::new(std::fs::File::create(&local).expect("create"));
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..(bytes >> 20) {
            for v in block.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *v = (x >> 32) as u8;
            }
            f.write_all(&block).expect("write");
        }
    }
    let session = client.session(arn).expect("session");
    let files = session.files();
    // The helper is placed in the session first, so it is not part of the figures.
    files.mkdir("/mnt/workspace/bench").await.expect("mkdir");

    reset_peak_rss();
    let t0 = Instant::now();
    let up = files
        .upload(&local, "/mnt/workspace/bench/file.bin")
        .send()
        .await
        .expect("upload");
    let up_mbs = bytes as f64 / MIB / t0.elapsed().as_secs_f64();
    b.add(
        &format!("upload {} (shell, raw mode)", size_label(bytes)),
        up_mbs,
        "MiB/s",
        format!(
            "goal ≥ 25 MiB/s; SHA-256 checked in the session; client peak RSS {:.1} MiB",
            peak_rss_mib()
        ),
    );

    reset_peak_rss();
    let back = dir.join("down.bin");
    let t0 = Instant::now();
    let down = files
        .download("/mnt/workspace/bench/file.bin", &back)
        .send()
        .await
        .expect("download");
    let down_mbs = bytes as f64 / MIB / t0.elapsed().as_secs_f64();
    assert_eq!(down.sha256, up.sha256, "the same bytes came back");
    b.add(
        &format!("download {} (base64 through one command)", size_label(bytes)),
        down_mbs,
        "MiB/s",
        format!(
            "{:.0}% of one command's output (goal ≥ 50%); SHA-256 checked; client peak RSS {:.1} MiB",
            100.0 * down_mbs / baseline,
            peak_rss_mib()
        ),
    );

    let small = (4u64 << 20) / scale as u64;
    // Through commands only, for callers without the shell permission: a smaller file.
    let part = dir.join("part.bin");
    let mut data = vec![0u8; small as usize];
    std::fs::File::open(&local)
        .and_then(|mut f| f.read_exact(&mut data))
        .expect("read");
    std::fs::write(&part, &data).expect("write");
    let t0 = Instant::now();
    files
        .upload(&part, "/mnt/workspace/bench/part.bin")
        .channel(TransferChannel::Commands)
        .send()
        .await
        .expect("upload through commands");
    b.add(
        &format!("upload {} (commands, 36 KiB each)", size_label(small)),
        small as f64 / MIB / t0.elapsed().as_secs_f64(),
        "MiB/s",
        "no shell permission needed; the service allows 25 commands/s",
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = session.stop().await;
}

/// Per-command overhead in one sandboxed session, and many new sessions at once.
async fn session_rows(
    client: &Client,
    endpoint: &str,
    arn: &agentcore_sdk::RuntimeArn,
    scale: usize,
    b: &mut Bench,
) {
    let session = client.session(arn).expect("session");
    // The first command starts the session's sandbox; the rest enter it.
    session.command("true").output().await.expect("true");
    let n = (1000 / scale).max(50);
    let mut each = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        session.command("true").output().await.expect("true");
        each.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    let mean = each.iter().sum::<f64>() / n as f64;
    b.add(
        &format!("per-command overhead ({n} × `true`) p50"),
        percentile(&mut each, 50.0),
        "ms",
        format!("sequential, one sandboxed session, full round trip; mean {mean:.2} ms"),
    );
    b.add(
        &format!("per-command overhead ({n} × `true`) p99"),
        percentile(&mut each, 99.0),
        "ms",
        "",
    );

    reset_peak_rss();
    let n = (1000 / scale).max(50);
    let t0 = Instant::now();
    // A burst of new sessions queues for sandbox setup (as new microVMs do): allow for it.
    let patient = Client::from_conf(
        Config::builder()
            .region("us-east-1")
            .endpoint_url(endpoint)
            .static_credentials("local", "local")
            .timeout_config(TimeoutConfig::standard().operation(Duration::from_secs(600)))
            .build()
            .expect("config"),
    );
    let client_ref = &patient;
    let arn_ref = arn;
    let results = futures::future::join_all((0..n).map(|_| async move {
        client_ref
            .session(arn_ref)
            .expect("session")
            .command("sleep 1; echo done")
            .output()
            .await
    }))
    .await;
    let ok = results
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|o| o.stdout == "done\n"))
        .count();
    let mut failures = std::collections::BTreeMap::<String, usize>::new();
    for r in &results {
        let what = match r {
            Ok(o) if o.stdout == "done\n" => continue,
            Ok(o) => format!(
                "exit {} {:?}",
                o.exit_code,
                o.stderr.chars().take(120).collect::<String>()
            ),
            Err(e) => {
                let mut what = e.to_string();
                let mut source = std::error::Error::source(e);
                while let Some(s) = source {
                    what.push_str(&format!(": {s}"));
                    source = s.source();
                }
                what.chars().take(300).collect()
            }
        };
        *failures.entry(what).or_default() += 1;
    }
    for (what, n) in &failures {
        eprintln!("  {n} × {what}");
    }
    b.add(
        &format!("{n} concurrent sessions, one command each"),
        t0.elapsed().as_secs_f64(),
        "s",
        format!(
            "{ok}/{n} ok (each its own sandbox, sleeps 1 s); client peak RSS {:.1} MiB",
            peak_rss_mib()
        ),
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let quick = args.iter().any(|a| a == "--quick");
    let only_sessions = args.iter().any(|a| a == "--sessions-only");
    let only_fleet = args.iter().any(|a| a == "--fleet-only");
    let only_faults = args.iter().any(|a| a == "--faults-only");
    let only_transfers = args.iter().any(|a| a == "--transfers-only");
    let server_bin = arg("--server").unwrap_or_else(|| "target/release/agentcore-local".into());
    // The fleet rows host the experiments agent (the `race` example in agent mode), its
    // processes marked so the bench can see them go.
    let agent_bin = arg("--agent-bin");
    let marker = format!("agentcore-bench-{}", std::process::id());
    let extra: Vec<String> = match &agent_bin {
        Some(bin) => vec![
            "--agent".into(),
            format!("*=EXPERIMENT_MARK={marker} exec /var/task/race --agent-mode"),
            "--agent-code".into(),
            format!("*={bin}"),
        ],
        None => Vec::new(),
    };
    let (_server, endpoint) = start_server(&server_bin, &extra).await;
    let client = Client::from_conf(
        Config::builder()
            .region("us-east-1")
            .endpoint_url(&endpoint)
            .static_credentials("local", "local")
            .build()
            .expect("config"),
    );
    let arn = runtime(&client).await;
    let scale = if quick { 16 } else { 1 };
    let mut b = Bench { rows: Vec::new() };
    println!("{:<44} {:>12} {:<8} note", "row", "value", "unit");

    if only_sessions {
        new_session_rows(&client, &arn, _server.0.id(), scale, &mut b).await;
        session_rows(&client, &endpoint, &arn, scale, &mut b).await;
        return;
    }
    if only_faults {
        if agent_bin.is_none() {
            eprintln!("--faults-only needs --agent-bin target/release/examples/race");
            std::process::exit(2);
        }
        fault_rows(&server_bin, &extra, scale, &mut b).await;
        return;
    }
    if only_transfers {
        transfer_rows(&client, &arn, scale, &mut b).await;
        return;
    }
    if only_fleet {
        if agent_bin.is_none() {
            eprintln!("--fleet-only needs --agent-bin target/release/examples/race");
            std::process::exit(2);
        }
        fleet_rows(&endpoint, &arn, &marker, scale, &mut b).await;
        return;
    }
    let raw = raw_tcp_ceiling(2048 * 1024 * 1024 / scale as u64);
    b.add(
        "loopback raw TCP ceiling",
        raw,
        "MiB/s",
        "plain socket copy, 64 KiB writes",
    );

    let bytes = 512 * 1024 * 1024 / scale as u64;
    let (mbs, rss) = stream_output(&client, &arn, bytes).await;
    b.add(
        &format!("command output throughput ({})", size_label(bytes)),
        mbs,
        "MiB/s",
        format!(
            "{:.0}% of raw TCP; client peak RSS {rss:.1} MiB",
            100.0 * mbs / raw
        ),
    );

    let big = 1024 * 1024 * 1024 / scale as u64;
    let (_, rss) = stream_output(&client, &arn, big).await;
    b.add(
        &format!("peak client RSS streaming {}", size_label(big)),
        rss,
        "MiB",
        "backpressure end to end",
    );

    transfer_rows(&client, &arn, scale, &mut b).await;

    let mut firsts = Vec::new();
    for _ in 0..(200 / scale).max(20) {
        let session = client.session(&arn).expect("session");
        let t0 = Instant::now();
        let mut s = session.command("true").send().await.expect("send");
        let _ = s.next().await;
        firsts.push(t0.elapsed().as_secs_f64() * 1000.0);
        while s.next().await.is_some() {}
    }
    let n_firsts = firsts.len();
    b.add(
        &format!("time to first ContentStart p50 ({n_firsts} commands)"),
        percentile(&mut firsts, 50.0),
        "ms",
        "new session each",
    );
    b.add(
        &format!("time to first ContentStart p99 ({n_firsts} commands)"),
        percentile(&mut firsts, 99.0),
        "ms",
        "",
    );

    session_rows(&client, &endpoint, &arn, scale, &mut b).await;
    if agent_bin.is_some() {
        fleet_rows(&endpoint, &arn, &marker, scale, &mut b).await;
        fault_rows(&server_bin, &extra, scale, &mut b).await;
    }

    // Shell echo round trip: one byte through `cat` on a raw PTY.
    let session = client.session(&arn).expect("session");
    let mut shell = session.shell().connect().await.expect("shell");
    shell
        .write_all(b"stty raw -echo; echo READY; cat\n")
        .await
        .expect("write");
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while !String::from_utf8_lossy(&seen).contains("READY\r\n")
        && !String::from_utf8_lossy(&seen).contains("READY\n")
    {
        let n = shell.read(&mut buf).await.expect("read");
        seen.extend_from_slice(&buf[..n]);
    }
    let mut rtts = Vec::new();
    for i in 0..(500 / scale).max(50) {
        let byte = [b'a' + (i % 26) as u8];
        let t0 = Instant::now();
        shell.write_all(&byte).await.expect("write");
        let mut one = [0u8; 1];
        shell.read_exact(&mut one).await.expect("read");
        rtts.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    b.add(
        "shell echo round trip p50",
        percentile(&mut rtts, 50.0),
        "ms",
        "1 byte through `cat` on a raw PTY",
    );
    b.add(
        "shell echo round trip p99",
        percentile(&mut rtts, 99.0),
        "ms",
        "",
    );
    drop(shell);

    let session = client.session(&arn).expect("session");
    let mut shell = session.shell().connect().await.expect("shell");
    let bulk = 256 * 1024 * 1024 / scale as u64;
    shell
        .write_all(
            format!("stty raw -echo; echo GO; head -c {bulk} /dev/zero | tr '\\0' x; echo; exit\n")
                .as_bytes(),
        )
        .await
        .expect("write");
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("GO") {
        let n = shell.read(&mut buf).await.expect("read");
        seen.extend_from_slice(&buf[..n]);
    }
    let t0 = Instant::now();
    let mut got = 0u64;
    loop {
        let n = shell.read(&mut buf).await.expect("read");
        if n == 0 {
            break;
        }
        got += buf[..n].iter().filter(|&&c| c == b'x').count() as u64;
    }
    b.add(
        "shell bulk output throughput",
        got as f64 / MIB / t0.elapsed().as_secs_f64(),
        "MiB/s",
        format!("{} MiB through the PTY and WebSocket", got >> 20),
    );

    let dec = event_stream_decode(1024 * 1024 * 1024 / scale);
    b.add(
        "event-stream decode (in memory)",
        dec,
        "MiB/s",
        format!("{:.0}% of raw TCP", 100.0 * dec / raw),
    );
    b.add(
        "shell frame decode (in memory)",
        shell_frame_decode(4096 * 1024 * 1024 / scale),
        "MiB/s",
        "32 KiB STDOUT frames",
    );

    if let Some(path) = arg("--json") {
        let _ = std::fs::write(
            path,
            serde_json::to_string_pretty(&b.rows).unwrap_or_default(),
        );
    }
}

/// Host processes whose environment holds `EXPERIMENT_MARK=<marker>`.
fn marked_processes(marker: &str) -> usize {
    let needle = format!("EXPERIMENT_MARK={marker}");
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    std::fs::read(e.path().join("environ"))
                        .map(|env| env.split(|b| *b == 0).any(|v| v == needle.as_bytes()))
                        .unwrap_or(false)
                })
                .count()
        })
        .unwrap_or(0)
}

/// The fleet experiments at scale: a race of 100 contenders (time from the win until the
/// other 99 sessions are stopped and their processes gone) and a bench of 200 runs under the
/// shared 25 commands/s limiter (none lost).
async fn fleet_rows(endpoint: &str, arn: &RuntimeArn, marker: &str, scale: usize, b: &mut Bench) {
    use agentcore_sdk::workflow::bench::Bench as Matrix;
    use agentcore_sdk::workflow::race::{Contender, ContenderStatus, Race};
    let client = Client::from_conf(
        Config::builder()
            .region("us-east-1")
            .endpoint_url(endpoint)
            .static_credentials("local", "local")
            .timeout_config(TimeoutConfig::standard().operation(Duration::from_secs(600)))
            .build()
            .expect("config"),
    );
    // One command per session creates the repository the agent writes to.
    let seed = |session: agentcore_sdk::Session| async move {
        session
            .run(format!(
                "mkdir -p /mnt/workspace/repo && cd /mnt/workspace/repo && printf %s {} > calc.sh && printf %s {} > test.sh && chmod +x test.sh",
                agentcore_sdk::Command::quote(examples::coding::CALC_SH),
                agentcore_sdk::Command::quote(examples::coding::TEST_SH),
            ))
            .await?
            .check()
            .map(drop)
    };

    // Race: 99 slow contenders and one that fixes it once every agent is at work.
    let n = (100 / scale).max(10);
    let mut race = Race::builder(&client)
        .setup(seed)
        .check(examples::experiments::CHECK)
        .timeout(Duration::from_secs(300));
    for i in 0..n {
        let delay = if i == n / 2 { 15_000 } else { 600_000 };
        race = race.contender_with(
            Contender::new(format!("c{i}"), arn)
                .expect("arn")
                .json(&serde_json::json!({ "quality": "right", "delayMs": delay }))
                .expect("json"),
        );
    }
    let t0 = Instant::now();
    let report = race.run().await.expect("race runs");
    if let Some(e) = report.contenders.iter().find_map(|c| c.error.clone()) {
        eprintln!("race: a contender failed: {e}");
    }
    let win_at = report.time_to_winner.unwrap_or_default();
    // Processes gone: polled from the end of the stops, measured from the win.
    let stops_done = t0.elapsed();
    let mut gone_after = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if marked_processes(marker) == 0 {
            gone_after = Some(t0.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let cancelled = report
        .contenders
        .iter()
        .filter(|c| c.status == ContenderStatus::Cancelled)
        .count();
    b.add(
        &format!("race of {n}: win → {} others stopped", n - 1),
        report.stop_time.as_secs_f64() * 1000.0,
        "ms",
        format!(
            "winner {} at {:.1} s; {cancelled} cancelled mid-invocation; {} sessions stopped",
            report.winner.as_deref().unwrap_or("none"),
            win_at.as_secs_f64(),
            report.sessions_stopped
        ),
    );
    b.add(
        &format!("race of {n}: win → every agent process gone"),
        gone_after
            .map(|g| (g.saturating_sub(win_at)).as_secs_f64() * 1000.0)
            .unwrap_or(f64::NAN),
        "ms",
        format!(
            "host /proc scan; stops acknowledged {:.0} ms after the win",
            (stops_done.saturating_sub(win_at)).as_secs_f64() * 1000.0
        ),
    );

    // Bench: 4 harnesses × 5 models × 10 repeats.
    let repeats = (10 / scale).max(1);
    let t0 = Instant::now();
    let report = Matrix::builder(&client)
        .axis("harness", ["claude-code", "codex", "aider", "other"])
        .axis("model", ["sonnet", "haiku", "m3", "m4", "m5"])
        .repeats(repeats)
        .runtime(arn)
        .setup(seed)
        .check(examples::experiments::CHECK)
        .concurrency(32)
        .run()
        .await
        .expect("bench runs");
    let wall = t0.elapsed().as_secs_f64();
    if let Some(r) = report.runs.iter().find(|r| !r.error.is_empty()) {
        eprintln!("bench: a run failed: {}", r.error);
    }
    let runs = report.runs.len();
    let finished = report.runs.iter().filter(|r| r.outcome.is_valid()).count();
    b.add(
        &format!("bench of {runs} runs under 25 commands/s"),
        wall,
        "s",
        format!(
            "{finished}/{} rows finished, none lost; {} commands → {:.1} commands/s",
            20 * repeats,
            2 * runs,
            (2 * runs) as f64 / wall
        ),
    );
}

/// A bench of 1,000 runs (4 harnesses × 5 models × 50 repeats) against a server injecting a
/// 10% fault plan (throttling, 409, 5xx, cut streams, slow session starts): every run in the
/// report, every session's stop acknowledged (its ledger lists none not stopped), the time
/// and the harness's own overhead per run.
async fn fault_rows(server_bin: &str, extra: &[String], scale: usize, b: &mut Bench) {
    use agentcore_sdk::workflow::Ledger;
    use agentcore_sdk::workflow::bench::{Bench as Matrix, Outcome};
    let mut args = extra.to_vec();
    args.extend(["--faults".to_owned(), "rate=0.1,seed=2026".to_owned()]);
    let (_server, endpoint) = start_server(server_bin, &args).await;
    let client = Client::from_conf(
        Config::builder()
            .region("us-east-1")
            .endpoint_url(&endpoint)
            .static_credentials("local", "local")
            .timeout_config(TimeoutConfig::standard().operation(Duration::from_secs(600)))
            .build()
            .expect("config"),
    );
    let arn = runtime(&client).await;
    let seed = |session: agentcore_sdk::Session| async move {
        session
            .run(format!(
                "mkdir -p /mnt/workspace/repo && cd /mnt/workspace/repo && printf %s {} > calc.sh && printf %s {} > test.sh && chmod +x test.sh",
                agentcore_sdk::Command::quote(examples::coding::CALC_SH),
                agentcore_sdk::Command::quote(examples::coding::TEST_SH),
            ))
            .await?
            .check()
            .map(drop)
    };
    let ledger_path =
        std::env::temp_dir().join(format!("agentcore-bench-{}.ledger", std::process::id()));
    let _ = std::fs::remove_file(&ledger_path);
    let repeats = (50 / scale).max(1);
    let t0 = Instant::now();
    let report = Matrix::builder(&client)
        .axis("harness", ["claude-code", "codex", "aider", "other"])
        .axis("model", ["sonnet", "haiku", "m3", "m4", "m5"])
        .repeats(repeats)
        .runtime(&arn)
        .task_json(&serde_json::json!({ "task": "fix calc.sh" }))
        .expect("task")
        .setup(seed)
        .check(examples::experiments::CHECK)
        .concurrency(32)
        .infra_attempts(5)
        .ledger(Ledger::open(&ledger_path).expect("ledger"))
        .run()
        .await
        .expect("bench runs");
    let wall = t0.elapsed().as_secs_f64();
    let runs = report.runs.len();
    let expected = 20 * repeats;
    let valid = report.runs.iter().filter(|r| r.outcome.is_valid()).count();
    let retried: u32 = report.runs.iter().map(|r| r.tries.saturating_sub(1)).sum();
    let not_stopped = Ledger::read(&ledger_path)
        .map(|l| l.not_stopped().count())
        .unwrap_or(usize::MAX);
    let mut walls: Vec<f64> = report.runs.iter().map(|r| r.wall_ms).collect();
    let mut overhead: Vec<f64> = report
        .runs
        .iter()
        .filter(|r| r.outcome == Outcome::Passed || r.outcome == Outcome::Failed)
        .map(|r| r.wall_ms - r.invoke_ms - r.check_ms)
        .collect();
    let excluded: Vec<String> = report
        .excluded()
        .iter()
        .map(|(c, n)| format!("{c} ×{n}"))
        .collect();
    b.add(
        &format!("bench of {runs} runs under a 10% fault plan"),
        wall,
        "s",
        format!(
            "{runs}/{expected} rows, {valid} valid trials, {retried} infra errors retried in fresh sessions, excluded [{}]; {} sessions started, {} not stopped (ledger), {} unacknowledged stops",
            excluded.join(", "),
            report.sessions_started,
            not_stopped,
            report.sessions_not_stopped.len()
        ),
    );
    b.add(
        "  per run: wall p50 (setup, agent, check)",
        percentile(&mut walls, 50.0),
        "ms",
        format!(
            "{:.1} ms of wall time per run at 32 at once",
            wall * 1000.0 / runs.max(1) as f64
        ),
    );
    b.add(
        "  per run: harness overhead p50",
        percentile(&mut overhead, 50.0),
        "ms",
        "wall − agent − check: session start, setup command, stop, limiter waits",
    );
    let _ = std::fs::remove_file(&ledger_path);
}
