//! agentcore-local's whole HTTP surface: arbitrary method, path, query, headers and body into
//! the real router (with and without the SigV4 verifier in front). Any panic is a crash; a
//! request must also answer within 5 s (no hang).
//!
//! Input: byte 0 picks the method and whether the verifier runs; the rest is split at 0xFF
//! into path, query, header lines (`name: value`, 0x0A-separated) and body.
#![no_main]

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use agentcore_local::server::{AppState, router};
use agentcore_local::sessions::{Sessions, SessionsConfig};
use agentcore_local::store::Store;
use agentcore_local::sandbox::{Host, HostOptions};
use agentcore_local::{Limits, Network};
use axum::body::Body;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

struct World {
    rt: tokio::runtime::Runtime,
    plain: axum::Router,
    verified: axum::Router,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let _guard = rt.enter();
        // Commands a fuzz input manages to start run sandboxed (or nowhere, without
        // namespaces: the sealed network keeps them off the host's services).
        let host = rt
            .block_on(Host::start(HostOptions {
                isolation: None,
                network: Network::None,
                limits: Limits::default().memory_bytes(256 << 20).pids(64),
                data_dir: dir.path().to_owned(),
                code_dirs: Vec::new(),
                pool: 0,
            }))
            .expect("sandboxes");
        let isolation = host.isolation();
        let state = Arc::new(AppState {
            store: Mutex::new(
                Store::open(dir.path(), "us-east-1", Duration::ZERO).expect("store"),
            ),
            sessions: Sessions::new(
                SessionsConfig {
                    data_dir: dir.path().to_owned(),
                    max_idle: Some(Duration::from_secs(1)),
                    max_lifetime: Some(Duration::from_secs(5)),
                    network: Network::None,
                    allow_runtime_network: false,
                    setup_delay: None,
                },
                Arc::new(host),
            ),
            isolation,
            agents: Vec::new(),
            shells: Default::default(),
            session_endpoints: agentcore_local::session_endpoint::SessionEndpoints::new(false),
        });
        let plain = router(state.clone());
        let verifier = Arc::new(agentcore_local::auth::Verifier {
            keys: [("AKIDFUZZ".to_owned(), "fuzz-secret".to_owned())].into(),
            bearer_tokens: vec!["fuzz-token".to_owned()],
        });
        let verified = router(state).layer(axum::middleware::from_fn_with_state(
            verifier,
            agentcore_local::auth::verify,
        ));
        World {
            rt,
            plain,
            verified,
            _dir: dir,
        }
    })
}

const METHODS: [&str; 6] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"];

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.split(|&b| b == 0xFF);
    let path = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let query = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let headers = parts.next().unwrap_or_default().to_vec();
    let body = parts.next().unwrap_or_default().to_vec();
    let method = METHODS[(first as usize) % METHODS.len()];
    let uri = if query.is_empty() {
        format!("/{}", path.trim_start_matches('/'))
    } else {
        format!("/{}?{query}", path.trim_start_matches('/'))
    };
    let mut req = http::Request::builder().method(method).uri(uri.as_str());
    for line in headers.split(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(line);
        if let Some((name, value)) = line.split_once(':') {
            req = req.header(name.trim(), value.trim());
        }
    }
    // Requests the http crate itself refuses never reach a server.
    let Ok(req) = req.body(Body::from(body)) else {
        return;
    };
    let w = world();
    let app = if first & 0x80 != 0 {
        w.verified.clone()
    } else {
        w.plain.clone()
    };
    w.rt.block_on(async move {
        let answer = async {
            let resp = app.oneshot(req).await.expect("infallible");
            // Read at most 1 MiB of the answer (a command's stream may be long).
            let mut body = resp.into_body().into_data_stream();
            let mut seen = 0usize;
            use futures::StreamExt;
            while let Some(Ok(chunk)) = body.next().await {
                seen += chunk.len();
                if seen > 1 << 20 {
                    break;
                }
            }
        };
        if tokio::time::timeout(Duration::from_secs(5), answer).await.is_err() {
            panic!("request hung: {method} {uri}");
        }
    });
});
