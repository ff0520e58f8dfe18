//! `options(module, opts, defaults)`: how a module checks the options map it
//! was given. Unknown keys and wrong types are diagnostics that point at the
//! caller's option, with a "did you mean", just like the built-in functions.

use rhai::{Dynamic, Engine, ImmutableString, Map, NativeCallContext};
use stack_engine::suggest;

use super::FnDoc;
use crate::fault::{Fault, RhaiResult};
use crate::schema::describe_value;

pub static DOC: FnDoc = FnDoc {
    name: "options",
    signatures: &["options(module: string, opts: map, defaults: map) -> map"],
    summary: "For module authors: checks `opts` against `defaults` and returns `defaults` with `opts` laid over them. A key that `defaults` lacks is an error naming the closest known key; a value whose type differs from a non-`()` default (string, integer, bool, map) is an error too. Errors point at the option in the caller's script.",
    schema: None,
    kind: None,
    example: r#"fn install(cluster, opts) {
    let o = options("std/traefik", opts, #{ replicas: 1, values: #{} });
    // ...
}"#,
};

/// The type a default pins, with its article; `()` and lists accept anything.
fn pinned(default: &Dynamic) -> Option<&'static str> {
    if default.is_string() || default.is::<crate::handle::Handle>() {
        // A handle stands for its resource's name where a string is expected.
        Some("a string")
    } else if default.is_int() {
        Some("an integer")
    } else if default.is_bool() {
        Some("a bool")
    } else if default.is_map() {
        Some("a map")
    } else {
        None
    }
}

fn options(ctx: NativeCallContext, module: &str, opts: Map, defaults: Map) -> RhaiResult<Map> {
    let pos = ctx.call_position();
    let mut merged = defaults.clone();
    for (key, value) in opts {
        let Some(default) = defaults.get(&key) else {
            let mut known: Vec<&str> = defaults.keys().map(|k| k.as_str()).collect();
            known.sort_unstable();
            return Err(Fault::new(
                "stack::module::option",
                format!("unknown option `{key}` for {module}"),
            )
            .label("unknown option")
            .help(
                suggest::did_you_mean(&key, known.iter().copied())
                    .unwrap_or_else(|| format!("known options: {}", known.join(", "))),
            )
            .at_caller_key(key.as_str())
            .raise(pos));
        };
        if let Some(expected) = pinned(default) {
            if !value.is_unit() && pinned(&value) != Some(expected) {
                return Err(Fault::new(
                    "stack::module::option",
                    format!(
                        "option `{key}` of {module} expects {expected}, got {}",
                        describe_value(&value)
                    ),
                )
                .label("wrong type")
                .help(format!("the default is {}", describe_value(default)))
                .at_caller_key(key.as_str())
                .raise(pos));
            }
        }
        merged.insert(key, value);
    }
    Ok(merged)
}

pub fn register(engine: &mut Engine) {
    engine.register_fn(
        "options",
        |ctx: NativeCallContext, module: ImmutableString, opts: Map, defaults: Map| {
            options(ctx, &module, opts, defaults)
        },
    );
}
