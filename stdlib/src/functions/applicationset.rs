//! `applicationset(cluster, name, opts)`: an Argo CD `ApplicationSet`,
//! which makes one Application per element its generators produce — a
//! file or a directory in a git repository, an item of a list, a cluster
//! Argo CD knows, or the pairs of two generators (matrix). The template is
//! checked for what an Application needs. Declared as a manifest in Argo
//! CD's namespace, so it is applied, rendered and owned like one.

use rhai::{Array, Dynamic, Engine, ImmutableString, Map, NativeCallContext};
use stack_engine::Kind;

use super::{validate_nested, FnDoc};
use crate::declare::{check_name, check_options};
use crate::fault::{Fault, RhaiResult};
use crate::handle::Handle;
use crate::schema::{defaulted, opt, required, Opt, Schema, Ty, ADOPT, DEPENDS_ON, PROTECT};
use crate::session::Session;

const OPTIONS: &[Opt] = &[
    required(
        "generators",
        Ty::MapList,
        "what makes the Applications, each one of `#{ git }`, `#{ list }`, `#{ clusters }`, `#{ matrix }`",
    ),
    required(
        "template",
        Ty::Map,
        "the Application each element becomes: `#{ metadata: #{ name }, spec: #{ project, source, destination } }`, with `{{...}}` parameters",
    ),
    defaulted(
        "go_template",
        Ty::Bool,
        "false",
        "parameters are Go templates (`{{ .path.basename }}`), missing keys an error",
    ),
    defaulted(
        "preserve_resources_on_deletion",
        Ty::Bool,
        "false",
        "keep what the Applications deployed when they are deleted (an element removed, or the set itself)",
    ),
    DEPENDS_ON,
    PROTECT,
    ADOPT,
];

pub static SCHEMA: Schema = Schema {
    function: "applicationset",
    common: OPTIONS,
    variants: None,
};

static GENERATOR: Schema = Schema {
    function: "an ApplicationSet generator",
    common: &[
        opt(
            "git",
            Ty::Map,
            "`#{ repo, revision, files }` or `#{ repo, revision, directories, exclude }`",
        ),
        opt(
            "list",
            Ty::MapList,
            "the elements, each a map of parameters",
        ),
        opt(
            "clusters",
            Ty::Map,
            "`#{ selector, values }`: the clusters Argo CD knows whose labels match `selector`",
        ),
        opt(
            "matrix",
            Ty::MapList,
            "two generators whose elements are paired",
        ),
    ],
    variants: None,
};

static GIT: Schema = Schema {
    function: "a git generator",
    common: &[
        required("repo", Ty::Str, "URL of the repository"),
        defaulted("revision", Ty::Str, "\"HEAD\"", "branch, tag or commit"),
        opt(
            "files",
            Ty::StrList,
            "path patterns of JSON or YAML files: one element per file (`staging/*.json`)",
        ),
        opt(
            "directories",
            Ty::StrList,
            "path patterns of directories: one element per directory",
        ),
        opt(
            "exclude",
            Ty::StrList,
            "directory patterns left out of `directories`",
        ),
    ],
    variants: None,
};

static CLUSTERS: Schema = Schema {
    function: "a clusters generator",
    common: &[
        opt(
            "selector",
            Ty::Labels,
            "labels the cluster's Argo CD Secret must carry (all clusters when absent)",
        ),
        opt("values", Ty::StrMap, "extra parameters, `{{values.<key>}}`"),
    ],
    variants: None,
};

pub static DOC: FnDoc = FnDoc {
    name: "applicationset",
    signatures: &["applicationset(cluster: cluster handle, name: string, opts: map) -> manifest handle"],
    summary: "Declares an Argo CD `ApplicationSet` in the cluster's Argo CD namespace: its generators (`git` files or directories, `list`, `clusters`, `matrix` of two) make one Application per element from `template`, which is checked for an Application's `metadata.name`, `spec.source` (or `sources`) and `spec.destination` (`server` or `name`, and `namespace`); `project` defaults to \"default\".",
    schema: Some(&SCHEMA),
    kind: Some(Kind::Manifest),
    example: r#"applicationset(c, "services", #{
    generators: [#{ git: #{ repo: "https://git.example.com/services-root.git", files: ["staging/*.json"] } }],
    template: #{
        metadata: #{ name: "{{service}}-staging" },
        spec: #{
            project: "{{team}}",
            source: #{ repoURL: "{{repoURL}}", targetRevision: "{{targetRevision}}", path: "helm" },
            destination: #{ server: "https://kubernetes.default.svc", namespace: "{{team}}" },
        },
    },
});"#,
};

fn map_of(value: &Dynamic) -> Map {
    value
        .read_lock::<Map>()
        .map(|m| m.clone())
        .unwrap_or_default()
}

fn list_of(value: Option<&Dynamic>) -> Array {
    value
        .and_then(|v| v.read_lock::<Array>().map(|a| a.clone()))
        .unwrap_or_default()
}

/// One generator as Argo CD spells it; `nested` when inside a matrix
/// (which takes no matrix of its own).
fn generator(
    ctx: &NativeCallContext,
    session: &Session,
    given: &Map,
    nested: bool,
) -> RhaiResult<Dynamic> {
    validate_nested(ctx, session, "generators", &GENERATOR, given)?;
    let refuse = |message: String, help: &str| {
        Fault::new("stack::script::option", message)
            .label("in `generators`")
            .help(help.to_string())
            .at(crate::declare::key_span(
                session,
                session.call_span(ctx),
                "generators",
            ))
            .raise(ctx.call_position())
    };
    if given.len() != 1 {
        return Err(refuse(
            format!(
                "a generator is one of `git`, `list`, `clusters`, `matrix`; this one has {}",
                given.len()
            ),
            "give each generator its own map: `generators: [#{ git: ... }, #{ list: [...] }]`",
        ));
    }
    let (key, value) = given.iter().next().expect("one entry");
    let mut out = Map::new();
    match key.as_str() {
        "git" => {
            let git = map_of(value);
            validate_nested(ctx, session, "generators", &GIT, &git)?;
            let paths = |key: &str, exclude: bool| -> Array {
                list_of(git.get(key))
                    .into_iter()
                    .map(|path| {
                        let mut p = Map::new();
                        p.insert("path".into(), path);
                        if exclude {
                            p.insert("exclude".into(), true.into());
                        }
                        Dynamic::from_map(p)
                    })
                    .collect()
            };
            let (files, mut directories) = (paths("files", false), paths("directories", false));
            if files.is_empty() == directories.is_empty() {
                return Err(refuse(
                    "a git generator takes `files` or `directories`, one of the two".into(),
                    "`files: [\"staging/*.json\"]` makes one element per file, `directories: [\"apps/*\"]` one per directory",
                ));
            }
            directories.extend(paths("exclude", true));
            let mut spec = Map::new();
            spec.insert(
                "repoURL".into(),
                git.get("repo").cloned().unwrap_or_default(),
            );
            spec.insert(
                "revision".into(),
                git.get("revision")
                    .cloned()
                    .unwrap_or_else(|| "HEAD".into()),
            );
            if files.is_empty() {
                spec.insert("directories".into(), Dynamic::from_array(directories));
            } else {
                spec.insert("files".into(), Dynamic::from_array(files));
            }
            out.insert("git".into(), Dynamic::from_map(spec));
        }
        "list" => {
            let mut spec = Map::new();
            spec.insert("elements".into(), Dynamic::from_array(list_of(Some(value))));
            out.insert("list".into(), Dynamic::from_map(spec));
        }
        "clusters" => {
            let clusters = map_of(value);
            validate_nested(ctx, session, "generators", &CLUSTERS, &clusters)?;
            let mut spec = Map::new();
            if let Some(selector) = clusters.get("selector") {
                let mut s = Map::new();
                s.insert("matchLabels".into(), selector.clone());
                spec.insert("selector".into(), Dynamic::from_map(s));
            }
            if let Some(values) = clusters.get("values") {
                spec.insert("values".into(), values.clone());
            }
            out.insert("clusters".into(), Dynamic::from_map(spec));
        }
        _ => {
            let inner = list_of(Some(value));
            if nested || inner.len() != 2 {
                return Err(refuse(
                    "a matrix pairs exactly two generators, neither of them a matrix".into(),
                    "`matrix: [#{ git: ... }, #{ list: [...] }]`",
                ));
            }
            let generators = inner
                .iter()
                .map(|g| generator(ctx, session, &map_of(g), true))
                .collect::<RhaiResult<Array>>()?;
            let mut spec = Map::new();
            spec.insert("generators".into(), Dynamic::from_array(generators));
            out.insert("matrix".into(), Dynamic::from_map(spec));
        }
    }
    Ok(Dynamic::from_map(out))
}

/// What the template lacks of an Application, if anything.
fn template_problem(template: &Map) -> Option<&'static str> {
    let metadata = template.get("metadata").map(map_of).unwrap_or_default();
    let spec = template.get("spec").map(map_of).unwrap_or_default();
    let destination = spec.get("destination").map(map_of).unwrap_or_default();
    if !metadata.get("name").is_some_and(Dynamic::is_string) {
        Some("`metadata.name`")
    } else if !spec.contains_key("source") && !spec.contains_key("sources") {
        Some("`spec.source` (or `spec.sources`)")
    } else if !destination.contains_key("server") && !destination.contains_key("name") {
        Some("`spec.destination.server` (or `spec.destination.name`)")
    } else if !destination.contains_key("namespace") {
        Some("`spec.destination.namespace`")
    } else {
        None
    }
}

fn applicationset(
    ctx: NativeCallContext,
    session: &Session,
    cluster: Handle,
    name: ImmutableString,
    opts: Map,
) -> RhaiResult<Handle> {
    crate::declare::expect_cluster(&ctx, "applicationset", &cluster)?;
    let name = check_name(&ctx, session, "applicationset", &name)?;
    check_options(&ctx, session, &SCHEMA, &opts)?;
    let generators = list_of(opts.get("generators"))
        .iter()
        .map(|g| generator(&ctx, session, &map_of(g), false))
        .collect::<RhaiResult<Array>>()?;
    let mut template = opts.get("template").map(map_of).unwrap_or_default();
    if let Some(missing) = template_problem(&template) {
        return Err(Fault::new(
            "stack::script::option",
            format!("the template of ApplicationSet `{name}` has no {missing}, which every Application needs"),
        )
        .label("in `template`")
        .help("a template is an Application: `#{ metadata: #{ name: \"{{service}}\" }, spec: #{ source: #{ repoURL, path, targetRevision }, destination: #{ server, namespace } } }`")
        .at(crate::declare::key_span(session, session.call_span(&ctx), "template"))
        .raise(ctx.call_position()));
    }
    let mut spec_of_template = template.get("spec").map(map_of).unwrap_or_default();
    spec_of_template
        .entry("project".into())
        .or_insert_with(|| "default".into());
    template.insert("spec".into(), Dynamic::from_map(spec_of_template));
    let flag = |key: &str| {
        opts.get(key)
            .and_then(|v| v.as_bool().ok())
            .unwrap_or(false)
    };
    let mut spec = Map::new();
    if flag("go_template") {
        spec.insert("goTemplate".into(), true.into());
        spec.insert(
            "goTemplateOptions".into(),
            Dynamic::from_array(vec!["missingkey=error".into()]),
        );
    }
    spec.insert("generators".into(), Dynamic::from_array(generators));
    spec.insert("template".into(), Dynamic::from_map(template));
    if flag("preserve_resources_on_deletion") {
        let mut policy = Map::new();
        policy.insert("preserveResourcesOnDeletion".into(), true.into());
        spec.insert("syncPolicy".into(), Dynamic::from_map(policy));
    }
    let object = super::appproject::argocd_object(session, &cluster, "ApplicationSet", &name, spec);
    let declared = super::appproject::declaration_options(&opts);
    super::manifest::one(
        &ctx,
        session,
        &cluster,
        &Dynamic::from_map(object),
        &declared,
    )
}

pub fn register(engine: &mut Engine, session: &Session) {
    let s = session.clone();
    engine.register_fn(
        "applicationset",
        move |ctx: NativeCallContext, cluster: Handle, name: ImmutableString, opts: Map| {
            applicationset(ctx, &s, cluster, name, opts)
        },
    );
}
