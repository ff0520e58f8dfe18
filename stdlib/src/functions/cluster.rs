//! `cluster(name, opts)`: a Kubernetes cluster, created by a provider or
//! already there.

use std::collections::BTreeMap;

use rhai::{Engine, ImmutableString, Map, NativeCallContext};
use stack_engine::{Kind, Value};

use super::{validate_nested, FnDoc};
use crate::declare::{check_name, declare, Declaration};
use crate::fault::RhaiResult;
use crate::handle::Handle;
use crate::schema::{defaulted, opt, required, Opt, Schema, Ty, DEPENDS_ON, PROTECT};
use crate::session::Session;

pub const PROVIDERS: &[&str] = &["existing", "kind", "eks", "aks", "sks"];

const COMMON: &[Opt] = &[
    required("provider", Ty::OneOf(PROVIDERS), "who provides the cluster"),
    opt(
        "base_domain",
        Ty::Str,
        "DNS domain under which the platform's hosts live (`grafana.<base_domain>`)",
    ),
    defaulted(
        "delivery",
        Ty::OneOf(&["direct", "gitops"]),
        "\"direct\"",
        "how objects reach the cluster: applied directly, or committed to a GitOps repository",
    ),
    opt(
        "gitops",
        Ty::Map,
        "with `delivery: \"gitops\"`: `#{ repo, url, path, branch }` of the GitOps repository",
    ),
    defaulted(
        "argocd_namespace",
        Ty::Str,
        "\"argocd\"",
        "namespace Argo CD runs in",
    ),
    defaulted(
        "argocd_installed",
        Ty::Bool,
        "false",
        "Argo CD already runs on the cluster, installed outside this stack (otherwise apps need a `bootstrap`)",
    ),
    opt("tags", Ty::StrMap, "tags or labels put on the cloud resources"),
    opt(
        "timeout",
        Ty::Duration,
        "how long creating, changing or deleting the cluster may take (default \"10m\", \"30m\" for EKS)",
    ),
    DEPENDS_ON,
    PROTECT,
];

const EXISTING: &[Opt] = &[
    opt(
        "context",
        Ty::Str,
        "kubeconfig context to use (default: the current context)",
    ),
    opt(
        "kubeconfig",
        Ty::Str,
        "path of the kubeconfig file (default: `KUBECONFIG` or ~/.kube/config)",
    ),
    opt(
        "version",
        Ty::Str,
        "Kubernetes version the cluster runs, like \"1.20\": `api_version` and the modules choose API versions by it, and the run checks it against the cluster",
    ),
];

const KIND: &[Opt] = &[
    opt(
        "version",
        Ty::Str,
        "Kubernetes version of the node image, like \"1.30\"",
    ),
    defaulted(
        "workers",
        Ty::Int,
        "0",
        "worker nodes besides the control plane",
    ),
];

const EKS: &[Opt] = &[
    required("region", Ty::Str, "AWS region"),
    required("version", Ty::Str, "Kubernetes version, like \"1.30\""),
    required("subnet_ids", Ty::StrList, "subnets of the cluster's VPC"),
    required("role_arn", Ty::Str, "IAM role of the control plane"),
    opt(
        "node_groups",
        Ty::MapList,
        "managed node groups: `#{ name, instance_type, min, max, desired }`",
    ),
    defaulted(
        "endpoint_public_access",
        Ty::Bool,
        "true",
        "whether the API endpoint is reachable from the internet",
    ),
    opt(
        "logging",
        Ty::StrList,
        "control plane log types to enable (api, audit, authenticator, ...)",
    ),
    opt(
        "adopt",
        Ty::Bool,
        "take over an EKS cluster of this name that exists already and no stack owns",
    ),
];

const AKS: &[Opt] = &[
    required("resource_group", Ty::Str, "Azure resource group"),
    required("location", Ty::Str, "Azure location"),
    required("version", Ty::Str, "Kubernetes version"),
    opt(
        "node_pools",
        Ty::MapList,
        "node pools: `#{ name, vm_size, min, max }`",
    ),
];

const SKS: &[Opt] = &[
    required("zone", Ty::Str, "Exoscale zone"),
    required("version", Ty::Str, "Kubernetes version"),
    opt(
        "node_pools",
        Ty::MapList,
        "node pools: `#{ name, instance_type, size }`",
    ),
];

pub static SCHEMA: Schema = Schema {
    function: "cluster",
    common: COMMON,
    variants: Some((
        "provider",
        &[
            ("existing", EXISTING),
            ("kind", KIND),
            ("eks", EKS),
            ("aks", AKS),
            ("sks", SKS),
        ],
    )),
};

pub static GITOPS: Schema = Schema {
    function: "cluster `gitops`",
    common: &[
        required(
            "repo",
            Ty::Str,
            "URL (or local path) of the GitOps repository",
        ),
        opt(
            "url",
            Ty::Str,
            "URL Argo CD clones the repository from, when `repo` is a path on this machine (defaults to `repo` when it is a URL, else the working copy's `origin` remote)",
        ),
        defaulted("path", Ty::Str, "\"\"", "directory inside the repository"),
        defaulted(
            "branch",
            Ty::Str,
            "\"main\"",
            "branch to commit to and sync from",
        ),
    ],
    variants: None,
};

pub static NODE_GROUP: Schema = Schema {
    function: "an EKS node group",
    common: &[
        required("name", Ty::Str, "node group name"),
        required("instance_type", Ty::Str, "EC2 instance type"),
        required("min", Ty::Int, "minimum size"),
        required("max", Ty::Int, "maximum size"),
        opt("desired", Ty::Int, "desired size (default: `min`)"),
        opt("labels", Ty::Labels, "Kubernetes labels of the nodes"),
    ],
    variants: None,
};

pub static DOC: FnDoc = FnDoc {
    name: "cluster",
    signatures: &["cluster(name: string, opts: map) -> cluster handle"],
    summary: "Declares a Kubernetes cluster. `provider` chooses who provides it: `existing` (a kubeconfig context), `kind`, `eks`, `aks` or `sks`. Everything declared on the cluster depends on it.",
    schema: Some(&SCHEMA),
    kind: Some(Kind::Cluster),
    example: r#"let c = cluster("dev", #{ provider: "kind", version: "1.30", base_domain: "dev.localtest.me" });"#,
};

fn cluster(
    ctx: NativeCallContext,
    session: &Session,
    name: ImmutableString,
    mut opts: Map,
) -> RhaiResult<Handle> {
    let name = check_name(&ctx, session, "cluster", &name)?;
    if let Some(mut gitops) = opts
        .get("gitops")
        .and_then(|g| g.read_lock::<Map>().map(|m| m.clone()))
    {
        validate_nested(&ctx, session, "gitops", &GITOPS, &gitops)?;
        gitops.entry("path".into()).or_insert_with(|| "".into());
        gitops
            .entry("branch".into())
            .or_insert_with(|| "main".into());
        opts.insert("gitops".into(), gitops.into());
    }
    if opts.get("provider").is_some_and(|p| p.to_string() == "eks") {
        if let Some(groups) = opts
            .get("node_groups")
            .and_then(|g| g.read_lock::<rhai::Array>().map(|a| a.clone()))
        {
            for group in groups
                .iter()
                .filter_map(|g| g.read_lock::<Map>().map(|m| m.clone()))
            {
                validate_nested(&ctx, session, "node_groups", &NODE_GROUP, &group)?;
            }
        }
    }
    if opts
        .get("delivery")
        .is_some_and(|d| d.to_string() == "gitops")
        && !opts.contains_key("gitops")
    {
        let problem = crate::fault::Fault::new(
            "stack::script::option",
            "`delivery: \"gitops\"` needs the `gitops` option",
        )
        .label("gitops delivery")
        .help("add `gitops: #{ repo: \"...\", path: \"clusters\", branch: \"main\" }`");
        let call = session.call_span(&ctx);
        return Err(problem
            .at(crate::declare::key_span(session, call, "delivery"))
            .raise(ctx.call_position()));
    }
    let mut known = BTreeMap::new();
    known.insert("name".to_string(), Value::String(name.to_string()));
    for key in ["base_domain", "argocd_namespace"] {
        if let Some(v) = opts.get(key) {
            known.insert(
                key.to_string(),
                crate::convert::string_value(&v.to_string(), session),
            );
        }
    }
    known
        .entry("argocd_namespace".to_string())
        .or_insert_with(|| Value::str("argocd"));
    declare(
        &ctx,
        session,
        Declaration {
            kind: Kind::Cluster,
            name: name.to_string(),
            cluster: None,
            scoped: false,
            opts,
            schema: &SCHEMA,
            known,
        },
    )
}

pub fn register(engine: &mut Engine, session: &Session) {
    let s = session.clone();
    engine.register_fn(
        "cluster",
        move |ctx: NativeCallContext, name: ImmutableString, opts: Map| {
            cluster(ctx, &s, name, opts)
        },
    );
}
