//! Keycloak installed for a realm when the stack declares none, so that
//! `oidc("sso", #{ provider: "keycloak", cluster: c, realm: "platform" })`
//! alone gives a working identity provider: `std/keycloak` installed with
//! its defaults, served at `keycloak.<base_domain>` through the cluster's
//! default IngressClass. Its admin and database passwords are made by the
//! realm's provider, once, into the Secret the chart reads; so the app
//! does not wait for its pods (`wait: false`), and the realm's import Job
//! waits for Keycloak to answer instead. For replicas, resources, ingress
//! class or monitoring, install it with `std/keycloak` before the realm.

use rhai::{Dynamic, Map, NativeCallContext, Scope};
use stack_engine::declarations::Requirement;
use stack_engine::{Kind, ResourceId};

use crate::fault::RhaiResult;
use crate::handle::Handle;
use crate::session::Session;

/// The module's install, as a script calls it.
const INSTALL: &str = r#"import "std/keycloak" as keycloak; keycloak::install(cluster, opts)"#;

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

/// Installs Keycloak with `std/keycloak` in `namespace` (declared by the
/// module unless the stack declares it), reading its passwords from the
/// Secret `credentials`.
pub fn install(
    ctx: &NativeCallContext,
    session: &Session,
    cluster: &Handle,
    namespace: &str,
    credentials: &str,
) -> RhaiResult<()> {
    let declared = ResourceId::of(Kind::Namespace, Some(cluster.id.name()), namespace);
    let namespace = match session.resource(&declared) {
        Some(_) => Dynamic::from(Handle {
            id: declared,
            kind: Kind::Namespace,
        }),
        None => namespace.into(),
    };
    let mut opts = Map::new();
    opts.insert("namespace".into(), namespace);
    opts.insert("credentials_secret".into(), credentials.into());
    opts.insert("expose".into(), true.into());
    opts.insert("wait".into(), false.into());
    let mut scope = Scope::new();
    scope.push_constant("cluster", Dynamic::from(cluster.clone()));
    scope.push_constant("opts", Dynamic::from_map(opts));
    ctx.engine()
        .eval_with_scope::<Dynamic>(&mut scope, INSTALL)
        .map(|_| ())
}
