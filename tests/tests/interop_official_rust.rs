//! Interop: AWS's official Rust crates (`aws-sdk-bedrockagentcorecontrol`,
//! `aws-sdk-bedrockagentcore`), unmodified, drive agentcore-local through the whole runtime
//! flow — with signature verification on, in four regions of three partitions. The program is
//! `interop/official-rust` (its own workspace, so the main build never compiles the official
//! SDK); the test builds it once per target directory.

use std::path::PathBuf;
use std::process::Command;

fn official_interop_binary() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("..")
        .join("official-interop");
    let status = Command::new(env!("CARGO"))
        .args(["build", "-q", "--manifest-path"])
        .arg(root.join("interop/official-rust/Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building interop/official-rust failed");
    target.join("debug/official-interop")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_rust_crates_drive_the_whole_runtime_flow() {
    let bin = tokio::task::spawn_blocking(official_interop_binary)
        .await
        .unwrap();
    for region in [
        "eu-west-1",
        "ap-northeast-1",
        "us-gov-west-1",
        "cn-northwest-1",
    ] {
        let local = tests::interop_runtime().await;
        let what = format!("the official crates in {region}");
        let endpoint = local.endpoint();
        let args = [endpoint.as_ref(), region.as_ref()];
        let stdout = tests::run_interop_client(&what, &bin, &args).await;
        tests::assert_steps(&what, &stdout, &tests::RUNTIME_FLOW_STEPS);
    }
}
