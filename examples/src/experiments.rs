//! The deterministic agent of the fleet experiments (`race`, `bench`, `watch`), served by
//! the examples themselves with `--agent-mode` inside each local session's sandbox.
//!
//! `POST /invocations` takes a JSON object:
//! - `{"quality": "right"|"wrong"|"partial"|"crash", "delayMs": n}` — think for `delayMs`, then
//!   fix the demo repository's `calc.sh` right, wrongly, half, or crash the agent process;
//! - `{"harness": h, "model": m, "seed": n}` (no `quality`) — a simulated harness × model
//!   whose speed, tokens and chance of a right fix follow [`profile`], drawn from `seed` (the
//!   bench's per-trial seed, so a retried trial draws the same) or else the session id; the
//!   reply carries the run as an ATIF trajectory (`trajectory`);
//! - `{"quality": "garbage"}` — answer HTTP 500 with garbage (the service reports
//!   `RuntimeClientError`), `"crash"` — the agent process dies;
//! - `{"background": {"ms": n}}` — answer at once, then report `HealthyBusy` on `/ping` for
//!   `n` ms (background work keeps the session from being idled);
//! - `{"watch": {"steps": n, "intervalMs": ms}}` — work in steps, logging each to
//!   `/mnt/workspace/agent.log` and re-reading `/mnt/workspace/NOTE.md` between steps; the
//!   response streams the same lines.
//!
//! Replies report token usage as `{"usage": {"inputTokens": …, "outputTokens": …}}`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::coding::CALC_SH;

/// Until when (ms since the epoch) `/ping` answers `HealthyBusy`.
static BUSY_UNTIL_MS: AtomicU64 = AtomicU64::new(0);

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `calc.sh` with both bugs fixed.
pub const CALC_RIGHT: &str = "# A tiny calculator library.\n\
add() { echo $(( $1 + $2 )); }\n\
mul() { echo $(( $1 * $2 )); }\n\
sub() { echo $(( $1 - $2 )); }\n";

/// `calc.sh` with one bug fixed (2 of 3 tests pass).
pub const CALC_PARTIAL: &str = "# A tiny calculator library.\n\
add() { echo $(( $1 + $2 )); }\n\
mul() { echo $(( $1 + $2 )); }\n\
sub() { echo $(( $1 - $2 )); }\n";

/// `calc.sh` "fixed" wrongly (1 of 3 tests pass).
pub const CALC_WRONG: &str = "# A tiny calculator library.\n\
add() { echo $(( $1 * $2 )); }\n\
mul() { echo $(( $1 - $2 )); }\n\
sub() { echo $(( $1 - $2 )); }\n";

/// How a simulated harness × model behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    /// Thinking time.
    pub delay: Duration,
    /// Chance of a right fix (else half the time a partial fix, else a wrong one).
    pub p_right: f64,
    /// Input tokens per call.
    pub input_tokens: u64,
    /// Output tokens per call.
    pub output_tokens: u64,
}

/// The simulated harnesses and models: `claude-code` is slow and good, `codex` in between,
/// `aider` fast and sloppy; `sonnet` thinks longer and better than `haiku`. Unknown names
/// get middling figures.
pub fn profile(harness: &str, model: &str) -> Profile {
    let (ms, p, tin, tout) = match harness {
        "claude-code" => (500.0, 0.95, 4200, 900),
        "codex" => (350.0, 0.8, 3100, 700),
        "aider" => (200.0, 0.6, 1800, 400),
        _ => (300.0, 0.7, 2500, 600),
    };
    let (fm, fp, ft) = match model {
        "sonnet" => (1.6, 1.0, 1.0),
        "haiku" => (1.0, 0.7, 0.8),
        _ => (1.2, 0.85, 0.9),
    };
    Profile {
        delay: Duration::from_millis((ms * fm) as u64),
        p_right: (p * fp),
        input_tokens: (tin as f64 * ft) as u64,
        output_tokens: (tout as f64 * ft) as u64,
    }
}

/// A number in [0, 1) from `seed` (FNV-1a), so a session's draw is reproducible.
pub fn draw(seed: &str) -> f64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in seed.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    (h >> 11) as f64 / (1u64 << 53) as f64
}

fn workspace() -> String {
    std::env::var("AGENTCORE_MOUNT_WORKSPACE").unwrap_or_else(|_| "/mnt/workspace".into())
}

/// What a fix request comes to.
enum Fix {
    Reply(serde_json::Value),
    Crash,
    Garbage,
}

/// The seed of a request's draws: its `seed` member, else the session id.
fn seed_of(req: &serde_json::Value, session: &str) -> String {
    match &req["seed"] {
        serde_json::Value::Null => session.to_owned(),
        v => v.to_string(),
    }
}

/// Handles one fix request.
async fn fix(req: &serde_json::Value, session: &str) -> Fix {
    let repo = req["repo"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{}/repo", workspace()));
    let seed = seed_of(req, session);
    let harness = req["harness"].as_str().unwrap_or("");
    let model = req["model"].as_str().unwrap_or("");
    let (quality, delay, usage) = match req["quality"].as_str() {
        Some(q) => (
            q.to_owned(),
            Duration::from_millis(req["delayMs"].as_u64().unwrap_or(0)),
            (1000, 200),
        ),
        None => {
            let p = profile(harness, model);
            let x = draw(&seed);
            let q = if x < p.p_right {
                "right"
            } else if x < p.p_right + (1.0 - p.p_right) / 2.0 {
                "partial"
            } else {
                "wrong"
            };
            // ±20% jitter, also drawn from the seed.
            let jitter = 0.8 + 0.4 * draw(&format!("{seed}/delay"));
            (
                q.to_owned(),
                p.delay.mul_f64(jitter),
                (p.input_tokens, p.output_tokens),
            )
        }
    };
    tokio::time::sleep(delay).await;
    let source = match quality.as_str() {
        "crash" => return Fix::Crash,
        "garbage" => return Fix::Garbage,
        "right" => CALC_RIGHT,
        "partial" => CALC_PARTIAL,
        "wrong" => CALC_WRONG,
        _ => CALC_SH,
    };
    let path = format!("{repo}/calc.sh");
    let written = tokio::fs::write(&path, source).await;
    let task = req["task"].as_str().unwrap_or("fix calc.sh");
    let trajectory = serde_json::json!({
        "schema_version": "ATIF-v1.6",
        "session_id": session,
        "agent": {
            "name": if harness.is_empty() { "experiments-agent" } else { harness },
            "version": "1.0.0",
            "model_name": if model.is_empty() { None } else { Some(model) },
        },
        "steps": [
            { "step_id": 1, "source": "user", "message": task },
            {
                "step_id": 2,
                "source": "agent",
                "message": format!("wrote a {quality} fix to calc.sh"),
                "metrics": { "prompt_tokens": usage.0, "completion_tokens": usage.1 },
            },
        ],
        "final_metrics": {
            "total_prompt_tokens": usage.0,
            "total_completion_tokens": usage.1,
            "total_steps": 2,
        },
    });
    Fix::Reply(serde_json::json!({
        "fixed": written.is_ok(),
        "quality": quality,
        "file": path,
        "error": written.err().map(|e| e.to_string()),
        "usage": { "inputTokens": usage.0, "outputTokens": usage.1 },
        "trajectory": trajectory,
    }))
}

/// The watch-mode steps as a stream of lines, also appended to the log.
fn watch_steps(req: serde_json::Value) -> impl futures::Stream<Item = std::io::Result<String>> {
    let steps = req["watch"]["steps"].as_u64().unwrap_or(30);
    let interval = Duration::from_millis(req["watch"]["intervalMs"].as_u64().unwrap_or(1000));
    let ws = workspace();
    let log = format!("{ws}/agent.log");
    let note = format!("{ws}/NOTE.md");
    futures::stream::unfold((1u64, String::new()), move |(step, mut seen)| {
        let (log, note) = (log.clone(), note.clone());
        async move {
            if step > steps {
                return None;
            }
            if step > 1 {
                tokio::time::sleep(interval).await;
            }
            let mut lines = format!("step {step}/{steps}: working\n");
            let current = tokio::fs::read_to_string(&note).await.unwrap_or_default();
            if !current.is_empty() && current != seen {
                let first = current.lines().next().unwrap_or_default();
                lines.push_str(&format!("step {step}/{steps}: read note: {first}\n"));
                seen = current;
            }
            if step == steps {
                lines.push_str("done\n");
            }
            let appended = async {
                use tokio::io::AsyncWriteExt;
                let mut f = tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .await?;
                f.write_all(lines.as_bytes()).await
            }
            .await;
            Some((appended.map(|()| lines), (step + 1, seen)))
        }
    })
}

/// Serves the experiments agent per the container contract (`GET /ping`,
/// `POST /invocations` on `127.0.0.1:$PORT`) until killed.
pub async fn serve_agent() -> std::io::Result<()> {
    use axum::Json;
    use axum::body::Body;
    use axum::http::HeaderMap;
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let app = axum::Router::new()
        .route(
            "/ping",
            get(|| async {
                let status = if now_ms() < BUSY_UNTIL_MS.load(Ordering::SeqCst) {
                    "HealthyBusy"
                } else {
                    "Healthy"
                };
                Json(serde_json::json!({ "status": status }))
            }),
        )
        .route(
            "/invocations",
            post(
                |headers: HeaderMap, Json(req): Json<serde_json::Value>| async move {
                    if req.get("echoHeaders").is_some() {
                        // What reached the agent, for tests of header forwarding; answers
                        // with MCP and trace headers of its own.
                        let seen: serde_json::Map<String, serde_json::Value> = headers
                            .iter()
                            .filter_map(|(k, v)| {
                                Some((k.as_str().to_owned(), v.to_str().ok()?.into()))
                            })
                            .collect();
                        return (
                            [
                                ("mcp-session-id", "agent-mcp-session"),
                                (
                                    "traceparent",
                                    "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01",
                                ),
                            ],
                            Json(serde_json::Value::Object(seen)),
                        )
                            .into_response();
                    }
                    if let Some(ms) = req["background"]["ms"].as_u64() {
                        BUSY_UNTIL_MS.store(now_ms() + ms, Ordering::SeqCst);
                        return Json(serde_json::json!({ "background": ms })).into_response();
                    }
                    if req.get("watch").is_some() {
                        return Response::builder()
                            .header("content-type", "text/plain; charset=utf-8")
                            .body(Body::from_stream(watch_steps(req)))
                            .unwrap_or_default();
                    }
                    let session = headers
                        .get(agentcore_sdk::data::SESSION_ID_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    match fix(&req, &session).await {
                        Fix::Reply(reply) => Json(reply).into_response(),
                        Fix::Garbage => (
                            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                            "\u{fffd}garbage\u{0}",
                        )
                            .into_response(),
                        Fix::Crash => {
                            eprintln!("experiments agent: crashing as asked");
                            std::process::exit(3)
                        }
                    }
                },
            ),
        );
    // The agent's own WebSocket: each text message comes back as `agent: <text>`, binary
    // messages come back as they are; the text `crash` makes the agent process exit.
    let app = app.route(
        "/ws",
        get(|ws: axum::extract::WebSocketUpgrade| async move {
            ws.on_upgrade(|mut socket| async move {
                use axum::extract::ws::Message;
                while let Some(Ok(msg)) = socket.recv().await {
                    let reply = match msg {
                        Message::Text(t) if t.as_str() == "crash" => std::process::exit(3),
                        Message::Text(t) => Message::Text(format!("agent: {}", t.as_str()).into()),
                        Message::Binary(b) => Message::Binary(b),
                        Message::Close(_) => break,
                        _ => continue,
                    };
                    if socket.send(reply).await.is_err() {
                        break;
                    }
                }
            })
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await
}

/// For the examples' hidden `--agent-mode`.
pub async fn agent_mode() -> std::process::ExitCode {
    match serve_agent().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("experiments agent: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Seeds the demo repository in the session (see [`crate::coding::seed`]) — the setup hook
/// of the race and bench examples.
pub async fn seed(session: agentcore_sdk::Session) -> Result<(), agentcore_sdk::Error> {
    let ws = crate::coding::workspace(&session).await?;
    crate::coding::seed(&session, &ws).await?;
    Ok(())
}

/// The check of the race and bench examples: the demo repository's tests.
pub const CHECK: &str = "cd \"${AGENTCORE_MOUNT_WORKSPACE:-/mnt/workspace}/repo\" && ./test.sh";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_uniform_enough_and_stable() {
        let xs: Vec<f64> = (0..2000).map(|i| draw(&format!("session-{i}"))).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((0.45..0.55).contains(&mean), "mean {mean}");
        assert_eq!(draw("abc"), draw("abc"));
    }

    #[test]
    fn profiles_rank_harnesses() {
        assert!(profile("claude-code", "sonnet").p_right > profile("aider", "haiku").p_right);
        assert!(profile("aider", "haiku").delay < profile("claude-code", "sonnet").delay);
    }
}
