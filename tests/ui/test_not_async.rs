#[agentcore_local::test]
fn not_async(_session: agentcore_sdk::Session) {}

fn main() {}
