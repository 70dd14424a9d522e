fn main() {
    let _ = agentcore_sdk::sh!("echo {nope}");
}
