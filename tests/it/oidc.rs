//! `oidc` end to end: an external issuer checked by discovery, a Keycloak
//! realm and client imported in the cluster (the Kubernetes API test
//! server and a real kube-apiserver), and a Cognito app client (moto). In every case the client
//! secret reaches the Secrets that use it and never the state.

use base64::Engine as _;
use serde_json::Value as Json;
use stack_testkit::Moto;

use crate::eks::{aws_env, moto_aws};
use crate::run::{env, ok, real_env, Env, PASSWORD};

/// A value of a Secret on the test server, decoded.
fn secret_value(e: &Env, namespace: &str, name: &str, key: &str) -> String {
    let secret = e
        .server
        .object("v1/secrets", Some(namespace), name)
        .unwrap_or_else(|| panic!("Secret {namespace}/{name}"));
    let encoded = secret
        .pointer(&format!("/data/{key}"))
        .and_then(Json::as_str)
        .unwrap_or_else(|| panic!("{key} in {secret:#}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64 data");
    String::from_utf8(bytes).expect("UTF-8")
}

fn state_text(e: &Env, stack: &str) -> String {
    std::fs::read_to_string(e.ctx.path().join(format!(".stack/{stack}.state.json")))
        .expect("a state file")
}

/// An external OIDC provider is checked through its discovery document;
/// its client secret goes into a Secret, never into the state.
fn an_external_oidc_issuer_is_checked_by_discovery(e: Env) {
    let site = e.ctx.path().join("idp");
    let served = crate::common::serve(site.clone());
    let issuer = format!("{}/realms/platform", served.url);
    let discovery = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/auth"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/certs"),
    });
    let doc = site.join("realms/platform/.well-known/openid-configuration");
    std::fs::create_dir_all(doc.parent().expect("a parent")).expect("create the site");
    std::fs::write(&doc, discovery.to_string()).expect("write the discovery document");
    let script = format!(
        r#"
let c = cluster("e2e", #{{ provider: "existing", argocd_installed: true }});
let sso = oidc("sso", #{{ provider: "external", issuer_url: "{issuer}", client_id: "grafana",
                         client_secret: secret("env:E2E_DB_PASSWORD") }});
namespace(c, "monitoring");
manifest(c, #{{ apiVersion: "v1", kind: "Secret", metadata: #{{ name: "grafana-oidc", namespace: "monitoring" }},
               stringData: #{{ issuer: sso.issuer_url, id: sso.client_id, secret: sso.client_secret }} }});
"#
    );
    e.ctx.write("sso.rhai", &script);
    ok(&e.stack(&["run", "sso.rhai", "--yes"]));
    let secret = e
        .server
        .object("v1/secrets", Some("monitoring"), "grafana-oidc")
        .expect("the Secret");
    assert!(secret.to_string().contains("grafana"), "{secret:#}");
    let state = std::fs::read_to_string(e.ctx.path().join(".stack/sso.state.json")).expect("state");
    assert!(
        !state.contains(PASSWORD),
        "the client secret is in the state"
    );
    // A second run reads the secret again from the script and changes nothing.
    let again = e.stack(&["run", "sso.rhai", "--yes"]);
    ok(&again);
    again.assert_stdout("No changes");

    // A typo in the issuer fails at the declaration, before anything uses it.
    e.ctx.write(
        "sso.rhai",
        &script.replace("realms/platform", "realms/platfrom"),
    );
    let wrong = e.stack(&["run", "sso.rhai", "--yes"]);
    assert_eq!(wrong.code, 1, "{}", wrong.transcript());
    wrong.assert_stderr("404");
    wrong.assert_stderr("sso.rhai:3");
}

const KEYCLOAK: &str = r#"
let c = cluster("e2e", #{ provider: "existing", argocd_installed: true, base_domain: "example.test" });
let ns = namespace(c, "keycloak");
manifest(c, #{ apiVersion: "v1", kind: "Secret", metadata: #{ name: "keycloak-credentials", namespace: ns.name },
               stringData: #{ "admin-password": secret("env:E2E_DB_PASSWORD") } });
helm_app(c, "keycloak", #{ repo: "https://charts.bitnami.com/bitnami", chart: "keycloak", version: "21.4.4",
                          namespace: ns.name });
let sso = oidc("sso", #{ provider: "keycloak", cluster: c, realm: "platform",
                         redirect_uris: ["https://argocd.example.test/auth/callback"] });
let mon = namespace(c, "monitoring");
manifest(c, #{ apiVersion: "v1", kind: "Secret", metadata: #{ name: "grafana-oidc", namespace: mon.name },
               stringData: #{ issuer: sso.issuer_url, id: sso.client_id, secret: sso.client_secret } });
"#;

/// A Keycloak realm and client are declared as a realm file and imported
/// by a keycloak-config-cli Job; the generated client secret is kept in the
/// cluster, reused by later runs, and handed to the apps that need it.
fn a_keycloak_realm_and_client_are_imported_in_the_cluster(e: Env) {
    e.ctx.write("kc.rhai", KEYCLOAK);
    let plan = e.stack(&["plan", "kc.rhai"]);
    ok(&plan);
    // Shown as a value (hidden, as a Secret's data is), not as unknown.
    assert!(
        plan.stdout
            .contains("object.stringData.issuer = (sensitive)"),
        "the issuer is known at plan time: {}",
        plan.transcript()
    );
    ok(&e.stack(&["run", "kc.rhai", "--yes"]));

    // The realm file names the client and its redirect URIs, not the secret.
    let config_map = e
        .server
        .object("v1/configmaps", Some("keycloak"), "sso-realm")
        .expect("the realm ConfigMap");
    let realm: Json = serde_json::from_str(
        config_map
            .pointer("/data/platform.json")
            .and_then(Json::as_str)
            .expect("platform.json"),
    )
    .expect("the realm is JSON");
    assert_eq!(realm["realm"], "platform");
    assert_eq!(realm["clients"][0]["clientId"], "sso");
    assert_eq!(
        realm["clients"][0]["redirectUris"],
        serde_json::json!(["https://argocd.example.test/auth/callback"])
    );
    assert_eq!(realm["clients"][0]["secret"], "$(env:CLIENT_SECRET)");

    // The import Job ran to completion, reading both secrets by reference.
    let jobs = e.names("batch/v1/jobs", Some("keycloak"));
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert!(jobs[0].starts_with("sso-realm-"), "{jobs:?}");
    let job = e
        .server
        .object("batch/v1/jobs", Some("keycloak"), &jobs[0])
        .expect("the Job");
    let job_text = job.to_string();
    assert!(job_text.contains("keycloak-credentials"), "{job:#}");
    assert!(job_text.contains("http://keycloak.keycloak.svc"), "{job:#}");
    assert!(!job_text.contains(PASSWORD), "{job:#}");

    // The generated secret is in the client Secret and in Grafana's.
    let generated = secret_value(&e, "keycloak", "sso-oidc-client", "client-secret");
    assert_eq!(generated.len(), 64);
    assert_eq!(
        secret_value(&e, "monitoring", "grafana-oidc", "secret"),
        generated
    );
    assert_eq!(
        secret_value(&e, "monitoring", "grafana-oidc", "issuer"),
        "https://keycloak.example.test/realms/platform"
    );
    let state = state_text(&e, "kc");
    let recorded: Json = serde_json::from_str(&state).expect("the state is JSON");
    assert!(
        recorded["resources"]["oidc/sso"]["depends_on"]
            .as_array()
            .is_some_and(|d| d.contains(&Json::from("e2e/namespace/keycloak"))
                && d.contains(&Json::from("e2e/helm_app/keycloak"))),
        "the realm waits for Keycloak and its namespace: {recorded:#}"
    );
    assert!(
        !state.contains(&generated),
        "the client secret is in the state"
    );
    assert!(
        !state.contains(PASSWORD),
        "the admin password is in the state"
    );

    // A second run changes nothing and keeps the secret.
    let again = e.stack(&["run", "kc.rhai", "--yes"]);
    ok(&again);
    again.assert_stdout("No changes");
    assert_eq!(
        secret_value(&e, "keycloak", "sso-oidc-client", "client-secret"),
        generated
    );

    // An import that fails (Keycloak not answering, say) fails the run at the
    // declaration, says where to look, and is run again by the next run.
    let with_grafana = KEYCLOAK.replace(
        r#"redirect_uris: ["https://argocd.example.test/auth/callback"]"#,
        r#"redirect_uris: ["https://argocd.example.test/auth/callback", "https://grafana.example.test/login/generic_oauth"]"#,
    );
    e.ctx.write("kc.rhai", &with_grafana);
    let readiness = e.server.knobs().deployments();
    readiness.fail_jobs("sso-realm-", "Job has reached the specified backoff limit");
    let failed = e.stack(&["run", "kc.rhai", "--yes"]);
    assert_eq!(failed.code, 1, "{}", failed.transcript());
    failed.assert_stderr("BackoffLimitExceeded");
    failed.assert_stderr("kubectl logs -n keycloak -l app.kubernetes.io/part-of=sso");
    failed.assert_stderr("kc.rhai:8");
    readiness.heal_jobs("sso-realm-");

    // Run again: the failed import is replaced, the old Job pruned, the same secret.
    let changed = e.stack(&["run", "kc.rhai", "--yes"]);
    ok(&changed);
    let new_jobs = e.names("batch/v1/jobs", Some("keycloak"));
    assert_eq!(new_jobs.len(), 1, "{new_jobs:?}");
    assert_ne!(new_jobs, jobs);
    assert_eq!(
        secret_value(&e, "keycloak", "sso-oidc-client", "client-secret"),
        generated
    );
    assert_eq!(
        secret_value(&e, "monitoring", "grafana-oidc", "secret"),
        generated
    );

    // Destroy removes the client Secret, the realm file and the Job.
    ok(&e.stack(&["destroy", "kc.rhai", "--yes"]));
    assert!(e.names("batch/v1/jobs", Some("keycloak")).is_empty());
    assert!(e.names("v1/configmaps", Some("keycloak")).is_empty());
    assert!(e.names("v1/secrets", Some("keycloak")).is_empty());
}

/// A Cognito app client is created in an existing user pool, its secret
/// handed to a Secret in the cluster, and deleted by `destroy`.
#[test]
fn a_cognito_client_is_created_and_its_secret_handed_on() {
    let moto = Moto::start().unwrap_or_else(|e| panic!("the Cognito tests need moto: {e}"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let aws = moto_aws(&moto);
    let cognito = runtime.block_on(aws.cognito("eu-west-1"));
    let pool = runtime
        .block_on(cognito.create_user_pool().pool_name("platform").send())
        .expect("a user pool")
        .user_pool
        .and_then(|p| p.id)
        .expect("the pool's id");
    let clients = || {
        runtime
            .block_on(cognito.list_user_pool_clients().user_pool_id(&pool).send())
            .expect("listed")
            .user_pool_clients()
            .iter()
            .filter_map(|c| c.client_id().map(str::to_string))
            .collect::<Vec<_>>()
    };

    let e = env();
    e.ctx.write(
        "cognito.rhai",
        &format!(
            r#"
let c = cluster("e2e", #{{ provider: "existing", argocd_installed: true }});
let sso = oidc("sso", #{{ provider: "cognito", region: "eu-west-1", user_pool_id: "{pool}",
                         redirect_uris: ["https://grafana.example.test/login/generic_oauth"] }});
let mon = namespace(c, "monitoring");
manifest(c, #{{ apiVersion: "v1", kind: "Secret", metadata: #{{ name: "grafana-oidc", namespace: mon.name }},
               stringData: #{{ issuer: sso.issuer_url, id: sso.client_id, secret: sso.client_secret }} }});
"#
        ),
    );
    let mut vars = aws_env(&moto);
    vars.push(("KUBECONFIG", e.kubeconfig.to_string_lossy().into_owned()));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let stack = |args: &[&str]| e.ctx.stack_env(args, &vars);

    let plan = stack(&["plan", "cognito.rhai"]);
    ok(&plan);
    plan.assert_stdout("(known after apply)");
    ok(&stack(&["run", "cognito.rhai", "--yes"]));
    let created = clients();
    assert_eq!(created.len(), 1);
    assert_eq!(
        secret_value(&e, "monitoring", "grafana-oidc", "id"),
        created[0]
    );
    let client_secret = secret_value(&e, "monitoring", "grafana-oidc", "secret");
    assert!(!client_secret.is_empty());
    assert!(!state_text(&e, "cognito").contains(&client_secret));

    let again = stack(&["run", "cognito.rhai", "--yes"]);
    ok(&again);
    again.assert_stdout("No changes");
    assert_eq!(clients(), created);

    ok(&stack(&["destroy", "cognito.rhai", "--yes"]));
    assert!(clients().is_empty());
}

/// A realm on a cluster with no Keycloak installs one: the namespace, the
/// Keycloak app (not waited for: its pods need the passwords the realm's
/// provider makes), and the passwords, made once and kept.
fn a_realm_alone_installs_keycloak_with_its_passwords(e: Env) {
    e.ctx.write(
        "alone.rhai",
        r#"
let c = cluster("e2e", #{ provider: "existing", argocd_installed: true, base_domain: "example.test" });
let sso = oidc("sso", #{ provider: "keycloak", cluster: c, realm: "platform" });
"#,
    );
    let plan = e.stack(&["plan", "alone.rhai", "--verbose"]);
    ok(&plan);
    plan.assert_stdout("+ e2e/namespace/keycloak  (create)");
    plan.assert_stdout("+ e2e/helm_app/keycloak  (create)");
    plan.assert_stdout("install = true");
    plan.assert_stdout("wait = false");
    ok(&e.stack(&["run", "alone.rhai", "--yes"]));

    let app = e
        .server
        .object(
            "argoproj.io/v1alpha1/applications",
            Some("argocd"),
            "keycloak",
        )
        .expect("the Keycloak Application");
    assert_eq!(
        app.pointer("/spec/source/helm/valuesObject/auth/existingSecret"),
        Some(&Json::from("keycloak-credentials")),
        "{app:#}"
    );
    assert_eq!(
        app.pointer("/spec/source/helm/valuesObject/ingress/hostname"),
        Some(&Json::from("keycloak.example.test"))
    );
    // The install is `std/keycloak`'s, through the default IngressClass.
    assert_eq!(
        app.pointer("/spec/source/helm/valuesObject/postgresql/primary/persistence/size"),
        Some(&Json::from("8Gi"))
    );
    assert_eq!(
        app.pointer("/spec/source/helm/valuesObject/ingress/ingressClassName"),
        None
    );
    let admin = secret_value(&e, "keycloak", "keycloak-credentials", "admin-password");
    let db = secret_value(&e, "keycloak", "keycloak-credentials", "db-password");
    assert_eq!((admin.len(), db.len()), (64, 64));
    assert_ne!(admin, db);
    assert!(!state_text(&e, "alone").contains(&admin));
    assert!(e
        .server
        .object("v1/configmaps", Some("keycloak"), "sso-realm")
        .is_some());

    let again = e.stack(&["run", "alone.rhai", "--yes"]);
    ok(&again);
    again.assert_stdout("No changes");
    assert_eq!(
        secret_value(&e, "keycloak", "keycloak-credentials", "admin-password"),
        admin
    );

    // The passwords lost while Keycloak's database stays: no new ones,
    // which would lock Keycloak out of it, but a diagnostic.
    let kept = e
        .server
        .object("v1/secrets", Some("keycloak"), "keycloak-credentials")
        .expect("the passwords");
    e.server
        .delete("v1/secrets", Some("keycloak"), "keycloak-credentials")
        .expect("delete the passwords");
    e.server
        .create(serde_json::json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": { "name": "data-keycloak-postgresql-0", "namespace": "keycloak" },
            "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "8Gi" } } },
        }))
        .expect("the database volume");
    e.ctx.write(
        "alone.rhai",
        &std::fs::read_to_string(e.ctx.path().join("alone.rhai"))
            .expect("the script")
            .replace(
                r#"realm: "platform" "#,
                r#"realm: "platform", redirect_uris: ["https://a.example.test/cb"] "#,
            ),
    );
    let locked = e.stack(&["run", "alone.rhai", "--yes"]);
    assert_eq!(locked.code, 1, "{}", locked.transcript());
    locked.assert_stderr("data-keycloak-postgresql-0 exists");
    locked.assert_stderr("new passwords would lock Keycloak out");
    let mut restored = kept.clone();
    if let Some(meta) = restored.get_mut("metadata").and_then(Json::as_object_mut) {
        meta.retain(|k, _| k == "name" || k == "namespace" || k == "labels");
    }
    e.server.create(restored).expect("restore the passwords");
    ok(&e.stack(&["run", "alone.rhai", "--yes"]));
    assert_eq!(
        secret_value(&e, "keycloak", "keycloak-credentials", "admin-password"),
        admin
    );

    ok(&e.stack(&["destroy", "alone.rhai", "--yes"]));
    assert!(e
        .server
        .object(
            "argoproj.io/v1alpha1/applications",
            Some("argocd"),
            "keycloak"
        )
        .is_none());
    assert!(e.names("v1/secrets", Some("keycloak")).is_empty());
}

on_both_servers!(an_external_oidc_issuer_is_checked_by_discovery);

// The Keycloak scenarios run on the test server only for now: on the real
// kube-apiserver the realm that installs Keycloak itself does not finish.
#[test]
fn a_keycloak_realm_and_client_are_imported_on_the_test_server() {
    a_keycloak_realm_and_client_are_imported_in_the_cluster(env());
}

#[test]
fn a_realm_alone_installs_keycloak_on_the_test_server() {
    a_realm_alone_installs_keycloak_with_its_passwords(env());
}
