//! AWS failures of EKS calls: every message names the cluster (and the
//! node group) and carries AWS's own message and code.

pub use crate::aws::is_not_found;

/// An EKS client, with its endpoint for errors to name.
pub type Eks = crate::aws::Api<aws_sdk_eks::Client>;

/// What to check when EKS refuses a call.
const HELP: &str = "check the cluster's options (`region`, `role_arn`, `subnet_ids`, `node_groups`) and the AWS credentials in use";

impl Eks {
    /// `what` (`EKS cluster `prod``) failed to `action` (`create`).
    pub fn failed<E>(
        &self,
        what: &str,
        action: &str,
        error: aws_sdk_eks::error::SdkError<E, aws_sdk_eks::config::http::HttpResponse>,
    ) -> stack_engine::provider::ProviderError
    where
        E: aws_sdk_eks::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.error(what, action, error, HELP)
    }
}

/// How an EKS cluster or node group fails, apart from AWS refusing a call.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum EksError {
    /// An input of the cluster or one of its node groups is wrong.
    #[error("{what}: {problem}")]
    #[diagnostic(code(stack::eks::invalid))]
    Invalid {
        what: String,
        problem: String,
        #[help]
        help: Option<String>,
    },

    #[error("{what} disappeared while {during}")]
    #[diagnostic(
        code(stack::eks::disappeared),
        help("someone deleted it outside the stack; run again to create it anew")
    )]
    Disappeared { what: String, during: String },

    #[error("{what} failed: its status is {status}")]
    #[diagnostic(
        code(stack::eks::failed),
        help("{}look at its health issues in the AWS console, fix the cause, delete it and run again", issues.iter().map(|i| format!("{i}\n")).collect::<String>())
    )]
    Failed {
        what: String,
        status: String,
        /// What AWS reports as its health issues.
        issues: Vec<String>,
    },

    #[error("timed out waiting for {what} (last seen: {seen})")]
    #[diagnostic(
        code(stack::eks::timeout),
        help("raise the cluster's `timeout` (like `timeout: \"45m\"`), or look at it in the AWS console; the next run picks up where this one stopped")
    )]
    TimedOut { what: String, seen: String },

    #[error("cannot sign an EKS token for cluster `{cluster}`: {cause}")]
    #[diagnostic(code(stack::eks::token))]
    Token { cluster: String, cause: String },

    #[error("no AWS credentials to sign a token for EKS cluster `{cluster}`{}", cause.as_ref().map(|c| format!(": {c}")).unwrap_or_default())]
    #[diagnostic(
        code(stack::eks::credentials),
        help("set AWS credentials the standard way (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...)")
    )]
    NoCredentials {
        cluster: String,
        cause: Option<String>,
    },
}
