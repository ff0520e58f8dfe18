//! Helm charts rendered with the real `helm template` and applied
//! directly: `helm_app` with `via: "helm"`, and `bootstrap` (Argo CD
//! installed before GitOps exists, field manager `stack-bootstrap`).
//!
//! - `binary.rs` — finding `helm` (`STACK_HELM`, or on PATH)
//! - `source.rs` — where a chart comes from: HTTP repository, git, local path
//! - `repo.rs` — HTTP chart repositories: index, constraints, digest
//! - `mirror.rs` — chart repository mirrors (`STACK_CHART_MIRRORS`)
//! - `pin.rs` — version constraints pinned to exact versions when planning
//! - `git.rs` — shallow checkouts of charts kept in git
//! - `cache.rs` — the cache directory for downloaded charts
//! - `render.rs` — `helm template`, values files, parsing the output

pub mod binary;
pub mod cache;
pub mod error;
pub mod git;
pub mod mirror;
pub mod pin;
pub mod render;
pub mod repo;
pub mod source;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Value as Json};
use stack_engine::provider::{Applied, ApplyRequest, DeleteRequest, Provider, ProviderError};
use stack_engine::state::backend::BoxFuture;
use stack_engine::Kind;

use self::error::HelmError;
use crate::kubernetes::{Clients, KubernetesProvider};
use source::Source;

/// The field manager of the objects `bootstrap` applies.
pub const BOOTSTRAP_MANAGER: &str = "stack-bootstrap";

/// The field manager that creates a `via: "helm"` app's namespace when it
/// is missing; it owns nothing else there, so it never takes fields from
/// a declared `namespace`.
const NAMESPACE_MANAGER: &str = "stack-helm";

/// The Secret Argo CD's server writes its initial admin password into.
const ADMIN_SECRET: &str = "argocd-initial-admin-secret";

/// Renders charts with helm and applies the objects directly.
pub struct HelmProvider {
    stack_dir: PathBuf,
    direct: KubernetesProvider,
    bootstrap: KubernetesProvider,
    namespaces: KubernetesProvider,
}

/// A chart rendered for one resource.
struct Rendered {
    objects: Vec<Json>,
    version: String,
    namespace: String,
}

impl HelmProvider {
    /// Local chart paths are relative to `stack_dir`.
    pub fn new(stack_dir: impl Into<PathBuf>, clients: Arc<Clients>) -> Self {
        HelmProvider {
            stack_dir: stack_dir.into(),
            direct: KubernetesProvider::with_clients(clients.clone()),
            bootstrap: KubernetesProvider::with_clients(clients.clone())
                .field_manager(BOOTSTRAP_MANAGER),
            namespaces: KubernetesProvider::with_clients(clients).field_manager(NAMESPACE_MANAGER),
        }
    }

    async fn render(&self, request: &ApplyRequest) -> Result<Rendered, ProviderError> {
        let inputs = &request.inputs;
        let namespace = inputs
            .get("namespace")
            .and_then(Json::as_str)
            .filter(|ns| !ns.is_empty())
            .unwrap_or(&request.name)
            .to_string();
        let source = Source::from_inputs(inputs)?;
        let chart = source.fetch(&self.stack_dir).await?;
        let values = render::merge_values(inputs.get("values"));
        let objects = render::template(
            &chart.path,
            &render::Release {
                name: &request.name,
                namespace: &namespace,
                values: &values,
                describe: &chart.describe,
            },
        )
        .await?;
        Ok(Rendered {
            objects,
            version: chart.version,
            namespace,
        })
    }

    async fn apply_resource(&self, request: &ApplyRequest) -> Result<Applied, ProviderError> {
        let rendered = self.render(request).await?;
        let namespace_object = json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": { "name": rendered.namespace },
        });
        let mut outputs = BTreeMap::new();
        outputs.insert(
            "namespace".to_string(),
            Json::String(rendered.namespace.clone()),
        );
        outputs.insert(
            "revision".to_string(),
            Json::String(rendered.version.clone()),
        );
        let applied = match request.kind {
            Kind::Bootstrap => {
                // The namespace is the bootstrap's own: it goes with it.
                let mut objects = vec![namespace_object];
                objects.extend(rendered.objects);
                let sub = ApplyRequest {
                    objects,
                    wait: true,
                    ..request.clone()
                };
                let applied = self.bootstrap.apply(&sub).await?;
                if let Some(password) = self.admin_password(request).await? {
                    outputs.insert("admin_secret".to_string(), Json::String(password));
                }
                outputs.insert(
                    "server".to_string(),
                    Json::String(server_address(
                        &sub.objects,
                        &request.name,
                        &rendered.namespace,
                    )),
                );
                applied
            }
            _ => {
                let target = request.cluster.as_ref().ok_or_else(|| HelmError::Chart {
                    message: format!("`{}` has no cluster to apply its chart to", request.id),
                    help: None,
                })?;
                self.namespaces
                    .apply_and_wait(target, &[namespace_object], request.timeout)
                    .await?;
                let sub = ApplyRequest {
                    objects: rendered.objects,
                    ..request.clone()
                };
                let applied = self.direct.apply(&sub).await?;
                outputs.insert("name".to_string(), Json::String(request.name.clone()));
                outputs.insert("health".to_string(), Json::String("Healthy".into()));
                applied
            }
        };
        Ok(Applied {
            outputs,
            objects: applied.objects,
        })
    }

    /// The initial admin password Argo CD keeps in the Secret
    /// `argocd-initial-admin-secret` of its namespace, once its server has
    /// created it. The state keeps only a salted hash of it.
    async fn admin_password(
        &self,
        request: &ApplyRequest,
    ) -> Result<Option<String>, ProviderError> {
        let Some(target) = request.cluster.as_ref() else {
            return Ok(None);
        };
        let namespace = request
            .inputs
            .get("namespace")
            .and_then(Json::as_str)
            .unwrap_or("argocd");
        let cluster = self.bootstrap.clients().cluster(target).await?;
        cluster
            .secret_value(namespace, ADMIN_SECRET, "password")
            .await
    }

    fn applier(&self, kind: Kind) -> &KubernetesProvider {
        match kind {
            Kind::Bootstrap => &self.bootstrap,
            _ => &self.direct,
        }
    }
}

/// `argocd-server.<namespace>.svc`: the Argo CD API server's Service among
/// the rendered objects, else the chart's conventional name.
fn server_address(objects: &[Json], release: &str, namespace: &str) -> String {
    let service = objects.iter().find_map(|o| {
        let name = o.pointer("/metadata/name").and_then(Json::as_str)?;
        let is_service = o.get("kind").and_then(Json::as_str) == Some("Service");
        (is_service && name.ends_with("-server") && !name.ends_with("-repo-server"))
            .then(|| name.to_string())
    });
    let name = service.unwrap_or_else(|| format!("{release}-server"));
    format!("{name}.{namespace}.svc")
}

impl Provider for HelmProvider {
    fn name(&self) -> &'static str {
        "helm"
    }

    fn apply<'a>(
        &'a self,
        request: &'a ApplyRequest,
    ) -> BoxFuture<'a, Result<Applied, ProviderError>> {
        Box::pin(self.apply_resource(request))
    }

    /// Deletes the recorded objects, last applied first, and waits until
    /// they are gone.
    fn delete<'a>(
        &'a self,
        request: &'a DeleteRequest,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        self.applier(request.kind).delete(request)
    }

    /// The admin password of a bootstrap applied by an earlier run, for a
    /// dependent that needs it (the state keeps only its hash).
    fn read_outputs<'a>(
        &'a self,
        request: &'a ApplyRequest,
    ) -> BoxFuture<'a, Result<BTreeMap<String, Json>, ProviderError>> {
        Box::pin(async move {
            let mut outputs = BTreeMap::new();
            if request.kind == Kind::Bootstrap {
                if let Some(password) = self.admin_password(request).await? {
                    outputs.insert("admin_secret".to_string(), Json::String(password));
                }
            }
            Ok(outputs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_address_comes_from_the_server_service() {
        let objects = vec![
            json!({ "kind": "Service", "metadata": { "name": "argocd-repo-server" } }),
            json!({ "kind": "Deployment", "metadata": { "name": "argocd-server" } }),
            json!({ "kind": "Service", "metadata": { "name": "ops-argocd-server" } }),
        ];
        assert_eq!(
            server_address(&objects, "argocd", "ops"),
            "ops-argocd-server.ops.svc"
        );
        assert_eq!(
            server_address(&[], "argocd", "argocd"),
            "argocd-server.argocd.svc"
        );
    }
}
