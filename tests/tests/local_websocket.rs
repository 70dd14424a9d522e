//! WebSocket invoke (`/runtimes/{arn}/ws`) end to end: our SDK's `AgentSocket` against
//! agentcore-local with signature verification on, in the three auth modes, to the built-in
//! echo agent and to a hosted agent (the experiments agent's `/ws`), and an agent that dies
//! mid-conversation (close 1011 → a typed error).

use std::time::Duration;

use agentcore_local::LocalRuntime;
use agentcore_sdk::data::AgentMessage;
use agentcore_sdk::shell::WebSocketAuth;
use agentcore_sdk::{Client, ServiceErrorKind};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};

const TOKEN: &str = "local-bearer-token";

async fn server(
    builder: agentcore_local::LocalRuntimeBuilder,
) -> (LocalRuntime, Client, agentcore_sdk::RuntimeArn) {
    let local = builder
        .verify_sigv4(
            [("AKIDLOCAL".to_owned(), "local-secret".to_owned())],
            [TOKEN.to_owned()],
        )
        .start()
        .await
        .unwrap();
    let client = Client::from_conf(
        agentcore_sdk::Config::builder()
            .region("us-west-2")
            .endpoint_url(local.endpoint())
            .static_credentials("AKIDLOCAL", "local-secret")
            .build()
            .unwrap(),
    );
    let (arn, _) = tests::create_runtime(&client, "ws_agent").await;
    (local, client, arn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_agent_in_every_auth_mode() {
    let (_local, client, arn) = server(LocalRuntime::builder()).await;
    for auth in [
        WebSocketAuth::SigV4,
        WebSocketAuth::Presigned {
            expires: Duration::from_secs(60),
        },
        WebSocketAuth::Bearer(TOKEN.into()),
    ] {
        let what = format!("{auth:?}");
        let mut socket = client
            .invoke_websocket(&arn)
            .auth(auth)
            .connect()
            .await
            .unwrap();
        socket
            .send(AgentMessage::Text("hello".into()))
            .await
            .unwrap();
        socket
            .send(AgentMessage::Binary(Bytes::from_static(b"\x00\x01")))
            .await
            .unwrap();
        assert_eq!(
            socket.next().await.unwrap().unwrap(),
            AgentMessage::Text("hello".into()),
            "{what}"
        );
        assert_eq!(
            socket.next().await.unwrap().unwrap(),
            AgentMessage::Binary(Bytes::from_static(b"\x00\x01"))
        );
        socket.close().await.unwrap();
    }
    // A wrong token is refused before any message.
    let e = client
        .invoke_websocket(&arn)
        .auth(WebSocketAuth::Bearer("wrong".into()))
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(e, agentcore_sdk::Error::Service(_)), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosted_agent_websocket_and_its_failure() {
    let bin = tests::example_binary("race");
    let (local, client, arn) = server(LocalRuntime::builder().agent_with_code(
        "*",
        "exec /var/task/race --agent-mode",
        bin,
    ))
    .await;
    let session = client.session(&arn).unwrap();
    let mut socket = session.invoke_websocket().connect().await.unwrap();
    assert_eq!(socket.session_id(), session.id());
    for i in 0..3 {
        socket
            .send(AgentMessage::Text(format!("step {i}")))
            .await
            .unwrap();
        assert_eq!(
            socket.next().await.unwrap().unwrap(),
            AgentMessage::Text(format!("agent: step {i}"))
        );
    }
    // The same session serves HTTP invocations alongside.
    assert_eq!(local.running_sessions(), 1);
    // The agent dies: a typed error, then the end.
    socket
        .send(AgentMessage::Text("crash".into()))
        .await
        .unwrap();
    let end = tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .expect("no hang");
    match end {
        Some(Err(agentcore_sdk::Error::Service(e))) => {
            assert_eq!(*e.kind(), ServiceErrorKind::RuntimeClient, "{e}")
        }
        other => panic!("expected a RuntimeClient error, got {other:?}"),
    }
    assert!(socket.next().await.is_none());
}
