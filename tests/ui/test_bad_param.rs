#[agentcore_local::test]
async fn bad_param(_x: u32) {}

fn main() {}
