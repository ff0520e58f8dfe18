//! The AWS configuration shared by the AWS providers (EKS, Cognito) and the
//! EKS token source, loaded once per region through the standard chain
//! (environment, profiles, instance metadata, `AWS_ENDPOINT_URL`); a journal
//! of the writes made; AWS failures as provider errors.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, SdkConfig};
pub use aws_credential_types::Credentials;
use aws_sdk_eks::config::http::HttpResponse;
use aws_sdk_eks::config::Region;
use aws_sdk_eks::error::{ProvideErrorMetadata, SdkError};
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
    pub async fn eks(&self, region: &str) -> Api<aws_sdk_eks::Client> {
        let config = self.config(region).await;
        Api {
            client: aws_sdk_eks::Client::new(&config),
            endpoint: self.endpoint(&config, "AWS_ENDPOINT_URL_EKS"),
        }
    }

    /// A Cognito user pools client for `region`.
    pub async fn cognito(&self, region: &str) -> Api<aws_sdk_cognitoidentityprovider::Client> {
        let config = self.config(region).await;
        Api {
            client: aws_sdk_cognitoidentityprovider::Client::new(&config),
            endpoint: self.endpoint(&config, "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"),
        }
    }

    /// The endpoint a service's calls go to when it is not AWS's own: the
    /// service's variable, else the configured one.
    fn endpoint(&self, config: &SdkConfig, service_variable: &str) -> Option<String> {
        std::env::var(service_variable)
            .ok()
            .filter(|url| !url.is_empty())
            .or_else(|| config.endpoint_url().map(str::to_string))
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

/// An AWS call that failed, as the user reads it: the operation, AWS's own
/// code and message when it gave them, else the HTTP status or the network
/// failure, and the endpoint when it is not AWS's own.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum AwsError {
    /// AWS refused, in its own words.
    #[error("cannot {action} {what}: {message}")]
    #[diagnostic(code(stack::aws::refused))]
    Refused {
        action: String,
        what: String,
        /// AWS's error code (`InvalidParameterException`).
        code: String,
        message: String,
        status: u16,
        #[help]
        help: String,
    },

    /// An answer without AWS's words: a proxy, or an endpoint that does not
    /// serve the call.
    #[error("cannot {action} {what}: {} answered HTTP {status}{}", endpoint.as_deref().unwrap_or("AWS"), code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    #[diagnostic(code(stack::aws::http_status))]
    HttpStatus {
        action: String,
        what: String,
        status: u16,
        code: Option<String>,
        endpoint: Option<String>,
        #[help]
        help: String,
    },

    #[error("cannot {action} {what}: cannot reach {}: {cause}", endpoint.as_deref().unwrap_or("AWS"))]
    #[diagnostic(
        code(stack::aws::unreachable),
        help("check the network, and the AWS endpoint if one is set (AWS_ENDPOINT_URL)")
    )]
    Unreachable {
        action: String,
        what: String,
        endpoint: Option<String>,
        cause: String,
    },

    /// The SDK could not make the request (credentials, region).
    #[error("cannot {action} {what}: {cause}")]
    #[diagnostic(
        code(stack::aws::request),
        help("check the AWS credentials and region in use (AWS_PROFILE, AWS_REGION)")
    )]
    Request {
        action: String,
        what: String,
        cause: String,
    },
}

/// An AWS client with the endpoint it was configured with, when that is
/// not AWS's own, for errors to name.
#[derive(Debug, Clone)]
pub struct Api<C> {
    pub client: C,
    pub endpoint: Option<String>,
}

impl<C> std::ops::Deref for Api<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.client
    }
}

impl<C> Api<C> {
    /// `what` failed to `action` (`create`, `describe`); `help` says which
    /// options to check when AWS refused.
    pub fn error<E>(
        &self,
        what: &str,
        action: &str,
        error: SdkError<E, HttpResponse>,
        help: &str,
    ) -> ProviderError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let (action, what) = (action.to_string(), what.to_string());
        let endpoint = self.endpoint.clone();
        let status = error.raw_response().map(|r| r.status().as_u16());
        let (code, message) = match error.as_service_error() {
            Some(service) => (
                service.code().map(str::to_string),
                service.message().map(str::to_string),
            ),
            None => (None, None),
        };
        let failure = match (&error, status, code, message) {
            (_, Some(status), Some(code), Some(message)) => AwsError::Refused {
                action,
                what,
                help: format!("AWS error code {code} (HTTP {status}); {help}"),
                code,
                message,
                status,
            },
            (_, Some(status), code, _) => AwsError::HttpStatus {
                action,
                what,
                status,
                code,
                help: match &endpoint {
                    Some(url) => format!(
                        "is {url} an AWS endpoint that serves this call? (AWS_ENDPOINT_URL)"
                    ),
                    None => "AWS answered without saying why; try again, and check the region"
                        .to_string(),
                },
                endpoint,
            },
            (SdkError::DispatchFailure(_) | SdkError::TimeoutError(_), ..) => {
                AwsError::Unreachable {
                    action,
                    what,
                    endpoint,
                    cause: innermost_cause(&error),
                }
            }
            _ => AwsError::Request {
                action,
                what,
                cause: innermost_cause(&error),
            },
        };
        failure.into()
    }
}

/// The deepest cause of `error` that says something, by its `Display`:
/// the SDK's outer layers only say that a layer below failed.
fn innermost_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut said = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let text = inner.to_string();
        if !text.is_empty() {
            said = text;
        }
        cause = inner.source();
    }
    said
}
