//! `switch`, parsed and run by `stack` instead of Rhai. Rhai matches a
//! `switch` by hashing its value, so a secret or an output known only after
//! apply would silently fall to the default case; here the value is first
//! settled like every comparison (`functions::guards`): a secret or an
//! unknown output is an error that names it, and an output known when the
//! script runs (a cluster's name) is matched by its text.
//!
//! The syntax is Rhai's: `switch v { 1 | 2 => a, 3..5 => b, x if c => d,
//! _ => e }`. A case value is a literal (a string, an integer, possibly
//! negative, a float, `true` or `false`), an integer range, or any other
//! expression; cases after a block body need no comma.
//!
//! The parser records the shape of the statement in its state, one letter
//! per step, which the evaluator reads back next to the captured
//! expressions:
//! `s` the value · `;` a case begins · `v` a case value · `N` a negative
//! integer · `r`/`R` an exclusive/inclusive range whose end `e` follows ·
//! `C` a condition · `b` a body · `d` the default case.

use rhai::{
    Dynamic, Engine, EvalContext, Expression, ImmutableString, ParseError, ParseErrorType, Position,
};

use crate::functions::guards;
use crate::session::Session;
use crate::token;

type Step = Result<Option<ImmutableString>, ParseError>;

pub fn register(engine: &mut Engine, session: &Session) {
    let session = session.clone();
    engine.disable_symbol("switch");
    engine.register_custom_syntax_with_state_raw(
        "switch",
        next_step,
        false,
        move |ctx, inputs, state| run(ctx, &session, inputs, &state.to_string()),
    );
}

fn missing(token: &str) -> ParseError {
    ParseError(
        Box::new(ParseErrorType::MissingToken(
            token.into(),
            "in a `switch`".into(),
        )),
        Position::NONE,
    )
}

/// What the parser reads next, given the steps so far.
fn next_step(symbols: &[ImmutableString], look_ahead: &str, state: &mut Dynamic) -> Step {
    let mut shape = if state.is_unit() {
        String::new()
    } else {
        state.to_string()
    };
    let push = |s: &mut String, step: &str, next: &str| -> Step {
        s.push_str(step);
        Ok(Some(next.into()))
    };
    let phase = shape.chars().last();
    let step = match phase {
        None if symbols.len() == 1 => push(&mut shape, "s", "$expr$"),
        Some('s') => push(&mut shape, "{", "{"),
        Some('{' | ',' | 'b') => match look_ahead {
            "," if phase == Some('b') => push(&mut shape, ",", ","),
            "}" => push(&mut shape, "}", "}"),
            "_" => push(&mut shape, ";d", "_"),
            _ => {
                shape.push(';');
                case_value(&mut shape, look_ahead)
            }
        },
        Some('|') => case_value(&mut shape, look_ahead),
        Some('n') => push(&mut shape, "N", "$int$"),
        Some('r' | 'R') => push(&mut shape, "e", "$int$"),
        Some('v' | 'N' | 'e') => match look_ahead {
            ".." | "..=" if phase != Some('e') => {
                let range = if look_ahead == ".." { "r" } else { "R" };
                push(&mut shape, range, look_ahead)
            }
            "|" => push(&mut shape, "|", "|"),
            "if" => push(&mut shape, "c", "if"),
            "=>" => push(&mut shape, "=", "=>"),
            _ => Err(missing("=>")),
        },
        Some('c') => push(&mut shape, "C", "$expr$"),
        Some('C' | 'd') if look_ahead == "=>" => push(&mut shape, "=", "=>"),
        Some('C' | 'd') => Err(missing("=>")),
        Some('=') => push(&mut shape, "b", "$expr$"),
        Some('}') => Ok(None),
        _ => Err(missing("}")),
    };
    *state = Dynamic::from(shape);
    step
}

/// Reads a case value: literals one token at a time, so that `1 | 2`
/// stays two values rather than one bitwise or.
fn case_value(shape: &mut String, look_ahead: &str) -> Step {
    let (step, next) = if look_ahead == "-" {
        ("n", "-")
    } else if look_ahead.parse::<rhai::INT>().is_ok() {
        ("v", "$int$")
    } else if look_ahead.parse::<rhai::FLOAT>().is_ok() {
        ("v", "$float$")
    } else if look_ahead.starts_with('"') {
        ("v", "$string$")
    } else if look_ahead == "true" || look_ahead == "false" {
        ("v", "$bool$")
    } else {
        ("v", "$expr$")
    };
    shape.push_str(step);
    Ok(Some(next.into()))
}

/// How one case matches.
enum Pattern {
    Value(usize),
    Negative(usize),
    Range {
        start: Box<Pattern>,
        end: usize,
        inclusive: bool,
    },
}

/// One case as the shape describes it.
#[derive(Default)]
struct Case {
    patterns: Vec<Pattern>,
    condition: Option<usize>,
    body: Option<usize>,
    default: bool,
}

fn cases(shape: &str) -> Vec<Case> {
    let mut input = 1;
    let mut take = || {
        input += 1;
        input - 1
    };
    let mut out = Vec::new();
    for text in shape.split(';').skip(1) {
        let mut case = Case::default();
        let mut inclusive = false;
        for step in text.chars() {
            match step {
                'v' => case.patterns.push(Pattern::Value(take())),
                'N' => case.patterns.push(Pattern::Negative(take())),
                'r' | 'R' => inclusive = step == 'R',
                'e' => {
                    if let Some(start) = case.patterns.pop() {
                        case.patterns.push(Pattern::Range {
                            start: Box::new(start),
                            end: take(),
                            inclusive,
                        });
                    }
                }
                'C' => case.condition = Some(take()),
                'b' => case.body = Some(take()),
                'd' => case.default = true,
                _ => {}
            }
        }
        out.push(case);
    }
    out
}

fn run(
    ctx: &mut EvalContext,
    session: &Session,
    inputs: &[Expression],
    shape: &str,
) -> crate::fault::RhaiResult<Dynamic> {
    let value = ctx.eval_expression_tree(&inputs[0])?;
    let value = settled(session, value).map_err(|f| {
        f.label("`switch` decides on this value")
            .raise(inputs[0].position())
    })?;
    let mut default = None;
    for case in cases(shape) {
        let Some(body) = case.body else { continue };
        if case.default {
            default = Some(body);
            continue;
        }
        for pattern in &case.patterns {
            if !matches(ctx, inputs, &value, pattern)? {
                continue;
            }
            let chosen = match case.condition {
                Some(c) => {
                    let pos = inputs[c].position();
                    ctx.eval_expression_tree(&inputs[c])?
                        .as_bool()
                        .map_err(|t| {
                            crate::fault::Fault::new(
                                "stack::script::type",
                                format!("a `switch` condition must be true or false, not {t}"),
                            )
                            .raise(pos)
                        })?
                }
                None => true,
            };
            if chosen {
                return ctx.eval_expression_tree(&inputs[body]);
            }
            break;
        }
    }
    match default {
        Some(body) => ctx.eval_expression_tree(&inputs[body]),
        None => Ok(Dynamic::UNIT),
    }
}

/// The value to match: a string made from outputs becomes their text, a
/// secret or an unknown output is refused.
#[allow(clippy::result_large_err)] // an error path
fn settled(session: &Session, value: Dynamic) -> Result<Dynamic, crate::fault::Fault> {
    if value.as_char().is_ok_and(token::is_reserved) {
        return Err(guards::character_fault());
    }
    let Some(text) = value.read_lock::<ImmutableString>().map(|s| s.clone()) else {
        return Ok(value);
    };
    if !token::has_tokens(&text) {
        return Ok(value);
    }
    guards::settle(session, &text).map(Dynamic::from)
}

fn matches(
    ctx: &mut EvalContext,
    inputs: &[Expression],
    value: &Dynamic,
    pattern: &Pattern,
) -> Result<bool, Box<rhai::EvalAltResult>> {
    match pattern {
        Pattern::Range {
            start,
            end,
            inclusive,
        } => {
            let (Some(start), Ok(end), Ok(v)) = (
                integer(ctx, inputs, start)?,
                ctx.eval_expression_tree(&inputs[*end])?.as_int(),
                value.as_int(),
            ) else {
                return Ok(false);
            };
            Ok(if *inclusive {
                (start..=end).contains(&v)
            } else {
                (start..end).contains(&v)
            })
        }
        Pattern::Value(i) | Pattern::Negative(i) => {
            let mut case = ctx.eval_expression_tree(&inputs[*i])?;
            if matches!(pattern, Pattern::Negative(_)) {
                case = Dynamic::from(-case.as_int().unwrap_or_default());
            }
            if case.type_id() != value.type_id() {
                return Ok(false);
            }
            Ok(ctx
                .call_native_fn::<bool>("==", (value.clone(), case))
                .unwrap_or(false))
        }
    }
}

fn integer(
    ctx: &mut EvalContext,
    inputs: &[Expression],
    pattern: &Pattern,
) -> Result<Option<rhai::INT>, Box<rhai::EvalAltResult>> {
    Ok(match pattern {
        Pattern::Value(i) => ctx.eval_expression_tree(&inputs[*i])?.as_int().ok(),
        Pattern::Negative(i) => ctx
            .eval_expression_tree(&inputs[*i])?
            .as_int()
            .ok()
            .map(|v| -v),
        Pattern::Range { .. } => None,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::evaluator::Evaluator;

    fn eval(script: &str) -> Result<rhai::Dynamic, String> {
        let dir = tempfile::tempdir().unwrap();
        let mut evaluator = Evaluator::new("t", dir.path(), BTreeMap::new());
        evaluator
            .eval_text("t.rhai", None, script)
            .map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn matches_like_rhai() {
        let cases = [
            (r#"switch 2 { 1 | 2 => "a", _ => "b" }"#, "a"),
            (r#"switch 7 { 1 => "a", 5..8 => "r", _ => "b" }"#, "r"),
            (r#"switch 8 { 5..=8 => "r", _ => "b" }"#, "r"),
            (r#"switch 8 { 5..8 => "r", _ => "b" }"#, "b"),
            (r#"switch -3 { -3 => "n", _ => "b" }"#, "n"),
            (r#"switch "x" { "y" => "a", "x" => "b" }"#, "b"),
            (
                r#"let v = 4; switch v { 4 if v > 9 => "big", 4 if v < 9 => "four", _ => "d" }"#,
                "four",
            ),
            (
                r#"switch 4 { 4 if false => "no", 4 => "yes", _ => "d" }"#,
                "yes",
            ),
            (r#"switch 1.5 { 1.5 => "f", _ => "d" }"#, "f"),
            (r#"switch true { true => "t", false => "f" }"#, "t"),
            (r#"switch 1 { 1 => { "block" } 2 => "two" }"#, "block"),
            (r#"switch "1" { 1 => "int", _ => "string" }"#, "string"),
        ];
        for (script, expected) in cases {
            let got = eval(script).unwrap_or_else(|e| panic!("{script}: {e}"));
            assert_eq!(got.to_string(), expected, "{script}");
        }
        assert!(eval("switch 9 { 1 => 2 }").unwrap().is_unit());
        assert!(eval("switch 1 { 1 2 }").is_err());
    }

    #[test]
    fn a_statement_switch_needs_no_semicolon() {
        let got = eval("let a = 0; switch 1 { 1 => { a = 5; } } a").unwrap();
        assert_eq!(got.as_int().unwrap(), 5);
    }

    #[test]
    fn a_secret_cannot_be_switched_on() {
        std::env::set_var("STACK_SWITCH_TEST_SECRET", "x");
        let err = eval(
            r#"let s = secret("env:STACK_SWITCH_TEST_SECRET"); switch s { "x" => 1, _ => 2 }"#,
        )
        .unwrap_err();
        assert!(err.contains("secret_branch"), "{err}");
    }

    #[test]
    fn a_known_output_is_switched_on_by_its_text() {
        let got = eval(
            r#"let c = cluster("dev", #{ provider: "kind" }); switch c.name { "dev" => "yes", _ => "no" }"#,
        )
        .unwrap();
        assert_eq!(got.to_string(), "yes");
    }
}
