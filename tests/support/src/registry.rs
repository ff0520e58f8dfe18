//! The resource kinds the server serves: a fixed set of built-ins, plus the
//! kinds of established CustomResourceDefinitions. Discovery, routing and
//! the store all ask this registry.

use serde_json::Value;

/// One served resource at one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    /// API group; empty for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    /// The URL segment, e.g. `deployments`.
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Whether `.status` is a separate subresource.
    pub status: bool,
    /// Defined by a CustomResourceDefinition.
    pub custom: bool,
}

impl ResourceType {
    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether the kind has a `/scale` subresource.
    pub fn scale(&self) -> bool {
        self.group == "apps"
            && matches!(
                self.plural.as_str(),
                "deployments" | "statefulsets" | "replicasets"
            )
    }

    /// The URL prefix of the group version: `/api/v1` or `/apis/apps/v1`.
    pub(crate) fn gv_path(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }
}

/// `(group, version, kind, plural, namespaced, short names, status, categories)`
type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static [&'static str],
    bool,
    &'static [&'static str],
);

const ALL: &[&str] = &["all"];
const NONE: &[&str] = &[];

/// The built-in kinds a platform stack touches.
#[rustfmt::skip]
const BUILTINS: &[Row] = &[
    ("", "v1", "Namespace", "namespaces", false, &["ns"], true, NONE),
    ("", "v1", "ConfigMap", "configmaps", true, &["cm"], false, NONE),
    ("", "v1", "Secret", "secrets", true, NONE, false, NONE),
    ("", "v1", "Service", "services", true, &["svc"], true, ALL),
    ("", "v1", "ServiceAccount", "serviceaccounts", true, &["sa"], false, NONE),
    ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true, &["pvc"], true, NONE),
    ("", "v1", "PersistentVolume", "persistentvolumes", false, &["pv"], true, NONE),
    ("", "v1", "Pod", "pods", true, &["po"], true, ALL),
    ("", "v1", "Event", "events", true, &["ev"], false, NONE),
    ("", "v1", "Endpoints", "endpoints", true, &["ep"], false, NONE),
    ("", "v1", "Node", "nodes", false, &["no"], true, NONE),
    ("apps", "v1", "Deployment", "deployments", true, &["deploy"], true, ALL),
    ("apps", "v1", "StatefulSet", "statefulsets", true, &["sts"], true, ALL),
    ("apps", "v1", "DaemonSet", "daemonsets", true, &["ds"], true, ALL),
    ("apps", "v1", "ReplicaSet", "replicasets", true, &["rs"], true, ALL),
    ("batch", "v1", "Job", "jobs", true, NONE, true, ALL),
    ("batch", "v1", "CronJob", "cronjobs", true, &["cj"], true, ALL),
    ("networking.k8s.io", "v1", "Ingress", "ingresses", true, &["ing"], true, NONE),
    ("networking.k8s.io", "v1", "IngressClass", "ingressclasses", false, NONE, false, NONE),
    ("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true, &["netpol"], false, NONE),
    ("coordination.k8s.io", "v1", "Lease", "leases", true, NONE, false, NONE),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false, &["crd", "crds"], true, NONE),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false, NONE, false, NONE),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false, NONE, false, NONE),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", true, NONE, false, NONE),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true, NONE, false, NONE),
    ("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true, &["pdb"], true, NONE),
    ("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true, &["hpa"], true, ALL),
    ("storage.k8s.io", "v1", "StorageClass", "storageclasses", false, &["sc"], false, NONE),
    ("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", false, &["pc"], false, NONE),
    ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations", false, NONE, false, NONE),
    ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", false, NONE, false, NONE),
];

/// The served kinds, in discovery order.
#[derive(Debug, Clone)]
pub(crate) struct Registry {
    types: Vec<ResourceType>,
}

fn strings(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

fn str_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

impl Registry {
    pub(crate) fn builtin() -> Registry {
        let types = BUILTINS
            .iter()
            .map(
                |&(group, version, kind, plural, namespaced, short, status, categories)| {
                    ResourceType {
                        group: group.into(),
                        version: version.into(),
                        kind: kind.into(),
                        plural: plural.into(),
                        singular: kind.to_lowercase(),
                        namespaced,
                        short_names: strings(short),
                        categories: strings(categories),
                        status,
                        custom: false,
                    }
                },
            )
            .collect();
        Registry { types }
    }

    pub(crate) fn find(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
    }

    /// Any served version of a group's resource.
    pub(crate) fn find_any_version(&self, group: &str, plural: &str) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == group && t.plural == plural)
    }

    pub(crate) fn find_kind(&self, api_version: &str, kind: &str) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|t| t.api_version() == api_version && t.kind == kind)
    }

    /// Groups in discovery order, each with its versions (preferred first).
    pub(crate) fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for t in &self.types {
            match out.iter_mut().find(|(g, _)| *g == t.group) {
                Some((_, versions)) => {
                    if !versions.contains(&t.version) {
                        versions.push(t.version.clone());
                    }
                }
                None => out.push((t.group.clone(), vec![t.version.clone()])),
            }
        }
        out
    }

    /// The resources of one group version.
    pub(crate) fn in_group_version(&self, group: &str, version: &str) -> Vec<&ResourceType> {
        self.types
            .iter()
            .filter(|t| t.group == group && t.version == version)
            .collect()
    }

    /// Serves the kinds a CRD defines (replacing any earlier definition).
    pub(crate) fn add_crd(&mut self, types: Vec<ResourceType>) {
        if let Some(first) = types.first() {
            let (group, plural) = (first.group.clone(), first.plural.clone());
            self.remove_crd(&group, &plural);
        }
        self.types.extend(types);
    }

    pub(crate) fn remove_crd(&mut self, group: &str, plural: &str) {
        self.types
            .retain(|t| !(t.custom && t.group == group && t.plural == plural));
    }
}

/// Reads the kinds a CustomResourceDefinition defines, one per served
/// version with the storage version first; an error names the bad field.
pub(crate) fn crd_types(crd: &Value) -> Result<Vec<ResourceType>, (String, String)> {
    let spec = crd
        .get("spec")
        .ok_or(("spec".into(), "Required value".into()))?;
    let text = |path: &str| spec.pointer(path).and_then(Value::as_str).unwrap_or("");
    let group = text("/group");
    let kind = text("/names/kind");
    let plural = text("/names/plural");
    if group.is_empty() {
        return Err(("spec.group".into(), "Required value".into()));
    }
    if kind.is_empty() {
        return Err(("spec.names.kind".into(), "Required value".into()));
    }
    if plural.is_empty() {
        return Err(("spec.names.plural".into(), "Required value".into()));
    }
    let name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name != format!("{plural}.{group}") {
        return Err((
            "metadata.name".into(),
            format!("Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"),
        ));
    }
    let singular = match text("/names/singular") {
        "" => kind.to_lowercase(),
        s => s.to_string(),
    };
    let namespaced = match text("/scope") {
        "Namespaced" => true,
        "Cluster" => false,
        other => {
            return Err((
                "spec.scope".into(),
                format!(
                    "Unsupported value: {other:?}: supported values: \"Cluster\", \"Namespaced\""
                ),
            ))
        }
    };
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .filter(|v| !v.is_empty())
        .ok_or(("spec.versions".into(), "Required value".into()))?;
    let mut out = Vec::new();
    for v in versions {
        if v.get("served").and_then(Value::as_bool) == Some(false) {
            continue;
        }
        let Some(vname) = v.get("name").and_then(Value::as_str) else {
            return Err(("spec.versions[].name".into(), "Required value".into()));
        };
        let t = ResourceType {
            group: group.into(),
            version: vname.into(),
            kind: kind.into(),
            plural: plural.into(),
            singular: singular.clone(),
            namespaced,
            short_names: str_list(spec.pointer("/names/shortNames")),
            categories: str_list(spec.pointer("/names/categories")),
            status: v.pointer("/subresources/status").is_some(),
            custom: true,
        };
        if v.get("storage").and_then(Value::as_bool) == Some(true) {
            out.insert(0, t);
        } else {
            out.push(t);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builtins_are_found_by_path_and_kind() {
        let r = Registry::builtin();
        let d = r.find("apps", "v1", "deployments").expect("deployments");
        assert_eq!(d.kind, "Deployment");
        assert!(d.status && d.namespaced);
        assert_eq!(d.gv_path(), "/apis/apps/v1");
        assert!(r
            .find_kind("v1", "Namespace")
            .is_some_and(|t| !t.namespaced));
        assert!(r.find_kind("coordination.k8s.io/v1", "Lease").is_some());
        assert!(r.find_kind("argoproj.io/v1alpha1", "Application").is_none());
        assert_eq!(r.groups()[0], ("".to_string(), vec!["v1".to_string()]));
    }

    #[test]
    fn crd_defines_kinds_per_served_version() {
        let crd = json!({
            "metadata": { "name": "widgets.example.com" },
            "spec": {
                "group": "example.com", "scope": "Namespaced",
                "names": { "kind": "Widget", "plural": "widgets", "shortNames": ["wd"] },
                "versions": [
                    { "name": "v1alpha1", "served": true, "storage": false },
                    { "name": "v1", "served": true, "storage": true, "subresources": { "status": {} } },
                    { "name": "v0", "served": false, "storage": false }
                ]
            }
        });
        let types = crd_types(&crd).expect("valid");
        assert_eq!(types.len(), 2);
        assert_eq!(types[0].version, "v1");
        assert!(types[0].status && !types[1].status);
        assert_eq!(types[0].singular, "widget");
        let mut r = Registry::builtin();
        r.add_crd(types);
        assert!(r.find("example.com", "v1alpha1", "widgets").is_some());
        r.remove_crd("example.com", "widgets");
        assert!(r.find_any_version("example.com", "widgets").is_none());
    }

    #[test]
    fn crd_name_must_match_plural_and_group() {
        let crd = json!({
            "metadata": { "name": "wrong" },
            "spec": { "group": "g.io", "scope": "Cluster", "names": { "kind": "K", "plural": "ks" }, "versions": [ { "name": "v1", "served": true, "storage": true } ] }
        });
        let (field, _) = crd_types(&crd).expect_err("invalid");
        assert_eq!(field, "metadata.name");
    }
}
