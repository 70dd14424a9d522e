//! The coding-agent loop of the examples: reason (invoke the agent) → test (run a command) →
//! `git commit` + `git push`, in one session whose storage keeps the work.
//!
//! The demo repository is a tiny shell library with two wrong operators and a test script;
//! the demo agent ([`serve_fixer_agent`]) is deterministic: it reads the first failing test,
//! finds the operator that gives the expected result, and rewrites that one function.

use std::time::{Duration, Instant};

use agentcore_sdk::process::{ProcessEvent, ProcessId};
use agentcore_sdk::{Error, Session, sh};
use futures::StreamExt;

/// The library under test, with two bugs (`add` subtracts, `mul` adds).
pub const CALC_SH: &str = "# A tiny calculator library.\n\
add() { echo $(( $1 - $2 )); }\n\
mul() { echo $(( $1 + $2 )); }\n\
sub() { echo $(( $1 - $2 )); }\n";

/// The tests.
pub const TEST_SH: &str = "#!/usr/bin/env bash\n\
source \"$(dirname \"$0\")/calc.sh\"\n\
fail=0\n\
check() { local got; got=$($1 $2 $3); if [ \"$got\" = \"$4\" ]; then echo \"PASS $1 $2 $3 = $4\"; else echo \"FAIL $1 $2 $3: expected $4, got $got\"; fail=1; fi; }\n\
check add 2 3 5\n\
check mul 3 4 12\n\
check sub 9 4 5\n\
exit $fail\n";

/// What happened in one step of the loop.
#[derive(Debug, Clone)]
pub struct Step {
    /// 1-based iteration.
    pub iteration: usize,
    /// `test`, `agent`, `commit`, `push`.
    pub name: &'static str,
    /// Whether it succeeded (tests: green).
    pub ok: bool,
    /// How long it took.
    pub duration: Duration,
    /// A one-line summary.
    pub detail: String,
}

/// Progress callbacks, so a UI can show spinners and stream output.
pub trait Progress {
    /// A step starts.
    fn start(&self, iteration: usize, what: &str);
    /// A line of command output.
    fn line(&self, line: &str);
    /// A step ended.
    fn done(&self, step: &Step);
}

/// A progress reporter that prints nothing.
pub struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: usize, _: &str) {}
    fn line(&self, _: &str) {}
    fn done(&self, _: &Step) {}
}

/// The outcome of the loop.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Every step.
    pub steps: Vec<Step>,
    /// Whether the tests ended green.
    pub green: bool,
    /// The pushed commit, if any.
    pub pushed: Option<String>,
}

/// The session's workspace directory: `/mnt/workspace`, or where the local runtime's
/// fallback sandbox put it.
pub async fn workspace(session: &Session) -> Result<String, Error> {
    let out = session
        .run("printf %s \"${AGENTCORE_MOUNT_WORKSPACE:-/mnt/workspace}\"")
        .await?
        .check()?;
    Ok(out.stdout)
}

/// Creates the demo repository and its bare remote under `ws`, unless a previous run of the
/// same session already did (then the work is resumed). Returns whether it seeded.
pub async fn seed(session: &Session, ws: &str) -> Result<bool, Error> {
    let repo = format!("{ws}/repo");
    let remote = format!("{ws}/remote.git");
    let exists = session.run(sh!("test -d {repo}/.git")).await?.success();
    if exists {
        return Ok(false);
    }
    session
        .run(sh!("git init -q --bare -b main {remote}"))
        .await?
        .check()?;
    let git = session.git(&repo);
    git.init().await?;
    git.set_identity("coding-agent", "agent@example.com")
        .await?;
    session
        .write_file(&format!("{repo}/calc.sh"), CALC_SH.as_bytes())
        .await?;
    session
        .write_file(&format!("{repo}/test.sh"), TEST_SH.as_bytes())
        .await?;
    session
        .run(sh!(
            "chmod +x {repo}/test.sh && git -C {repo} remote add origin {remote}"
        ))
        .await?
        .check()?;
    git.commit_all("calc: first version").await?;
    git.push("origin", "HEAD:refs/heads/main").await?;
    Ok(true)
}

/// Runs the loop in `ws/repo`: test; while red, ask the agent and test again (at most
/// `max_iterations` agent calls); when green, commit and push.
pub async fn run_loop(
    session: &Session,
    ws: &str,
    max_iterations: usize,
    progress: &dyn Progress,
) -> Result<Outcome, Error> {
    let repo = format!("{ws}/repo");
    let mut steps = Vec::new();
    let mut iteration = 1;
    loop {
        // Test, streaming the output. The run is a detached process in the session: a cut
        // connection resumes its output from where it was (every line once) instead of
        // turning into a failed iteration, and it is never started twice.
        progress.start(iteration, "running the tests");
        let t0 = Instant::now();
        let id = format!("tests-{iteration}-{}", ProcessId::generate());
        let run = session
            .spawn(sh!("cd {repo} && ./test.sh"))
            .id(id.as_str())?
            .merge_stderr(true)
            .start()
            .await?;
        let mut events = run.output();
        let mut output = String::new();
        let mut pending = Vec::new();
        let mut exit = None;
        while let Some(ev) = events.next().await {
            match ev? {
                ProcessEvent::Stdout { data, .. } => {
                    pending.extend_from_slice(&data);
                    while let Some(pos) = pending.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = pending.drain(..=pos).collect();
                        let line = String::from_utf8_lossy(&line);
                        progress.line(line.trim_end());
                        output.push_str(&line);
                    }
                }
                ProcessEvent::Exited(e) => exit = Some(e.code),
                _ => {}
            }
        }
        if !pending.is_empty() {
            let rest = String::from_utf8_lossy(&pending);
            progress.line(&rest);
            output.push_str(&rest);
        }
        // Its output was read whole: it need not stay in the session.
        run.remove().await?;
        let green = exit == Some(0);
        let failures = output.lines().filter(|l| l.starts_with("FAIL")).count();
        let step = Step {
            iteration,
            name: "test",
            ok: green,
            duration: t0.elapsed(),
            detail: if green {
                "all tests pass".into()
            } else {
                format!("{failures} failing")
            },
        };
        progress.done(&step);
        steps.push(step);
        if green {
            break;
        }
        if iteration > max_iterations {
            return Ok(Outcome {
                steps,
                green: false,
                pushed: None,
            });
        }
        // Reason: hand the failure to the agent.
        progress.start(iteration, "asking the agent for a fix");
        let t0 = Instant::now();
        let reply: serde_json::Value = session
            .invoke("")
            .json(&serde_json::json!({ "repo": repo, "failure": output }))
            .send()
            .await?
            .json()
            .await?;
        let fixed = reply["fixed"].as_str().map(str::to_owned);
        let step = Step {
            iteration,
            name: "agent",
            ok: fixed.is_some(),
            duration: t0.elapsed(),
            detail: match &fixed {
                Some(f) => format!(
                    "fixed {f}(): {} → {}",
                    reply["from"].as_str().unwrap_or("?"),
                    reply["to"].as_str().unwrap_or("?")
                ),
                None => format!("no fix: {}", reply["reason"].as_str().unwrap_or("unknown")),
            },
        };
        progress.done(&step);
        steps.push(step);
        iteration += 1;
    }
    // Green: commit and push.
    let git = session.git(&repo);
    progress.start(iteration, "committing");
    let t0 = Instant::now();
    let sha = git.commit_all("calc: fix operators (coding agent)").await?;
    let step = Step {
        iteration,
        name: "commit",
        ok: true,
        duration: t0.elapsed(),
        detail: sha
            .as_deref()
            .map(|s| s[..12.min(s.len())].to_owned())
            .unwrap_or_else(|| "nothing to commit".into()),
    };
    progress.done(&step);
    steps.push(step);
    let mut pushed = None;
    if let Some(sha) = sha {
        progress.start(iteration, "pushing");
        let t0 = Instant::now();
        git.push("origin", "HEAD:refs/heads/main").await?;
        let step = Step {
            iteration,
            name: "push",
            ok: true,
            duration: t0.elapsed(),
            detail: "origin main".into(),
        };
        progress.done(&step);
        steps.push(step);
        pushed = Some(sha);
    }
    Ok(Outcome {
        steps,
        green: true,
        pushed,
    })
}

/// The fix for the first failing test in `failure`, applied to `repo/calc.sh`.
pub fn fix(repo: &str, failure: &str) -> serde_json::Value {
    let Some(line) = failure.lines().find(|l| l.starts_with("FAIL ")) else {
        return serde_json::json!({ "fixed": null, "reason": "no failing test in the output" });
    };
    // "FAIL add 2 3: expected 5, got -1"
    let words: Vec<&str> = line.split_whitespace().collect();
    let parsed = (|| {
        let name = *words.get(1)?;
        let a: i64 = words.get(2)?.parse().ok()?;
        let b: i64 = words.get(3)?.trim_end_matches(':').parse().ok()?;
        let expected: i64 = words.get(5)?.trim_end_matches(',').parse().ok()?;
        Some((name, a, b, expected))
    })();
    let Some((name, a, b, expected)) = parsed else {
        return serde_json::json!({ "fixed": null, "reason": format!("cannot read {line:?}") });
    };
    let path = format!("{repo}/calc.sh");
    let Ok(source) = std::fs::read_to_string(&path) else {
        return serde_json::json!({ "fixed": null, "reason": format!("cannot read {path}") });
    };
    let prefix = format!("{name}() {{ echo $(( $1 ");
    let Some(line) = source.lines().find(|l| l.starts_with(&prefix)) else {
        return serde_json::json!({ "fixed": null, "reason": format!("no function {name} in calc.sh") });
    };
    let from = line[prefix.len()..]
        .chars()
        .next()
        .unwrap_or('?')
        .to_string();
    type Op = fn(i64, i64) -> Option<i64>;
    let candidates: [(&str, Op); 4] = [
        ("+", |a, b| a.checked_add(b)),
        ("-", |a, b| a.checked_sub(b)),
        ("*", |a, b| a.checked_mul(b)),
        ("/", |a, b| a.checked_div(b)),
    ];
    let Some((to, _)) = candidates.iter().find(|(_, f)| f(a, b) == Some(expected)) else {
        return serde_json::json!({ "fixed": null, "reason": "no operator gives the expected result" });
    };
    let new_line = format!("{prefix}{to} $2 )); }}");
    let updated = source.replacen(line, &new_line, 1);
    if let Err(e) = std::fs::write(&path, updated) {
        return serde_json::json!({ "fixed": null, "reason": format!("cannot write {path}: {e}") });
    }
    serde_json::json!({ "fixed": name, "from": from, "to": to, "file": "calc.sh" })
}

/// Serves the fixer agent per the container contract: `GET /ping`, `POST /invocations` on
/// `127.0.0.1:$PORT`. Runs until killed (the runtime stops it with the session).
pub async fn serve_fixer_agent() -> std::io::Result<()> {
    use axum::Json;
    use axum::routing::{get, post};
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let app = axum::Router::new()
        .route(
            "/ping",
            get(|| async { Json(serde_json::json!({ "status": "Healthy" })) }),
        )
        .route(
            "/invocations",
            post(|Json(req): Json<serde_json::Value>| async move {
                let repo = req["repo"]
                    .as_str()
                    .unwrap_or("/mnt/workspace/repo")
                    .to_owned();
                let failure = req["failure"].as_str().unwrap_or_default().to_owned();
                Json(fix(&repo, &failure))
            }),
        );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await
}

/// For the examples' hidden `--agent-mode`: serve the fixer agent until killed and turn the
/// outcome into the process exit code.
pub async fn agent_mode() -> std::process::ExitCode {
    match serve_fixer_agent().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fixer agent: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A target for the coding examples: on AWS / a given endpoint as [`crate::target`] does, or
/// (with neither) an in-process agentcore-local whose runtime `name` is hosted by *this
/// program* run with `--agent-mode` (see [`serve_fixer_agent`]).
pub async fn target_with_fixer(
    runtime: Option<&str>,
    endpoint: Option<&str>,
    name: &str,
) -> Result<crate::Target, Box<dyn std::error::Error + Send + Sync>> {
    if runtime.is_some() || endpoint.is_some() {
        return crate::target(runtime, endpoint, name).await;
    }
    // The agent is this very program, shown to each session's sandbox at /var/task.
    let exe = std::env::current_exe()?;
    let file = exe
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let agent = format!(
        "exec {} --agent-mode",
        agentcore_sdk::Command::quote(&format!("/var/task/{file}"))
    );
    let local = agentcore_local::LocalRuntime::builder()
        .agent_with_code(name, agent, exe)
        .start()
        .await?;
    let client = local.client();
    let arn = crate::demo_runtime(&client, name).await?;
    Ok(crate::Target {
        client,
        arn,
        endpoint: Some(local.endpoint()),
        local: Some(local),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixer_repairs_one_function_per_call() {
        let dir = std::env::temp_dir().join(format!("fixer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("calc.sh"), CALC_SH).unwrap();
        let repo = dir.to_str().unwrap();
        let r = fix(
            repo,
            "PASS x\nFAIL add 2 3: expected 5, got -1\nFAIL mul 3 4: expected 12, got 7\n",
        );
        assert_eq!(r["fixed"], "add");
        assert_eq!(r["to"], "+");
        let r = fix(repo, "FAIL mul 3 4: expected 12, got 7\n");
        assert_eq!(r["to"], "*");
        let src = std::fs::read_to_string(dir.join("calc.sh")).unwrap();
        assert!(src.contains("add() { echo $(( $1 + $2 )); }"));
        assert!(src.contains("mul() { echo $(( $1 * $2 )); }"));
        assert_eq!(fix(repo, "all good")["fixed"], serde_json::Value::Null);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
