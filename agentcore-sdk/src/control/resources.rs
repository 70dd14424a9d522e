//! Tags and resource policies of runtimes and endpoints, and the runtime versions running on
//! a capacity provider.
//!
//! ```no_run
//! # async fn f(client: agentcore_sdk::Client) -> Result<(), agentcore_sdk::Error> {
//! let arn = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/coder-abcdefghij";
//! client.tag_resource(arn).tag("team", "agents").send().await?;
//! let tags = client.list_tags_for_resource(arn).send().await?;
//! assert_eq!(tags.get("team").map(String::as_str), Some("agents"));
//! client.untag_resource(arn).tag_key("team").send().await?;
//!
//! let policy = r#"{"Version":"2012-10-17","Statement":[]}"#;
//! client.put_resource_policy(arn, policy).send().await?;
//! assert_eq!(client.get_resource_policy(arn).send().await?.as_deref(), Some(policy));
//! client.delete_resource_policy(arn).send().await?;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;

use http::Method;
use serde::{Deserialize, Serialize};

use super::{AgentRuntimeStatus, ListRequest, Page, send, send_empty};
use crate::client::Client;
use crate::error::Error;
use crate::transport::{Request, Transport};
use crate::types::{RuntimeArn, UnknownMembers, check_capacity_provider_id, encode_segment};

/// The longest resource ARN the service accepts.
const MAX_ARN: usize = 1011;
/// The most tags a resource has.
pub const MAX_TAGS: usize = 50;
/// The longest resource policy.
pub const MAX_POLICY_CHARS: usize = 20480;

fn tag_chars_ok(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || c.is_whitespace() || "._:/=+@-".contains(c))
}

/// Checks a resource ARN of this service: `arn:<partition>:bedrock-agentcore:<region>:
/// <account>:<type>/<id>[/<type>/<id>…]`.
fn check_resource_arn(arn: &str, taggable: bool) -> Result<(), Error> {
    let bad = |why: &str| Err(Error::invalid("resourceArn", format!("{why}, got {arn:?}")));
    let n = arn.chars().count();
    if !(20..=MAX_ARN).contains(&n) {
        return bad("must be 20 to 1011 characters");
    }
    if !taggable {
        return Ok(());
    }
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [arn_, _partition, service, region, account, resource] = parts.as_slice() else {
        return bad("must be an ARN");
    };
    if *arn_ != "arn" || *service != "bedrock-agentcore" {
        return bad("must be a bedrock-agentcore ARN");
    }
    if region.is_empty()
        || !region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return bad("must name a region");
    }
    if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
        return bad("must hold a 12-digit account id");
    }
    let segs: Vec<&str> = resource.split('/').collect();
    let pairs_ok = segs.len() >= 2
        && segs.len() % 2 == 0
        && segs.chunks(2).all(|p| match p {
            [kind, name] => {
                !kind.is_empty()
                    && kind.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                    && !name.is_empty()
            }
            _ => false,
        });
    if !pairs_ok {
        return bad("must end in <type>/<id>");
    }
    Ok(())
}

fn resource_path(prefix: &str, arn: &str) -> String {
    format!("/{prefix}/{}", encode_segment(arn))
}

/// TagResource. See [`Client::tag_resource`].
#[derive(Debug, Clone)]
#[must_use = "call .send().await"]
pub struct TagResource {
    transport: Transport,
    arn: String,
    tags: BTreeMap<String, String>,
}

impl TagResource {
    crate::config::config_override_setter!();

    pub(crate) fn new(transport: Transport, arn: String) -> Self {
        Self {
            transport,
            arn,
            tags: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) a tag: key 1..=128 and value 0..=256 characters of letters,
    /// digits, spaces and `._:/=+@-`.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// Adds (or replaces) several tags.
    pub fn tags<K: Into<String>, V: Into<String>>(
        mut self,
        tags: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.tags
            .extend(tags.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Validates and sends the request.
    ///
    /// Dropping the future before it completes abandons the call here; a request that already
    /// reached the service may still take effect (sending it again is safe).
    pub async fn send(self) -> Result<(), Error> {
        check_resource_arn(&self.arn, true)?;
        check_tags(&self.tags)?;
        let req = Request::control(
            "TagResource",
            Method::POST,
            resource_path("tags", &self.arn),
        )
        .json_body(&serde_json::json!({ "tags": self.tags }))?;
        send_empty(&self.transport, &req).await
    }
}

pub(crate) fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), Error> {
    if tags.len() > MAX_TAGS {
        return Err(Error::invalid(
            "tags",
            format!("at most {MAX_TAGS} tags, got {}", tags.len()),
        ));
    }
    for (k, v) in tags {
        let kn = k.chars().count();
        if !(1..=128).contains(&kn) || !tag_chars_ok(k) {
            return Err(Error::invalid(
                "tags",
                format!("key {k:?} must be 1 to 128 letters, digits, spaces or ._:/=+@-"),
            ));
        }
        if v.chars().count() > 256 || !tag_chars_ok(v) {
            return Err(Error::invalid(
                "tags",
                format!("value of {k:?} must be at most 256 letters, digits, spaces or ._:/=+@-"),
            ));
        }
    }
    Ok(())
}

/// UntagResource. See [`Client::untag_resource`].
#[derive(Debug, Clone)]
#[must_use = "call .send().await"]
pub struct UntagResource {
    transport: Transport,
    arn: String,
    keys: Vec<String>,
}

impl UntagResource {
    crate::config::config_override_setter!();

    pub(crate) fn new(transport: Transport, arn: String) -> Self {
        Self {
            transport,
            arn,
            keys: Vec::new(),
        }
    }

    /// Removes the tag `key`.
    pub fn tag_key(mut self, key: impl Into<String>) -> Self {
        self.keys.push(key.into());
        self
    }

    /// Validates and sends the request.
    ///
    /// Dropping the future before it completes abandons the call here; a request that already
    /// reached the service may still take effect (sending it again is safe).
    pub async fn send(self) -> Result<(), Error> {
        check_resource_arn(&self.arn, true)?;
        if self.keys.len() > 200 {
            return Err(Error::invalid("tagKeys", "at most 200 keys"));
        }
        if let Some(k) = self
            .keys
            .iter()
            .find(|k| !(1..=128).contains(&k.chars().count()) || !tag_chars_ok(k))
        {
            return Err(Error::invalid(
                "tagKeys",
                format!("key {k:?} must be 1 to 128 letters, digits, spaces or ._:/=+@-"),
            ));
        }
        let mut req = Request::control(
            "UntagResource",
            Method::DELETE,
            resource_path("tags", &self.arn),
        );
        for k in self.keys {
            req = req.query("tagKeys", Some(k));
        }
        send_empty(&self.transport, &req).await
    }
}

/// ListTagsForResource. See [`Client::list_tags_for_resource`].
#[derive(Debug, Clone)]
#[must_use = "call .send().await"]
pub struct ListTagsForResource {
    transport: Transport,
    arn: String,
}

#[derive(Deserialize)]
struct TagsOutput {
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

impl ListTagsForResource {
    crate::config::config_override_setter!();

    pub(crate) fn new(transport: Transport, arn: String) -> Self {
        Self { transport, arn }
    }

    /// Sends the request; the resource's tags.
    ///
    /// Dropping the future abandons the call; nothing changes on the service.
    pub async fn send(self) -> Result<BTreeMap<String, String>, Error> {
        check_resource_arn(&self.arn, true)?;
        let req = Request::control(
            "ListTagsForResource",
            Method::GET,
            resource_path("tags", &self.arn),
        );
        let out: TagsOutput = send(&self.transport, &req).await?;
        Ok(out.tags)
    }
}

#[derive(Deserialize)]
struct PolicyOutput {
    #[serde(default)]
    policy: Option<String>,
}

/// PutResourcePolicy, GetResourcePolicy and DeleteResourcePolicy. See
/// [`Client::put_resource_policy`].
#[derive(Debug, Clone)]
#[must_use = "call .send().await"]
pub struct ResourcePolicyRequest<T> {
    transport: Transport,
    arn: String,
    policy: Option<String>,
    _out: std::marker::PhantomData<fn() -> T>,
}

/// The three resource-policy operations, as the type parameter of
/// [`ResourcePolicyRequest`].
pub mod resource_policy {
    /// PutResourcePolicy: `send` returns the policy as stored.
    #[derive(Debug)]
    pub enum Put {}
    /// GetResourcePolicy: `send` returns the policy, if any.
    #[derive(Debug)]
    pub enum Get {}
    /// DeleteResourcePolicy.
    #[derive(Debug)]
    pub enum Delete {}
}
use resource_policy::{Delete, Get, Put};

impl<T> ResourcePolicyRequest<T> {
    crate::config::config_override_setter!();

    pub(crate) fn new(transport: Transport, arn: String, policy: Option<String>) -> Self {
        Self {
            transport,
            arn,
            policy,
            _out: std::marker::PhantomData,
        }
    }

    async fn call(self, op: &'static str, method: Method) -> Result<Option<String>, Error> {
        check_resource_arn(&self.arn, false)?;
        let mut req = Request::control(op, method, resource_path("resourcepolicy", &self.arn));
        if let Some(p) = &self.policy {
            let n = p.chars().count();
            if !(1..=MAX_POLICY_CHARS).contains(&n) {
                return Err(Error::invalid(
                    "policy",
                    format!("must be 1 to {MAX_POLICY_CHARS} characters, got {n}"),
                ));
            }
            req = req.json_body(&serde_json::json!({ "policy": p }))?;
        }
        let out: PolicyOutput = send(&self.transport, &req).await?;
        Ok(out.policy)
    }
}

impl ResourcePolicyRequest<Put> {
    /// Validates and sends the request; the policy as the service stored it.
    ///
    /// Dropping the future before it completes abandons the call here; a request that already
    /// reached the service may still take effect (sending it again is safe).
    pub async fn send(self) -> Result<String, Error> {
        let sent = self.policy.clone().unwrap_or_default();
        Ok(self
            .call("PutResourcePolicy", Method::PUT)
            .await?
            .unwrap_or(sent))
    }
}

impl ResourcePolicyRequest<Get> {
    /// Sends the request; the policy, `None` when the resource has none.
    ///
    /// Dropping the future abandons the call; nothing changes on the service.
    pub async fn send(self) -> Result<Option<String>, Error> {
        self.call("GetResourcePolicy", Method::GET).await
    }
}

impl ResourcePolicyRequest<Delete> {
    /// Sends the request.
    ///
    /// Dropping the future before it completes abandons the call here; a request that already
    /// reached the service may still take effect (sending it again is safe).
    pub async fn send(self) -> Result<(), Error> {
        self.call("DeleteResourcePolicy", Method::DELETE)
            .await
            .map(drop)
    }
}

/// One runtime version running on a capacity provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AgentRuntimeVersionSummary {
    /// The runtime ARN.
    pub agent_runtime_arn: RuntimeArn,
    /// The version.
    pub agent_runtime_version: String,
    /// Its status.
    pub status: AgentRuntimeStatus,
    /// Members this SDK does not know, kept as received.
    #[serde(flatten)]
    pub unknown_members: UnknownMembers,
}

/// A page of ListAgentRuntimeVersionsByCapacityProvider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CapacityProviderVersionsPage {
    /// The versions.
    #[serde(default)]
    pub agent_runtimes: Vec<AgentRuntimeVersionSummary>,
    /// The next page's token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

impl Page for CapacityProviderVersionsPage {
    type Item = AgentRuntimeVersionSummary;
    fn next_token(&self) -> Option<&str> {
        self.next_token.as_deref()
    }
    fn into_items(self) -> Vec<Self::Item> {
        self.agent_runtimes
    }
}

/// `capacityProviderId`: `[a-zA-Z][a-zA-Z0-9_]{0,47}-[a-zA-Z0-9]{10}`.
pub(crate) fn capacity_provider_versions_path(id: &str) -> Result<String, Error> {
    check_capacity_provider_id(id)?;
    Ok(format!(
        "/capacity-providers/{}/runtime-versions",
        encode_segment(id)
    ))
}

/// Tags, resource policies and versions by capacity provider.
impl Client {
    /// TagResource: adds tags to a runtime or endpoint (by ARN).
    pub fn tag_resource(&self, resource_arn: impl AsRef<str>) -> TagResource {
        TagResource::new(self.transport().clone(), resource_arn.as_ref().to_owned())
    }

    /// UntagResource: removes tags from a runtime or endpoint (by ARN).
    pub fn untag_resource(&self, resource_arn: impl AsRef<str>) -> UntagResource {
        UntagResource::new(self.transport().clone(), resource_arn.as_ref().to_owned())
    }

    /// ListTagsForResource: the tags of a runtime or endpoint (by ARN).
    pub fn list_tags_for_resource(&self, resource_arn: impl AsRef<str>) -> ListTagsForResource {
        ListTagsForResource::new(self.transport().clone(), resource_arn.as_ref().to_owned())
    }

    /// PutResourcePolicy: attaches `policy` (an IAM policy document) to a runtime or
    /// endpoint.
    pub fn put_resource_policy(
        &self,
        resource_arn: impl AsRef<str>,
        policy: impl Into<String>,
    ) -> ResourcePolicyRequest<resource_policy::Put> {
        ResourcePolicyRequest::new(
            self.transport().clone(),
            resource_arn.as_ref().to_owned(),
            Some(policy.into()),
        )
    }

    /// GetResourcePolicy: the policy of a runtime or endpoint, if it has one.
    pub fn get_resource_policy(
        &self,
        resource_arn: impl AsRef<str>,
    ) -> ResourcePolicyRequest<resource_policy::Get> {
        ResourcePolicyRequest::new(
            self.transport().clone(),
            resource_arn.as_ref().to_owned(),
            None,
        )
    }

    /// DeleteResourcePolicy: removes the policy of a runtime or endpoint.
    pub fn delete_resource_policy(
        &self,
        resource_arn: impl AsRef<str>,
    ) -> ResourcePolicyRequest<resource_policy::Delete> {
        ResourcePolicyRequest::new(
            self.transport().clone(),
            resource_arn.as_ref().to_owned(),
            None,
        )
    }

    /// ListAgentRuntimeVersionsByCapacityProvider: runtime versions running on a capacity
    /// provider.
    pub fn list_agent_runtime_versions_by_capacity_provider(
        &self,
        capacity_provider_id: impl AsRef<str>,
    ) -> ListRequest<CapacityProviderVersionsPage> {
        ListRequest::new(
            self.transport().clone(),
            "ListAgentRuntimeVersionsByCapacityProvider",
            capacity_provider_versions_path(capacity_provider_id.as_ref()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_arns_and_ids() {
        check_resource_arn(
            "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/coder-abcdefghij",
            true,
        )
        .unwrap();
        check_resource_arn(
            "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/coder-abcdefghij/runtime-endpoint/prod",
            true,
        )
        .unwrap();
        for bad in [
            "arn:aws:s3:us-east-1:123456789012:bucket/x",
            "arn:aws:bedrock-agentcore:us-east-1:1234:runtime/x",
            "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime",
            "short",
        ] {
            assert!(check_resource_arn(bad, true).is_err(), "{bad}");
        }
        check_capacity_provider_id("pool_1-abcdefghij").unwrap();
        assert!(check_capacity_provider_id("1pool-abcdefghij").is_err());
        assert!(check_capacity_provider_id("pool-abc").is_err());
    }
}
