"""Drive agentcore-local with boto3 (clients this project did not write).

Usage: python boto3_interop.py <endpoint-url> [region]
Prints one JSON object with what it observed; exits non-zero on any failure.
"""
import json
import sys
import time

import boto3
from botocore.exceptions import ClientError

endpoint = sys.argv[1]
region = sys.argv[2] if len(sys.argv) > 2 else "us-east-1"
common = dict(
    endpoint_url=endpoint,
    region_name=region,
    aws_access_key_id="AKIDLOCAL",
    aws_secret_access_key="local-secret",
)
control = boto3.client("bedrock-agentcore-control", **common)
data = boto3.client("bedrock-agentcore", **common)
result = {}

# Service-shaped validation errors.
try:
    control.create_agent_runtime(
        agentRuntimeName="bad_mount",
        agentRuntimeArtifact={"containerConfiguration": {"containerUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/agent:1"}},
        roleArn="arn:aws:iam::123456789012:role/AgentRuntime",
        filesystemConfigurations=[{"sessionStorage": {"mountPath": "/data/workspace"}}],
    )
    raise SystemExit("a bad mount path was accepted")
except ClientError as e:
    result["validationCode"] = e.response["Error"]["Code"]
    result["validationStatus"] = e.response["ResponseMetadata"]["HTTPStatusCode"]

created = control.create_agent_runtime(
    agentRuntimeName="boto3_interop",
    agentRuntimeArtifact={"containerConfiguration": {"containerUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/agent:1"}},
    roleArn="arn:aws:iam::123456789012:role/AgentRuntime",
    networkConfiguration={"networkMode": "PUBLIC"},
    lifecycleConfiguration={"idleRuntimeSessionTimeout": 900, "maxLifetime": 28800},
    filesystemConfigurations=[{"sessionStorage": {"mountPath": "/mnt/workspace"}}],
)
runtime_id = created["agentRuntimeId"]
arn = created["agentRuntimeArn"]
result["createStatus"] = created["status"]
for _ in range(100):
    got = control.get_agent_runtime(agentRuntimeId=runtime_id)
    if got["status"] == "READY":
        break
    time.sleep(0.1)
result["status"] = got["status"]
result["mountPath"] = got["filesystemConfigurations"][0]["sessionStorage"]["mountPath"]
result["createdAtType"] = type(got["createdAt"]).__name__
result["listed"] = [r["agentRuntimeName"] for r in control.list_agent_runtimes()["agentRuntimes"]]

session = "boto3-interop-session-0000000000000000001"


def run(command):
    resp = data.invoke_agent_runtime_command(
        agentRuntimeArn=arn,
        runtimeSessionId=session,
        body={"command": command, "timeout": 30},
    )
    out, err, stop, kinds = "", "", None, []
    for event in resp["stream"]:
        chunk = event["chunk"]
        kinds.extend(chunk.keys())
        if "contentDelta" in chunk:
            out += chunk["contentDelta"].get("stdout", "")
            err += chunk["contentDelta"].get("stderr", "")
        if "contentStop" in chunk:
            stop = chunk["contentStop"]
    return {"stdout": out, "stderr": err, "stop": stop, "first": kinds[0], "last": kinds[-1],
            "sessionHeader": resp.get("runtimeSessionId")}


result["first"] = run("echo streamed; echo to-stderr >&2; echo before-stop > /mnt/workspace/file.txt; exit 3")
data.stop_runtime_session(agentRuntimeArn=arn, runtimeSessionId=session)
result["afterStop"] = run("cat /mnt/workspace/file.txt")

# The rest of the runtime flow: ARN in the signed region, invoke by ARN and by id + accountId,
# endpoints, tags, update, delete.
result["arn"] = arn
account = arn.split(":")[4]
by_arn = data.invoke_agent_runtime(agentRuntimeArn=arn, runtimeSessionId=session, payload=b'{"prompt":"by arn"}')
result["invokeByArn"] = by_arn["response"].read().decode()
by_id = data.invoke_agent_runtime(agentRuntimeArn=runtime_id, accountId=account, runtimeSessionId=session,
                                  payload=b'{"prompt":"by id"}')
result["invokeById"] = by_id["response"].read().decode()
ep = control.create_agent_runtime_endpoint(agentRuntimeId=runtime_id, name="prod")
result["endpointArn"] = ep["agentRuntimeEndpointArn"]
result["endpoints"] = sorted(e["name"] for e in control.list_agent_runtime_endpoints(agentRuntimeId=runtime_id)["runtimeEndpoints"])
control.tag_resource(resourceArn=arn, tags={"team": "interop"})
result["tags"] = control.list_tags_for_resource(resourceArn=arn)["tags"]
updated = control.update_agent_runtime(
    agentRuntimeId=runtime_id,
    agentRuntimeArtifact={"containerConfiguration": {"containerUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/agent:2"}},
    roleArn="arn:aws:iam::123456789012:role/AgentRuntime",
    networkConfiguration={"networkMode": "PUBLIC"},
)
result["updatedVersion"] = updated["agentRuntimeVersion"]
control.delete_agent_runtime_endpoint(agentRuntimeId=runtime_id, endpointName="prod")
control.delete_agent_runtime(agentRuntimeId=runtime_id)
for _ in range(100):
    try:
        control.get_agent_runtime(agentRuntimeId=runtime_id)
    except ClientError as e:
        result["afterDelete"] = e.response["Error"]["Code"]
        break
    time.sleep(0.1)
print(json.dumps(result))
