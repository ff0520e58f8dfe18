//! The AWS configuration shared by the AWS providers (EKS, Cognito) and the
//! EKS token source, loaded once per region through the standard chain
//! (environment, profiles, instance metadata, `AWS_ENDPOINT_URL`); a journal
//! of the writes made; AWS failures as provider errors.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, SdkConfig};
pub use aws_credential_types::Credentials;
use aws_sdk_eks::config::Region;
use aws_sdk_eks::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use stack_engine::provider::ProviderError;

/// Overrides of the standard AWS configuration, for tests and tools that
/// must not depend on the environment. Unset fields follow the standard
/// chain (environment, profiles, instance metadata).
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    pub endpoint_url: Option<String>,
    pub credentials: Option<Credentials>,
}

/// The AWS configuration of each region used in this process, loaded once.
#[derive(Clone, Default)]
pub struct Aws {
    settings: AwsSettings,
    configs: Arc<tokio::sync::Mutex<HashMap<String, SdkConfig>>>,
}

impl Aws {
    /// The standard configuration.
    pub fn new() -> Self {
        Aws::default()
    }

    pub fn with_settings(settings: AwsSettings) -> Self {
        Aws {
            settings,
            configs: Arc::default(),
        }
    }

    /// The configuration for `region` (empty: the configured region).
    pub async fn config(&self, region: &str) -> SdkConfig {
        let mut configs = self.configs.lock().await;
        if let Some(found) = configs.get(region) {
            return found.clone();
        }
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
        if !region.is_empty() {
            loader = loader.region(Region::new(region.to_string()));
        }
        if let Some(url) = &self.settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(credentials) = &self.settings.credentials {
            loader = loader.credentials_provider(credentials.clone());
        }
        let config = loader.load().await;
        configs.insert(region.to_string(), config.clone());
        config
    }

    /// An EKS client for `region`.
    pub async fn eks(&self, region: &str) -> aws_sdk_eks::Client {
        aws_sdk_eks::Client::new(&self.config(region).await)
    }

    /// A Cognito user pools client for `region`.
    pub async fn cognito(&self, region: &str) -> aws_sdk_cognitoidentityprovider::Client {
        aws_sdk_cognitoidentityprovider::Client::new(&self.config(region).await)
    }
}

/// The AWS writes made through a provider, in order (`create cluster prod`),
/// for progress and for tests that check a converged apply writes nothing.
#[derive(Debug, Clone, Default)]
pub struct Journal {
    entries: Arc<Mutex<Vec<String>>>,
}

impl Journal {
    pub fn record(&self, entry: String) {
        self.lock().push(entry);
    }

    /// Every entry so far, leaving the journal empty.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Whether `error` is AWS saying that the thing asked about does not exist.
pub fn is_not_found<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error
        .as_service_error()
        .and_then(ProvideErrorMetadata::code)
        .is_some_and(|code| code == "ResourceNotFoundException")
}

/// `what` failed to `action` (`create`, `describe`), with AWS's message and
/// error code; `help` says which options to check when AWS refused.
pub fn aws_error<E, R>(what: &str, action: &str, error: SdkError<E, R>, help: &str) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let (code, message) = match error.as_service_error() {
        Some(service) => (
            service.code().map(str::to_string),
            service.message().map(str::to_string),
        ),
        None => (None, None),
    };
    let message = message.unwrap_or_else(|| DisplayErrorContext(&error).to_string());
    let mut failure = ProviderError::new(format!("cannot {action} {what}: {message}"));
    if let Some(code) = code {
        failure = failure.detail(format!("AWS error code: {code}"));
    }
    let help = match error {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            "check the network and the AWS endpoint (AWS_ENDPOINT_URL, if set)"
        }
        _ => help,
    };
    failure.help(help)
}
