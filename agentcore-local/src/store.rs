//! Control-plane state: agent runtimes, their versions and endpoints, persisted as one JSON
//! file in the data directory so they survive a restart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agentcore_sdk::__private::{AgentRuntimeEndpointInput, AgentRuntimeInput, server_support};
use agentcore_sdk::control::FilesystemConfiguration;
use agentcore_sdk::control::{AgentRuntimeEndpointStatus, AgentRuntimeStatus};
use agentcore_sdk::{MountPath, RuntimeArn, RuntimeId, RuntimeName};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api_error::ApiError;

/// The account and region the local runtime pretends to live in.
pub const ACCOUNT: &str = "123456789012";

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// Seconds since the epoch as stored, as a `SystemTime` (the epoch for anything unusable).
fn system_time(t: f64) -> SystemTime {
    Duration::try_from_secs_f64(t)
        .ok()
        .and_then(|d| UNIX_EPOCH.checked_add(d))
        .unwrap_or(UNIX_EPOCH)
}

fn to_json(v: &impl Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|e| ApiError::internal(format!("response: {e}")))
}

fn iso(t: f64) -> String {
    use aws_smithy_types::date_time::{DateTime, Format};
    DateTime::from_secs_f64(t)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..10)
        .map(|_| char::from(fastrand::choice(ALPHABET).copied().unwrap_or(b'x')))
        .collect()
}

/// One version of a runtime: the create/update body that made it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuntimeVersion {
    /// 1, 2, ...
    pub version: u32,
    /// The body.
    pub input: AgentRuntimeInput,
    /// When it was made.
    pub created_at: f64,
}

/// An endpoint of a runtime.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredEndpoint {
    /// Endpoint id.
    pub id: String,
    /// Version serving.
    pub live_version: u32,
    /// Description.
    pub description: Option<String>,
    /// Created.
    pub created_at: f64,
    /// Updated.
    pub last_updated_at: f64,
    /// Becomes READY at.
    pub ready_at: f64,
}

/// An agent runtime.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredRuntime {
    /// Runtime id.
    pub id: String,
    /// Runtime name.
    pub name: String,
    /// Runtime ARN.
    pub arn: String,
    /// All versions, oldest first.
    pub versions: Vec<RuntimeVersion>,
    /// Created.
    pub created_at: f64,
    /// Updated.
    pub last_updated_at: f64,
    /// CREATING/UPDATING until then, READY after.
    pub ready_at: f64,
    /// Whether the latest change was an update.
    pub updating: bool,
    /// Endpoints by name (DEFAULT always present).
    pub endpoints: BTreeMap<String, StoredEndpoint>,
}

impl StoredRuntime {
    /// The latest version.
    pub fn latest(&self) -> &RuntimeVersion {
        // A runtime is created with one version, versions are never removed, and a state
        // file holding a runtime without versions is repaired on load; still, bytes from
        // disk never get to panic a request (under the store lock).
        static NONE: std::sync::LazyLock<RuntimeVersion> =
            std::sync::LazyLock::new(|| RuntimeVersion {
                version: 0,
                input: AgentRuntimeInput::default(),
                created_at: 0.0,
            });
        self.versions.last().unwrap_or(&NONE)
    }

    /// The status now.
    pub fn status(&self) -> &'static str {
        if now() >= self.ready_at {
            "READY"
        } else if self.updating {
            "UPDATING"
        } else {
            "CREATING"
        }
    }

    /// Session storage mount paths of the latest version.
    pub fn session_storage(&self) -> Vec<MountPath> {
        self.latest()
            .input
            .filesystem_configurations
            .iter()
            .flatten()
            .filter_map(|f| match f {
                FilesystemConfiguration::SessionStorage(s) => Some(s.mount_path.clone()),
                _ => None,
            })
            .collect()
    }

    /// Every mount path of the latest version with what backs it locally.
    pub fn mounts(&self) -> Vec<(MountPath, MountKind)> {
        self.latest()
            .input
            .filesystem_configurations
            .iter()
            .flatten()
            .filter_map(|f| {
                let kind = match f {
                    FilesystemConfiguration::SessionStorage(_) => MountKind::SessionStorage,
                    _ => MountKind::Shared,
                };
                f.mount_path().map(|p| (p.clone(), kind))
            })
            .collect()
    }

    /// `idleRuntimeSessionTimeout` of the latest version (default 900 s).
    pub fn idle_timeout(&self) -> Duration {
        let secs = self
            .latest()
            .input
            .lifecycle_configuration
            .as_ref()
            .and_then(|l| l.idle_runtime_session_timeout)
            .unwrap_or(900);
        Duration::from_secs(u64::from(secs))
    }

    /// `maxLifetime` of the latest version (default 28,800 s).
    pub fn max_lifetime(&self) -> Duration {
        let secs = self
            .latest()
            .input
            .lifecycle_configuration
            .as_ref()
            .and_then(|l| l.max_lifetime)
            .unwrap_or(28_800);
        Duration::from_secs(u64::from(secs))
    }

    /// The container URI of the latest version, if it is a container.
    pub fn container_uri(&self) -> Option<String> {
        serde_json::to_value(&self.latest().input.agent_runtime_artifact)
            .ok()
            .and_then(|v| {
                v.pointer("/containerConfiguration/containerUri")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
            })
    }

    /// The environment variables of the latest version.
    pub fn environment(&self) -> Vec<(String, String)> {
        self.latest()
            .input
            .environment_variables
            .iter()
            .flat_map(|e| e.iter().map(|(k, v)| (k.to_owned(), v.to_owned())))
            .collect()
    }

    /// GetAgentRuntime body for `version` (latest when `None`).
    pub fn describe(&self, version: Option<u32>) -> Result<Value, ApiError> {
        let v = match version {
            None => self.latest(),
            Some(n) => self
                .versions
                .iter()
                .find(|v| v.version == n)
                .ok_or_else(|| {
                    ApiError::not_found(format!("version {n} of {} not found", self.id))
                })?,
        };
        let mut body = serde_json::to_value(&v.input).unwrap_or_else(|_| json!({}));
        if let Some(obj) = body.as_object_mut() {
            obj.remove("clientToken");
            obj.remove("tags");
            obj.insert("agentRuntimeArn".into(), json!(self.arn));
            obj.insert("agentRuntimeName".into(), json!(self.name));
            obj.insert("agentRuntimeId".into(), json!(self.id));
            obj.insert("agentRuntimeVersion".into(), json!(v.version.to_string()));
            obj.insert("createdAt".into(), json!(iso(self.created_at)));
            obj.insert("lastUpdatedAt".into(), json!(iso(self.last_updated_at)));
            obj.insert("status".into(), json!(self.status()));
            obj.entry("lifecycleConfiguration")
                .or_insert_with(|| json!({"idleRuntimeSessionTimeout": 900, "maxLifetime": 28800}));
        }
        Ok(body)
    }

    /// The ARN, id and name as the SDK types them (checked when the runtime was created).
    fn typed(&self) -> Result<(RuntimeArn, RuntimeId, RuntimeName), ApiError> {
        let bad = |what: &str| ApiError::internal(format!("stored runtime {what} is invalid"));
        Ok((
            self.arn.parse().map_err(|_| bad("ARN"))?,
            self.id.parse().map_err(|_| bad("id"))?,
            self.name.parse().map_err(|_| bad("name"))?,
        ))
    }

    fn typed_status(&self) -> AgentRuntimeStatus {
        match self.status() {
            "READY" => AgentRuntimeStatus::Ready,
            "UPDATING" => AgentRuntimeStatus::Updating,
            _ => AgentRuntimeStatus::Creating,
        }
    }

    /// A ListAgentRuntimes line, built from the SDK's model type.
    pub fn summary(&self, v: &RuntimeVersion) -> Result<Value, ApiError> {
        let (arn, id, name) = self.typed()?;
        to_json(&server_support::runtime_summary(
            arn,
            id,
            v.version,
            name,
            v.input.description.clone().unwrap_or_default(),
            system_time(self.last_updated_at),
            self.typed_status(),
        ))
    }

    /// The create / update response, built from the SDK's model type.
    pub fn change(&self) -> Result<Value, ApiError> {
        let (arn, id, _) = self.typed()?;
        to_json(&server_support::runtime_change(
            arn,
            id,
            self.latest().version,
            system_time(self.created_at),
            system_time(self.last_updated_at),
            self.typed_status(),
        ))
    }

    /// An endpoint's description, built from the SDK's model type (plus the runtime id and
    /// endpoint name some clients read from create / update answers).
    pub fn describe_endpoint(&self, name: &str, e: &StoredEndpoint) -> Result<Value, ApiError> {
        let latest = self.latest().version;
        let live = if name == "DEFAULT" {
            latest
        } else {
            e.live_version
        };
        let (arn, _, _) = self.typed()?;
        let status = if now() >= e.ready_at {
            AgentRuntimeEndpointStatus::Ready
        } else {
            AgentRuntimeEndpointStatus::Creating
        };
        let mut endpoint = server_support::runtime_endpoint(
            name.parse()?,
            e.id.clone(),
            live,
            arn,
            status,
            e.description.clone(),
            system_time(e.created_at),
            system_time(e.last_updated_at),
        );
        endpoint
            .unknown_members
            .insert("agentRuntimeId".into(), json!(self.id));
        endpoint
            .unknown_members
            .insert("endpointName".into(), json!(name));
        to_json(&endpoint)
    }
}

/// What backs a mount path locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    /// Per-session persistent directory.
    SessionStorage,
    /// One directory shared by every session of the runtime (stands in for EFS / S3 Files).
    Shared,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    runtimes: BTreeMap<String, StoredRuntime>,
    /// clientToken → runtime id, for idempotent creates.
    tokens: BTreeMap<String, String>,
    /// Tags by resource ARN.
    #[serde(default)]
    tags: BTreeMap<String, BTreeMap<String, String>>,
    /// Resource policies by resource ARN.
    #[serde(default)]
    policies: BTreeMap<String, String>,
}

/// The store. Every mutation is written to disk before it is acknowledged.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    region: String,
    ready_delay: Duration,
    state: State,
    /// Held while the store is open: one server per data directory.
    _lock: nix::fcntl::Flock<std::fs::File>,
}

impl Store {
    /// Loads (or starts) the store in `data_dir`. Fails if another server has it open: two
    /// servers writing one state file would lose each other's changes.
    pub fn open(data_dir: &Path, region: &str, ready_delay: Duration) -> std::io::Result<Self> {
        let lock = {
            use std::os::unix::fs::OpenOptionsExt;
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o600)
                .open(data_dir.join(".lock"))?;
            nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(
                |(_, e)| {
                    std::io::Error::new(
                        std::io::ErrorKind::AddrInUse,
                        format!(
                            "the data directory {} is in use by another agentcore-local ({e})",
                            data_dir.display()
                        ),
                    )
                },
            )?
        };
        let path = data_dir.join("runtimes.json");
        let mut state: State = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(std::io::Error::other)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(e),
        };
        state.runtimes.retain(|id, rt| {
            let keep = !rt.versions.is_empty();
            if !keep {
                tracing::warn!(runtime = %id, "dropping a runtime without versions from the state file");
            }
            keep
        });
        Ok(Self {
            path,
            region: region.to_owned(),
            ready_delay,
            state,
            _lock: lock,
        })
    }

    fn persist(&self) -> Result<(), ApiError> {
        let bytes = serde_json::to_vec_pretty(&self.state)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        write_private(&self.path, &bytes)
            .map_err(|e| ApiError::internal(format!("cannot save state: {e}")))
    }

    /// A runtime by id.
    pub fn get(&self, id: &str) -> Result<&StoredRuntime, ApiError> {
        self.state
            .runtimes
            .get(id)
            .ok_or_else(|| ApiError::not_found(format!("Agent runtime {id} not found")))
    }

    fn runtime_mut(&mut self, id: &str) -> Result<&mut StoredRuntime, ApiError> {
        self.state
            .runtimes
            .get_mut(id)
            .ok_or_else(|| ApiError::not_found(format!("Agent runtime {id} not found")))
    }

    /// A runtime by ARN (data plane).
    pub fn by_arn(&self, arn: &RuntimeArn) -> Result<&StoredRuntime, ApiError> {
        self.state
            .runtimes
            .get(arn.runtime_id().as_str())
            .filter(|r| r.arn == arn.as_str())
            .ok_or_else(|| ApiError::not_found(format!("Agent runtime {arn} not found")))
    }

    /// All runtimes.
    pub fn all(&self) -> impl Iterator<Item = &StoredRuntime> {
        self.state.runtimes.values()
    }

    /// Runs a mutation so that memory changes only if the state file was written: on any
    /// error (validation, or the write itself) the state is as before.
    fn transact<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let before = self.state.clone();
        let result = f(self);
        if result.is_err() {
            self.state = before;
        }
        result
    }

    /// CreateAgentRuntime, its ARN in `region` (the region the request was signed for) or
    /// the server's.
    pub fn create(
        &mut self,
        input: AgentRuntimeInput,
        region: Option<String>,
    ) -> Result<Value, ApiError> {
        self.transact(|s| s.create_unsaved(input, region))
    }

    /// Whether `arn` names a runtime or one of its endpoints.
    fn resource_exists(&self, arn: &str) -> bool {
        self.state.runtimes.values().any(|r| {
            r.arn == arn
                || arn
                    .strip_prefix(r.arn.as_str())
                    .and_then(|rest| rest.strip_prefix("/runtime-endpoint/"))
                    .is_some_and(|name| r.endpoints.contains_key(name))
        })
    }

    fn known(&self, arn: &str) -> Result<(), ApiError> {
        if self.resource_exists(arn) {
            Ok(())
        } else {
            Err(ApiError::not_found(format!("Resource {arn} not found")))
        }
    }

    /// TagResource.
    pub fn tag(&mut self, arn: &str, tags: BTreeMap<String, String>) -> Result<(), ApiError> {
        self.known(arn)?;
        self.transact(|s| {
            let t = s.state.tags.entry(arn.to_owned()).or_default();
            t.extend(tags);
            if t.len() > 50 {
                return Err(ApiError::validation(
                    "tags",
                    "a resource has at most 50 tags",
                ));
            }
            s.persist()
        })
    }

    /// UntagResource.
    pub fn untag(&mut self, arn: &str, keys: &[String]) -> Result<(), ApiError> {
        self.known(arn)?;
        self.transact(|s| {
            if let Some(t) = s.state.tags.get_mut(arn) {
                t.retain(|k, _| !keys.contains(k));
            }
            s.persist()
        })
    }

    /// ListTagsForResource.
    pub fn tags(&self, arn: &str) -> Result<BTreeMap<String, String>, ApiError> {
        self.known(arn)?;
        Ok(self.state.tags.get(arn).cloned().unwrap_or_default())
    }

    /// PutResourcePolicy.
    pub fn put_policy(&mut self, arn: &str, policy: String) -> Result<(), ApiError> {
        self.known(arn)?;
        self.transact(|s| {
            s.state.policies.insert(arn.to_owned(), policy);
            s.persist()
        })
    }

    /// GetResourcePolicy.
    pub fn policy(&self, arn: &str) -> Result<Option<String>, ApiError> {
        self.known(arn)?;
        Ok(self.state.policies.get(arn).cloned())
    }

    /// DeleteResourcePolicy.
    pub fn delete_policy(&mut self, arn: &str) -> Result<(), ApiError> {
        self.known(arn)?;
        self.transact(|s| {
            if s.state.policies.remove(arn).is_none() {
                return Err(ApiError::not_found(format!("Resource {arn} has no policy")));
            }
            s.persist()
        })
    }

    /// DeleteAgentRuntime of one version: the version goes, the runtime stays. The latest
    /// version and versions an endpoint serves cannot be deleted.
    pub fn delete_version(&mut self, id: &str, version: u32) -> Result<Value, ApiError> {
        self.transact(|s| {
            let rt = s.runtime_mut(id)?;
            let latest = rt.latest().version;
            if !rt.versions.iter().any(|v| v.version == version) {
                return Err(ApiError::not_found(format!(
                    "Version {version} of {id} not found"
                )));
            }
            if version == latest || rt.endpoints.values().any(|e| e.live_version == version) {
                return Err(ApiError::conflict(format!(
                    "Version {version} of {id} is in use (latest or served by an endpoint)"
                )));
            }
            rt.versions.retain(|v| v.version != version);
            let body = to_json(&server_support::deleted_runtime(id.parse()?, version))?;
            s.persist()?;
            Ok(body)
        })
    }

    /// UpdateAgentRuntime.
    pub fn update(&mut self, id: &str, input: AgentRuntimeInput) -> Result<Value, ApiError> {
        self.transact(|s| s.update_unsaved(id, input))
    }

    /// DeleteAgentRuntime.
    pub fn delete(&mut self, id: &str) -> Result<Value, ApiError> {
        self.transact(|s| s.delete_unsaved(id))
    }

    /// CreateAgentRuntimeEndpoint.
    pub fn create_endpoint(
        &mut self,
        id: &str,
        input: AgentRuntimeEndpointInput,
    ) -> Result<Value, ApiError> {
        self.transact(|s| s.create_endpoint_unsaved(id, input))
    }

    /// UpdateAgentRuntimeEndpoint.
    pub fn update_endpoint(
        &mut self,
        id: &str,
        name: &str,
        input: AgentRuntimeEndpointInput,
    ) -> Result<Value, ApiError> {
        self.transact(|s| s.update_endpoint_unsaved(id, name, input))
    }

    /// DeleteAgentRuntimeEndpoint.
    pub fn delete_endpoint(&mut self, id: &str, name: &str) -> Result<Value, ApiError> {
        self.transact(|s| s.delete_endpoint_unsaved(id, name))
    }

    fn create_unsaved(
        &mut self,
        input: AgentRuntimeInput,
        region: Option<String>,
    ) -> Result<Value, ApiError> {
        validate(&input, true)?;
        if let Some(token) = &input.client_token
            && let Some(id) = self.state.tokens.get(token)
            && let Some(rt) = self.state.runtimes.get(id)
        {
            return rt.change();
        }
        let name = input.agent_runtime_name.clone().unwrap_or_default();
        if self.state.runtimes.values().any(|r| r.name == name) {
            return Err(ApiError::conflict(format!(
                "An agent runtime named {name} already exists"
            )));
        }
        let id = format!("{name}-{}", random_suffix());
        let region = region.as_deref().unwrap_or(&self.region);
        let arn = format!(
            "arn:{}:bedrock-agentcore:{region}:{ACCOUNT}:runtime/{id}",
            partition(region)
        );
        if let Some(tags) = &input.tags {
            self.state.tags.insert(arn.clone(), tags.clone());
        }
        let t = now();
        let mut endpoints = BTreeMap::new();
        endpoints.insert(
            "DEFAULT".to_owned(),
            StoredEndpoint {
                id: format!("DEFAULT-{}", random_suffix()),
                live_version: 1,
                description: None,
                created_at: t,
                last_updated_at: t,
                ready_at: t + self.ready_delay.as_secs_f64(),
            },
        );
        let rt = StoredRuntime {
            id: id.clone(),
            name,
            arn,
            versions: vec![RuntimeVersion {
                version: 1,
                input: input.clone(),
                created_at: t,
            }],
            created_at: t,
            last_updated_at: t,
            ready_at: t + self.ready_delay.as_secs_f64(),
            updating: false,
            endpoints,
        };
        let body = rt.change()?;
        if let Some(token) = input.client_token {
            self.state.tokens.insert(token, id.clone());
        }
        self.state.runtimes.insert(id, rt);
        self.persist()?;
        Ok(body)
    }

    fn update_unsaved(&mut self, id: &str, input: AgentRuntimeInput) -> Result<Value, ApiError> {
        validate(&input, false)?;
        let delay = self.ready_delay.as_secs_f64();
        let rt = self.runtime_mut(id)?;
        // A retried update (same clientToken as the version it made) makes no new version.
        if input.client_token.is_some()
            && rt.latest().input.client_token == input.client_token
            && rt.latest().version > 1
        {
            return rt.change();
        }
        let t = now();
        let version = rt.latest().version.saturating_add(1);
        rt.versions.push(RuntimeVersion {
            version,
            input,
            created_at: t,
        });
        rt.last_updated_at = t;
        rt.ready_at = t + delay;
        rt.updating = true;
        let body = rt.change()?;
        self.persist()?;
        Ok(body)
    }

    fn delete_unsaved(&mut self, id: &str) -> Result<Value, ApiError> {
        let rt = self
            .state
            .runtimes
            .remove(id)
            .ok_or_else(|| ApiError::not_found(format!("Agent runtime {id} not found")))?;
        self.state.tokens.retain(|_, v| v != id);
        let prefix = rt.arn.clone();
        self.state.tags.retain(|arn, _| !arn.starts_with(&prefix));
        self.state
            .policies
            .retain(|arn, _| !arn.starts_with(&prefix));
        self.persist()?;
        to_json(&server_support::deleted_runtime(
            rt.id.parse()?,
            rt.latest().version,
        ))
    }

    fn create_endpoint_unsaved(
        &mut self,
        id: &str,
        input: AgentRuntimeEndpointInput,
    ) -> Result<Value, ApiError> {
        let name = input
            .name
            .clone()
            .ok_or_else(|| ApiError::validation("name", "name is required"))?;
        name.parse::<agentcore_sdk::EndpointName>()?;
        let delay = self.ready_delay.as_secs_f64();
        let rt = self.runtime_mut(id)?;
        if rt.endpoints.contains_key(&name) {
            return Err(ApiError::conflict(format!(
                "Endpoint {name} already exists"
            )));
        }
        let version = parse_version(rt, input.agent_runtime_version.as_deref())?;
        let t = now();
        let e = StoredEndpoint {
            id: format!("{name}-{}", random_suffix()),
            live_version: version,
            description: input.description,
            created_at: t,
            last_updated_at: t,
            ready_at: t + delay,
        };
        let body = rt.describe_endpoint(&name, &e)?;
        rt.endpoints.insert(name, e);
        self.persist()?;
        Ok(body)
    }

    fn update_endpoint_unsaved(
        &mut self,
        id: &str,
        name: &str,
        input: AgentRuntimeEndpointInput,
    ) -> Result<Value, ApiError> {
        let rt = self.runtime_mut(id)?;
        let version = match input.agent_runtime_version.as_deref() {
            Some(v) => Some(parse_version(rt, Some(v))?),
            None => None,
        };
        let e = rt
            .endpoints
            .get_mut(name)
            .ok_or_else(|| ApiError::not_found(format!("Endpoint {name} not found")))?;
        if let Some(v) = version {
            e.live_version = v;
        }
        if input.description.is_some() {
            e.description = input.description;
        }
        e.last_updated_at = now();
        let e = e.clone();
        let body = rt.describe_endpoint(name, &e)?;
        self.persist()?;
        Ok(body)
    }

    fn delete_endpoint_unsaved(&mut self, id: &str, name: &str) -> Result<Value, ApiError> {
        if name == "DEFAULT" {
            return Err(ApiError::validation(
                "endpointName",
                "the DEFAULT endpoint cannot be deleted",
            ));
        }
        let rt = self.runtime_mut(id)?;
        rt.endpoints
            .remove(name)
            .ok_or_else(|| ApiError::not_found(format!("Endpoint {name} not found")))?;
        self.persist()?;
        to_json(&server_support::deleted_endpoint(
            id.parse()?,
            name.parse()?,
        ))
    }
}

fn parse_version(rt: &StoredRuntime, v: Option<&str>) -> Result<u32, ApiError> {
    match v {
        None => Ok(rt.latest().version),
        Some(s) => {
            let n: u32 = s.parse().map_err(|_| {
                ApiError::validation("agentRuntimeVersion", format!("invalid version {s:?}"))
            })?;
            if rt.versions.iter().any(|v| v.version == n) {
                Ok(n)
            } else {
                Err(ApiError::not_found(format!(
                    "version {n} of {} not found",
                    rt.id
                )))
            }
        }
    }
}

/// The service's own validation of a create / update body.
fn validate(input: &AgentRuntimeInput, create: bool) -> Result<(), ApiError> {
    // The SDK's request rules, one copy for client and server.
    input.validate(create)?;
    // What the SDK keeps for forward compatibility but this server cannot run.
    if input
        .filesystem_configurations
        .iter()
        .flatten()
        .any(|f| matches!(f, FilesystemConfiguration::Unknown(_)))
    {
        return Err(ApiError::validation(
            "filesystemConfigurations",
            "unsupported filesystem configuration type",
        ));
    }
    Ok(())
}

/// Replaces `path` with `bytes` atomically and durably, readable by its owner only (it holds
/// environment variables): a uniquely named temporary file, fsynced, renamed, and the
/// directory fsynced.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension(format!("{}.tmp", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The partition a region belongs to, as AWS names them.
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("eusc-") {
        "aws-eusc"
    } else {
        "aws"
    }
}
