fn main() {
    let _ = agentcore_sdk::sh!("echo {} {}", 1);
}
