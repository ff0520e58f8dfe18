//! A failure raised by a binding. It travels through Rhai as the value of a
//! runtime error and becomes a diagnostic in `error.rs`.

use rhai::{Dynamic, EvalAltResult, Position};
use stack_engine::Span;

/// What went wrong, where, and what to do about it.
#[derive(Debug, Clone)]
pub struct Fault {
    pub code: &'static str,
    pub message: String,
    /// Text under the span; defaults to a short restatement.
    pub label: Option<String>,
    pub help: Option<String>,
    /// A precise place (an option key); otherwise the call's position.
    pub span: Option<Span>,
    /// Where in the outermost call of the trace to point: for mistakes a
    /// module detects in what its caller passed.
    pub caller: Option<CallerPlace>,
}

/// A place in the caller's call, for a mistake a module found there.
#[derive(Debug, Clone, PartialEq)]
pub enum CallerPlace {
    /// The call itself (a required option left out).
    Call,
    /// An option key; `field` names a field of the value given that the
    /// caller most likely meant (`edge.ingress` for `edge`).
    Key { key: String, field: Option<String> },
}

impl Fault {
    pub fn new(code: &'static str, message: impl Into<String>) -> Fault {
        Fault {
            code,
            message: message.into(),
            label: None,
            help: None,
            span: None,
            caller: None,
        }
    }

    pub fn label(mut self, label: impl Into<String>) -> Fault {
        self.label = Some(label.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Fault {
        self.help = Some(help.into());
        self
    }

    pub fn help_opt(mut self, help: Option<String>) -> Fault {
        self.help = help.or(self.help);
        self
    }

    /// Points the diagnostic at `key` in the caller's options map.
    pub fn at_caller_key(self, key: impl Into<String>) -> Fault {
        self.at_caller(CallerPlace::Key {
            key: key.into(),
            field: None,
        })
    }

    /// Points the diagnostic at a place in the caller's call.
    pub fn at_caller(mut self, place: CallerPlace) -> Fault {
        self.caller = Some(place);
        self
    }

    pub fn at(mut self, span: Span) -> Fault {
        self.span = Some(span);
        self
    }

    /// Wraps the fault as a Rhai error at `pos`.
    pub fn raise(self, pos: Position) -> Box<EvalAltResult> {
        EvalAltResult::ErrorRuntime(Dynamic::from(self), pos).into()
    }
}

/// Result of a binding.
pub type RhaiResult<T> = Result<T, Box<EvalAltResult>>;
