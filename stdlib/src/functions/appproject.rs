//! `appproject(cluster, name, opts)`: an Argo CD `AppProject`, the bounds
//! of a team's self-service: which repositories its Applications may use,
//! which namespaces they may deploy into, and which cluster-scoped kinds
//! they may create (none unless allowed). Declared as a manifest in Argo
//! CD's namespace, so it is applied, rendered and owned like one.

use rhai::{Array, Dynamic, Engine, ImmutableString, Map, NativeCallContext};
use stack_engine::Kind;

use super::{validate_nested, FnDoc};
use crate::declare::{check_name, check_options};
use crate::fault::{Fault, RhaiResult};
use crate::handle::Handle;
use crate::schema::{defaulted, opt, required, Opt, Schema, Ty, ADOPT, DEPENDS_ON, PROTECT};
use crate::session::Session;

/// The in-cluster API server, as Argo CD names it.
const IN_CLUSTER: &str = "https://kubernetes.default.svc";

const OPTIONS: &[Opt] = &[
    opt("description", Ty::Str, "what the project is for"),
    defaulted(
        "source_repos",
        Ty::StrList,
        "[\"*\"]",
        "repositories its Applications may use (`*` for any)",
    ),
    opt(
        "namespaces",
        Ty::StrList,
        "namespaces of this cluster its Applications may deploy into",
    ),
    opt(
        "destinations",
        Ty::MapList,
        "more destinations `#{ namespace, server }` or `#{ namespace, name }` (another cluster Argo CD knows)",
    ),
    defaulted(
        "cluster_resources",
        Ty::MapList,
        "[]",
        "cluster-scoped kinds its Applications may create, each `#{ group, kind }` (`group: \"\"` for the core group); none by default",
    ),
    opt(
        "namespace_resources_denied",
        Ty::MapList,
        "namespaced kinds its Applications may not create, each `#{ group, kind }`",
    ),
    opt(
        "roles",
        Ty::MapList,
        "project roles, each `#{ name, description, policies, groups }`",
    ),
    DEPENDS_ON,
    PROTECT,
    ADOPT,
];

pub static SCHEMA: Schema = Schema {
    function: "appproject",
    common: OPTIONS,
    variants: None,
};

static DESTINATION: Schema = Schema {
    function: "an AppProject destination",
    common: &[
        required(
            "namespace",
            Ty::Str,
            "namespace it may deploy into (`*` for any)",
        ),
        opt("server", Ty::Str, "API server URL of the cluster"),
        opt("name", Ty::Str, "name of the cluster in Argo CD"),
    ],
    variants: None,
};

static GROUP_KIND: Schema = Schema {
    function: "a kind of an AppProject list",
    common: &[
        required(
            "group",
            Ty::Str,
            "API group (`\"\"` for the core group, `*` for any)",
        ),
        required("kind", Ty::Str, "kind (`*` for any)"),
    ],
    variants: None,
};

static ROLE: Schema = Schema {
    function: "an AppProject role",
    common: &[
        required("name", Ty::Str, "role name"),
        opt("description", Ty::Str, "what the role is for"),
        opt(
            "policies",
            Ty::StrList,
            "Casbin policy lines, `p, proj:<project>:<role>, applications, get, <project>/*, allow`",
        ),
        opt("groups", Ty::StrList, "OIDC groups given the role"),
    ],
    variants: None,
};

pub static DOC: FnDoc = FnDoc {
    name: "appproject",
    signatures: &["appproject(cluster: cluster handle, name: string, opts: map) -> manifest handle"],
    summary: "Declares an Argo CD `AppProject` in the cluster's Argo CD namespace: the repositories its Applications may use, the namespaces they may deploy into (`namespaces`, `destinations`: at least one) and the cluster-scoped kinds they may create (none unless `cluster_resources` allows them), so that a team's self-service stays inside its own namespaces. An Application joins it with `project: p.name`.",
    schema: Some(&SCHEMA),
    kind: Some(Kind::Manifest),
    example: r#"let web = appproject(c, "team-web", #{
    namespaces: ["team-web"],
    source_repos: ["https://git.example.com/web/*"],
});
helm_app(c, "shop", #{ repo: "https://charts.example.com", chart: "shop", version: "1.2.0",
                       namespace: "team-web", project: web.name });"#,
};

fn appproject(
    ctx: NativeCallContext,
    session: &Session,
    cluster: Handle,
    name: ImmutableString,
    opts: Map,
) -> RhaiResult<Handle> {
    crate::declare::expect_cluster(&ctx, "appproject", &cluster)?;
    let name = check_name(&ctx, session, "appproject", &name)?;
    check_options(&ctx, session, &SCHEMA, &opts)?;
    let list = |key: &str| -> Array {
        opts.get(key)
            .and_then(|v| v.read_lock::<Array>().map(|a| a.clone()))
            .unwrap_or_default()
    };
    let entries = |key: &str, schema: &Schema| -> RhaiResult<Vec<Map>> {
        let mut maps = Vec::new();
        for item in list(key) {
            let map = item
                .read_lock::<Map>()
                .map(|m| m.clone())
                .unwrap_or_default();
            validate_nested(&ctx, session, key, schema, &map)?;
            maps.push(map);
        }
        Ok(maps)
    };
    let mut destinations: Array = list("namespaces")
        .into_iter()
        .map(|namespace| {
            let mut d = Map::new();
            d.insert("server".into(), IN_CLUSTER.into());
            d.insert("namespace".into(), namespace);
            Dynamic::from_map(d)
        })
        .collect();
    for mut d in entries("destinations", &DESTINATION)? {
        if !d.contains_key("server") && !d.contains_key("name") {
            d.insert("server".into(), IN_CLUSTER.into());
        }
        destinations.push(Dynamic::from_map(d));
    }
    if destinations.is_empty() {
        return Err(Fault::new(
            "stack::script::option",
            format!("the AppProject `{name}` has nowhere to deploy"),
        )
        .label("in this call")
        .help("give `namespaces: [\"team-web\"]` (on this cluster) or `destinations`")
        .raise(ctx.call_position()));
    }
    let kinds = |key: &str| -> RhaiResult<Array> {
        Ok(entries(key, &GROUP_KIND)?
            .into_iter()
            .map(Dynamic::from_map)
            .collect())
    };
    let mut spec = Map::new();
    if let Some(description) = opts.get("description") {
        spec.insert("description".into(), description.clone());
    }
    let repos = opts
        .get("source_repos")
        .cloned()
        .unwrap_or_else(|| Dynamic::from_array(vec!["*".into()]));
    spec.insert("sourceRepos".into(), repos);
    spec.insert("destinations".into(), Dynamic::from_array(destinations));
    spec.insert(
        "clusterResourceWhitelist".into(),
        Dynamic::from_array(kinds("cluster_resources")?),
    );
    let denied = kinds("namespace_resources_denied")?;
    if !denied.is_empty() {
        spec.insert(
            "namespaceResourceBlacklist".into(),
            Dynamic::from_array(denied),
        );
    }
    let roles: Array = entries("roles", &ROLE)?
        .into_iter()
        .map(Dynamic::from_map)
        .collect();
    if !roles.is_empty() {
        spec.insert("roles".into(), Dynamic::from_array(roles));
    }
    let object = argocd_object(session, &cluster, "AppProject", &name, spec);
    super::manifest::one(
        &ctx,
        session,
        &cluster,
        &Dynamic::from_map(object),
        &declaration_options(&opts),
    )
}

/// An Argo CD object of `kind` named `name` in the cluster's Argo CD
/// namespace, with `spec`.
pub(crate) fn argocd_object(
    session: &Session,
    cluster: &Handle,
    kind: &str,
    name: &str,
    spec: Map,
) -> Map {
    let argocd_namespace = session
        .with_resource(&cluster.id, |r| {
            r.input_str("argocd_namespace").map(str::to_string)
        })
        .flatten()
        .unwrap_or_else(|| "argocd".to_string());
    let mut metadata = Map::new();
    metadata.insert("name".into(), name.to_string().into());
    metadata.insert("namespace".into(), argocd_namespace.into());
    let mut object = Map::new();
    object.insert(
        "apiVersion".into(),
        stack_engine::objects::APPLICATION_API_VERSION.into(),
    );
    object.insert("kind".into(), kind.into());
    object.insert("metadata".into(), Dynamic::from_map(metadata));
    object.insert("spec".into(), Dynamic::from_map(spec));
    object
}

/// The options of the declaration itself, handed on to `manifest`.
pub(crate) fn declaration_options(opts: &Map) -> Map {
    opts.iter()
        .filter(|(key, _)| matches!(key.as_str(), "depends_on" | "protect" | "adopt"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

pub fn register(engine: &mut Engine, session: &Session) {
    let s = session.clone();
    engine.register_fn(
        "appproject",
        move |ctx: NativeCallContext, cluster: Handle, name: ImmutableString, opts: Map| {
            appproject(ctx, &s, cluster, name, opts)
        },
    );
}
