//! Which provider serves which resource: clusters by their `provider`,
//! objects on a cluster by its delivery mode. Secrets never go to git: on a
//! GitOps cluster they, and the namespace holding them, are applied directly.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value as Json;
use stack_engine::provider::{ClusterTarget, Provider, ProviderError, RouteKey, Router};
use stack_engine::state::backend::BoxFuture;
use stack_engine::Kind;

use crate::cognito::CognitoProvider;
use crate::eks::{Aws, EksProvider, EksTokenSource};
use crate::existing::ExistingClusterProvider;
use crate::gitops::GitOpsProvider;
use crate::helm::HelmProvider;
use crate::keycloak::KeycloakOidcProvider;
use crate::kind::KindProvider;
use crate::kubernetes::client::Clients;
use crate::kubernetes::KubernetesProvider;
use crate::oidc::ExternalOidcProvider;
use crate::provider_kind::{listed, ClusterProvider, IdentityProvider};

pub struct StackRouter {
    /// One connection per cluster, shared by every provider and the state.
    pub clients: Arc<Clients>,
    kubernetes: Arc<KubernetesProvider>,
    existing: Arc<ExistingClusterProvider>,
    eks: Arc<EksProvider>,
    kind: Arc<KindProvider>,
    oidc: Arc<ExternalOidcProvider>,
    keycloak: Arc<KeycloakOidcProvider>,
    cognito: Arc<CognitoProvider>,
    gitops: Arc<GitOpsProvider>,
    helm: Arc<HelmProvider>,
}

impl StackRouter {
    pub fn new(stack: &str, stack_dir: &Path) -> Self {
        let aws = Aws::new();
        let clients =
            Arc::new(Clients::new().with_token_source(Arc::new(EksTokenSource::new(aws.clone()))));
        let kubernetes = Arc::new(KubernetesProvider::with_clients(clients.clone()));
        StackRouter {
            helm: Arc::new(HelmProvider::new(stack_dir, clients.clone())),
            existing: Arc::new(ExistingClusterProvider::with_clients(clients.clone())),
            eks: Arc::new(EksProvider::with_aws(aws.clone())),
            cognito: Arc::new(CognitoProvider::with_aws(aws)),
            keycloak: Arc::new(KeycloakOidcProvider::new(stack, clients.clone())),
            kind: Arc::new(KindProvider::with_clients(clients.clone())),
            oidc: Arc::new(ExternalOidcProvider::new()),
            gitops: Arc::new(
                GitOpsProvider::new(stack, stack_dir).with_kubernetes(kubernetes.clone()),
            ),
            kubernetes,
            clients,
        }
    }
}

fn not_yet(what: &str, help: &str) -> ProviderError {
    RouterError::NotSupported {
        message: format!("{what} cannot be applied by this release of stack"),
        help: Some(help.to_string()),
    }
    .into()
}

impl Router for StackRouter {
    fn route(&self, key: RouteKey<'_>) -> Result<Arc<dyn Provider>, ProviderError> {
        let input = |name: &str| key.inputs.get(name).and_then(Json::as_str);
        match key.kind {
            Kind::Cluster => match ClusterProvider::named_in(key.inputs) {
                Some(ClusterProvider::Existing) => Ok(self.existing.clone()),
                Some(ClusterProvider::Eks) => Ok(self.eks.clone()),
                Some(ClusterProvider::Kind) => Ok(self.kind.clone()),
                None => Err(not_yet(
                    &format!("a cluster with `provider: \"{}\"`", input("provider").unwrap_or("?")),
                    &format!(
                        "declare the cluster with `provider:` {} (`\"existing\"` with a kubeconfig `context`)",
                        listed(ClusterProvider::ALL.map(ClusterProvider::as_str))
                    ),
                )),
            },
            Kind::Bootstrap => Ok(self.helm.clone()),
            // Realm imports hold the client secret: applied directly, never committed.
            Kind::Oidc => match IdentityProvider::named_in(key.inputs) {
                Some(IdentityProvider::External) => Ok(self.oidc.clone()),
                Some(IdentityProvider::Keycloak) => Ok(self.keycloak.clone()),
                Some(IdentityProvider::Cognito) => Ok(self.cognito.clone()),
                None => Err(not_yet(
                    &format!("`oidc` with `provider: \"{}\"`", input("provider").unwrap_or("?")),
                    &format!(
                        "use `provider:` {}",
                        listed(IdentityProvider::ALL.map(IdentityProvider::as_str))
                    ),
                )),
            },
            Kind::HelmApp if input("via") == Some("helm") => Ok(self.helm.clone()),
            Kind::Namespace | Kind::Manifest | Kind::HelmApp => {
                let gitops = key.cluster.is_some_and(|c| c.delivery() == "gitops");
                if gitops && !key.direct {
                    Ok(self.gitops.clone())
                } else {
                    Ok(self.kubernetes.clone())
                }
            }
        }
    }

    /// Every provider reaches a cluster through the same clients: the
    /// Kubernetes provider's probe tells for all.
    fn answers<'a>(&'a self, cluster: &'a ClusterTarget) -> BoxFuture<'a, bool> {
        Box::pin(self.kubernetes.answers(cluster))
    }

    fn all(&self) -> Vec<Arc<dyn Provider>> {
        vec![
            self.existing.clone(),
            self.eks.clone(),
            self.kind.clone(),
            self.oidc.clone(),
            self.keycloak.clone(),
            self.cognito.clone(),
            self.kubernetes.clone(),
            self.gitops.clone(),
            self.helm.clone(),
        ]
    }
}

/// What no provider of this release serves.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RouterError {
    /// A cluster or identity provider this release cannot apply.
    #[error("{message}")]
    #[diagnostic(code(stack::provider::not_supported))]
    NotSupported {
        message: String,
        #[help]
        help: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A provider the schema knows and this release cannot apply is refused
    /// at routing, naming what it can apply.
    #[test]
    fn a_provider_this_release_cannot_apply_is_refused_naming_the_others() {
        let router = StackRouter::new("test", Path::new("."));
        let inputs = json!({ "provider": "aks" });
        let key = RouteKey {
            kind: Kind::Cluster,
            inputs: &inputs,
            cluster: None,
            direct: false,
        };
        let refused = router.route(key).err().expect("aks is refused");
        assert_eq!(
            refused.code().as_deref(),
            Some("stack::provider::not_supported")
        );
        assert!(refused.help().is_some_and(|h| h.contains("`\"eks\"`")));
        let inputs = json!({ "provider": "eks" });
        let key = RouteKey {
            inputs: &inputs,
            ..key
        };
        assert!(router.route(key).is_ok());
    }
}
