//! Clusters that exist already (`provider: "existing"`): reached through a
//! kubeconfig, never created or deleted by `stack`. Applying one checks that
//! its API answers and reports its endpoint, server version and CA.
//!
//! A GitOps cluster (`delivery: "gitops"`) may have no kubeconfig at all:
//! `stack` then only writes to its repository. Such a cluster applies with
//! empty outputs (`endpoint: ""`), and [`reachable`] tells other code not
//! to talk to it.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value as Json;
use stack_engine::provider::{
    Applied, ApplyRequest, ClusterTarget, DeleteRequest, Provider, ProviderError,
};
use stack_engine::state::backend::BoxFuture;

use crate::kubernetes::client::{configured, Clients};
use crate::kubernetes::retry::Conflicts;
use crate::notes::with_notes;

/// What an existing cluster told about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerInfo {
    /// The API server URL.
    pub endpoint: String,
    /// The server's version, `v1.30.2`.
    pub version: String,
    /// The base64 PEM CA bundle, when the kubeconfig has it inline.
    pub ca_data: Option<String>,
    /// The kubeconfig context used.
    pub context: Option<String>,
}

/// Whether `stack` may talk to the cluster: it reported an endpoint when it
/// was applied, or, before that, connection settings for it exist.
pub fn reachable(target: &ClusterTarget) -> bool {
    match target.outputs.get("endpoint") {
        Some(endpoint) => endpoint.as_str().is_some_and(|e| !e.is_empty()),
        None => configured(target),
    }
}

/// Connects to `target` and reads its server version (`/version`).
pub async fn probe(clients: &Clients, target: &ClusterTarget) -> Result<ServerInfo, ProviderError> {
    let cluster = clients.cluster(target).await?;
    let info = cluster
        .retry
        .run(Conflicts::Retry, || {
            let client = cluster.client.clone();
            async move { client.apiserver_version().await }
        })
        .await
        .map_err(|e| -> ProviderError { match e.status() {
            Some(status) if status.code == 401 || status.code == 403 => ExistingError::Refused { message: format!(
                    "the API of {} refused the credentials of the kubeconfig",
                    cluster.describe()
                ), help: with_notes([e.to_string()], Some("log in again (refresh the kubeconfig's credentials), or pick another `context`".to_string())) }.into(),
            Some(_) => ExistingError::Refused { message: format!(
                "the API of {} failed to tell its version",
                cluster.describe()
            ), help: with_notes([e.to_string()], None) }.into(),
            None => cluster
                .unreachable("cannot ask for its version", e)
                .into(),
        }})?;
    Ok(ServerInfo {
        endpoint: cluster.server.clone(),
        version: info.git_version,
        ca_data: cluster.ca_data.clone(),
        context: cluster.context.clone(),
    })
}

/// The major and minor version of `"1.20"`, `"v1.20.2"` or `"v1.30.1-eks-abc"`.
fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.trim().trim_start_matches('v').split('.');
    let major = parts.next()?.parse().ok()?;
    let minor: String = parts
        .next()?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some((major, minor.parse().ok()?))
}

/// The `version` a script declares for an existing cluster is what the
/// modules chose API versions by: a cluster running another minor version
/// is refused before anything is applied to it.
fn check_version(
    target: &ClusterTarget,
    declared: &str,
    running: &str,
) -> Result<(), ProviderError> {
    match (major_minor(declared), major_minor(running)) {
        (Some(d), Some(r)) if d != r => Err(ExistingError::Version { message: format!(
            "cluster `{}` runs Kubernetes {running}, but the script declares `version: \"{declared}\"`",
            target.name
        ), help: with_notes(["the modules chose API versions for the declared version".to_string()], Some(format!(
            "set `version: \"{}.{}\"` on the cluster, or point it at a cluster of {declared}",
            r.0, r.1
        ))) }.into()),
        (None, _) => Err(ExistingError::Version { message: format!(
            "`version: \"{declared}\"` of cluster `{}` is not a Kubernetes version",
            target.name
        ), help: Some("write the major and minor version, like \"1.30\"".to_string()) }.into()),
        _ => Ok(()),
    }
}

/// The provider of `existing` clusters.
pub struct ExistingClusterProvider {
    clients: Arc<Clients>,
}

impl Default for ExistingClusterProvider {
    fn default() -> Self {
        ExistingClusterProvider::new()
    }
}

impl ExistingClusterProvider {
    pub fn new() -> Self {
        ExistingClusterProvider::with_clients(Arc::new(Clients::new()))
    }

    /// A provider sharing `clients` with the Kubernetes provider.
    pub fn with_clients(clients: Arc<Clients>) -> Self {
        ExistingClusterProvider { clients }
    }

    async fn apply_cluster(&self, request: &ApplyRequest) -> Result<Applied, ProviderError> {
        let target = request.cluster.clone().unwrap_or_else(|| ClusterTarget {
            id: request.id.clone(),
            name: request.name.clone(),
            inputs: request.inputs.clone(),
            outputs: BTreeMap::new(),
        });
        let mut outputs = BTreeMap::new();
        if target.delivery() == "gitops" && !configured(&target) {
            // Delivered through git only: nothing to connect to.
            for key in ["endpoint", "version", "ca_data"] {
                outputs.insert(key.to_string(), Json::String(String::new()));
            }
            return Ok(Applied {
                outputs,
                objects: Vec::new(),
            });
        }
        let info = probe(&self.clients, &target).await?;
        if let Some(declared) = request.inputs.get("version").and_then(Json::as_str) {
            check_version(&target, declared, &info.version)?;
        }
        outputs.insert("endpoint".into(), Json::String(info.endpoint));
        outputs.insert("version".into(), Json::String(info.version));
        outputs.insert(
            "ca_data".into(),
            Json::String(info.ca_data.unwrap_or_default()),
        );
        Ok(Applied {
            outputs,
            objects: Vec::new(),
        })
    }
}

impl Provider for ExistingClusterProvider {
    fn name(&self) -> &'static str {
        "existing"
    }

    fn apply<'a>(
        &'a self,
        request: &'a ApplyRequest,
    ) -> BoxFuture<'a, Result<Applied, ProviderError>> {
        Box::pin(self.apply_cluster(request))
    }

    fn only_forgets(&self) -> bool {
        true
    }

    /// An existing cluster is not `stack`'s to delete: forgetting it is all.
    fn delete<'a>(
        &'a self,
        _request: &'a DeleteRequest,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async { Ok(()) })
    }
}

/// How an existing cluster fails its check.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ExistingError {
    /// The API refused to tell its version.
    #[error("{message}")]
    #[diagnostic(code(stack::existing::refused))]
    Refused {
        message: String,
        #[help]
        help: Option<String>,
    },

    /// The cluster runs another Kubernetes version than the script declares.
    #[error("{message}")]
    #[diagnostic(code(stack::existing::version))]
    Version {
        message: String,
        #[help]
        help: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_version_must_match_the_running_minor() {
        let target = ClusterTarget {
            id: stack_engine::resource::ResourceId::from("cluster/dev"),
            name: "dev".into(),
            inputs: Json::Null,
            outputs: BTreeMap::new(),
        };
        assert!(check_version(&target, "1.20", "v1.20.2").is_ok());
        assert!(check_version(&target, "v1.30", "v1.30.1-eks-4f5a").is_ok());
        let other = check_version(&target, "1.21", "v1.20.2").expect_err("another minor");
        assert!(other.message().contains("v1.20.2"), "{other:?}");
        assert!(check_version(&target, "latest", "v1.20.2").is_err());
    }
    use serde_json::json;

    fn target(inputs: Json, endpoint: Option<&str>) -> ClusterTarget {
        ClusterTarget {
            id: "cluster/dev".into(),
            name: "dev".into(),
            inputs,
            outputs: endpoint
                .map(|e| ("endpoint".to_string(), json!(e)))
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn reachability_follows_the_reported_endpoint() {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        let path = file.path().to_string_lossy().to_string();
        let configured = json!({ "provider": "existing", "kubeconfig": path });
        assert!(reachable(&target(configured.clone(), None)));
        assert!(reachable(&target(
            configured.clone(),
            Some("https://127.0.0.1:6443")
        )));
        assert!(!reachable(&target(configured, Some(""))));
        let missing = json!({ "provider": "existing", "kubeconfig": "/nonexistent/kubeconfig" });
        assert!(!reachable(&target(missing, None)));
    }
}
