fn main() {
    let x = 1;
    let _ = agentcore_sdk::sh!("echo {x");
}
