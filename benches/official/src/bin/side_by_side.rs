//! agentcore-sdk and AWS's official `aws-sdk-bedrockagentcore`, measured *interleaved* against
//! the same agentcore-local server in one run, so drift of the machine hits both alike.
//!
//! ```text
//! side-by-side <endpoint> <runtime-arn> [--pairs N] [--first-event-pairs N] [--mib N]
//! ```
//!
//! - Throughput and peak RSS: `--pairs` pairs (default 20); in each pair a fresh process per
//!   SDK (this binary, `--one <sdk>`) streams `--mib` MiB (default 256) of command output, the
//!   order within the pair drawn at random. Ratio per pair: ours / official for throughput,
//!   official / ours for RSS.
//! - Time to first event: `--first-event-pairs` pairs (default 2000) in this process, both
//!   clients warm, each in its own long-lived session, alternating with the order drawn at
//!   random per pair. Ratio per pair: official / ours.
//!
//! Each row reports the median of the per-pair ratios with its p10–p90 spread and how many
//! pairs ours won; ≥ 1.0× is in our favour everywhere.

use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_bedrockagentcore::types::{
    InvokeAgentRuntimeCommandRequestBody, InvokeAgentRuntimeCommandStreamOutput,
};
use futures::StreamExt;

const MIB: f64 = 1024.0 * 1024.0;

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

fn session_id(tag: &str) -> String {
    format!("{tag}-{:040}", fastrand::u128(..) % 10u128.pow(39))
}

struct Official {
    client: aws_sdk_bedrockagentcore::Client,
}

impl Official {
    async fn new(endpoint: &str) -> Self {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region("us-east-1")
            .endpoint_url(endpoint)
            .credentials_provider(aws_sdk_bedrockagentcore::config::Credentials::new(
                "local", "local", None, None, "bench",
            ))
            .load()
            .await;
        Self { client: aws_sdk_bedrockagentcore::Client::new(&config) }
    }

    /// Runs `command` in `session`: (stdout bytes, ms to the first event).
    async fn run(&self, arn: &str, session: &str, command: &str) -> (u64, f64) {
        let t0 = Instant::now();
        let out = self
            .client
            .invoke_agent_runtime_command()
            .agent_runtime_arn(arn)
            .runtime_session_id(session)
            .body(
                InvokeAgentRuntimeCommandRequestBody::builder()
                    .command(command)
                    .timeout(3600)
                    .build()
                    .expect("body"),
            )
            .send()
            .await
            .expect("command");
        let mut stream = out.stream;
        let mut first = None;
        let mut got = 0u64;
        while let Some(ev) = stream.recv().await.expect("event") {
            if first.is_none() {
                first = Some(t0.elapsed().as_secs_f64() * 1000.0);
            }
            if let InvokeAgentRuntimeCommandStreamOutput::Chunk(c) = ev
                && let Some(d) = c.content_delta()
            {
                got += d.stdout().map_or(0, |s| s.len() as u64);
            }
        }
        (got, first.unwrap_or_default())
    }
}

struct Ours {
    client: agentcore_sdk::Client,
}

impl Ours {
    fn new(endpoint: &str) -> Self {
        let config = agentcore_sdk::Config::builder()
            .region("us-east-1")
            .endpoint_url(endpoint)
            .static_credentials("local", "local")
            .build()
            .expect("config");
        Self { client: agentcore_sdk::Client::from_conf(config) }
    }

    async fn run(&self, arn: &str, session: &str, command: &str) -> (u64, f64) {
        let t0 = Instant::now();
        let mut stream = self
            .client
            .command(arn, command)
            .session_id(session)
            .timeout(Duration::from_secs(3600))
            .send()
            .await
            .expect("command");
        let mut first = None;
        let mut got = 0u64;
        while let Some(ev) = stream.next().await {
            if first.is_none() {
                first = Some(t0.elapsed().as_secs_f64() * 1000.0);
            }
            if let agentcore_sdk::CommandEvent::Delta { stdout, .. } = ev.expect("event") {
                got += stdout.len() as u64;
            }
        }
        (got, first.unwrap_or_default())
    }
}

/// One process, one SDK: stream `mib` MiB; prints `<MiB/s> <peak RSS MiB>`.
async fn one(sdk: &str, endpoint: &str, arn: &str, mib: u64) {
    let bytes = mib * 1024 * 1024;
    let command = format!("head -c {bytes} /dev/zero | tr '\\0' x");
    let session = session_id(sdk);
    reset_peak_rss();
    let t0 = Instant::now();
    let got = match sdk {
        "ours" => Ours::new(endpoint).run(arn, &session, &command).await.0,
        _ => Official::new(endpoint).await.run(arn, &session, &command).await.0,
    };
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(got, bytes, "every byte arrives");
    println!("{:.3} {:.3}", bytes as f64 / MIB / secs, peak_rss_mib());
}

fn child(sdk: &str, endpoint: &str, arn: &str, mib: u64) -> (f64, f64) {
    let out = Command::new(std::env::current_exe().expect("own path"))
        .args([endpoint, arn, "--one", sdk, "--mib", &mib.to_string()])
        .output()
        .expect("child runs");
    assert!(out.status.success(), "{sdk}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace().map(|v| v.parse::<f64>().expect("number"));
    (it.next().expect("MiB/s"), it.next().expect("RSS"))
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((q * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1)]
}

/// `| row | ours (median) | official (median) | median of per-pair ratios | p10–p90 | won |`
fn row(name: &str, unit: &str, ours: &[f64], official: &[f64], ratios: &[f64]) {
    let mut r = ratios.to_vec();
    r.sort_by(f64::total_cmp);
    let mut o = ours.to_vec();
    o.sort_by(f64::total_cmp);
    let mut f = official.to_vec();
    f.sort_by(f64::total_cmp);
    let won = ratios.iter().filter(|x| **x > 1.0).count();
    println!(
        "| {name} | {:.2} {unit} | {:.2} {unit} | **{:.2}×** | {:.2}–{:.2}× | {won}/{} |",
        quantile(&o, 0.5),
        quantile(&f, 0.5),
        quantile(&r, 0.5),
        quantile(&r, 0.1),
        quantile(&r, 0.9),
        ratios.len()
    );
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let endpoint = args.get(1).expect("endpoint").clone();
    let arn = args.get(2).expect("runtime arn").clone();
    let mib: u64 = flag(&args, "--mib").map_or(256, |v| v.parse().expect("--mib N"));
    if let Some(sdk) = flag(&args, "--one") {
        one(&sdk, &endpoint, &arn, mib).await;
        return;
    }
    let pairs: usize = flag(&args, "--pairs").map_or(20, |v| v.parse().expect("--pairs N"));
    let fe_pairs: usize =
        flag(&args, "--first-event-pairs").map_or(2000, |v| v.parse().expect("N"));

    // Throughput and peak RSS, a fresh process per SDK per run, order random per pair.
    let (mut t_ours, mut t_off, mut t_ratio) = (vec![], vec![], vec![]);
    let (mut m_ours, mut m_off, mut m_ratio) = (vec![], vec![], vec![]);
    for _ in 0..pairs {
        let ((to, mo), (tf, mf)) = if fastrand::bool() {
            let a = child("ours", &endpoint, &arn, mib);
            (a, child("official", &endpoint, &arn, mib))
        } else {
            let b = child("official", &endpoint, &arn, mib);
            (child("ours", &endpoint, &arn, mib), b)
        };
        t_ours.push(to);
        t_off.push(tf);
        t_ratio.push(to / tf);
        m_ours.push(mo);
        m_off.push(mf);
        m_ratio.push(mf / mo);
    }

    // Time to first event, both clients warm, one session each, alternating.
    let ours = Ours::new(&endpoint);
    let official = Official::new(&endpoint).await;
    let (s_ours, s_off) = (session_id("ours"), session_id("official"));
    for _ in 0..20 {
        ours.run(&arn, &s_ours, "true").await;
        official.run(&arn, &s_off, "true").await;
    }
    let (mut f_ours, mut f_off, mut f_ratio) = (vec![], vec![], vec![]);
    for _ in 0..fe_pairs {
        let (a, b) = if fastrand::bool() {
            let a = ours.run(&arn, &s_ours, "true").await.1;
            (a, official.run(&arn, &s_off, "true").await.1)
        } else {
            let b = official.run(&arn, &s_off, "true").await.1;
            (ours.run(&arn, &s_ours, "true").await.1, b)
        };
        f_ours.push(a);
        f_off.push(b);
        f_ratio.push(b / a);
    }
    let mut so = f_ours.clone();
    so.sort_by(f64::total_cmp);
    let mut sf = f_off.clone();
    sf.sort_by(f64::total_cmp);

    println!("| row | agentcore-sdk (median) | official (median) | ours vs official: median of per-pair ratios | p10–p90 of ratios | pairs ours won |");
    println!("|---|---|---|---|---|---|");
    row(
        &format!("command output throughput, {mib} MiB, {pairs} pairs"),
        "MiB/s",
        &t_ours,
        &t_off,
        &t_ratio,
    );
    row(
        &format!("client peak RSS streaming {mib} MiB, {pairs} pairs (official / ours)"),
        "MiB",
        &m_ours,
        &m_off,
        &m_ratio,
    );
    row(
        &format!("time to first event, {fe_pairs} pairs (official / ours)"),
        "ms",
        &f_ours,
        &f_off,
        &f_ratio,
    );
    println!(
        "\nfirst event p50 / p99: ours {:.3} / {:.3} ms, official {:.3} / {:.3} ms ({fe_pairs} samples each)",
        quantile(&so, 0.5),
        quantile(&so, 0.99),
        quantile(&sf, 0.5),
        quantile(&sf, 0.99)
    );
    // p99 per-pair ratios are noise; compare the tails of the two interleaved samples.
    println!(
        "| time to first event p99, {fe_pairs} interleaved samples each (official / ours) | {:.2} ms | {:.2} ms | **{:.2}×** | | |",
        quantile(&so, 0.99),
        quantile(&sf, 0.99),
        quantile(&sf, 0.99) / quantile(&so, 0.99)
    );
}
