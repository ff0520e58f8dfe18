//! How a step fails for reasons of the run rather than of its provider.

use miette::Diagnostic;

use crate::resource::ResourceId;
use crate::value::OutputRef;

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum StepError {
    #[error("applied, but the state could not be saved: the next run applies it again")]
    #[diagnostic(code(stack::run::unsaved))]
    AppliedUnsaved,

    #[error(
        "deleted, but the state could not be saved: the next run finds it gone and forgets it"
    )]
    #[diagnostic(code(stack::run::unsaved))]
    DeletedUnsaved,

    #[error("`{resource}` needs `{output}`, which `{}` did not report", output.resource)]
    #[diagnostic(
        code(stack::run::unreported),
        help("apply `{}` again so that it reports the output: `stack run --target {}`", output.resource, output.resource)
    )]
    Unreported {
        resource: ResourceId,
        output: OutputRef,
    },

    #[error(
        "`{resource}` needs the sensitive output `{output}`, which its provider cannot read back"
    )]
    #[diagnostic(
        code(stack::run::unreadable_secret),
        help("re-create `{}` so that the output is produced in this run", output.resource)
    )]
    SecretNotReadable {
        resource: ResourceId,
        output: OutputRef,
    },
}
