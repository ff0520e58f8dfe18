//! Which provider serves which resource: clusters by their `provider`,
//! objects on a cluster by its delivery mode. Secrets never go to git: on a
//! GitOps cluster they are applied directly.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value as Json;
use stack_engine::provider::{Provider, ProviderError, RouteKey, Router};
use stack_engine::Kind;

use crate::existing::ExistingClusterProvider;
use crate::gitops::GitOpsProvider;
use crate::kubernetes::client::Clients;
use crate::kubernetes::KubernetesProvider;

pub struct StackRouter {
    /// One connection per cluster, shared by every provider and the state.
    pub clients: Arc<Clients>,
    kubernetes: Arc<KubernetesProvider>,
    existing: Arc<ExistingClusterProvider>,
    gitops: Arc<GitOpsProvider>,
}

impl StackRouter {
    pub fn new(stack: &str, stack_dir: &Path) -> Self {
        let clients = Arc::new(Clients::new());
        let kubernetes = Arc::new(KubernetesProvider::with_clients(clients.clone()));
        StackRouter {
            existing: Arc::new(ExistingClusterProvider::with_clients(clients.clone())),
            gitops: Arc::new(
                GitOpsProvider::new(stack, stack_dir).with_kubernetes(kubernetes.clone()),
            ),
            kubernetes,
            clients,
        }
    }
}

fn not_yet(what: &str, help: &str) -> ProviderError {
    ProviderError::new(format!("{what} cannot be applied by this release of stack"))
        .help(help.to_string())
}

impl Router for StackRouter {
    fn route(&self, key: RouteKey<'_>) -> Result<Arc<dyn Provider>, ProviderError> {
        let input = |name: &str| key.inputs.get(name).and_then(Json::as_str);
        match key.kind {
            Kind::Cluster => match input("provider") {
                Some("existing") => Ok(self.existing.clone()),
                other => Err(not_yet(
                    &format!("a cluster with `provider: \"{}\"`", other.unwrap_or("?")),
                    "declare the cluster with `provider: \"existing\"` and a kubeconfig `context`",
                )),
            },
            Kind::Bootstrap => Err(not_yet(
                "`bootstrap` (Argo CD installed with Helm)",
                "install Argo CD on the cluster first, and let `std/argocd` manage it from there",
            )),
            Kind::Oidc => Err(not_yet(
                "`oidc`",
                "configure single sign-on outside the stack for now",
            )),
            Kind::HelmApp if input("via") == Some("helm") => Err(not_yet(
                "a helm_app with `via: \"helm\"`",
                "deliver it as an Argo CD Application (the default `via: \"argocd\"`)",
            )),
            Kind::Namespace | Kind::Manifest | Kind::HelmApp => {
                let gitops = key.cluster.is_some_and(|c| c.delivery() == "gitops");
                if gitops && !key.sensitive {
                    Ok(self.gitops.clone())
                } else {
                    Ok(self.kubernetes.clone())
                }
            }
        }
    }

    fn all(&self) -> Vec<Arc<dyn Provider>> {
        vec![
            self.existing.clone(),
            self.kubernetes.clone(),
            self.gitops.clone(),
        ]
    }
}
