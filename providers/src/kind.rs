//! `provider: "kind"`: a local cluster made with the `kind` CLI, its nodes
//! running as Docker containers. Creating writes the cluster's context
//! (`kind-<name>`) into the kubeconfig, through which it is then reached.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value as Json;
use stack_engine::provider::{
    Applied, ApplyRequest, ClusterTarget, DeleteRequest, Provider, ProviderError,
};
use stack_engine::state::backend::BoxFuture;

use crate::existing::probe;
use crate::kubernetes::client::Clients;
use crate::notes::with_notes;

pub struct KindProvider {
    clients: Arc<Clients>,
}

impl KindProvider {
    pub fn with_clients(clients: Arc<Clients>) -> Self {
        KindProvider { clients }
    }
}

/// The node image of a Kubernetes version: `1.30` → `kindest/node:v1.30.0`.
pub fn node_image(version: &str) -> String {
    let v = version.trim_start_matches('v');
    let full = if v.split('.').count() == 2 {
        format!("{v}.0")
    } else {
        v.to_string()
    };
    format!("kindest/node:v{full}")
}

/// The kind cluster configuration: a control plane and `workers` workers.
pub fn config(version: Option<&str>, workers: u64) -> String {
    let image = version
        .map(|v| format!("\n  image: {}", node_image(v)))
        .unwrap_or_default();
    let mut out = format!(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane{image}\n"
    );
    for _ in 0..workers {
        out.push_str(&format!("- role: worker{image}\n"));
    }
    out
}

/// Runs a tool; a missing tool is a diagnostic saying what it is for.
async fn run(tool: &str, args: &[&str], why: &str) -> Result<String, ProviderError> {
    let output = tokio::process::Command::new(tool).args(args).output().await.map_err(|e| -> ProviderError {
        if e.kind() == std::io::ErrorKind::NotFound {
            KindError::Tool { message: format!("`{tool}` is not installed: {why}"), help: Some("install kind and Docker (kind.sigs.k8s.io), or declare the cluster with `provider: \"existing\"`".to_string()) }.into()
        } else {
            KindError::Tool { message: format!("cannot run `{tool}`: {e}"), help: None }.into()
        }
    })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(KindError::Tool {
            message: format!("`{tool} {}` failed", args.join(" ")),
            help: with_notes(
                [String::from_utf8_lossy(&output.stderr).trim().to_string()],
                None,
            ),
        }
        .into())
    }
}

/// The target with the kind context, so the cluster is reached through it.
fn with_context(target: &ClusterTarget) -> ClusterTarget {
    let mut target = target.clone();
    if target.input_str("context").is_none() {
        if let Some(inputs) = target.inputs.as_object_mut() {
            inputs.insert(
                "context".into(),
                Json::String(format!("kind-{}", target.name)),
            );
        }
    }
    target
}

impl KindProvider {
    async fn create(&self, request: &ApplyRequest) -> Result<Applied, ProviderError> {
        let target = request
            .cluster
            .clone()
            .or_else(|| {
                Some(ClusterTarget {
                    id: request.id.clone(),
                    name: request.name.clone(),
                    inputs: request.inputs.clone(),
                    outputs: BTreeMap::new(),
                })
            })
            .map(|t| with_context(&t))
            .ok_or_else(|| KindError::Invalid {
                message: "no cluster".to_string(),
                help: None,
            })?;
        let name = &request.name;
        let version = request.inputs.get("version").and_then(Json::as_str);
        if let (Some(old), Some(new)) = (
            request
                .previous
                .as_ref()
                .and_then(|p| p.inputs.get("version"))
                .and_then(Json::as_str),
            version,
        ) {
            if old != new {
                return Err(KindError::Invalid { message: format!("kind cluster `{name}` cannot change from {old} to {new} in place"), help: Some("kind clusters are recreated for a new version: `stack destroy`, then `stack run`".to_string()) }.into());
            }
        }
        let existing = run(
            "kind",
            &["get", "clusters"],
            "it creates `provider: \"kind\"` clusters",
        )
        .await?;
        if !existing.lines().any(|l| l.trim() == name) {
            run(
                "docker",
                &["info", "--format", "{{.ServerVersion}}"],
                "kind runs the cluster's nodes as Docker containers",
            )
            .await
            .map_err(|e| KindError::Tool {
                message: e.message(),
                help: Some("start Docker: kind runs the cluster's nodes as containers".into()),
            })?;
            let workers = request
                .inputs
                .get("workers")
                .and_then(Json::as_u64)
                .unwrap_or(0);
            let file = tempfile::NamedTempFile::new().map_err(|e| KindError::Config {
                message: format!("cannot write the kind config: {e}"),
                help: None,
            })?;
            std::fs::write(file.path(), config(version, workers)).map_err(|e| {
                KindError::Config {
                    message: format!("cannot write the kind config: {e}"),
                    help: None,
                }
            })?;
            let path = file.path().to_string_lossy().into_owned();
            let wait = format!("{}s", request.timeout.as_secs().max(60));
            let mut args = vec![
                "create", "cluster", "--name", name, "--config", &path, "--wait", &wait,
            ];
            let kubeconfig = target.input_str("kubeconfig").map(str::to_string);
            if let Some(k) = &kubeconfig {
                args.extend(["--kubeconfig", k.as_str()]);
            }
            run("kind", &args, "it creates `provider: \"kind\"` clusters").await?;
        }
        let info = probe(&self.clients, &target).await?;
        let mut outputs = BTreeMap::new();
        outputs.insert("name".into(), Json::String(name.clone()));
        outputs.insert("endpoint".into(), Json::String(info.endpoint));
        outputs.insert("version".into(), Json::String(info.version));
        if let Some(ca) = info.ca_data {
            outputs.insert("ca_data".into(), Json::String(ca));
        }
        Ok(Applied {
            outputs,
            objects: Vec::new(),
        })
    }

    async fn remove(&self, request: &DeleteRequest) -> Result<(), ProviderError> {
        let name = request.id.name().to_string();
        let existing = run(
            "kind",
            &["get", "clusters"],
            "it deletes `provider: \"kind\"` clusters",
        )
        .await?;
        if existing.lines().any(|l| l.trim() == name) {
            run(
                "kind",
                &["delete", "cluster", "--name", &name],
                "it deletes `provider: \"kind\"` clusters",
            )
            .await?;
        }
        Ok(())
    }
}

impl Provider for KindProvider {
    fn name(&self) -> &'static str {
        "kind"
    }

    fn apply<'a>(
        &'a self,
        request: &'a ApplyRequest,
    ) -> BoxFuture<'a, Result<Applied, ProviderError>> {
        Box::pin(self.create(request))
    }

    fn delete<'a>(
        &'a self,
        request: &'a DeleteRequest,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(self.remove(request))
    }
}

/// How a KinD cluster fails.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum KindError {
    /// `kind` or `docker` is missing or failed.
    #[error("{message}")]
    #[diagnostic(code(stack::kind::tool))]
    Tool {
        message: String,
        #[help]
        help: Option<String>,
    },

    /// The cluster cannot be made as declared.
    #[error("{message}")]
    #[diagnostic(code(stack::kind::invalid))]
    Invalid {
        message: String,
        #[help]
        help: Option<String>,
    },

    /// The kind configuration cannot be written.
    #[error("{message}")]
    #[diagnostic(code(stack::kind::config))]
    Config {
        message: String,
        #[help]
        help: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_images_and_configs() {
        assert_eq!(node_image("1.30"), "kindest/node:v1.30.0");
        assert_eq!(node_image("v1.31.2"), "kindest/node:v1.31.2");
        let c = config(Some("1.30"), 2);
        assert_eq!(c.matches("role: worker").count(), 2);
        assert!(c.contains("image: kindest/node:v1.30.0"), "{c}");
        assert!(!config(None, 0).contains("image"));
    }
}
