//! The same client-side measurements as `agentcore-bench`, made with AWS's official
//! `aws-sdk-bedrockagentcore` crate against the same agentcore-local server.
//!
//! ```text
//! official-bench <endpoint> <runtime-arn> [--quick]
//! ```

use std::time::Instant;

use aws_sdk_bedrockagentcore::types::{InvokeAgentRuntimeCommandRequestBody, InvokeAgentRuntimeCommandStreamOutput};

const MIB: f64 = 1024.0 * 1024.0;

fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .unwrap_or(0.0)
        / 1024.0
}

fn session_id() -> String {
    format!("official-bench-{:032}", Instant::now().elapsed().as_nanos() ^ u128::from(std::process::id()) ^ rand_u64())
}

fn rand_u64() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

async fn run(client: &aws_sdk_bedrockagentcore::Client, arn: &str, command: &str) -> (u64, f64) {
    let t0 = Instant::now();
    let out = client
        .invoke_agent_runtime_command()
        .agent_runtime_arn(arn)
        .runtime_session_id(session_id())
        .body(InvokeAgentRuntimeCommandRequestBody::builder().command(command).timeout(3600).build().expect("body"))
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

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let endpoint = args.get(1).expect("endpoint").clone();
    let arn = args.get(2).expect("runtime arn").clone();
    let scale: u64 = if args.iter().any(|a| a == "--quick") { 16 } else { 1 };
    // SAFETY-free: only read by aws-config below.
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region("us-east-1")
        .endpoint_url(&endpoint)
        .credentials_provider(aws_sdk_bedrockagentcore::config::Credentials::new("local", "local", None, None, "bench"))
        .load()
        .await;
    let client = aws_sdk_bedrockagentcore::Client::new(&config);

    let bytes = 512 * 1024 * 1024 / scale;
    reset_peak_rss();
    let t0 = Instant::now();
    let (got, _) = run(&client, &arn, &format!("head -c {bytes} /dev/zero | tr '\\0' x")).await;
    assert_eq!(got, bytes);
    println!("official command output throughput (512 MiB)\t{:.2}\tMiB/s\tclient peak RSS {:.1} MiB", bytes as f64 / MIB / t0.elapsed().as_secs_f64(), peak_rss_mib());

    reset_peak_rss();
    let bytes = 1024 * 1024 * 1024 / scale;
    let (got, _) = run(&client, &arn, &format!("head -c {bytes} /dev/zero | tr '\\0' x")).await;
    assert_eq!(got, bytes);
    println!("official peak client RSS streaming 1 GiB\t{:.2}\tMiB", peak_rss_mib());

    let mut firsts = Vec::new();
    for _ in 0..(200 / scale).max(20) {
        firsts.push(run(&client, &arn, "true").await.1);
    }
    firsts.sort_by(f64::total_cmp);
    let p = |q: f64| firsts[((q / 100.0) * (firsts.len() - 1) as f64).round() as usize];
    println!("official time to first event p50\t{:.2}\tms", p(50.0));
    println!("official time to first event p99\t{:.2}\tms", p(99.0));
}
