//! AWS failures as provider errors: every message names the cluster (and
//! the node group) and carries AWS's own message and error code.

use aws_sdk_eks::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use stack_engine::provider::ProviderError;

/// Whether `error` is AWS saying that the thing asked about does not exist.
pub fn is_not_found<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error
        .as_service_error()
        .and_then(ProvideErrorMetadata::code)
        .is_some_and(|code| code == "ResourceNotFoundException")
}

/// `what` (`EKS cluster `prod``, `node group `default` of EKS cluster `prod``)
/// failed to `action` (`create`, `describe`), with AWS's message.
pub fn aws_error<E, R>(what: &str, action: &str, error: SdkError<E, R>) -> ProviderError
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
        _ => "check the cluster's options (`region`, `role_arn`, `subnet_ids`, `node_groups`) and the AWS credentials in use",
    };
    failure.help(help)
}
