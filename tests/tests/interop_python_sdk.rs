//! Interop: the official Python SDK's shell client (`bedrock-agentcore` on PyPI), unmodified,
//! opens interactive shells on agentcore-local in its three auth modes (SigV4 headers,
//! presigned URL, OAuth bearer).
//!
//! That client only speaks `wss://` to an AWS host name, so agentcore-local serves TLS with a
//! certificate of a test CA for `bedrock-agentcore.<region>.amazonaws.com`, the client trusts
//! the CA through `SSL_CERT_FILE`, and the name resolves to 127.0.0.1 through an `/etc/hosts`
//! bind-mounted in a mount namespace of the Python process alone (`unshare`). Nothing of the
//! client is patched.

use std::process::Stdio;

use agentcore_local::LocalRuntime;

const TOKEN: &str = "python-sdk-bearer-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_sdk_shell_client_in_three_auth_modes() {
    let Some(python) = tokio::task::spawn_blocking(|| {
        tests::python_with_agentcore_sdk("official_python_sdk_shell_client_in_three_auth_modes")
    })
    .await
    .unwrap() else {
        return;
    };
    for region in ["us-east-1", "ap-south-1"] {
        shell_client_in(&python, region).await;
    }
}

async fn shell_client_in(python: &std::path::Path, region: &str) {
    let dp_host = format!("bedrock-agentcore.{region}.amazonaws.com");
    let cp_host = format!("bedrock-agentcore-control.{region}.amazonaws.com");

    // A test CA and a server certificate for both AWS host names.
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "agentcore-local test CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let mut leaf_params =
        rcgen::CertificateParams::new(vec![dp_host.clone(), cp_host.clone()]).unwrap();
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, dp_host.clone());
    let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();

    let local = LocalRuntime::builder()
        .tls(leaf.pem(), leaf_key.serialize_pem())
        .verify_sigv4(
            [("AKIDLOCAL".to_owned(), "local-secret".to_owned())],
            [TOKEN.to_owned()],
        )
        .start()
        .await
        .unwrap();
    assert!(local.endpoint().starts_with("https://"));
    let port = local.addr().port();

    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let hosts = dir.path().join("hosts");
    std::fs::write(&hosts, format!("127.0.0.1 localhost {dp_host} {cp_host}\n")).unwrap();

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/python_sdk_shell.py");
    let out = tokio::process::Command::new("unshare")
        .args(["--mount", "--map-root-user", "--", "sh", "-c"])
        .arg(r#"mount --bind "$1" /etc/hosts && shift && exec "$@""#)
        .arg("sh")
        .arg(&hosts)
        .arg(python)
        .arg(script)
        .arg(region)
        .arg(TOKEN)
        .env(
            "BEDROCK_AGENTCORE_DP_ENDPOINT",
            format!("https://{dp_host}:{port}"),
        )
        .env(
            "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL",
            format!("https://{cp_host}:{port}"),
        )
        .env(
            "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE",
            format!("https://{dp_host}:{port}"),
        )
        .env("SSL_CERT_FILE", &ca_file)
        .env("AWS_CA_BUNDLE", &ca_file)
        .env("AWS_ACCESS_KEY_ID", "AKIDLOCAL")
        .env("AWS_SECRET_ACCESS_KEY", "local-secret")
        .env("AWS_region", region)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "Python SDK script failed in {region}:\n{stderr}"
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert!(r["arn"].as_str().unwrap().contains(&format!(":{region}:")));
    for auth in ["sigv4", "presigned", "oauth"] {
        let one = &r[auth];
        assert!(
            one["stdout"]
                .as_str()
                .unwrap_or_default()
                .contains(&format!("shell-says-42 {auth}")),
            "{auth}: {one}"
        );
        assert_eq!(one["exit"], 3, "{auth}: {one}");
    }
}
