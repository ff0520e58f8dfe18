//! Which provider serves which resource: clusters by their `provider`,
//! objects on a cluster by its delivery mode. Secrets never go to git: on a
//! GitOps cluster they, and the namespace holding them, are applied directly.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value as Json;
use stack_engine::provider::{Provider, ProviderError, RouteKey, Router};
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
            Kind::Cluster => match input("provider") {
                Some("existing") => Ok(self.existing.clone()),
                Some("eks") => Ok(self.eks.clone()),
                Some("kind") => Ok(self.kind.clone()),
                other => Err(not_yet(
                    &format!("a cluster with `provider: \"{}\"`", other.unwrap_or("?")),
                    "declare the cluster with `provider: \"existing\"` and a kubeconfig `context`, `provider: \"kind\"` or `provider: \"eks\"`",
                )),
            },
            Kind::Bootstrap => Ok(self.helm.clone()),
            // Realm imports hold the client secret: applied directly, never committed.
            Kind::Oidc => match input("provider") {
                Some("external") => Ok(self.oidc.clone()),
                Some("keycloak") => Ok(self.keycloak.clone()),
                Some("cognito") => Ok(self.cognito.clone()),
                other => Err(not_yet(
                    &format!("`oidc` with `provider: \"{}\"`", other.unwrap_or("?")),
                    "use `provider: \"external\"`, `\"keycloak\"` or `\"cognito\"`",
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
