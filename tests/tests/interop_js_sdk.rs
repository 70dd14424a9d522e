//! Interop: AWS SDK for JavaScript v3 (`@aws-sdk/client-bedrock-agentcore-control`,
//! `@aws-sdk/client-bedrock-agentcore`, pinned in `interop/js-sdk-v3/package-lock.json`),
//! unmodified, drives agentcore-local through the whole runtime flow — signatures verified,
//! in regions of three partitions. The test installs the packages once per target directory
//! (`npm ci`); without Node.js 20 or newer it records that it did not run, and why.

use std::path::{Path, PathBuf};

const TEST: &str = "js_sdk_v3_drives_the_whole_runtime_flow";
const SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/js-sdk-v3");

/// Node.js's major version, if `node` runs.
fn node_major() -> Option<u32> {
    let out = std::process::Command::new("node")
        .arg("--version")
        .output()
        .ok()?;
    let v = String::from_utf8(out.stdout).ok()?;
    v.trim().strip_prefix('v')?.split('.').next()?.parse().ok()
}

/// `target/tmp/js-sdk-v3` with the locked packages installed and the current script in it.
fn installed() -> Option<PathBuf> {
    match node_major() {
        Some(major) if major >= 20 => {}
        Some(major) => {
            tests::skip(
                TEST,
                &format!("Node.js {major} is too old (the SDK needs 20 or newer)"),
            );
            return None;
        }
        None => {
            tests::skip(TEST, &tests::missing_tool_message("node", "nodejs npm"));
            return None;
        }
    }
    let npm = std::process::Command::new("npm").arg("--version").output();
    if !npm.is_ok_and(|o| o.status.success()) {
        tests::skip(TEST, &tests::missing_tool_message("npm", "npm"));
        return None;
    }
    let source = Path::new(SOURCE);
    let lock = std::fs::read(source.join("package-lock.json")).expect("package-lock.json");
    // FNV-1a of the lock file: a new pin installs afresh.
    let marker = lock.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    let dir = tests::made_once("js-sdk-v3", &format!("{marker:016x}"), |dir| {
        std::fs::create_dir_all(dir).expect("install directory");
        for f in ["package.json", "package-lock.json"] {
            std::fs::copy(source.join(f), dir.join(f)).expect("copying the package files");
        }
        let status = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(dir)
            .status()
            .expect("npm runs (install it: sudo apt-get install npm)");
        assert!(status.success(), "npm ci in {} failed", dir.display());
    });
    // Imports resolve next to the script, so the script runs from the install directory.
    let script = dir.join(format!("interop-{}.mjs", std::process::id()));
    std::fs::copy(source.join("interop.mjs"), &script).expect("copying the script");
    Some(script)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_sdk_v3_drives_the_whole_runtime_flow() {
    let Some(script) = tokio::task::spawn_blocking(installed).await.unwrap() else {
        return;
    };
    for region in ["us-west-2", "eu-north-1", "us-gov-east-1", "cn-north-1"] {
        let local = tests::interop_runtime().await;
        let what = format!("the JavaScript SDK in {region}");
        let endpoint = local.endpoint();
        let args = [script.as_os_str(), endpoint.as_ref(), region.as_ref()];
        let stdout = tests::run_interop_client(&what, "node", &args).await;
        tests::assert_steps(&what, &stdout, &["validation_exception"]);
        tests::assert_steps(&what, &stdout, &tests::RUNTIME_FLOW_STEPS);
    }
    let _ = std::fs::remove_file(script);
}
