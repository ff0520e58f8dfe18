//! `helm_app(cluster, name, opts)`: a Helm chart delivered as an Argo CD
//! Application, or rendered and applied directly with `via: "helm"`.

use std::collections::BTreeMap;

use rhai::{Engine, ImmutableString, Map, NativeCallContext};
use stack_engine::{Kind, Value};

use super::FnDoc;
use crate::declare::{check_name, declare, key_span, Declaration};
use crate::fault::{Fault, RhaiResult};
use crate::handle::Handle;
use crate::schema::{defaulted, opt, Opt, Schema, Ty, ADOPT, DEPENDS_ON, PROTECT};
use crate::session::Session;
use crate::token;

const OPTIONS: &[Opt] = &[
    opt(
        "repo",
        Ty::Str,
        "chart repository URL, or git repository URL with `path`",
    ),
    opt("chart", Ty::Str, "chart name in the repository"),
    opt(
        "version",
        Ty::Str,
        "chart version (or git revision with `path`)",
    ),
    opt(
        "path",
        Ty::Str,
        "path of the chart inside a git repository; with `via: \"helm\"` and no `repo`, a chart directory relative to the stack",
    ),
    opt(
        "namespace",
        Ty::Str,
        "namespace the chart is installed into (default: the app's name)",
    ),
    opt(
        "values",
        Ty::Values,
        "Helm values: a map, or a list of maps deep-merged in order",
    ),
    opt(
        "sync_policy",
        Ty::Map,
        "Argo CD sync policy: `#{ prune: bool, self_heal: bool }` (both default true)",
    ),
    defaulted(
        "wait",
        Ty::Bool,
        "true",
        "wait until the app is healthy before its dependents start",
    ),
    defaulted(
        "timeout",
        Ty::Duration,
        "\"10m\"",
        "how long to wait for health",
    ),
    defaulted(
        "prune_on_delete",
        Ty::Bool,
        "true",
        "deleting the app deletes what it deployed (Argo CD's resources finalizer); off for an app that runs Argo CD itself",
    ),
    opt(
        "project",
        Ty::Str,
        "the Argo CD project (an `appproject(...)`'s name) the Application belongs to: its bounds apply (default \"default\")",
    ),
    defaulted(
        "via",
        Ty::OneOf(&["argocd", "helm"]),
        "\"argocd\"",
        "deliver as an Argo CD Application, or render with helm and apply directly",
    ),
    DEPENDS_ON,
    PROTECT,
    ADOPT,
];

pub static SCHEMA: Schema = Schema {
    function: "helm_app",
    common: OPTIONS,
    variants: None,
};

pub static SYNC: Schema = Schema {
    function: "helm_app `sync_policy`",
    common: &[
        opt(
            "prune",
            Ty::Bool,
            "delete resources the chart no longer renders",
        ),
        opt("self_heal", Ty::Bool, "revert changes made outside Git"),
    ],
    variants: None,
};

pub static DOC: FnDoc = FnDoc {
    name: "helm_app",
    signatures: &["helm_app(cluster: cluster handle, name: string, opts: map) -> helm_app handle"],
    summary: "Delivers a Helm chart to a cluster as an Argo CD Application (automated sync, `CreateNamespace=true`). With `via: \"helm\"` the chart is rendered with `helm template` and applied directly, for clusters without Argo CD. Either `chart` (from a chart repository, `version` an exact version or a semver constraint like `^28.0` resolved against the repository's index) or `path` (a chart in git, or with `via: \"helm\"` and no `repo` a chart directory beside the stack) is required.",
    schema: Some(&SCHEMA),
    kind: Some(Kind::HelmApp),
    example: r#"let ingress = helm_app(c, "traefik", #{
    repo: "https://traefik.github.io/charts", chart: "traefik", version: "28.3.0",
    namespace: "traefik", values: [base_values, #{ deployment: #{ replicas: 2 } }],
});"#,
};

pub(crate) fn helm_app(
    ctx: &NativeCallContext,
    session: &Session,
    cluster: Handle,
    name: ImmutableString,
    opts: Map,
) -> RhaiResult<Handle> {
    crate::declare::expect_cluster(ctx, "helm_app", &cluster)?;
    let name = check_name(ctx, session, "app", &name)?;
    if let Some(sync) = opts
        .get("sync_policy")
        .and_then(|s| s.read_lock::<Map>().map(|m| m.clone()))
    {
        super::validate_nested(ctx, session, "sync_policy", &SYNC, &sync)?;
    }
    let call = session.call_span(ctx);
    if !opts.contains_key("chart") && !opts.contains_key("path") {
        return Err(Fault::new("stack::script::option", format!("helm_app `{name}` needs `chart` (from a chart repository) or `path` (a chart in git)"))
            .label("no chart")
            .help("add `chart: \"<name>\"` with `repo` and `version`")
            .at(call)
            .raise(ctx.call_position()));
    }
    // A local chart directory (`path` without `repo`) is rendered by helm
    // here; Argo CD could not reach it.
    let via_helm = opts
        .get("via")
        .is_some_and(|v| v.clone().into_string().is_ok_and(|v| v == "helm"));
    let local_chart = via_helm && opts.contains_key("path");
    if !(opts.contains_key("repo") || local_chart) {
        return Err(Fault::new(
            "stack::script::option",
            format!("helm_app `{name}` needs option `repo`"),
        )
        .label("no repository")
        .help("`repo`: the chart repository URL (or the git repository with `path`); with `via: \"helm\"`, `path` alone names a local chart directory")
        .at(call)
        .raise(ctx.call_position()));
    }
    if opts.contains_key("chart") && opts.contains_key("path") {
        return Err(Fault::new(
            "stack::script::option",
            "`chart` and `path` exclude each other",
        )
        .label("second chart source")
        .help("use `chart` for a chart repository, `path` for a chart inside a git repository")
        .at(key_span(session, call, "path"))
        .raise(ctx.call_position()));
    }
    if opts.contains_key("chart") && !opts.contains_key("version") {
        return Err(Fault::new(
            "stack::script::option",
            format!("helm_app `{name}` needs option `version`: charts are pinned"),
        )
        .label("no version")
        .help("pin the chart version, like `version: \"28.3.0\"`; an unpinned chart changes under you")
        .at(key_span(session, call, "chart"))
        .raise(ctx.call_position()));
    }
    let namespace = match opts.get("namespace") {
        Some(ns) if ns.is_string() => {
            let text = ns.to_string();
            // Checked like a namespace() name; outputs in it must be known.
            if token::has_tokens(&text) {
                text
            } else {
                check_name(ctx, session, "namespace", &text)?
            }
        }
        _ => name.to_string(),
    };
    let mut known = BTreeMap::new();
    known.insert("name".to_string(), Value::String(name.to_string()));
    known.insert(
        "namespace".to_string(),
        crate::convert::string_value(&namespace, session),
    );
    let local_path = local_chart
        .then(|| opts.get("path").and_then(|p| p.clone().into_string().ok()))
        .flatten();
    let handle = declare(
        ctx,
        session,
        Declaration::on_cluster(
            &cluster,
            Kind::HelmApp,
            name.to_string(),
            &SCHEMA,
            opts,
            known,
        ),
    )?;
    // A local chart changes without the script changing: its content is an
    // input, so that an edited chart is planned as an update.
    if let Some(path) = local_path {
        let dir = session.borrow().stack_dir.join(&path);
        if let Some(digest) = chart_digest(&dir) {
            let mut state = session.borrow_mut();
            if let Some(resource) = state
                .declarations
                .resources
                .iter_mut()
                .rev()
                .find(|r| r.id == handle.id)
            {
                resource
                    .inputs
                    .insert("chart_digest".into(), Value::String(digest));
            }
        }
    }
    Ok(handle)
}

/// A hash of every file of the chart directory `dir` (paths and contents),
/// or `None` when it cannot be read (the run reports that).
fn chart_digest(dir: &std::path::Path) -> Option<String> {
    fn walk(
        root: &std::path::Path,
        dir: &std::path::Path,
        out: &mut serde_json::Map<String, serde_json::Value>,
    ) -> std::io::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                walk(root, &path, out)?;
            } else {
                let bytes = std::fs::read(&path)?;
                let key = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned();
                let value = match String::from_utf8(bytes) {
                    Ok(text) => serde_json::Value::String(text),
                    Err(e) => serde_json::Value::from(e.into_bytes()),
                };
                out.insert(key, value);
            }
        }
        Ok(())
    }
    let mut files = serde_json::Map::new();
    walk(dir, dir, &mut files).ok()?;
    Some(stack_engine::plan::hash(&serde_json::Value::Object(files)))
}

pub fn register(engine: &mut Engine, session: &Session) {
    let s = session.clone();
    engine.register_fn(
        "helm_app",
        move |ctx: NativeCallContext, cluster: Handle, name: ImmutableString, opts: Map| {
            helm_app(&ctx, &s, cluster, name, opts)
        },
    );
}
