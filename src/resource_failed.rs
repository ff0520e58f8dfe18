//! A resource that failed, or that a plan refuses, as a diagnostic at its
//! declaration: the provider's message and help, the script's line.

use miette::{Diagnostic, NamedSource, SourceSpan};
use stack_engine::provider::ProviderError;
use stack_engine::{Graph, ResourceId};

/// A resource the run could not apply (or a plan refuses to), pointing at
/// its declaration, with the provider's code when it has one. The code
/// is the provider's, so the derive cannot give it.
#[derive(Debug, thiserror::Error)]
#[error("`{id}` {}: {message}", if *refused { "refused" } else { "failed" })]
pub struct ResourceFailed {
    id: ResourceId,
    /// Refused by the plan before anything was tried, rather than failed.
    refused: bool,
    code: Option<String>,
    message: String,
    help: Option<String>,
    src: Option<NamedSource<std::sync::Arc<str>>>,
    span: Option<SourceSpan>,
}

impl Diagnostic for ResourceFailed {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        let fallback = if self.refused {
            "stack::plan::refused"
        } else {
            "stack::run::failed"
        };
        Some(Box::new(self.code.as_deref().unwrap_or(fallback)))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.src.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let span = self.span?;
        Some(Box::new(std::iter::once(
            miette::LabeledSpan::new_with_span(Some("declared here".into()), span),
        )))
    }
}

impl ResourceFailed {
    pub fn new(graph: &Graph, id: &ResourceId, error: &ProviderError) -> ResourceFailed {
        let declared = graph.get(id);
        ResourceFailed {
            id: id.clone(),
            refused: false,
            code: error.code(),
            message: error.message(),
            help: error.help(),
            src: declared.map(|r| graph.sources().named(r.span.source)),
            span: declared.map(|r| r.span.source_span()),
        }
    }

    /// What a plan refuses before anything is tried.
    pub fn refused(graph: &Graph, id: &ResourceId, error: &ProviderError) -> ResourceFailed {
        ResourceFailed {
            refused: true,
            ..ResourceFailed::new(graph, id, error)
        }
    }
}
