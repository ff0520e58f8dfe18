//! How Helm charts fail to be found, fetched or rendered.

/// How the Helm provider fails.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum HelmError {
    /// The chart or version asked for is not there, or is not a version.
    #[error("{message}")]
    #[diagnostic(code(stack::helm::chart))]
    Chart {
        message: String,
        #[help]
        help: Option<String>,
    },

    /// The chart repository cannot be read, or holds something else than it says.
    #[error("{message}")]
    #[diagnostic(code(stack::helm::repository))]
    Repository {
        message: String,
        #[help]
        help: Option<String>,
    },

    /// `helm` or `git` is missing or failed.
    #[error("{message}")]
    #[diagnostic(code(stack::helm::tool))]
    Tool {
        message: String,
        #[help]
        help: Option<String>,
    },

    /// `helm template` rejected the chart or its values.
    #[error("{message}")]
    #[diagnostic(code(stack::helm::render))]
    Render {
        message: String,
        #[help]
        help: Option<String>,
    },
}
