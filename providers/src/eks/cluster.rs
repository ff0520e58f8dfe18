//! An EKS cluster: what the inputs ask for, and the control-plane calls
//! (create, describe, version upgrade, configuration, tags, delete).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_eks::types::{Cluster, ClusterStatus, LogSetup, LogType, Logging, VpcConfigRequest};
use serde_json::Value as Json;
use stack_engine::provider::ProviderError;

use super::error::{is_not_found, Eks, EksError};
use super::nodegroups::NodeGroupSpec;
use super::Journal;

/// Every control-plane log type EKS knows.
const LOG_TYPES: &[&str] = &[
    "api",
    "audit",
    "authenticator",
    "controllerManager",
    "scheduler",
];

/// The cluster the inputs ask for.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSpec {
    pub name: String,
    pub region: String,
    pub version: String,
    pub subnet_ids: Vec<String>,
    pub role_arn: String,
    pub endpoint_public_access: bool,
    pub logging: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub node_groups: Vec<NodeGroupSpec>,
}

fn invalid(name: &str, text: impl std::fmt::Display) -> EksError {
    EksError::Invalid {
        what: format!("EKS cluster `{name}`"),
        problem: text.to_string(),
        help: None,
    }
}

/// A string input that must be there.
fn required<'a>(name: &str, inputs: &'a Json, key: &str) -> Result<&'a str, ProviderError> {
    inputs
        .get(key)
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid(name, format!("`{key}` is required (a string)")).into())
}

/// A map of strings (`tags`, `labels`); absent is empty.
pub fn string_map(
    name: &str,
    value: Option<&Json>,
    key: &str,
) -> Result<BTreeMap<String, String>, ProviderError> {
    match value {
        None | Some(Json::Null) => Ok(BTreeMap::new()),
        Some(Json::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Json::String(s) => Ok((k.clone(), s.clone())),
                other => Ok((k.clone(), other.to_string())),
            })
            .collect(),
        Some(_) => Err(invalid(name, format!("`{key}` must be a map of strings")).into()),
    }
}

/// A list of strings; absent is empty.
fn string_list(name: &str, value: Option<&Json>, key: &str) -> Result<Vec<String>, ProviderError> {
    match value {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(Json::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    invalid(name, format!("`{key}` must be a list of strings")).into()
                })
            })
            .collect(),
        Some(_) => Err(invalid(name, format!("`{key}` must be a list of strings")).into()),
    }
}

impl ClusterSpec {
    /// Reads the cluster's inputs.
    pub fn from_inputs(name: &str, inputs: &Json) -> Result<ClusterSpec, ProviderError> {
        let logging = string_list(name, inputs.get("logging"), "logging")?;
        if let Some(unknown) = logging.iter().find(|t| !LOG_TYPES.contains(&t.as_str())) {
            return Err(EksError::Invalid {
                what: format!("EKS cluster `{name}`"),
                problem: format!("unknown log type `{unknown}` in `logging`"),
                help: Some(format!("log types are: {}", LOG_TYPES.join(", "))),
            }
            .into());
        }
        let node_groups = match inputs.get("node_groups") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Array(groups)) => groups
                .iter()
                .map(|g| NodeGroupSpec::from_input(name, g))
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => return Err(invalid(name, "`node_groups` must be a list of maps").into()),
        };
        Ok(ClusterSpec {
            name: name.to_string(),
            region: required(name, inputs, "region")?.to_string(),
            version: required(name, inputs, "version")?.to_string(),
            subnet_ids: string_list(name, inputs.get("subnet_ids"), "subnet_ids")?,
            role_arn: required(name, inputs, "role_arn")?.to_string(),
            endpoint_public_access: inputs
                .get("endpoint_public_access")
                .and_then(Json::as_bool)
                .unwrap_or(true),
            logging,
            tags: string_map(name, inputs.get("tags"), "tags")?,
            node_groups,
        })
    }

    /// `EKS cluster `prod``, for messages.
    pub fn what(&self) -> String {
        format!("EKS cluster `{}`", self.name)
    }

    fn logging_request(&self) -> Logging {
        let enabled: Vec<LogType> = self
            .logging
            .iter()
            .map(|t| LogType::from(t.as_str()))
            .collect();
        let disabled: Vec<LogType> = LOG_TYPES
            .iter()
            .filter(|t| !self.logging.iter().any(|l| l == *t))
            .map(|t| LogType::from(*t))
            .collect();
        let mut setups = Vec::new();
        if !enabled.is_empty() {
            setups.push(
                LogSetup::builder()
                    .set_types(Some(enabled))
                    .enabled(true)
                    .build(),
            );
        }
        if !disabled.is_empty() {
            setups.push(
                LogSetup::builder()
                    .set_types(Some(disabled))
                    .enabled(false)
                    .build(),
            );
        }
        Logging::builder().set_cluster_logging(Some(setups)).build()
    }

    fn vpc_request(&self, with_subnets: bool) -> VpcConfigRequest {
        let builder =
            VpcConfigRequest::builder().endpoint_public_access(self.endpoint_public_access);
        if with_subnets {
            builder
                .set_subnet_ids(Some(self.subnet_ids.clone()))
                .build()
        } else {
            builder.build()
        }
    }
}

pub(crate) fn tags(map: &BTreeMap<String, String>) -> Option<HashMap<String, String>> {
    (!map.is_empty()).then(|| map.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// The cluster as AWS describes it, or `None` when it does not exist.
pub async fn describe(client: &Eks, spec_name: &str) -> Result<Option<Cluster>, ProviderError> {
    match client.describe_cluster().name(spec_name).send().await {
        Ok(out) => Ok(out.cluster),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(client.failed(&format!("EKS cluster `{spec_name}`"), "describe", e)),
    }
}

/// The status of a described cluster, as text.
pub fn status(cluster: &Cluster) -> String {
    cluster
        .status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|| "UNKNOWN".to_string())
}

pub fn is_active(cluster: &Cluster) -> bool {
    matches!(cluster.status(), Some(ClusterStatus::Active))
}

pub fn is_failed(cluster: &Cluster) -> bool {
    matches!(cluster.status(), Some(ClusterStatus::Failed))
}

pub async fn create(
    client: &Eks,
    spec: &ClusterSpec,
    journal: &Journal,
) -> Result<(), ProviderError> {
    journal.record(format!("create cluster {}", spec.name));
    client
        .create_cluster()
        .name(&spec.name)
        .version(&spec.version)
        .role_arn(&spec.role_arn)
        .resources_vpc_config(spec.vpc_request(true))
        .logging(spec.logging_request())
        .set_tags(tags(&spec.tags))
        .send()
        .await
        .map_err(|e| client.failed(&spec.what(), "create", e))?;
    Ok(())
}

pub async fn upgrade(
    client: &Eks,
    spec: &ClusterSpec,
    journal: &Journal,
) -> Result<(), ProviderError> {
    journal.record(format!(
        "update cluster version {} {}",
        spec.name, spec.version
    ));
    client
        .update_cluster_version()
        .name(&spec.name)
        .version(&spec.version)
        .send()
        .await
        .map_err(|e| client.failed(&spec.what(), "upgrade the Kubernetes version of", e))?;
    Ok(())
}

/// One change of the cluster's configuration: EKS takes one kind of
/// change per `UpdateClusterConfig` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigChange {
    EndpointAccess,
    Logging,
}

/// The configuration changes since the last apply, in the order to send them.
pub fn config_changes(spec: &ClusterSpec, previous: Option<&ClusterSpec>) -> Vec<ConfigChange> {
    let Some(previous) = previous else {
        return Vec::new();
    };
    let mut changes = Vec::new();
    if previous.endpoint_public_access != spec.endpoint_public_access {
        changes.push(ConfigChange::EndpointAccess);
    }
    if previous.logging != spec.logging {
        changes.push(ConfigChange::Logging);
    }
    changes
}

/// Sends one configuration change.
pub async fn reconfigure(
    client: &Eks,
    spec: &ClusterSpec,
    change: ConfigChange,
    journal: &Journal,
) -> Result<(), ProviderError> {
    let call = client.update_cluster_config().name(&spec.name);
    let call = match change {
        ConfigChange::EndpointAccess => {
            journal.record(format!("update cluster endpoint access {}", spec.name));
            call.resources_vpc_config(spec.vpc_request(false))
        }
        ConfigChange::Logging => {
            journal.record(format!("update cluster logging {}", spec.name));
            call.logging(spec.logging_request())
        }
    };
    call.send()
        .await
        .map_err(|e| client.failed(&spec.what(), "update the configuration of", e))?;
    Ok(())
}

/// Puts the desired tags on the cluster and removes the ones the last
/// apply set and the inputs no longer have; tags set by others stay.
pub async fn retag(
    client: &Eks,
    spec: &ClusterSpec,
    cluster: &Cluster,
    previous: Option<&ClusterSpec>,
    journal: &Journal,
) -> Result<(), ProviderError> {
    let Some(arn) = cluster.arn() else {
        return Ok(());
    };
    let live = cluster.tags();
    let changed: BTreeMap<String, String> = spec
        .tags
        .iter()
        .filter(|(k, v)| live.and_then(|l| l.get(*k)) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !changed.is_empty() {
        journal.record(format!("tag cluster {}", spec.name));
        client
            .tag_resource()
            .resource_arn(arn)
            .set_tags(tags(&changed))
            .send()
            .await
            .map_err(|e| client.failed(&spec.what(), "tag", e))?;
    }
    let removed: Vec<String> = previous
        .map(|p| {
            p.tags
                .keys()
                .filter(|k| !spec.tags.contains_key(*k) && live.is_some_and(|l| l.contains_key(*k)))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    if !removed.is_empty() {
        journal.record(format!("untag cluster {}", spec.name));
        client
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(removed))
            .send()
            .await
            .map_err(|e| client.failed(&spec.what(), "untag", e))?;
    }
    Ok(())
}

/// Deletes the cluster; `false` when it was gone already.
pub async fn delete(client: &Eks, name: &str, journal: &Journal) -> Result<bool, ProviderError> {
    journal.record(format!("delete cluster {name}"));
    match client.delete_cluster().name(name).send().await {
        Ok(_) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(client.failed(&format!("EKS cluster `{name}`"), "delete", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_inputs() {
        let spec = ClusterSpec::from_inputs(
            "prod",
            &json!({
                "provider": "eks", "region": "eu-west-1", "version": "1.30",
                "subnet_ids": ["subnet-a", "subnet-b"], "role_arn": "arn:aws:iam::123456789012:role/eks",
                "node_groups": [{ "name": "default", "instance_type": "m5a.large", "min": 2, "max": 3 }],
                "logging": ["api", "audit"], "tags": { "team": "platform" },
            }),
        )
        .expect("valid inputs");
        assert_eq!(spec.region, "eu-west-1");
        assert_eq!(spec.subnet_ids, vec!["subnet-a", "subnet-b"]);
        assert!(spec.endpoint_public_access);
        assert_eq!(spec.node_groups[0].desired, 2);
        assert_eq!(spec.tags.get("team").map(String::as_str), Some("platform"));
    }

    #[test]
    fn refuses_bad_inputs() {
        let base = json!({ "region": "eu-west-1", "version": "1.30", "subnet_ids": [], "role_arn": "arn" });
        let mut no_region = base.clone();
        no_region["region"] = Json::Null;
        let e = ClusterSpec::from_inputs("prod", &no_region).expect_err("no region");
        assert_eq!(
            e.message(),
            "EKS cluster `prod`: `region` is required (a string)"
        );
        let mut bad_log = base.clone();
        bad_log["logging"] = json!(["apis"]);
        let e = ClusterSpec::from_inputs("prod", &bad_log).expect_err("bad log type");
        assert_eq!(
            e.message(),
            "EKS cluster `prod`: unknown log type `apis` in `logging`"
        );
    }
}
