//! `#[agentcore_local::test]`: an isolated local runtime and a ready session per test.

use agentcore_local::LocalRuntime;
use agentcore_sdk::{Client, RuntimeArn, Session};

#[agentcore_local::test]
async fn gets_a_ready_session_with_session_storage(session: Session) {
    let out = session
        .run("echo hi > /mnt/workspace/f && cat /mnt/workspace/f")
        .await
        .unwrap();
    assert_eq!(out.stdout, "hi\n");
}

#[agentcore_local::test]
async fn may_return_a_result(
    session: Session,
    client: Client,
    arn: RuntimeArn,
) -> Result<(), agentcore_sdk::Error> {
    assert_eq!(session.arn(), &arn);
    let rt = client
        .get_agent_runtime(arn.runtime_id().as_str())
        .send()
        .await?;
    assert!(
        rt.agent_runtime_name
            .as_str()
            .starts_with("t_may_return_a_result")
    );
    Ok(())
}

#[agentcore_local::test(mount_path = "/mnt/data")]
async fn custom_mount_path(session: Session, local: &LocalRuntime) {
    let out = session.run("ls /mnt").await.unwrap();
    assert_eq!(out.stdout, "data\n");
    assert!(local.data_dir().exists());
}

#[agentcore_local::test]
#[should_panic(expected = "test returned an error")]
async fn an_error_result_fails_the_test(session: Session) -> Result<(), agentcore_sdk::Error> {
    session.run("exit 3").await?.check()?;
    Ok(())
}
