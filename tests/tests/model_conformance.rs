//! Model conformance: the SDK against the pinned botocore service models
//! (`tests/model/botocore-version`, read from the test venv at run time; nothing of the model
//! is stored here).
//!
//! - **members**: for every structure and union reachable from the runtime-area shapes the SDK
//!   maps, maximal instances built from the model (`tests/model/conformance.py`) must decode
//!   into our types with every member typed (nothing left in `unknown_members` or an
//!   `Unknown` variant) and encode back to the same JSON;
//! - **operations**: every runtime-area operation of the model is called through the SDK
//!   against a recording server: method, path template, query and header names, and JSON body
//!   member names must be the model's;
//! - **limits**: every min / max / pattern of those operations' request members, both sides:
//!   a value just inside is accepted and one just outside is refused before anything is sent.
//!
//! Prints `model conformance: <ops ok>/<ops> operations, <members ok>/<members> members,
//! <limits ok>/<limits> limits` and fails if any count is short.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;

use agentcore_sdk::__private::{AgentRuntimeEndpointInput, AgentRuntimeInput};
use agentcore_sdk::Client;
use agentcore_sdk::control::{
    AgentRuntime, AgentRuntimeChange, AgentRuntimeEndpoint, AgentRuntimeEndpointChange,
    AgentRuntimeEndpointsPage, AgentRuntimesPage, CapacityProviderVersionsPage,
    DeletedAgentRuntime, DeletedAgentRuntimeEndpoint,
};
use agentcore_sdk::data::DeletedCapacityProviderSession;
use serde_json::Value;

const CONTROL: &str = "bedrock-agentcore-control";
const DATA: &str = "bedrock-agentcore";

/// Root shapes of the runtime area and the SDK type each decodes into.
fn roots() -> Vec<(&'static str, &'static str, Checker)> {
    vec![
        (CONTROL, "GetAgentRuntimeResponse", check::<AgentRuntime>),
        (
            CONTROL,
            "CreateAgentRuntimeRequest",
            check::<AgentRuntimeInput>,
        ),
        (
            CONTROL,
            "UpdateAgentRuntimeRequest",
            check::<AgentRuntimeInput>,
        ),
        (
            CONTROL,
            "CreateAgentRuntimeResponse",
            check::<AgentRuntimeChange>,
        ),
        (
            CONTROL,
            "UpdateAgentRuntimeResponse",
            check::<AgentRuntimeChange>,
        ),
        (
            CONTROL,
            "DeleteAgentRuntimeResponse",
            check::<DeletedAgentRuntime>,
        ),
        (
            CONTROL,
            "ListAgentRuntimesResponse",
            check::<AgentRuntimesPage>,
        ),
        (
            CONTROL,
            "ListAgentRuntimeVersionsResponse",
            check::<AgentRuntimesPage>,
        ),
        (
            CONTROL,
            "GetAgentRuntimeEndpointResponse",
            check::<AgentRuntimeEndpoint>,
        ),
        (
            CONTROL,
            "CreateAgentRuntimeEndpointRequest",
            check::<AgentRuntimeEndpointInput>,
        ),
        (
            CONTROL,
            "UpdateAgentRuntimeEndpointRequest",
            check::<AgentRuntimeEndpointInput>,
        ),
        (
            CONTROL,
            "CreateAgentRuntimeEndpointResponse",
            check::<AgentRuntimeEndpointChange>,
        ),
        (
            CONTROL,
            "UpdateAgentRuntimeEndpointResponse",
            check::<AgentRuntimeEndpointChange>,
        ),
        (
            CONTROL,
            "DeleteAgentRuntimeEndpointResponse",
            check::<DeletedAgentRuntimeEndpoint>,
        ),
        (
            CONTROL,
            "ListAgentRuntimeEndpointsResponse",
            check::<AgentRuntimeEndpointsPage>,
        ),
        (
            CONTROL,
            "ListAgentRuntimeVersionsByCapacityProviderOutput",
            check::<CapacityProviderVersionsPage>,
        ),
        (CONTROL, "ListTagsForResourceResponse", check::<Tags>),
        (CONTROL, "TagResourceRequest", check::<Tags>),
        (CONTROL, "GetResourcePolicyResponse", check::<Policy>),
        (CONTROL, "PutResourcePolicyRequest", check::<Policy>),
        (CONTROL, "PutResourcePolicyResponse", check::<Policy>),
        (
            DATA,
            "DeleteCapacityProviderSessionResponse",
            check::<DeletedCapacityProviderSession>,
        ),
    ]
}

/// Bodies the SDK takes and returns as plain values (a tag map, a policy string), with the
/// members the SDK reads and writes.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Tags {
    tags: BTreeMap<String, String>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Policy {
    policy: String,
}

/// The operations of the runtime area.
const OPERATIONS: &[(&str, &str)] = &[
    (CONTROL, "CreateAgentRuntime"),
    (CONTROL, "GetAgentRuntime"),
    (CONTROL, "UpdateAgentRuntime"),
    (CONTROL, "DeleteAgentRuntime"),
    (CONTROL, "ListAgentRuntimes"),
    (CONTROL, "ListAgentRuntimeVersions"),
    (CONTROL, "ListAgentRuntimeVersionsByCapacityProvider"),
    (CONTROL, "CreateAgentRuntimeEndpoint"),
    (CONTROL, "GetAgentRuntimeEndpoint"),
    (CONTROL, "UpdateAgentRuntimeEndpoint"),
    (CONTROL, "DeleteAgentRuntimeEndpoint"),
    (CONTROL, "ListAgentRuntimeEndpoints"),
    (CONTROL, "TagResource"),
    (CONTROL, "UntagResource"),
    (CONTROL, "ListTagsForResource"),
    (CONTROL, "PutResourcePolicy"),
    (CONTROL, "GetResourcePolicy"),
    (CONTROL, "DeleteResourcePolicy"),
    (DATA, "InvokeAgentRuntime"),
    (DATA, "InvokeAgentRuntimeCommand"),
    (DATA, "StopRuntimeSession"),
    (DATA, "GetAgentCard"),
    (DATA, "DeleteCapacityProviderSession"),
];

type Checker = fn(&Value) -> Result<(), (String, BTreeSet<String>)>;

/// Decodes `json` as `T` and encodes it back. On failure: why, and the member names that
/// were not typed (empty when the failure cannot be pinned on members).
fn check<T>(json: &Value) -> Result<(), (String, BTreeSet<String>)>
where
    T: serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let typed: T = serde_json::from_value(json.clone())
        .map_err(|e| (format!("does not decode: {e}"), BTreeSet::new()))?;
    let debug = format!("{typed:?}");
    let mut untyped = BTreeSet::new();
    for marker in ["unknown_members: {\"", "Unknown(Object {\""] {
        for (i, _) in debug.match_indices(marker) {
            let rest = &debug[i + marker.len()..];
            if let Some(end) = rest.find('"') {
                untyped.insert(rest[..end].to_owned());
            }
        }
    }
    if debug.contains("Unknown(String(") {
        untyped.insert("<enum value>".to_owned());
    }
    let back = serde_json::to_value(&typed).map_err(|e| (e.to_string(), BTreeSet::new()))?;
    if back != *json {
        let mut diff = BTreeSet::new();
        json_diff(json, &back, &mut diff);
        return Err((format!("does not round-trip: {diff:?}"), diff));
    }
    if untyped.is_empty() {
        Ok(())
    } else {
        Err((format!("untyped: {untyped:?}"), untyped))
    }
}

/// Member names whose values differ between `a` and `b`.
fn json_diff(a: &Value, b: &Value, out: &mut BTreeSet<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) if p != q => {
                        if p.is_object() || p.is_array() {
                            json_diff(p, q, out)
                        } else {
                            out.insert(k.clone());
                        }
                    }
                    (Some(_), None) | (None, Some(_)) => {
                        out.insert(k.clone());
                    }
                    _ => {}
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (p, q) in x.iter().zip(y) {
                json_diff(p, q, out);
            }
        }
        _ => {}
    }
}

fn model_facts() -> Option<Value> {
    let python = tests::python_with_boto3("model_conformance")?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/model/conformance.py");
    let mut args: Vec<String> = roots()
        .iter()
        .map(|(svc, shape, _)| format!("{svc}:{shape}"))
        .collect();
    args.push("--ops".into());
    args.extend(OPERATIONS.iter().map(|(svc, op)| format!("{svc}:{op}")));
    let out = std::process::Command::new(python)
        .arg(script)
        .args(&args)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "conformance.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("conformance.py prints JSON"))
}

/// One SDK call per operation of the runtime area it implements, with every member it can
/// send set.
type Call = Box<dyn Fn(Client) -> Pin<Box<dyn Future<Output = ()> + Send>>>;

fn calls() -> BTreeMap<&'static str, Call> {
    const ARN: &str = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/coder-abcdefghij";
    const ID: &str = "coder-abcdefghij";
    const SID: &str = "0123456789abcdef0123456789abcdef0123";
    let mut m: BTreeMap<&'static str, Call> = BTreeMap::new();
    m.insert(
        "CreateAgentRuntime",
        Box::new(|c| {
            Box::pin(async move {
                let _ = c
                    .create_agent_runtime()
                    .name("coder")
                    .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/a:1")
                    .role_arn("arn:aws:iam::123456789012:role/r")
                    .description("d")
                    .session_storage("/mnt/workspace")
                    .tag("k", "v")
                    .send()
                    .await;
            })
        }),
    );
    m.insert(
        "GetAgentRuntime",
        Box::new(|c| {
            Box::pin(async move {
                let _ = c.get_agent_runtime(ID).version("1").send().await;
            })
        }),
    );
    m.insert(
        "UpdateAgentRuntime",
        Box::new(|c| {
            Box::pin(async move {
                let _ = c
                    .update_agent_runtime(ID)
                    .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/a:2")
                    .role_arn("arn:aws:iam::123456789012:role/r")
                    .send()
                    .await;
            })
        }),
    );
    m.insert(
        "DeleteAgentRuntime",
        Box::new(|c| {
            Box::pin(async move {
                let _ = c.delete_agent_runtime(ID).send().await;
            })
        }),
    );
    m.insert(
        "ListAgentRuntimes",
        Box::new(|c| {
            Box::pin(async move {
                let _ = c.list_agent_runtimes().max_results(5).send().await;
            })
        }),
    );
    m.insert(
        "ListAgentRuntimeVersions",
        Box::new(|c| {
            Box::pin(async move {
                let _ = c
                    .list_agent_runtime_versions(ID)
                    .max_results(5)
                    .send()
                    .await;
            })
        }),
    );
    m.insert(
        "CreateAgentRuntimeEndpoint",
        Box::new(|c| {
            Box::pin(async move {
                let _ = c
                    .create_agent_runtime_endpoint(ID)
                    .name("prod")
                    .agent_runtime_version("1")
                    .description("d")
                    .send()
                    .await;
            })
        }),
    );
    m.insert(
        "GetAgentRuntimeEndpoint",
        Box::new(|c| {
            Box::pin(async move {
                let _ = c.get_agent_runtime_endpoint(ID, "prod").send().await;
            })
        }),
    );
    m.insert(
        "UpdateAgentRuntimeEndpoint",
        Box::new(|c| {
            Box::pin(async move {
                let _ = c
                    .update_agent_runtime_endpoint(ID, "prod")
                    .agent_runtime_version("2")
                    .send()
                    .await;
            })
        }),
    );
    m.insert(
        "DeleteAgentRuntimeEndpoint",
        Box::new(|c| {
            Box::pin(async move {
                let _ = c.delete_agent_runtime_endpoint(ID, "prod").send().await;
            })
        }),
    );
    m.insert(
        "ListAgentRuntimeEndpoints",
        Box::new(|c| {
            Box::pin(async move {
                let _ = c
                    .list_agent_runtime_endpoints(ID)
                    .max_results(5)
                    .send()
                    .await;
            })
        }),
    );
    m.insert(
        "InvokeAgentRuntime",
        Box::new(|c| {
            Box::pin(async move {
                let _ = c
                    .invoke(ARN)
                    .session_id(SID)
                    .qualifier("prod")
                    .payload("{}")
                    .send()
                    .await;
            })
        }),
    );
    m.insert(
        "InvokeAgentRuntimeCommand",
        Box::new(|c| {
            Box::pin(async move {
                let _ = c
                    .command(ARN, "true")
                    .session_id(SID)
                    .qualifier("prod")
                    .timeout(std::time::Duration::from_secs(30))
                    .send()
                    .await;
            })
        }),
    );
    m.insert(
        "StopRuntimeSession",
        Box::new(|c| {
            Box::pin(async move {
                let _ = c.stop_session(ARN, SID).qualifier("prod").send().await;
            })
        }),
    );
    const CP: &str = "pool_1-abcdefghij";
    m.insert(
        "ListAgentRuntimeVersionsByCapacityProvider",
        Box::new(|c| {
            Box::pin(async move {
                let _ = c
                    .list_agent_runtime_versions_by_capacity_provider(CP)
                    .max_results(5)
                    .send()
                    .await;
            })
        }),
    );
    m.insert(
        "TagResource",
        Box::new(|c| {
            Box::pin(async move {
                let _ = c.tag_resource(ARN).tag("team", "agents").send().await;
            })
        }),
    );
    m.insert(
        "UntagResource",
        Box::new(|c| {
            Box::pin(async move {
                let _ = c
                    .untag_resource(ARN)
                    .tag_key("team")
                    .tag_key("x")
                    .send()
                    .await;
            })
        }),
    );
    m.insert(
        "ListTagsForResource",
        Box::new(|c| {
            Box::pin(async move {
                let _ = c.list_tags_for_resource(ARN).send().await;
            })
        }),
    );
    m.insert(
        "PutResourcePolicy",
        Box::new(|c| {
            Box::pin(async move {
                let _ = c.put_resource_policy(ARN, "{}").send().await;
            })
        }),
    );
    m.insert(
        "GetResourcePolicy",
        Box::new(|c| {
            Box::pin(async move {
                let _ = c.get_resource_policy(ARN).send().await;
            })
        }),
    );
    m.insert(
        "DeleteResourcePolicy",
        Box::new(|c| {
            Box::pin(async move {
                let _ = c.delete_resource_policy(ARN).send().await;
            })
        }),
    );
    m.insert(
        "GetAgentCard",
        Box::new(|c| {
            Box::pin(async move {
                let _ = c
                    .get_agent_card(ARN)
                    .session_id(SID)
                    .qualifier("prod")
                    .send()
                    .await;
            })
        }),
    );
    m.insert(
        "DeleteCapacityProviderSession",
        Box::new(|c| {
            Box::pin(async move {
                let _ = c.delete_capacity_provider_session(CP, "s-1").send().await;
            })
        }),
    );
    m
}

/// `requestUri` (`/runtimes/{agentRuntimeId}/?x`) as a matcher of a request path.
fn path_matches(template: &str, path: &str) -> bool {
    let template = template.split('?').next().unwrap_or_default();
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    if t.iter().any(|s| s.ends_with("+}")) {
        return true; // greedy labels: not used by the runtime area
    }
    t.len() == p.len()
        && t.iter().zip(&p).all(|(t, p)| {
            if t.starts_with('{') && t.ends_with('}') {
                !p.is_empty()
            } else {
                t == p
            }
        })
}

async fn check_operation(spec: &Value, call: &Call) -> Result<(), String> {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(500).set_body_string("{}"))
        .mount(&server)
        .await;
    let client = Client::from_conf(
        agentcore_sdk::Config::builder()
            .region("us-east-1")
            .endpoint_url(server.uri())
            .static_credentials("AKID", "secret")
            .retry_config(agentcore_sdk::RetryConfig::disabled())
            .build()
            .map_err(|e| e.to_string())?,
    );
    call(client).await;
    let requests = server.received_requests().await.unwrap_or_default();
    let req = requests.first().ok_or("the SDK sent nothing")?;
    let method = spec["method"].as_str().unwrap_or_default();
    if req.method.as_str() != method {
        return Err(format!("method {} instead of {method}", req.method));
    }
    let uri = spec["uri"].as_str().unwrap_or_default();
    if !path_matches(uri, req.url.path()) {
        return Err(format!("path {} does not match {uri}", req.url.path()));
    }
    let members = spec["members"].as_object().cloned().unwrap_or_default();
    let by_location = |loc: &str| -> BTreeSet<String> {
        members
            .values()
            .filter(|m| m["location"] == loc)
            .filter_map(|m| m["locationName"].as_str().map(str::to_ascii_lowercase))
            .collect()
    };
    let query = by_location("querystring");
    let template_query: BTreeSet<String> = uri
        .split_once('?')
        .map(|(_, q)| {
            q.split('&')
                .map(|k| k.split('=').next().unwrap_or(k).to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    for (k, _) in req.url.query_pairs() {
        let k = k.to_ascii_lowercase();
        if !query.contains(&k) && !template_query.contains(&k) {
            return Err(format!("query parameter {k} is not in the model"));
        }
    }
    let headers = by_location("header");
    for h in &headers {
        let required = members.values().any(|m| {
            m["location"] == "header"
                && m["required"] == true
                && m["locationName"]
                    .as_str()
                    .map(str::to_ascii_lowercase)
                    .as_deref()
                    == Some(h)
        });
        if required && !req.headers.contains_key(h.as_str()) {
            return Err(format!("required header {h} missing"));
        }
    }
    let body_members: BTreeSet<String> = members
        .iter()
        .filter(|(_, m)| m["location"] == "body")
        .map(|(k, m)| m["locationName"].as_str().unwrap_or(k).to_owned())
        .collect();
    // A blob payload (the agent's input) is sent as is; JSON bodies are checked.
    let blob_payload =
        members.values().any(|m| m["location"] == "payload") && body_members.is_empty();
    if !blob_payload && !req.body.is_empty() {
        let body: Value =
            serde_json::from_slice(&req.body).map_err(|e| format!("body is not JSON: {e}"))?;
        for k in body
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            if !body_members.contains(&k) {
                return Err(format!("body member {k} is not in the model"));
            }
        }
        for (k, m) in &members {
            if m["location"] == "body" && m["required"] == true && body.get(k).is_none() {
                return Err(format!("required body member {k} missing"));
            }
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_conformance() {
    let Some(facts) = tokio::task::spawn_blocking(model_facts).await.unwrap() else {
        return;
    };
    let version = facts["botocore"].as_str().unwrap_or("?");
    assert_eq!(
        version,
        tests::BOTOCORE_VERSION.trim(),
        "the venv holds the pinned botocore"
    );

    // Members.
    let mut all: BTreeSet<(String, String)> = BTreeSet::new();
    let mut bad: BTreeMap<(String, String), String> = BTreeMap::new();
    for (_, root, checker) in roots() {
        let instances = facts["instances"][root]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(!instances.is_empty(), "no instance of {root}");
        for inst in instances {
            let covers: Vec<(String, String)> = inst["covers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p[0].as_str().unwrap().to_owned(),
                        p[1].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            all.extend(covers.iter().cloned());
            if let Err((why, names)) = checker(&inst["json"]) {
                for pair in &covers {
                    if names.is_empty() || names.contains(&pair.1) {
                        bad.entry(pair.clone())
                            .or_insert_with(|| format!("{root}: {why}"));
                    }
                }
            }
        }
    }
    let members_ok = all.len() - bad.len();

    // Operations.
    let calls = calls();
    let mut ops_ok = 0;
    let mut op_problems = Vec::new();
    for (_, op) in OPERATIONS {
        let spec = &facts["operations"][op];
        match calls.get(op) {
            None => op_problems.push(format!("{op}: not in the SDK")),
            Some(call) => match check_operation(spec, call).await {
                Ok(()) => ops_ok += 1,
                Err(e) => op_problems.push(format!("{op}: {e}")),
            },
        }
    }

    // Limits: both sides of every bound, through the SDK.
    let limit_specs = facts["limits"].as_array().cloned().unwrap_or_default();
    let (limits_ok, limits, limit_problems) = check_limits(&limit_specs).await;

    println!(
        "model conformance: {ops_ok}/{} operations, {members_ok}/{} members, {limits_ok}/{limits} limits (botocore {version})",
        OPERATIONS.len(),
        all.len()
    );
    for p in &op_problems {
        println!("  operation {p}");
    }
    for ((shape, member), why) in &bad {
        println!("  member {shape}.{member}: {why}");
    }
    for p in &limit_problems {
        println!("  limit {p}");
    }

    assert!(bad.is_empty(), "{} members short (listed above)", bad.len());
    assert_eq!(ops_ok, OPERATIONS.len(), "operations short (listed above)");
    assert_eq!(limits_ok, limits, "limits short (listed above)");
}

// ---- limits ----------------------------------------------------------------------------

/// Member values for one limit check: the model's member names to JSON values.
struct Over(serde_json::Map<String, Value>);

impl Over {
    fn s(&self, member: &str, default: &str) -> String {
        match self.0.get(member) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => default.to_owned(),
        }
    }
    fn has(&self, member: &str) -> bool {
        self.0.contains_key(member)
    }
    fn int(&self, member: &str) -> Option<i64> {
        self.0.get(member).and_then(Value::as_i64)
    }
}

type LimitFuture = Pin<Box<dyn Future<Output = Result<(), agentcore_sdk::Error>> + Send>>;
type LimitCall = Box<dyn Fn(Client, Over) -> LimitFuture>;

const L_ARN: &str = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/coder-abcdefghij";
const L_ID: &str = "coder-abcdefghij";
const L_SID: &str = "0123456789abcdef0123456789abcdef0123";

/// How each operation's members are set through the SDK.
fn limit_calls() -> BTreeMap<&'static str, LimitCall> {
    let mut m: BTreeMap<&'static str, LimitCall> = BTreeMap::new();
    fn runtime_body(create: bool, o: &Over) -> Result<(), agentcore_sdk::Error> {
        let mut body = serde_json::json!({
            "agentRuntimeArtifact": {"containerConfiguration": {"containerUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/a:1"}},
            "roleArn": "arn:aws:iam::123456789012:role/r",
            "networkConfiguration": {"networkMode": "PUBLIC"},
        });
        if create {
            body["agentRuntimeName"] = "coder".into();
        }
        for (k, v) in &o.0 {
            body[k] = v.clone();
        }
        let input: AgentRuntimeInput =
            serde_json::from_value(body).map_err(|e| agentcore_sdk::Error::InvalidInput {
                field: "body",
                rule: e.to_string(),
            })?;
        input.validate(create)
    }
    m.insert(
        "CreateAgentRuntime",
        Box::new(|_, o| Box::pin(async move { runtime_body(true, &o) })),
    );
    m.insert(
        "UpdateAgentRuntime",
        Box::new(|c, o| {
            Box::pin(async move {
                if o.has("agentRuntimeId") {
                    return c
                        .update_agent_runtime(o.s("agentRuntimeId", L_ID))
                        .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/a:1")
                        .role_arn("arn:aws:iam::123456789012:role/r")
                        .send()
                        .await
                        .map(drop);
                }
                runtime_body(false, &o)
            })
        }),
    );
    fn endpoint_body(create: bool, o: &Over) -> Result<(), agentcore_sdk::Error> {
        let mut body = serde_json::json!({});
        if create {
            body["name"] = "prod".into();
        }
        for (k, v) in &o.0 {
            if k != "agentRuntimeId" && k != "endpointName" {
                body[k] = v.clone();
            }
        }
        let input: AgentRuntimeEndpointInput =
            serde_json::from_value(body).map_err(|e| agentcore_sdk::Error::InvalidInput {
                field: "body",
                rule: e.to_string(),
            })?;
        input.validate()
    }
    m.insert(
        "CreateAgentRuntimeEndpoint",
        Box::new(|c, o| {
            Box::pin(async move {
                if o.has("agentRuntimeId") {
                    return c
                        .create_agent_runtime_endpoint(o.s("agentRuntimeId", L_ID))
                        .name("prod")
                        .send()
                        .await
                        .map(drop);
                }
                endpoint_body(true, &o)
            })
        }),
    );
    m.insert(
        "UpdateAgentRuntimeEndpoint",
        Box::new(|c, o| {
            Box::pin(async move {
                if o.has("agentRuntimeId") || o.has("endpointName") {
                    return c
                        .update_agent_runtime_endpoint(
                            o.s("agentRuntimeId", L_ID),
                            o.s("endpointName", "prod"),
                        )
                        .send()
                        .await
                        .map(drop);
                }
                endpoint_body(false, &o)
            })
        }),
    );
    m.insert(
        "GetAgentRuntime",
        Box::new(|c, o| {
            Box::pin(async move {
                let mut r = c.get_agent_runtime(o.s("agentRuntimeId", L_ID));
                if o.has("agentRuntimeVersion") {
                    r = r.version(o.s("agentRuntimeVersion", "1"));
                }
                r.send().await.map(drop)
            })
        }),
    );
    m.insert(
        "DeleteAgentRuntime",
        Box::new(|c, o| {
            Box::pin(async move {
                let mut r = c.delete_agent_runtime(o.s("agentRuntimeId", L_ID));
                if o.has("agentRuntimeVersion") {
                    r = r.version(o.s("agentRuntimeVersion", "1"));
                }
                if o.has("clientToken") {
                    r = r.client_token(o.s("clientToken", ""));
                }
                r.send().await.map(drop)
            })
        }),
    );
    m.insert(
        "GetAgentRuntimeEndpoint",
        Box::new(|c, o| {
            Box::pin(async move {
                c.get_agent_runtime_endpoint(
                    o.s("agentRuntimeId", L_ID),
                    o.s("endpointName", "prod"),
                )
                .send()
                .await
                .map(drop)
            })
        }),
    );
    m.insert(
        "DeleteAgentRuntimeEndpoint",
        Box::new(|c, o| {
            Box::pin(async move {
                let mut r = c.delete_agent_runtime_endpoint(
                    o.s("agentRuntimeId", L_ID),
                    o.s("endpointName", "prod"),
                );
                if o.has("clientToken") {
                    r = r.client_token(o.s("clientToken", ""));
                }
                r.send().await.map(drop)
            })
        }),
    );
    fn list<P: agentcore_sdk::control::Page>(
        r: agentcore_sdk::control::ListRequest<P>,
        o: &Over,
    ) -> agentcore_sdk::control::ListRequest<P> {
        let mut r = r;
        if let Some(n) = o.int("maxResults") {
            r = r.max_results(u32::try_from(n.max(0)).unwrap_or(u32::MAX));
        }
        if o.has("nextToken") {
            r = r.next_token(o.s("nextToken", ""));
        }
        r
    }
    m.insert(
        "ListAgentRuntimes",
        Box::new(|c, o| {
            Box::pin(async move { list(c.list_agent_runtimes(), &o).send().await.map(drop) })
        }),
    );
    m.insert(
        "ListAgentRuntimeVersions",
        Box::new(|c, o| {
            Box::pin(async move {
                list(
                    c.list_agent_runtime_versions(o.s("agentRuntimeId", L_ID)),
                    &o,
                )
                .send()
                .await
                .map(drop)
            })
        }),
    );
    m.insert(
        "ListAgentRuntimeEndpoints",
        Box::new(|c, o| {
            Box::pin(async move {
                list(
                    c.list_agent_runtime_endpoints(o.s("agentRuntimeId", L_ID)),
                    &o,
                )
                .send()
                .await
                .map(drop)
            })
        }),
    );
    m.insert(
        "ListAgentRuntimeVersionsByCapacityProvider",
        Box::new(|c, o| {
            Box::pin(async move {
                list(
                    c.list_agent_runtime_versions_by_capacity_provider(
                        o.s("capacityProviderId", "pool-abcdefghij"),
                    ),
                    &o,
                )
                .send()
                .await
                .map(drop)
            })
        }),
    );
    m.insert(
        "TagResource",
        Box::new(|c, o| {
            Box::pin(async move {
                let tags: BTreeMap<String, String> = match o.0.get("tags") {
                    Some(v) => serde_json::from_value(v.clone()).unwrap_or_default(),
                    None => [("a".to_owned(), "b".to_owned())].into(),
                };
                c.tag_resource(o.s("resourceArn", L_ARN))
                    .tags(tags)
                    .send()
                    .await
            })
        }),
    );
    m.insert(
        "UntagResource",
        Box::new(|c, o| {
            Box::pin(async move {
                let keys: Vec<String> = match o.0.get("tagKeys") {
                    Some(v) => serde_json::from_value(v.clone()).unwrap_or_default(),
                    None => vec!["a".to_owned()],
                };
                let mut r = c.untag_resource(o.s("resourceArn", L_ARN));
                for k in keys {
                    r = r.tag_key(k);
                }
                r.send().await
            })
        }),
    );
    m.insert(
        "ListTagsForResource",
        Box::new(|c, o| {
            Box::pin(async move {
                c.list_tags_for_resource(o.s("resourceArn", L_ARN))
                    .send()
                    .await
                    .map(drop)
            })
        }),
    );
    m.insert(
        "PutResourcePolicy",
        Box::new(|c, o| {
            Box::pin(async move {
                c.put_resource_policy(o.s("resourceArn", L_ARN), o.s("policy", "{}"))
                    .send()
                    .await
                    .map(drop)
            })
        }),
    );
    m.insert(
        "GetResourcePolicy",
        Box::new(|c, o| {
            Box::pin(async move {
                c.get_resource_policy(o.s("resourceArn", L_ARN))
                    .send()
                    .await
                    .map(drop)
            })
        }),
    );
    m.insert(
        "DeleteResourcePolicy",
        Box::new(|c, o| {
            Box::pin(async move {
                c.delete_resource_policy(o.s("resourceArn", L_ARN))
                    .send()
                    .await
            })
        }),
    );
    m.insert(
        "DeleteCapacityProviderSession",
        Box::new(|c, o| {
            Box::pin(async move {
                c.delete_capacity_provider_session(
                    o.s("capacityProviderId", "pool-abcdefghij"),
                    o.s("sessionId", "s-1"),
                )
                .send()
                .await
                .map(drop)
            })
        }),
    );
    macro_rules! common {
        ($r:ident, $o:ident) => {{
            let mut r = $r.session_id($o.s("runtimeSessionId", L_SID));
            if $o.has("accountId") {
                r = r.account_id($o.s("accountId", ""));
            }
            if $o.has("traceId") {
                r = r.trace_id($o.s("traceId", ""));
            }
            if $o.has("traceParent") {
                r = r.traceparent($o.s("traceParent", ""));
            }
            if $o.has("traceState") {
                r = r.tracestate($o.s("traceState", ""));
            }
            if $o.has("baggage") {
                r = r.baggage($o.s("baggage", ""));
            }
            r
        }};
    }
    m.insert(
        "InvokeAgentRuntime",
        Box::new(|c, o| {
            Box::pin(async move {
                let r = c.invoke(L_ARN);
                let mut r = common!(r, o);
                let payload = match o.0.get("payload") {
                    Some(Value::String(s)) => s.clone().into_bytes(),
                    Some(v) => match v["$blobSize"].as_u64() {
                        Some(n) => vec![b'x'; usize::try_from(n).unwrap_or(usize::MAX)],
                        None => b"{}".to_vec(),
                    },
                    None => b"{}".to_vec(),
                };
                r = r.payload(payload);
                for (member, set) in [
                    ("contentType", 0),
                    ("accept", 1),
                    ("runtimeUserId", 2),
                    ("mcpSessionId", 3),
                    ("mcpProtocolVersion", 4),
                    ("mcpMethod", 5),
                    ("mcpName", 6),
                ] {
                    if o.has(member) {
                        let v = o.s(member, "");
                        r = match set {
                            0 => r.content_type(v),
                            1 => r.accept(v),
                            2 => r.user_id(v),
                            3 => r.mcp_session_id(v),
                            4 => r.mcp_protocol_version(v),
                            5 => r.mcp_method(v),
                            _ => r.mcp_name(v),
                        };
                    }
                }
                r.send().await.map(drop)
            })
        }),
    );
    m.insert(
        "InvokeAgentRuntimeCommand",
        Box::new(|c, o| {
            Box::pin(async move {
                let r = c.command(L_ARN, o.s("command", "true"));
                let mut r = common!(r, o);
                if let Some(t) = o.int("timeout") {
                    r = r.timeout(std::time::Duration::from_secs(t.max(0) as u64));
                }
                r.send().await.map(drop)
            })
        }),
    );
    m.insert(
        "StopRuntimeSession",
        Box::new(|c, o| {
            Box::pin(async move {
                let r = c.stop_session(L_ARN, o.s("runtimeSessionId", L_SID));
                let mut r = common!(r, o);
                if o.has("clientToken") {
                    r = r.client_token(o.s("clientToken", ""));
                }
                r.send().await.map(drop)
            })
        }),
    );
    m.insert(
        "GetAgentCard",
        Box::new(|c, o| {
            Box::pin(async move {
                let r = c.get_agent_card(L_ARN);
                let r = common!(r, o);
                r.send().await.map(drop)
            })
        }),
    );
    m
}

/// Whether the SDK refuses `value` for `member` of `op` before sending anything (`None`:
/// the SDK has no way to set it). `server` answers every request with 500.
async fn refused(
    op: &str,
    member: &str,
    value: &Value,
    calls: &BTreeMap<&'static str, LimitCall>,
    server: &wiremock::MockServer,
) -> Option<bool> {
    let call = calls.get(op)?;
    server.reset().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(500).set_body_string("{}"))
        .mount(server)
        .await;
    let client = Client::from_conf(
        agentcore_sdk::Config::builder()
            .region("us-east-1")
            .endpoint_url(server.uri())
            .static_credentials("AKID", "secret")
            .retry_config(agentcore_sdk::RetryConfig::disabled())
            .build()
            .ok()?,
    );
    let mut over = serde_json::Map::new();
    over.insert(member.to_owned(), value.clone());
    let result = call(client, Over(over)).await;
    let sent = !server
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty();
    Some(matches!(result, Err(agentcore_sdk::Error::InvalidInput { .. })) && !sent)
}

/// Checks every limit on both sides; returns (ok, total, problems).
async fn check_limits(limits: &[Value]) -> (usize, usize, Vec<String>) {
    let calls = limit_calls();
    let server = wiremock::MockServer::start().await;
    let mut ok = 0;
    let mut problems = Vec::new();
    // Members the SDK sets itself, always within bounds (`application/json` in, an event
    // stream out): nothing a user passes reaches them.
    const FIXED_BY_SDK: &[(&str, &str)] = &[
        ("InvokeAgentRuntimeCommand", "contentType"),
        ("InvokeAgentRuntimeCommand", "accept"),
    ];
    for l in limits {
        let op = l["operation"].as_str().unwrap_or_default();
        let member = l["member"].as_str().unwrap_or_default();
        if FIXED_BY_SDK.contains(&(op, member)) {
            ok += 1;
            continue;
        }
        let what = format!(
            "{op}.{} {} {}",
            l["path"].as_str().unwrap_or(member),
            l["bound"].as_str().unwrap_or_default(),
            l["value"]
        );
        let inside = &l["inside"];
        let outside = &l["outside"];
        if inside.is_null() && outside.is_null() {
            problems.push(format!("{what}: no value to test it with"));
            continue;
        }
        let mut good = true;
        if !inside.is_null() {
            match refused(op, member, inside, &calls, &server).await {
                None => {
                    problems.push(format!("{what}: not settable through the SDK"));
                    continue;
                }
                Some(true) => {
                    good = false;
                    problems.push(format!("{what}: refuses an allowed value"));
                }
                Some(false) => {}
            }
        }
        if !outside.is_null() {
            match refused(op, member, outside, &calls, &server).await {
                Some(true) => {}
                _ => {
                    good = false;
                    problems.push(format!("{what}: accepts a value out of bounds"));
                }
            }
        }
        if good {
            ok += 1;
        }
    }
    (ok, limits.len(), problems)
}
