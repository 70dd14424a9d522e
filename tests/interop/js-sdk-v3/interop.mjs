// AWS SDK for JavaScript v3 (`@aws-sdk/client-bedrock-agentcore-control`,
// `@aws-sdk/client-bedrock-agentcore`), unmodified, drives agentcore-local through the whole
// runtime flow in a given region.
//
//   node interop.mjs <endpoint> <region>
//
// Prints `ok <step>` per step and exits non-zero at the first failure.
import {
  BedrockAgentCoreControlClient,
  CreateAgentRuntimeCommand,
  CreateAgentRuntimeEndpointCommand,
  DeleteAgentRuntimeCommand,
  DeleteAgentRuntimeEndpointCommand,
  GetAgentRuntimeCommand,
  GetAgentRuntimeEndpointCommand,
  GetResourcePolicyCommand,
  ListAgentRuntimesCommand,
  ListAgentRuntimeVersionsCommand,
  ListTagsForResourceCommand,
  PutResourcePolicyCommand,
  UntagResourceCommand,
  UpdateAgentRuntimeCommand,
  ValidationException,
} from "@aws-sdk/client-bedrock-agentcore-control";
import {
  BedrockAgentCoreClient,
  InvokeAgentRuntimeCommand,
  InvokeAgentRuntimeCommandCommand,
  StopRuntimeSessionCommand,
} from "@aws-sdk/client-bedrock-agentcore";

const [endpoint, region] = process.argv.slice(2);
if (!endpoint || !region) {
  console.error("usage: node interop.mjs <endpoint> <region>");
  process.exit(2);
}

const config = {
  region,
  endpoint,
  credentials: { accessKeyId: "AKIDLOCAL", secretAccessKey: "local-secret" },
  maxAttempts: 1,
};
const cp = new BedrockAgentCoreControlClient(config);
const dp = new BedrockAgentCoreClient(config);

const ok = (step) => console.log(`ok ${step}`);
function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

async function main() {
  // Control plane. A request the service model forbids is refused with its typed error.
  try {
    await cp.send(
      new CreateAgentRuntimeCommand({
        agentRuntimeName: "not a valid name!",
        agentRuntimeArtifact: { containerConfiguration: { containerUri: "x" } },
        roleArn: "arn:aws:iam::123456789012:role/AgentRuntime",
        networkConfiguration: { networkMode: "PUBLIC" },
      }),
    );
    throw new Error("an invalid name was accepted");
  } catch (e) {
    check(e instanceof ValidationException, `ValidationException, got ${e.name}`);
    check(e.$metadata.httpStatusCode === 400, "status 400");
  }
  ok("validation_exception");

  const created = await cp.send(
    new CreateAgentRuntimeCommand({
      agentRuntimeName: "js_sdk_v3",
      agentRuntimeArtifact: {
        containerConfiguration: {
          containerUri: "123456789012.dkr.ecr.us-east-1.amazonaws.com/agent:1",
        },
      },
      roleArn: "arn:aws:iam::123456789012:role/AgentRuntime",
      networkConfiguration: { networkMode: "PUBLIC" },
      filesystemConfigurations: [{ sessionStorage: { mountPath: "/mnt/workspace" } }],
      tags: { team: "agents" },
    }),
  );
  const { agentRuntimeId: id, agentRuntimeArn: arn } = created;
  check(created.status === "CREATING", `created as CREATING, got ${created.status}`);
  check(
    arn.startsWith("arn:aws") && arn.includes(`:bedrock-agentcore:${region}:`),
    "the runtime ARN is in the client's region",
  );
  check(created.createdAt instanceof Date, "createdAt is a Date");
  ok("create_agent_runtime");

  let got;
  for (let i = 0; i < 100; i++) {
    got = await cp.send(new GetAgentRuntimeCommand({ agentRuntimeId: id }));
    if (got.status === "READY") break;
    await new Promise((r) => setTimeout(r, 100));
  }
  check(got.status === "READY", "the runtime became READY");
  check(
    got.filesystemConfigurations?.[0]?.sessionStorage?.mountPath === "/mnt/workspace",
    "session storage came back",
  );
  ok("get_agent_runtime");

  const listed = await cp.send(new ListAgentRuntimesCommand({}));
  check(
    listed.agentRuntimes.some((r) => r.agentRuntimeId === id),
    "the runtime is listed",
  );
  ok("list_agent_runtimes");

  await cp.send(
    new UpdateAgentRuntimeCommand({
      agentRuntimeId: id,
      agentRuntimeArtifact: got.agentRuntimeArtifact,
      roleArn: got.roleArn,
      networkConfiguration: got.networkConfiguration,
      filesystemConfigurations: got.filesystemConfigurations,
      description: "updated by the JavaScript SDK",
    }),
  );
  const versions = await cp.send(new ListAgentRuntimeVersionsCommand({ agentRuntimeId: id }));
  check(versions.agentRuntimes.length === 2, "two versions after the update");
  ok("update_agent_runtime");

  await cp.send(
    new CreateAgentRuntimeEndpointCommand({
      agentRuntimeId: id,
      name: "prod",
      agentRuntimeVersion: "2",
    }),
  );
  const ep = await cp.send(
    new GetAgentRuntimeEndpointCommand({ agentRuntimeId: id, endpointName: "prod" }),
  );
  check(ep.liveVersion === "2", "the endpoint serves version 2");
  ok("endpoints");

  const tags = await cp.send(new ListTagsForResourceCommand({ resourceArn: arn }));
  check(tags.tags?.team === "agents", "tags from create");
  await cp.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ["team"] }));
  await cp.send(
    new PutResourcePolicyCommand({
      resourceArn: arn,
      policy: '{"Version":"2012-10-17","Statement":[]}',
    }),
  );
  const policy = await cp.send(new GetResourcePolicyCommand({ resourceArn: arn }));
  check(typeof policy.policy === "string", "the policy came back");
  ok("tags_and_policies");

  // Data plane.
  const session = "js-sdk-v3-interop-session-0000000000000000001";
  const invoked = await dp.send(
    new InvokeAgentRuntimeCommand({
      agentRuntimeArn: arn,
      runtimeSessionId: session,
      payload: new TextEncoder().encode('{"prompt":"hi from js"}'),
    }),
  );
  const body = await invoked.response.transformToString();
  check(body.includes("hi from js"), `the echo agent answered with the payload: ${body}`);
  check(invoked.runtimeSessionId === session, "the session id came back");
  ok("invoke_agent_runtime");

  const out = await dp.send(
    new InvokeAgentRuntimeCommandCommand({
      agentRuntimeArn: arn,
      runtimeSessionId: session,
      body: {
        command: "echo from-js; echo err >&2; printf '%s\\n' \"$PWD\" > /mnt/workspace/pwd; exit 3",
        timeout: 60,
      },
    }),
  );
  let stdout = "";
  let stderr = "";
  const kinds = [];
  let exit;
  for await (const ev of out.stream) {
    check(ev.chunk, `a chunk, got ${JSON.stringify(ev)}`);
    if (ev.chunk.contentStart) kinds.push("start");
    if (ev.chunk.contentDelta) {
      kinds.push("delta");
      stdout += ev.chunk.contentDelta.stdout ?? "";
      stderr += ev.chunk.contentDelta.stderr ?? "";
    }
    if (ev.chunk.contentStop) {
      kinds.push("stop");
      exit = ev.chunk.contentStop.exitCode;
    }
  }
  check(stdout === "from-js\n", `command stdout ${JSON.stringify(stdout)}`);
  check(stderr === "err\n", `command stderr ${JSON.stringify(stderr)}`);
  check(kinds[0] === "start" && kinds.at(-1) === "stop", `event order ${kinds}`);
  check(exit === 3, `command exit code ${exit}`);
  // The same session keeps its workspace between commands.
  const again = await dp.send(
    new InvokeAgentRuntimeCommandCommand({
      agentRuntimeArn: arn,
      runtimeSessionId: session,
      body: { command: "cat /mnt/workspace/pwd" },
    }),
  );
  let seen = "";
  for await (const ev of again.stream) seen += ev.chunk?.contentDelta?.stdout ?? "";
  check(seen.trim().length > 0, "the file written by the first command is there");
  ok("invoke_agent_runtime_command");

  await dp.send(new StopRuntimeSessionCommand({ agentRuntimeArn: arn, runtimeSessionId: session }));
  ok("stop_runtime_session");

  await cp.send(new DeleteAgentRuntimeEndpointCommand({ agentRuntimeId: id, endpointName: "prod" }));
  await cp.send(new DeleteAgentRuntimeCommand({ agentRuntimeId: id }));
  ok("delete");
}

main().catch((e) => {
  console.error(`js-sdk-v3-interop: ${e?.name}: ${e?.message}`);
  console.error(e?.stack);
  process.exit(1);
});
