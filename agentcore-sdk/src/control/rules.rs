//! Bounds of the members nested in runtime and endpoint requests, as the service model states
//! them (`tests/tests/model_conformance.rs` checks both sides of every one against the pinned
//! model). They are checked on the JSON that would be sent, so every representation of a
//! member — typed, or kept as an unknown variant — is held to the same rule.

use std::sync::OnceLock;

use serde_json::Value;

use crate::error::Error;

/// One bound: a JSON path (`.` between members, `[]` for every list item, `{}` for every map
/// value), character / item / value bounds and an optional whole-string pattern.
struct Rule {
    path: &'static str,
    min: Option<i64>,
    max: Option<i64>,
    pattern: Option<&'static str>,
}

const fn r(
    path: &'static str,
    min: Option<i64>,
    max: Option<i64>,
    pattern: Option<&'static str>,
) -> Rule {
    Rule {
        path,
        min,
        max,
        pattern,
    }
}

type Bound = (&'static str, Option<i64>, Option<i64>, Option<&'static str>);

const PRIVATE_ENDPOINT: [Bound; 5] = [
    (
        "selfManagedLatticeResource.resourceConfigurationIdentifier",
        Some(20),
        Some(2048),
        Some(
            r"(rcfg-[0-9a-z]{17})|(arn:[a-z0-9\-]+:vpc-lattice:[a-zA-Z0-9\-]+:\d{12}:resourceconfiguration/rcfg-[0-9a-z]{17})",
        ),
    ),
    (
        "managedVpcResource.vpcIdentifier",
        None,
        None,
        Some(r"vpc-(([0-9a-z]{8})|([0-9a-z]{17}))"),
    ),
    (
        "managedVpcResource.securityGroupIds",
        Some(0),
        Some(5),
        None,
    ),
    ("managedVpcResource.tags", Some(0), Some(50), None),
    ("managedVpcResource.routingDomain", Some(3), Some(255), None),
];

const MOUNT_PATH: &str = r"/mnt/[a-zA-Z0-9._-]+/?";
const JWT: &str = "authorizerConfiguration.customJWTAuthorizer";

/// The nested bounds of a runtime request body.
const RUNTIME_RULES: &[Rule] = &[
    r(
        "agentRuntimeArtifact.containerConfiguration.containerUri",
        Some(1),
        Some(1024),
        Some(
            r"(([0-9]{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?|public\.ecr\.aws)/((?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*)(?::([^:@]{1,300}))?(?:@(.+))?",
        ),
    ),
    r(
        "agentRuntimeArtifact.codeConfiguration.code.s3.bucket",
        None,
        None,
        Some(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"),
    ),
    r(
        "agentRuntimeArtifact.codeConfiguration.code.s3.prefix",
        Some(1),
        Some(1024),
        None,
    ),
    r(
        "agentRuntimeArtifact.codeConfiguration.code.s3.versionId",
        Some(3),
        Some(1024),
        None,
    ),
    r(
        "agentRuntimeArtifact.codeConfiguration.entryPoint",
        Some(1),
        Some(2),
        None,
    ),
    r(
        "networkConfiguration.networkModeConfig.securityGroups",
        Some(1),
        Some(16),
        None,
    ),
    r(
        "networkConfiguration.networkModeConfig.subnets",
        Some(1),
        Some(16),
        None,
    ),
    r(
        "requestHeaderConfiguration.requestHeaderAllowlist",
        Some(1),
        Some(20),
        None,
    ),
    r("protocolConfiguration.port", Some(8000), Some(12000), None),
    r(
        "protocolConfiguration.path",
        Some(1),
        Some(2048),
        Some(r"/[A-Za-z0-9\-._~/%]*"),
    ),
    r(
        "lifecycleConfiguration.idleRuntimeSessionTimeout",
        Some(60),
        Some(1_209_600),
        None,
    ),
    r(
        "lifecycleConfiguration.maxLifetime",
        Some(60),
        Some(1_209_600),
        None,
    ),
    r(
        "hooksConfiguration.build.warmup.action.httpPost.path",
        Some(1),
        Some(32),
        Some(r"/[A-Za-z0-9._~/-]*"),
    ),
    r(
        "hooksConfiguration.build.warmup.action.httpPost.port",
        Some(8000),
        Some(12000),
        None,
    ),
    r(
        "filesystemConfigurations[].sessionStorage.mountPath",
        Some(6),
        Some(200),
        Some(MOUNT_PATH),
    ),
    r(
        "filesystemConfigurations[].s3FilesAccessPoint.accessPointArn",
        Some(0),
        Some(256),
        Some(
            r"arn:aws[-a-z]*:s3files:[0-9a-z-:]+:file-system/fs-[0-9a-f]{17,40}/access-point/fsap-[0-9a-f]{17,40}",
        ),
    ),
    r(
        "filesystemConfigurations[].s3FilesAccessPoint.mountPath",
        Some(6),
        Some(200),
        Some(MOUNT_PATH),
    ),
    r(
        "filesystemConfigurations[].efsAccessPoint.accessPointArn",
        Some(0),
        Some(128),
        Some(r"arn:aws[-a-z]*:elasticfilesystem:[0-9a-z-:]+:access-point/fsap-[0-9a-f]{8,40}"),
    ),
    r(
        "filesystemConfigurations[].efsAccessPoint.mountPath",
        Some(6),
        Some(200),
        Some(MOUNT_PATH),
    ),
    r(
        "filesystemConfigurations[].capacityProviderVolume.volumeName",
        Some(1),
        Some(48),
        Some(r"[a-zA-Z][a-zA-Z0-9_-]{0,47}"),
    ),
    r(
        "filesystemConfigurations[].capacityProviderVolume.mountPath",
        Some(6),
        Some(200),
        Some(MOUNT_PATH),
    ),
    r(
        "filesystemConfigurations[].s3BucketMount.bucket",
        Some(3),
        Some(63),
        None,
    ),
    r(
        "filesystemConfigurations[].s3BucketMount.mountPath",
        Some(6),
        Some(200),
        Some(MOUNT_PATH),
    ),
    r(
        "filesystemConfigurations[].s3BucketMount.prefix",
        Some(1),
        Some(1024),
        Some(r"[a-zA-Z0-9{][a-zA-Z0-9!_.*'()/{}-]*"),
    ),
    r(
        "filesystemConfigurations[].s3BucketMount.s3BucketOwner",
        None,
        None,
        Some(r"[0-9]{12}"),
    ),
    r(
        "filesystemConfigurations[].s3BucketMount.s3BucketRegion",
        Some(1),
        Some(32),
        Some(r"([a-z]+-){2,3}\d+"),
    ),
    r(
        "capacityProviderConfiguration.capacityProviderArn",
        None,
        None,
        Some(
            r"arn:aws(-[^:]+)?:bedrock-agentcore:[a-z0-9-]+:[0-9]{12}:capacity-provider/[a-zA-Z][a-zA-Z0-9_]{0,47}-[a-zA-Z0-9]{10}",
        ),
    ),
    r("allowedPorts[].port", Some(8000), Some(12000), None),
    r(
        "allowedPorts[].portRange.from",
        Some(8000),
        Some(12000),
        None,
    ),
    r("allowedPorts[].portRange.to", Some(8000), Some(12000), None),
];

/// The custom JWT authorizer's bounds, below [`JWT`].
const JWT_RULES: &[Rule] = &[
    r(
        "discoveryUrl",
        None,
        None,
        Some(
            r"[^\s?#]+/\.well-known/(openid-configuration|oauth-authorization-server)(/[^\s?#]+)?",
        ),
    ),
    r("allowedAudience", Some(1), None, None),
    r("allowedClients", Some(1), None, None),
    r("allowedScopes", Some(1), None, None),
    r("advertisedScopeMapping", Some(1), Some(50), None),
    r("customClaims", Some(1), None, None),
    r(
        "customClaims[].inboundTokenClaimName",
        Some(1),
        Some(255),
        Some(r"[A-Za-z0-9_.-:]+"),
    ),
    r(
        "customClaims[].authorizingClaimMatchValue.claimMatchValue.matchValueString",
        Some(1),
        Some(255),
        Some(r"[A-Za-z0-9_.-]+"),
    ),
    r(
        "customClaims[].authorizingClaimMatchValue.claimMatchValue.matchValueStringList",
        Some(1),
        None,
        None,
    ),
    r("privateEndpointOverrides", Some(0), Some(5), None),
    r(
        "privateEndpointOverrides[].domain",
        Some(1),
        Some(253),
        None,
    ),
    r("certificateConfigurations", Some(1), Some(1), None),
    r(
        "certificateConfigurations[].s3.uri",
        None,
        None,
        Some(r"s3://.{1,2043}"),
    ),
    r(
        "certificateConfigurations[].s3.bucketOwnerAccountId",
        None,
        None,
        Some(r"[0-9]{12}"),
    ),
    r(
        "certificateConfigurations[].secretsManager.secretArn",
        None,
        None,
        Some(r"arn:aws(-[^:]+)?:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+"),
    ),
    r(
        "allowedWorkloadConfiguration.hostingEnvironments",
        Some(1),
        Some(10),
        None,
    ),
    r(
        "allowedWorkloadConfiguration.hostingEnvironments[].arn",
        Some(20),
        Some(1011),
        None,
    ),
    r(
        "allowedWorkloadConfiguration.workloadIdentities",
        Some(1),
        Some(10),
        None,
    ),
];

/// Checks every nested bound of a runtime request body.
pub(crate) fn check_runtime_body(body: &Value) -> Result<(), Error> {
    for rule in RUNTIME_RULES {
        check(body, top(rule.path), rule.path, rule)?;
    }
    for rule in JWT_RULES {
        check(
            body,
            "authorizerConfiguration",
            &format!("{JWT}.{}", rule.path),
            rule,
        )?;
    }
    for prefix in [
        format!("{JWT}.privateEndpoint"),
        format!("{JWT}.privateEndpointOverrides[].privateEndpoint"),
    ] {
        for (path, min, max, pattern) in PRIVATE_ENDPOINT {
            let path = format!("{prefix}.{path}");
            check(
                body,
                "authorizerConfiguration",
                &path,
                &r("", min, max, pattern),
            )?;
        }
    }
    Ok(())
}

/// The top-level member a path starts with.
fn top(path: &'static str) -> &'static str {
    let end = path.find(['.', '[']).unwrap_or(path.len());
    path.get(..end).unwrap_or(path)
}

fn check(body: &Value, field: &'static str, path: &str, rule: &Rule) -> Result<(), Error> {
    let mut found = Vec::new();
    collect(body, path, &mut found);
    for v in found {
        check_value(field, path, v, rule)?;
    }
    Ok(())
}

/// Every value at `path` below `v`.
fn collect<'a>(v: &'a Value, path: &str, out: &mut Vec<&'a Value>) {
    if path.is_empty() {
        out.push(v);
        return;
    }
    if let Some(rest) = path.strip_prefix("[]") {
        if let Value::Array(items) = v {
            for item in items {
                collect(item, rest.strip_prefix('.').unwrap_or(rest), out);
            }
        }
        return;
    }
    let end = path.find(['.', '[']).unwrap_or(path.len());
    let (name, rest) = path.split_at(end);
    if let Some(child) = v.get(name) {
        collect(child, rest.strip_prefix('.').unwrap_or(rest), out);
    }
}

fn check_value(field: &'static str, path: &str, v: &Value, rule: &Rule) -> Result<(), Error> {
    let (size, what) = match v {
        Value::String(s) => (s.chars().count() as i64, "characters"),
        Value::Array(a) => (a.len() as i64, "items"),
        Value::Object(o) => (o.len() as i64, "entries"),
        Value::Number(n) => (n.as_i64().unwrap_or(i64::MAX), ""),
        _ => return Ok(()),
    };
    let out_of_range = rule.min.is_some_and(|lo| size < lo) || rule.max.is_some_and(|hi| size > hi);
    if out_of_range {
        let range = match (rule.min, rule.max) {
            (Some(lo), Some(hi)) => format!("{lo} to {hi}"),
            (Some(lo), None) => format!("at least {lo}"),
            (None, Some(hi)) => format!("at most {hi}"),
            (None, None) => String::new(),
        };
        let unit = if what.is_empty() {
            String::new()
        } else {
            format!(" {what}")
        };
        return Err(Error::invalid(
            field,
            format!("{path} must be {range}{unit}, got {size}"),
        ));
    }
    if let (Some(pattern), Value::String(s)) = (rule.pattern, v)
        && !matches(pattern, s)
    {
        return Err(Error::invalid(
            field,
            format!("{path} must match {pattern}, got {s:?}"),
        ));
    }
    Ok(())
}

/// Whole-string match, each pattern compiled once.
fn matches(pattern: &'static str, s: &str) -> bool {
    static CACHE: OnceLock<std::sync::Mutex<Vec<(&'static str, regex_lite::Regex)>>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, re)) = cache
        .iter()
        .find(|(p, _)| std::ptr::eq(*p, pattern) || *p == pattern)
    {
        return re.is_match(s);
    }
    match regex_lite::Regex::new(&format!("^(?:{pattern})$")) {
        Ok(re) => {
            let ok = re.is_match(s);
            cache.push((pattern, re));
            ok
        }
        // Every pattern here is a constant and compiles (unit test); never refuse on our bug.
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        let all = RUNTIME_RULES
            .iter()
            .chain(JWT_RULES)
            .filter_map(|r| r.pattern)
            .chain(PRIVATE_ENDPOINT.iter().filter_map(|p| p.3));
        for p in all {
            regex_lite::Regex::new(&format!("^(?:{p})$")).unwrap();
        }
    }

    #[test]
    fn nested_paths_reach_list_items() {
        let body = serde_json::json!({"filesystemConfigurations": [
            {"sessionStorage": {"mountPath": "/mnt/ok"}},
            {"s3BucketMount": {"mountPath": "/mnt/b", "bucket": "ab"}}
        ]});
        let e = check_runtime_body(&body).unwrap_err().to_string();
        assert!(
            e.contains("filesystemConfigurations[].s3BucketMount.bucket"),
            "{e}"
        );
    }
}
