//! The line editor's helper: Tab completion, hints, and the validator that
//! keeps an input open while a bracket is. It reads the session's names
//! from a shared [`Vocabulary`] that the session refreshes after each input.

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::{Hint, Hinter};
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

use crate::complete::{self, Completion};
use crate::input;
use crate::vocabulary::Vocabulary;

#[derive(Helper)]
pub struct ReplHelper {
    vocabulary: Rc<RefCell<Vocabulary>>,
    files: FilenameCompleter,
    /// Hints are dimmed text; without colour they would look typed, so they
    /// are only offered with colour.
    color: bool,
}

impl ReplHelper {
    pub fn new(vocabulary: Rc<RefCell<Vocabulary>>, color: bool) -> ReplHelper {
        ReplHelper {
            vocabulary,
            files: FilenameCompleter::new(),
            color,
        }
    }
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        match complete::complete(line, pos, &self.vocabulary.borrow()) {
            Completion::Words { start, candidates } => Ok((
                start,
                candidates
                    .into_iter()
                    .map(|c| Pair {
                        display: c.display,
                        replacement: c.replacement,
                    })
                    .collect(),
            )),
            Completion::Path { start } => {
                let (at, found) = self.files.complete(&line[start..], pos - start, ctx)?;
                Ok((start + at, found))
            }
        }
    }
}

/// A hint: the rest of the only completion (Right arrow accepts it), or the
/// parameters of the function just opened (shown only).
pub struct ReplHint {
    text: String,
    accept: bool,
}

impl Hint for ReplHint {
    fn display(&self) -> &str {
        &self.text
    }

    fn completion(&self) -> Option<&str> {
        self.accept.then_some(self.text.as_str())
    }
}

impl Hinter for ReplHelper {
    type Hint = ReplHint;

    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<ReplHint> {
        if !self.color || pos < line.len() || line.is_empty() {
            return None;
        }
        if let Some(params) = signature_hint(line) {
            return Some(ReplHint {
                text: params,
                accept: false,
            });
        }
        if input::is_command(line) {
            return None;
        }
        let Completion::Words { start, candidates } =
            complete::complete(line, pos, &self.vocabulary.borrow())
        else {
            return None;
        };
        match candidates.as_slice() {
            [only] if pos > start => {
                let typed = &line[start..pos];
                let rest = only.replacement.strip_prefix(typed)?;
                (!rest.is_empty()).then(|| ReplHint {
                    text: rest.to_string(),
                    accept: true,
                })
            }
            _ => None,
        }
    }
}

/// After `name(` of a standard-library function: its parameters.
fn signature_hint(line: &str) -> Option<String> {
    let before = line.strip_suffix('(')?;
    let name_start = before
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let name = &before[name_start..];
    let doc = stack_stdlib::functions::DOCS
        .iter()
        .find(|d| d.name == name)?;
    let signature = doc.signatures.first()?;
    let params = signature.split_once('(')?.1;
    Some(params.to_string())
}

impl Highlighter for ReplHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.color {
            Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
        } else {
            Cow::Borrowed(hint)
        }
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        false
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        Ok(if input::is_complete(ctx.input()) {
            ValidationResult::Valid(None)
        } else {
            ValidationResult::Incomplete
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_parameters_of_standard_functions() {
        assert_eq!(
            signature_hint("let a = helm_app(").as_deref(),
            Some("cluster: cluster handle, name: string, opts: map) -> helm_app handle")
        );
        assert_eq!(signature_hint("let a = helm_app(c"), None);
        assert_eq!(signature_hint("unknown("), None);
    }
}
