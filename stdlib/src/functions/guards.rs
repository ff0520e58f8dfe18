//! Guards against deciding on what cannot be known yet. A script decides
//! what to declare before anything is applied, so comparing an output that
//! is known only after apply (or a secret) is an error that says why.
//! Outputs known at evaluation time (a cluster's name) compare by value.

use rhai::{Engine, ImmutableString, NativeCallContext};

use crate::convert::known_output;
use crate::fault::{Fault, RhaiResult};
use crate::session::Session;
use crate::token::{self, Piece};

/// The text of a string with its known outputs substituted, or a fault.
#[allow(clippy::result_large_err)] // an error path: a Fault is built once per failed evaluation
pub fn settle(session: &Session, s: &str) -> Result<String, Fault> {
    let mut out = String::new();
    for piece in token::pieces(s) {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Secret(_) => return Err(secret_fault()),
            Piece::Output(r) if r.secret => return Err(secret_fault()),
            Piece::Output(r)
                if session
                    .resource(&r.resource)
                    .and_then(|res| res.known_outputs.get(&r.output).map(stack_engine::Value::is_sensitive))
                    .unwrap_or(false) =>
            {
                return Err(secret_fault())
            }
            Piece::Output(r) => match known_output(&r, session) {
                Some(v) => out.push_str(&v),
                None => {
                    return Err(Fault::new(
                        "stack::script::unknown_output",
                        format!("cannot decide on `{r}`: it is only known after apply"),
                    )
                    .label("the script branches on this value")
                    .help("evaluation decides what to declare before anything is applied: pass the output into a declaration instead, or decide on a `param(...)`"))
                }
            },
        }
    }
    Ok(out)
}

fn secret_fault() -> Fault {
    Fault::new(
        "stack::script::secret_branch",
        "cannot decide on a secret value",
    )
    .label("the script branches on a secret")
    .help("a script may pass secrets into Kubernetes Secrets but never inspect them")
}

fn compare(
    ctx: &NativeCallContext,
    session: &Session,
    a: &str,
    b: &str,
) -> RhaiResult<std::cmp::Ordering> {
    if !token::has_tokens(a) && !token::has_tokens(b) {
        return Ok(a.cmp(b));
    }
    let a = settle(session, a).map_err(|f| f.raise(ctx.call_position()))?;
    let b = settle(session, b).map_err(|f| f.raise(ctx.call_position()))?;
    Ok(a.cmp(&b))
}

fn text(ctx: &NativeCallContext, session: &Session, s: &str) -> RhaiResult<String> {
    if !token::has_tokens(s) {
        return Ok(s.to_string());
    }
    settle(session, s).map_err(|f| f.raise(ctx.call_position()))
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
                      -> RhaiResult<bool> { compare(&ctx, &s, &a, &b).map($test) },
            );
        }};
    }
    comparison!("==", |o| o == Equal);
    comparison!("!=", |o| o != Equal);
    comparison!("<", |o| o == Less);
    comparison!("<=", |o| o != Greater);
    comparison!(">", |o| o == Greater);
    comparison!(">=", |o| o != Less);
    macro_rules! inspect {
        ($name:literal, |$s:ident, $arg:ident| $body:expr) => {{
            let session = session.clone();
            engine.register_fn(
                $name,
                move |ctx: NativeCallContext,
                      $s: &mut ImmutableString,
                      $arg: ImmutableString|
                      -> RhaiResult<bool> {
                    let $s = text(&ctx, &session, $s)?;
                    let $arg = text(&ctx, &session, &$arg)?;
                    Ok($body)
                },
            );
        }};
    }
    inspect!("contains", |s, arg| s.contains(arg.as_str()));
    inspect!("starts_with", |s, arg| s.starts_with(arg.as_str()));
    inspect!("ends_with", |s, arg| s.ends_with(arg.as_str()));
    let s = session.clone();
    engine.register_fn(
        "is_empty",
        move |ctx: NativeCallContext, v: &mut ImmutableString| -> RhaiResult<bool> {
            Ok(text(&ctx, &s, v)?.is_empty())
        },
    );
}
