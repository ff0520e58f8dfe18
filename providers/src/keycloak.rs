//! `oidc` with `provider: "keycloak"`: a realm and a confidential client in
//! the Keycloak that runs on the cluster (usually `std/keycloak`).
//!
//! The realm is declared, not clicked together: a ConfigMap holds it in
//! Keycloak's realm format and a Job runs keycloak-config-cli inside the
//! cluster, which makes Keycloak's realm match the file through the admin
//! API (idempotently, so re-running it changes nothing). The Job's name
//! carries a hash of what it imports, so any change to the realm, the
//! client or its secret runs a new import and the old Job is pruned; an
//! import that failed is deleted and run again by the next run. The
//! import runs in the cluster because Keycloak's admin API is rarely
//! reachable from where `stack` runs.
//!
//! The client secret is `client_secret` when the script gives one (a
//! `secret(...)`), else generated once and kept in the Secret
//! `<name>-oidc-client` beside Keycloak; it is read back from there on
//! later runs, so the state only ever holds its hash. When the realm
//! installs Keycloak itself (`install`), the admin and database passwords
//! its chart reads are made the same way, once, into `admin_credentials`;
//! they stay with Keycloak's database (destroy removes them with the
//! namespace), and are never made anew while that database exists.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};
use stack_engine::objects::STACK_LABEL;
use stack_engine::provider::{
    Applied, ApplyRequest, ClusterTarget, DeleteRequest, Provider, ProviderError,
};
use stack_engine::state::backend::BoxFuture;

use crate::kubernetes::client::Clients;
use crate::kubernetes::delete::{delete_objects, Deletion};
use crate::kubernetes::wait::Deadline;
use crate::kubernetes::KubernetesProvider;
use crate::notes::with_notes;
use stack_engine::state::ObjectRef;

/// The volume of the PostgreSQL that the chart of an installed Keycloak runs.
const DATABASE_VOLUME: &str = "data-keycloak-postgresql-0";
/// Keys of the client Secret.
const CLIENT_ID_KEY: &str = "client-id";
const CLIENT_SECRET_KEY: &str = "client-secret";

/// What one `oidc(..., #{ provider: "keycloak" })` declares.
#[derive(Debug, Clone, PartialEq)]
struct RealmSpec {
    /// The oidc declaration's name; objects are named after it.
    name: String,
    realm: String,
    client_id: String,
    redirect_uris: Vec<String>,
    /// Keycloak's namespace, where the objects go.
    namespace: String,
    /// Keycloak's admin API as seen from inside the cluster.
    url: String,
    admin_user: String,
    /// Secret with the admin password under `admin-password`.
    admin_credentials: String,
    image: String,
    /// Whether the realm installs Keycloak, and so makes its passwords.
    install: bool,
    /// The issuer: `https://keycloak.<base_domain>/realms/<realm>`.
    issuer_url: String,
}

impl RealmSpec {
    fn from_request(request: &ApplyRequest) -> Result<RealmSpec, ProviderError> {
        let inputs = &request.inputs;
        let text = |key: &str| inputs.get(key).and_then(Json::as_str).map(str::to_string);
        // The options' defaults are the schema's: every one is filled in.
        let given = |key: &str| {
            text(key).ok_or_else(|| KeycloakError::Invalid {
                message: format!("`{}` has no `{key}`", request.id),
                help: Some(
                    "declare the realm with `oidc(...)`, which fills in every default".into(),
                ),
            })
        };
        let realm = given("realm")?;
        let namespace = given("namespace")?;
        let base_domain = request
            .cluster
            .as_ref()
            .and_then(|c| c.input_str("base_domain"))
            .ok_or_else(|| {
                KeycloakError::Invalid { message: format!(
                    "`{}` needs its cluster's `base_domain`: Keycloak is served at keycloak.<base_domain>",
                    request.id
                ), help: None }
            })?;
        Ok(RealmSpec {
            client_id: text("client_id").unwrap_or_else(|| request.name.clone()),
            redirect_uris: inputs
                .get("redirect_uris")
                .and_then(Json::as_array)
                .map(|uris| {
                    uris.iter()
                        .filter_map(|u| u.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            url: text("url").unwrap_or_else(|| format!("http://keycloak.{namespace}.svc")),
            admin_user: given("admin_user")?,
            admin_credentials: given("admin_credentials")?,
            image: given("image")?,
            install: inputs
                .get("install")
                .and_then(Json::as_bool)
                .unwrap_or(false),
            issuer_url: format!("https://keycloak.{base_domain}/realms/{realm}"),
            name: request.name.clone(),
            realm,
            namespace,
        })
    }

    fn client_secret_name(&self) -> String {
        format!("{}-oidc-client", self.name)
    }

    fn config_map_name(&self) -> String {
        format!("{}-realm", self.name)
    }

    /// The realm in Keycloak's export format, as keycloak-config-cli reads
    /// it. The secret is substituted from the Job's environment, so it is
    /// never in the ConfigMap.
    fn realm_document(&self) -> Json {
        json!({
            "realm": self.realm,
            "enabled": true,
            "clients": [{
                "clientId": self.client_id,
                "name": self.client_id,
                "enabled": true,
                "protocol": "openid-connect",
                "publicClient": false,
                "clientAuthenticatorType": "client-secret",
                "secret": "$(env:CLIENT_SECRET)",
                "standardFlowEnabled": true,
                "directAccessGrantsEnabled": false,
                "redirectUris": self.redirect_uris,
                "webOrigins": ["+"],
                "defaultClientScopes": ["openid", "profile", "email"],
            }],
        })
    }

    fn realm_text(&self) -> String {
        serde_json::to_string_pretty(&self.realm_document()).unwrap_or_default()
    }

    /// The import Job's name: any change to what is imported or to how
    /// (the realm, the secret, anything in the Job's spec) is a new Job,
    /// since a Job's pod template cannot be changed.
    fn job_name(&self, realm: &str, job_spec: &Json, client_secret: &str) -> String {
        let mut hasher = Sha256::new();
        for part in [realm, &job_spec.to_string(), client_secret] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        let hash = hex::encode(hasher.finalize());
        format!("{}-realm-{}", self.name, &hash[..8])
    }

    fn labels(&self, stack: &str) -> Json {
        json!({
            STACK_LABEL: stack,
            "app.kubernetes.io/managed-by": "stack",
            "app.kubernetes.io/part-of": self.name,
        })
    }

    /// The Secret, the ConfigMap and the import Job, in apply order.
    fn objects(&self, stack: &str, client_secret: &str) -> Vec<Json> {
        let realm = self.realm_text();
        let labels = self.labels(stack);
        let secret_ref =
            |name: &str, key: &str| json!({ "secretKeyRef": { "name": name, "key": key } });
        let job_spec = json!({
            "backoffLimit": 3,
            "template": {
                "metadata": { "labels": labels },
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "import",
                        "image": self.image,
                        "env": [
                            { "name": "KEYCLOAK_URL", "value": self.url },
                            { "name": "KEYCLOAK_USER", "value": self.admin_user },
                            { "name": "KEYCLOAK_PASSWORD", "valueFrom": secret_ref(&self.admin_credentials, "admin-password") },
                            { "name": "KEYCLOAK_AVAILABILITYCHECK_ENABLED", "value": "true" },
                            { "name": "KEYCLOAK_AVAILABILITYCHECK_TIMEOUT", "value": "300s" },
                            { "name": "IMPORT_FILES_LOCATIONS", "value": "/config/*" },
                            { "name": "IMPORT_VARSUBSTITUTION_ENABLED", "value": "true" },
                            { "name": "CLIENT_SECRET", "valueFrom": secret_ref(&self.client_secret_name(), CLIENT_SECRET_KEY) },
                        ],
                        "volumeMounts": [{ "name": "realm", "mountPath": "/config", "readOnly": true }],
                    }],
                    "volumes": [{ "name": "realm", "configMap": { "name": self.config_map_name() } }],
                },
            },
        });
        let job_name = self.job_name(&realm, &job_spec, client_secret);
        vec![
            json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": { "name": self.client_secret_name(), "namespace": self.namespace, "labels": labels },
                "type": "Opaque",
                "stringData": { CLIENT_ID_KEY: self.client_id, CLIENT_SECRET_KEY: client_secret },
            }),
            json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": { "name": self.config_map_name(), "namespace": self.namespace, "labels": labels },
                "data": { format!("{}.json", self.realm): realm },
            }),
            json!({
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": { "name": job_name, "namespace": self.namespace, "labels": labels },
                "spec": job_spec,
            }),
        ]
    }
}

/// Applies Keycloak realms and clients through keycloak-config-cli Jobs.
pub struct KeycloakOidcProvider {
    stack: String,
    kubernetes: KubernetesProvider,
}

impl KeycloakOidcProvider {
    pub fn new(stack: &str, clients: Arc<Clients>) -> Self {
        KeycloakOidcProvider {
            stack: stack.to_string(),
            kubernetes: KubernetesProvider::with_clients(clients),
        }
    }

    fn target(request: &ApplyRequest) -> Result<&ClusterTarget, ProviderError> {
        Ok(request
            .cluster
            .as_ref()
            .ok_or_else(|| KeycloakError::Invalid {
                message: format!("`{}` has no cluster Keycloak runs on", request.id),
                help: None,
            })?)
    }

    /// The client secret kept in the cluster by an earlier run.
    async fn stored_secret(
        &self,
        target: &ClusterTarget,
        spec: &RealmSpec,
    ) -> Result<Option<String>, ProviderError> {
        self.secret_value(
            target,
            &spec.namespace,
            &spec.client_secret_name(),
            CLIENT_SECRET_KEY,
        )
        .await
    }

    /// One value of a Secret, if the Secret and the key exist.
    async fn secret_value(
        &self,
        target: &ClusterTarget,
        namespace: &str,
        name: &str,
        key: &str,
    ) -> Result<Option<String>, ProviderError> {
        let cluster = self.kubernetes.clients().cluster(target).await?;
        cluster.secret_value(namespace, name, key).await
    }

    /// New passwords for a Keycloak whose database is still there would lock
    /// it out of that database: refuses when its PostgreSQL volume exists.
    async fn refuse_if_data_exists(
        &self,
        target: &ClusterTarget,
        spec: &RealmSpec,
    ) -> Result<(), ProviderError> {
        let cluster = self.kubernetes.clients().cluster(target).await?;
        let claims: kube::Api<PersistentVolumeClaim> =
            kube::Api::namespaced(cluster.client.clone(), &spec.namespace);
        let found = claims
            .get_opt(DATABASE_VOLUME)
            .await
            .map_err(|e| KeycloakError::Database {
                message: format!(
                    "cannot read PersistentVolumeClaim {}/{DATABASE_VOLUME} on {}",
                    spec.namespace,
                    cluster.describe()
                ),
                help: with_notes([e.to_string()], None),
            })?;
        match found {
            None => Ok(()),
            Some(_) => Err(KeycloakError::Database { message: format!(
                "Keycloak's database volume {}/{DATABASE_VOLUME} exists, but its passwords in Secret `{}` are gone",
                spec.namespace, spec.admin_credentials
            ), help: Some(format!(
                "new passwords would lock Keycloak out of its database: restore Secret `{}` (keys `admin-password`, `db-password`), or delete the volume to start Keycloak afresh",
                spec.admin_credentials
            )) }.into()),
        }
    }

    /// The Secret Keycloak's chart reads its passwords from, when the realm
    /// installs Keycloak: made once with random passwords, then kept.
    async fn keycloak_credentials(
        &self,
        request: &ApplyRequest,
        spec: &RealmSpec,
    ) -> Result<Json, ProviderError> {
        let target = Self::target(request)?;
        let mut data = serde_json::Map::new();
        for key in ["admin-password", "db-password"] {
            let value = match self
                .secret_value(target, &spec.namespace, &spec.admin_credentials, key)
                .await?
            {
                Some(kept) => kept,
                None => {
                    self.refuse_if_data_exists(target, spec).await?;
                    generate_secret()?
                }
            };
            data.insert(key.to_string(), Json::String(value));
        }
        Ok(json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": spec.admin_credentials,
                "namespace": spec.namespace,
                "labels": spec.labels(&self.stack),
            },
            "type": "Opaque",
            "stringData": data,
        }))
    }

    /// The script's `client_secret`, else the stored one, else a new one.
    async fn client_secret(
        &self,
        request: &ApplyRequest,
        spec: &RealmSpec,
    ) -> Result<String, ProviderError> {
        if let Some(given) = request.inputs.get("client_secret").and_then(Json::as_str) {
            return Ok(given.to_string());
        }
        if let Some(stored) = self.stored_secret(Self::target(request)?, spec).await? {
            return Ok(stored);
        }
        generate_secret()
    }

    fn outputs(spec: &RealmSpec, client_secret: String) -> BTreeMap<String, Json> {
        BTreeMap::from([
            (
                "issuer_url".to_string(),
                Json::String(spec.issuer_url.clone()),
            ),
            (
                "client_id".to_string(),
                Json::String(spec.client_id.clone()),
            ),
            ("client_secret".to_string(), Json::String(client_secret)),
        ])
    }

    /// Deletes the import Job of this exact realm if an earlier run left it
    /// failed (Keycloak was not up yet, say): a failed Job never runs again,
    /// so the import is retried with a new one.
    async fn clear_failed_import(
        &self,
        request: &ApplyRequest,
        spec: &RealmSpec,
        job_name: &str,
    ) -> Result<(), ProviderError> {
        let cluster = self
            .kubernetes
            .clients()
            .cluster(Self::target(request)?)
            .await?;
        let jobs: kube::Api<Job> = kube::Api::namespaced(cluster.client.clone(), &spec.namespace);
        let failed_to = |action: &str, e: kube::Error| KeycloakError::Import {
            message: format!(
                "cannot {action} Job {}/{job_name} on {}",
                spec.namespace,
                cluster.describe()
            ),
            help: with_notes([e.to_string()], None),
        };
        let failed = jobs
            .get_opt(job_name)
            .await
            .map_err(|e| failed_to("read", e))?
            .and_then(|job| job.status?.conditions)
            .is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|c| c.type_ == "Failed" && c.status == "True")
            });
        if !failed {
            return Ok(());
        }
        // Deleted as any object of the realm is, and waited for until gone.
        let job = ObjectRef {
            api_version: "batch/v1".into(),
            kind: "Job".into(),
            namespace: Some(spec.namespace.clone()),
            name: job_name.to_string(),
        };
        let how = Deletion {
            owner: &request.owner,
            wait: true,
            deadline: Deadline::after(request.timeout),
            progress: &request.progress,
            confirmed: true,
        };
        delete_objects(&cluster, [&job], &how).await
    }

    async fn apply_realm(&self, request: &ApplyRequest) -> Result<Applied, ProviderError> {
        let spec = RealmSpec::from_request(request)?;
        let client_secret = self.client_secret(request, &spec).await?;
        if spec.install {
            // Keycloak's passwords belong with its database, not with the
            // realm: applied, never recorded, so that no prune or delete of
            // the realm takes them from a Keycloak that stays.
            let credentials = self.keycloak_credentials(request, &spec).await?;
            self.kubernetes
                .apply_and_wait(Self::target(request)?, &[credentials], request.timeout)
                .await?;
        }
        let objects = spec.objects(&self.stack, &client_secret);
        let job_name = objects
            .iter()
            .find(|o| o["kind"] == "Job")
            .and_then(|o| o.pointer("/metadata/name"))
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string();
        self.clear_failed_import(request, &spec, &job_name).await?;
        let sub = ApplyRequest {
            objects,
            wait: true,
            ..request.clone()
        };
        let applied = self.kubernetes.apply(&sub).await.map_err(|e| {
            let hint = format!(
                "the import's log: `kubectl logs -n {ns} -l app.kubernetes.io/part-of={name}`; Keycloak must answer at {url} with its admin password in Secret `{secret}`; the next run imports again",
                ns = spec.namespace,
                name = spec.name,
                url = spec.url,
                secret = spec.admin_credentials,
            );
            KeycloakError::Import {
                message: e.message(),
                help: with_notes(e.help(), Some(hint)),
            }
        })?;
        Ok(Applied {
            outputs: Self::outputs(&spec, client_secret),
            objects: applied.objects,
        })
    }

    async fn read(&self, request: &ApplyRequest) -> Result<BTreeMap<String, Json>, ProviderError> {
        let spec = RealmSpec::from_request(request)?;
        let secret = match request.inputs.get("client_secret").and_then(Json::as_str) {
            Some(given) => Some(given.to_string()),
            None => self.stored_secret(Self::target(request)?, &spec).await?,
        };
        let mut outputs = Self::outputs(&spec, String::new());
        match secret {
            Some(secret) => outputs.insert("client_secret".to_string(), Json::String(secret)),
            None => outputs.remove("client_secret"),
        };
        Ok(outputs)
    }
}

/// 32 random bytes from the operating system, hex-encoded.
fn generate_secret() -> Result<String, ProviderError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| KeycloakError::Secret {
        message: format!("cannot generate a client secret: {e}"),
        help: None,
    })?;
    Ok(hex::encode(bytes))
}

impl Provider for KeycloakOidcProvider {
    fn name(&self) -> &'static str {
        "keycloak"
    }

    fn apply<'a>(
        &'a self,
        request: &'a ApplyRequest,
    ) -> BoxFuture<'a, Result<Applied, ProviderError>> {
        Box::pin(self.apply_realm(request))
    }

    /// Removes the client Secret, the realm ConfigMap and the import Job.
    /// The realm itself lives in Keycloak's database and goes with it.
    fn delete<'a>(
        &'a self,
        request: &'a DeleteRequest,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        self.kubernetes.delete(request)
    }

    /// The client secret of an earlier run, for dependents (the state keeps
    /// only its hash).
    fn read_outputs<'a>(
        &'a self,
        request: &'a ApplyRequest,
    ) -> BoxFuture<'a, Result<BTreeMap<String, Json>, ProviderError>> {
        Box::pin(self.read(request))
    }
}

/// How a Keycloak realm fails to be imported.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum KeycloakError {
    /// The declaration lacks what the import needs.
    #[error("{message}")]
    #[diagnostic(code(stack::keycloak::invalid))]
    Invalid {
        message: String,
        #[help]
        help: Option<String>,
    },

    /// Keycloak's database and its passwords disagree.
    #[error("{message}")]
    #[diagnostic(code(stack::keycloak::database))]
    Database {
        message: String,
        #[help]
        help: Option<String>,
    },

    /// The import Job failed or could not be run.
    #[error("{message}")]
    #[diagnostic(code(stack::keycloak::import))]
    Import {
        message: String,
        #[help]
        help: Option<String>,
    },

    /// A client secret could not be generated.
    #[error("{message}")]
    #[diagnostic(code(stack::keycloak::secret))]
    Secret {
        message: String,
        #[help]
        help: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RealmSpec {
        RealmSpec {
            name: "sso".into(),
            realm: "platform".into(),
            client_id: "sso".into(),
            redirect_uris: vec!["https://argocd.example.com/auth/callback".into()],
            namespace: "keycloak".into(),
            url: "http://keycloak.keycloak.svc".into(),
            admin_user: "admin".into(),
            admin_credentials: "keycloak-credentials".into(),
            image: "docker.io/adorsys/keycloak-config-cli:6.5.0-24.0.5".into(),
            install: false,
            issuer_url: "https://keycloak.example.com/realms/platform".into(),
        }
    }

    #[test]
    fn the_secret_never_reaches_the_config_map() {
        let objects = spec().objects("prod", "s3cr3t-value");
        let config_map = objects[1].to_string();
        assert!(!config_map.contains("s3cr3t-value"));
        assert!(config_map.contains("$(env:CLIENT_SECRET)"));
        assert!(config_map.contains("https://argocd.example.com/auth/callback"));
        assert_eq!(objects[0]["stringData"]["client-secret"], "s3cr3t-value");
    }

    #[test]
    fn a_change_to_what_is_imported_is_a_new_job() {
        let job_name = |spec: &RealmSpec, secret: &str| {
            spec.objects("prod", secret)[2]["metadata"]["name"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let base = spec();
        let same = job_name(&base, "a");
        assert_eq!(same, job_name(&base, "a"));
        assert!(same.starts_with("sso-realm-"));
        assert_ne!(same, job_name(&base, "b"));
        let mut more_uris = spec();
        more_uris
            .redirect_uris
            .push("https://grafana.example.com/login".into());
        assert_ne!(same, job_name(&more_uris, "a"));
    }

    #[test]
    fn generated_secrets_differ() {
        let a = generate_secret().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, generate_secret().unwrap());
    }
}
