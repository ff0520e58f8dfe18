//! `moved(#{ from, to })`: a resource renamed in the script. The state's
//! record of `from` becomes the record of `to`, the live things keep
//! living, and nothing is deleted. Renames the plan finds by itself (the
//! same objects on the same cluster) need none; this covers the rest, such
//! as a module that changed how it names what it declares.

use rhai::{Dynamic, Engine, Map, NativeCallContext};
use stack_engine::declarations::Moved;
use stack_engine::ResourceId;

use super::FnDoc;
use crate::declare::key_span;
use crate::fault::{Fault, RhaiResult};
use crate::handle::Handle;
use crate::schema::{required, Opt, Schema, Ty};
use crate::session::Session;

const OPTIONS: &[Opt] = &[
    required(
        "from",
        Ty::Str,
        "the id the state records it under (as `stack plan` shows it being deleted)",
    ),
    required(
        "to",
        Ty::Any,
        "the declaration it is now: its handle, or its id",
    ),
];

pub static SCHEMA: Schema = Schema {
    function: "moved",
    common: OPTIONS,
    variants: None,
};

pub static DOC: FnDoc = FnDoc {
    name: "moved",
    signatures: &["moved(opts: map)"],
    summary: "Declares a rename: what the state records as `from` is now the resource `to`, so the plan shows it as moved instead of deleting one and creating the other. The plan finds renames of the same objects on the same cluster by itself; `moved` covers the others. It may stay in the script after the run: a move whose `from` the state no longer holds does nothing.",
    schema: Some(&SCHEMA),
    kind: None,
    example: r#"let web = namespace(c, "web-team");
moved(#{ from: "prod/namespace/web", to: web });"#,
};

fn moved(ctx: NativeCallContext, session: &Session, opts: Map) -> RhaiResult<()> {
    let pos = ctx.call_position();
    let call = session.call_span(&ctx);
    crate::declare::check_options(&ctx, session, &SCHEMA, &opts)?;
    let from = ResourceId::new(
        opts.get("from")
            .map(ToString::to_string)
            .unwrap_or_default(),
    );
    let to = opts.get("to").cloned().unwrap_or_else(Dynamic::default);
    let to = match to.clone().try_cast::<Handle>() {
        Some(handle) => handle.id,
        None if to.is_string() => ResourceId::new(to.to_string()),
        None => {
            return Err(Fault::new(
                "stack::script::option",
                format!("`to` is a {}: a move goes to a declaration", to.type_name()),
            )
            .label("here")
            .help("give the handle a declaration returns, or the resource's id")
            .at(key_span(session, call, "to"))
            .raise(pos))
        }
    };
    session.borrow_mut().declarations.moves.push(Moved {
        from,
        to,
        span: call,
    });
    Ok(())
}

pub fn register(engine: &mut Engine, session: &Session) {
    let s = session.clone();
    engine.register_fn("moved", move |ctx: NativeCallContext, opts: Map| {
        moved(ctx, &s, opts)
    });
}
