//! The Kubernetes objects a resource stands for: what `render` writes, what
//! `:show` prints and what the executor applies.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value as Json};

use crate::graph::Graph;
use crate::resource::{Kind, Resource, ResourceId};
use crate::state::State;
use crate::value::{OutputRef, Resolve, Value};

/// The Argo CD Application API version `stack` writes.
pub const APPLICATION_API_VERSION: &str = "argoproj.io/v1alpha1";
/// Finalizer that makes Argo CD delete an app's resources before the app.
pub const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";
/// The input holding the exact chart version a `version` constraint
/// resolved to when the plan was made.
pub const RESOLVED_VERSION: &str = "resolved_version";
/// Label on every object `stack` writes, naming the stack.
pub const STACK_LABEL: &str = "stack.dev/stack";

/// Resolves outputs from what is known: outputs known at evaluation (a
/// cluster's name) and outputs recorded in state by an earlier run.
pub struct KnownOutputs<'a> {
    pub graph: &'a Graph,
    pub state: Option<&'a State>,
}

impl Resolve for KnownOutputs<'_> {
    fn output(&self, output: &OutputRef) -> Option<Json> {
        if let Some(resource) = self.graph.get(&output.resource) {
            if let Some(v) = resource.known_outputs.get(&output.output) {
                return v.materialize(self).ok();
            }
        }
        let recorded = self.state?.resources.get(&output.resource)?;
        if output.secret {
            // Known to exist, value kept out of the state: a marker.
            return recorded
                .outputs
                .contains_key(&output.output)
                .then_some(Json::Null);
        }
        recorded.outputs.get(&output.output).cloned()
    }
}

/// Outputs given values by hand, by resource and output name: what a
/// module test says an output will be (`mock_output`).
pub type GivenOutputs = BTreeMap<(ResourceId, String), Json>;

/// Outputs as shown before anything exists: known ones (at evaluation, or
/// given) by value, the rest as `(known after apply)`.
pub struct Shown<'a> {
    pub graph: &'a Graph,
    pub given: &'a GivenOutputs,
}

impl Resolve for Shown<'_> {
    fn output(&self, output: &OutputRef) -> Option<Json> {
        let given = self
            .given
            .get(&(output.resource.clone(), output.output.clone()));
        let known = || {
            KnownOutputs {
                graph: self.graph,
                state: None,
            }
            .output(output)
        };
        Some(
            given
                .cloned()
                .or_else(known)
                .unwrap_or_else(|| Json::String(crate::value::UNKNOWN.into())),
        )
    }
}

/// The objects of a resource as a person may see them before apply:
/// outputs shown (see [`Shown`]) and the data of Secrets redacted.
pub fn shown_objects(graph: &Graph, resource: &Resource, given: &GivenOutputs) -> Vec<Json> {
    let resolve = Shown { graph, given };
    // `Shown` resolves every output, so building the objects cannot fail on one.
    let mut objects = objects(graph, resource, &resolve).unwrap_or_default();
    objects.iter_mut().for_each(redact_secrets);
    objects
}

/// Why a resource's objects cannot be produced yet.
#[derive(Debug, Clone, PartialEq)]
pub enum ObjectsError {
    /// A value depends on an output that is only known after apply.
    Unknown(OutputRef),
}

/// The Argo CD namespace of the cluster a resource lives on.
pub fn argocd_namespace(graph: &Graph, resource: &Resource) -> String {
    resource
        .cluster
        .as_ref()
        .and_then(|c| graph.get(c))
        .and_then(|c| c.input_str("argocd_namespace"))
        .unwrap_or("argocd")
        .to_string()
}

/// Whether a helm_app is delivered as an Argo CD Application (the default)
/// rather than rendered and applied directly (`via: "helm"`).
pub fn delivered_by_argocd(resource: &Resource) -> bool {
    resource.kind == Kind::HelmApp && resource.input_str("via").unwrap_or("argocd") == "argocd"
}

/// The objects of one resource, with every value materialized (secrets in
/// clear, for Kubernetes only). Clusters, bootstraps and OIDC providers are
/// not objects `stack` writes itself, and yield none.
pub fn objects(
    graph: &Graph,
    resource: &Resource,
    resolve: &dyn Resolve,
) -> Result<Vec<Json>, ObjectsError> {
    let materialize = |v: &Value| v.materialize(resolve).map_err(ObjectsError::Unknown);
    let stack = &graph.declarations.stack;
    Ok(match resource.kind {
        Kind::Namespace => {
            let mut metadata = Map::new();
            metadata.insert("name".into(), Json::String(resource.name.clone()));
            let mut labels = match resource.input("labels") {
                Some(v) => materialize(v)?,
                None => json!({}),
            };
            if let Some(labels) = labels.as_object_mut() {
                labels.insert(STACK_LABEL.into(), Json::String(stack.clone()));
            }
            metadata.insert("labels".into(), labels);
            if let Some(a) = resource.input("annotations") {
                let a = materialize(a)?;
                if a.as_object().is_some_and(|m| !m.is_empty()) {
                    metadata.insert("annotations".into(), a);
                }
            }
            vec![json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": metadata })]
        }
        Kind::Manifest => match resource.input("object") {
            Some(object) => vec![materialize(object)?],
            None => Vec::new(),
        },
        Kind::HelmApp if delivered_by_argocd(resource) => {
            vec![application(graph, resource, resolve)?]
        }
        Kind::HelmApp | Kind::Cluster | Kind::Bootstrap | Kind::Oidc => Vec::new(),
    })
}

/// The Argo CD Application for a helm_app.
pub fn application(
    graph: &Graph,
    resource: &Resource,
    resolve: &dyn Resolve,
) -> Result<Json, ObjectsError> {
    let materialize = |v: &Value| v.materialize(resolve).map_err(ObjectsError::Unknown);
    let text = |key: &str| -> Result<Option<Json>, ObjectsError> {
        resource.input(key).map(materialize).transpose()
    };
    let mut source = Map::new();
    if let Some(repo) = text("repo")? {
        source.insert("repoURL".into(), repo);
    }
    match text("path")? {
        Some(path) => {
            source.insert("path".into(), path);
        }
        None => {
            if let Some(chart) = text("chart")? {
                source.insert("chart".into(), chart);
            }
        }
    }
    // A version constraint pinned when the plan was made is what Argo CD gets.
    let revision = match text(RESOLVED_VERSION)? {
        Some(pinned) => pinned,
        None => text("version")?.unwrap_or_else(|| Json::String("HEAD".into())),
    };
    source.insert("targetRevision".into(), revision);
    let mut helm = Map::new();
    helm.insert("releaseName".into(), Json::String(resource.name.clone()));
    let values = text("values")?.unwrap_or_else(|| json!({}));
    if values.as_object().is_some_and(|m| !m.is_empty()) {
        helm.insert("valuesObject".into(), values);
    }
    source.insert("helm".into(), Json::Object(helm));

    let sync = resource.input("sync_policy").and_then(Value::as_map);
    let flag = |key: &str| {
        sync.and_then(|s| s.get(key))
            .map(|v| matches!(v, Value::Bool(true)))
            .unwrap_or(true)
    };
    let namespace = text("namespace")?.unwrap_or_else(|| Json::String(resource.name.clone()));
    let project = text("project")?.unwrap_or_else(|| Json::String("default".into()));
    let cascade = !matches!(resource.input("prune_on_delete"), Some(Value::Bool(false)));
    let finalizers: Vec<&str> = if cascade {
        vec![RESOURCES_FINALIZER]
    } else {
        Vec::new()
    };
    Ok(json!({
        "apiVersion": APPLICATION_API_VERSION,
        "kind": "Application",
        "metadata": {
            "name": resource.name,
            "namespace": argocd_namespace(graph, resource),
            "labels": { STACK_LABEL: graph.declarations.stack },
            "finalizers": finalizers,
        },
        "spec": {
            "project": project,
            "source": source,
            "destination": {
                "server": "https://kubernetes.default.svc",
                "namespace": namespace,
            },
            "syncPolicy": {
                "automated": { "prune": flag("prune"), "selfHeal": flag("self_heal") },
                "syncOptions": ["CreateNamespace=true", "ServerSideApply=true"],
            },
        },
    }))
}

/// Whether `object` is a Kubernetes Secret (`v1`, kind `Secret`: a kind
/// of that name in another API group is not one).
pub fn is_secret(object: &Json) -> bool {
    object.get("apiVersion").and_then(Json::as_str) == Some("v1")
        && object.get("kind").and_then(Json::as_str) == Some("Secret")
}

/// The fields of a Secret that hold its values.
pub const SECRET_DATA: [&str; 2] = ["data", "stringData"];

/// Replaces the data of `Secret` objects with a redaction marker, for display.
pub fn redact_secrets(object: &mut Json) {
    if !is_secret(object) {
        return;
    }
    if let Some(map) = object.as_object_mut() {
        for key in SECRET_DATA {
            if let Some(Json::Object(data)) = map.get_mut(key) {
                for v in data.values_mut() {
                    *v = Json::String(crate::value::SENSITIVE.into());
                }
            }
        }
    }
}

/// Whether a declared value is a Kubernetes Secret (`v1`, kind `Secret`).
pub fn is_secret_object(value: &Value) -> bool {
    value.get("apiVersion").and_then(Value::as_str) == Some("v1")
        && value.get("kind").and_then(Value::as_str) == Some("Secret")
}

/// The identity fields of an object, for state and listings.
pub fn object_ref(object: &Json) -> Option<crate::state::ObjectRef> {
    let metadata = object.get("metadata")?;
    Some(crate::state::ObjectRef {
        api_version: object.get("apiVersion")?.as_str()?.to_string(),
        kind: object.get("kind")?.as_str()?.to_string(),
        namespace: metadata
            .get("namespace")
            .and_then(Json::as_str)
            .map(str::to_string),
        name: metadata.get("name")?.as_str()?.to_string(),
    })
}

/// Every cluster in the graph, with the resources that live on it, in order.
pub fn by_cluster(graph: &Graph) -> BTreeMap<ResourceId, Vec<&Resource>> {
    let mut clusters: BTreeMap<ResourceId, Vec<&Resource>> = BTreeMap::new();
    for resource in graph.in_order() {
        if resource.kind == Kind::Cluster {
            clusters.entry(resource.id.clone()).or_default();
        } else if let Some(cluster) = &resource.cluster {
            clusters.entry(cluster.clone()).or_default().push(resource);
        }
    }
    clusters
}
