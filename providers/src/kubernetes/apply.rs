//! Server-side apply of one object: its kind resolved through discovery,
//! its namespace settled (the context's default for namespaced objects that
//! name none, none for cluster-scoped ones), field manager `stack`.

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::Value as Json;
use stack_engine::provider::ProviderError;

use super::client::Cluster;
use super::discovery::KindInfo;
use super::error::object_error;
use super::object::{Desired, ObjectId};
use super::retry::Conflicts;

/// The field manager of the objects `stack` applies.
pub const FIELD_MANAGER: &str = "stack";

/// How to apply.
#[derive(Debug, Clone, Copy)]
pub struct ApplyMode {
    /// Take over fields other managers own instead of failing on them.
    pub force: bool,
    /// Ask the server what would be applied, changing nothing (`dryRun=All`).
    pub dry_run: bool,
    /// The field manager the fields are applied as.
    pub manager: &'static str,
}

/// An object as applied: its identity as the API sees it, the server's
/// answer, and its API.
pub struct AppliedObject {
    pub id: ObjectId,
    pub live: Json,
    pub api: Api<DynamicObject>,
}

/// The kind of `object`, failing when the cluster does not serve it.
pub async fn kind_of(cluster: &Cluster, object: &ObjectId) -> Result<KindInfo, ProviderError> {
    match cluster.kind(object).await {
        Ok(Some(kind)) => Ok(kind),
        Ok(None) => Err(ProviderError::new(format!(
            "cannot apply {object}: the API of {} has no kind `{}` in `{}`",
            cluster.describe(),
            object.kind,
            object.api_version
        ))
        .help(format!(
            "install what defines `{}` first: declare its CustomResourceDefinition (or the chart that brings it) and make this resource depend on it",
            object.kind
        ))),
        Err(e) => Err(object_error(cluster, "look up the kind of", object, &e)),
    }
}

/// Applies `desired` with server-side apply.
pub async fn apply_object(
    cluster: &Cluster,
    desired: &Desired,
    mode: ApplyMode,
) -> Result<AppliedObject, ProviderError> {
    let kind = kind_of(cluster, &desired.id).await?;
    let (api, id) = cluster.api(&desired.id, &kind);
    let mut manifest = desired.manifest.clone();
    if let Some(metadata) = manifest.get_mut("metadata").and_then(Json::as_object_mut) {
        match &id.namespace {
            Some(ns) => {
                metadata.insert("namespace".into(), Json::String(ns.clone()));
            }
            None => {
                metadata.remove("namespace");
            }
        }
    }
    let mut params = PatchParams::apply(mode.manager);
    if mode.force {
        params = params.force();
    }
    if mode.dry_run {
        params = params.dry_run();
    }
    let verb = if mode.dry_run {
        "dry-run apply"
    } else {
        "apply"
    };
    let answer = cluster
        .retry
        .run(Conflicts::Retry, || {
            let api = api.clone();
            let name = id.name.clone();
            let params = params.clone();
            let manifest = &manifest;
            async move { api.patch(&name, &params, &Patch::Apply(manifest)).await }
        })
        .await
        .map_err(|e| object_error(cluster, verb, &id, &e))?;
    let live = serde_json::to_value(&answer).map_err(|e| {
        ProviderError::new(format!("cannot read the answer to the apply of {id}"))
            .detail(e.to_string())
    })?;
    Ok(AppliedObject { id, live, api })
}
