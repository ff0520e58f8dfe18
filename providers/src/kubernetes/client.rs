//! Connections to clusters: one Kubernetes client per cluster, built from
//! the cluster target and cached for the life of the process.
//!
//! A cluster is reached through a kubeconfig (`existing` and `kind`
//! clusters, or any cluster that names a `kubeconfig` or `context`:
//! the `kubeconfig` input, else `KUBECONFIG`, else `~/.kube/config`), or
//! through the `endpoint` and `ca_data` outputs of a cluster `stack`
//! provisioned itself, authenticated by a [`TokenSource`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use kube::client::ClientBuilder;
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Client, Config};
use stack_engine::provider::{ClusterTarget, ProviderError};
use stack_engine::state::backend::BoxFuture;

use super::bearer::{BearerLayer, REFRESH_EVERY};
use super::discovery::Kinds;
use super::error::{with_notes, KubeError};
use super::retry::RetryPolicy;
use crate::provider_kind::ClusterProvider;

/// Supplies a bearer token for clusters reached through their endpoint
/// (a cloud's short-lived token); `None` connects without one.
pub trait TokenSource: Send + Sync {
    fn token<'a>(
        &'a self,
        target: &'a ClusterTarget,
    ) -> BoxFuture<'a, Result<Option<String>, ProviderError>>;
}

/// Where the connection settings of a cluster come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// A kubeconfig: an explicit file (else `KUBECONFIG`, else
    /// `~/.kube/config`) and a context (else the current one).
    Kubeconfig {
        path: Option<PathBuf>,
        context: Option<String>,
    },
    /// The API endpoint and CA a provisioned cluster reported.
    Endpoint {
        endpoint: String,
        ca_data: Option<String>,
    },
    /// A provisioned cluster that has reported no endpoint (yet): never
    /// the kubeconfig's current context, which may be another cluster.
    Unknown,
}

impl Source {
    /// How to reach `target`.
    pub fn of(target: &ClusterTarget) -> Source {
        let input = |key: &str| {
            target
                .input_str(key)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let output = |key: &str| {
            target
                .outputs
                .get(key)
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let path = input("kubeconfig").map(|p| expand_home(&p));
        // kind names its clusters' contexts `kind-<name>`.
        let provider = ClusterProvider::of(target);
        let context = input("context").or_else(|| {
            (provider == Some(ClusterProvider::Kind)).then(|| format!("kind-{}", target.name))
        });
        let by_kubeconfig = matches!(
            provider,
            Some(ClusterProvider::Existing | ClusterProvider::Kind)
        );
        if by_kubeconfig || path.is_some() || context.is_some() {
            return Source::Kubeconfig { path, context };
        }
        match output("endpoint") {
            Some(endpoint) => Source::Endpoint {
                endpoint,
                ca_data: output("ca_data"),
            },
            None => Source::Unknown,
        }
    }

    /// For messages: `context `kind-dev` in /home/me/.kube/config`.
    pub fn describe(&self) -> String {
        match self {
            Source::Kubeconfig { path, context } => {
                let context = match context {
                    Some(c) => format!("context `{c}`"),
                    None => "the current context".to_string(),
                };
                match path {
                    Some(p) => format!("{context} of {}", p.display()),
                    None => match std::env::var("KUBECONFIG") {
                        Ok(v) if !v.is_empty() => format!("{context} of KUBECONFIG={v}"),
                        _ => format!("{context} of ~/.kube/config"),
                    },
                }
            }
            Source::Endpoint { endpoint, .. } => format!("endpoint {endpoint}"),
            Source::Unknown => "no endpoint".to_string(),
        }
    }
}

/// `~/x` → `$HOME/x`.
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// The kubeconfig files that would be read for `path`, existing or not.
fn kubeconfig_files(path: Option<&Path>) -> Vec<PathBuf> {
    if let Some(p) = path {
        return vec![p.to_path_buf()];
    }
    if let Some(v) = std::env::var_os("KUBECONFIG") {
        let files: Vec<PathBuf> = std::env::split_paths(&v)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        if !files.is_empty() {
            return files;
        }
    }
    std::env::var_os("HOME")
        .map(|home| vec![Path::new(&home).join(".kube").join("config")])
        .unwrap_or_default()
}

/// Whether connection settings for `target` exist at all: a kubeconfig
/// file to read, or a reported endpoint.
pub fn configured(target: &ClusterTarget) -> bool {
    match Source::of(target) {
        Source::Endpoint { .. } => true,
        Source::Unknown => false,
        Source::Kubeconfig { path, .. } => kubeconfig_files(path.as_deref())
            .iter()
            .any(|p| p.is_file()),
    }
}

/// A connected cluster: its client, how it was reached, and the kinds
/// discovered on it so far.
pub struct Cluster {
    pub name: String,
    pub client: Client,
    /// The API server URL.
    pub server: String,
    /// The kubeconfig context used, if any.
    pub context: Option<String>,
    /// The base64 PEM CA bundle, when the kubeconfig or the target had it inline.
    pub ca_data: Option<String>,
    pub source: Source,
    pub retry: RetryPolicy,
    pub kinds: Kinds,
    /// The renewal of an expiring token, for clusters reached with one.
    pub tokens: Option<BearerLayer>,
}

impl Cluster {
    /// One value of a Secret, when the Secret and the key exist: for what
    /// other tools write there (Argo CD's initial admin password) and what
    /// `stack` keeps there rather than in its state (generated passwords).
    pub async fn secret_value(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
    ) -> Result<Option<String>, ProviderError> {
        let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
            kube::Api::namespaced(self.client.clone(), namespace);
        let found = secrets
            .get_opt(name)
            .await
            .map_err(|e| KubeError::Refused {
                message: format!(
                    "cannot read Secret {namespace}/{name} on {}: {e}",
                    self.describe()
                ),
                status: 0,
                help: None,
            })?;
        Ok(found
            .and_then(|s| s.data)
            .and_then(|data| data.get(key).cloned())
            .and_then(|bytes| String::from_utf8(bytes.0).ok())
            .filter(|s| !s.is_empty()))
    }

    /// A cluster reached through a client built elsewhere.
    pub fn from_client(name: impl Into<String>, client: Client, retry: RetryPolicy) -> Self {
        Cluster {
            name: name.into(),
            server: String::from("(the client's server)"),
            context: None,
            ca_data: None,
            source: Source::Kubeconfig {
                path: None,
                context: None,
            },
            retry,
            kinds: Kinds::default(),
            client,
            tokens: None,
        }
    }

    /// For messages: `cluster `dev` (context `kind-dev`, server https://127.0.0.1:6443)`.
    pub fn describe(&self) -> String {
        match &self.context {
            Some(c) => format!(
                "cluster `{}` (context `{c}`, server {})",
                self.name, self.server
            ),
            None => format!("cluster `{}` (server {})", self.name, self.server),
        }
    }

    /// The error for an API that did not answer while `doing` something
    /// (`cannot apply Deployment a/b`).
    pub fn unreachable(&self, doing: &str, error: impl std::fmt::Display) -> KubeError {
        let help = match &self.context {
            Some(c) => format!(
                "check that the cluster is running and that `kubectl --context {c} version` works"
            ),
            None => format!(
                "check that the cluster is running and that {} answers",
                self.server
            ),
        };
        KubeError::Unreachable {
            message: format!(
                "{doing}: cannot reach the Kubernetes API of {}",
                self.describe()
            ),
            help: with_notes([error.to_string()], Some(help)),
        }
    }
}

/// The clients of every cluster used in this process, by cluster.
pub struct Clients {
    cache: Mutex<HashMap<(String, Source), Arc<Cluster>>>,
    tokens: Option<Arc<dyn TokenSource>>,
    retry: RetryPolicy,
}

impl Default for Clients {
    fn default() -> Self {
        Clients::new()
    }
}

impl Clients {
    pub fn new() -> Self {
        Clients {
            cache: Mutex::new(HashMap::new()),
            tokens: None,
            retry: RetryPolicy::default(),
        }
    }

    /// Bearer tokens for clusters reached through their endpoint.
    pub fn with_token_source(mut self, tokens: Arc<dyn TokenSource>) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// The retry policy of every API call made through these clients.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The connected cluster for `target`, built on first use.
    pub async fn cluster(&self, target: &ClusterTarget) -> Result<Arc<Cluster>, ProviderError> {
        let source = Source::of(target);
        let key = (target.id.to_string(), source.clone());
        if let Some(found) = self.lock().get(&key) {
            return Ok(found.clone());
        }
        let cluster = Arc::new(self.connect(target, source).await?);
        Ok(self.lock().entry(key).or_insert(cluster).clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, Source), Arc<Cluster>>> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn connect(
        &self,
        target: &ClusterTarget,
        source: Source,
    ) -> Result<Cluster, ProviderError> {
        let mut bearer = None;
        let (mut config, context, ca_data) = match &source {
            Source::Kubeconfig { path, context } => {
                from_kubeconfig(target, path.as_deref(), context.as_deref()).await?
            }
            Source::Endpoint { endpoint, ca_data } => {
                let config = from_endpoint(target, endpoint, ca_data.as_deref())?;
                if let Some(tokens) = &self.tokens {
                    bearer = BearerLayer::start(tokens.clone(), target, REFRESH_EVERY).await?;
                }
                (config, None, ca_data.clone())
            }
            Source::Unknown => {
                return Err(KubeError::Connection {
                    message: format!(
                        "cluster `{}` has reported no API endpoint to connect to",
                        target.name
                    ),
                    help: Some("the cluster must be applied before what runs on it; run again to create it, or set `kubeconfig`/`context` in its options".into()),
                }
                .into())
            }
        };
        // Retries are ours (`retry.rs`): bounded, with jitter, and counted.
        config.default_retry = false;
        let server = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_string();
        let builder = ClientBuilder::try_from(config).map_err(|e| KubeError::Connection {
            message: format!(
                "cannot set up a client for cluster `{}` ({server}): {e}",
                target.name
            ),
            help: None,
        })?;
        let client = match &bearer {
            Some(layer) => builder.with_layer(layer).build(),
            None => builder.build(),
        };
        Ok(Cluster {
            name: target.name.clone(),
            client,
            server,
            context,
            ca_data,
            source,
            retry: self.retry.clone(),
            kinds: Kinds::default(),
            tokens: bearer,
        })
    }
}

/// Reads the kubeconfig for `target`: returns the client configuration,
/// the context used and the inline CA of its cluster.
async fn from_kubeconfig(
    target: &ClusterTarget,
    path: Option<&Path>,
    context: Option<&str>,
) -> Result<(Config, Option<String>, Option<String>), ProviderError> {
    let files = kubeconfig_files(path);
    let shown = files
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let help =
        "set `kubeconfig` (a file) or `context` in the cluster's options, or export KUBECONFIG";
    if !files.iter().any(|p| p.is_file()) {
        return Err(KubeError::Connection {
            message: format!(
                "no kubeconfig for cluster `{}`: {} does not exist",
                target.name,
                if shown.is_empty() {
                    "~/.kube/config".to_string()
                } else {
                    shown
                },
            ),
            help: Some(help.into()),
        }
        .into());
    }
    // Like kubectl: files of KUBECONFIG that do not exist are skipped, the
    // others merged (the first to set a value wins).
    let kubeconfig = files
        .iter()
        .filter(|p| p.is_file())
        .try_fold(Kubeconfig::default(), |merged, p| {
            Kubeconfig::read_from(p).and_then(|k| merged.merge(k))
        })
        .map_err(|e| KubeError::Connection {
            message: format!(
                "cannot read the kubeconfig of cluster `{}` ({shown})",
                target.name
            ),
            help: with_notes([kubeconfig_error(&e)], Some(help.into())),
        })?;
    let names: Vec<&str> = kubeconfig
        .contexts
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    let chosen = match context.or(kubeconfig.current_context.as_deref()) {
        Some(c) => c.to_string(),
        None => {
            return Err(KubeError::Connection {
                message: format!(
                    "the kubeconfig of cluster `{}` ({shown}) has no current context",
                    target.name
                ),
                help: with_notes(
                    [format!("contexts: {}", names.join(", "))],
                    Some("set `context` in the cluster's options".into()),
                ),
            }
            .into())
        }
    };
    if !names.contains(&chosen.as_str()) {
        let known = if names.is_empty() {
            "the kubeconfig has no contexts".to_string()
        } else {
            format!("contexts: {}", names.join(", "))
        };
        let help = stack_engine::suggest::did_you_mean(&chosen, names.iter().copied())
            .unwrap_or_else(|| {
                "pick one of its contexts, or check with `kubectl config get-contexts`".to_string()
            });
        return Err(KubeError::Connection {
            message: format!(
                "the context `{chosen}` of cluster `{}` is not in the kubeconfig ({shown})",
                target.name
            ),
            help: with_notes([known], Some(help)),
        }
        .into());
    }
    let ca_data = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == chosen)
        .and_then(|c| c.context.as_ref())
        .and_then(|c| kubeconfig.clusters.iter().find(|k| k.name == c.cluster))
        .and_then(|k| k.cluster.as_ref())
        .and_then(|k| k.certificate_authority_data.clone());
    let options = KubeConfigOptions {
        context: Some(chosen.clone()),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| KubeError::Connection {
            message: format!(
                "cannot use the context `{chosen}` of cluster `{}` ({shown})",
                target.name
            ),
            help: with_notes([kubeconfig_error(&e)], Some(help.into())),
        })?;
    Ok((config, Some(chosen), ca_data))
}

fn kubeconfig_error(e: &KubeconfigError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// A configuration from a reported endpoint and base64 PEM CA bundle.
fn from_endpoint(
    target: &ClusterTarget,
    endpoint: &str,
    ca_data: Option<&str>,
) -> Result<Config, ProviderError> {
    let url = endpoint
        .parse::<http::Uri>()
        .map_err(|e| KubeError::Connection {
            message: format!(
                "cluster `{}` reported an endpoint that is no URL: {endpoint} ({e})",
                target.name
            ),
            help: None,
        })?;
    let mut config = Config::new(url);
    if let Some(ca) = ca_data {
        let certificates = pem_certificates(ca).ok_or_else(|| KubeError::Connection {
            message: format!(
                "cluster `{}` reported a `ca_data` that is no base64 PEM certificate",
                target.name
            ),
            help: None,
        })?;
        config.root_cert = Some(certificates);
    }
    Ok(config)
}

/// The DER certificates of a base64-encoded PEM bundle.
pub fn pem_certificates(ca_data: &str) -> Option<Vec<Vec<u8>>> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let compact: String = ca_data.chars().filter(|c| !c.is_whitespace()).collect();
    let pem = String::from_utf8(b64.decode(compact).ok()?).ok()?;
    let mut certificates = Vec::new();
    let mut body: Option<String> = None;
    for line in pem.lines().map(str::trim) {
        if line.starts_with("-----BEGIN CERTIFICATE") {
            body = Some(String::new());
        } else if line.starts_with("-----END CERTIFICATE") {
            certificates.push(b64.decode(body.take()?).ok()?);
        } else if let Some(body) = body.as_mut() {
            body.push_str(line);
        }
    }
    (!certificates.is_empty()).then_some(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn target(inputs: serde_json::Value, outputs: &[(&str, &str)]) -> ClusterTarget {
        ClusterTarget {
            id: "cluster/dev".into(),
            name: "dev".into(),
            inputs,
            outputs: outputs
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn chooses_how_to_connect() {
        let existing = target(
            json!({ "provider": "existing", "context": "kind-dev" }),
            &[("endpoint", "https://x")],
        );
        assert_eq!(
            Source::of(&existing),
            Source::Kubeconfig {
                path: None,
                context: Some("kind-dev".into())
            }
        );
        let eks = target(
            json!({ "provider": "eks" }),
            &[("endpoint", "https://eks"), ("ca_data", "Q0E=")],
        );
        assert_eq!(
            Source::of(&eks),
            Source::Endpoint {
                endpoint: "https://eks".into(),
                ca_data: Some("Q0E=".into())
            }
        );
        let eks_new = target(json!({ "provider": "eks" }), &[("endpoint", "")]);
        assert_eq!(Source::of(&eks_new), Source::Unknown);
        assert!(!configured(&eks_new));
        let with_file = target(
            json!({ "provider": "existing", "kubeconfig": "/tmp/k.yaml" }),
            &[],
        );
        assert_eq!(
            Source::of(&with_file),
            Source::Kubeconfig {
                path: Some("/tmp/k.yaml".into()),
                context: None
            }
        );
    }

    #[test]
    fn reads_pem_bundles() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let der = [1u8, 2, 3, 4, 5];
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            b64.encode(der),
            b64.encode([9u8])
        );
        let certificates = pem_certificates(&b64.encode(pem)).expect("two certificates");
        assert_eq!(certificates, vec![der.to_vec(), vec![9u8]]);
        assert_eq!(pem_certificates("not base64!"), None);
        assert_eq!(pem_certificates(&b64.encode("no certificate here")), None);
    }
}
