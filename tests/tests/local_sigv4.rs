//! SigV4 end to end: the SDK's signatures (headers, presigned URLs) and bearer tokens checked
//! by agentcore-local's verifier, and rejections as typed 403 errors.

use std::time::Duration;

use agentcore_local::LocalRuntime;
use agentcore_sdk::shell::{WebSocketAuth, presigned_shell_url};
use agentcore_sdk::{Client, Config, Credentials, ServiceErrorKind};
use tests::{create_runtime, read_until};
use tokio::io::AsyncWriteExt;

async fn verifying() -> LocalRuntime {
    LocalRuntime::builder()
        .verify_sigv4(
            [("AKIDTEST".to_owned(), "s3cr3t/with+chars".to_owned())],
            ["bearer-token-123".to_owned()],
        )
        .ready_delay(Duration::from_millis(20))
        .start()
        .await
        .unwrap()
}

fn client(local: &LocalRuntime, creds: Option<Credentials>) -> Client {
    let b = Config::builder()
        .region("us-east-1")
        .endpoint_url(local.endpoint());
    let b = match creds {
        Some(c) => b.credentials_provider(c),
        None => b.anonymous(),
    };
    Client::from_conf(b.build().unwrap())
}

fn good() -> Credentials {
    Credentials::new("AKIDTEST", "s3cr3t/with+chars", None, None, "test")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_requests_pass_and_bad_ones_get_403() {
    let local = verifying().await;
    let c = client(&local, Some(good()));
    let (arn, _) = create_runtime(&c, "signed").await;
    let s = c.session(&arn).unwrap();
    // Path with a percent-encoded ARN, a JSON body, a session header: all under the signature.
    let out = s.command("echo signed ok").output().await.unwrap();
    assert_eq!(out.stdout, "signed ok\n");
    s.invoke("")
        .json(&serde_json::json!({"x": 1}))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    s.stop().await.unwrap();

    let temp = client(
        &local,
        Some(Credentials::new(
            "AKIDTEST",
            "s3cr3t/with+chars",
            Some("session-token".into()),
            None,
            "t",
        )),
    );
    temp.session(&arn)
        .unwrap()
        .command("true")
        .output()
        .await
        .unwrap();

    for (what, bad) in [
        (
            "wrong secret",
            client(
                &local,
                Some(Credentials::new("AKIDTEST", "nope", None, None, "t")),
            ),
        ),
        (
            "unknown key",
            client(
                &local,
                Some(Credentials::new(
                    "AKIDOTHER",
                    "s3cr3t/with+chars",
                    None,
                    None,
                    "t",
                )),
            ),
        ),
        ("unsigned", client(&local, None)),
    ] {
        let err = bad
            .session(&arn)
            .unwrap()
            .command("true")
            .output()
            .await
            .unwrap_err();
        let e = err
            .as_service()
            .unwrap_or_else(|| panic!("{what}: {err:?}"));
        assert_eq!(e.kind(), &ServiceErrorKind::AccessDenied, "{what}");
        assert_eq!(e.status(), Some(403), "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_auth_modes_are_verified() {
    let local = verifying().await;
    let c = client(&local, Some(good()));
    let (arn, _) = create_runtime(&c, "shells").await;
    let session = c.session(&arn).unwrap();

    // SigV4-signed upgrade headers.
    let mut sh = session.shell().connect().await.unwrap();
    sh.write_all(b"echo sigv4-$((1+1))\n").await.unwrap();
    read_until(&mut sh, "sigv4-2").await;

    // Presigned URL.
    let mut sh = session
        .shell()
        .auth(WebSocketAuth::Presigned {
            expires: Duration::from_secs(120),
        })
        .connect()
        .await
        .unwrap();
    sh.write_all(b"echo presigned-$((2+2))\n").await.unwrap();
    read_until(&mut sh, "presigned-4").await;

    // A presigned URL handed to someone else works without credentials...
    let url = presigned_shell_url(
        &c,
        &arn,
        session.id().as_str(),
        "relay",
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("presigned URL opens");
    use futures::StreamExt;
    let first = ws.next().await.unwrap().unwrap().into_data();
    assert_eq!(first[0], 0x03, "first frame is the STATUS confirmation");
    // ...but not once tampered with.
    let tampered = url.as_str().replace("shellId=relay", "shellId=other");
    let err = tokio_tungstenite::connect_async(tampered.as_str())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");

    // Bearer token as subprotocol.
    let anon = client(&local, None);
    let mut sh = anon
        .shell(&arn)
        .auth(WebSocketAuth::Bearer("bearer-token-123".into()))
        .connect()
        .await
        .unwrap();
    sh.write_all(b"echo bearer-$((3+3))\n").await.unwrap();
    read_until(&mut sh, "bearer-6").await;

    // Wrong credentials: a typed 403 that names the IAM action.
    for auth in [WebSocketAuth::Bearer("wrong".into()), WebSocketAuth::SigV4] {
        let err = anon.shell(&arn).auth(auth).connect().await.unwrap_err();
        let e = err.as_service().unwrap_or_else(|| panic!("{err:?}"));
        assert_eq!(e.kind(), &ServiceErrorKind::AccessDenied);
        assert!(
            e.message()
                .contains("InvokeAgentRuntimeCommandWithWebSocketStream"),
            "{}",
            e.message()
        );
    }
}
