//! `manifest(cluster, object_or_list)`: raw Kubernetes objects, as maps or
//! from `yaml(...)`.

use std::collections::BTreeMap;

use rhai::{Array, Dynamic, Engine, Map, NativeCallContext};
use stack_engine::{Kind, Value};

use super::FnDoc;
use crate::convert;
use crate::declare::{declare, Declaration};
use crate::fault::{Fault, RhaiResult};
use crate::handle::Handle;
use crate::schema::{opt, Opt, Schema, Ty, ADOPT, DEPENDS_ON, PROTECT};
use crate::session::Session;

const OPTIONS: &[Opt] = &[
    opt(
        "object",
        Ty::Map,
        "the Kubernetes object (set by `manifest` itself)",
    ),
    DEPENDS_ON,
    PROTECT,
    ADOPT,
];

pub static SCHEMA: Schema = Schema {
    function: "manifest",
    common: OPTIONS,
    variants: None,
};

pub static DOC: FnDoc = FnDoc {
    name: "manifest",
    signatures: &[
        "manifest(cluster: cluster handle, object: map) -> manifest handle",
        "manifest(cluster: cluster handle, objects: array) -> array of manifest handles",
        "manifest(cluster: cluster handle, object_or_list, opts: map) -> handle(s)",
    ],
    summary: "Declares raw Kubernetes objects. Each needs `apiVersion`, `kind` and `metadata.name`, all strings, and `metadata.namespace` when given is a string too (a namespace handle is passed as `ns.name`). Secret values may only be written into objects of kind `Secret`.",
    schema: Some(&SCHEMA),
    kind: Some(Kind::Manifest),
    example: r#"manifest(c, yaml(file("cluster-issuer.yaml")));"#,
};

fn field(map: &Map, key: &str) -> Option<String> {
    map.get(key)
        .filter(|v| v.is_string())
        .map(|v| v.to_string())
}

/// The identity fields of an object (`kind`, `apiVersion`, `metadata.name`,
/// `metadata.namespace`) are strings or absent: anything else is refused
/// with what it is, rather than dropped.
fn check_text(map: &Map, key: &str, path: &str) -> Result<(), String> {
    let Some(value) = map.get(key).filter(|v| !v.is_unit() && !v.is_string()) else {
        return Ok(());
    };
    let hint = if let Some(h) = value.read_lock::<crate::handle::Handle>() {
        format!("; pass its name, like `{}.name`", h.kind)
    } else if value.is_map() {
        "; a module's result or an options map? pass the one field that holds the text".to_string()
    } else {
        String::new()
    };
    Err(format!(
        "`{path}` must be a string, but it is {}{hint}",
        crate::schema::describe_value(value)
    ))
}

pub(crate) fn one(
    ctx: &NativeCallContext,
    session: &Session,
    cluster: &Handle,
    object: &Dynamic,
    opts: &Map,
) -> RhaiResult<Handle> {
    let pos = ctx.call_position();
    let bad = |message: String| {
        Fault::new("stack::script::manifest", message)
            .label("this object")
            .help("a Kubernetes object needs `apiVersion`, `kind` and `metadata: #{ name }`")
            .raise(pos)
    };
    let Some(map) = object.read_lock::<Map>().map(|m| m.clone()) else {
        return Err(bad(format!(
            "manifest expects an object (a map), got {}",
            crate::schema::describe_value(object)
        )));
    };
    check_text(&map, "kind", "kind").map_err(bad)?;
    check_text(&map, "apiVersion", "apiVersion").map_err(bad)?;
    if let Some(metadata) = map.get("metadata").filter(|m| !m.is_map()) {
        return Err(bad(format!(
            "`metadata` must be a map (`#{{ name, namespace }}`), but it is {}",
            crate::schema::describe_value(metadata)
        )));
    }
    let kind = field(&map, "kind").ok_or_else(|| bad("the object has no `kind`".into()))?;
    field(&map, "apiVersion").ok_or_else(|| bad(format!("the {kind} has no `apiVersion`")))?;
    let metadata = map
        .get("metadata")
        .and_then(|m| m.read_lock::<Map>().map(|m| m.clone()))
        .unwrap_or_default();
    check_text(&metadata, "name", "metadata.name").map_err(bad)?;
    check_text(&metadata, "namespace", "metadata.namespace").map_err(bad)?;
    let name = field(&metadata, "name")
        .ok_or_else(|| bad(format!("the {kind} has no `metadata.name`")))?;
    let namespace = field(&metadata, "namespace");
    // Secret values go only into the data of a Secret (`v1`: a kind of
    // that name in another API group is not one).
    let secret = kind == "Secret" && field(&map, "apiVersion").as_deref() == Some("v1");
    {
        let mut outside = map.clone();
        if secret {
            for key in stack_engine::objects::SECRET_DATA {
                outside.remove(key);
            }
        }
        let value = convert::to_value(&rhai::Dynamic::from_map(outside), session).map_err(bad)?;
        if let Some(path) = crate::declare::sensitive_path(&value) {
            let call = session.call_span(ctx);
            let top = path.split(['.', '[']).next().unwrap_or_default();
            let (kind, name) = (
                convert::readable(&kind, session),
                convert::readable(&name, session),
            );
            return Err(Fault::new("stack::script::secret_placement", format!("a secret value cannot go into `{path}` of the {kind} `{name}`"))
                .label("this holds a secret")
                .help("secrets are only ever written into the `data` or `stringData` of a Kubernetes Secret (`apiVersion: \"v1\"`): put it there and refer to that Secret")
                .at(crate::declare::key_span(session, call, top))
                .raise(pos));
        }
    }
    // Identity fields may come from known outputs (`ns.name`): the id uses
    // their values, the outputs keep the reference (and so the edge).
    let settle = |text: &str| super::guards::settle(session, text).map_err(|f| f.raise(pos));
    let object_name = settle(&name)?;
    // Kubernetes allows dots and colons in some names (`system:auth`), never
    // a `/`, a space or a control character: those would also break the id.
    let valid = !object_name.is_empty()
        && object_name.len() <= 253
        && !object_name
            .chars()
            .any(|c| c == '/' || c.is_whitespace() || c.is_control());
    if !valid {
        return Err(Fault::new(
            "stack::script::invalid_name",
            format!("`{object_name}` is not a valid object name"),
        )
        .label("this object")
        .help("an object name is 1 to 253 characters without `/`, spaces or control characters")
        .at(session.call_span(ctx))
        .raise(pos));
    }
    let id_name = match &namespace {
        Some(ns) => {
            let ns = crate::declare::check_name(ctx, session, "namespace", ns)?;
            format!("{}/{ns}/{object_name}", settle(&kind)?)
        }
        None => format!("{}/{object_name}", settle(&kind)?),
    };
    let mut known = BTreeMap::new();
    known.insert("name".to_string(), convert::string_value(&name, session));
    known.insert("kind".to_string(), convert::string_value(&kind, session));
    known.insert(
        "namespace".to_string(),
        namespace.map_or(Value::Null, |ns| convert::string_value(&ns, session)),
    );
    let mut opts = opts.clone();
    opts.insert("object".into(), Dynamic::from_map(map));
    declare(
        ctx,
        session,
        Declaration::on_cluster(cluster, Kind::Manifest, id_name, &SCHEMA, opts, known),
    )
}

fn manifest(
    ctx: NativeCallContext,
    session: &Session,
    cluster: Handle,
    objects: Dynamic,
    opts: Map,
) -> RhaiResult<Dynamic> {
    crate::declare::expect_cluster(&ctx, "manifest", &cluster)?;
    if let Some(list) = objects.read_lock::<Array>().map(|a| a.clone()) {
        let handles = list
            .iter()
            .map(|o| one(&ctx, session, &cluster, o, &opts).map(Dynamic::from))
            .collect::<RhaiResult<Array>>()?;
        return Ok(Dynamic::from_array(handles));
    }
    one(&ctx, session, &cluster, &objects, &opts).map(Dynamic::from)
}

pub fn register(engine: &mut Engine, session: &Session) {
    let s = session.clone();
    engine.register_fn(
        "manifest",
        move |ctx: NativeCallContext, cluster: Handle, objects: Dynamic| {
            manifest(ctx, &s, cluster, objects, Map::new())
        },
    );
    let s = session.clone();
    engine.register_fn(
        "manifest",
        move |ctx: NativeCallContext, cluster: Handle, objects: Dynamic, opts: Map| {
            manifest(ctx, &s, cluster, objects, opts)
        },
    );
}
