//! Guards against looking into what cannot be known yet. A script decides
//! what to declare before anything is applied, so measuring, searching,
//! comparing or taking apart a secret or an output known only after apply
//! is an error that names the value and says why. Outputs known at
//! evaluation time (a cluster's name) are looked into by value.
//!

use rhai::{Array, Blob, Dynamic, Engine, ImmutableString, Map, NativeCallContext, INT};

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
            Piece::Text(t) if t.contains(token::OPEN) || t.contains(token::CLOSE) => {
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

/// The text of `s` for a function that looks into it, or its fault at the call.
pub fn text(ctx: &NativeCallContext, session: &Session, s: &str) -> RhaiResult<String> {
    if !token::has_tokens(s) && !s.contains(token::CLOSE) {
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
            Piece::Text(t) => out.extend(t.chars().flat_map(char::escape_debug)),
            Piece::Output(r) => out.push_str(&token::output(&r)),
            Piece::Secret(i) => out.push_str(&token::secret(i)),
        }
    }
    out.push('"');
    out
}

/// Rhai's index of a character in a string, counted from the end when negative.
fn char_at(s: &str, index: INT) -> Dynamic {
    let count = s.chars().count() as INT;
    let index = if index < 0 { count + index } else { index };
    match usize::try_from(index) {
        Ok(i) => s.chars().nth(i).map_or(Dynamic::UNIT, Dynamic::from),
        Err(_) => Dynamic::UNIT,
    }
}

fn index_of(s: &str, sub: &str) -> INT {
    s.find(sub)
        .map_or(-1, |byte| s[..byte].chars().count() as INT)
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
    comparison!("==", |o| o == Equal);
    comparison!("!=", |o| o != Equal);
    comparison!("<", |o| o == Less);
    comparison!("<=", |o| o != Greater);
    comparison!(">", |o| o == Greater);
    comparison!(">=", |o| o != Less);

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
    macro_rules! inspect_with {
        ($name:literal, |$s:ident, $arg:ident| -> $ret:ty $body:block) => {{
            let session = session.clone();
            engine.register_fn(
                $name,
                move |ctx: NativeCallContext,
                      $s: &mut ImmutableString,
                      $arg: ImmutableString|
                      -> RhaiResult<$ret> {
                    let $s = text(&ctx, &session, $s)?;
                    let $arg = text(&ctx, &session, &$arg)?;
                    $body
                },
            );
        }};
    }
    inspect_with!("contains", |s, arg| -> bool {
        Ok(s.contains(arg.as_str()))
    });
    inspect_with!("starts_with", |s, arg| -> bool {
        Ok(s.starts_with(arg.as_str()))
    });
    inspect_with!("ends_with", |s, arg| -> bool {
        Ok(s.ends_with(arg.as_str()))
    });
    inspect_with!("index_of", |s, arg| -> INT { Ok(index_of(&s, &arg)) });
    inspect!("contains", |ctx, s, c: char| -> bool { Ok(s.contains(c)) });
    inspect!("index_of", |ctx, s, c: char| -> INT {
        Ok(index_of(&s, c.encode_utf8(&mut [0; 4])))
    });
    inspect!("is_empty", |ctx, s| -> bool { Ok(s.is_empty()) });
    inspect!("len", |ctx, s| -> INT { Ok(s.chars().count() as INT) });
    inspect!("bytes", |ctx, s| -> INT { Ok(s.len() as INT) });
    inspect!("to_blob", |ctx, s| -> Blob { Ok(s.into_bytes()) });
    inspect!("to_chars", |ctx, s| -> Array {
        Ok(s.chars().map(Dynamic::from).collect())
    });
    inspect!("chars", |ctx, s| -> Array {
        Ok(s.chars().map(Dynamic::from).collect())
    });
    inspect!("get", |ctx, s, index: INT| -> Dynamic {
        Ok(char_at(&s, index))
    });
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
        let settled = if token::has_tokens(&text) || text.contains(token::CLOSE) {
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

    #[test]
    fn characters_are_counted_like_rhai_does() {
        assert_eq!(char_at("héllo", 1).cast::<char>(), 'é');
        assert_eq!(char_at("héllo", -1).cast::<char>(), 'o');
        assert!(char_at("héllo", 9).is_unit());
        assert_eq!(index_of("héllo", "l"), 2);
        assert_eq!(index_of("héllo", "z"), -1);
    }
}
