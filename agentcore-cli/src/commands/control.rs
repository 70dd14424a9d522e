//! `runtimes`, `endpoints` and `status`: the control plane.

use std::time::Duration;

use agentcore_sdk::Client;
use agentcore_sdk::control::{
    AgentRuntime, AgentRuntimeArtifact, AgentRuntimeChange, AgentRuntimeEndpoint,
    AgentRuntimeEndpointChange, AgentRuntimeSummary,
};
use futures::TryStreamExt;

use super::{key_value, read_settings};
use crate::cli::{
    EndpointSettings, EndpointsCommand, OutputFormat, RuntimeSettings, RuntimesCommand, StatusArgs,
};
use crate::context::Context;
use crate::error::{CliError, Context as _, Result};
use crate::output::{Table, color_on_stdout, fields, print_json, print_stdout, status_word, time};

pub async fn runtimes(ctx: &Context, command: RuntimesCommand) -> Result<u8> {
    let format = ctx.output();
    match command {
        RuntimesCommand::List => {
            let client = ctx.client(None).await?;
            let all: Vec<AgentRuntimeSummary> = client
                .list_agent_runtimes()
                .into_stream()
                .try_collect()
                .await?;
            summaries(&all, format, true)?;
        }
        RuntimesCommand::Get { runtime, version } => {
            let (client, id) = ctx.runtime_id(&runtime).await?;
            let mut req = client.get_agent_runtime(&id);
            if let Some(v) = version {
                req = req.version(v);
            }
            let rt = req.send().await?;
            show_runtime(&rt, format)?;
        }
        RuntimesCommand::Versions { runtime } => {
            let (client, id) = ctx.runtime_id(&runtime).await?;
            let all: Vec<AgentRuntimeSummary> = client
                .list_agent_runtime_versions(&id)
                .into_stream()
                .try_collect()
                .await
                .context("ListAgentRuntimeVersions")?;
            summaries(&all, format, false)?;
        }
        RuntimesCommand::Delete { runtime, version } => {
            let (client, id) = ctx.runtime_id(&runtime).await?;
            let mut req = client.delete_agent_runtime(&id);
            if let Some(v) = version {
                req = req.version(v);
            }
            let deleted = req.send().await?;
            match format {
                OutputFormat::Json => print_json(&deleted)?,
                _ => print_stdout(&fields(
                    &[("id", id), ("status", deleted.status.to_string())],
                    format,
                ))?,
            }
        }
        RuntimesCommand::Wait { runtime, timeout } => {
            let (client, id) = ctx.runtime_id(&runtime).await?;
            let rt = wait_ready(client, &id, Duration::from_secs(timeout)).await?;
            show_runtime(&rt, format)?;
        }
        RuntimesCommand::Create(settings) => {
            let client = ctx.client(None).await?;
            let mut req = client.create_agent_runtime();
            if let Some(f) = &settings.file {
                req = req.from_json(read_settings(f)?);
            }
            if let Some(n) = &settings.name {
                req = req.name(n.clone());
            }
            macro_rules! common {
                ($req:ident) => {{
                    let mut r = $req;
                    if let Some(u) = &settings.container_uri {
                        r = r.container_uri(u.clone());
                    }
                    if let Some(a) = &settings.role_arn {
                        r = r.role_arn(a.clone());
                    }
                    if let Some(p) = &settings.session_storage {
                        r = r.session_storage(p);
                    }
                    for kv in &settings.env {
                        let (k, v) = key_value(kv, "--env")?;
                        r = r.environment_variable(k, v);
                    }
                    if let Some(d) = &settings.description {
                        r = r.description(d.clone());
                    }
                    r
                }};
            }
            let req = common!(req);
            let change = req.send().await?;
            finish_change(client, change, &settings, format).await?;
        }
        RuntimesCommand::Update { runtime, settings } => {
            if settings.name.is_some() {
                return Err(CliError::new(
                    "--name is for create: a runtime's name cannot change",
                ));
            }
            let (client, id) = ctx.runtime_id(&runtime).await?;
            let current = client.get_agent_runtime(&id).send().await?;
            let mut req = client.update_agent_runtime(&id).from_runtime(&current);
            if let Some(f) = &settings.file {
                req = req.from_json(read_settings(f)?);
            }
            if let Some(u) = &settings.container_uri {
                req = req.container_uri(u.clone());
            }
            if let Some(a) = &settings.role_arn {
                req = req.role_arn(a.clone());
            }
            if let Some(p) = &settings.session_storage {
                req = req.session_storage(p);
            }
            for kv in &settings.env {
                let (k, v) = key_value(kv, "--env")?;
                req = req.environment_variable(k, v);
            }
            if let Some(d) = &settings.description {
                req = req.description(d.clone());
            }
            let change = req.send().await?;
            finish_change(client, change, &settings, format).await?;
        }
    }
    Ok(0)
}

/// Prints a create / update answer, or the runtime once READY with `--wait`.
async fn finish_change(
    client: &Client,
    change: AgentRuntimeChange,
    settings: &RuntimeSettings,
    format: OutputFormat,
) -> Result<()> {
    if settings.wait {
        let rt = wait_ready(
            client,
            change.agent_runtime_id.as_str(),
            Duration::from_secs(900),
        )
        .await?;
        return show_runtime(&rt, format);
    }
    match format {
        OutputFormat::Json => print_json(&change),
        _ => print_stdout(&fields(
            &[
                ("arn", change.agent_runtime_arn.to_string()),
                ("id", change.agent_runtime_id.to_string()),
                ("version", change.agent_runtime_version.clone()),
                ("status", change.status.to_string()),
            ],
            format,
        )),
    }
}

/// Waits until READY, with a spinner on a terminal.
async fn wait_ready(client: &Client, id: &str, timeout: Duration) -> Result<AgentRuntime> {
    let bar = spinner(&format!("waiting for {id} to be READY"));
    let result = client
        .wait_until_ready(id)
        .initial_delay(Duration::from_millis(100))
        .timeout(timeout)
        .send()
        .await;
    bar.finish_and_clear();
    Ok(result?)
}

/// A spinner on stderr, drawn only on a terminal without `NO_COLOR`.
pub fn spinner(message: &str) -> indicatif::ProgressBar {
    if !crate::output::progress_allowed() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

fn summaries(all: &[AgentRuntimeSummary], format: OutputFormat, names: bool) -> Result<()> {
    if format == OutputFormat::Json {
        return print_json(&all);
    }
    let color = color_on_stdout() && format == OutputFormat::Table;
    let mut t = if names {
        Table::new(&["name", "id", "version", "status", "updated"])
    } else {
        Table::new(&["version", "status", "updated", "description"])
    };
    for rt in all {
        if names {
            t.row(vec![
                rt.agent_runtime_name.to_string(),
                rt.agent_runtime_id.to_string(),
                rt.agent_runtime_version.clone(),
                status_word(rt.status.as_str(), color),
                time(rt.last_updated_at),
            ]);
        } else {
            t.row(vec![
                rt.agent_runtime_version.clone(),
                status_word(rt.status.as_str(), color),
                time(rt.last_updated_at),
                rt.description.clone(),
            ]);
        }
    }
    print_stdout(&t.render(format))
}

fn artifact(rt: &AgentRuntime) -> String {
    match &rt.agent_runtime_artifact {
        Some(AgentRuntimeArtifact::ContainerConfiguration(c)) => c.container_uri.clone(),
        Some(AgentRuntimeArtifact::CodeConfiguration(_)) => "code".into(),
        Some(_) => "other".into(),
        None => String::new(),
    }
}

fn show_runtime(rt: &AgentRuntime, format: OutputFormat) -> Result<()> {
    if format == OutputFormat::Json {
        return print_json(rt);
    }
    let color = color_on_stdout() && format == OutputFormat::Table;
    let mut pairs = vec![
        ("name", rt.agent_runtime_name.to_string()),
        ("id", rt.agent_runtime_id.to_string()),
        ("arn", rt.agent_runtime_arn.to_string()),
        ("version", rt.agent_runtime_version.clone()),
        ("status", status_word(rt.status.as_str(), color)),
    ];
    if let Some(r) = &rt.failure_reason {
        pairs.push(("failure", r.clone()));
    }
    if let Some(d) = &rt.description {
        pairs.push(("description", d.clone()));
    }
    pairs.push(("artifact", artifact(rt)));
    pairs.push(("role", rt.role_arn.clone()));
    let storage: Vec<String> = rt
        .filesystem_configurations
        .iter()
        .filter_map(|f| f.mount_path().map(|p| p.to_string()))
        .collect();
    if !storage.is_empty() {
        pairs.push(("filesystems", storage.join(", ")));
    }
    let lc = &rt.lifecycle_configuration;
    if let (Some(idle), Some(max)) = (lc.idle_runtime_session_timeout, lc.max_lifetime) {
        pairs.push(("lifecycle", format!("idle {idle} s, max {max} s")));
    }
    if let Some(env) = &rt.environment_variables {
        let names: Vec<String> = env.iter().map(|(k, _)| k.to_string()).collect();
        if !names.is_empty() {
            pairs.push(("environment", names.join(", ")));
        }
    }
    pairs.push(("created", time(rt.created_at)));
    pairs.push(("updated", time(rt.last_updated_at)));
    print_stdout(&fields(&pairs, format))
}

pub async fn endpoints(ctx: &Context, command: EndpointsCommand) -> Result<u8> {
    let format = ctx.output();
    match command {
        EndpointsCommand::List { runtime } => {
            let (client, id) = ctx.runtime_id(&runtime).await?;
            let all: Vec<AgentRuntimeEndpoint> = client
                .list_agent_runtime_endpoints(&id)
                .into_stream()
                .try_collect()
                .await
                .context("ListAgentRuntimeEndpoints")?;
            endpoint_table(&all, format)?;
        }
        EndpointsCommand::Get { runtime, name } => {
            let (client, id) = ctx.runtime_id(&runtime).await?;
            let ep = client.get_agent_runtime_endpoint(&id, &name).send().await?;
            match format {
                OutputFormat::Json => print_json(&ep)?,
                _ => {
                    let mut pairs = vec![
                        ("name", ep.name.to_string()),
                        ("arn", ep.agent_runtime_endpoint_arn.clone()),
                        ("status", ep.status.to_string()),
                        ("live", ep.live_version.clone().unwrap_or_default()),
                        ("target", ep.target_version.clone().unwrap_or_default()),
                    ];
                    if let Some(d) = &ep.description {
                        pairs.push(("description", d.clone()));
                    }
                    if let Some(r) = &ep.failure_reason {
                        pairs.push(("failure", r.clone()));
                    }
                    pairs.push(("created", time(ep.created_at)));
                    pairs.push(("updated", time(ep.last_updated_at)));
                    print_stdout(&fields(&pairs, format))?;
                }
            }
        }
        EndpointsCommand::Create { runtime, settings } => {
            let (client, id) = ctx.runtime_id(&runtime).await?;
            let mut req = client.create_agent_runtime_endpoint(&id);
            if let Some(f) = &settings.file {
                req = req.from_json(read_settings(f)?);
            }
            if let Some(n) = &settings.name {
                req = req.name(n.clone());
            }
            if let Some(v) = &settings.version {
                req = req.agent_runtime_version(v.clone());
            }
            if let Some(d) = &settings.description {
                req = req.description(d.clone());
            }
            show_endpoint_change(&req.send().await?, format)?;
        }
        EndpointsCommand::Update { runtime, settings } => {
            let EndpointSettings {
                name,
                file,
                version,
                description,
            } = settings;
            let file = file.as_deref().map(read_settings).transpose()?;
            let name = name
                .or_else(|| {
                    file.as_ref()
                        .and_then(|f| f["name"].as_str().map(str::to_owned))
                })
                .ok_or_else(|| CliError::new("which endpoint? give its NAME"))?;
            let (client, id) = ctx.runtime_id(&runtime).await?;
            let mut req = client.update_agent_runtime_endpoint(&id, &name);
            if let Some(mut f) = file {
                // The name is in the path, not the body.
                if let Some(o) = f.as_object_mut() {
                    o.remove("name");
                }
                req = req.from_json(f);
            }
            if let Some(v) = version {
                req = req.agent_runtime_version(v);
            }
            if let Some(d) = description {
                req = req.description(d);
            }
            show_endpoint_change(&req.send().await?, format)?;
        }
        EndpointsCommand::Delete { runtime, name } => {
            let (client, id) = ctx.runtime_id(&runtime).await?;
            let deleted = client
                .delete_agent_runtime_endpoint(&id, &name)
                .send()
                .await?;
            match format {
                OutputFormat::Json => print_json(&deleted)?,
                _ => print_stdout(&fields(
                    &[("name", name), ("status", deleted.status.to_string())],
                    format,
                ))?,
            }
        }
    }
    Ok(0)
}

fn show_endpoint_change(c: &AgentRuntimeEndpointChange, format: OutputFormat) -> Result<()> {
    match format {
        OutputFormat::Json => print_json(c),
        _ => print_stdout(&fields(
            &[
                ("arn", c.agent_runtime_endpoint_arn.clone()),
                ("status", c.status.to_string()),
                ("target", c.target_version.clone().unwrap_or_default()),
                ("live", c.live_version.clone().unwrap_or_default()),
            ],
            format,
        )),
    }
}

fn endpoint_table(all: &[AgentRuntimeEndpoint], format: OutputFormat) -> Result<()> {
    if format == OutputFormat::Json {
        return print_json(&all);
    }
    let color = color_on_stdout() && format == OutputFormat::Table;
    let mut t = Table::new(&["name", "live", "target", "status", "updated"]);
    for ep in all {
        t.row(vec![
            ep.name.to_string(),
            ep.live_version.clone().unwrap_or_default(),
            ep.target_version.clone().unwrap_or_default(),
            status_word(ep.status.as_str(), color),
            time(ep.last_updated_at),
        ]);
    }
    print_stdout(&t.render(format))
}

/// `status`: a runtime, its versions and endpoints.
pub async fn status(ctx: &Context, args: StatusArgs) -> Result<u8> {
    let format = ctx.output();
    let (client, arn) = ctx.runtime(args.target.runtime.as_deref()).await?;
    let id = arn.runtime_id().as_str().to_owned();
    let (rt, versions, endpoints) = tokio::try_join!(
        async { Ok::<_, CliError>(client.get_agent_runtime(&id).send().await?) },
        async {
            client
                .list_agent_runtime_versions(&id)
                .into_stream()
                .try_collect::<Vec<AgentRuntimeSummary>>()
                .await
                .context("ListAgentRuntimeVersions")
        },
        async {
            client
                .list_agent_runtime_endpoints(&id)
                .into_stream()
                .try_collect::<Vec<AgentRuntimeEndpoint>>()
                .await
                .context("ListAgentRuntimeEndpoints")
        },
    )?;
    if format == OutputFormat::Json {
        print_json(&serde_json::json!({
            "runtime": rt,
            "versions": versions,
            "endpoints": endpoints,
        }))?;
        return Ok(0);
    }
    let color = color_on_stdout() && format == OutputFormat::Table;
    let mut pairs = vec![
        ("runtime", rt.agent_runtime_name.to_string()),
        ("id", rt.agent_runtime_id.to_string()),
        ("arn", rt.agent_runtime_arn.to_string()),
        ("status", status_word(rt.status.as_str(), color)),
        ("version", rt.agent_runtime_version.clone()),
        ("updated", time(rt.last_updated_at)),
    ];
    if let Some(r) = &rt.failure_reason {
        pairs.push(("failure", r.clone()));
    }
    let vs: Vec<String> = versions
        .iter()
        .map(|v| format!("{} {}", v.agent_runtime_version, v.status))
        .collect();
    pairs.push(("versions", vs.join(", ")));
    let eps: Vec<String> = endpoints
        .iter()
        .map(|e| {
            format!(
                "{} → {} {}",
                e.name,
                e.live_version
                    .as_deref()
                    .or(e.target_version.as_deref())
                    .unwrap_or("-"),
                e.status
            )
        })
        .collect();
    pairs.push(("endpoints", eps.join(", ")));
    print_stdout(&fields(&pairs, format))?;
    Ok(0)
}
