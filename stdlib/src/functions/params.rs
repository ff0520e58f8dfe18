//! `param(name, default)` and `params()`: the `--set name=value` parameters.

use rhai::{Dynamic, Engine, ImmutableString, Map, NativeCallContext};

use super::FnDoc;
use crate::fault::{Fault, RhaiResult};
use crate::session::Session;

pub static PARAM_DOC: FnDoc = FnDoc {
    name: "param",
    signatures: &["param(name: string) -> string", "param(name: string, default) -> the default's type"],
    summary: "Reads a `--set name=value` parameter. With a default, the value is converted to the default's type (integer, float, bool, string; a list from `a,b,c` or a JSON array; a map from a JSON object) and the default is used when the parameter is not set; without one, the parameter is required.",
    schema: None,
    kind: None,
    example: r#"let env = param("env", "dev");
let replicas = param("replicas", 2);"#,
};

pub static PARAMS_DOC: FnDoc = FnDoc {
    name: "params",
    signatures: &["params() -> map"],
    summary: "Every `--set` parameter, as a map of strings.",
    schema: None,
    kind: None,
    example: r#"for (value, key) in params() { print(`${key}=${value}`); }"#,
};

fn param(
    ctx: NativeCallContext,
    session: &Session,
    name: &str,
    default: Option<Dynamic>,
) -> RhaiResult<Dynamic> {
    let name = &super::guards::text(&ctx, session, name)?;
    let pos = ctx.call_position();
    if name.is_empty() || name.contains('=') || name.chars().any(char::is_whitespace) {
        return Err(Fault::new(
            "stack::script::argument",
            format!("`{name}` cannot be a parameter name: `--set` could not name it"),
        )
        .label("this name")
        .help("a parameter name is a word such as `team` or `db_size`")
        .raise(pos));
    }
    let raw = {
        let mut state = session.borrow_mut();
        state.params_read.insert(name.to_string());
        state.params.get(name).cloned()
    };
    let Some(raw) = raw else {
        return default.ok_or_else(|| {
            Fault::new(
                "stack::script::param",
                format!("parameter `{name}` is not set"),
            )
            .label("required here")
            .help(format!(
                "pass it with `--set {name}=<value>`, or give param() a default"
            ))
            .raise(pos)
        });
    };
    if crate::token::reserved_at(&raw).is_some() {
        return Err(Fault::new(
            "stack::cli::param",
            format!(
                "`--set {name}` holds a character stack reserves for its own use ({})",
                crate::token::RESERVED
            ),
        )
        .label("read here")
        .help("pass the value without it")
        .raise(pos));
    }
    let Some(default) = default else {
        return Ok(raw.into());
    };
    let wrong = |ty: &str| {
        Fault::new(
            "stack::script::param",
            format!("`--set {name}={raw}` is not {ty}"),
        )
        .label(format!("the default here is {ty}"))
        .help(format!("pass {ty}, like the default `{default}`"))
        .raise(pos)
    };
    if default.is_array() {
        // `--set teams=web,api` or `--set 'teams=["web","api"]'`.
        let items: Vec<Dynamic> = if raw.trim_start().starts_with('[') {
            match serde_json::from_str::<serde_json::Value>(&raw) {
                Ok(json @ serde_json::Value::Array(_)) => {
                    return Ok(crate::convert::from_json(&json))
                }
                _ => return Err(wrong("a list (`a,b,c` or a JSON array)")),
            }
        } else {
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Dynamic::from(s.to_string()))
                .collect()
        };
        Ok(Dynamic::from_array(items))
    } else if default.is_map() {
        match serde_json::from_str::<serde_json::Value>(&raw) {
            Ok(json @ serde_json::Value::Object(_)) => Ok(crate::convert::from_json(&json)),
            _ => Err(wrong("a map (a JSON object)")),
        }
    } else if default.is_int() {
        raw.parse::<i64>()
            .map(Dynamic::from)
            .map_err(|_| wrong("an integer"))
    } else if default.is_float() {
        raw.parse::<f64>()
            .map(Dynamic::from)
            .map_err(|_| wrong("a number"))
    } else if default.is_bool() {
        raw.parse::<bool>()
            .map(Dynamic::from)
            .map_err(|_| wrong("`true` or `false`"))
    } else {
        Ok(raw.into())
    }
}

pub fn register(engine: &mut Engine, session: &Session) {
    let s = session.clone();
    engine.register_fn(
        "param",
        move |ctx: NativeCallContext, name: ImmutableString| param(ctx, &s, &name, None),
    );
    let s = session.clone();
    engine.register_fn(
        "param",
        move |ctx: NativeCallContext, name: ImmutableString, default: Dynamic| {
            param(ctx, &s, &name, Some(default))
        },
    );
    let s = session.clone();
    engine.register_fn("params", move || -> Map {
        let mut state = s.borrow_mut();
        state.all_params_read = true;
        state
            .params
            .iter()
            .map(|(k, v)| (k.as_str().into(), Dynamic::from(v.clone())))
            .collect()
    });
}
