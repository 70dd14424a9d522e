"""Session endpoints with boto3: invoke_agent_runtime returns sessionEndpointUrl for a runtime
with allowedPorts (not for one without), and a request signed with botocore's own SigV4
reaches a server in the session through it.

Usage: python boto3_session_endpoint.py <endpoint-url>
Prints one JSON object with what it observed; exits non-zero on any failure.
"""
import json
import sys
import time
import urllib.error
import urllib.request

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

endpoint = sys.argv[1]
common = dict(
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="AKIDLOCAL",
    aws_secret_access_key="local-secret",
)
control = boto3.client("bedrock-agentcore-control", **common)
data = boto3.client("bedrock-agentcore", **common)
result = {}


def runtime(name, **extra):
    created = control.create_agent_runtime(
        agentRuntimeName=name,
        agentRuntimeArtifact={"containerConfiguration": {"containerUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/agent:1"}},
        roleArn="arn:aws:iam::123456789012:role/AgentRuntime",
        networkConfiguration={"networkMode": "PUBLIC"},
        **extra,
    )
    for _ in range(100):
        if control.get_agent_runtime(agentRuntimeId=created["agentRuntimeId"])["status"] == "READY":
            break
        time.sleep(0.1)
    return created["agentRuntimeArn"]


with_ports = runtime("with_ports", allowedPorts=[{"port": 8000}, {"portRange": {"from": 9000, "to": 9010}}])
without = runtime("without_ports")
session = "boto3-endpoint-session-00000000000000000001"

got = control.get_agent_runtime(agentRuntimeId=with_ports.split("/")[-1])
result["allowedPorts"] = got.get("allowedPorts")

resp = data.invoke_agent_runtime(agentRuntimeArn=with_ports, runtimeSessionId=session, payload=b"{}")
resp["response"].read()
url = resp.get("sessionEndpointUrl")
result["sessionEndpointUrl"] = url

resp = data.invoke_agent_runtime(agentRuntimeArn=without, runtimeSessionId=session, payload=b"{}")
resp["response"].read()
result["withoutPorts"] = resp.get("sessionEndpointUrl")

if url:
    # A server in the session, bound to 0.0.0.0 on an allowed port.
    start = data.invoke_agent_runtime_command(
        agentRuntimeArn=with_ports,
        runtimeSessionId=session,
        body={"command": "mkdir -p /tmp/www && echo from-the-session > /tmp/www/index.html && "
                         "(setsid python3 -m http.server 8000 --bind 0.0.0.0 --directory /tmp/www "
                         "</dev/null >/dev/null 2>&1 &) && sleep 1", "timeout": 30},
    )
    for _ in start["stream"]:
        pass
    creds = Credentials("AKIDLOCAL", "local-secret")
    target = url.rstrip("/") + "/8000/index.html"
    request = AWSRequest(method="GET", url=target)
    SigV4Auth(creds, "bedrock-agentcore", "us-east-1").add_auth(request)
    with urllib.request.urlopen(urllib.request.Request(target, headers=dict(request.headers))) as r:
        result["signedGet"] = {"status": r.status, "body": r.read().decode()}
    try:
        urllib.request.urlopen(target)
        result["unsigned"] = "accepted"
    except urllib.error.HTTPError as e:
        result["unsigned"] = {"status": e.code, "code": e.headers.get("x-amzn-errortype")}
print(json.dumps(result))
