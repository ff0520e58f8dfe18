//! Rhai's string functions, run on settled text. A string may carry
//! placeholders for secrets and outputs known only after apply; measuring,
//! searching, cutting or rewriting one would act on the placeholder rather
//! than on the value, and silently give a wrong result. So every string
//! function is replaced by one that settles its arguments first (a known
//! output becomes its text, a secret or an unknown output is an error
//! naming it) and then runs Rhai's own function on plain text, in an engine
//! of its own: the behaviour is Rhai's, not a copy of it.
//!
//! Concatenation and interpolation are not here: they carry placeholders on
//! whole, which is how a secret reaches a Secret.

use std::rc::Rc;

use rhai::{Dynamic, Engine, EvalAltResult, ImmutableString, NativeCallContext, Scope, AST, INT};

type ExclusiveRange = std::ops::Range<INT>;
type InclusiveRange = std::ops::RangeInclusive<INT>;

use super::guards::{character, text};
use crate::engine::limits;
use crate::fault::RhaiResult;
use crate::session::Session;

/// How a function's result comes back from the plain engine.
#[derive(Clone, Copy)]
enum Returns {
    /// The function's own result.
    Result,
    /// The function changes the string in place and returns nothing.
    Changed,
    /// The function changes the string in place and returns a value (`pop`).
    ChangedAndResult,
}

/// Calls `$m!(returns, "name", wrapper, (arg: Type, ...))` for every string
/// function of Rhai that looks into its string.
macro_rules! string_functions {
    ($m:ident) => {
        $m!(Result, "len", len, ());
        $m!(Result, "bytes", bytes, ());
        $m!(Result, "is_empty", is_empty, ());
        $m!(Result, "to_blob", to_blob, ());
        $m!(Result, "to_chars", to_chars, ());
        $m!(Result, "chars", chars, ());
        $m!(Result, "get", get, (index: INT));
        $m!(Result, "contains", contains, (find: ImmutableString));
        $m!(Result, "contains", contains_char, (find: char));
        $m!(Result, "starts_with", starts_with, (find: ImmutableString));
        $m!(Result, "starts_with", starts_with_char, (find: char));
        $m!(Result, "ends_with", ends_with, (find: ImmutableString));
        $m!(Result, "ends_with", ends_with_char, (find: char));
        $m!(Result, "index_of", index_of, (find: ImmutableString));
        $m!(Result, "index_of", index_of_char, (find: char));
        $m!(Result, "index_of", index_of_from, (find: ImmutableString, start: INT));
        $m!(Result, "index_of", index_of_char_from, (find: char, start: INT));
        $m!(Result, "to_upper", to_upper, ());
        $m!(Result, "to_lower", to_lower, ());
        $m!(Result, "sub_string", sub_string_range, (range: ExclusiveRange));
        $m!(Result, "sub_string", sub_string_inclusive, (range: InclusiveRange));
        $m!(Result, "sub_string", sub_string, (start: INT, len: INT));
        $m!(Result, "sub_string", sub_string_from, (start: INT));
        $m!(Result, "split", split_at, (index: INT));
        $m!(Result, "split", split_whitespace, ());
        $m!(Result, "split", split, (delimiter: ImmutableString));
        $m!(Result, "split", splitn, (delimiter: ImmutableString, segments: INT));
        $m!(Result, "split", split_char, (delimiter: char));
        $m!(Result, "split", splitn_char, (delimiter: char, segments: INT));
        $m!(Result, "split_rev", rsplit, (delimiter: ImmutableString));
        $m!(Result, "split_rev", rsplitn, (delimiter: ImmutableString, segments: INT));
        $m!(Result, "split_rev", rsplit_char, (delimiter: char));
        $m!(Result, "split_rev", rsplitn_char, (delimiter: char, segments: INT));
        $m!(Result, "max", max, (other: ImmutableString));
        $m!(Result, "min", min, (other: ImmutableString));
        $m!(Changed, "make_upper", make_upper, ());
        $m!(Changed, "make_lower", make_lower, ());
        $m!(Changed, "trim", trim, ());
        $m!(Changed, "truncate", truncate, (len: INT));
        $m!(Changed, "remove", remove, (part: ImmutableString));
        $m!(Changed, "remove", remove_char, (part: char));
        $m!(Changed, "replace", replace, (find: ImmutableString, by: ImmutableString));
        $m!(Changed, "replace", replace_with_char, (find: ImmutableString, by: char));
        $m!(Changed, "replace", replace_char, (find: char, by: ImmutableString));
        $m!(Changed, "replace", replace_char_with_char, (find: char, by: char));
        $m!(Changed, "pad", pad, (len: INT, by: char));
        $m!(Changed, "pad", pad_with_string, (len: INT, by: ImmutableString));
        $m!(Changed, "crop", crop_range, (range: ExclusiveRange));
        $m!(Changed, "crop", crop_inclusive, (range: InclusiveRange));
        $m!(Changed, "crop", crop, (start: INT, len: INT));
        $m!(Changed, "crop", crop_from, (start: INT));
        $m!(Changed, "set", set, (index: INT, c: char));
        $m!(ChangedAndResult, "pop", pop, ());
        $m!(ChangedAndResult, "pop", pop_string, (len: INT));
    };
}

/// The wrapper of one function in the plain engine's script: it takes the
/// string and the arguments and returns what `Returns` says.
fn wrapper(returns: Returns, name: &str, wrapper: &str, args: &[&str]) -> String {
    let params: String = args.iter().map(|a| format!(", {a}")).collect();
    let call = format!("s.{name}({})", args.join(", "));
    let body = match returns {
        Returns::Result => call,
        Returns::Changed => format!("{call}; s"),
        Returns::ChangedAndResult => format!("let r = {call}; [r, s]"),
    };
    format!("fn {wrapper}(s{params}) {{ {body} }}\n")
}

/// Rhai's standard engine, with the script's limits, and the wrappers.
struct Plain {
    engine: Engine,
    wrappers: AST,
}

/// The plain engine, made when a script first calls a string function:
/// many never do, and making it is a fair part of a small script's run.
#[derive(Default)]
struct LazyPlain(std::cell::OnceCell<Plain>);

impl LazyPlain {
    fn get(&self) -> &Plain {
        self.0.get_or_init(Plain::new)
    }
}

impl Plain {
    fn new() -> Plain {
        let mut source = String::new();
        macro_rules! collect {
            ($returns:ident, $name:literal, $wrapper:ident, ($($arg:ident: $ty:ty),*)) => {
                source.push_str(&wrapper(
                    Returns::$returns,
                    $name,
                    stringify!($wrapper),
                    &[$(stringify!($arg)),*],
                ));
            };
        }
        string_functions!(collect);
        let mut engine = Engine::new();
        engine
            .set_max_operations(limits::MAX_OPERATIONS)
            .set_max_string_size(limits::MAX_STRING_SIZE)
            .set_max_array_size(limits::MAX_ARRAY_SIZE);
        let wrappers = match engine.compile(&source) {
            Ok(ast) => ast,
            // The wrappers are written above; a Rhai that cannot read them
            // is a build of `stack` that must not run.
            Err(e) => panic!("the string function wrappers do not compile: {e}"),
        };
        Plain { engine, wrappers }
    }

    /// Runs `wrapper` on settled arguments; an error is reported at the
    /// script's call, not inside the wrapper.
    fn call(
        &self,
        ctx: &NativeCallContext,
        wrapper: &str,
        args: Vec<Dynamic>,
    ) -> RhaiResult<Dynamic> {
        self.engine
            .call_fn::<Dynamic>(&mut Scope::new(), &self.wrappers, wrapper, args)
            .map_err(|err| {
                let mut err = match *err {
                    EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => inner,
                    _ => err,
                };
                err.set_position(ctx.call_position());
                err
            })
    }
}

/// A string argument settled, or a character checked; other values as they are.
fn settled(ctx: &NativeCallContext, session: &Session, value: Dynamic) -> RhaiResult<Dynamic> {
    if let Some(s) = value.read_lock::<ImmutableString>() {
        return text(ctx, session, &s).map(Dynamic::from);
    }
    if let Ok(c) = value.as_char() {
        return character(ctx, c).map(Dynamic::from);
    }
    Ok(value)
}

pub fn register(engine: &mut Engine, session: &Session) {
    let plain = Rc::new(LazyPlain::default());
    macro_rules! register {
        ($returns:ident, $name:literal, $wrapper:ident, ($($arg:ident: $ty:ty),*)) => {{
            let plain = plain.clone();
            let session = session.clone();
            engine.register_fn(
                $name,
                move |ctx: NativeCallContext, s: &mut ImmutableString $(, $arg: $ty)*| -> RhaiResult<Dynamic> {
                    let args = vec![
                        settled(&ctx, &session, Dynamic::from(s.clone()))?,
                        $(settled(&ctx, &session, Dynamic::from($arg))?),*
                    ];
                    let result = plain.get().call(&ctx, stringify!($wrapper), args)?;
                    finish(Returns::$returns, s, result)
                },
            );
        }};
    }
    string_functions!(register);
    // `s.len`, `s.bytes` and `s.is_empty` are properties too.
    for property in ["len", "bytes", "is_empty"] {
        let plain = plain.clone();
        let session = session.clone();
        engine.register_raw_fn(
            format!("get${property}"),
            [std::any::TypeId::of::<ImmutableString>()],
            move |ctx, args| {
                let s = settled(&ctx, &session, args[0].clone())?;
                plain.get().call(&ctx, property, vec![s])
            },
        );
    }
}

/// The script's result of a call, writing a changed string back.
fn finish(returns: Returns, s: &mut ImmutableString, result: Dynamic) -> RhaiResult<Dynamic> {
    match returns {
        Returns::Result => Ok(result),
        Returns::Changed => {
            *s = result.into_immutable_string().unwrap_or_default();
            Ok(Dynamic::UNIT)
        }
        Returns::ChangedAndResult => {
            let mut pair = result.into_typed_array::<Dynamic>().unwrap_or_default();
            let changed = pair.pop().unwrap_or_default();
            *s = changed.into_immutable_string().unwrap_or_default();
            Ok(pair.pop().unwrap_or_default())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrappers_call_the_function_and_return_what_it_changes() {
        assert_eq!(
            wrapper(Returns::Result, "split", "splitn", &["d", "n"]),
            "fn splitn(s, d, n) { s.split(d, n) }\n"
        );
        assert_eq!(
            wrapper(Returns::Changed, "trim", "trim", &[]),
            "fn trim(s) { s.trim(); s }\n"
        );
        assert_eq!(
            wrapper(Returns::ChangedAndResult, "pop", "pop", &[]),
            "fn pop(s) { let r = s.pop(); [r, s] }\n"
        );
    }

    #[test]
    fn the_plain_engine_runs_rhai_functions() {
        let plain = Plain::new();
        let run = |w: &str, args: Vec<Dynamic>| {
            plain
                .engine
                .call_fn::<Dynamic>(&mut Scope::new(), &plain.wrappers, w, args)
                .unwrap()
        };
        let parts = run("split", vec!["a-b".into(), "-".into()])
            .into_typed_array::<ImmutableString>()
            .unwrap();
        assert_eq!(parts, ["a", "b"]);
        assert_eq!(run("trim", vec![" x ".into()]).into_string().unwrap(), "x");
        let popped = run("pop", vec!["ab".into()])
            .into_typed_array::<Dynamic>()
            .unwrap();
        assert_eq!(popped[0].as_char().unwrap(), 'b');
        assert_eq!(popped[1].clone().into_string().unwrap(), "a");
    }
}
