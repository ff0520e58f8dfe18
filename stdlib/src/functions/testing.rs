//! `assert`, `assert_eq` and `resources()`: what `stack test` checks a
//! module with, usable in any script (an `assert` in a stack refuses a
//! combination of parameters before anything is planned).

use rhai::{Dynamic, Engine, Map, NativeCallContext};
use stack_engine::objects::{self, Shown};
use stack_engine::value::{Resolve, Value, SENSITIVE, UNKNOWN};
use stack_engine::{Graph, ResourceId};

use super::FnDoc;
use crate::fault::{Fault, RhaiResult};
use crate::handle::Handle;
use crate::schema::describe_value;
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

pub static MOCK_OUTPUT_DOC: FnDoc = FnDoc {
    name: "mock_output",
    signatures: &["mock_output(handle_or_id, name: string, value)"],
    summary: "In a test: what an output known only after apply will be (an EKS cluster's `endpoint`, an OIDC client's `client_id`), used from then on by `resources()` in inputs and objects.",
    schema: None,
    kind: None,
    example: r#"mock_output(sso, "client_id", "argocd-client");"#,
};

pub static RESOURCES_DOC: FnDoc = FnDoc {
    name: "resources",
    signatures: &["resources() -> list of maps"],
    summary: "What the script has declared so far, each as `#{ id, kind, cluster, inputs, objects }`: the cluster's id (or `()`), the validated options, and the Kubernetes objects and Argo CD Applications it would apply or commit. A secret shows as `(sensitive)` (and a Secret's data is redacted), an output known only after apply as `(known after apply)` unless `mock_output` gave it. Fails when what is declared so far would not plan.",
    schema: None,
    kind: None,
    example: r#"let ns = resources().filter(|r| r.kind == "namespace");"#,
};

fn failed(ctx: &NativeCallContext, message: String) -> Box<rhai::EvalAltResult> {
    Fault::new("stack::test::assertion", message)
        .label("asserted here")
        .raise(ctx.call_position())
}

/// An input value as a script sees it in `resources()`: outputs known at
/// evaluation or given with `mock_output` by value, others as
/// `(known after apply)`, secrets as `(sensitive)`.
fn script_value(value: &Value, shown: &Shown) -> Dynamic {
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Float(f) => (*f).into(),
        Value::String(s) => s.clone().into(),
        Value::List(items) => {
            Dynamic::from_array(items.iter().map(|v| script_value(v, shown)).collect())
        }
        Value::Map(map) => Dynamic::from_map(
            map.iter()
                .map(|(k, v)| (k.as_str().into(), script_value(v, shown)))
                .collect(),
        ),
        Value::Output(o) if o.secret => SENSITIVE.into(),
        Value::Output(o) => shown
            .output(o)
            .map_or_else(|| UNKNOWN.into(), |json| crate::convert::from_json(&json)),
        Value::Secret(_) => SENSITIVE.into(),
        Value::Concat(parts) => parts
            .iter()
            .map(|p| match script_value(p, shown) {
                text if text.is_string() => text.to_string(),
                other => format!("{other}"),
            })
            .collect::<String>()
            .into(),
        Value::Resource(id) => id.as_str().into(),
    }
}

/// Every declaration so far as a map, with the objects it stands for.
fn resources(ctx: &NativeCallContext, session: &Session) -> RhaiResult<rhai::Array> {
    let graph = Graph::build(session.declarations()).map_err(|e| {
        Fault::new(
            "stack::test::graph",
            format!("what the test declared so far does not plan: {e}"),
        )
        .label("resources() read here")
        .help_opt(miette::Diagnostic::help(&e).map(|h| h.to_string()))
        .raise(ctx.call_position())
    })?;
    let given = session.borrow().given_outputs.clone();
    let shown = Shown {
        graph: &graph,
        given: &given,
    };
    Ok(graph
        .resources()
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
                .map(|(k, v)| (k.as_str().into(), script_value(v, &shown)))
                .collect::<Map>();
            map.insert("inputs".into(), Dynamic::from_map(inputs));
            let objects = objects::shown_objects(&graph, r, &given)
                .iter()
                .map(crate::convert::from_json)
                .collect();
            map.insert("objects".into(), Dynamic::from_array(objects));
            Dynamic::from_map(map)
        })
        .collect())
}

/// `mock_output(handle_or_id, name, value)`: what an output known only
/// after apply is, for the rest of the test.
fn mock_output(
    ctx: &NativeCallContext,
    session: &Session,
    target: &Dynamic,
    name: &str,
    value: &Dynamic,
) -> RhaiResult<()> {
    let fault = |message: String, help: String| {
        Fault::new("stack::test::mock_output", message)
            .label("in this mock_output")
            .help(help)
            .raise(ctx.call_position())
    };
    let id = match (
        target.read_lock::<Handle>(),
        target.read_lock::<rhai::ImmutableString>(),
    ) {
        (Some(h), _) => h.id.clone(),
        (None, Some(s)) => ResourceId::new(s.as_str()),
        _ => {
            return Err(fault(
                format!(
                    "mock_output takes a handle or a resource id, got {}",
                    describe_value(target)
                ),
                "pass what the declaration returned, or its `id`".into(),
            ))
        }
    };
    let Some(resource) = session.resource(&id) else {
        let declared = session.declarations();
        let ids = declared.resources.iter().map(|r| r.id.as_str());
        return Err(fault(
            format!("`{id}` is not declared (yet)"),
            stack_engine::suggest::did_you_mean(id.as_str(), ids)
                .unwrap_or_else(|| "declare the resource before giving its outputs".into()),
        ));
    };
    let outputs = resource.kind.outputs();
    if !outputs.iter().any(|o| o.name == name) {
        let names: Vec<&str> = outputs.iter().map(|o| o.name).collect();
        return Err(fault(
            format!(
                "{} has no output `{name}`",
                crate::schema::Ty::Handle(resource.kind).with_article()
            ),
            stack_engine::suggest::did_you_mean(name, names.iter().copied())
                .unwrap_or_else(|| format!("its outputs: {}", names.join(", "))),
        ));
    }
    // A secret is refused: a mocked value is shown in objects and messages.
    let json = crate::convert::to_value(value, session)
        .ok()
        .filter(|v| !v.is_sensitive())
        .and_then(|v| v.materialize(&NoOutputs).ok())
        .filter(|_| !value.is_unit());
    let Some(json) = json else {
        return Err(fault(
            format!(
                "the value for `{name}` is {}, which an output cannot be",
                describe_value(value)
            ),
            "give plain text, a number, a bool, a list or a map (no secret: mocked values are shown)".into(),
        ));
    };
    session
        .borrow_mut()
        .given_outputs
        .insert((id, name.to_string()), json);
    Ok(())
}

/// Resolves no output: a mocked value must be known itself.
struct NoOutputs;

impl Resolve for NoOutputs {
    fn output(&self, _: &stack_engine::OutputRef) -> Option<serde_json::Value> {
        None
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
    engine.register_fn("resources", move |ctx: NativeCallContext| {
        resources(&ctx, &s)
    });
    let s = session.clone();
    engine.register_fn(
        "mock_output",
        move |ctx: NativeCallContext, target: Dynamic, name: &str, value: Dynamic| {
            mock_output(&ctx, &s, &target, name, &value)
        },
    );
}
