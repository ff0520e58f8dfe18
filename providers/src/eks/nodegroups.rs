//! Managed node groups of an EKS cluster: what the inputs ask for, and the
//! calls that create, scale, relabel, upgrade and delete them.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_eks::types::{Nodegroup, NodegroupScalingConfig, NodegroupStatus, UpdateLabelsPayload};
use serde_json::Value as Json;
use stack_engine::provider::ProviderError;

use super::cluster::{string_map, ClusterSpec};
use super::error::{is_not_found, Eks, EksError};
use super::Journal;

/// One node group the inputs ask for.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeGroupSpec {
    pub name: String,
    pub instance_type: String,
    pub min: i32,
    pub max: i32,
    pub desired: i32,
    pub labels: BTreeMap<String, String>,
}

impl NodeGroupSpec {
    /// Reads one entry of `node_groups`.
    pub fn from_input(cluster: &str, input: &Json) -> Result<NodeGroupSpec, ProviderError> {
        let group = input.get("name").and_then(Json::as_str).unwrap_or("?");
        let invalid = |problem: String| -> ProviderError {
            EksError::Invalid {
                what: what(cluster, group),
                problem,
                help: None,
            }
            .into()
        };
        let text = |key: &str| {
            input
                .get(key)
                .and_then(Json::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .ok_or_else(|| invalid(format!("`{key}` is required (a string)")))
        };
        let size = |key: &str| -> Result<Option<i32>, ProviderError> {
            match input.get(key) {
                None | Some(Json::Null) => Ok(None),
                Some(v) => v
                    .as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .filter(|n| *n >= 0)
                    .map(Some)
                    .ok_or_else(|| invalid(format!("`{key}` must be a whole number ≥ 0"))),
            }
        };
        let min = size("min")?.ok_or_else(|| invalid("`min` is required".into()))?;
        let max = size("max")?.ok_or_else(|| invalid("`max` is required".into()))?;
        let desired = size("desired")?.unwrap_or(min);
        if !(min <= desired && desired <= max) {
            return Err(invalid(format!(
                "sizes must satisfy min ≤ desired ≤ max (min {min}, desired {desired}, max {max})"
            )));
        }
        Ok(NodeGroupSpec {
            name: text("name")?,
            instance_type: text("instance_type")?,
            min,
            max,
            desired,
            labels: string_map(cluster, input.get("labels"), "labels")?,
        })
    }

    fn scaling(&self) -> NodegroupScalingConfig {
        NodegroupScalingConfig::builder()
            .min_size(self.min)
            .max_size(self.max)
            .desired_size(self.desired)
            .build()
    }
}

/// `node group `default` of EKS cluster `prod``, for messages.
pub fn what(cluster: &str, group: &str) -> String {
    format!("node group `{group}` of EKS cluster `{cluster}`")
}

/// The node group as AWS describes it, or `None` when it does not exist.
pub async fn describe(
    client: &Eks,
    cluster: &str,
    group: &str,
) -> Result<Option<Nodegroup>, ProviderError> {
    match client
        .describe_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(group)
        .send()
        .await
    {
        Ok(out) => Ok(out.nodegroup),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(client.failed(&what(cluster, group), "describe", e)),
    }
}

/// The names of every node group of the cluster.
pub async fn list(client: &Eks, cluster: &str) -> Result<Vec<String>, ProviderError> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_nodegroups()
            .cluster_name(cluster)
            .set_next_token(token.take())
            .send()
            .await;
        let page = match page {
            Ok(page) => page,
            Err(e) if is_not_found(&e) => return Ok(Vec::new()),
            Err(e) => {
                return Err(client.failed(
                    &format!("EKS cluster `{cluster}`"),
                    "list the node groups of",
                    e,
                ))
            }
        };
        names.extend(page.nodegroups().iter().cloned());
        match page.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => return Ok(names),
        }
    }
}

pub fn status(group: &Nodegroup) -> String {
    group
        .status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|| "UNKNOWN".to_string())
}

pub fn is_active(group: &Nodegroup) -> bool {
    matches!(group.status(), Some(NodegroupStatus::Active))
}

pub fn is_failed(group: &Nodegroup) -> bool {
    matches!(
        group.status(),
        Some(
            NodegroupStatus::CreateFailed
                | NodegroupStatus::DeleteFailed
                | NodegroupStatus::Degraded
        )
    )
}

pub async fn create(
    client: &Eks,
    spec: &ClusterSpec,
    group: &NodeGroupSpec,
    journal: &Journal,
) -> Result<(), ProviderError> {
    journal.record(format!("create node group {}/{}", spec.name, group.name));
    let labels: Option<HashMap<String, String>> = (!group.labels.is_empty()).then(|| {
        group
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    });
    client
        .create_nodegroup()
        .cluster_name(&spec.name)
        .nodegroup_name(&group.name)
        .node_role(&spec.role_arn)
        .set_subnets(Some(spec.subnet_ids.clone()))
        .instance_types(&group.instance_type)
        .scaling_config(group.scaling())
        .version(&spec.version)
        .set_labels(labels)
        .set_tags(super::cluster::tags(&spec.tags))
        .send()
        .await
        .map_err(|e| client.failed(&what(&spec.name, &group.name), "create", e))?;
    Ok(())
}

/// Scaling and labels, when the live node group differs from `group`;
/// returns whether anything was sent.
pub async fn reconfigure(
    client: &Eks,
    cluster: &str,
    group: &NodeGroupSpec,
    live: &Nodegroup,
    journal: &Journal,
) -> Result<bool, ProviderError> {
    let scaling = live.scaling_config();
    let scaled = scaling.and_then(|s| s.min_size()) != Some(group.min)
        || scaling.and_then(|s| s.max_size()) != Some(group.max)
        || scaling.and_then(|s| s.desired_size()) != Some(group.desired);
    let live_labels: BTreeMap<String, String> = live
        .labels()
        .map(|l| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let add: HashMap<String, String> = group
        .labels
        .iter()
        .filter(|(k, v)| live_labels.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove: Vec<String> = live_labels
        .keys()
        .filter(|k| !group.labels.contains_key(*k))
        .cloned()
        .collect();
    if !scaled && add.is_empty() && remove.is_empty() {
        return Ok(false);
    }
    journal.record(format!("update node group config {cluster}/{}", group.name));
    let mut call = client
        .update_nodegroup_config()
        .cluster_name(cluster)
        .nodegroup_name(&group.name);
    if scaled {
        call = call.scaling_config(group.scaling());
    }
    if !add.is_empty() || !remove.is_empty() {
        call = call.labels(
            UpdateLabelsPayload::builder()
                .set_add_or_update_labels((!add.is_empty()).then_some(add))
                .set_remove_labels((!remove.is_empty()).then_some(remove))
                .build(),
        );
    }
    call.send()
        .await
        .map_err(|e| client.failed(&what(cluster, &group.name), "update", e))?;
    Ok(true)
}

/// Upgrades the node group to `version` (the cluster's).
pub async fn upgrade(
    client: &Eks,
    cluster: &str,
    group: &str,
    version: &str,
    journal: &Journal,
) -> Result<(), ProviderError> {
    journal.record(format!(
        "update node group version {cluster}/{group} {version}"
    ));
    client
        .update_nodegroup_version()
        .cluster_name(cluster)
        .nodegroup_name(group)
        .version(version)
        .send()
        .await
        .map_err(|e| {
            client.failed(
                &what(cluster, group),
                "upgrade the Kubernetes version of",
                e,
            )
        })?;
    Ok(())
}

/// Deletes the node group; `false` when it was gone already.
pub async fn delete(
    client: &Eks,
    cluster: &str,
    group: &str,
    journal: &Journal,
) -> Result<bool, ProviderError> {
    journal.record(format!("delete node group {cluster}/{group}"));
    match client
        .delete_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(group)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(client.failed(&what(cluster, group), "delete", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_node_group() {
        let group = NodeGroupSpec::from_input(
            "prod",
            &json!({ "name": "default", "instance_type": "m5a.large", "min": 2, "max": 3, "labels": { "role": "web" } }),
        )
        .expect("valid node group");
        assert_eq!((group.min, group.desired, group.max), (2, 2, 3));
        assert_eq!(group.labels.get("role").map(String::as_str), Some("web"));
        let e = NodeGroupSpec::from_input(
            "prod",
            &json!({ "name": "big", "instance_type": "m5a.large", "min": 3, "max": 2 }),
        )
        .expect_err("min above max");
        assert_eq!(
            e.message(),
            "node group `big` of EKS cluster `prod`: sizes must satisfy min ≤ desired ≤ max (min 3, desired 3, max 2)"
        );
    }
}
