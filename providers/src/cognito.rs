//! `oidc` with `provider: "cognito"`: an app client with a secret in an
//! existing Cognito user pool, and optionally the pool's hosted UI domain,
//! through the AWS SDK and the standard AWS configuration.
//!
//! The client is found by the id the state recorded, else by its name, so
//! a run killed between creating it and saving the state adopts it instead
//! of creating a second one. What is already as asked is not written.

use std::collections::BTreeMap;

use aws_sdk_cognitoidentityprovider::types::{OAuthFlowType, UserPoolClientType};
use aws_sdk_cognitoidentityprovider::Client;
use serde_json::Value as Json;
use stack_engine::provider::{Applied, ApplyRequest, DeleteRequest, Provider, ProviderError};
use stack_engine::state::backend::BoxFuture;

use crate::aws::{is_not_found, Api, Aws, Journal};

const HELP: &str =
    "check the oidc options (`user_pool_id`, `region`, `domain`) and the AWS credentials in use";
const DEFAULT_SCOPES: &[&str] = &["openid", "email", "profile"];

/// What one `oidc(..., #{ provider: "cognito" })` declares.
#[derive(Debug, Clone, PartialEq)]
struct ClientSpec {
    region: String,
    user_pool_id: String,
    client_name: String,
    callback_urls: Vec<String>,
    scopes: Vec<String>,
    domain: Option<String>,
}

fn strings(value: Option<&Json>) -> Option<Vec<String>> {
    value.and_then(Json::as_array).map(|items| {
        items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect()
    })
}

impl ClientSpec {
    fn from_inputs(name: &str, inputs: &Json) -> Result<ClientSpec, ProviderError> {
        let text = |key: &str| {
            inputs
                .get(key)
                .and_then(Json::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let required = |key: &str| {
            text(key).ok_or_else(|| CognitoError::Missing {
                name: name.to_string(),
                key: key.to_string(),
            })
        };
        Ok(ClientSpec {
            region: required("region")?,
            user_pool_id: required("user_pool_id")?,
            client_name: text("client_name").unwrap_or_else(|| name.to_string()),
            callback_urls: strings(inputs.get("redirect_uris")).unwrap_or_default(),
            scopes: strings(inputs.get("scopes"))
                .unwrap_or_else(|| DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect()),
            domain: text("domain"),
        })
    }

    fn what(&self) -> String {
        format!(
            "Cognito client `{}` of user pool `{}`",
            self.client_name, self.user_pool_id
        )
    }

    fn issuer_url(&self) -> String {
        format!(
            "https://cognito-idp.{}.amazonaws.com/{}",
            self.region, self.user_pool_id
        )
    }

    /// Whether the live client already allows what is asked.
    fn matches(&self, live: &UserPoolClientType) -> bool {
        let sorted = |items: &[String]| {
            let mut items = items.to_vec();
            items.sort();
            items
        };
        live.client_name() == Some(self.client_name.as_str())
            && sorted(live.callback_urls()) == sorted(&self.callback_urls)
            && sorted(live.allowed_o_auth_scopes()) == sorted(&self.scopes)
            && live.allowed_o_auth_flows() == [OAuthFlowType::Code]
            && live.allowed_o_auth_flows_user_pool_client() == Some(true)
    }
}

/// The client settings creating and updating both send: an update resets
/// whatever it leaves out. (The two calls' builders are different types.)
macro_rules! oauth_settings {
    ($builder:expr, $spec:expr) => {
        $builder
            .client_name(&$spec.client_name)
            .set_callback_urls(Some($spec.callback_urls.clone()))
            .allowed_o_auth_flows(OAuthFlowType::Code)
            .set_allowed_o_auth_scopes(Some($spec.scopes.clone()))
            .allowed_o_auth_flows_user_pool_client(true)
            .supported_identity_providers("COGNITO")
    };
}

/// How a Cognito app client fails, apart from AWS refusing a call.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CognitoError {
    #[error("oidc `{name}` has no `{key}`")]
    #[diagnostic(
        code(stack::cognito::missing),
        help("a Cognito client needs `region` and `user_pool_id`")
    )]
    Missing { name: String, key: String },

    #[error("AWS created {what} but did not describe it")]
    #[diagnostic(
        code(stack::cognito::undescribed),
        help("run again: the client is found by its name")
    )]
    Undescribed { what: String },

    #[error("the Cognito domain `{domain}` belongs to another user pool, `{pool}`")]
    #[diagnostic(
        code(stack::cognito::domain_taken),
        help("hosted UI domain prefixes are unique per region: choose another `domain`")
    )]
    DomainTaken { domain: String, pool: String },

    #[error("{what} disappeared while it was updated")]
    #[diagnostic(
        code(stack::cognito::disappeared),
        help("someone deleted it outside the stack; run again to create it anew")
    )]
    Disappeared { what: String },
}

/// The provider of Cognito app clients.
#[derive(Clone, Default)]
pub struct CognitoProvider {
    aws: Aws,
    journal: Journal,
}

impl CognitoProvider {
    pub fn with_aws(aws: Aws) -> Self {
        CognitoProvider {
            aws,
            journal: Journal::default(),
        }
    }

    /// The writes made so far.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    async fn describe(
        &self,
        client: &Api<Client>,
        spec: &ClientSpec,
        client_id: &str,
    ) -> Result<Option<UserPoolClientType>, ProviderError> {
        match client
            .describe_user_pool_client()
            .user_pool_id(&spec.user_pool_id)
            .client_id(client_id)
            .send()
            .await
        {
            Ok(out) => Ok(out.user_pool_client),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(client.error(&spec.what(), "describe", e, HELP)),
        }
    }

    /// The id of the pool's client named like ours, if there is one.
    async fn find_by_name(
        &self,
        client: &Api<Client>,
        spec: &ClientSpec,
    ) -> Result<Option<String>, ProviderError> {
        let mut pages = client
            .list_user_pool_clients()
            .user_pool_id(&spec.user_pool_id)
            .max_results(60)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| client.error(&spec.what(), "look for", e, HELP))?;
            if let Some(found) = page
                .user_pool_clients()
                .iter()
                .find(|c| c.client_name() == Some(spec.client_name.as_str()))
            {
                return Ok(found.client_id().map(str::to_string));
            }
        }
        Ok(None)
    }

    /// The live client: the one the state recorded, else the one with our name.
    async fn live(
        &self,
        client: &Api<Client>,
        spec: &ClientSpec,
        recorded_id: Option<&str>,
    ) -> Result<Option<UserPoolClientType>, ProviderError> {
        if let Some(id) = recorded_id {
            if let Some(found) = self.describe(client, spec, id).await? {
                return Ok(Some(found));
            }
        }
        match self.find_by_name(client, spec).await? {
            Some(id) => self.describe(client, spec, &id).await,
            None => Ok(None),
        }
    }

    async fn create(
        &self,
        client: &Api<Client>,
        spec: &ClientSpec,
    ) -> Result<UserPoolClientType, ProviderError> {
        let created = client
            .create_user_pool_client()
            .user_pool_id(&spec.user_pool_id)
            .generate_secret(true);
        let created = oauth_settings!(created, spec)
            .send()
            .await
            .map_err(|e| client.error(&spec.what(), "create", e, HELP))?;
        self.journal.record(format!(
            "create client {} in {}",
            spec.client_name, spec.user_pool_id
        ));
        Ok(created
            .user_pool_client
            .ok_or_else(|| CognitoError::Undescribed { what: spec.what() })?)
    }

    async fn update(
        &self,
        client: &Api<Client>,
        spec: &ClientSpec,
        client_id: &str,
    ) -> Result<(), ProviderError> {
        let update = client
            .update_user_pool_client()
            .user_pool_id(&spec.user_pool_id)
            .client_id(client_id);
        oauth_settings!(update, spec)
            .send()
            .await
            .map_err(|e| client.error(&spec.what(), "update", e, HELP))?;
        self.journal.record(format!(
            "update client {} in {}",
            spec.client_name, spec.user_pool_id
        ));
        Ok(())
    }

    /// The user pool a hosted UI domain prefix belongs to, if it is taken.
    async fn domain_owner(
        &self,
        client: &Api<Client>,
        domain: &str,
    ) -> Result<Option<String>, ProviderError> {
        let out = client
            .describe_user_pool_domain()
            .domain(domain)
            .send()
            .await
            .map_err(|e| {
                client.error(&format!("Cognito domain `{domain}`"), "describe", e, HELP)
            })?;
        // A free prefix is described as an empty description.
        Ok(out
            .domain_description
            .and_then(|d| d.user_pool_id)
            .filter(|pool| !pool.is_empty()))
    }

    /// Puts the hosted UI domain where it is asked. A user pool has one
    /// prefix domain, so a renamed one is deleted before the new one is
    /// made. (A new pool is a replacement: the old domain went with it.)
    async fn converge_domain(
        &self,
        client: &Api<Client>,
        spec: &ClientSpec,
        previous: Option<&ClientSpec>,
    ) -> Result<(), ProviderError> {
        if let Some(old) = previous
            .filter(|p| p.user_pool_id == spec.user_pool_id)
            .and_then(|p| p.domain.as_ref())
        {
            if spec.domain.as_ref() != Some(old) {
                self.delete_domain(client, old, &spec.user_pool_id).await?;
            }
        }
        let Some(domain) = &spec.domain else {
            return Ok(());
        };
        match self.domain_owner(client, domain).await? {
            Some(pool) if pool == spec.user_pool_id => Ok(()),
            Some(pool) => Err(CognitoError::DomainTaken {
                domain: domain.to_string(),
                pool,
            }
            .into()),
            None => {
                client
                    .create_user_pool_domain()
                    .domain(domain)
                    .user_pool_id(&spec.user_pool_id)
                    .send()
                    .await
                    .map_err(|e| {
                        client.error(&format!("Cognito domain `{domain}`"), "create", e, HELP)
                    })?;
                self.journal
                    .record(format!("create domain {domain} for {}", spec.user_pool_id));
                Ok(())
            }
        }
    }

    async fn delete_domain(
        &self,
        client: &Api<Client>,
        domain: &str,
        pool: &str,
    ) -> Result<(), ProviderError> {
        match client
            .delete_user_pool_domain()
            .domain(domain)
            .user_pool_id(pool)
            .send()
            .await
        {
            Ok(_) => {
                self.journal.record(format!("delete domain {domain}"));
                Ok(())
            }
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(client.error(&format!("Cognito domain `{domain}`"), "delete", e, HELP)),
        }
    }

    fn outputs(spec: &ClientSpec, live: &UserPoolClientType) -> BTreeMap<String, Json> {
        let mut outputs = BTreeMap::from([
            ("issuer_url".to_string(), Json::String(spec.issuer_url())),
            (
                "client_id".to_string(),
                Json::String(live.client_id().unwrap_or_default().to_string()),
            ),
        ]);
        if let Some(secret) = live.client_secret() {
            outputs.insert(
                "client_secret".to_string(),
                Json::String(secret.to_string()),
            );
        }
        outputs
    }

    async fn apply_client(&self, request: &ApplyRequest) -> Result<Applied, ProviderError> {
        let spec = ClientSpec::from_inputs(&request.name, &request.inputs)?;
        let previous = request
            .previous
            .as_ref()
            .and_then(|p| ClientSpec::from_inputs(&request.name, &p.inputs).ok());
        let recorded_id = recorded_client_id(request.previous.as_ref().map(|p| &p.outputs));
        let client = self.aws.cognito(&spec.region).await;
        // A new pool or region is a replacement (delete, then create).
        let live = self.live(&client, &spec, recorded_id.as_deref()).await?;
        let live = match live {
            Some(found) if spec.matches(&found) => found,
            Some(found) => {
                let id = found.client_id().unwrap_or_default().to_string();
                self.update(&client, &spec, &id).await?;
                self.describe(&client, &spec, &id)
                    .await?
                    .ok_or_else(|| CognitoError::Disappeared { what: spec.what() })?
            }
            None => self.create(&client, &spec).await?,
        };
        self.converge_domain(&client, &spec, previous.as_ref())
            .await?;
        Ok(Applied {
            outputs: Self::outputs(&spec, &live),
            objects: Vec::new(),
        })
    }

    async fn delete_client(
        &self,
        client: &Api<Client>,
        spec: &ClientSpec,
        client_id: &str,
    ) -> Result<(), ProviderError> {
        match client
            .delete_user_pool_client()
            .user_pool_id(&spec.user_pool_id)
            .client_id(client_id)
            .send()
            .await
        {
            Ok(_) => {
                self.journal
                    .record(format!("delete client {}", spec.client_name));
                Ok(())
            }
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(client.error(&spec.what(), "delete", e, HELP)),
        }
    }

    async fn delete_recorded(&self, request: &DeleteRequest) -> Result<(), ProviderError> {
        let name = request.id.name();
        let spec = ClientSpec::from_inputs(name, &request.recorded.inputs)?;
        let client = self.aws.cognito(&spec.region).await;
        let id = match recorded_client_id(Some(&request.recorded.outputs)) {
            Some(id) => Some(id),
            None => self.find_by_name(&client, &spec).await?,
        };
        if let Some(domain) = &spec.domain {
            self.delete_domain(&client, domain, &spec.user_pool_id)
                .await?;
        }
        if let Some(id) = id {
            self.delete_client(&client, &spec, &id).await?;
        }
        Ok(())
    }

    async fn read(&self, request: &ApplyRequest) -> Result<BTreeMap<String, Json>, ProviderError> {
        let spec = ClientSpec::from_inputs(&request.name, &request.inputs)?;
        let client = self.aws.cognito(&spec.region).await;
        let recorded_id = recorded_client_id(request.previous.as_ref().map(|p| &p.outputs));
        Ok(
            match self.live(&client, &spec, recorded_id.as_deref()).await? {
                Some(live) => Self::outputs(&spec, &live),
                None => BTreeMap::new(),
            },
        )
    }
}

fn recorded_client_id(outputs: Option<&BTreeMap<String, Json>>) -> Option<String> {
    outputs?
        .get("client_id")
        .and_then(Json::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_string)
}

impl Provider for CognitoProvider {
    fn name(&self) -> &'static str {
        "cognito"
    }

    fn apply<'a>(
        &'a self,
        request: &'a ApplyRequest,
    ) -> BoxFuture<'a, Result<Applied, ProviderError>> {
        Box::pin(self.apply_client(request))
    }

    /// Deletes the hosted UI domain, then the client. The user pool is not
    /// ours: it stays.
    fn delete<'a>(
        &'a self,
        request: &'a DeleteRequest,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(self.delete_recorded(request))
    }

    /// The client secret, read from AWS (the state keeps only its hash).
    fn read_outputs<'a>(
        &'a self,
        request: &'a ApplyRequest,
    ) -> BoxFuture<'a, Result<BTreeMap<String, Json>, ProviderError>> {
        Box::pin(self.read(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn options_become_a_client_spec() {
        let spec = ClientSpec::from_inputs(
            "sso",
            &json!({ "region": "eu-west-1", "user_pool_id": "eu-west-1_abc", "redirect_uris": ["https://a/cb"], "domain": "acme" }),
        )
        .unwrap();
        assert_eq!(spec.client_name, "sso");
        assert_eq!(spec.scopes, ["openid", "email", "profile"]);
        assert_eq!(spec.domain.as_deref(), Some("acme"));
        assert_eq!(
            spec.issuer_url(),
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc"
        );
        let missing =
            ClientSpec::from_inputs("sso", &json!({ "region": "eu-west-1" })).unwrap_err();
        assert_eq!(missing.message(), "oidc `sso` has no `user_pool_id`");
    }
}
