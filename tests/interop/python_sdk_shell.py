"""The official Python SDK (PyPI `bedrock-agentcore`), unmodified, opens an interactive shell
on agentcore-local, in each of its three auth modes.

Run by tests/tests/interop_python_sdk.rs with the data-plane endpoint pointed at
agentcore-local (BEDROCK_AGENTCORE_DP_ENDPOINT, an https:// AWS host name that resolves to
127.0.0.1, trusted through SSL_CERT_FILE) and boto3 at the same server
(AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL, AWS_CA_BUNDLE).

Usage: python python_sdk_shell.py <region> <bearer-token>
Prints one JSON object; exits non-zero on any failure.
"""
import asyncio
import json
import sys
import time
import uuid

import boto3
from bedrock_agentcore.runtime import AgentCoreRuntimeClient
from bedrock_agentcore.runtime.shell.auth import OAuthAuth, PresignedAuth
from bedrock_agentcore.runtime.shell.protocol import ShellChannel

region, token = sys.argv[1], sys.argv[2]
control = boto3.client("bedrock-agentcore-control", region_name=region)
created = control.create_agent_runtime(
    agentRuntimeName="python_sdk_shell",
    agentRuntimeArtifact={"containerConfiguration": {"containerUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/agent:1"}},
    roleArn="arn:aws:iam::123456789012:role/AgentRuntime",
    networkConfiguration={"networkMode": "PUBLIC"},
    filesystemConfigurations=[{"sessionStorage": {"mountPath": "/mnt/workspace"}}],
)
rid, arn = created["agentRuntimeId"], created["agentRuntimeArn"]
for _ in range(100):
    if control.get_agent_runtime(agentRuntimeId=rid)["status"] == "READY":
        break
    time.sleep(0.1)

client = AgentCoreRuntimeClient(region=region)


async def one(name, auth):
    stdout = b""
    async with client.open_shell(arn, session_id=str(uuid.uuid4()), auth=auth) as shell:
        await shell.send(f"echo shell-says-$((6*7)) {name}; exit 3\n")
        async for frame in shell:
            if frame.channel == ShellChannel.STDOUT:
                stdout += frame.payload
    return {"stdout": stdout.decode(errors="replace"), "exit": shell.exit_code}


async def main():
    out = {"arn": arn}
    for name, auth in (
        ("sigv4", "sigv4"),
        ("presigned", PresignedAuth(expires=60)),
        ("oauth", OAuthAuth(bearer_token=token)),
    ):
        out[name] = await one(name, auth)
    print(json.dumps(out))


asyncio.run(main())
