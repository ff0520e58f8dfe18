//! `state(opts)`: where the stack keeps its state. A team shares a stack's
//! state by keeping it in a cluster (a Secret, locked with a Lease) instead
//! of a local file.

use rhai::{Engine, Map, NativeCallContext};
use stack_engine::declarations::StateConfig;
use stack_engine::Kind;

use super::FnDoc;
use crate::declare::key_span;
use crate::fault::{Fault, RhaiResult};
use crate::handle::Handle;
use crate::schema::{defaulted, opt, required, Opt, Schema, Ty};
use crate::session::Session;

const COMMON: &[Opt] = &[required(
    "backend",
    Ty::OneOf(&["local", "kubernetes"]),
    "where the state lives",
)];

const LOCAL: &[Opt] = &[opt(
    "path",
    Ty::Str,
    "the state file, relative to the stack (default: `.stack/<stack>.state.json`)",
)];

const KUBERNETES: &[Opt] = &[
    required(
        "cluster",
        Ty::Handle(Kind::Cluster),
        "the cluster that keeps the state (an `existing` one)",
    ),
    defaulted(
        "namespace",
        Ty::Str,
        "\"stack-system\"",
        "namespace of the Secret and the Lease",
    ),
];

pub static SCHEMA: Schema = Schema {
    function: "state",
    common: COMMON,
    variants: Some(("backend", &[("local", LOCAL), ("kubernetes", KUBERNETES)])),
};

pub static DOC: FnDoc = FnDoc {
    name: "state",
    signatures: &["state(opts: map)"],
    summary: "Chooses where the stack's state is kept: a local file (the default), or a Secret `stack-state-<stack>` in a cluster, with a Lease `stack-lock-<stack>` as the lock, so a team shares one state. The cluster must exist before the run (`provider: \"existing\"`). `--state PATH` on the command line still picks a local file.",
    schema: Some(&SCHEMA),
    kind: None,
    example: r#"let mgmt = cluster("mgmt", #{ provider: "existing", context: "mgmt" });
state(#{ backend: "kubernetes", cluster: mgmt, namespace: "stack-system" });"#,
};

fn state(ctx: NativeCallContext, session: &Session, opts: Map) -> RhaiResult<()> {
    let pos = ctx.call_position();
    let call = session.call_span(&ctx);
    crate::declare::check_options(&ctx, session, &SCHEMA, &opts)?;
    if session.borrow().declarations.state.is_some() {
        return Err(
            Fault::new("stack::script::state", "the state backend is chosen twice")
                .label("second choice")
                .help("call state(...) once, in the stack script")
                .raise(pos),
        );
    }
    let text = |key: &str| opts.get(key).map(ToString::to_string);
    let config = match text("backend").as_deref() {
        Some("kubernetes") => {
            let Some(cluster) = opts
                .get("cluster")
                .and_then(|c| c.clone().try_cast::<Handle>())
            else {
                return Err(Fault::new(
                    "stack::script::state",
                    "the kubernetes backend needs `cluster`",
                )
                .raise(pos));
            };
            let declared = session.resource(&cluster.id);
            let existing = declared
                .as_ref()
                .and_then(|r| r.input_str("provider"))
                .is_some_and(|p| p == "existing");
            let Some(declared) = declared.filter(|_| existing) else {
                return Err(Fault::new(
                    "stack::script::state",
                    format!("the state cannot live on `{}`, which the stack itself creates", cluster.id),
                )
                .label("this cluster")
                .help("keep the state on a cluster that exists before the run (`provider: \"existing\"`), or in a local file")
                .at(key_span(session, call, "cluster"))
                .raise(pos));
            };
            StateConfig::Kubernetes {
                cluster: cluster.id,
                cluster_inputs: declared.inputs,
                namespace: text("namespace").unwrap_or_else(|| "stack-system".into()),
                span: call,
            }
        }
        _ => StateConfig::Local {
            path: text("path"),
            span: call,
        },
    };
    session.borrow_mut().declarations.state = Some(config);
    Ok(())
}

pub fn register(engine: &mut Engine, session: &Session) {
    let s = session.clone();
    engine.register_fn("state", move |ctx: NativeCallContext, opts: Map| {
        state(ctx, &s, opts)
    });
}
