//! The Kubernetes provider: applies a resource's objects to its cluster
//! with server-side apply (field manager `stack` by default), waits for them to be
//! ready, prunes the objects the resource no longer has, deletes, and
//! reports drift.
//!
//! - `client.rs` — connections per cluster: kubeconfig or endpoint, cached
//! - `bearer.rs` — expiring cluster tokens (EKS) kept fresh during long runs
//! - `discovery.rs` — kinds resolved through discovery, refreshed on a miss
//! - `retry.rs` — bounded retries with backoff and jitter
//! - `error.rs` — API failures as provider errors naming the object
//! - `object.rs` — object identities and the apply order
//! - `apply.rs` — server-side apply of one object
//! - `readiness.rs` — when a Deployment, Job, CRD or Application is ready
//! - `wait.rs` — waiting for readiness or deletion, bounded by a deadline
//! - `delete.rs` — deleting objects and waiting for their finalizers
//! - `drift.rs` — live differences for `plan --refresh`
//! - `served.rs` — kinds and API versions the cluster serves, checked before a plan
//! - `holder.rs` — who holds a live object (its ownership annotations)
//! - `marked.rs` — every object on a cluster that carries a stack's mark

pub mod applications;
pub mod apply;
pub mod bearer;
pub mod client;
pub mod delete;
pub mod discovery;
pub mod drift;
pub mod error;
pub mod holder;
pub mod marked;
pub mod object;
pub mod readiness;
pub mod retry;
pub mod served;
pub mod wait;

use std::collections::BTreeMap;
use std::sync::Arc;

use self::error::KubeError;
use serde_json::Value as Json;
use stack_engine::ownership::Owner;
use stack_engine::provider::{
    Adoption, Applied, ApplyRequest, ClusterTarget, DeleteRequest, Drift, Provider, ProviderError,
};
use stack_engine::resource::{Kind, ResourceId};
use stack_engine::state::backend::BoxFuture;
use stack_engine::state::ObjectRef;

use apply::{apply_object, AppliedObject, ApplyMode};
pub use client::{Clients, Cluster, TokenSource};
use delete::Deletion;
use object::{apply_order, Desired, ObjectId};
use readiness::{is_application, waits_for};
pub use retry::RetryPolicy;
use wait::Deadline;

/// Applies Kubernetes objects directly to a cluster.
pub struct KubernetesProvider {
    clients: Arc<Clients>,
    force: bool,
    manager: &'static str,
    /// Whether each cluster answered the one quick probe made before a plan.
    answers: tokio::sync::Mutex<BTreeMap<ResourceId, bool>>,
}

/// How long a cluster may take to answer before a plan: one that does not
/// is left to the run, which says why.
const PREFLIGHT_PROBE: std::time::Duration = std::time::Duration::from_secs(3);

impl Default for KubernetesProvider {
    fn default() -> Self {
        KubernetesProvider::new()
    }
}

impl KubernetesProvider {
    /// A provider with its own client cache; it takes over fields other
    /// field managers own (server-side apply with force).
    pub fn new() -> Self {
        KubernetesProvider::with_clients(Arc::new(Clients::new()))
    }

    /// A provider sharing `clients` with other providers and the state backend.
    pub fn with_clients(clients: Arc<Clients>) -> Self {
        KubernetesProvider {
            clients,
            force: true,
            manager: apply::FIELD_MANAGER,
            answers: tokio::sync::Mutex::new(BTreeMap::new()),
        }
    }

    /// Applies as field manager `manager` instead of `stack` (bootstrap
    /// objects are `stack-bootstrap`'s).
    pub fn field_manager(mut self, manager: &'static str) -> Self {
        self.manager = manager;
        self
    }

    /// With `false`, a field owned by another field manager is a conflict
    /// that fails the apply and names that manager, instead of taken over.
    pub fn force_conflicts(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    pub fn clients(&self) -> &Arc<Clients> {
        &self.clients
    }

    /// Applies objects as they are and waits until each is ready: how GitOps
    /// delivery hands a cluster its root Application.
    pub async fn apply_and_wait(
        &self,
        target: &ClusterTarget,
        objects: &[Json],
        timeout: std::time::Duration,
    ) -> Result<(), ProviderError> {
        let cluster = self.clients.cluster(target).await?;
        let deadline = Deadline::after(timeout);
        for d in apply_order(parse_all(objects)?) {
            let a = apply_object(&cluster, &d, self.mode()).await?;
            if waits_for(&a.id) {
                wait::until_ready(&cluster, &a.api, &a.id, deadline, None, &Default::default())
                    .await?;
            }
        }
        Ok(())
    }

    /// Waits until objects someone else applies (Argo CD, from git) have
    /// the given spec and are ready, without writing them.
    pub async fn wait_applied(
        &self,
        target: &ClusterTarget,
        objects: &[Json],
        timeout: std::time::Duration,
    ) -> Result<(), ProviderError> {
        let cluster = self.clients.cluster(target).await?;
        let deadline = Deadline::after(timeout);
        for d in parse_all(objects)? {
            let kind = apply::kind_of(&cluster, &d.id).await?;
            let (api, id) = cluster.api(&d.id, &kind);
            let spec = d.manifest.get("spec").cloned().unwrap_or(Json::Null);
            wait::until_applied_and_ready(&cluster, &api, &id, spec, deadline).await?;
        }
        Ok(())
    }

    async fn cluster(
        &self,
        target: Option<&ClusterTarget>,
        id: &ResourceId,
    ) -> Result<Arc<Cluster>, ProviderError> {
        let target = target.ok_or_else(|| KubeError::Invalid {
            message: format!("`{id}` has Kubernetes objects but no cluster to apply them to"),
            help: Some("give it a `cluster`".into()),
        })?;
        self.clients.cluster(target).await
    }

    /// Before a plan is shown, when the cluster answers: that it serves
    /// the kinds of Kubernetes' own API groups `request` applies, that no
    /// object `request` would create belongs to someone else (or to
    /// nobody, without `adopt: true`), and what it would adopt.
    async fn preflight_resource(
        &self,
        request: &ApplyRequest,
    ) -> Result<Vec<Adoption>, ProviderError> {
        let Some(target) = request.cluster.as_ref() else {
            return Ok(Vec::new());
        };
        if request.objects.is_empty() {
            return Ok(Vec::new());
        }
        // Asked first: a plan without its cluster reads nothing further.
        let Some(cluster) = self.answering(target).await else {
            return Ok(Vec::new());
        };
        let Ok(desired) = parse_all(&request.objects) else {
            return Ok(Vec::new());
        };
        for d in desired
            .iter()
            .filter(|d| served::is_built_in(object::split_api_version(&d.id.api_version).0))
        {
            served::check(&cluster, &d.id).await?;
        }
        let (previous, adopt) = (recorded_objects(request), adopts(request));
        let mut adoptions = Vec::new();
        for d in desired.iter().filter(|d| !recorded(previous, &d.id)) {
            // A read that fails decides nothing: the run reads again.
            let Ok(holder) = holder::live_holder(&cluster, &d.id, &request.owner).await else {
                continue;
            };
            crate::ownership::check_create(&d.id, holder.as_ref(), &request.owner, adopt)?;
            if holder.as_ref().is_some_and(crate::ownership::is_adopted) {
                let changes = drift::drift(&cluster, std::slice::from_ref(d))
                    .await
                    .unwrap_or_default();
                adoptions.push(Adoption {
                    what: d.id.to_string(),
                    changes,
                });
            }
        }
        Ok(adoptions)
    }

    /// Whether `target` answers the one quick probe made per cluster
    /// before a plan.
    pub async fn answers(&self, target: &ClusterTarget) -> bool {
        self.answering(target).await.is_some()
    }

    /// The cluster of `target` if it answers the one quick probe made per
    /// cluster before a plan.
    async fn answering(&self, target: &ClusterTarget) -> Option<Arc<Cluster>> {
        let mut answers = self.answers.lock().await;
        if answers.get(&target.id) == Some(&false) {
            return None;
        }
        let Ok(cluster) = self.clients.cluster(target).await else {
            answers.insert(target.id.clone(), false);
            return None;
        };
        if !answers.contains_key(&target.id) {
            let probe = tokio::time::timeout(PREFLIGHT_PROBE, cluster.client.apiserver_version());
            let answered = matches!(probe.await, Ok(Ok(_)));
            answers.insert(target.id.clone(), answered);
            if !answered {
                return None;
            }
        }
        Some(cluster)
    }

    fn mode(&self) -> ApplyMode {
        ApplyMode {
            force: self.force,
            dry_run: false,
            manager: self.manager,
        }
    }

    async fn apply_resource(&self, request: &ApplyRequest) -> Result<Applied, ProviderError> {
        let desired = owned_objects(request)?;
        let previous = recorded_objects(request);
        if desired.is_empty() && previous.is_empty() && request.unconfirmed.is_empty() {
            return Ok(Applied::default());
        }
        let cluster = self.cluster(request.cluster.as_ref(), &request.id).await?;
        let deadline = Deadline::after(request.timeout);
        let mut applied: Vec<AppliedObject> = Vec::new();
        let mut stale_status: Vec<Option<Json>> = Vec::new();
        let adopt = adopts(request);
        for d in apply_order(desired.clone()) {
            if !recorded(previous, &d.id) {
                let holder = holder::live_holder(&cluster, &d.id, &request.owner).await?;
                crate::ownership::check_create(&d.id, holder.as_ref(), &request.owner, adopt)?;
            }
            let mut a = apply_object(&cluster, &d, self.mode()).await?;
            if a.id.is("apiextensions.k8s.io", "CustomResourceDefinition") {
                // What comes next may be of the kind it defines.
                if let Some(live) =
                    wait::until_ready(&cluster, &a.api, &a.id, deadline, None, &request.progress)
                        .await?
                {
                    a.live = live;
                }
            }
            stale_status.push(failed_application(&cluster, &a).await?);
            applied.push(a);
        }
        if request.wait {
            for (a, stale) in applied.iter_mut().zip(stale_status) {
                if waits_for(&a.id) {
                    if let Some(live) = wait::until_ready(
                        &cluster,
                        &a.api,
                        &a.id,
                        deadline,
                        stale,
                        &request.progress,
                    )
                    .await?
                    {
                        a.live = live;
                    }
                }
            }
        }
        // Objects the resource had and no longer has, last applied first;
        // those a run that did not finish meant to apply before the rest.
        let no_longer = |objects: &'_ [ObjectRef]| -> Vec<ObjectRef> {
            objects
                .iter()
                .filter(|p| {
                    let p = object::ObjectId::from_ref(p);
                    !applied.iter().any(|a| a.id.same_object(&p))
                })
                .rev()
                .cloned()
                .collect()
        };
        let mut how = Deletion {
            owner: &request.owner,
            wait: request.wait,
            deadline,
            progress: &request.progress,
            confirmed: false,
        };
        delete::delete_objects(&cluster, &no_longer(&request.unconfirmed), &how).await?;
        how.confirmed = true;
        delete::delete_objects(&cluster, &no_longer(previous), &how).await?;
        Ok(Applied {
            outputs: outputs(request.kind, &desired, &applied),
            objects: applied.iter().map(|a| a.id.to_ref()).collect(),
        })
    }

    async fn delete_resource(&self, request: &DeleteRequest) -> Result<(), ProviderError> {
        let (confirmed, unconfirmed) = (
            &request.recorded.objects,
            request.recorded.unconfirmed_objects(),
        );
        if confirmed.is_empty() && unconfirmed.is_empty() {
            return Ok(());
        }
        let cluster = self.cluster(request.cluster.as_ref(), &request.id).await?;
        let mut how = Deletion {
            owner: &request.owner,
            wait: true,
            deadline: Deadline::after(request.timeout),
            progress: &request.progress,
            confirmed: false,
        };
        delete::delete_objects(&cluster, unconfirmed.iter().rev(), &how).await?;
        how.confirmed = true;
        delete::delete_objects(&cluster, confirmed.iter().rev(), &how).await
    }

    async fn refresh_resource(&self, request: &ApplyRequest) -> Result<Vec<Drift>, ProviderError> {
        let desired = owned_objects(request)?;
        if desired.is_empty() {
            return Ok(Vec::new());
        }
        let cluster = self.cluster(request.cluster.as_ref(), &request.id).await?;
        drift::drift(&cluster, &desired).await
    }

    async fn outputs_of(
        &self,
        request: &ApplyRequest,
    ) -> Result<BTreeMap<String, Json>, ProviderError> {
        let desired = parse_all(&request.objects)?;
        if desired.is_empty() {
            return Ok(BTreeMap::new());
        }
        let cluster = self.cluster(request.cluster.as_ref(), &request.id).await?;
        let mut live = Vec::new();
        for d in &desired {
            let kind = apply::kind_of(&cluster, &d.id).await?;
            let (api, id) = cluster.api(&d.id, &kind);
            let found = wait::read(&cluster, &api, &id.name)
                .await
                .map_err(|e| error::object_error(&cluster, "read", &id, &e))?;
            live.push(AppliedObject {
                id,
                live: found.unwrap_or(Json::Null),
                api,
            });
        }
        Ok(outputs(request.kind, &desired, &live))
    }
}

/// The status of an Argo CD Application that had failed before this apply
/// (Degraded, or its last sync failed). Argo CD is asked to look at it
/// again (`argocd.argoproj.io/refresh`), and until it has, that status is
/// no verdict on what was just applied.
async fn failed_application(
    cluster: &Cluster,
    applied: &AppliedObject,
) -> Result<Option<Json>, ProviderError> {
    if !is_application(&applied.id) || !readiness::readiness(&applied.id, &applied.live).is_failed()
    {
        return Ok(None);
    }
    let refresh =
        serde_json::json!({ "metadata": { "annotations": { REFRESH_ANNOTATION: "normal" } } });
    let params = kube::api::PatchParams {
        field_manager: Some(apply::FIELD_MANAGER.to_string()),
        ..kube::api::PatchParams::default()
    };
    cluster
        .retry
        .run(retry::Conflicts::Retry, || {
            let api = applied.api.clone();
            let name = applied.id.name.clone();
            let params = params.clone();
            let refresh = &refresh;
            async move {
                api.patch(&name, &params, &kube::api::Patch::Merge(refresh))
                    .await
            }
        })
        .await
        .map_err(|e| error::object_error(cluster, "ask Argo CD to refresh", &applied.id, &e))?;
    Ok(applied.live.get("status").cloned())
}

/// The annotation that makes Argo CD re-evaluate an Application now.
pub const REFRESH_ANNOTATION: &str = "argocd.argoproj.io/refresh";

/// The objects the state records as applied for the resource.
fn recorded_objects(request: &ApplyRequest) -> &[ObjectRef] {
    request
        .previous
        .as_ref()
        .map(|p| p.objects.as_slice())
        .unwrap_or_default()
}

/// Whether the declaration takes over objects nobody owns (`adopt: true`).
fn adopts(request: &ApplyRequest) -> bool {
    request.inputs.get("adopt").and_then(Json::as_bool) == Some(true)
}

/// Whether the state records `object` as applied for the resource.
fn recorded(previous: &[ObjectRef], object: &ObjectId) -> bool {
    previous
        .iter()
        .any(|p| object.resolves_to(&ObjectId::from_ref(p)))
}

/// The objects of `request` as they are applied: marked with who owns them.
fn owned_objects(request: &ApplyRequest) -> Result<Vec<Desired>, ProviderError> {
    let mut desired = parse_all(&request.objects)?;
    for d in &mut desired {
        request.owner.stamp(&mut d.manifest);
    }
    Ok(desired)
}

fn parse_all(objects: &[Json]) -> Result<Vec<Desired>, ProviderError> {
    objects.iter().map(Desired::parse).collect()
}

/// The outputs of a resource from its applied objects: `health` and
/// `revision` of an Argo CD Application, `name`/`namespace`/`kind` of a
/// manifest, `name` of a namespace.
fn outputs(kind: Kind, desired: &[Desired], applied: &[AppliedObject]) -> BTreeMap<String, Json> {
    let mut out = BTreeMap::new();
    let text = |v: Option<&Json>, default: &str| {
        Json::String(v.and_then(Json::as_str).unwrap_or(default).to_string())
    };
    if let Some(app) = applied.iter().find(|a| is_application(&a.id)) {
        out.insert(
            "health".into(),
            text(app.live.pointer("/status/health/status"), "Unknown"),
        );
        out.insert(
            "revision".into(),
            text(app.live.pointer("/status/sync/revision"), ""),
        );
    }
    // The first declared object names the resource.
    let first = desired
        .first()
        .and_then(|d| applied.iter().find(|a| d.id.resolves_to(&a.id)));
    match (kind, first) {
        (Kind::Manifest, Some(a)) => {
            out.insert("name".into(), Json::String(a.id.name.clone()));
            out.insert(
                "namespace".into(),
                a.id.namespace.clone().map_or(Json::Null, Json::String),
            );
            out.insert("kind".into(), Json::String(a.id.kind.clone()));
        }
        (Kind::Namespace, Some(a)) => {
            out.insert("name".into(), Json::String(a.id.name.clone()));
        }
        _ => {}
    }
    out
}

impl Provider for KubernetesProvider {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn apply<'a>(
        &'a self,
        request: &'a ApplyRequest,
    ) -> BoxFuture<'a, Result<Applied, ProviderError>> {
        Box::pin(self.apply_resource(request))
    }

    fn delete<'a>(
        &'a self,
        request: &'a DeleteRequest,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(self.delete_resource(request))
    }

    fn preflight<'a>(
        &'a self,
        request: &'a ApplyRequest,
    ) -> BoxFuture<'a, Result<Vec<Adoption>, ProviderError>> {
        Box::pin(self.preflight_resource(request))
    }

    fn refresh<'a>(
        &'a self,
        request: &'a ApplyRequest,
    ) -> BoxFuture<'a, Result<Vec<Drift>, ProviderError>> {
        Box::pin(self.refresh_resource(request))
    }

    fn read_outputs<'a>(
        &'a self,
        request: &'a ApplyRequest,
    ) -> BoxFuture<'a, Result<BTreeMap<String, Json>, ProviderError>> {
        Box::pin(self.outputs_of(request))
    }

    fn marked<'a>(
        &'a self,
        target: &'a ClusterTarget,
        owner: &'a Owner,
    ) -> BoxFuture<'a, Result<Vec<(ResourceId, ObjectRef)>, ProviderError>> {
        Box::pin(async move {
            let cluster = self.clients.cluster(target).await?;
            marked::marked(&cluster, owner).await
        })
    }
}
