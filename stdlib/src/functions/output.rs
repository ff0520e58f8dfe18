//! `output(name, value)`: a value the stack gives back — a cluster's
//! endpoint, a URL, a team's namespace — recorded after each whole run and
//! read with `stack output`, as pipelines read `terraform output`.

use rhai::{Dynamic, Engine, Map, NativeCallContext};
use stack_engine::declarations::StackOutput;

use super::FnDoc;
use crate::fault::{Fault, RhaiResult};
use crate::schema::{opt, Opt, Schema, Ty};
use crate::session::Session;

const OPTIONS: &[Opt] = &[
    opt(
        "description",
        Ty::Str,
        "what the value is, shown by `stack output`",
    ),
    opt(
        "sensitive",
        Ty::Bool,
        "never shown nor recorded, only that it is there (a secret always is)",
    ),
];

pub static SCHEMA: Schema = Schema {
    function: "output",
    common: OPTIONS,
    variants: None,
};

pub static DOC: FnDoc = FnDoc {
    name: "output",
    signatures: &["output(name: string, value)", "output(name: string, value, opts: map)"],
    summary: "Declares an output of the stack: after each whole run its value (outputs of resources resolved) is recorded in the state, and `stack output` prints it. A secret, or a value holding one, is recorded and shown only as `(sensitive)`.",
    schema: Some(&SCHEMA),
    kind: None,
    example: r#"output("endpoint", c.endpoint, #{ description: "the API server" });
output("grafana_url", `https://grafana.${domain}`);"#,
};

fn output(
    ctx: NativeCallContext,
    session: &Session,
    name: &str,
    value: Dynamic,
    opts: Map,
) -> RhaiResult<()> {
    let pos = ctx.call_position();
    let span = session.call_span(&ctx);
    crate::declare::check_options(&ctx, session, &SCHEMA, &opts)?;
    let fault = |text: String, help: &str| {
        Fault::new("stack::script::argument", text)
            .label("here")
            .help(help)
            .raise(pos)
    };
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if name.is_empty() || !name.chars().all(plain) {
        return Err(fault(
            format!("`{name}` cannot be an output name"),
            "an output name is a word such as `endpoint` or `grafana_url`",
        ));
    }
    let value = crate::convert::to_value(&value, session).map_err(|why| {
        fault(
            format!("output `{name}` cannot hold this value: {why}"),
            "give a string, number, bool, list or map, or a resource's output",
        )
    })?;
    let description = opts.get("description").map(ToString::to_string);
    let sensitive = opts
        .get("sensitive")
        .and_then(|v| v.as_bool().ok())
        .unwrap_or(false);
    let mut state = session.borrow_mut();
    if state.declarations.outputs.contains_key(name) {
        drop(state);
        return Err(fault(
            format!("output `{name}` is declared twice"),
            "give each output its own name",
        ));
    }
    state.declarations.outputs.insert(
        name.to_string(),
        StackOutput {
            value,
            description,
            sensitive,
            span,
        },
    );
    Ok(())
}

pub fn register(engine: &mut Engine, session: &Session) {
    let s = session.clone();
    engine.register_fn(
        "output",
        move |ctx: NativeCallContext, name: &str, value: Dynamic| {
            output(ctx, &s, name, value, Map::new())
        },
    );
    let s = session.clone();
    engine.register_fn(
        "output",
        move |ctx: NativeCallContext, name: &str, value: Dynamic, opts: Map| {
            output(ctx, &s, name, value, opts)
        },
    );
}
