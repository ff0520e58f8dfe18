//! The Kubernetes state backend: the state JSON in a Secret
//! `stack-state-<stack>`, and a `coordination.k8s.io/v1` Lease
//! `stack-lock-<stack>` as the lock, both in one namespace (created when
//! missing).
//!
//! The Lease's `holderIdentity` is the run's lock id and an annotation holds
//! the whole `LockInfo`, so a locked state names its holder. The holder
//! renews the Lease while it runs; a Lease not renewed within its duration
//! (a killed run elsewhere) or held by a process of this machine that is
//! gone may be taken over, and `force` breaks any. Every write of the
//! Secret carries the `resourceVersion` last read, so two writers cannot
//! silently overwrite each other.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use kube::api::{Api, DeleteParams, DynamicObject, PostParams, Preconditions};
use kube::core::ApiResource;
use serde_json::{json, Value as Json};
use stack_engine::provider::{ClusterTarget, ProviderError};
use stack_engine::state::backend::BoxFuture;
use stack_engine::state::{LockInfo, State, StateBackend, StateError, FORMAT_VERSION};

use crate::kubernetes::client::{Clients, Cluster};
use crate::kubernetes::retry::{CallError, Conflicts};
use crate::kubernetes::wait::read;

/// The key of the state in the Secret's data.
pub const STATE_KEY: &str = "state.json";
/// The annotation of the Lease that holds the holder's `LockInfo`.
pub const LOCK_ANNOTATION: &str = "stack.dev/lock";
/// The most a Secret may hold.
const SECRET_LIMIT: usize = 1024 * 1024;

/// How the backend reaches its cluster.
enum Connection {
    Target(ClusterTarget, Arc<Clients>),
    Ready(Arc<Cluster>),
}

pub struct KubernetesStateBackend {
    connection: Connection,
    cluster: tokio::sync::OnceCell<Arc<Cluster>>,
    namespace: String,
    stack: String,
    lease_duration: Duration,
    /// The Secret's `resourceVersion` as last read or written by this backend.
    seen: Mutex<Option<String>>,
    namespace_ready: tokio::sync::OnceCell<()>,
    renewal: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for KubernetesStateBackend {
    fn drop(&mut self) {
        self.stop_renewal();
    }
}

/// A DNS-1123 name: lower case, digits and `-`, at most 253 characters.
fn object_name(prefix: &str, stack: &str) -> String {
    let mut name: String = format!("{prefix}{stack}")
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    name.truncate(253);
    name.trim_end_matches(['-', '.']).to_string()
}

fn secrets() -> ApiResource {
    ApiResource {
        group: String::new(),
        version: "v1".into(),
        api_version: "v1".into(),
        kind: "Secret".into(),
        plural: "secrets".into(),
    }
}

fn leases() -> ApiResource {
    ApiResource {
        group: "coordination.k8s.io".into(),
        version: "v1".into(),
        api_version: "coordination.k8s.io/v1".into(),
        kind: "Lease".into(),
        plural: "leases".into(),
    }
}

fn namespaces() -> ApiResource {
    ApiResource {
        group: String::new(),
        version: "v1".into(),
        api_version: "v1".into(),
        kind: "Namespace".into(),
        plural: "namespaces".into(),
    }
}

fn to_object(value: Json) -> Result<DynamicObject, serde_json::Error> {
    serde_json::from_value(value)
}

fn to_json(object: &DynamicObject) -> Json {
    serde_json::to_value(object).unwrap_or(Json::Null)
}

fn resource_version(object: &Json) -> Option<String> {
    object
        .pointer("/metadata/resourceVersion")
        .and_then(Json::as_str)
        .map(str::to_string)
}

impl KubernetesStateBackend {
    /// The state of `stack` in `namespace` of the cluster `target`, which
    /// is connected to on first use.
    pub fn new(
        target: ClusterTarget,
        namespace: impl Into<String>,
        stack: impl Into<String>,
    ) -> Self {
        KubernetesStateBackend::with_clients(target, Arc::new(Clients::new()), namespace, stack)
    }

    /// As [`new`](Self::new), sharing the clients of the providers.
    pub fn with_clients(
        target: ClusterTarget,
        clients: Arc<Clients>,
        namespace: impl Into<String>,
        stack: impl Into<String>,
    ) -> Self {
        KubernetesStateBackend::build(
            Connection::Target(target, clients),
            namespace.into(),
            stack.into(),
        )
    }

    /// The state of `stack` in `namespace`, through an existing client.
    pub fn from_client(
        client: kube::Client,
        namespace: impl Into<String>,
        stack: impl Into<String>,
    ) -> Self {
        let cluster =
            Cluster::from_client("state", client, crate::kubernetes::RetryPolicy::default());
        KubernetesStateBackend::build(
            Connection::Ready(Arc::new(cluster)),
            namespace.into(),
            stack.into(),
        )
    }

    fn build(connection: Connection, namespace: String, stack: String) -> Self {
        KubernetesStateBackend {
            connection,
            cluster: tokio::sync::OnceCell::new(),
            namespace,
            stack,
            lease_duration: Duration::from_secs(60),
            seen: Mutex::new(None),
            namespace_ready: tokio::sync::OnceCell::new(),
            renewal: Mutex::new(None),
        }
    }

    /// How long a lock lasts without renewal (default 60 s); the holder
    /// renews it every third of that.
    pub fn with_lease_duration(mut self, duration: Duration) -> Self {
        self.lease_duration = duration.max(Duration::from_secs(1));
        self
    }

    pub fn secret_name(&self) -> String {
        object_name("stack-state-", &self.stack)
    }

    pub fn lease_name(&self) -> String {
        object_name("stack-lock-", &self.stack)
    }

    async fn cluster(&self) -> Result<&Arc<Cluster>, StateError> {
        self.cluster
            .get_or_try_init(|| async {
                match &self.connection {
                    Connection::Ready(cluster) => Ok(cluster.clone()),
                    Connection::Target(target, clients) => {
                        clients.cluster(target).await.map_err(provider_error)
                    }
                }
            })
            .await
    }

    fn fail(&self, cluster: &Cluster, doing: &str, error: &CallError) -> StateError {
        if error.is_transport() {
            let e = cluster.unreachable(&format!("cannot {doing} {}", self.describe()), error);
            return StateError::Backend {
                message: e.to_string(),
                help: miette::Diagnostic::help(&e).map(|h| h.to_string()),
            };
        }
        let help = match error.code() {
            Some(401) => Some(format!("the credentials of {} were refused; log in again", cluster.describe())),
            Some(403) => Some(format!(
                "the state backend needs to get, create and update Secrets and Leases in namespace `{}`",
                self.namespace
            )),
            _ => None,
        };
        StateError::Backend {
            message: format!("cannot {doing} {}: {error}", self.describe()),
            help,
        }
    }

    async fn ensure_namespace(&self, cluster: &Cluster) -> Result<(), StateError> {
        self.namespace_ready
            .get_or_try_init(|| async {
                let api: Api<DynamicObject> = Api::all_with(cluster.client.clone(), &namespaces());
                let found = read(cluster, &api, &self.namespace)
                    .await
                    .map_err(|e| self.fail(cluster, "read the namespace of", &e))?;
                if found.is_some() {
                    return Ok(());
                }
                let namespace = to_object(json!({
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": { "name": self.namespace },
                }))
                .map_err(|e| self.invalid(e))?;
                match cluster
                    .retry
                    .run(Conflicts::Final, || {
                        let api = api.clone();
                        let namespace = namespace.clone();
                        async move { api.create(&PostParams::default(), &namespace).await }
                    })
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(e) if e.code() == Some(409) => Ok(()),
                    Err(e) => Err(self.fail(cluster, "create the namespace of", &e)),
                }
            })
            .await
            .map(|_| ())
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn stop_renewal(&self) {
        let mut renewal = self
            .renewal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(task) = renewal.take() {
            task.abort();
        }
    }

    fn invalid(&self, source: serde_json::Error) -> StateError {
        StateError::Invalid {
            path: self.describe().into(),
            source,
        }
    }

    async fn read_state(&self) -> Result<State, StateError> {
        let cluster = self.cluster().await?;
        let api: Api<DynamicObject> =
            Api::namespaced_with(cluster.client.clone(), &self.namespace, &secrets());
        let found = read(cluster, &api, &self.secret_name())
            .await
            .map_err(|e| self.fail(cluster, "read the state from", &e))?;
        let Some(secret) = found else {
            *self.seen() = None;
            return Ok(State::empty(self.stack.clone()));
        };
        let bytes = secret_state(&secret).ok_or_else(|| StateError::Backend {
            message: format!("{} holds no readable `{STATE_KEY}`", self.describe()),
            help: Some(
                "restore the Secret from a backup, or delete it to start from an empty state"
                    .into(),
            ),
        })?;
        let value: Json = serde_json::from_slice(&bytes).map_err(|e| self.invalid(e))?;
        if let Some(found) = value.get("version").and_then(Json::as_u64) {
            if found != u64::from(FORMAT_VERSION) {
                return Err(StateError::Version {
                    path: self.describe().into(),
                    found: u32::try_from(found).unwrap_or(u32::MAX),
                });
            }
        }
        let state: State = serde_json::from_value(value).map_err(|e| self.invalid(e))?;
        *self.seen() = resource_version(&secret);
        Ok(state)
    }

    /// The Secret's text for `state`.
    fn state_text(&self, state: &State) -> Result<Vec<u8>, StateError> {
        let mut text = serde_json::to_vec_pretty(state).map_err(|e| self.invalid(e))?;
        text.push(b'\n');
        if text.len() > SECRET_LIMIT {
            return Err(StateError::Backend {
                message: format!(
                    "the state of `{}` ({} KiB) is larger than a Secret may hold (1 MiB)",
                    self.stack,
                    text.len() / 1024
                ),
                help: Some(
                    "use the local state backend, or split the stack into smaller stacks".into(),
                ),
            });
        }
        Ok(text)
    }

    async fn write_state(&self, text: Vec<u8>) -> Result<(), StateError> {
        let cluster = self.cluster().await?;
        self.ensure_namespace(cluster).await?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(&text);
        let seen = self.seen().clone();
        let mut metadata = json!({
            "name": self.secret_name(),
            "namespace": self.namespace,
            "labels": { "app.kubernetes.io/managed-by": "stack" },
            "annotations": { "stack.dev/stack": self.stack },
        });
        if let Some(rv) = &seen {
            metadata["resourceVersion"] = json!(rv);
        }
        let secret = to_object(json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": metadata,
            "type": "Opaque",
            "data": { STATE_KEY: encoded },
        }))
        .map_err(|e| self.invalid(e))?;
        let api: Api<DynamicObject> =
            Api::namespaced_with(cluster.client.clone(), &self.namespace, &secrets());
        let name = self.secret_name();
        let written = create_or_replace(cluster, &api, &name, &secret, seen.is_some()).await;
        let written = match written {
            Ok(object) => to_json(&object),
            Err(e) if e.code() == Some(409) => {
                // Either another writer got there first, or an earlier attempt
                // of this write succeeded and only its answer was lost.
                let current = read(cluster, &api, &name)
                    .await
                    .map_err(|e| self.fail(cluster, "read the state from", &e))?;
                match current {
                    Some(current) if secret_state(&current).as_deref() == Some(text.as_slice()) => current,
                    _ => {
                        return Err(StateError::Backend {
                            message: format!(
                                "the state in {} was changed by another writer since this run read it",
                                self.describe()
                            ),
                            help: Some(
                                "another run is using this state (was its lock broken with `--force-unlock`?): let it finish, then run again"
                                    .into(),
                            ),
                        })
                    }
                }
            }
            Err(e) => return Err(self.fail(cluster, "write the state to", &e)),
        };
        *self.seen() = resource_version(&written);
        Ok(())
    }

    /// Deletes the state Secret, if it still is what this run last wrote
    /// and holds nothing: another writer's state is never deleted.
    async fn delete_state(&self, state: &State) -> Result<(), StateError> {
        if !state.resources.is_empty() {
            return Ok(());
        }
        let Some(seen) = self.seen().clone() else {
            return Ok(());
        };
        let cluster = self.cluster().await?;
        let api: Api<DynamicObject> =
            Api::namespaced_with(cluster.client.clone(), &self.namespace, &secrets());
        let name = self.secret_name();
        match delete_unchanged(cluster, &api, &name, Some(seen)).await {
            Ok(_) => {
                *self.seen() = None;
                Ok(())
            }
            Err(e) if e.code() == Some(404) => Ok(()),
            Err(e) if e.code() == Some(409) => Err(StateError::Backend {
                message: format!(
                    "the state in {} was changed by another writer: it is kept",
                    self.describe()
                ),
                help: Some("another run is using this state: look at it before deleting it".into()),
            }),
            Err(e) => Err(self.fail(cluster, "delete the state", &e)),
        }
    }

    fn lease_body(
        &self,
        holder: &LockInfo,
        existing: Option<&Json>,
    ) -> Result<DynamicObject, serde_json::Error> {
        let now = micro_time(now_micros());
        let info = serde_json::to_string(holder)?;
        let mut metadata = json!({
            "name": self.lease_name(),
            "namespace": self.namespace,
            "labels": { "app.kubernetes.io/managed-by": "stack" },
            "annotations": { LOCK_ANNOTATION: info, "stack.dev/stack": self.stack },
        });
        if let Some(rv) = existing.and_then(resource_version) {
            metadata["resourceVersion"] = json!(rv);
        }
        to_object(json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": {
                "holderIdentity": holder.id,
                "leaseDurationSeconds": self.lease_duration.as_secs(),
                "acquireTime": now,
                "renewTime": now,
            },
        }))
    }

    async fn take_lock(&self, holder: &LockInfo, force: bool) -> Result<(), StateError> {
        let cluster = self.cluster().await?;
        self.ensure_namespace(cluster).await?;
        let api: Api<DynamicObject> =
            Api::namespaced_with(cluster.client.clone(), &self.namespace, &leases());
        let name = self.lease_name();
        let mut last_holder = None;
        for _ in 0..5 {
            let current = read(cluster, &api, &name)
                .await
                .map_err(|e| self.fail(cluster, "read the lock of", &e))?;
            if let Some(lease) = &current {
                let held_by = lease_holder(lease);
                let now = now_micros();
                let free = match &held_by {
                    None => true,
                    Some(h) if h.id == holder.id || h.is_stale() || lease_expired(lease, now) => {
                        true
                    }
                    // `--force-unlock` breaks only the lock of a run that is gone.
                    Some(h) if force && (h.is_running_here() || being_renewed(lease, now)) => {
                        return Err(StateError::StillRunning {
                            stack: self.stack.clone(),
                            holder: Box::new(h.clone()),
                        });
                    }
                    Some(_) => force,
                };
                if !free {
                    last_holder = held_by;
                    break;
                }
            }
            let body = self
                .lease_body(holder, current.as_ref())
                .map_err(|e| self.invalid(e))?;
            let taken = create_or_replace(cluster, &api, &name, &body, current.is_some()).await;
            match taken {
                Ok(_) => {
                    self.start_renewal(api.clone(), holder.clone());
                    return Ok(());
                }
                // Someone else moved first: look again.
                Err(e) if e.code() == Some(409) => continue,
                Err(e) => return Err(self.fail(cluster, "take the lock of", &e)),
            }
        }
        Err(StateError::Locked {
            stack: self.stack.clone(),
            holder: Box::new(
                last_holder
                    .unwrap_or_else(|| unknown_holder(String::from("another run"), String::new())),
            ),
        })
    }

    /// Renews the Lease every third of its duration while this run holds it.
    fn start_renewal(&self, api: Api<DynamicObject>, holder: LockInfo) {
        self.stop_renewal();
        let name = self.lease_name();
        let every = self.lease_duration / 3;
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Ok(Some(lease)) = api.get_opt(&name).await else {
                    continue;
                };
                let mut lease = to_json(&lease);
                if lease.pointer("/spec/holderIdentity").and_then(Json::as_str)
                    != Some(holder.id.as_str())
                {
                    return; // taken over: not ours to renew
                }
                lease["spec"]["renewTime"] = json!(micro_time(now_micros()));
                if let Ok(body) = serde_json::from_value::<DynamicObject>(lease) {
                    // A conflict is retried at the next tick.
                    let _ = api.replace(&name, &PostParams::default(), &body).await;
                }
            }
        });
        *self
            .renewal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(task);
    }

    async fn release_lock(&self, holder: &LockInfo) -> Result<(), StateError> {
        self.stop_renewal();
        let cluster = self.cluster().await?;
        let api: Api<DynamicObject> =
            Api::namespaced_with(cluster.client.clone(), &self.namespace, &leases());
        let name = self.lease_name();
        let current = read(cluster, &api, &name)
            .await
            .map_err(|e| self.fail(cluster, "read the lock of", &e))?;
        let Some(lease) = current else { return Ok(()) };
        if lease.pointer("/spec/holderIdentity").and_then(Json::as_str) != Some(holder.id.as_str())
        {
            return Ok(()); // not ours (anymore)
        }
        match delete_unchanged(cluster, &api, &name, resource_version(&lease)).await {
            Ok(_) => Ok(()),
            // Gone already, or taken over meanwhile: no longer ours.
            Err(e) if matches!(e.code(), Some(404 | 409)) => Ok(()),
            Err(e) => Err(self.fail(cluster, "release the lock of", &e)),
        }
    }
}

/// Deletes `name` only if it is still at `resource_version`: what another
/// writer changed meanwhile is answered 409 and kept.
async fn delete_unchanged(
    cluster: &Cluster,
    api: &Api<DynamicObject>,
    name: &str,
    resource_version: Option<String>,
) -> Result<(), CallError> {
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            resource_version,
            uid: None,
        }),
        ..DeleteParams::default()
    };
    cluster
        .retry
        .run(Conflicts::Final, || {
            let (api, name, params) = (api.clone(), name.to_string(), params.clone());
            async move { api.delete(&name, &params).await }
        })
        .await
        .map(|_| ())
}

/// Writes `body` as `name`: a create, or a replace guarded by the
/// resourceVersion it carries, so a conflict is never retried blindly.
async fn create_or_replace(
    cluster: &Cluster,
    api: &Api<DynamicObject>,
    name: &str,
    body: &DynamicObject,
    exists: bool,
) -> Result<DynamicObject, CallError> {
    cluster
        .retry
        .run(Conflicts::Final, || {
            let (api, body, name) = (api.clone(), body.clone(), name.to_string());
            async move {
                if exists {
                    api.replace(&name, &PostParams::default(), &body).await
                } else {
                    api.create(&PostParams::default(), &body).await
                }
            }
        })
        .await
}

fn provider_error(e: ProviderError) -> StateError {
    StateError::Backend {
        message: e.message(),
        help: e.help(),
    }
}

/// The decoded state in a Secret.
fn secret_state(secret: &Json) -> Option<Vec<u8>> {
    let encoded = secret.pointer("/data")?.get(STATE_KEY)?.as_str()?;
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
}

/// Who holds a Lease: the `LockInfo` of its annotation, else its
/// `holderIdentity`; `None` when it is held by no one.
fn lease_holder(lease: &Json) -> Option<LockInfo> {
    let id = lease
        .pointer("/spec/holderIdentity")
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty())?;
    let info = lease
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(LOCK_ANNOTATION))
        .and_then(Json::as_str)
        .and_then(|text| serde_json::from_str::<LockInfo>(text).ok())
        .filter(|info| info.id == id);
    let started = lease
        .pointer("/spec/acquireTime")
        .and_then(Json::as_str)
        .unwrap_or_default();
    Some(info.unwrap_or_else(|| unknown_holder(id.to_string(), started.to_string())))
}

fn unknown_holder(id: String, started: String) -> LockInfo {
    LockInfo {
        id,
        pid: 0,
        host: "an unknown host".into(),
        user: "unknown".into(),
        started,
        operation: "(unknown)".into(),
        process_start: None,
    }
}

/// How long ago the Lease was last renewed, and how long it lasts, in
/// microseconds; `None` when it does not say.
fn lease_age(lease: &Json, now_micros: i64) -> Option<(i64, i64)> {
    let duration = lease
        .pointer("/spec/leaseDurationSeconds")
        .and_then(Json::as_i64)?;
    let renewed = lease
        .pointer("/spec/renewTime")
        .or_else(|| lease.pointer("/spec/acquireTime"))
        .and_then(Json::as_str)
        .and_then(parse_time)?;
    Some((now_micros - renewed, duration * 1_000_000))
}

/// Whether the Lease was last renewed longer ago than it lasts.
fn lease_expired(lease: &Json, now_micros: i64) -> bool {
    lease_age(lease, now_micros).is_some_and(|(age, lasts)| age > lasts)
}

/// Whether the holder is still renewing the Lease: renewed within two of
/// its renewal periods (a third of its duration each).
fn being_renewed(lease: &Json, now_micros: i64) -> bool {
    lease_age(lease, now_micros).is_some_and(|(age, lasts)| age <= lasts * 2 / 3)
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Microseconds since the epoch as a Kubernetes `MicroTime`:
/// `2024-05-01T10:00:00.123456Z`.
fn micro_time(micros: i64) -> String {
    let at = jiff::Timestamp::from_microsecond(micros).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    format!("{at:.6}")
}

/// Parses an RFC 3339 time (`Z` or `±HH:MM`, optional fraction) to
/// microseconds since the epoch.
fn parse_time(text: &str) -> Option<i64> {
    Some(text.parse::<jiff::Timestamp>().ok()?.as_microsecond())
}

impl StateBackend for KubernetesStateBackend {
    fn describe(&self) -> String {
        let cluster = match &self.connection {
            Connection::Target(target, _) => format!(" on cluster `{}`", target.name),
            Connection::Ready(_) => String::new(),
        };
        format!("Secret {}/{}{cluster}", self.namespace, self.secret_name())
    }

    fn load(&self) -> BoxFuture<'_, Result<State, StateError>> {
        Box::pin(self.read_state())
    }

    fn save(&self, state: &State) -> BoxFuture<'_, Result<(), StateError>> {
        let text = self.state_text(state);
        Box::pin(async move { self.write_state(text?).await })
    }

    fn lock<'a>(
        &'a self,
        holder: &'a LockInfo,
        force: bool,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(self.take_lock(holder, force))
    }

    fn unlock<'a>(&'a self, holder: &'a LockInfo) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(self.release_lock(holder))
    }

    fn discard<'a>(&'a self, state: &'a State) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(self.delete_state(state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_names() {
        assert_eq!(object_name("stack-state-", "dev"), "stack-state-dev");
        assert_eq!(
            object_name("stack-state-", "Team_Web Prod"),
            "stack-state-team-web-prod"
        );
        assert!(object_name("stack-lock-", &"x".repeat(400)).len() <= 253);
    }

    #[test]
    fn times_round_trip() {
        let t = 1_714_557_600_123_456; // 2024-05-01T10:00:00.123456Z
        assert_eq!(micro_time(t), "2024-05-01T10:00:00.123456Z");
        assert_eq!(parse_time("2024-05-01T10:00:00.123456Z"), Some(t));
        assert_eq!(parse_time("2024-05-01T10:00:00Z"), Some(t - 123_456));
        assert_eq!(parse_time("2024-05-01T12:00:00.123456+02:00"), Some(t));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(micro_time(0), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn leases_expire_after_their_duration() {
        let lease = json!({ "spec": { "holderIdentity": "a", "leaseDurationSeconds": 60,
                                      "renewTime": "2024-05-01T10:00:00.000000Z" } });
        let renewed = parse_time("2024-05-01T10:00:00Z").unwrap_or_default();
        assert!(!lease_expired(&lease, renewed + 59_000_000));
        assert!(lease_expired(&lease, renewed + 61_000_000));
    }

    #[test]
    fn holders_are_read_from_the_annotation() {
        let info = LockInfo::current("run");
        let lease = json!({
            "metadata": { "annotations": { LOCK_ANNOTATION: serde_json::to_string(&info).unwrap_or_default() } },
            "spec": { "holderIdentity": info.id },
        });
        assert_eq!(lease_holder(&lease), Some(info));
        let bare = json!({ "spec": { "holderIdentity": "someone", "acquireTime": "2024-05-01T10:00:00Z" } });
        let holder = lease_holder(&bare).map(|h| (h.id, h.started));
        assert_eq!(
            holder,
            Some(("someone".to_string(), "2024-05-01T10:00:00Z".to_string()))
        );
        assert_eq!(lease_holder(&json!({ "spec": {} })), None);
    }
}
