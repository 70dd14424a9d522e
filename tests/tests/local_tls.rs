//! The SDK over TLS with a CA it was told to trust (`ConfigBuilder::add_root_certificate`):
//! HTTPS control and data planes and a WSS shell against agentcore-local serving TLS; without
//! the CA the same calls fail with a typed error.

use agentcore_local::LocalRuntime;
use agentcore_sdk::{Client, Config};
use tests::{create_runtime, read_until};
use tokio::io::AsyncWriteExt;

/// A test CA and a server certificate for `localhost`, as PEM.
fn ca_and_leaf() -> (String, String, String) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "agentcore-rs test CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    (ca.pem(), leaf.pem(), leaf_key.serialize_pem())
}

fn client(endpoint: &str, ca: Option<&str>) -> Client {
    let mut b = Config::builder()
        .region("us-east-1")
        .endpoint_url(endpoint)
        .static_credentials("local", "local");
    if let Some(ca) = ca {
        b = b.add_root_certificate(ca);
    }
    Client::from_conf(b.build().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_and_wss_with_an_added_root_certificate() {
    let (ca, leaf, key) = ca_and_leaf();
    let local = LocalRuntime::builder()
        .tls(leaf, key)
        .ready_delay(std::time::Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let endpoint = format!("https://localhost:{}", local.addr().port());

    // Not trusted: a typed transport error, nothing hangs.
    let untrusted = client(&endpoint, None);
    let e = untrusted.list_agent_runtimes().send().await.unwrap_err();
    assert!(matches!(e, agentcore_sdk::Error::Transport { .. }), "{e:?}");

    let c = client(&endpoint, Some(&ca));
    let (arn, _) = create_runtime(&c, "tls").await;
    let session = c.session(&arn).unwrap();
    let out = session.run("echo over-$((20+22))").await.unwrap();
    assert_eq!(out.stdout, "over-42\n");
    let mut shell = session.shell().connect().await.unwrap();
    shell.write_all(b"echo wss-$((6*7))\n").await.unwrap();
    read_until(&mut shell, "wss-42").await;

    // The WSS shell without the CA fails the handshake with a typed error.
    let e = untrusted
        .session(&arn)
        .unwrap()
        .shell()
        .connect()
        .await
        .unwrap_err();
    assert!(
        !matches!(e, agentcore_sdk::Error::InvalidInput { .. }),
        "{e:?}"
    );
}

#[test]
fn a_proxy_password_never_shows_in_debug() {
    let b = Config::builder()
        .region("us-east-1")
        .anonymous()
        .proxy("http://user:hunter2-proxy-secret@proxy.internal:3128");
    let debug = format!("{b:?}");
    assert!(!debug.contains("hunter2-proxy-secret"), "{debug}");
    assert!(debug.contains("proxy.internal"), "{debug}");
    let config = b.build().unwrap();
    assert!(!format!("{config:?}").contains("hunter2-proxy-secret"));
}

#[test]
fn a_pem_without_a_certificate_is_a_config_error() {
    let e = Config::builder()
        .region("us-east-1")
        .anonymous()
        .add_root_certificate("not a pem")
        .build()
        .unwrap_err();
    assert!(matches!(e, agentcore_sdk::Error::Config(_)), "{e:?}");
    let e = Config::builder()
        .region("us-east-1")
        .anonymous()
        .proxy("::not a url::")
        .build()
        .unwrap_err();
    assert!(matches!(e, agentcore_sdk::Error::Config(_)), "{e:?}");
}
