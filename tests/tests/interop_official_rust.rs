//! Interop: AWS's official Rust crates (`aws-sdk-bedrockagentcorecontrol`,
//! `aws-sdk-bedrockagentcore`), unmodified, drive agentcore-local through the whole runtime
//! flow — with signature verification on, in four regions of three partitions. The program is
//! `interop/official-rust` (its own workspace, so the main build never compiles the official
//! SDK); the test builds it once per target directory.

use std::path::PathBuf;
use std::process::Command;

use agentcore_local::LocalRuntime;

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
        let local = LocalRuntime::builder()
            .verify_sigv4([("AKIDLOCAL".to_owned(), "local-secret".to_owned())], [])
            .start()
            .await
            .unwrap();
        let out = tokio::process::Command::new(&bin)
            .arg(local.endpoint())
            .arg(region)
            .env_remove("AWS_PROFILE")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "official crates failed in {region}:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for step in [
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
        ] {
            assert!(
                stdout.contains(&format!("ok {step}\n")),
                "{step} in {region}:\n{stdout}"
            );
        }
    }
}
