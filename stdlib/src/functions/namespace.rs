//! `namespace(cluster, name, opts)`: a Namespace with labels and annotations.

use std::collections::BTreeMap;

use rhai::{Engine, ImmutableString, Map, NativeCallContext};
use stack_engine::{Kind, Value};

use super::FnDoc;
use crate::declare::{check_name, declare, Declaration};
use crate::fault::RhaiResult;
use crate::handle::Handle;
use crate::schema::{opt, Opt, Schema, Ty, ADOPT, DEPENDS_ON, PROTECT};
use crate::session::Session;

const OPTIONS: &[Opt] = &[
    opt("labels", Ty::Labels, "labels of the Namespace"),
    opt(
        "annotations",
        Ty::Annotations,
        "annotations of the Namespace",
    ),
    DEPENDS_ON,
    PROTECT,
    ADOPT,
];

pub static SCHEMA: Schema = Schema {
    function: "namespace",
    common: OPTIONS,
    variants: None,
};

pub static DOC: FnDoc = FnDoc {
    name: "namespace",
    signatures: &[
        "namespace(cluster: cluster handle, name: string) -> namespace handle",
        "namespace(cluster: cluster handle, name: string, opts: map) -> namespace handle",
    ],
    summary: "Declares a Namespace on a cluster.",
    schema: Some(&SCHEMA),
    kind: Some(Kind::Namespace),
    example: r#"for team in ["payments", "search"] {
    namespace(c, `team-${team}`, #{ labels: #{ team: team } });
}"#,
};

pub(crate) fn namespace(
    ctx: &NativeCallContext,
    session: &Session,
    cluster: Handle,
    name: ImmutableString,
    opts: Map,
) -> RhaiResult<Handle> {
    crate::declare::expect_cluster(ctx, "namespace", &cluster)?;
    let name = check_name(ctx, session, "namespace", &name)?;
    let mut known = BTreeMap::new();
    known.insert("name".to_string(), Value::String(name.to_string()));
    declare(
        ctx,
        session,
        Declaration::on_cluster(
            &cluster,
            Kind::Namespace,
            name.to_string(),
            &SCHEMA,
            opts,
            known,
        ),
    )
}

pub fn register(engine: &mut Engine, session: &Session) {
    let s = session.clone();
    engine.register_fn(
        "namespace",
        move |ctx: NativeCallContext, cluster: Handle, name: ImmutableString, opts: Map| {
            namespace(&ctx, &s, cluster, name, opts)
        },
    );
    let s = session.clone();
    engine.register_fn(
        "namespace",
        move |ctx: NativeCallContext, cluster: Handle, name: ImmutableString| {
            namespace(&ctx, &s, cluster, name, Map::new())
        },
    );
}
