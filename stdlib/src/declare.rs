//! The common path of every declaration: validate the options against the
//! schema, convert them, fill defaults, record the resource with its span.

use std::collections::BTreeMap;

use rhai::{Dynamic, Map, NativeCallContext};
use stack_engine::resource::Dependency;
use stack_engine::{Kind, Resource, ResourceId, Span, Value};

use crate::convert;
use crate::fault::{Fault, RhaiResult};
use crate::handle::Handle;
use crate::locate;
use crate::schema::Schema;
use crate::session::Session;

/// What a binding asks to declare.
pub struct Declaration<'a> {
    pub kind: Kind,
    pub name: String,
    /// The cluster the resource lives on.
    pub cluster: Option<&'a Handle>,
    /// Whether the id is scoped by the cluster's name (`prod/helm_app/x`).
    pub scoped: bool,
    pub opts: Map,
    pub schema: &'static Schema,
    /// Outputs known now, from the options.
    pub known: BTreeMap<String, Value>,
}

/// Where option `key` of the current call is written, or the call itself.
pub fn key_span(session: &Session, call: Span, key: &str) -> Span {
    if key.is_empty() {
        return call;
    }
    let text = session.source_text(call.source);
    let scan = session.source_scan(call.source);
    match locate::option_key(&text, &scan, call.offset, key) {
        Some(r) => Span::new(call.source, r.start, r.len()),
        None => call,
    }
}

/// Where string argument `content` of the current call is written, or the call.
pub fn literal_span(session: &Session, call: Span, content: &str) -> Span {
    let text = session.source_text(call.source);
    let scan = session.source_scan(call.source);
    match locate::literal(&text, &scan, call.offset, content) {
        Some(r) => Span::new(call.source, r.start, r.len()),
        None => call,
    }
}

/// Checks a Kubernetes-style name (lowercase letters, digits and `-`) and
/// returns it with known outputs resolved: names are decided at evaluation.
pub fn check_name(
    ctx: &NativeCallContext,
    session: &Session,
    what: &str,
    name: &str,
) -> RhaiResult<String> {
    let name = &crate::functions::guards::settle(session, name).map_err(|f| {
        let call = session.call_span(ctx);
        Fault::new(
            "stack::script::invalid_name",
            format!(
                "a {what} name must be known when the script runs: {}",
                f.message
            ),
        )
        .label("this name")
        .help_opt(f.help)
        .at(call)
        .raise(ctx.call_position())
    })?;
    let valid = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if valid {
        return Ok(name.clone());
    }
    let call = session.call_span(ctx);
    Err(Fault::new("stack::script::invalid_name", format!("`{name}` is not a valid {what} name"))
        .label("invalid name")
        .help("names are 1 to 63 lowercase letters, digits and `-`, starting and ending with a letter or digit")
        .at(literal_span(session, call, name))
        .raise(ctx.call_position()))
}

/// Checks that the first argument of `function` is a cluster handle.
pub fn expect_cluster(ctx: &NativeCallContext, function: &str, cluster: &Handle) -> RhaiResult<()> {
    crate::schema::Ty::Handle(Kind::Cluster)
        .check(&Dynamic::from(cluster.clone()))
        .map_err(|m| {
            Fault::new("stack::script::argument", format!("{function} {m}"))
                .label("not a cluster handle")
                .help("the first argument is the handle `cluster(...)` returns")
                .raise(ctx.call_position())
        })
}

impl<'a> Declaration<'a> {
    /// A declaration of a resource living on `cluster`, its id scoped by it.
    pub fn on_cluster(
        cluster: &'a Handle,
        kind: Kind,
        name: impl Into<String>,
        schema: &'static Schema,
        opts: Map,
        known: BTreeMap<String, Value>,
    ) -> Self {
        Declaration {
            kind,
            name: name.into(),
            cluster: Some(cluster),
            scoped: true,
            opts,
            schema,
            known,
        }
    }
}

/// Refuses each option of the current call that `schema` refuses, pointing
/// at its key: the first fails the call, unless linting reports them all.
pub fn check_options(
    ctx: &NativeCallContext,
    session: &Session,
    schema: &Schema,
    opts: &Map,
) -> RhaiResult<()> {
    let call = session.call_span(ctx);
    for problem in schema.validate(opts) {
        session.refuse(
            Fault::new("stack::script::option", problem.message)
                .label(if problem.key.is_empty() {
                    "in this call"
                } else {
                    "here"
                })
                .help_opt(problem.help)
                .at(key_span(session, call, &problem.key))
                .raise(ctx.call_position()),
        )?;
    }
    Ok(())
}

/// Records a declaration and returns its handle.
pub fn declare(ctx: &NativeCallContext, session: &Session, d: Declaration) -> RhaiResult<Handle> {
    let pos = ctx.call_position();
    let call = session.call_span(ctx);
    check_options(ctx, session, d.schema, &d.opts)?;
    let mut inputs = BTreeMap::new();
    let mut depends_on = Vec::new();
    for (key, value) in &d.opts {
        let key = key.as_str();
        if key == "depends_on" {
            depends_on = dependencies(value, key_span(session, call, key));
            continue;
        }
        let mut converted = convert::to_value(value, session).map_err(|message| {
            Fault::new(
                "stack::script::value",
                format!("option `{key}` of {}: {message}", d.schema.function),
            )
            .at(key_span(session, call, key))
            .raise(pos)
        })?;
        if key == "values" {
            converted = merge_values(converted);
        }
        inputs.insert(key.to_string(), converted);
    }
    let variant = d
        .schema
        .variants
        .and_then(|(k, _)| inputs.get(k))
        .and_then(Value::as_str)
        .map(str::to_string);
    for o in d.schema.options_for(variant.as_deref()) {
        if let (Some(default), false) = (o.default, inputs.contains_key(o.name)) {
            let json: serde_json::Value =
                serde_json::from_str(default).unwrap_or(serde_json::Value::Null);
            inputs.insert(o.name.to_string(), Value::from_json(&json));
        }
    }
    if let Some((key, fault)) = misplaced_secret(&d, &inputs) {
        return Err(fault.at(key_span(session, call, &key)).raise(pos));
    }
    let cluster_name = d.cluster.and_then(|c| cluster_name(session, c));
    let id = ResourceId::of(
        d.kind,
        if d.scoped {
            cluster_name.as_deref()
        } else {
            None
        },
        &d.name,
    );
    session.declare(Resource {
        id: id.clone(),
        kind: d.kind,
        name: d.name,
        cluster: d.cluster.map(|c| c.id.clone()),
        inputs,
        depends_on,
        known_outputs: d.known,
        span: call,
    });
    Ok(Handle { id, kind: d.kind })
}

/// The name of the cluster a handle refers to.
pub fn cluster_name(session: &Session, cluster: &Handle) -> Option<String> {
    session.with_resource(&cluster.id, |r| r.name.clone())
}

fn dependencies(value: &Dynamic, span: Span) -> Vec<Dependency> {
    let mut ids = Vec::new();
    if let Some(items) = value.read_lock::<rhai::Array>() {
        for item in items.iter() {
            dependency_ids(item, &mut ids);
        }
    }
    ids.into_iter().map(|id| Dependency { id, span }).collect()
}

/// The ids an entry of `depends_on` stands for: a handle, an id string, or a
/// module's result (a map) standing for every handle in it.
pub fn dependency_ids(item: &Dynamic, out: &mut Vec<ResourceId>) {
    match item.read_lock::<rhai::ImmutableString>() {
        Some(s) if !crate::token::has_tokens(&s) => out.push(ResourceId::new(s.as_str())),
        _ => handles_in(item, out),
    }
}

/// Every handle inside a value (strings inside a module's result are data,
/// not ids).
fn handles_in(item: &Dynamic, out: &mut Vec<ResourceId>) {
    if let Some(h) = item.read_lock::<Handle>() {
        out.push(h.id.clone());
    } else if let Some(map) = item.read_lock::<rhai::Map>() {
        map.values().for_each(|v| handles_in(v, out));
    } else if let Some(items) = item.read_lock::<rhai::Array>() {
        items.iter().for_each(|v| handles_in(v, out));
    }
}

/// Helm values may be a list of maps: they are deep-merged in order.
fn merge_values(value: Value) -> Value {
    match value {
        Value::List(items) => {
            let mut merged = Value::Map(BTreeMap::new());
            for item in &items {
                stack_engine::value::deep_merge(&mut merged, item);
            }
            merged
        }
        other => other,
    }
}

/// Where a secret sits inside a value: `data.url`, `env[0].value`.
pub fn sensitive_path(value: &Value) -> Option<String> {
    match value {
        Value::Map(map) => map.iter().find_map(|(k, v)| {
            if !v.is_sensitive() {
                return None;
            }
            Some(match sensitive_path(v) {
                Some(inner) if inner.starts_with('[') => format!("{k}{inner}"),
                Some(inner) => format!("{k}.{inner}"),
                None => k.clone(),
            })
        }),
        Value::List(items) => items.iter().enumerate().find_map(|(i, v)| {
            if !v.is_sensitive() {
                return None;
            }
            Some(match sensitive_path(v) {
                Some(inner) if inner.starts_with('[') => format!("[{i}]{inner}"),
                Some(inner) => format!("[{i}].{inner}"),
                None => format!("[{i}]"),
            })
        }),
        _ => None,
    }
}

/// Secrets may only be written into Kubernetes Secrets: not into
/// Helm values (kept in the Application and in git), labels or other objects.
/// Returns the option that holds one, with the fault to raise.
fn misplaced_secret(d: &Declaration, inputs: &BTreeMap<String, Value>) -> Option<(String, Fault)> {
    let guarded: &[&str] = match d.kind {
        Kind::HelmApp => &["values", "repo", "chart", "version", "path", "namespace"],
        Kind::Namespace => &["labels", "annotations"],
        Kind::Cluster => &["tags", "base_domain", "argocd_namespace", "gitops"],
        _ => &[],
    };
    for key in guarded {
        if let Some(value) = inputs.get(*key).filter(|v| v.is_sensitive()) {
            let path = match sensitive_path(value) {
                Some(inner) if inner.starts_with('[') => format!("{key}{inner}"),
                Some(inner) => format!("{key}.{inner}"),
                None => key.to_string(),
            };
            return Some((
                key.to_string(),
                Fault::new(
                    "stack::script::secret_placement",
                    format!("a secret value cannot go into `{path}` of {}", d.schema.function),
                )
                .label("this holds a secret")
                .help("secrets are only ever written into Kubernetes Secrets: declare one with manifest(c, #{ kind: \"Secret\", ... }) and point the chart at the Secret by name"),
            ));
        }
    }
    None
}
