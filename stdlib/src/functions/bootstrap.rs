//! `bootstrap(cluster, opts)`: Argo CD installed with Helm directly, before
//! GitOps exists; `std/argocd` later hands it to Argo CD itself.

use std::collections::BTreeMap;

use rhai::{Engine, Map, NativeCallContext};
use stack_engine::{Kind, Value};

use super::FnDoc;
use crate::declare::{declare, Declaration};
use crate::fault::RhaiResult;
use crate::handle::Handle;
use crate::schema::{defaulted, opt, Opt, Schema, Ty, ADOPT, DEPENDS_ON, PROTECT};
use crate::session::Session;

/// The Argo CD chart version bootstrapped when none is given.
pub const DEFAULT_ARGOCD_CHART: &str = "7.3.4";

const OPTIONS: &[Opt] = &[
    defaulted("chart", Ty::Str, "\"argo-cd\"", "chart to install"),
    defaulted(
        "repo",
        Ty::Str,
        "\"https://argoproj.github.io/argo-helm\"",
        "chart repository",
    ),
    defaulted(
        "version",
        Ty::Str,
        "\"7.3.4\"",
        "chart version: exact, or a semver constraint like `^7.3`",
    ),
    opt(
        "namespace",
        Ty::Str,
        "namespace to install into (default: the cluster's `argocd_namespace`)",
    ),
    opt(
        "values",
        Ty::Values,
        "Helm values: a map, or a list of maps deep-merged in order",
    ),
    defaulted(
        "timeout",
        Ty::Duration,
        "\"10m\"",
        "how long to wait for the Argo CD server and repo server",
    ),
    DEPENDS_ON,
    PROTECT,
    ADOPT,
];

pub static SCHEMA: Schema = Schema {
    function: "bootstrap",
    common: OPTIONS,
    variants: None,
};

pub static DOC: FnDoc = FnDoc {
    name: "bootstrap",
    signatures: &[
        "bootstrap(cluster: cluster handle) -> bootstrap handle",
        "bootstrap(cluster: cluster handle, opts: map) -> bootstrap handle",
    ],
    summary: "Installs Argo CD on a cluster with Helm, directly, before GitOps exists (the bootstrap pattern). The `std/argocd` module then adopts the same release as an Application, so Argo CD manages itself.",
    schema: Some(&SCHEMA),
    kind: Some(Kind::Bootstrap),
    example: r#"let argocd = bootstrap(c, #{ version: "7.3.4" });"#,
};

fn bootstrap(
    ctx: NativeCallContext,
    session: &Session,
    cluster: Handle,
    mut opts: Map,
) -> RhaiResult<Handle> {
    crate::declare::expect_cluster(&ctx, "bootstrap", &cluster)?;
    let namespace = match opts.get("namespace") {
        Some(ns) => ns.to_string(),
        None => session
            .resource(&cluster.id)
            .and_then(|c| {
                c.known_outputs
                    .get("argocd_namespace")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "argocd".into()),
    };
    opts.insert("namespace".into(), namespace.clone().into());
    let mut known = BTreeMap::new();
    known.insert("namespace".to_string(), Value::String(namespace));
    declare(
        &ctx,
        session,
        Declaration::on_cluster(&cluster, Kind::Bootstrap, "argocd", &SCHEMA, opts, known),
    )
}

pub fn register(engine: &mut Engine, session: &Session) {
    let s = session.clone();
    engine.register_fn(
        "bootstrap",
        move |ctx: NativeCallContext, cluster: Handle, opts: Map| bootstrap(ctx, &s, cluster, opts),
    );
    let s = session.clone();
    engine.register_fn(
        "bootstrap",
        move |ctx: NativeCallContext, cluster: Handle| bootstrap(ctx, &s, cluster, Map::new()),
    );
}
