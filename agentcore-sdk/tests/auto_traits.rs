//! Every public future and stream of the SDK is `Send` (so it runs on a multi-threaded
//! runtime, inside `tokio::spawn`), and `Sync` where that costs nothing — all of them but the
//! race and bench futures (they hold the caller's hooks) and `watch::LogLines` (a boxed `Send`
//! stream by its public definition). This file is a compile-time test: the functions below
//! are never called; if a future or a stream loses one of these traits, the test crate does
//! not compile.
//!
//! The public types' own auto traits are also recorded in the API baseline
//! (`agentcore-sdk/public-api.txt`, `scripts/public-api.sh`).
#![allow(dead_code, clippy::all)]

use std::time::Duration;

use agentcore_sdk::control::{AgentRuntimesPage, ListRequest};
use agentcore_sdk::data::{AgentSocket, ByteStream, CommandRateLimiter, SseStream};
use agentcore_sdk::{Client, CommandStream, Session};

fn send<T: Send>(_: &T) {}
fn send_sync<T: Send + Sync>(_: &T) {}
fn types_send_sync<T: Send + Sync>() {}
fn types_send<T: Send>() {}

const ARN: &str = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/coder-AbCdE12345";

fn control_plane(client: &Client, list: &ListRequest<AgentRuntimesPage>) {
    send_sync(&client.create_agent_runtime().send());
    send_sync(&client.get_agent_runtime("a-0123456789").send());
    send_sync(&client.update_agent_runtime("a-0123456789").send());
    send_sync(&client.delete_agent_runtime("a-0123456789").send());
    send_sync(&list.send());
    send_sync(&client.list_agent_runtimes().into_stream());
    send_sync(&client.list_agent_runtimes().into_pages());
    send_sync(&client.list_agent_runtime_versions("a-0123456789").send());
    send_sync(&client.wait_until_ready("a-0123456789").send());
    send_sync(&client.create_agent_runtime_endpoint("a-0123456789").send());
    send_sync(
        &client
            .get_agent_runtime_endpoint("a-0123456789", "e")
            .send(),
    );
    send_sync(
        &client
            .update_agent_runtime_endpoint("a-0123456789", "e")
            .send(),
    );
    send_sync(
        &client
            .delete_agent_runtime_endpoint("a-0123456789", "e")
            .send(),
    );
    send_sync(&client.list_agent_runtime_endpoints("a-0123456789").send());
    send_sync(&client.tag_resource(ARN).send());
    send_sync(&client.untag_resource(ARN).send());
    send_sync(&client.list_tags_for_resource(ARN).send());
    send_sync(&client.put_resource_policy(ARN, "{}").send());
    send_sync(&client.get_resource_policy(ARN).send());
    send_sync(&client.delete_resource_policy(ARN).send());
    send_sync(
        &client
            .list_agent_runtime_versions_by_capacity_provider("p-0123456789")
            .send(),
    );
}

fn data_plane(client: &Client, session: &Session, limiter: &CommandRateLimiter) {
    send_sync(&client.command(ARN, "true").send());
    send_sync(&client.command(ARN, "true").output());
    send_sync(&client.run(ARN, "true"));
    send_sync(&client.invoke(ARN).send());
    send_sync(&client.stop_session(ARN, "s").send());
    send_sync(&client.get_agent_card(ARN).send());
    send_sync(
        &client
            .delete_capacity_provider_session("p-0123456789", "s")
            .send(),
    );
    send_sync(&session.stop());
    send_sync(&limiter.acquire());
}

fn data_streams(command: CommandStream, body: ByteStream, response: agentcore_sdk::InvokeResponse) {
    types_send_sync::<CommandStream>();
    types_send_sync::<ByteStream>();
    types_send_sync::<SseStream>();
    send_sync(&command.output());
    send_sync(&body.collect());
    send_sync(&response.bytes());
}

fn websockets(client: &Client, session: &Session, socket: AgentSocket) {
    send_sync(&client.invoke_websocket(ARN).connect());
    send_sync(&session.invoke_websocket().connect());
    send_sync(&socket.close());
    types_send_sync::<AgentSocket>();
}

fn shells(
    client: &Client,
    session: &Session,
    mut shell: agentcore_sdk::shell::Shell,
    writer: agentcore_sdk::shell::ShellWriter,
) {
    send_sync(&client.shell(ARN).connect());
    send_sync(&session.shell().connect());
    send_sync(&agentcore_sdk::shell::presigned_shell_url(
        client,
        ARN,
        "s",
        "main",
        Duration::from_secs(60),
    ));
    send_sync(&shell.wait());
    types_send_sync::<agentcore_sdk::shell::Shell>();
    types_send_sync::<agentcore_sdk::shell::ShellReader>();
    types_send_sync::<agentcore_sdk::shell::ShellWriter>();
    types_send_sync::<agentcore_sdk::shell::ShellEvents>();
    send_sync(&writer.detach());
}

fn shell_ends(
    a: agentcore_sdk::shell::Shell,
    b: agentcore_sdk::shell::Shell,
    c: agentcore_sdk::shell::Shell,
) {
    send_sync(&a.close());
    send_sync(&b.kill());
    send_sync(&c.detach());
}

fn workflow(client: &Client, session: &Session) {
    use agentcore_sdk::workflow::{bench::Bench, fleet::Fleet, race::Race, watch::Watch};
    send_sync(&session.run("true"));
    send_sync(&session.write_file("/tmp/x", b"x"));
    send_sync(&session.read_file("/tmp/x"));
    let repo = session.git("/tmp/repo");
    send_sync(&repo.init());
    send_sync(&repo.clone_from("https://example.com/r.git"));
    send_sync(&repo.set_identity("a", "a@example.com"));
    send_sync(&repo.commit_all("m"));
    send_sync(&repo.push("origin", "HEAD"));
    send_sync(&repo.head());
    send_sync(&repo.log(3));
    send_sync(&repo.status());
    // A race's and a bench's futures hold the caller's own hooks (`Send` futures): `Send`.
    send(&Race::builder(client).run());
    send(&Bench::builder(client).run());
    if let Ok(fleet) = Fleet::builder(client, ARN) {
        send_sync(&fleet.run(|s, _| async move { s.run("true").await }));
    }
    let watch = Watch::new(session);
    send_sync(&watch.tail(5));
    send_sync(&watch.follow());
    send_sync(&watch.note("hi"));
    // A boxed `Send` stream by definition (a public type alias).
    types_send::<agentcore_sdk::workflow::watch::LogLines>();
    // Nothing left billing: cancelling, the ledger, stop_all.
    let bench = Bench::builder(client);
    send_sync(&bench.cancel_handle().cancel());
    send_sync(&agentcore_sdk::workflow::stop_all(
        client,
        "sessions.ledger",
    ));
    if let Ok(ledger) = agentcore_sdk::workflow::Ledger::open("sessions.ledger") {
        send_sync(&ledger.record_started(session));
        send_sync(&ledger.record_stopped(session));
    }
    types_send_sync::<agentcore_sdk::workflow::CancelHandle>();
    types_send_sync::<agentcore_sdk::workflow::Ledger>();
}

fn processes(session: &Session, p: agentcore_sdk::process::Process) {
    use agentcore_sdk::process::{ProcessOutput, Signal};
    send_sync(&session.spawn("true").start());
    send_sync(&session.processes());
    send_sync(&p.wait());
    send_sync(&p.kill(Signal::TERM));
    send_sync(&p.write_stdin(b"x"));
    send_sync(&p.close_stdin());
    send_sync(&p.info());
    send_sync(&p.output().collect());
    send_sync(&p.clone().remove());
    types_send_sync::<ProcessOutput>();
}

fn files(session: &Session) {
    let files = session.files();
    send_sync(&files.read("/x"));
    send_sync(&files.write("/x", b"x"));
    send_sync(&files.list("/x"));
    send_sync(&files.stat("/x"));
    send_sync(&files.exists("/x"));
    send_sync(&files.remove("/x"));
    send_sync(&files.remove_all("/x"));
    send_sync(&files.rename("/x", "/y"));
    send_sync(&files.mkdir("/x"));
    send_sync(&files.upload("a", "/x").send());
    send_sync(&files.upload_dir("a", "/x").send());
    send_sync(&files.download("/x", "a").send());
    send_sync(&files.download_dir("/x", "a").send());
    send_sync(&files.watch("/x").start());
    types_send_sync::<agentcore_sdk::files::FileWatch>();
}

fn endpoints(session: &Session, w: agentcore_sdk::files::FileWatch) {
    send_sync(&w.close());
    send_sync(
        &session
            .endpoint_request(8000, http::Method::GET, "/")
            .send(),
    );
    send_sync(&session.endpoint_websocket(8000, "/").connect());
    send_sync(&session.preview(8000).start());
}

fn preview_ends(p: agentcore_sdk::preview::Preview) {
    send_sync(&p.shutdown());
}

/// The handles themselves: clients, sessions and builders are `Send + Sync` (cheap clones).
#[test]
fn handles_are_send_and_sync() {
    types_send_sync::<Client>();
    types_send_sync::<Session>();
    types_send_sync::<agentcore_sdk::Config>();
    types_send_sync::<agentcore_sdk::Error>();
    types_send_sync::<agentcore_sdk::data::CommandRequest>();
    types_send_sync::<agentcore_sdk::data::InvokeRequest>();
    types_send_sync::<agentcore_sdk::shell::ShellBuilder>();
    types_send_sync::<agentcore_sdk::data::AgentSocketBuilder>();
    types_send_sync::<ListRequest<AgentRuntimesPage>>();
    types_send_sync::<CommandRateLimiter>();
    types_send_sync::<agentcore_sdk::process::Process>();
    types_send_sync::<agentcore_sdk::process::ProcessBuilder>();
    types_send_sync::<agentcore_sdk::files::Files>();
    types_send_sync::<agentcore_sdk::files::Upload>();
    types_send_sync::<agentcore_sdk::files::Download>();
    types_send_sync::<agentcore_sdk::data::EndpointRequest>();
    types_send_sync::<agentcore_sdk::preview::Preview>();
}
