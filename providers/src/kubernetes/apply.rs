//! Server-side apply of one object: its kind resolved through discovery,
//! its namespace settled (the context's default for namespaced objects that
//! name none, none for cluster-scoped ones), field manager `stack`.

use super::error::{object_error, KubeError};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::Value as Json;
use stack_engine::provider::ProviderError;

use super::client::Cluster;
use super::discovery::KindInfo;
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
        Ok(None) => Err(KubeError::NotServed {
            message: format!(
                "cannot apply {object}: the API of {} has no kind `{}` in `{}`",
                cluster.describe(),
                object.kind,
                object.api_version
            ),
            help: Some(format!(
                "install what defines `{}` first: declare its CustomResourceDefinition (or the chart that brings it) and make this resource depend on it",
                object.kind
            )),
        }
        .into()),
        Err(e) => Err(object_error(cluster, "look up the kind of", object, &e)),
    }
}

/// Writes the API's own default `protocol: TCP` into ports that omit it:
/// Service ports and container ports are lists keyed by port and protocol,
/// and kube-apiserver before 1.21 refuses a server-side apply whose port
/// omits a key ("associative list with keys has an element that omits key
/// field \"protocol\""), as many charts' ports do.
pub fn default_port_protocols(manifest: &mut Json) {
    let is_service = manifest.get("kind").and_then(Json::as_str) == Some("Service");
    if is_service {
        if let Some(ports) = manifest
            .pointer_mut("/spec/ports")
            .and_then(Json::as_array_mut)
        {
            default_protocols(ports);
        }
    }
    default_container_ports(manifest);
}

/// Container ports anywhere below `value` (Pods, workload templates, Jobs
/// of CronJobs).
fn default_container_ports(value: &mut Json) {
    match value {
        Json::Object(map) => {
            for key in ["containers", "initContainers"] {
                if let Some(Json::Array(containers)) = map.get_mut(key) {
                    for container in containers.iter_mut() {
                        if let Some(Json::Array(ports)) = container.get_mut("ports") {
                            default_protocols(ports);
                        }
                    }
                }
            }
            for (_, child) in map.iter_mut() {
                default_container_ports(child);
            }
        }
        Json::Array(items) => items.iter_mut().for_each(default_container_ports),
        _ => {}
    }
}

fn default_protocols(ports: &mut [Json]) {
    for port in ports.iter_mut().filter_map(Json::as_object_mut) {
        port.entry("protocol")
            .or_insert_with(|| Json::String("TCP".into()));
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
    default_port_protocols(&mut manifest);
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
    let live = serde_json::to_value(&answer).map_err(|e| KubeError::Refused {
        message: format!("cannot read the answer to the apply of {id}: {e}"),
        status: 0,
        help: None,
    })?;
    Ok(AppliedObject { id, live, api })
}

#[cfg(test)]
mod protocol_tests {
    use super::*;

    #[test]
    fn ports_get_the_default_protocol_they_omit() {
        let mut service = serde_json::json!({ "kind": "Service", "spec": { "ports": [
            { "port": 80 }, { "port": 53, "protocol": "UDP" } ] } });
        default_port_protocols(&mut service);
        assert_eq!(service["spec"]["ports"][0]["protocol"], "TCP");
        assert_eq!(service["spec"]["ports"][1]["protocol"], "UDP");
        let mut deployment = serde_json::json!({ "kind": "Deployment", "spec": { "template": { "spec": {
            "containers": [{ "name": "app", "ports": [{ "containerPort": 8080 }] }],
            "initContainers": [{ "name": "init" }] } } } });
        default_port_protocols(&mut deployment);
        assert_eq!(
            deployment.pointer("/spec/template/spec/containers/0/ports/0/protocol"),
            Some(&Json::from("TCP"))
        );
        let mut config = serde_json::json!({ "kind": "ConfigMap", "data": { "ports": "80" } });
        default_port_protocols(&mut config);
        assert_eq!(config["data"]["ports"], "80");
    }
}
