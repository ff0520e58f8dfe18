//! `oidc(name, opts)`: an OpenID Connect provider and a client of it, passed
//! to modules as the common `oidc` interface (`issuer_url`, `client_id`,
//! `client_secret`), so Keycloak and Cognito can replace each other.

use std::collections::BTreeMap;

use rhai::{Engine, ImmutableString, Map, NativeCallContext};
use stack_engine::{Kind, OutputRef, Value};

use super::FnDoc;
use crate::convert::string_value;
use crate::declare::{declare, key_span, Declaration};
use crate::fault::{Fault, RhaiResult};
use crate::handle::Handle;
use crate::schema::{defaulted, opt, required, Opt, Schema, Ty, DEPENDS_ON, PROTECT};
use crate::session::Session;
use crate::token;

const COMMON: &[Opt] = &[
    required(
        "provider",
        Ty::OneOf(&["external", "keycloak", "cognito"]),
        "who runs the identity provider",
    ),
    opt(
        "redirect_uris",
        Ty::StrList,
        "redirect URIs allowed for the client",
    ),
    DEPENDS_ON,
    PROTECT,
];

const EXTERNAL: &[Opt] = &[
    required(
        "issuer_url",
        Ty::Str,
        "the issuer; `/.well-known/openid-configuration` must be served below it",
    ),
    required("client_id", Ty::Str, "the client's id"),
    required(
        "client_secret",
        Ty::Str,
        "the client's secret: a `secret(...)` value",
    ),
];

const KEYCLOAK: &[Opt] = &[
    required(
        "cluster",
        Ty::Handle(Kind::Cluster),
        "the cluster Keycloak runs on (it needs a `base_domain`)",
    ),
    required("realm", Ty::Str, "realm declared for the platform"),
    opt(
        "client_id",
        Ty::Str,
        "the client's id (default: the oidc name)",
    ),
    opt(
        "client_secret",
        Ty::Str,
        "a `secret(...)` for the client (default: generated once, kept in the Secret `<name>-oidc-client`)",
    ),
    defaulted(
        "namespace",
        Ty::Str,
        "\"keycloak\"",
        "Keycloak's namespace, where the realm is imported from",
    ),
    opt(
        "url",
        Ty::Str,
        "Keycloak inside the cluster (default `http://keycloak.<namespace>.svc`); giving it says Keycloak runs already, so none need be declared (on a GitOps cluster it must be given)",
    ),
    defaulted(
        "admin_user",
        Ty::Str,
        "\"admin\"",
        "Keycloak's admin user",
    ),
    defaulted(
        "admin_credentials",
        Ty::Str,
        "\"keycloak-credentials\"",
        "Secret holding the admin password under `admin-password`, as std/keycloak writes it",
    ),
    defaulted(
        "image",
        Ty::Str,
        "\"docker.io/adorsys/keycloak-config-cli:6.5.0-24.0.5\"",
        "keycloak-config-cli image that imports the realm",
    ),
    opt(
        "install",
        Ty::Bool,
        "install Keycloak with the realm (the namespace and a `keycloak` helm_app, its passwords made once into `admin_credentials`); default: when the stack declares no Keycloak in the realm's namespace and the cluster is delivered directly. `install: false` with `url`: a Keycloak that runs outside the stack",
    ),
];

const COGNITO: &[Opt] = &[
    required("user_pool_id", Ty::Str, "the Cognito user pool"),
    required("region", Ty::Str, "AWS region of the user pool"),
    opt(
        "client_name",
        Ty::Str,
        "the app client's name (default: the oidc name)",
    ),
    opt(
        "scopes",
        Ty::StrList,
        "OAuth scopes allowed (default `openid`, `email`, `profile`)",
    ),
    opt("domain", Ty::Str, "prefix of the hosted UI domain"),
];

pub static SCHEMA: Schema = Schema {
    function: "oidc",
    common: COMMON,
    variants: Some((
        "provider",
        &[
            ("external", EXTERNAL),
            ("keycloak", KEYCLOAK),
            ("cognito", COGNITO),
        ],
    )),
};

pub static DOC: FnDoc = FnDoc {
    name: "oidc",
    signatures: &["oidc(name: string, opts: map) -> oidc handle"],
    summary: "Declares an OpenID Connect provider and a client of it. `external` uses an issuer that already exists; `keycloak` declares a realm and a client in the Keycloak on a cluster (imported by a keycloak-config-cli Job in Keycloak's namespace); `cognito` creates an app client (and optionally the hosted UI domain) in an existing Cognito user pool. `client_secret` is always sensitive.",
    schema: Some(&SCHEMA),
    kind: Some(Kind::Oidc),
    example: r#"let sso = oidc("sso", #{ provider: "keycloak", cluster: c, realm: "platform" });"#,
};

fn oidc(
    ctx: NativeCallContext,
    session: &Session,
    name: ImmutableString,
    mut opts: Map,
) -> RhaiResult<Handle> {
    let name = crate::declare::check_name(&ctx, session, "oidc", &name)?;
    let call = session.call_span(&ctx);
    let provider = opts
        .get("provider")
        .map(|p| p.to_string())
        .unwrap_or_default();
    let mut known = BTreeMap::new();
    let mut cluster: Option<Handle> = None;
    let mut requirement = None;
    if let Some(secret) = opts.get("client_secret") {
        let text = secret.to_string();
        if !token::has_tokens(&text) {
            return Err(Fault::new("stack::script::plain_secret", "`client_secret` is written in clear in the script")
                .label("a plain string")
                .help("read it with `secret(\"env:NAME\")` or `secret(\"file:path\")`, so it is never printed or stored in clear")
                .at(key_span(session, call, "client_secret"))
                .raise(ctx.call_position()));
        }
        known.insert("client_secret".to_string(), string_value(&text, session));
    }
    match provider.as_str() {
        "external" => {
            for key in ["issuer_url", "client_id"] {
                if let Some(v) = opts.get(key) {
                    known.insert(key.to_string(), string_value(&v.to_string(), session));
                }
            }
        }
        "keycloak" => {
            cluster = opts
                .get("cluster")
                .and_then(|c| c.clone().try_cast::<Handle>());
            if let Some(c) = &cluster {
                let has_domain = session
                    .resource(&c.id)
                    .is_some_and(|r| r.known_outputs.contains_key("base_domain"));
                if !has_domain {
                    return Err(Fault::new("stack::script::option", format!("Keycloak on `{}` needs the cluster's `base_domain`", c.id))
                        .label("this cluster has no base_domain")
                        .help("Keycloak is served at `keycloak.<base_domain>`: set `base_domain` on the cluster")
                        .at(key_span(session, call, "cluster"))
                        .raise(ctx.call_position()));
                }
                let domain = token::output(&OutputRef {
                    resource: c.id.clone(),
                    output: "base_domain".into(),
                    secret: false,
                });
                let realm = opts.get("realm").map(|r| r.to_string()).unwrap_or_default();
                let keycloak_option = |key: &str| {
                    opts.get(key)
                        .map(|n| n.to_string())
                        .or_else(|| SCHEMA.default_text(Some("keycloak"), key))
                        .unwrap_or_default()
                };
                let namespace = keycloak_option("namespace");
                let gitops = session
                    .resource(&c.id)
                    .is_some_and(|r| r.input_str("delivery") == Some("gitops"));
                if gitops && !opts.contains_key("url") {
                    return Err(Fault::new("stack::script::realm_before_gitops", format!("the realm `{name}` is imported directly, but cluster `{}` gets Keycloak through GitOps", c.id.name()))
                        .label("a Keycloak realm on a GitOps cluster")
                        .help("the realm is imported by a Job applied during the run, before the run's commit brings Keycloak and its namespace: once Keycloak runs, give the oidc its `url` (like `url: \"http://keycloak.keycloak.svc\"`), or deliver this cluster directly")
                        .at(key_span(session, call, "cluster"))
                        .raise(ctx.call_position()));
                }
                if !opts.contains_key("url") {
                    requirement = Some(super::oidc_keycloak::requirement(&name, c, &namespace));
                }
                let explicit = opts.get("install").and_then(|i| i.as_bool().ok());
                if explicit == Some(true) && super::oidc_keycloak::declared(session, c, &namespace)
                {
                    return Err(Fault::new("stack::script::option", format!("`install: true`, but the stack already declares a Keycloak in namespace `{namespace}`"))
                        .label("a second Keycloak")
                        .help("leave out `install`: the realm goes into the Keycloak that is declared (only the realm that installs Keycloak makes its passwords)")
                        .at(key_span(session, call, "install"))
                        .raise(ctx.call_position()));
                }
                let install = explicit
                    .unwrap_or_else(|| super::oidc_keycloak::by_default(session, c, &namespace));
                if install {
                    let credentials = keycloak_option("admin_credentials");
                    super::oidc_keycloak::install(&ctx, session, c, &namespace, &credentials)?;
                    // Only the realm that installs Keycloak makes its passwords.
                    opts.insert("install".into(), true.into());
                }
                known.insert(
                    "issuer_url".to_string(),
                    string_value(
                        &format!("https://keycloak.{domain}/realms/{realm}"),
                        session,
                    ),
                );
            }
            let client_id = opts
                .get("client_id")
                .map(|c| c.to_string())
                .unwrap_or_else(|| name.to_string());
            known.insert("client_id".to_string(), string_value(&client_id, session));
        }
        "cognito" => {
            let region = opts
                .get("region")
                .map(|r| r.to_string())
                .unwrap_or_default();
            let pool = opts
                .get("user_pool_id")
                .map(|r| r.to_string())
                .unwrap_or_default();
            known.insert(
                "issuer_url".to_string(),
                string_value(
                    &format!("https://cognito-idp.{region}.amazonaws.com/{pool}"),
                    session,
                ),
            );
        }
        _ => {}
    }
    let handle = declare(
        &ctx,
        session,
        Declaration {
            kind: Kind::Oidc,
            name: name.to_string(),
            cluster: cluster.as_ref(),
            scoped: false,
            opts,
            schema: &SCHEMA,
            known: known
                .into_iter()
                .filter(|(_, v)| !matches!(v, Value::Null))
                .collect(),
        },
    )?;
    if let Some(mut requirement) = requirement {
        requirement.resource = handle.id.clone();
        session
            .borrow_mut()
            .declarations
            .requirements
            .push(requirement);
    }
    Ok(handle)
}

pub fn register(engine: &mut Engine, session: &Session) {
    let s = session.clone();
    engine.register_fn(
        "oidc",
        move |ctx: NativeCallContext, name: ImmutableString, opts: Map| oidc(ctx, &s, name, opts),
    );
}
