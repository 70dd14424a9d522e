//! The local preview proxy (`agentcore_sdk::preview`): HTTP and WebSockets signed on their
//! way to a port of the session, the `Host`/`Origin` checks, the token, and
//! `examples/preview.rs` in headless Chromium: the page with the session id, a screenshot,
//! and a file changed in the session arriving as a live reload over the WebSocket.

use std::time::Duration;

use agentcore_local::LocalRuntime;
use agentcore_sdk::control::{AllowedPort, PortRange};
use agentcore_sdk::{Client, Session};
use examples::preview;
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// Why sessions of `local` get no session endpoint, if they do not.
fn no_endpoint_reason(local: &LocalRuntime) -> Option<String> {
    if local.isolation() == agentcore_local::Isolation::None {
        return Some(
            "sessions here are not sandboxed, so they have no address of their own and \
             agentcore-local gives them no session endpoint to preview through"
                .into(),
        );
    }
    let net = &local.isolation_report().network;
    (!net.starts_with("private ("))
        .then(|| format!("sessions here have no network helper ({net}), so no session endpoint"))
}

async fn session(local: &LocalRuntime, client: &Client, test: &str) -> Option<Session> {
    if let Some(why) = no_endpoint_reason(local) {
        tests::skip(test, &why);
        return None;
    }
    let id = client
        .create_agent_runtime()
        .name("web")
        .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1")
        .role_arn("arn:aws:iam::123456789012:role/local")
        .session_storage("/mnt/workspace")
        .allowed_port(AllowedPort::PortRange(PortRange::new(8000, 8010)))
        .send()
        .await
        .unwrap()
        .agent_runtime_id;
    let arn = client
        .wait_until_ready(id.as_str())
        .initial_delay(Duration::from_millis(20))
        .send()
        .await
        .unwrap()
        .agent_runtime_arn;
    let session = client.session(&arn).unwrap();
    session
        .invoke("{}")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(session.endpoint().is_some());
    Some(session)
}

async fn local() -> LocalRuntime {
    LocalRuntime::builder()
        .ready_delay(Duration::from_millis(20))
        .start()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_serves_pages_and_websockets_and_refuses_other_hosts() {
    const TEST: &str = "the_proxy_serves_pages_and_websockets_and_refuses_other_hosts";
    let local = local().await;
    let client = local.client();
    let Some(session) = session(&local, &client, TEST).await else {
        return;
    };
    let dir = "/mnt/workspace/site";
    preview::start_app(&session, dir, 8001, "0.0.0.0", "from the session")
        .await
        .unwrap();
    let proxy = session.preview(8001).start().await.unwrap();
    let base = proxy.url().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    // A page, with no credentials from the browser's side.
    let page = reqwest::get(&base).await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(session.id().as_str()),
        "the page shows the session id"
    );
    assert!(html.contains("from the session"));
    // The app's own 404 passes through.
    assert_eq!(
        reqwest::get(format!("{base}nothing"))
            .await
            .unwrap()
            .status(),
        404
    );

    // DNS rebinding: a page elsewhere that resolves its own name to 127.0.0.1 is refused.
    let http = reqwest::Client::new();
    let rebound = http
        .get(&base)
        .header("host", "attacker.example:80")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
    let cross = http
        .post(format!("{base}x"))
        .header("origin", "https://attacker.example")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    let same = http
        .post(format!("{base}x"))
        .header("origin", base.trim_end_matches('/'))
        .body("abc")
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 200);

    // WebSockets: an echo, and the live-reload socket hearing a change made in the session.
    let ws_base = base.replacen("http://", "ws://", 1);
    let (mut echo, _) = tokio_tungstenite::connect_async(format!("{ws_base}echo"))
        .await
        .unwrap();
    echo.send(Message::Text("ping?".into())).await.unwrap();
    assert_eq!(
        echo.next().await.unwrap().unwrap(),
        Message::Text("ping?".into())
    );
    echo.send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(
        echo.next().await.unwrap().unwrap(),
        Message::Binary(vec![1, 2, 3].into())
    );
    let (mut reload, _) = tokio_tungstenite::connect_async(format!("{ws_base}livereload"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    session
        .files()
        .write(&format!("{dir}/message.txt"), "changed")
        .await
        .unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(20), reload.next())
        .await
        .expect("a reload within 20 s")
        .unwrap()
        .unwrap();
    assert_eq!(msg, Message::Text("reload".into()));
    // A cross-site WebSocket is refused too.
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        format!("{ws_base}echo"),
    )
    .unwrap();
    req.headers_mut()
        .insert("origin", "https://attacker.example".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_err());
    proxy.shutdown().await;
    assert!(reqwest::get(&base).await.is_err(), "the proxy is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_can_require_a_token() {
    const TEST: &str = "a_preview_can_require_a_token";
    let local = local().await;
    let client = local.client();
    let Some(session) = session(&local, &client, TEST).await else {
        return;
    };
    preview::start_app(
        &session,
        "/mnt/workspace/site",
        8001,
        "0.0.0.0",
        "secret page",
    )
    .await
    .unwrap();
    let proxy = session
        .preview(8001)
        .require_token(true)
        .start()
        .await
        .unwrap();
    let token = proxy.token().unwrap().to_owned();
    assert!(proxy.url().contains(&token));
    let base = format!("http://{}/", proxy.addr());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    assert_eq!(http.get(&base).send().await.unwrap().status(), 401);
    assert_eq!(
        http.get(format!("{base}?agentcore_preview_token=wrong"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // The printed URL trades the token for a cookie and drops it from the address.
    let first = http.get(proxy.url()).send().await.unwrap();
    assert_eq!(first.status(), 302);
    assert_eq!(first.headers()["location"], "/");
    let cookie = first.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    let page = http
        .get(&base)
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("secret page"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_example_in_headless_chromium_reloads_live() {
    const TEST: &str = "the_preview_example_in_headless_chromium_reloads_live";
    // The example starts its own local runtime; one here tells what it will get.
    let probe = local().await;
    if let Some(why) = no_endpoint_reason(&probe) {
        tests::skip(TEST, &why);
        return;
    }
    drop(probe);
    let Some(chromium) = tests::Chromium::binary(TEST) else {
        return;
    };
    use tokio::io::AsyncBufReadExt;
    let mut example = tokio::process::Command::new(tests::example_binary("preview"))
        .args(["--dir", "/mnt/workspace/preview", "--exit-after", "300"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = tokio::io::BufReader::new(example.stderr.take().unwrap()).lines();
    let mut stdout = tokio::io::BufReader::new(example.stdout.take().unwrap()).lines();
    let (mut arn, mut session_id, mut server) = (None, None, None);
    while server.is_none() {
        let line = tokio::time::timeout(Duration::from_secs(60), stderr.next_line())
            .await
            .expect("the example starts within 60 s")
            .unwrap()
            .expect("the example runs");
        if let Some(a) = line.strip_prefix("runtime: ") {
            arn = Some(a.to_owned());
        } else if let Some(s) = line.strip_prefix("session: ") {
            session_id = Some(s.to_owned());
        } else if let Some(e) = line.strip_prefix("session endpoint: ") {
            // http://127.0.0.1:PORT/session-endpoints/… → the local runtime's address.
            server = e.split("/session-endpoints/").next().map(str::to_owned);
        }
    }
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(60), stdout.next_line())
            .await
            .expect("the example prints its preview URL")
            .unwrap()
            .expect("the example runs");
        if let Some(u) = line.strip_prefix("preview: ") {
            break u.to_owned();
        }
    };
    let session_id = session_id.unwrap();
    assert!(
        uuid::Uuid::parse_str(&session_id).is_ok(),
        "a generated session id is a UUID: {session_id}"
    );

    let mut browser = tests::Chromium::start(&chromium).await;
    browser.navigate(&url).await;
    browser.wait_for("window.liveReloadOpen === true").await;
    let text = browser
        .eval("document.body.innerText")
        .await
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        text.contains("Live preview from an AgentCore session"),
        "{text}"
    );
    assert!(
        text.contains(&session_id),
        "the page shows the session id: {text}"
    );
    assert!(text.contains("Hello from the session"), "{text}");
    assert!(text.contains("live reload: connected"), "{text}");
    let shot = browser.screenshot().await;
    assert!(shot.starts_with(b"\x89PNG"), "a PNG screenshot");
    // Kept for a look: target/tmp, or the system's temp dir for a user who cannot write there.
    let dir = [
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
        std::env::temp_dir(),
    ]
    .into_iter()
    .find(|d| std::fs::create_dir_all(d).is_ok() && std::fs::write(d.join(".probe"), b"").is_ok())
    .expect("a writable directory");
    let path = dir.join("preview-screenshot.png");
    std::fs::write(&path, &shot).unwrap();
    eprintln!("screenshot: {}", path.display());

    // Change the message in the session: the page hears of it over its WebSocket.
    let client = tests::client_for(&server.unwrap(), None);
    let session = client
        .session_with_id(arn.unwrap().as_str(), &session_id)
        .unwrap();
    session
        .files()
        .write("/mnt/workspace/preview/message.txt", "Changed by the test")
        .await
        .unwrap();
    browser
        .wait_for(
            "window.reloads >= 1 && document.getElementById('message').textContent === 'Changed by the test'",
        )
        .await;
    let after = browser.screenshot().await;
    std::fs::write(dir.join("preview-screenshot-after-reload.png"), &after).unwrap();
    let _ = example.kill().await;
}
