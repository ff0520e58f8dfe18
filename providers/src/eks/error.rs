//! AWS failures of EKS calls as provider errors: every message names the
//! cluster (and the node group) and carries AWS's own message and code.

use aws_sdk_eks::error::{ProvideErrorMetadata, SdkError};
use stack_engine::provider::ProviderError;

pub use crate::aws::is_not_found;

/// `what` (`EKS cluster `prod``, `node group `default` of EKS cluster `prod``)
/// failed to `action` (`create`, `describe`), with AWS's message.
pub fn aws_error<E, R>(what: &str, action: &str, error: SdkError<E, R>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    crate::aws::aws_error(what, action, error, "check the cluster's options (`region`, `role_arn`, `subnet_ids`, `node_groups`) and the AWS credentials in use")
}
