//! Guards against looking into what cannot be known yet. A script decides
//! what to declare before anything is applied, so measuring, searching,
//! comparing or taking apart a secret or an output known only after apply
//! is an error that names the value and says why. Outputs known at
//! evaluation time (a cluster's name) are looked into by value.
//!

use rhai::{Dynamic, Engine, ImmutableString, Map, NativeCallContext, INT};

use crate::convert::known_output;
use crate::fault::{Fault, RhaiResult};
use crate::session::Session;
use crate::token::{self, Piece};

/// The text of a string with its known outputs substituted, or a fault
/// naming the first secret or unknown output in it.
#[allow(clippy::result_large_err)] // an error path: a Fault is built once per failed evaluation
pub fn settle(session: &Session, s: &str) -> Result<String, Fault> {
    let mut out = String::new();
    for piece in token::pieces(s) {
        match piece {
            Piece::Text(t) if token::is_fragment(t) => {
                return Err(Fault::new(
                    "stack::script::secret_branch",
                    "cannot look into a value made from a secret or an output by a string function",
                )
                .label("the script looks into this value")
                .help("a string function took a secret or an output apart: pass the value on whole instead"));
            }
            Piece::Text(t) => out.push_str(t),
            Piece::Secret(i) => return Err(secret_fault(&secret_name(session, i))),
            Piece::Output(r) if crate::convert::sensitive_if_secret(r.clone(), session).secret => {
                return Err(secret_fault(&format!("the output `{r}`")))
            }
            Piece::Output(r) => match known_output(&r, session) {
                Some(v) => out.push_str(&v),
                None => {
                    return Err(Fault::new(
                        "stack::script::unknown_output",
                        format!("cannot look into the output `{r}`: it is only known after apply"),
                    )
                    .label("the script looks into this value")
                    .help("evaluation decides what to declare before anything is applied: pass the output into a declaration instead, or decide on a `param(...)`"))
                }
            },
        }
    }
    Ok(out)
}

/// How a secret is named in messages: the call that read it.
pub fn secret_name(session: &Session, index: usize) -> String {
    match session.secret(index) {
        Some(secret) => format!("secret(\"{}\")", secret.source),
        None => "a secret".to_string(),
    }
}

fn secret_fault(name: &str) -> Fault {
    Fault::new(
        "stack::script::secret_branch",
        format!("cannot look into {name}: it is a secret"),
    )
    .label("the script looks into this value")
    .help("a script may pass secrets into Kubernetes Secrets but never inspect them")
}

/// The fault for a character indexed out of a secret or an output: it is a
/// piece of a placeholder, and the placeholder does not say which one.
pub fn character_fault() -> Fault {
    Fault::new(
        "stack::script::secret_branch",
        "cannot look into a character taken out of a secret or an output",
    )
    .label("the script looks into this character")
    .help("indexing a secret or an output known only after apply (`s[0]`) gives no character of its value: pass the value on whole instead")
}

/// A character for a function that looks at it, or its fault at the call.
pub fn character(ctx: &NativeCallContext, c: char) -> RhaiResult<char> {
    if token::is_reserved(c) {
        return Err(character_fault().raise(ctx.call_position()));
    }
    Ok(c)
}

/// The text of `s` for a function that looks into it, or its fault at the call.
pub fn text(ctx: &NativeCallContext, session: &Session, s: &str) -> RhaiResult<String> {
    if !token::has_tokens(s) {
        return Ok(s.to_string());
    }
    settle(session, s).map_err(|f| f.raise(ctx.call_position()))
}

/// A string as Rhai's `debug` shows it, with tokens left whole so that a
/// map or list turned into text still carries its secrets and outputs.
fn debug_string(s: &str) -> String {
    let mut out = String::from("\"");
    for piece in token::pieces(s) {
        match piece {
            // A fragment of a token stays a fragment, not an escape of one.
            Piece::Text(t) => t.chars().for_each(|c| {
                if token::is_reserved(c) {
                    out.push(c)
                } else {
                    out.extend(c.escape_debug())
                }
            }),
            Piece::Output(r) => out.push_str(&token::output(&r)),
            Piece::Secret(i) => out.push_str(&token::secret(i)),
        }
    }
    out.push('"');
    out
}

fn parse_int(ctx: &NativeCallContext, s: &str, radix: INT) -> RhaiResult<INT> {
    let radix = u32::try_from(radix)
        .ok()
        .filter(|r| (2..=36).contains(r))
        .ok_or_else(|| {
            Fault::new(
                "stack::script::argument",
                format!("parse_int cannot read numbers in base {radix}"),
            )
            .label("here")
            .help("the base is between 2 and 36")
            .raise(ctx.call_position())
        })?;
    INT::from_str_radix(s.trim(), radix).map_err(|e| {
        Fault::new(
            "stack::script::argument",
            format!("`{s}` is not an integer: {e}"),
        )
        .label("parsed here")
        .raise(ctx.call_position())
    })
}

/// Calls `$m` once for each comparison operator with its test of an ordering.
macro_rules! for_each_comparison {
    ($m:ident) => {
        $m!("==", |o| o == Equal);
        $m!("!=", |o| o != Equal);
        $m!("<", |o| o == Less);
        $m!("<=", |o| o != Greater);
        $m!(">", |o| o == Greater);
        $m!(">=", |o| o != Less);
    };
}

pub fn register(engine: &mut Engine, session: &Session) {
    use std::cmp::Ordering::*;
    macro_rules! comparison {
        ($op:literal, $test:expr) => {{
            let s = session.clone();
            engine.register_fn(
                $op,
                move |ctx: NativeCallContext,
                      a: ImmutableString,
                      b: ImmutableString|
                      -> RhaiResult<bool> {
                    if !token::has_tokens(&a) && !token::has_tokens(&b) {
                        return Ok($test(a.cmp(&b)));
                    }
                    Ok($test(text(&ctx, &s, &a)?.cmp(&text(&ctx, &s, &b)?)))
                },
            );
        }};
    }
    // A character compares as the one-character string it is.
    macro_rules! char_comparison {
        ($op:literal, $test:expr) => {{
            let s = session.clone();
            engine.register_fn(
                $op,
                move |ctx: NativeCallContext, a: char, b: char| -> RhaiResult<bool> {
                    Ok($test(character(&ctx, a)?.cmp(&character(&ctx, b)?)))
                },
            );
            let s2 = s.clone();
            engine.register_fn(
                $op,
                move |ctx: NativeCallContext, a: char, b: ImmutableString| -> RhaiResult<bool> {
                    let a = character(&ctx, a)?.to_string();
                    Ok($test(a.as_str().cmp(text(&ctx, &s, &b)?.as_str())))
                },
            );
            engine.register_fn(
                $op,
                move |ctx: NativeCallContext, a: ImmutableString, b: char| -> RhaiResult<bool> {
                    let b = character(&ctx, b)?.to_string();
                    Ok($test(text(&ctx, &s2, &a)?.as_str().cmp(b.as_str())))
                },
            );
        }};
    }
    for_each_comparison!(comparison);
    for_each_comparison!(char_comparison);
    engine.register_fn(
        "to_int",
        |ctx: NativeCallContext, c: char| -> RhaiResult<INT> {
            Ok(INT::from(u32::from(character(&ctx, c)?)))
        },
    );
    macro_rules! char_extreme {
        ($name:literal, $pick:expr) => {
            engine.register_fn(
                $name,
                |ctx: NativeCallContext, a: char, b: char| -> RhaiResult<char> {
                    Ok($pick(character(&ctx, a)?, character(&ctx, b)?))
                },
            );
        };
    }
    char_extreme!("max", std::cmp::max);
    char_extreme!("min", std::cmp::min);

    // Functions that look into a string: each sees the settled text.
    macro_rules! inspect {
        ($name:literal, |$ctx:ident, $s:ident $(, $arg:ident: $ty:ty)*| -> $ret:ty $body:block) => {{
            let session = session.clone();
            engine.register_fn(
                $name,
                move |$ctx: NativeCallContext, $s: &mut ImmutableString $(, $arg: $ty)*| -> RhaiResult<$ret> {
                    let $s = text(&$ctx, &session, $s)?;
                    $body
                },
            );
        }};
    }
    inspect!("parse_int", |ctx, s| -> INT { parse_int(&ctx, &s, 10) });
    inspect!("parse_int", |ctx, s, radix: INT| -> INT {
        parse_int(&ctx, &s, radix)
    });
    inspect!("parse_float", |ctx, s| -> rhai::FLOAT {
        s.trim().parse().map_err(|e| {
            Fault::new(
                "stack::script::argument",
                format!("`{s}` is not a number: {e}"),
            )
            .label("parsed here")
            .raise(ctx.call_position())
        })
    });

    // A map key is a name: it must be known when the script runs.
    macro_rules! keyed {
        ($name:literal, |$map:ident, $key:ident $(, $arg:ident: $ty:ty)*| -> $ret:ty $body:block) => {{
            let session = session.clone();
            engine.register_fn(
                $name,
                move |ctx: NativeCallContext, $map: &mut Map, $key: ImmutableString $(, $arg: $ty)*| -> RhaiResult<$ret> {
                    let $key = text(&ctx, &session, &$key)?;
                    $body
                },
            );
        }};
    }
    keyed!("get", |map, key| -> Dynamic {
        Ok(map.get(key.as_str()).cloned().unwrap_or(Dynamic::UNIT))
    });
    keyed!("contains", |map, key| -> bool {
        Ok(map.contains_key(key.as_str()))
    });
    keyed!("remove", |map, key| -> Dynamic {
        Ok(map.remove(key.as_str()).unwrap_or(Dynamic::UNIT))
    });
    keyed!("set", |map, key, value: Dynamic| -> () {
        map.insert(key.into(), value);
        Ok(())
    });
    // `for c in s` walks the characters of the settled text.
    let s = session.clone();
    let mut strings = rhai::Module::new();
    strings.set_iter_result(std::any::TypeId::of::<ImmutableString>(), move |value| {
        let text = value.cast::<ImmutableString>();
        let settled = if token::has_tokens(&text) {
            settle(&s, &text)
        } else {
            Ok(text.to_string())
        };
        match settled {
            Ok(text) => Box::new(
                text.chars()
                    .map(|c| Ok(Dynamic::from(c)))
                    .collect::<Vec<_>>()
                    .into_iter(),
            ),
            Err(fault) => Box::new(std::iter::once(Err(fault
                .label("`for` looks into this value")
                .raise(rhai::Position::NONE)))),
        }
    });
    engine.register_global_module(strings.into());
    engine.register_fn("to_debug", |s: &mut ImmutableString| debug_string(s));
    engine.register_fn("debug", |s: &mut ImmutableString| debug_string(s));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_keeps_tokens_whole_and_escapes_the_rest() {
        let s = format!("a\"b{}", token::secret(0));
        assert_eq!(debug_string(&s), format!("\"a\\\"b{}\"", token::secret(0)));
    }
}
