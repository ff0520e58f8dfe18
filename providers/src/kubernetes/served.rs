//! Whether a cluster serves an object's kind in its API version, checked
//! before a plan is shown: a PodDisruptionBudget as `policy/v1` on a
//! Kubernetes 1.20 cluster (which serves only `policy/v1beta1`) is a
//! diagnostic naming what the cluster serves, not a failed apply halfway
//! through a run.
//!
//! Only Kubernetes' own API groups are checked: a kind of any other group
//! may come from a CustomResourceDefinition that the run installs first.

use kube::Client;

use super::error::{with_notes, KubeError};
use stack_engine::provider::ProviderError;

use super::client::Cluster;
use super::object::{split_api_version, ObjectId};

/// The API groups of Kubernetes itself, which no chart adds.
const BUILT_IN_GROUPS: &[&str] = &[
    "",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "apps",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "networking.k8s.io",
    "node.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "resource.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
];

/// Whether `group` is one of Kubernetes' own API groups.
pub fn is_built_in(group: &str) -> bool {
    BUILT_IN_GROUPS.contains(&group)
}

/// `Ok` when the cluster serves `object`'s kind in its API version, or
/// when that cannot be told (another group, a failed read: the apply will
/// say); otherwise what the cluster serves instead.
pub async fn check(cluster: &Cluster, object: &ObjectId) -> Result<(), ProviderError> {
    let (group, _) = split_api_version(&object.api_version);
    if !is_built_in(group) {
        return Ok(());
    }
    match cluster.kind(object).await {
        Ok(None) => {}
        Ok(Some(_)) | Err(_) => return Ok(()),
    }
    let Ok(served) = versions_serving(&cluster.client, group, &object.kind).await else {
        return Ok(());
    };
    let version = cluster
        .client
        .apiserver_version()
        .await
        .map(|v| v.git_version)
        .unwrap_or_else(|_| "of unknown version".into());
    let message = format!(
        "{} does not serve {} in `{}`",
        cluster.describe(),
        object.kind,
        object.api_version
    );
    let help = match served.first() {
        Some(instead) => with_notes(
            [format!(
                "the cluster runs Kubernetes {version}, which serves {} as {}",
                object.kind,
                quoted(&served)
            )],
            Some(format!(
                "use `apiVersion: \"{instead}\"` on this cluster, or upgrade it to a Kubernetes version that serves `{}`",
                object.api_version
            )),
        ),
        None => with_notes(
            [format!(
                "the cluster runs Kubernetes {version}, which serves no version of {}",
                object.kind
            )],
            Some(format!(
                "upgrade the cluster to a Kubernetes version that serves `{}`, or leave {} out on this cluster",
                object.api_version, object.kind
            )),
        ),
    };
    Err(KubeError::NotServed { message, help }.into())
}

fn quoted(versions: &[String]) -> String {
    versions
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The API versions (`policy/v1beta1`) in which the cluster serves `kind`
/// of `group`, preferred first.
async fn versions_serving(
    client: &Client,
    group: &str,
    kind: &str,
) -> Result<Vec<String>, kube::Error> {
    let versions: Vec<String> = if group.is_empty() {
        client.list_core_api_versions().await?.versions
    } else {
        let groups = client.list_api_groups().await?;
        let Some(found) = groups.groups.into_iter().find(|g| g.name == group) else {
            return Ok(Vec::new());
        };
        let preferred = found.preferred_version.map(|p| p.group_version);
        let mut all: Vec<String> = found
            .versions
            .into_iter()
            .map(|v| v.group_version)
            .collect();
        if let Some(p) = preferred {
            all.sort_by_key(|v| *v != p);
        }
        all
    };
    let mut serving = Vec::new();
    for api_version in versions {
        let resources = if group.is_empty() {
            client.list_core_api_resources(&api_version).await?
        } else {
            client.list_api_group_resources(&api_version).await?
        };
        if resources
            .resources
            .iter()
            .any(|r| r.kind == kind && !r.name.contains('/'))
        {
            serving.push(api_version);
        }
    }
    Ok(serving)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_kubernetes_own_groups_are_built_in() {
        for group in [
            "",
            "apps",
            "policy",
            "batch",
            "autoscaling",
            "networking.k8s.io",
        ] {
            assert!(is_built_in(group), "{group}");
        }
        for group in [
            "cert-manager.io",
            "argoproj.io",
            "gateway.networking.k8s.io",
            "metrics.k8s.io",
        ] {
            assert!(!is_built_in(group), "{group}");
        }
    }
}
