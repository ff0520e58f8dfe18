//! Keycloak installed for a realm when the stack declares none, so that
//! `oidc("sso", #{ provider: "keycloak", cluster: c, realm: "platform" })`
//! alone gives a working identity provider: the `keycloak` namespace and a
//! `keycloak` helm_app (the Bitnami chart, its own PostgreSQL, served at
//! `keycloak.<base_domain>`). Its admin and database passwords are made by
//! the realm's provider, once, into the Secret the chart reads; so the app
//! does not wait for its pods (`wait: false`), and the realm's import Job
//! waits for Keycloak to answer instead. For replicas, resources, ingress
//! class or monitoring, install it with `std/keycloak` before the realm.

use rhai::{Dynamic, Map, NativeCallContext};
use serde_json::json;
use stack_engine::declarations::Requirement;
use stack_engine::{Kind, OutputRef, ResourceId};

use crate::fault::RhaiResult;
use crate::handle::Handle;
use crate::session::Session;
use crate::token;

/// The chart installed, as `std/keycloak` pins it.
const REPO: &str = "https://charts.bitnami.com/bitnami";
const VERSION: &str = "21.4.4";

/// What a realm in `namespace` needs: the app of the `keycloak` chart
/// there, declared anywhere in the script (the realm is imported once it
/// runs). The realm's own id is filled in once it is declared.
pub fn requirement(realm: &str, cluster: &Handle, namespace: &str) -> Requirement {
    Requirement {
        resource: ResourceId::of(Kind::Oidc, None, realm),
        kind: Kind::HelmApp,
        cluster: cluster.id.clone(),
        inputs: vec![
            ("chart".into(), "keycloak".into()),
            ("namespace".into(), namespace.into()),
        ],
        missing: format!(
            "the realm of `{realm}` goes into Keycloak, but no Keycloak is declared in namespace `{namespace}` of cluster `{}`",
            cluster.id.name()
        ),
        help: "let the realm install Keycloak (leave out `install: false`), install it first with `std/keycloak` (`keycloak::install(c, #{ ... })`, in the realm's namespace), or, if Keycloak runs there already, give the oidc its `url`".into(),
    }
}

/// Whether the stack declares a Keycloak in `namespace` on the cluster.
pub fn declared(session: &Session, cluster: &Handle, namespace: &str) -> bool {
    let state = session.borrow();
    requirement("", cluster, namespace)
        .met_in(&state.declarations.resources)
        .is_some()
}

/// Whether a realm installs its Keycloak when the script does not say:
/// when none is declared and the cluster is delivered directly (on a
/// GitOps cluster the realm needs a Keycloak that runs, through `url`).
pub fn by_default(session: &Session, cluster: &Handle, namespace: &str) -> bool {
    let direct = session
        .resource(&cluster.id)
        .is_some_and(|c| c.input_str("delivery").unwrap_or("direct") == "direct");
    direct && !declared(session, cluster, namespace)
}

/// Declares the namespace (unless the stack does) and the Keycloak app,
/// reading its passwords from the Secret `credentials`.
pub fn install(
    ctx: &NativeCallContext,
    session: &Session,
    cluster: &Handle,
    namespace: &str,
    credentials: &str,
) -> RhaiResult<Handle> {
    let declared = ResourceId::of(Kind::Namespace, Some(cluster.id.name()), namespace);
    if session.resource(&declared).is_none() {
        super::namespace::namespace(ctx, session, cluster.clone(), namespace.into(), Map::new())?;
    }
    let domain = token::output(&OutputRef {
        resource: cluster.id.clone(),
        output: "base_domain".into(),
        secret: false,
    });
    let values = json!({
        "production": true,
        "proxy": "edge",
        "auth": {
            "adminUser": "admin",
            "existingSecret": credentials,
            "passwordSecretKey": "admin-password",
        },
        "postgresql": {
            "enabled": true,
            "auth": {
                "username": "keycloak",
                "database": "keycloak",
                "enablePostgresUser": false,
                "existingSecret": credentials,
                "secretKeys": { "userPasswordKey": "db-password" },
            },
        },
        "ingress": { "enabled": true, "hostname": format!("keycloak.{domain}"), "pathType": "Prefix" },
    });
    let mut opts = Map::new();
    opts.insert("repo".into(), REPO.into());
    opts.insert("chart".into(), "keycloak".into());
    opts.insert("version".into(), VERSION.into());
    opts.insert("namespace".into(), namespace.into());
    opts.insert("wait".into(), false.into());
    opts.insert(
        "values".into(),
        rhai::serde::to_dynamic(values).unwrap_or(Dynamic::UNIT),
    );
    super::helm_app::helm_app(ctx, session, cluster.clone(), "keycloak".into(), opts)
}
