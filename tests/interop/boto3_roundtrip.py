"""boto3 creates a runtime with every member of today's model set, then (after the Rust SDK
did a get -> update round trip, signalled on stdin) reads it back.

Usage: python boto3_roundtrip.py <endpoint-url>
Prints {"id": ...} after creating; waits for a line on stdin; prints
{"before": <GetAgentRuntime>, "after": <GetAgentRuntime>} (volatile members removed).
"""
import json
import sys

import boto3

endpoint = sys.argv[1]
common = dict(
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="AKIDLOCAL",
    aws_secret_access_key="local-secret",
)
control = boto3.client("bedrock-agentcore-control", **common)

created = control.create_agent_runtime(
    agentRuntimeName="every_member",
    agentRuntimeArtifact={
        "codeConfiguration": {
            "code": {"s3": {"bucket": "agent-code", "prefix": "coder/v1.zip", "versionId": "v123"}},
            "runtime": "PYTHON_3_13",
            "entryPoint": ["main.py"],
        }
    },
    roleArn="arn:aws:iam::123456789012:role/AgentRuntime",
    networkConfiguration={"networkMode": "PUBLIC"},
    description="every member set",
    authorizerConfiguration={
        "customJWTAuthorizer": {
            "discoveryUrl": "https://idp.example.com/.well-known/openid-configuration",
            "allowedAudience": ["agents"],
            "allowedClients": ["client-1"],
            "allowedScopes": ["agent:invoke"],
            "customClaims": [
                {
                    "inboundTokenClaimName": "team",
                    "inboundTokenClaimValueType": "STRING",
                    "authorizingClaimMatchValue": {
                        "claimMatchValue": {"matchValueString": "agents"},
                        "claimMatchOperator": "EQUALS",
                    },
                }
            ],
        }
    },
    requestHeaderConfiguration={"requestHeaderAllowlist": ["X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant"]},
    protocolConfiguration={"serverProtocol": "MCP", "port": 8000, "path": "/mcp"},
    lifecycleConfiguration={"idleRuntimeSessionTimeout": 600, "maxLifetime": 3600},
    hooksConfiguration={"build": {"warmup": {"action": {"httpPost": {"path": "/warmup", "port": 8000}}}}},
    environmentVariables={"LOG_LEVEL": "info"},
    filesystemConfigurations=[
        {"sessionStorage": {"mountPath": "/mnt/workspace"}},
        {"s3BucketMount": {"bucket": "team-data", "mountPath": "/mnt/data", "prefix": "shared/", "s3BucketOwner": "123456789012", "s3BucketRegion": "us-east-1"}},
    ],
    capacityProviderConfiguration={
        "capacityProviderArn": "arn:aws:bedrock-agentcore:us-east-1:123456789012:capacity-provider/pool_1-abcdefghij",
        "operatingSystemConfiguration": {"linux": {"privilegeMode": "PRIVILEGED"}},
    },
    platformVersion="2026.11",
    allowedPorts=[{"port": 9000}, {"portRange": {"from": 9100, "to": 9110}}],
    resourceConfigurations=[{"minimumMemoryInMiB": 4096}],
    tags={"team": "agents"},
)
rid = created["agentRuntimeId"]
control.update_agent_runtime(
    agentRuntimeId=rid,
    agentRuntimeArtifact=control.get_agent_runtime(agentRuntimeId=rid)["agentRuntimeArtifact"],
    roleArn="arn:aws:iam::123456789012:role/AgentRuntime",
    networkConfiguration={"networkMode": "PUBLIC"},
    metadataConfiguration={"requireMMDSV2": True},
    **{k: v for k, v in control.get_agent_runtime(agentRuntimeId=rid).items()
       if k in ("authorizerConfiguration", "requestHeaderConfiguration", "protocolConfiguration",
                "lifecycleConfiguration", "hooksConfiguration", "environmentVariables",
                "filesystemConfigurations", "capacityProviderConfiguration", "platformVersion",
                "allowedPorts", "resourceConfigurations", "description")},
)

VOLATILE = ("ResponseMetadata", "agentRuntimeVersion", "lastUpdatedAt", "createdAt", "status", "description")


def snapshot():
    got = control.get_agent_runtime(agentRuntimeId=rid)
    return {k: v for k, v in got.items() if k not in VOLATILE}


before = snapshot()
print(json.dumps({"id": rid}), flush=True)
sys.stdin.readline()
after = snapshot()
final = control.get_agent_runtime(agentRuntimeId=rid)
print(json.dumps({"before": before, "after": after, "description": final.get("description")}, default=str), flush=True)
