//! What `stack run` applies itself on a cluster whose delivery is GitOps,
//! instead of writing it to git for Argo CD: a Secret holding secret values
//! (secrets never go to git), and the namespace such a Secret lives in when
//! the stack declares it, so that the Secret has its namespace at once
//! rather than after Argo CD's next sync. Argo CD delivers everything else
//! in that namespace into it.

use std::collections::{HashMap, HashSet};

use crate::resource::{Kind, Resource, ResourceId};
use crate::value::Value;
use crate::{objects, Declarations};

/// The ids of the resources applied directly on a GitOps cluster.
pub fn applied_directly(declarations: &Declarations) -> HashSet<ResourceId> {
    let kinds: HashMap<&ResourceId, Kind> = declarations
        .resources
        .iter()
        .map(|r| (&r.id, r.kind))
        .collect();
    let mut direct = HashSet::new();
    for resource in declarations.resources.iter().filter(|r| holds_secrets(r)) {
        direct.insert(resource.id.clone());
        if let Some(namespace) = namespace_of(resource, &kinds) {
            direct.insert(namespace);
        }
    }
    direct
}

/// A v1 Secret whose values include a secret.
fn holds_secrets(resource: &Resource) -> bool {
    resource.kind == Kind::Manifest
        && objects::is_secret_object(resource.input("object").unwrap_or(&Value::Null))
        && resource.inputs.values().any(Value::is_sensitive)
}

/// The declared namespace a manifest goes into: named as text, or as the
/// `name` output of a namespace handle.
fn namespace_of(resource: &Resource, kinds: &HashMap<&ResourceId, Kind>) -> Option<ResourceId> {
    let declared = |id: ResourceId| (kinds.get(&id) == Some(&Kind::Namespace)).then_some(id);
    if let Some(name) = resource.target_namespace() {
        let cluster = resource.cluster.as_ref()?;
        return declared(ResourceId::of(Kind::Namespace, Some(cluster.name()), name));
    }
    match resource
        .input("object")
        .and_then(|o| o.get("metadata"))
        .and_then(|m| m.get("namespace"))
    {
        Some(Value::Output(r)) => declared(r.resource.clone()),
        _ => None,
    }
}
