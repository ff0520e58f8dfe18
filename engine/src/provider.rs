//! The contract between the engine and the world. A provider applies and
//! deletes resources of the kinds it serves (a Kubernetes API, a git
//! repository, a cloud); the executor decides when, the provider decides
//! how. Providers live in the `stack-providers` crate; the engine knows only
//! this trait.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use miette::Diagnostic;
use std::time::Duration;

use serde_json::Value as Json;

use crate::ownership::Owner;
use crate::resource::{Kind, ResourceId};
use crate::state::backend::BoxFuture;
use crate::state::{ObjectRef, ResourceState, State};

/// The cluster a resource lives on, as far as it is known when the
/// resource runs: its declared inputs and the outputs it reported.
#[derive(Debug, Clone)]
pub struct ClusterTarget {
    pub id: ResourceId,
    pub name: String,
    pub inputs: Json,
    pub outputs: BTreeMap<String, Json>,
}

impl ClusterTarget {
    pub fn input_str(&self, key: &str) -> Option<&str> {
        self.inputs.get(key).and_then(Json::as_str)
    }

    /// `"direct"` (the default) or `"gitops"`.
    pub fn delivery(&self) -> &str {
        self.input_str("delivery").unwrap_or("direct")
    }

    /// The cluster `id`, with the inputs and outputs known of it; its name
    /// is the one its id gives.
    pub fn new(id: ResourceId, inputs: Json, outputs: BTreeMap<String, Json>) -> ClusterTarget {
        ClusterTarget {
            name: id.name().to_string(),
            id,
            inputs,
            outputs,
        }
    }

    /// The cluster `id` as the state recorded it, for what is no longer
    /// declared (or found on it without a record).
    pub fn recorded(state: &State, id: &ResourceId) -> Option<ClusterTarget> {
        let recorded = state.resources.get(id)?;
        Some(ClusterTarget::new(
            id.clone(),
            recorded.inputs.clone(),
            recorded.outputs.clone(),
        ))
    }
}

/// Where a provider says how a long apply or delete is going
/// (`node group default: CREATING`), for the live view of the run.
#[derive(Clone, Default)]
pub struct ProgressSink {
    to: Option<(
        ResourceId,
        tokio::sync::mpsc::UnboundedSender<(ResourceId, String)>,
    )>,
}

impl ProgressSink {
    /// Reports for `id` into `to`.
    pub fn new(
        id: ResourceId,
        to: tokio::sync::mpsc::UnboundedSender<(ResourceId, String)>,
    ) -> ProgressSink {
        ProgressSink { to: Some((id, to)) }
    }

    /// Tells the run how the work is going; nobody listening is fine.
    pub fn report(&self, text: impl Into<String>) {
        if let Some((id, to)) = &self.to {
            let _ = to.send((id.clone(), text.into()));
        }
    }
}

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressSink")
    }
}

/// What a provider is asked to bring about.
#[derive(Debug, Clone)]
pub struct ApplyRequest {
    pub id: ResourceId,
    pub kind: Kind,
    pub name: String,
    /// The inputs with every output resolved and secrets in clear.
    pub inputs: Json,
    /// The Kubernetes objects the resource stands for, in apply order.
    pub objects: Vec<Json>,
    pub cluster: Option<ClusterTarget>,
    /// What the state recorded from the last apply, to prune objects the
    /// resource no longer has.
    pub previous: Option<ResourceState>,
    /// Objects a run that did not finish may have applied for it, beside
    /// `previous`: pruned when the resource no longer has them, if they
    /// carry this stack's mark.
    pub unconfirmed: Vec<ObjectRef>,
    /// Argo CD sync wave, for delivery that writes manifests.
    pub wave: usize,
    /// How long to wait for readiness.
    pub timeout: Duration,
    pub wait: bool,
    /// Applied by `stack run` itself even on a GitOps cluster, never written
    /// to git: a Secret with secret values, or the namespace holding one.
    pub direct: bool,
    /// Who the objects and cloud resources it makes belong to.
    pub owner: Owner,
    pub progress: ProgressSink,
}

impl ApplyRequest {
    /// The delete of what `recorded` holds, first step of a replace: it
    /// goes where the resource is applied now.
    pub fn deleting(&self, recorded: ResourceState) -> DeleteRequest {
        DeleteRequest {
            id: self.id.clone(),
            kind: self.kind,
            recorded,
            cluster: self.cluster.clone(),
            timeout: self.timeout,
            owner: self.owner.clone(),
            progress: self.progress.clone(),
        }
    }

    pub fn route_key(&self) -> RouteKey<'_> {
        RouteKey {
            kind: self.kind,
            inputs: &self.inputs,
            cluster: self.cluster.as_ref(),
            direct: self.direct,
        }
    }
}

impl DeleteRequest {
    pub fn route_key(&self) -> RouteKey<'_> {
        RouteKey {
            kind: self.kind,
            inputs: &self.recorded.inputs,
            cluster: self.cluster.as_ref(),
            // A record written before `direct` existed: its secrets tell.
            direct: self.recorded.direct || crate::value::hides_secret(&self.recorded.inputs),
        }
    }
}

/// What a router decides on.
#[derive(Debug, Clone, Copy)]
pub struct RouteKey<'a> {
    pub kind: Kind,
    pub inputs: &'a Json,
    pub cluster: Option<&'a ClusterTarget>,
    /// Applied by `stack run` itself, never through git.
    pub direct: bool,
}

/// What a provider reports after applying.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Applied {
    pub outputs: BTreeMap<String, Json>,
    /// The objects now applied for the resource.
    pub objects: Vec<ObjectRef>,
}

/// What a provider is asked to remove.
#[derive(Debug, Clone)]
pub struct DeleteRequest {
    pub id: ResourceId,
    pub kind: Kind,
    pub recorded: ResourceState,
    pub cluster: Option<ClusterTarget>,
    pub timeout: Duration,
    /// Only what this owner still holds is deleted.
    pub owner: Owner,
    pub progress: ProgressSink,
}

/// A live thing a create takes over (`adopt: true`), found before a plan
/// is shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Adoption {
    /// What is taken over (`Namespace/team-a`, `EKS cluster `prod``).
    pub what: String,
    /// What the apply changes in it.
    pub changes: Vec<Drift>,
}

/// A difference between what was applied and what is live (`plan --refresh`).
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    /// The object, as `Kind/namespace/name`.
    pub object: String,
    /// Dotted path of the field.
    pub path: String,
    pub desired: Option<Json>,
    pub live: Option<Json>,
    /// The data of a Secret: shown only as changed, never as a value.
    pub sensitive: bool,
}

/// A provider failure: the provider's own diagnostic (a `thiserror` enum
/// of its module, with its code and help), carried through the engine to
/// whoever shows it, which adds the declaration it is about. Any
/// diagnostic converts into one with `?`.
#[derive(Clone)]
pub struct ProviderError(Arc<dyn Diagnostic + Send + Sync + 'static>);

impl<E: Diagnostic + Send + Sync + 'static> From<E> for ProviderError {
    fn from(error: E) -> Self {
        ProviderError(Arc::new(error))
    }
}

impl ProviderError {
    /// What failed, in one line.
    pub fn message(&self) -> String {
        self.0.to_string()
    }

    /// The diagnostic code (`stack::kubernetes::conflict`).
    pub fn code(&self) -> Option<String> {
        self.0.code().map(|c| c.to_string())
    }

    /// What to do about it.
    pub fn help(&self) -> Option<String> {
        self.0.help().map(|h| h.to_string())
    }

    /// The provider's diagnostic as it is.
    pub fn diagnostic(&self) -> &(dyn Diagnostic + Send + Sync + 'static) {
        &*self.0
    }

    /// The provider's error, when it is of type `E`: for tests that check
    /// which failure it was rather than its wording.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        let error: &(dyn std::error::Error + 'static) = &*self.0;
        error.downcast_ref()
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl fmt::Debug for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderError")
            .field("code", &self.code())
            .field("message", &self.message())
            .field("help", &self.help())
            .finish()
    }
}

impl std::error::Error for ProviderError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Two failures are the same when they read the same.
impl PartialEq for ProviderError {
    fn eq(&self, other: &Self) -> bool {
        self.code() == other.code()
            && self.message() == other.message()
            && self.help() == other.help()
    }
}

/// What a provider's end-of-run step tells the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishNote {
    /// What it did (`committed 1a2b3c4 to gitops (branch main)`).
    Done(String),
    /// What the user still has to do (hand a cluster its root Application).
    Note(String),
    /// What may not work as meant (a root Application Argo CD cannot clone).
    Warning(String),
}

/// What the run did, given to providers at the end (a GitOps commit lists it).
#[derive(Debug, Clone, Default)]
pub struct RunChanges {
    /// `(action, id)` of every resource changed, in order.
    pub changes: Vec<(String, ResourceId)>,
}

pub trait Provider: Send + Sync {
    /// A short name for messages (`kubernetes`, `gitops`).
    fn name(&self) -> &'static str;

    fn apply<'a>(
        &'a self,
        request: &'a ApplyRequest,
    ) -> BoxFuture<'a, Result<Applied, ProviderError>>;

    fn delete<'a>(&'a self, request: &'a DeleteRequest)
        -> BoxFuture<'a, Result<(), ProviderError>>;

    /// What only the live world can tell before a plan is shown: that a
    /// reachable cluster serves the kinds `request` would apply, that
    /// nothing it would create belongs to someone else, and what it would
    /// adopt. `Ok` with nothing when it cannot tell (the cluster does not
    /// exist yet, or cannot be reached); the apply then checks again.
    fn preflight<'a>(
        &'a self,
        _request: &'a ApplyRequest,
    ) -> BoxFuture<'a, Result<Vec<Adoption>, ProviderError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// Live differences from what `request` would apply.
    fn refresh<'a>(
        &'a self,
        _request: &'a ApplyRequest,
    ) -> BoxFuture<'a, Result<Vec<Drift>, ProviderError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// What carries `owner`'s stack mark (its identity) on the cluster of
    /// `target`, by the resource each names: what a run applied and did not
    /// live to record is found so. Providers that make no live objects find
    /// nothing.
    fn marked<'a>(
        &'a self,
        _target: &'a ClusterTarget,
        _owner: &'a Owner,
    ) -> BoxFuture<'a, Result<Vec<(ResourceId, ObjectRef)>, ProviderError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// Outputs of an applied resource read back from the world, for outputs
    /// the state keeps only as hashes (secrets).
    fn read_outputs<'a>(
        &'a self,
        _request: &'a ApplyRequest,
    ) -> BoxFuture<'a, Result<BTreeMap<String, Json>, ProviderError>> {
        Box::pin(async { Ok(BTreeMap::new()) })
    }

    /// Whether its deletes only forget the record (an existing cluster is
    /// not `stack`'s to delete); the plan says so.
    fn only_forgets(&self) -> bool {
        false
    }

    /// Called once when a run ends, with what it changed; says what it
    /// did for the user (a GitOps commit: its hash, repository and branch).
    fn finish<'a>(
        &'a self,
        _changes: &'a RunChanges,
    ) -> BoxFuture<'a, Result<Vec<FinishNote>, ProviderError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// Chooses the provider for a resource: by kind, the cluster's provider and
/// delivery mode. The CLI wires the real providers in.
pub trait Router: Send + Sync {
    fn route(&self, key: RouteKey<'_>) -> Result<Arc<dyn Provider>, ProviderError>;

    /// Every provider, to call `finish` on.
    fn all(&self) -> Vec<Arc<dyn Provider>>;

    /// Whether `cluster` answers the checks made before a plan is shown:
    /// for one that does not (not created yet, out of reach), no provider
    /// could tell anything, so its resources' requests are not even made.
    fn answers<'a>(&'a self, _cluster: &'a ClusterTarget) -> BoxFuture<'a, bool> {
        Box::pin(async { true })
    }
}
