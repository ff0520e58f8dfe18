//! `assert`, `assert_eq` and `resources()`: what `stack test` checks a
//! module with, usable in any script (an `assert` in a stack refuses a
//! combination of parameters before anything is planned).

use rhai::{Dynamic, Engine, Map, NativeCallContext};
use stack_engine::value::{Value, SENSITIVE, UNKNOWN};

use super::FnDoc;
use crate::fault::{Fault, RhaiResult};
use crate::session::Session;

pub static ASSERT_DOC: FnDoc = FnDoc {
    name: "assert",
    signatures: &["assert(condition: bool)", "assert(condition: bool, message: string)"],
    summary: "Stops the evaluation with a diagnostic at this line unless `condition` is true. In `stack test`, a failed assertion fails the test.",
    schema: None,
    kind: None,
    example: r#"assert(param("replicas", 2) > 0, "replicas must be positive");"#,
};

pub static ASSERT_EQ_DOC: FnDoc = FnDoc {
    name: "assert_eq",
    signatures: &["assert_eq(left, right)"],
    summary: "Stops the evaluation with a diagnostic showing both values unless they are equal (`==`; lists and maps item by item).",
    schema: None,
    kind: None,
    example: r#"assert_eq(resources().len(), 3);"#,
};

pub static RESOURCES_DOC: FnDoc = FnDoc {
    name: "resources",
    signatures: &["resources() -> list of maps"],
    summary: "What the script has declared so far, each as `#{ id, kind, cluster, inputs }` (the cluster's id, or `()`); a secret shows as `(sensitive)` and an output known only after apply as `(known after apply)`.",
    schema: None,
    kind: None,
    example: r#"let ns = resources().filter(|r| r.kind == "namespace");"#,
};

fn failed(ctx: &NativeCallContext, message: String) -> Box<rhai::EvalAltResult> {
    Fault::new("stack::test::assertion", message)
        .label("asserted here")
        .raise(ctx.call_position())
}

/// An input value as a script sees it in `resources()`.
fn script_value(value: &Value) -> Dynamic {
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Float(f) => (*f).into(),
        Value::String(s) => s.clone().into(),
        Value::List(items) => Dynamic::from_array(items.iter().map(script_value).collect()),
        Value::Map(map) => Dynamic::from_map(
            map.iter()
                .map(|(k, v)| (k.as_str().into(), script_value(v)))
                .collect(),
        ),
        Value::Output(_) => UNKNOWN.into(),
        Value::Secret(_) => SENSITIVE.into(),
        Value::Concat(parts) => parts
            .iter()
            .map(|p| match p {
                Value::String(s) => s.clone(),
                Value::Secret(_) => SENSITIVE.to_string(),
                Value::Output(_) => UNKNOWN.to_string(),
                other => script_value(other).to_string(),
            })
            .collect::<String>()
            .into(),
        Value::Resource(id) => id.as_str().into(),
    }
}

pub fn register(engine: &mut Engine, session: &Session) {
    engine.register_fn(
        "assert",
        |ctx: NativeCallContext, condition: bool| -> RhaiResult<()> {
            if condition {
                Ok(())
            } else {
                Err(failed(&ctx, "assertion failed".to_string()))
            }
        },
    );
    let s = session.clone();
    engine.register_fn(
        "assert",
        move |ctx: NativeCallContext, condition: bool, message: &str| -> RhaiResult<()> {
            if condition {
                Ok(())
            } else {
                let message = crate::convert::readable(message, &s);
                Err(failed(&ctx, format!("assertion failed: {message}")))
            }
        },
    );
    let s = session.clone();
    engine.register_fn(
        "assert_eq",
        move |ctx: NativeCallContext, left: Dynamic, right: Dynamic| -> RhaiResult<()> {
            let same = left.type_name() == right.type_name()
                && ctx.call_native_fn::<bool>("==", (left.clone(), right.clone()))?;
            if same {
                return Ok(());
            }
            let shown = |v: &Dynamic| crate::convert::readable(&format!("{v:?}"), &s);
            Err(failed(
                &ctx,
                format!(
                    "assertion failed: left == right\n  left:  {}\n  right: {}",
                    shown(&left),
                    shown(&right)
                ),
            ))
        },
    );
    let s = session.clone();
    engine.register_fn("resources", move || -> rhai::Array {
        let state = s.borrow();
        state
            .declarations
            .resources
            .iter()
            .map(|r| {
                let mut map = Map::new();
                map.insert("id".into(), r.id.as_str().into());
                map.insert("kind".into(), r.kind.as_str().into());
                map.insert(
                    "cluster".into(),
                    r.cluster
                        .as_ref()
                        .map_or(Dynamic::UNIT, |c| c.as_str().into()),
                );
                let inputs = r
                    .inputs
                    .iter()
                    .map(|(k, v)| (k.as_str().into(), script_value(v)))
                    .collect::<Map>();
                map.insert("inputs".into(), Dynamic::from_map(inputs));
                Dynamic::from_map(map)
            })
            .collect()
    });
}
