//! `oidc` with `provider: "external"`: an identity provider that exists
//! already. Applying checks that the issuer serves an OpenID Connect
//! discovery document for itself, so a typo in `issuer_url` fails the run
//! here rather than as a broken login in every app later.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value as Json;
use stack_engine::provider::{Applied, ApplyRequest, DeleteRequest, Provider, ProviderError};
use stack_engine::state::backend::BoxFuture;

/// Fields a discovery document must have for the apps `stack` configures.
const REQUIRED: &[&str] = &[
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
];

pub struct ExternalOidcProvider {
    http: reqwest::Client,
}

impl Default for ExternalOidcProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl ExternalOidcProvider {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .unwrap_or_default();
        ExternalOidcProvider { http }
    }

    /// Fetches and checks `<issuer>/.well-known/openid-configuration`.
    pub async fn discover(&self, issuer: &str) -> Result<Json, ProviderError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let response = self.http.get(&url).send().await.map_err(|e| {
            OidcError::Issuer { message: format!("cannot reach the OIDC issuer {issuer}: {e}"), help: Some("check `issuer_url`: its discovery document must be reachable from where `stack` runs".to_string()) }
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(OidcError::Issuer {
                message: format!("the OIDC issuer {issuer} answered {status} for {url}"),
                help: Some(
                    "check `issuer_url`: it is the issuer itself, without `/.well-known/...`"
                        .to_string(),
                ),
            }
            .into());
        }
        let body = response.bytes().await.map_err(|e| OidcError::Issuer {
            message: format!("cannot read {url}: {e}"),
            help: None,
        })?;
        let document: Json = serde_json::from_slice(&body).map_err(|e| OidcError::Issuer {
            message: format!("{url} is not an OpenID Connect discovery document: {e}"),
            help: None,
        })?;
        if let Some(missing) = REQUIRED
            .iter()
            .find(|k| document.get(**k).and_then(Json::as_str).is_none())
        {
            return Err(OidcError::Issuer {
                message: format!(
                    "{url} is not an OpenID Connect discovery document: it has no `{missing}`"
                ),
                help: None,
            }
            .into());
        }
        let announced = document
            .get("issuer")
            .and_then(Json::as_str)
            .unwrap_or_default();
        if announced.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(OidcError::Issuer { message: format!(
                "the discovery document at {url} names another issuer, `{announced}`"
            ), help: Some(format!("set `issuer_url: \"{announced}\"`: clients check that tokens come from exactly that issuer")) }.into());
        }
        Ok(document)
    }

    fn outputs(request: &ApplyRequest) -> BTreeMap<String, Json> {
        ["issuer_url", "client_id", "client_secret"]
            .iter()
            .filter_map(|k| request.inputs.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect()
    }

    async fn check(&self, request: &ApplyRequest) -> Result<Applied, ProviderError> {
        let issuer = request
            .inputs
            .get("issuer_url")
            .and_then(Json::as_str)
            .ok_or_else(|| OidcError::Invalid {
                message: format!("`{}` has no `issuer_url`", request.id),
                help: None,
            })?;
        self.discover(issuer).await?;
        Ok(Applied {
            outputs: Self::outputs(request),
            objects: Vec::new(),
        })
    }
}

impl Provider for ExternalOidcProvider {
    fn name(&self) -> &'static str {
        "oidc"
    }

    fn apply<'a>(
        &'a self,
        request: &'a ApplyRequest,
    ) -> BoxFuture<'a, Result<Applied, ProviderError>> {
        Box::pin(self.check(request))
    }

    /// An external provider is not ours to delete.
    fn delete<'a>(
        &'a self,
        _request: &'a DeleteRequest,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async { Ok(()) })
    }

    /// The client secret comes from the script (`secret(...)`) on every run;
    /// the state keeps only its hash.
    fn read_outputs<'a>(
        &'a self,
        request: &'a ApplyRequest,
    ) -> BoxFuture<'a, Result<BTreeMap<String, Json>, ProviderError>> {
        Box::pin(async move { Ok(Self::outputs(request)) })
    }
}

/// How an external OIDC issuer fails its check.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum OidcError {
    /// The issuer cannot be reached, or its discovery document is not what OIDC says.
    #[error("{message}")]
    #[diagnostic(code(stack::oidc::issuer))]
    Issuer {
        message: String,
        #[help]
        help: Option<String>,
    },

    /// The declaration lacks what the check needs.
    #[error("{message}")]
    #[diagnostic(code(stack::oidc::invalid))]
    Invalid {
        message: String,
        #[help]
        help: Option<String>,
    },
}
