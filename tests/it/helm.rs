//! Helm charts end to end with the real `helm` binary: `bootstrap` from a
//! chart repository served over loopback HTTP (a semver constraint resolved
//! against `index.yaml`), a `via: "helm"` app from a local chart, and a
//! chart that fails to render. Objects go to the Kubernetes API test server,
//! and the scenarios that apply charts also to a real kube-apiserver.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Json;
use stack_testkit::{Cluster, Config, RealCluster, TestServer};

use crate::common::{copy_dir, repo_root, serve, Run, Served, TestContext};

/// The `helm` binary: `STACK_HELM`, or `helm` on PATH (`scripts/test.sh`
/// installs it). Missing helm fails the test: it is never skipped.
pub(crate) fn helm() -> PathBuf {
    if let Some(path) = std::env::var_os("STACK_HELM").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("helm"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`helm` is required by these tests and was found neither through STACK_HELM nor on PATH: run `scripts/install-tools.sh` and put the directory it prints on PATH (scripts/test.sh does both)"
            )
        })
}

pub(crate) fn run_helm(args: &[&str]) {
    let output = Command::new(helm()).args(args).output().expect("run helm");
    assert!(
        output.status.success(),
        "helm {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

pub(crate) fn fixture_chart(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures/charts").join(name)
}

/// A chart repository holding the argo-like chart at 1.0.0, 1.1.0 and
/// 2.0.0, made with `helm package` and `helm repo index`.
fn chart_repository(ctx: &TestContext) -> Served {
    let dir = ctx.path().join("repository");
    std::fs::create_dir_all(&dir).expect("create the repository directory");
    let chart = fixture_chart("argo-like");
    let chart = chart.to_string_lossy();
    let out = dir.to_string_lossy();
    for version in ["1.0.0", "1.1.0", "2.0.0"] {
        run_helm(&[
            "package",
            &chart,
            "--version",
            version,
            "--destination",
            &out,
        ]);
    }
    run_helm(&["repo", "index", &out]);
    serve(dir)
}

pub(crate) struct Env {
    ctx: TestContext,
    server: Box<dyn Cluster>,
    kubeconfig: PathBuf,
}

/// The test server, its Argo CD double off (no Argo CD on the cluster).
fn env() -> Env {
    Env::on(Box::new(TestServer::start_blocking(Config::default())))
}

/// A real kube-apiserver of its own, its Argo CD double off.
fn real_env() -> Env {
    let cluster = RealCluster::take();
    cluster.knobs().argocd().disable();
    Env::on(Box::new(cluster))
}

/// The test server with its Argo CD double on.
fn env_with_argocd() -> Env {
    Env::on(Box::new(TestServer::start_blocking(
        Config::default().with_argocd(),
    )))
}

/// A real kube-apiserver with the Argo CD double on.
fn real_env_with_argocd() -> Env {
    Env::on(Box::new(RealCluster::take_with_argocd()))
}

impl Env {
    fn on(server: Box<dyn Cluster>) -> Env {
        let (ctx, kubeconfig) = TestContext::with_kubeconfig(server.as_ref());
        Env {
            ctx,
            server,
            kubeconfig,
        }
    }

    fn stack(&self, args: &[&str]) -> Run {
        let kubeconfig = self.kubeconfig.to_string_lossy().into_owned();
        let helm = helm().to_string_lossy().into_owned();
        let cache = self.ctx.path().join("cache").to_string_lossy().into_owned();
        self.ctx.stack_env(
            args,
            &[
                ("KUBECONFIG", &kubeconfig),
                ("STACK_HELM", &helm),
                ("STACK_CACHE_DIR", &cache),
            ],
        )
    }

    fn state(&self, stack: &str) -> Json {
        let path = self
            .ctx
            .path()
            .join(".stack")
            .join(format!("{stack}.state.json"));
        let text = std::fs::read_to_string(path).expect("a state file");
        serde_json::from_str(&text).expect("the state file is JSON")
    }

    fn writes(&self) -> Vec<String> {
        self.server.writes()
    }
}

fn ok(run: &Run) {
    assert_eq!(run.code, 0, "{}", run.transcript());
}

fn available(deployment: Option<&Json>) -> bool {
    deployment
        .and_then(|d| d.pointer("/status/conditions"))
        .and_then(Json::as_array)
        .is_some_and(|conditions| {
            conditions.iter().any(|c| {
                c.get("type") == Some(&Json::from("Available"))
                    && c.get("status") == Some(&Json::from("True"))
            })
        })
}

/// `admin-pw-1234`, as a Secret's `data` holds it.
const B64_PASSWORD: &str = "YWRtaW4tcHctMTIzNA==";

fn bootstrap_from_a_chart_repository_applies_waits_converges_and_destroys(e: Env) {
    let repository = chart_repository(&e.ctx);
    let url = &repository.url;
    e.ctx.write(
        "boot.rhai",
        &format!(
            r#"
let c = cluster("e2e", #{{ provider: "existing" }});
let argocd = bootstrap(c, #{{
    repo: "{url}", chart: "argo-like", version: "^1.0", namespace: "ops",
    values: [#{{ server: #{{ replicas: 1 }} }}, #{{ server: #{{ replicas: 2 }} }}],
    timeout: "30s", adopt: true,
}});
let after = namespace(c, "after-argocd", #{{ labels: #{{ server: argocd.server }} }});
manifest(c, #{{ apiVersion: "v1", kind: "Secret", metadata: #{{ name: param("copy", "admin-copy"), namespace: after.name }},
               stringData: #{{ password: argocd.admin_secret }} }});
"#
        ),
    );
    // What Argo CD's server writes when it first starts, in a namespace made
    // by hand beforehand: the bootstrap adopts it (`adopt: true`).
    e.server
        .create(serde_json::json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "ops" } }))
        .expect("create the ops namespace");
    e.server
        .create(serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": { "name": "argocd-initial-admin-secret", "namespace": "ops" },
            "data": { "password": B64_PASSWORD },
        }))
        .expect("create the initial admin secret");
    let run = e.stack(&["run", "boot.rhai", "--yes"]);
    ok(&run);

    // The constraint resolved to the highest 1.x, fetched into the cache.
    let state = e.state("boot");
    let boot = &state["resources"]["e2e/bootstrap/argocd"];
    assert_eq!(boot["outputs"]["revision"], "1.1.0", "{state:#}");
    assert_eq!(boot["outputs"]["server"], "argocd-server.ops.svc");
    assert_eq!(boot["outputs"]["namespace"], "ops");
    // The admin password reached its dependent, and the state only a hash.
    assert!(boot["outputs"]["admin_secret"]
        .as_str()
        .is_some_and(|s| s.starts_with("(sensitive")));
    assert!(!state.to_string().contains("admin-pw-1234"));
    assert!(!state.to_string().contains(B64_PASSWORD));
    let copy = e
        .server
        .object("v1/secrets", Some("after-argocd"), "admin-copy")
        .expect("admin-copy");
    assert!(
        copy.to_string().contains("admin-pw-1234") || copy.to_string().contains(B64_PASSWORD),
        "{copy}"
    );
    assert!(e.ctx.path().join("cache/charts").is_dir());

    // Applied by `stack-bootstrap`, values merged, CRD and its object there.
    for name in ["argocd-server", "argocd-repo-server"] {
        let deployment = e
            .server
            .object("apps/v1/deployments", Some("ops"), name)
            .unwrap_or_else(|| panic!("{name} was applied"));
        assert!(available(Some(&deployment)), "the run waited for {name}");
        assert!(
            e.server
                .managers("apps/v1/deployments", Some("ops"), name)
                .contains(&"stack-bootstrap".to_string()),
            "{name} is applied by stack-bootstrap"
        );
        assert!(!e
            .server
            .managers("apps/v1/deployments", Some("ops"), name)
            .contains(&"stack".to_string()));
    }
    let server = e
        .server
        .object("apps/v1/deployments", Some("ops"), "argocd-server")
        .expect("argocd-server");
    assert_eq!(server.pointer("/spec/replicas"), Some(&Json::from(2)));
    assert!(e
        .server
        .object(
            "apiextensions.k8s.io/v1/customresourcedefinitions",
            None,
            "widgets.argo-like.example.com"
        )
        .is_some());
    assert!(e
        .server
        .object("argo-like.example.com/v1/widgets", Some("ops"), "default")
        .is_some());
    // The output reached its dependent during the run.
    let after = e
        .server
        .object("v1/namespaces", None, "after-argocd")
        .expect("after-argocd");
    assert_eq!(
        after.pointer("/metadata/labels/server"),
        Some(&Json::from("argocd-server.ops.svc"))
    );

    e.server.clear_requests();
    let again = e.stack(&["run", "boot.rhai", "--yes"]);
    ok(&again);
    again.assert_stdout("No changes");
    assert_eq!(e.writes(), Vec::<String>::new(), "a second run wrote");

    // A dependent changed in a later run reads the password back from the
    // cluster: the state has only its hash.
    ok(&e.stack(&["run", "boot.rhai", "--yes", "--set", "copy=later-copy"]));
    let later = e
        .server
        .object("v1/secrets", Some("after-argocd"), "later-copy")
        .expect("later-copy");
    assert!(
        later.to_string().contains("admin-pw-1234") || later.to_string().contains(B64_PASSWORD)
    );

    ok(&e.stack(&["destroy", "boot.rhai", "--yes", "--set", "copy=later-copy"]));
    for name in ["argocd-server", "argocd-repo-server"] {
        assert!(e
            .server
            .object("apps/v1/deployments", Some("ops"), name)
            .is_none());
    }
    assert!(e.server.object("v1/namespaces", None, "ops").is_none());
    assert!(e
        .server
        .object(
            "apiextensions.k8s.io/v1/customresourcedefinitions",
            None,
            "widgets.argo-like.example.com"
        )
        .is_none());
    assert_eq!(e.state("boot")["resources"], serde_json::json!({}));
}

const LOCAL_APP: &str = r#"
let extra = param("extra", "no");
let c = cluster("e2e", #{ provider: "existing" });
let web = helm_app(c, "web", #{
    path: "./charts/simple", via: "helm", namespace: "web",
    values: #{ greeting: "hi", extra: extra == "yes" }, timeout: "30s",
});
"#;

fn a_via_helm_app_from_a_local_chart_applies_prunes_follows_edits_and_destroys(e: Env) {
    copy_dir(
        &fixture_chart("simple"),
        &e.ctx.path().join("charts/simple"),
    );
    e.ctx.write("local.rhai", LOCAL_APP);
    ok(&e.stack(&["run", "local.rhai", "--yes", "--set", "extra=yes"]));
    let settings = e
        .server
        .object("v1/configmaps", Some("web"), "web-settings")
        .expect("web-settings");
    assert_eq!(settings.pointer("/data/greeting"), Some(&Json::from("hi")));
    assert_eq!(
        e.server
            .managers("v1/configmaps", Some("web"), "web-settings"),
        ["stack"]
    );
    assert!(e
        .server
        .object("v1/configmaps", Some("web"), "web-extra")
        .is_some());
    assert!(available(
        e.server
            .object("apps/v1/deployments", Some("web"), "web")
            .as_ref()
    ));
    let app = &e.state("local")["resources"]["e2e/helm_app/web"];
    assert_eq!(app["outputs"]["revision"], "0.3.0");
    assert_eq!(app["outputs"]["health"], "Healthy");

    // The second render lacks `web-extra`: it is pruned, the rest stays.
    ok(&e.stack(&["run", "local.rhai", "--yes"]));
    assert!(e
        .server
        .object("v1/configmaps", Some("web"), "web-extra")
        .is_none());
    assert!(e
        .server
        .object("v1/configmaps", Some("web"), "web-settings")
        .is_some());

    // An edited chart is an update, though the script is the same.
    let plan = e.stack(&["plan", "local.rhai"]);
    ok(&plan);
    plan.assert_stdout("No changes");
    let values = e.ctx.path().join("charts/simple/values.yaml");
    let text = std::fs::read_to_string(&values).expect("values.yaml");
    std::fs::write(&values, text.replace("replicas: 1", "replicas: 3")).expect("edit the chart");
    let plan = e.stack(&["plan", "local.rhai"]);
    assert!(
        plan.stdout.contains("e2e/helm_app/web  (update)") && plan.stdout.contains("chart_digest"),
        "{}",
        plan.transcript()
    );
    ok(&e.stack(&["run", "local.rhai", "--yes"]));
    let web = e
        .server
        .object("apps/v1/deployments", Some("web"), "web")
        .expect("web");
    assert_eq!(web.pointer("/spec/replicas"), Some(&Json::from(3)));

    ok(&e.stack(&["destroy", "local.rhai", "--yes"]));
    assert!(e
        .server
        .object("v1/configmaps", Some("web"), "web-settings")
        .is_none());
    assert!(e
        .server
        .object("apps/v1/deployments", Some("web"), "web")
        .is_none());
}

#[test]
fn a_chart_that_fails_to_render_names_the_chart_and_the_declaration() {
    let e = env();
    let chart = e.ctx.path().join("charts/broken");
    copy_dir(&fixture_chart("simple"), &chart);
    std::fs::write(
        chart.join("templates/broken.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ required \"owner missing\" .Values.owner }}\n",
    )
    .expect("write a broken template");
    e.ctx.write(
        "broken.rhai",
        r#"let c = cluster("e2e", #{ provider: "existing" });
let web = helm_app(c, "web", #{ path: "./charts/broken", via: "helm" });
"#,
    );
    let run = e.stack(&["run", "broken.rhai", "--yes"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    run.assert_stderr("./charts/broken");
    run.assert_stderr("owner missing");
    run.assert_stderr("broken.rhai:2:");
    assert!(e
        .server
        .object("v1/configmaps", Some("web"), "web-settings")
        .is_none());
}

fn git(dir: &Path, args: &[&str]) {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_via_helm_app_from_a_chart_in_git_renders_the_tagged_revision() {
    let e = env();
    let repo = e.ctx.path().join("charts-repo");
    copy_dir(&fixture_chart("simple"), &repo.join("charts/simple"));
    git(&repo, &["init", "--quiet"]);
    git(&repo, &["add", "."]);
    git(
        &repo,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "--quiet",
            "-m",
            "chart",
        ],
    );
    git(&repo, &["tag", "v1"]);
    e.ctx.write(
        "git.rhai",
        &format!(
            r#"let c = cluster("e2e", #{{ provider: "existing" }});
helm_app(c, "fromgit", #{{ repo: "file://{}", path: "charts/simple", version: "v1", via: "helm", timeout: "30s" }});
"#,
            repo.display()
        ),
    );
    ok(&e.stack(&["run", "git.rhai", "--yes"]));
    let settings = e
        .server
        .object("v1/configmaps", Some("fromgit"), "fromgit-settings")
        .expect("fromgit-settings");
    assert_eq!(
        settings.pointer("/data/greeting"),
        Some(&Json::from("hello"))
    );
    assert_eq!(
        e.state("git")["resources"]["e2e/helm_app/fromgit"]["outputs"]["revision"],
        "v1"
    );
}

#[test]
fn a_chart_whose_digest_differs_from_the_index_is_refused() {
    let e = env();
    let repository = chart_repository(&e.ctx);
    let url = &repository.url;
    let index = e.ctx.path().join("repository/index.yaml");
    let text = std::fs::read_to_string(&index).expect("index.yaml");
    let tampered: String = text
        .lines()
        .map(|line| match line.split_once("digest: ") {
            Some((indent, _)) => format!("{indent}digest: {}\n", "0".repeat(64)),
            None => format!("{line}\n"),
        })
        .collect();
    std::fs::write(&index, tampered).expect("rewrite index.yaml");
    e.ctx.write(
        "boot.rhai",
        &format!(
            r#"let c = cluster("e2e", #{{ provider: "existing" }});
bootstrap(c, #{{ repo: "{url}", chart: "argo-like", version: "1.0.0" }});
"#
        ),
    );
    let run = e.stack(&["run", "boot.rhai", "--yes"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    run.assert_stderr("does not match the digest");
    assert!(e.server.object("v1/namespaces", None, "argocd").is_none());
}

/// The bootstrap pattern end to end: Argo CD installed with Helm, then
/// adopted by `std/argocd` as an Application that manages it; the handoff
/// deletes nothing, apps wait for Argo CD, and destroy removes the apps and
/// the adopting Application before Argo CD itself.
fn argo_cd_is_bootstrapped_then_manages_itself(e: Env) {
    let repository = chart_repository(&e.ctx);
    let url = &repository.url;
    e.ctx.write(
        "platform.rhai",
        &format!(
            r#"
import "std/argocd" as argocd;
let c = cluster("e2e", #{{ provider: "existing", base_domain: "e2e.example.com" }});
let boot = bootstrap(c, #{{ repo: "{url}", chart: "argo-like", version: "1.1.0", timeout: "30s" }});
argocd::install(c, #{{ bootstrap: boot, version: "1.1.0" }});
helm_app(c, "podinfo", #{{ repo: "https://stefanprodan.github.io/podinfo", chart: "podinfo",
                          version: "6.5.0", timeout: "20s" }});
"#
        ),
    );
    ok(&e.stack(&["run", "platform.rhai", "--yes"]));
    let app = |name: &str| {
        e.server
            .object("argoproj.io/v1alpha1/applications", Some("argocd"), name)
    };
    let adopting = app("argocd").expect("the Application that adopts Argo CD");
    assert_eq!(
        adopting.pointer("/status/health/status"),
        Some(&Json::from("Healthy"))
    );
    assert!(
        adopting
            .pointer("/metadata/finalizers")
            .is_none_or(|f| f.as_array().is_some_and(Vec::is_empty)),
        "deleting the adopting Application must not delete Argo CD: {adopting:#}"
    );
    // The handoff deleted nothing the bootstrap installed.
    let server = e
        .server
        .object("apps/v1/deployments", Some("argocd"), "argocd-server");
    assert!(server.is_some(), "the bootstrap's server is gone");
    let managers = e
        .server
        .managers("apps/v1/deployments", Some("argocd"), "argocd-server");
    assert!(
        managers.iter().any(|m| m == "stack-bootstrap") && !managers.iter().any(|m| m == "stack"),
        "{managers:?}"
    );
    // Apps wait for Argo CD without being told to.
    let state = e.state("platform");
    let needs = &state["resources"]["e2e/helm_app/podinfo"]["depends_on"];
    assert!(
        needs
            .as_array()
            .is_some_and(|n| n.contains(&Json::from("e2e/bootstrap/argocd"))),
        "{needs}"
    );
    assert!(app("podinfo").is_some());

    e.server.clear_requests();
    ok(&e.stack(&["destroy", "platform.rhai", "--yes"]));
    assert!(app("podinfo").is_none() && app("argocd").is_none());
    assert!(e
        .server
        .object("apps/v1/deployments", Some("argocd"), "argocd-server")
        .is_none());
    let deletes = e.server.deletes();
    let first = |fragment: &str| deletes.iter().position(|p| p.contains(fragment));
    let (apps, workloads) = (first("/applications/"), first("/deployments/"));
    assert!(
        apps.is_some() && workloads.is_some() && apps < workloads,
        "{deletes:#?}"
    );
}

/// A version constraint is pinned when the plan is made: the plan shows
/// the exact version, Argo CD is handed exactly that version, and a newer
/// matching release appears in a later plan as a change.
#[test]
fn a_version_constraint_is_pinned_in_the_plan_and_a_newer_release_is_a_change() {
    let e = env_with_argocd();
    e.server
        .create(serde_json::json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "argocd" } }))
        .expect("create the argocd namespace");
    let repository = chart_repository(&e.ctx);
    let url = &repository.url;
    let gitops = e.ctx.path().join("gitops");
    let script = format!(
        r#"
let c = cluster("dev", #{{ provider: "existing", delivery: "gitops",
                          gitops: #{{ repo: "{}", path: "clusters", branch: "main" }} }});
helm_app(c, "widgets", #{{ repo: "{url}", chart: "argo-like", version: "^1.0", timeout: "30s" }});
"#,
        gitops.display()
    );
    e.ctx.write("pinned.rhai", &script);
    let plan = e.stack(&["plan", "pinned.rhai"]);
    ok(&plan);
    plan.assert_stdout(r#"resolved_version = "1.1.0""#);
    ok(&e.stack(&["run", "pinned.rhai", "--yes"]));
    let application = e.ctx.path().join("gitops/clusters/dev/widgets.yaml");
    let committed = std::fs::read_to_string(&application)
        .unwrap_or_else(|err| panic!("{}: {err}", application.display()));
    assert!(committed.contains("targetRevision: 1.1.0"), "{committed}");
    let again = e.stack(&["plan", "pinned.rhai"]);
    again.assert_stdout("No changes");

    // A new 1.x release: the next plan says so.
    let dir = e.ctx.path().join("repository");
    let (chart, out) = (
        fixture_chart("argo-like").to_string_lossy().into_owned(),
        dir.to_string_lossy().into_owned(),
    );
    run_helm(&[
        "package",
        &chart,
        "--version",
        "1.2.0",
        "--destination",
        &out,
    ]);
    run_helm(&["repo", "index", &out]);
    let newer = e.stack(&["plan", "pinned.rhai"]);
    ok(&newer);
    newer.assert_stdout(r#""1.1.0" → "1.2.0""#);

    // A constraint nothing matches fails the plan at the declaration.
    e.ctx.write("pinned.rhai", &script.replace("^1.0", "^3.0"));
    let none = e.stack(&["plan", "pinned.rhai"]);
    assert_eq!(none.code, 1, "{}", none.transcript());
    none.assert_stderr("matches `^3.0`");
    none.assert_stderr("pinned.rhai:4");
}

on_both_servers!(
    bootstrap_from_a_chart_repository_applies_waits_converges_and_destroys,
    a_via_helm_app_from_a_local_chart_applies_prunes_follows_edits_and_destroys,
);

/// The bootstrap pattern with Argo CD (the double) on both servers.
mod with_argocd {
    use super::{env_with_argocd as env, real_env_with_argocd as real_env, Env};

    fn argo_cd_is_bootstrapped_then_manages_itself(e: Env) {
        super::argo_cd_is_bootstrapped_then_manages_itself(e)
    }

    on_both_servers!(argo_cd_is_bootstrapped_then_manages_itself);
}
