//! `race`, `bench` and `watch`, driven by a spec file: the SDK's fleet experiments with
//! their reports (live board on a terminal, CSV / JSON / SVG, the Harbor job directory).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use agentcore_sdk::workflow::bench::{Bench, Prices, RunUsage, TestScore};
use agentcore_sdk::workflow::harbor::HarborJob;
use agentcore_sdk::workflow::race::{Contender, ContenderStatus, Race, RacePhase, RaceUpdate};
use agentcore_sdk::workflow::watch::{DEFAULT_LOG, DEFAULT_NOTE, Watch};
use agentcore_sdk::workflow::{Budget, Ledger};
use agentcore_sdk::{Client, Session};
use futures::StreamExt;

use crate::cli::{ExperimentArgs, OutputFormat, WatchArgs};
use crate::context::{Context, resolve_arn};
use crate::error::{CliError, Context as _, EXIT_INTERRUPTED, Result};
use crate::output::{print_stdout, progress_allowed};
use crate::spec::{Spec, merge, to_json};
use agentcore_sdk::shell::terminal::{self, Attached as Attach};

type SetupHook = Arc<
    dyn Fn(Session) -> futures::future::BoxFuture<'static, agentcore_sdk::Result<()>> + Send + Sync,
>;

/// The spec's `setup` as a hook: the command must succeed.
fn setup_hook(spec: &Spec) -> Option<SetupHook> {
    let command = spec.setup.clone()?;
    Some(Arc::new(move |session: Session| {
        let command = command.clone();
        Box::pin(async move {
            session.run(command).await?.check()?;
            Ok(())
        })
    }))
}

fn describe(phase: &RacePhase) -> String {
    match phase {
        RacePhase::Setup => "setting up".into(),
        RacePhase::Invoking(n) => format!("agent working (attempt {n})"),
        RacePhase::Checking(n) => format!("checking (attempt {n})"),
        RacePhase::CheckFailed(n) => format!("check failed (attempt {n})"),
        RacePhase::Finished(ContenderStatus::Won) => "WON".into(),
        RacePhase::Finished(s) => s.to_string(),
        RacePhase::SessionStopped => "session stopped".into(),
        other => format!("{other:?}"),
    }
}

/// The runtime of the experiment: the flag, else the spec's, else the usual fallbacks.
async fn experiment_runtime<'a>(
    ctx: &'a Context,
    flag: Option<&str>,
    spec: &Spec,
) -> Result<(&'a Client, agentcore_sdk::RuntimeArn)> {
    ctx.runtime(flag.or(spec.runtime.as_deref())).await
}

pub async fn race(ctx: &Context, args: ExperimentArgs) -> Result<u8> {
    let spec = Spec::load(&args.spec)?;
    if spec.contender.is_empty() {
        return Err(CliError::new(format!(
            "{}: a race needs [[contender]] entries",
            args.spec.display()
        )));
    }
    let out_dir = spec.output_dir(args.out.as_deref());
    std::fs::create_dir_all(&out_dir).map_err(|e| CliError::from(e).context(out_dir.display()))?;
    let (client, default_arn) = experiment_runtime(ctx, args.runtime.as_deref(), &spec).await?;
    let task = spec.task_json()?;
    let format = ctx.output();
    let race_spec = spec.race.as_ref();

    // The board: one line per contender on a terminal, a log line per step otherwise.
    let live = progress_allowed() && format != OutputFormat::Json;
    let board = indicatif::MultiProgress::new();
    let mut bars = Vec::new();
    if live {
        let style = indicatif::ProgressStyle::with_template(
            "{spinner} {prefix:<16} {elapsed:>4} {wide_msg}",
        )
        .map_err(|e| CliError::new(e.to_string()))?;
        for c in &spec.contender {
            let bar = board.add(indicatif::ProgressBar::new_spinner());
            bar.set_style(style.clone());
            bar.set_prefix(c.name.clone());
            bar.set_message("starting");
            bar.enable_steady_tick(Duration::from_millis(100));
            bars.push(bar);
        }
    }
    let log_lines = format != OutputFormat::Json;
    let on_update = {
        let bars = bars.clone();
        move |u: &RaceUpdate| {
            let msg = describe(&u.phase);
            if let Some(bar) = bars.get(u.index) {
                match u.phase {
                    RacePhase::Finished(_) => bar.finish_with_message(msg),
                    RacePhase::SessionStopped => {}
                    _ => bar.set_message(msg),
                }
            } else if log_lines {
                let _ = print_stdout(&format!(
                    "{:>7.2}s  {:<16} {msg}\n",
                    u.elapsed.as_secs_f64(),
                    u.contender
                ));
            }
        }
    };

    let mut race = Race::builder(client)
        .check(spec.check()?.to_owned())
        .timeout(Duration::from_secs(spec.timeout.unwrap_or(600)))
        .on_update(on_update);
    if let Some(n) = spec.commands_per_second {
        race = race.commands_per_second(n);
    }
    if let Some(r) = race_spec {
        if let Some(n) = r.attempts {
            race = race.attempts(n);
        }
        if let Some(repo) = &r.winner_diff {
            race = race.winner_diff(repo.clone());
        }
        if let Some(p) = &r.push {
            race = race.push_winner(p.repo.clone(), p.remote.clone(), p.refspec.clone());
        }
        if let Some(k) = r.keep_winner_session {
            race = race.keep_winner_session(k);
        }
    }
    if let Some(hook) = setup_hook(&spec) {
        race = race.setup(move |s| hook(s));
    }
    let ledger_path = out_dir.join(
        spec.ledger
            .clone()
            .unwrap_or_else(|| "sessions.ledger".into()),
    );
    race = race.ledger(Ledger::open(&ledger_path)?);
    if !task.is_null() {
        race = race.task_json(&task)?;
    }
    for c in &spec.contender {
        let arn = match &c.runtime {
            Some(r) => resolve_arn(client, r).await?,
            None => default_arn.clone(),
        };
        let own = c.payload.as_ref().map(to_json).transpose()?;
        let payload = merge(&task, own.as_ref());
        let mut contender = Contender::new(c.name.clone(), &arn)?;
        contender = match &payload {
            serde_json::Value::Null => contender,
            serde_json::Value::String(s) => contender.payload(s.clone()),
            v => contender.json(v)?,
        };
        if let Some(q) = c.qualifier.as_ref().or(spec.qualifier.as_ref()) {
            contender = contender.qualifier(q.clone());
        }
        race = race.contender_with(contender);
    }
    let (on_ctrl_c, interrupted) = stop_every_session_on_ctrl_c(race.cancel_handle());
    let report = race.run().await;
    on_ctrl_c.abort();
    for bar in &bars {
        if !bar.is_finished() {
            bar.finish();
        }
    }
    let report = report?;
    let json_path = out_dir.join("race.json");
    std::fs::write(&json_path, report.to_json())
        .map_err(|e| CliError::from(e).context(json_path.display()))?;
    if format == OutputFormat::Json {
        print_stdout(&format!("{}\n", report.to_json()))?;
    } else {
        print_stdout(&format!("\n{}", report.table()))?;
        match (&report.pushed, &report.push_error) {
            (Some(sha), _) => {
                print_stdout(&format!("winner pushed {}\n", sha.get(..12).unwrap_or(sha)))?
            }
            (None, Some(e)) => print_stdout(&format!("winner could not push: {e}\n"))?,
            _ => {}
        }
        print_stdout(&format!(
            "wrote {} (sessions in {})\n",
            json_path.display(),
            ledger_path.display()
        ))?;
    }
    if interrupted.load(Ordering::SeqCst) {
        return Ok(EXIT_INTERRUPTED);
    }
    Ok(if report.winner.is_some() { 0 } else { 1 })
}

pub async fn bench(ctx: &Context, args: ExperimentArgs) -> Result<u8> {
    let spec = Spec::load(&args.spec)?;
    let Some(bs) = spec.bench.as_ref() else {
        return Err(CliError::new(format!(
            "{}: a bench needs a [bench] table",
            args.spec.display()
        )));
    };
    if !spec.contender.is_empty() {
        return Err(CliError::new(format!(
            "{}: [[contender]] is for races; a bench varies its [[bench.axis]]",
            args.spec.display()
        )));
    }
    let out_dir = spec.output_dir(args.out.as_deref());
    std::fs::create_dir_all(&out_dir).map_err(|e| CliError::from(e).context(out_dir.display()))?;
    let (client, arn) = experiment_runtime(ctx, args.runtime.as_deref(), &spec).await?;
    let format = ctx.output();
    let csv = out_dir.join("bench.csv");
    let ledger_path = out_dir.join(
        spec.ledger
            .clone()
            .unwrap_or_else(|| "sessions.ledger".into()),
    );
    let mut task = spec.task_json()?;
    if task.is_null() {
        task = serde_json::json!({});
    }
    let mut budget = Budget::new();
    if let Some(s) = bs.max_seconds {
        budget = budget.wall_clock(Duration::from_secs(s));
    }
    if let Some(n) = bs.max_sessions {
        budget = budget.max_sessions(n);
    }
    if let Some(c) = bs.max_cost {
        budget = budget.max_cost(c);
    }
    let mut bench = Bench::builder(client)
        .runtime(&arn)
        .repeats(bs.repeats.unwrap_or(1))
        .concurrency(bs.concurrency.unwrap_or(4))
        .check(spec.check()?.to_owned())
        .output(&csv)
        .ledger(Ledger::open(&ledger_path)?)
        .budget(budget);
    for axis in &bs.axis {
        bench = bench.axis(axis.name.clone(), axis.values.clone());
    }
    bench = bench
        .task_json(&task)
        .context(format!("{}: task", args.spec.display()))?;
    if let Some(n) = spec.commands_per_second {
        bench = bench.commands_per_second(n);
    }
    if let Some(n) = bs.infra_attempts {
        bench = bench.infra_attempts(n);
    }
    if let Some(s) = &bs.score {
        let (pass, fail) = (s.pass.clone(), s.fail.clone());
        bench = bench.score(move |out| TestScore::count_lines(&out.stdout, &pass, &fail));
    }
    if let Some(p) = &bs.prices {
        let base = (p.session_second, p.input_token, p.output_token);
        let axis = p.token_axis.clone();
        let per_value = p.tokens.clone();
        bench = bench.cost_model(move |u: &RunUsage<'_>| {
            let (tin, tout) = axis
                .as_deref()
                .and_then(|a| u.variant.get(a))
                .and_then(|v| per_value.get(v))
                .map_or((base.1, base.2), |t| (t.input, t.output));
            Prices::per_session_second(base.0)
                .tokens(tin, tout)
                .cost_of(u)
        });
    }
    if let Some(hook) = setup_hook(&spec) {
        bench = bench.setup(move |s| hook(s));
    }
    let total = bench.variants().len() * bs.repeats.unwrap_or(1);
    let live = progress_allowed() && format != OutputFormat::Json;
    let bar = if live {
        let bar = indicatif::ProgressBar::new(total as u64);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} runs {elapsed}")
        {
            bar.set_style(style);
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let log_runs = format != OutputFormat::Json;
    {
        let bar = bar.clone();
        bench = bench.on_run(move |r| {
            let line = format!("  {r}");
            bar.inc(1);
            if log_runs {
                if bar.is_hidden() {
                    let _ = print_stdout(&format!("{line}\n"));
                } else {
                    bar.println(line);
                }
            }
        });
    }
    if log_runs {
        print_stdout(&format!(
            "bench: {} variants × {} repeats = {total} runs on {arn}\n",
            bench.variants().len(),
            bs.repeats.unwrap_or(1),
        ))?;
    }
    let (on_ctrl_c, interrupted) = stop_every_session_on_ctrl_c(bench.cancel_handle());
    let report = bench.run().await;
    on_ctrl_c.abort();
    bar.finish_and_clear();
    let report = report?;
    let json_path = out_dir.join("bench.json");
    let svg_path = out_dir.join("bench.svg");
    std::fs::write(&json_path, report.to_json())
        .map_err(|e| CliError::from(e).context(json_path.display()))?;
    std::fs::write(&svg_path, report.to_svg()?)
        .map_err(|e| CliError::from(e).context(svg_path.display()))?;
    let job_spec = bs.job.as_ref();
    let job_dir = out_dir.join(
        job_spec
            .and_then(|j| j.dir.clone())
            .unwrap_or_else(|| "bench-job".into()),
    );
    let job = HarborJob::new(
        job_spec
            .and_then(|j| j.name.clone())
            .unwrap_or_else(|| "bench".into()),
        job_spec
            .and_then(|j| j.task.clone())
            .unwrap_or_else(|| "task".into()),
    )
    .agent_version(env!("CARGO_PKG_VERSION"));
    report.write_harbor_job(&job_dir, &job)?;
    if format == OutputFormat::Json {
        print_stdout(&format!("{}\n", report.to_json()))?;
    } else {
        print_stdout(&format!(
            "\n{} runs ({} this time, {} resumed from {})\n\n{}",
            report.runs.len(),
            report.ran,
            report.runs.len().saturating_sub(report.ran),
            csv.display(),
            report.table()
        ))?;
        print_stdout(&format!(
            "\nwrote {}, {}, {} and the Harbor job {}/ (sessions in {})\n",
            csv.display(),
            json_path.display(),
            svg_path.display(),
            job_dir.display(),
            ledger_path.display()
        ))?;
    }
    if interrupted.load(Ordering::SeqCst) {
        return Ok(EXIT_INTERRUPTED);
    }
    Ok(0)
}

pub async fn watch(ctx: &Context, args: WatchArgs) -> Result<u8> {
    let spec = Spec::load(&args.spec)?;
    let (client, arn) = experiment_runtime(ctx, args.runtime.as_deref(), &spec).await?;
    let mut session = match &args.session_id {
        Some(id) => client.session_with_id(&arn, id)?,
        None => client.session(&arn)?,
    };
    if let Some(q) = &spec.qualifier {
        session = session.with_qualifier(q);
    }
    let ws = spec.watch.as_ref();
    let log = ws
        .and_then(|w| w.log.clone())
        .unwrap_or_else(|| DEFAULT_LOG.to_owned());
    let note = ws
        .and_then(|w| w.note.clone())
        .unwrap_or_else(|| DEFAULT_NOTE.to_owned());
    if let Some(setup) = &spec.setup {
        session
            .run(setup.clone())
            .await?
            .check()
            .context("the spec's setup")?;
    }
    let watch = Watch::new(&session).log_path(log.clone()).note_path(note);
    if let Some(text) = &args.note {
        watch.note(text).await?;
    }
    let mut attach_cmd = format!(
        "agentcore-rs exec --it --runtime {} --session-id {}",
        super::shell_word(arn.as_str()),
        super::shell_word(session.id().as_str())
    );
    if let Some(e) = ctx.data_endpoint_override() {
        attach_cmd.push_str(&format!(" --endpoint-url {}", super::shell_word(&e)));
    }
    print_stdout(&format!(
        "agent at work in session {}\nattach from another terminal: {attach_cmd}\n",
        session.id()
    ))?;

    // The agent's invocation: its reply's lines as they come.
    let payload = match spec.task_json()? {
        serde_json::Value::Null => String::from("{}"),
        serde_json::Value::String(s) => s,
        v => v.to_string(),
    };
    let (tx, mut lines) = tokio::sync::mpsc::channel::<String>(1024);
    let invocation = {
        let session = session.clone();
        tokio::spawn(async move {
            let mut body = session.invoke(payload).send().await?.into_stream();
            let mut pending = String::new();
            while let Some(chunk) = body.next().await {
                pending.push_str(&String::from_utf8_lossy(&chunk?));
                while let Some(i) = pending.find('\n') {
                    let line: String = pending.drain(..=i).collect();
                    let _ = tx.send(line.trim_end().to_owned()).await;
                }
            }
            if !pending.is_empty() {
                let _ = tx.send(pending).await;
            }
            Ok::<(), agentcore_sdk::Error>(())
        })
    };
    // The log, followed as it grows.
    let mut log_lines = watch.follow().await?;
    let mut attach_pending = args.attach;
    let mut reply_open = true;
    while reply_open {
        tokio::select! {
            line = lines.recv() => match line {
                Some(l) => {
                    print_stdout(&format!("agent │ {l}\n"))?;
                    if attach_pending {
                        attach_pending = false;
                        let (cols, rows) = terminal::size();
                        let shell = watch.shell().terminal_size(cols, rows).connect().await?;
                        match terminal::attach(shell).await? {
                            Attach::Detached(_) => print_stdout("\r\n[detached · the shell keeps running · the agent was not disturbed]\r\n")?,
                            Attach::Exited(code) => print_stdout(&format!("\r\n[shell exited with {code} · the agent goes on]\r\n"))?,
                            _ => {}
                        }
                    }
                }
                None => reply_open = false,
            },
            l = log_lines.next() => if let Some(l) = l {
                print_stdout(&format!("log   │ {}\n", l?))?;
            },
        }
    }
    // What the log got last.
    let drain = async {
        while let Some(l) = log_lines.next().await {
            print_stdout(&format!("log   │ {}\n", l?))?;
        }
        Ok::<(), CliError>(())
    };
    let _ = tokio::time::timeout(Duration::from_millis(1500), drain).await;
    match invocation.await {
        Ok(r) => r?,
        Err(e) => return Err(CliError::new(format!("the invocation failed: {e}"))),
    }
    print_stdout("agent finished\n")?;
    Ok(0)
}

/// On Ctrl-C: marks the run interrupted and stops every session it started (those that
/// cannot be stopped stay in the ledger, and are named). Abort the task once the run ends.
fn stop_every_session_on_ctrl_c(
    cancel: agentcore_sdk::workflow::CancelHandle,
) -> (tokio::task::JoinHandle<()>, Arc<AtomicBool>) {
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    let task = tokio::spawn(async move {
        super::interrupted().await;
        flag.store(true, Ordering::SeqCst);
        eprintln!("\nagentcore-rs: interrupted: stopping every session…");
        let failed = cancel.cancel().await;
        if !failed.is_empty() {
            eprintln!(
                "agentcore-rs: {} sessions could not be stopped: they are in the ledger",
                failed.len()
            );
        }
    });
    (task, interrupted)
}
