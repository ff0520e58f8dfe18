//! Object identities: what an object is called in messages
//! (`Deployment team-web/api`), in drift (`Deployment/team-web/api`) and in
//! the state (`ObjectRef`), and the order objects are applied in.

use std::fmt;

use super::error::KubeError;
use kube::core::GroupVersionKind;
use serde_json::Value as Json;
use stack_engine::provider::ProviderError;
use stack_engine::state::ObjectRef;

/// One object a resource wants, parsed from its manifest.
#[derive(Debug, Clone)]
pub struct Desired {
    pub id: ObjectId,
    pub manifest: Json,
}

/// Which object: its group/version/kind, namespace (if given) and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectId {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectId {
    pub fn from_ref(r: &ObjectRef) -> Self {
        ObjectId {
            api_version: r.api_version.clone(),
            kind: r.kind.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
        }
    }

    pub fn to_ref(&self) -> ObjectRef {
        ObjectRef {
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    pub fn gvk(&self) -> GroupVersionKind {
        let (group, version) = split_api_version(&self.api_version);
        GroupVersionKind::gvk(group, version, &self.kind)
    }

    /// The API group, `""` for the core group.
    pub fn group(&self) -> &str {
        split_api_version(&self.api_version).0
    }

    /// The same object, whatever the version it is addressed through.
    pub fn same_object(&self, other: &ObjectId) -> bool {
        self.group() == other.group()
            && self.kind == other.kind
            && self.namespace == other.namespace
            && self.name == other.name
    }

    /// Whether `applied` is this object as the API placed it: the same
    /// object, or, when this one names no namespace, the same in any.
    pub fn resolves_to(&self, applied: &ObjectId) -> bool {
        self.group() == applied.group()
            && self.kind == applied.kind
            && self.name == applied.name
            && (self.namespace.is_none() || self.namespace == applied.namespace)
    }

    /// `Deployment/team-web/api`, `Namespace/team-web`: for drift entries.
    pub fn path(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{ns}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }

    pub fn is(&self, group: &str, kind: &str) -> bool {
        self.group() == group && self.kind == kind
    }
}

/// `Deployment team-web/api`, `Namespace team-web`.
impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

impl Desired {
    /// Reads the identity of a manifest; an object without `apiVersion`,
    /// `kind` or `metadata.name` is refused.
    pub fn parse(manifest: &Json) -> Result<Desired, ProviderError> {
        fn text(value: Option<&Json>) -> Option<&str> {
            value.and_then(Json::as_str).filter(|s| !s.is_empty())
        }
        let metadata = manifest.get("metadata");
        let kind = text(manifest.get("kind"));
        let name = text(metadata.and_then(|m| m.get("name")));
        let (Some(api_version), Some(kind), Some(name)) =
            (text(manifest.get("apiVersion")), kind, name)
        else {
            let mut shown = serde_json::to_string(manifest).unwrap_or_default();
            if shown.len() > 120 {
                let mut end = 117;
                while !shown.is_char_boundary(end) {
                    end -= 1;
                }
                shown.truncate(end);
                shown.push_str("...");
            }
            return Err(KubeError::Invalid {
                message: "a Kubernetes object needs `apiVersion`, `kind` and `metadata.name`"
                    .into(),
                help: Some(format!("object: {shown}")),
            }
            .into());
        };
        Ok(Desired {
            id: ObjectId {
                api_version: api_version.to_string(),
                kind: kind.to_string(),
                namespace: text(metadata.and_then(|m| m.get("namespace"))).map(str::to_string),
                name: name.to_string(),
            },
            manifest: manifest.clone(),
        })
    }
}

/// Namespaces first, then CustomResourceDefinitions, then everything else
/// in the order given: what an object needs exists before it.
pub fn apply_order(objects: Vec<Desired>) -> Vec<Desired> {
    let rank = |d: &Desired| {
        if d.id.is("", "Namespace") {
            0
        } else if d.id.is("apiextensions.k8s.io", "CustomResourceDefinition") {
            1
        } else {
            2
        }
    };
    let mut objects = objects;
    objects.sort_by_key(rank); // stable: the given order within a rank
    objects
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn desired(api_version: &str, kind: &str, ns: Option<&str>, name: &str) -> Desired {
        let mut metadata = json!({ "name": name });
        if let Some(ns) = ns {
            metadata["namespace"] = json!(ns);
        }
        Desired::parse(&json!({ "apiVersion": api_version, "kind": kind, "metadata": metadata }))
            .expect("valid")
    }

    #[test]
    fn names_objects_for_people() {
        let d = desired("apps/v1", "Deployment", Some("team-web"), "api");
        assert_eq!(d.id.to_string(), "Deployment team-web/api");
        assert_eq!(d.id.path(), "Deployment/team-web/api");
        assert_eq!(d.id.group(), "apps");
        let n = desired("v1", "Namespace", None, "team-web");
        assert_eq!(n.id.to_string(), "Namespace team-web");
        assert_eq!(n.id.gvk(), GroupVersionKind::gvk("", "v1", "Namespace"));
    }

    #[test]
    fn refuses_objects_without_identity() {
        let err = Desired::parse(&json!({ "kind": "ConfigMap", "metadata": { "name": "x" } }))
            .unwrap_err();
        assert!(err.message().contains("apiVersion"), "{err}");
        assert!(
            err.help().is_some_and(|h| h.contains("ConfigMap")),
            "{err:?}"
        );
    }

    #[test]
    fn namespaces_and_crds_go_first_keeping_order() {
        let objects = vec![
            desired("example.com/v1", "Widget", Some("a"), "w"),
            desired("v1", "ConfigMap", Some("a"), "c"),
            desired(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                None,
                "widgets.example.com",
            ),
            desired("v1", "Namespace", None, "a"),
            desired("v1", "Secret", Some("a"), "s"),
        ];
        let order: Vec<String> = apply_order(objects)
            .iter()
            .map(|d| d.id.kind.clone())
            .collect();
        assert_eq!(
            order,
            [
                "Namespace",
                "CustomResourceDefinition",
                "Widget",
                "ConfigMap",
                "Secret"
            ]
        );
    }

    #[test]
    fn versions_do_not_change_identity() {
        let a = desired("autoscaling/v1", "HorizontalPodAutoscaler", Some("a"), "h").id;
        let b = desired("autoscaling/v2", "HorizontalPodAutoscaler", Some("a"), "h").id;
        assert!(a.same_object(&b));
        assert!(!a.same_object(&desired("v1", "ConfigMap", Some("a"), "h").id));
    }
}
