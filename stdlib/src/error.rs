//! Script errors as diagnostics: Rhai's errors (and the faults bindings
//! raise) become one message with the file, the line, a label and a help
//! text, plus a note for each function call or import it came through.

use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};
use rhai::{EvalAltResult, ParseErrorType, Position};
use stack_engine::source::SpanNote;
use stack_engine::{suggest, Span};

use crate::fault::Fault;
use crate::session::Session;

/// An error in a stack script or a module it imports.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ScriptError {
    pub code: &'static str,
    pub message: String,
    pub label: String,
    pub help: Option<String>,
    pub src: NamedSource<Arc<str>>,
    pub span: miette::SourceSpan,
    /// Where the error came through: calls and imports, innermost first.
    pub trace: Vec<SpanNote>,
}

impl Diagnostic for ScriptError {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.src)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            Some(self.label.clone()),
            self.span,
        ))))
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.trace.is_empty() {
            return None;
        }
        Some(Box::new(self.trace.iter().map(|n| n as &dyn Diagnostic)))
    }
}

/// Everything known about an error before it gets a place.
struct Parts {
    code: &'static str,
    message: String,
    label: String,
    help: Option<String>,
    span: Option<Span>,
}

impl Parts {
    fn new(code: &'static str, message: impl Into<String>, label: impl Into<String>) -> Parts {
        Parts {
            code,
            message: message.into(),
            label: label.into(),
            help: None,
            span: None,
        }
    }
    fn help(mut self, help: impl Into<String>) -> Parts {
        self.help = Some(help.into());
        self
    }
}

/// Converts a Rhai error raised while evaluating `main` (a source name).
pub fn from_rhai(
    err: &EvalAltResult,
    session: &Session,
    main: &str,
    known_functions: &[String],
) -> ScriptError {
    let mut source = main.to_string();
    let mut trace: Vec<(Span, String)> = Vec::new();
    let mut current = err;
    loop {
        match current {
            EvalAltResult::ErrorInFunctionCall(name, fn_source, inner, pos) => {
                trace.push((
                    session.span_at(Some(&source), *pos),
                    format!("in `{name}`, called here"),
                ));
                if !fn_source.is_empty() {
                    source = fn_source.clone();
                }
                current = inner;
            }
            EvalAltResult::ErrorInModule(module, inner, pos) => {
                trace.push((
                    session.span_at(Some(&source), *pos),
                    format!("while importing `{module}`"),
                ));
                if session.borrow().declarations.sources.find(module).is_some() {
                    source = module.clone();
                }
                current = inner;
            }
            _ => break,
        }
    }
    let pos = current.position();
    let mut parts = describe(current, known_functions);
    let span = parts
        .span
        .take()
        .unwrap_or_else(|| session.span_at(Some(&source), pos));
    let state = session.borrow();
    let sources = &state.declarations.sources;
    let trace = trace
        .into_iter()
        .rev()
        .map(|(span, message)| SpanNote {
            message,
            src: sources.named(span.source),
            labels: vec![LabeledSpan::new_with_span(
                Some("here".into()),
                span.source_span(),
            )],
        })
        .collect();
    ScriptError {
        code: parts.code,
        message: parts.message,
        label: parts.label,
        help: parts.help,
        src: sources.named(span.source),
        span: span.source_span(),
        trace,
    }
}

/// Rhai's message without its trailing `(line 1, position 2)`.
fn plain(err: &EvalAltResult) -> String {
    let text = err.to_string();
    match text.rfind(" (line ") {
        Some(i) if text.ends_with(')') => text[..i].to_string(),
        _ => text,
    }
}

fn describe(err: &EvalAltResult, known_functions: &[String]) -> Parts {
    match err {
        EvalAltResult::ErrorRuntime(value, _) => {
            if let Some(fault) = value.read_lock::<Fault>() {
                let fault: Fault = fault.clone();
                return Parts {
                    code: fault.code,
                    label: fault.label.clone().unwrap_or_else(|| "here".into()),
                    message: fault.message,
                    help: fault.help,
                    span: fault.span,
                };
            }
            Parts::new(
                "stack::script::thrown",
                format!("the script threw: {value}"),
                "thrown here",
            )
        }
        EvalAltResult::ErrorParsing(kind, _) => parse_error(kind),
        EvalAltResult::ErrorFunctionNotFound(signature, _) => {
            let name = signature
                .split([' ', '('])
                .next()
                .unwrap_or(signature)
                .to_string();
            let name = name.rsplit("::").next().unwrap_or(&name).to_string();
            let mut parts = Parts::new(
                "stack::script::unknown_function",
                format!("unknown function: {signature}"),
                "not a known function",
            );
            if known_functions.iter().any(|f| *f == name) {
                parts.message =
                    format!("`{name}` cannot be called with these arguments: {signature}");
                parts.label = "wrong arguments".into();
                parts.help = Some("see `docs/reference.md` for its signatures".into());
            } else if let Some(close) =
                suggest::closest(&name, known_functions.iter().map(String::as_str))
            {
                parts.help = Some(format!("did you mean `{close}`?"));
            }
            parts
        }
        EvalAltResult::ErrorVariableNotFound(name, _) => Parts::new(
            "stack::script::unknown_variable",
            format!("variable `{name}` is not defined"),
            "not defined",
        )
        .help("declare it with `let` before using it"),
        EvalAltResult::ErrorModuleNotFound(path, _) => Parts::new(
            "stack::module::not_found",
            format!("module `{path}` not found"),
            "imported here",
        ),
        EvalAltResult::ErrorTooManyOperations(_) => Parts::new(
            "stack::script::too_long",
            "the script ran too long and was stopped",
            "still running here",
        )
        .help(
            "a stack script should finish in well under a second: is there a loop that never ends?",
        ),
        EvalAltResult::ErrorStackOverflow(_) => Parts::new(
            "stack::script::recursion",
            "functions call each other too deeply",
            "too deep here",
        )
        .help("is there a function that calls itself without end?"),
        EvalAltResult::ErrorDataTooLarge(what, _) => Parts::new(
            "stack::script::too_large",
            format!("{what} grew past the limit"),
            "grew too large here",
        )
        .help("a stack script builds declarations, not large data: is a loop adding without end?"),
        EvalAltResult::ErrorMismatchDataType(expected, actual, _) => Parts::new(
            "stack::script::type",
            format!("expected {expected}, got {actual}"),
            "wrong type",
        ),
        EvalAltResult::ErrorMismatchOutputType(expected, actual, _) => Parts::new(
            "stack::script::type",
            format!("expected {expected}, got {actual}"),
            "wrong type",
        ),
        EvalAltResult::ErrorPropertyNotFound(name, _) => Parts::new(
            "stack::script::unknown_property",
            format!("no property `{name}`"),
            "unknown property",
        ),
        EvalAltResult::ErrorIndexingType(ty, _) => Parts::new(
            "stack::script::index",
            format!("a value of type {ty} cannot be indexed this way"),
            "indexed here",
        ),
        EvalAltResult::ErrorArrayBounds(len, index, _) => Parts::new(
            "stack::script::index",
            format!("index {index} is out of bounds for a list of {len}"),
            "indexed here",
        ),
        EvalAltResult::ErrorDotExpr(message, _) => {
            Parts::new("stack::script::property", plain(err), "here").help(message.to_string())
        }
        other => Parts::new("stack::script::error", plain(other), "here"),
    }
}

fn parse_error(kind: &ParseErrorType) -> Parts {
    let message = kind.to_string();
    let mut parts = Parts::new(
        "stack::script::syntax",
        format!("syntax error: {message}"),
        "here",
    );
    parts.help = match kind {
        ParseErrorType::MissingToken(token, _) => Some(format!("add `{token}`")),
        ParseErrorType::UnexpectedEOF => {
            Some("the script ends in the middle of something: is a `}` or `)` missing?".into())
        }
        ParseErrorType::VariableUndefined(_) => {
            Some("declare it with `let` before using it".into())
        }
        _ => None,
    };
    parts
}

/// The position of a Rhai error, for callers that need just that.
pub fn position(err: &EvalAltResult) -> Position {
    err.position()
}
