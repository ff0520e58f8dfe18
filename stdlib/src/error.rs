//! Script errors as diagnostics: Rhai's errors (and the faults bindings
//! raise) become one message with the file, the line, a label and a help
//! text, plus a note for each function call or import it came through.

use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};
use rhai::{EvalAltResult, LexError, ParseErrorType, Position};
use stack_engine::source::SpanNote;
use stack_engine::{suggest, Span};

use crate::fault::{CallerPlace, Fault};
use crate::functions::DOCS;
use crate::scan::{scan, Opener, Token};
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
    caller: Option<CallerPlace>,
}

impl Parts {
    fn new(code: &'static str, message: impl Into<String>, label: impl Into<String>) -> Parts {
        Parts {
            code,
            message: message.into(),
            label: label.into(),
            help: None,
            span: None,
            caller: None,
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
    let mut parts = describe(current, session, known_functions);
    let mut span = parts
        .span
        .take()
        .unwrap_or_else(|| session.span_at(Some(&source), pos));
    if let EvalAltResult::ErrorParsing(kind, _) = current {
        refine_parse_error(kind, session, &mut span, &mut parts);
    }
    // A module found a mistake in what its caller passed: point at the
    // caller's option, and keep where the module noticed it as a note.
    if let (Some(place), Some(&(outer, _))) = (parts.caller.take(), trace.first()) {
        let text = session.source_text(outer.source);
        let scan = session.source_scan(outer.source);
        let at = match place {
            CallerPlace::Call => outer,
            CallerPlace::Key { key, field } => {
                let found = crate::locate::option_key(&text, &scan, outer.offset, &key);
                if let Some(field) = field {
                    let path = found
                        .as_ref()
                        .and_then(|r| crate::locate::value_path(&text, r.end));
                    let meant = match path {
                        Some(path) => format!("did you mean `{path}.{field}`?"),
                        None => format!("did you mean its field `{field}`?"),
                    };
                    parts.help = Some(match parts.help.take() {
                        Some(before) => format!("{before}; {meant}"),
                        None => meant,
                    });
                }
                found
                    .map(|r| Span::new(outer.source, r.start, r.len()))
                    .unwrap_or(outer)
            }
        };
        trace[0] = (span, "noticed here".into());
        let last = trace.len() - 1;
        trace.swap(0, last);
        span = at;
    }
    // No placeholder reaches a person: whatever message carried one names
    // what it stands for instead.
    let readable = |text: String| crate::convert::readable(&text, session);
    parts.message = readable(parts.message);
    parts.label = readable(parts.label);
    parts.help = parts.help.map(readable);
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

fn describe(err: &EvalAltResult, session: &Session, known_functions: &[String]) -> Parts {
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
                    caller: fault.caller,
                };
            }
            Parts::new(
                "stack::script::thrown",
                format!(
                    "the script threw: {}",
                    crate::convert::readable(&value.to_string(), session)
                ),
                "thrown here",
            )
        }
        EvalAltResult::ErrorParsing(kind, _) => parse_error(kind),
        EvalAltResult::ErrorFunctionNotFound(signature, _) => {
            let (name, args) = split_signature(signature);
            let called = format!("{name}({})", args.join(", "));
            let short = name.rsplit("::").next().unwrap_or(&name).to_string();
            let mut parts = Parts::new(
                "stack::script::unknown_function",
                format!("unknown function `{name}`"),
                "not a known function",
            );
            if known_functions.contains(&short) {
                parts.message =
                    format!("`{short}` cannot be called with these arguments: {called}");
                parts.label = "wrong arguments".into();
                parts.help = Some(match DOCS.iter().find(|d| d.name == short) {
                    Some(doc) => {
                        let forms: Vec<&str> = doc
                            .signatures
                            .iter()
                            .map(|s| s.split(" -> ").next().unwrap_or(s))
                            .collect();
                        format!("`{short}` is called as {}", forms.join(" or "))
                    }
                    None => format!("`{short}` exists, but not for ({})", args.join(", ")),
                });
            } else if let Some(close) =
                suggest::closest(&short, known_functions.iter().map(String::as_str))
            {
                parts.help = Some(format!("did you mean `{close}`?"));
            }
            if parts.help.is_none() && name.contains("::") {
                let state = session.borrow();
                let main = state.main_source;
                let module_functions: Vec<String> = state
                    .declarations
                    .sources
                    .iter()
                    .filter(|(id, _)| Some(*id) != main)
                    .flat_map(|(_, source)| function_names(&source.text))
                    .collect();
                let module = name.rsplit_once("::").map_or("", |(m, _)| m);
                parts.help = match suggest::closest(&short, module_functions.iter().map(String::as_str)) {
                    Some(close) if close != short => Some(format!("did you mean `{module}::{close}`?")),
                    Some(_) => Some(format!("`{module}::{short}` exists, but takes other arguments: check its signature in the module")),
                    None => Some(format!("is `{module}` imported (`import \"...\" as {module};`), and does it export `{short}`?")),
                };
            }
            if args.iter().any(|a| a == "()") {
                parts.message =
                    format!("`{short}` cannot be called with these arguments: {called}");
                parts.label = "an argument is `()`".into();
                parts.help = Some("`()` means nothing: is a value read from a map key that is not set, or from a function that returns nothing?".into());
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
        EvalAltResult::ErrorTerminated(why, _)
            if why.clone().try_cast::<crate::engine::Stopped>()
                == Some(crate::engine::Stopped::OutOfMemory) =>
        {
            Parts::new(
                "stack::script::too_large",
                format!(
                    "the script used more than {} MiB of memory and was stopped",
                    crate::engine::limits::MAX_MEMORY_BYTES >> 20
                ),
                "still growing here",
            )
            .help("a stack script builds declarations, not large data: is a loop adding without end?")
        }
        EvalAltResult::ErrorTerminated(_, _) => Parts::new(
            "stack::script::too_long",
            format!(
                "the script ran for more than {} seconds and was stopped",
                crate::engine::limits::MAX_EVAL_TIME.as_secs()
            ),
            "still running here",
        )
        .help("a stack script should finish in well under a second: is a loop working on very large values?"),
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
    if let ParseErrorType::VariableUndefined(name) = kind {
        return Parts::new(
            "stack::script::unknown_variable",
            format!("variable `{name}` is not defined"),
            "not defined",
        )
        .help("declare it with `let` before using it");
    }
    let message = lowercase_first(&kind.to_string());
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
        ParseErrorType::BadInput(LexError::UnterminatedString) => {
            Some("close the string with the quote it starts with; a string in `\"` ends on its line, one in backticks may span lines".into())
        }
        ParseErrorType::BadInput(LexError::ImproperSymbol(symbol, _))
            if symbol == crate::comments::OPENER =>
        {
            Some("close it with `*/`: everything after it is read as part of the comment".into())
        }
        ParseErrorType::BadInput(LexError::ImproperSymbol(symbol, _))
            if symbol == crate::comments::INTERPOLATION =>
        {
            Some("close it with `}`, then the string with its backtick".into())
        }
        ParseErrorType::ExprTooDeep => Some(
            "the expression nests too deeply: build the inner maps or lists in `let` variables first".into(),
        ),
        _ => None,
    };
    parts
}

/// "Open string" → "open string", leaving "`{`" or "JSON" alone.
fn lowercase_first(message: &str) -> String {
    let mut chars = message.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if first.is_uppercase() && second.is_lowercase() => first
            .to_lowercase()
            .chain(message[first.len_utf8()..].chars())
            .collect(),
        _ => message.to_string(),
    }
}

/// Gives a parse error a better place or help once the source is known: an
/// undefined variable gets a "did you mean", and a missing closing bracket
/// at the end of the script points at the bracket that is never closed.
fn refine_parse_error(
    kind: &ParseErrorType,
    session: &Session,
    span: &mut Span,
    parts: &mut Parts,
) {
    let text = session.source_text(span.source);
    match kind {
        ParseErrorType::VariableUndefined(name) => {
            let declared = declared_names(&text);
            if let Some(close) = suggest::closest(name, declared.iter().map(String::as_str)) {
                parts.help = Some(format!("did you mean `{close}`?"));
            }
        }
        ParseErrorType::MissingToken(token, _)
            if token == ";"
                && text[..span.offset.min(text.len())].trim_end().len() < span.offset =>
        {
            // Rhai stops at the next statement: point at the end of the one
            // that lacks its `;` when it ended on an earlier line.
            let before = text[..span.offset].trim_end();
            let gap = &text[before.len()..span.offset];
            if let Some(last) = before.chars().next_back().filter(|_| gap.contains('\n')) {
                *span = Span::new(span.source, before.len() - last.len_utf8(), last.len_utf8());
                parts.label = "the statement ends here".into();
                parts.help = Some("add `;` after it".into());
            }
        }
        ParseErrorType::MissingToken(_, _) | ParseErrorType::UnexpectedEOF
            if span.offset >= text.trim_end().len() =>
        {
            if let Some((offset, open)) = unclosed(&text) {
                let close = match open {
                    '(' => ')',
                    '[' => ']',
                    _ => '}',
                };
                *span = Span::new(span.source, offset, open.len_utf8());
                parts.message = format!("syntax error: `{open}` is never closed");
                parts.label = format!("this `{open}` has no matching `{close}`");
                parts.help = Some(format!(
                    "the script ends before the `{close}` that closes it: add it where the block ends"
                ));
            }
        }
        _ => {}
    }
}

/// The innermost opening bracket left open at the end of `text`.
fn unclosed(text: &str) -> Option<(usize, char)> {
    scan(text).open.iter().rev().find_map(|o| match o.opener {
        Opener::Bracket(c) => Some((o.offset, c)),
        _ => None,
    })
}

/// Names a script declares: `let`, `const`, `for` variables, function
/// parameters and import aliases.
fn declared_names(text: &str) -> Vec<String> {
    let found = scan(text);
    let tokens: Vec<&str> = found
        .tokens
        .iter()
        .filter_map(|t| match &t.token {
            Token::Ident(r) => Some(&text[r.clone()]),
            Token::Punct(_, at) => text
                .get(*at..)
                .and_then(|rest| rest.chars().next().map(|c| &rest[..c.len_utf8()])),
            Token::Str(..) => None,
        })
        .collect();
    let is_ident = |t: &str| {
        t.chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
    };
    let mut names = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        match tokens[i] {
            "let" | "const" | "as" => {
                if let Some(t) = tokens.get(i + 1).filter(|t| is_ident(t)) {
                    names.push(t.to_string());
                }
            }
            "for" => {
                for t in tokens[i + 1..].iter().take_while(|t| **t != "in") {
                    if is_ident(t) {
                        names.push(t.to_string());
                    }
                }
            }
            "fn" => {
                for t in tokens[i + 2..].iter().take_while(|t| **t != "{") {
                    if is_ident(t) {
                        names.push(t.to_string());
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    names.sort();
    names.dedup();
    names
}

/// Names of the public functions a module's text defines.
fn function_names(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.trim_start().strip_prefix("fn "))
        .filter_map(|rest| rest.split('(').next())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .collect()
}

/// `name (&str | ImmutableString | String, Handle)` as the name and the
/// argument types in the words the reference uses.
fn split_signature(signature: &str) -> (String, Vec<String>) {
    let Some((name, rest)) = signature.split_once(" (") else {
        return (signature.trim().to_string(), Vec::new());
    };
    let inner = rest.strip_suffix(')').unwrap_or(rest);
    let mut args = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in inner.chars() {
        match c {
            '(' | '<' => depth += 1,
            ')' | '>' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                args.push(type_words(current.trim()));
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        args.push(type_words(current.trim()));
    }
    (name.trim().to_string(), args)
}

fn type_words(ty: &str) -> String {
    if ty.contains("ImmutableString") || ty == "&str" || ty == "String" {
        return "string".into();
    }
    match ty {
        "i64" | "INT" => "integer".into(),
        "f64" | "f32" | "FLOAT" => "float".into(),
        "bool" => "bool".into(),
        "char" => "char".into(),
        "()" => "()".into(),
        "Handle" => "handle".into(),
        "map" | "Map" => "map".into(),
        "array" | "Array" => "list".into(),
        other => other.to_string(),
    }
}

/// The position of a Rhai error, for callers that need just that.
pub fn position(err: &EvalAltResult) -> Position {
    err.position()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_read_in_reference_words() {
        let (name, args) = split_signature("namespace (&str | ImmutableString | String, Handle)");
        assert_eq!(name, "namespace");
        assert_eq!(args, ["string", "handle"]);
        let (name, args) = split_signature("teams::install (i64, map, ())");
        assert_eq!(name, "teams::install");
        assert_eq!(args, ["integer", "map", "()"]);
    }

    #[test]
    fn finds_the_bracket_left_open() {
        let text = "let a = #{ x: \"{\" }; // {\nfor t in [1] {\n    f(t);\n";
        assert_eq!(unclosed(text), text.find("] {").map(|i| (i + 2, '{')));
        assert_eq!(unclosed("f(1); /* ( */ g(2);"), None);
    }

    #[test]
    fn names_a_script_declares() {
        let text = "import \"x\" as lib;\nconst limit = 3;\nfn install(cluster, opts) { let name = \"let fake\"; }\nfor (team, i) in [] {}\n";
        assert_eq!(
            declared_names(text),
            ["cluster", "i", "lib", "limit", "name", "opts", "team"]
        );
    }
}
