//! `stacks/prod.rhai` from nothing to a platform and back, as a user runs
//! it: AWS is moto (an EKS cluster with node groups), the cluster's
//! Kubernetes API is the test server or a real kube-apiserver behind the
//! test kit's proxy (moto reports it as the cluster's endpoint, so the
//! endpoint is only known once the cluster exists), Argo
//! CD's chart comes from a mirror of its repository served over loopback
//! and is rendered by the real helm, and the Argo CD double syncs the apps
//! (installing the CRDs of External Secrets and cert-manager, as those
//! charts do). One run builds it all, a second changes nothing, a one-line
//! edit upgrades Kubernetes, and destroy takes it down in order.

use serde_json::{json, Value as Json};
use stack_testkit::{Cluster, Config, Moto, RealCluster, TestServer};

use crate::common::copy_dir;
use crate::common::{regex_escape, repo_root, serve, settings, Run, Served, TestContext};
use crate::eks::{aws_env, moto_aws};
use crate::helm::{fixture_chart, helm, run_helm};
use crate::run::ok;

const ARGO_HELM: &str = "https://argoproj.github.io/argo-helm";

/// A CustomResourceDefinition with an open schema.
fn crd(group: &str, kind: &str, plural: &str, scope: &str) -> Json {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": format!("{plural}.{group}") },
        "spec": {
            "group": group,
            "names": { "kind": kind, "plural": plural, "singular": kind.to_lowercase(), "listKind": format!("{kind}List") },
            "scope": scope,
            "versions": [{
                "name": if group == "cert-manager.io" { "v1" } else { "v1beta1" },
                "served": true, "storage": true,
                "schema": { "openAPIV3Schema": { "type": "object", "x-kubernetes-preserve-unknown-fields": true } },
            }],
        },
    })
}

/// A mirror of the argo-helm repository holding an Argo-CD-shaped chart
/// named `argo-cd` at the version the stack pins.
fn argo_helm_mirror(ctx: &TestContext) -> Served {
    let chart = ctx.path().join("charts/argo-cd");
    copy_dir(&fixture_chart("argo-like"), &chart);
    let manifest = chart.join("Chart.yaml");
    let text = std::fs::read_to_string(&manifest).expect("Chart.yaml");
    std::fs::write(&manifest, text.replace("name: argo-like", "name: argo-cd"))
        .expect("rename the chart");
    let dir = ctx.path().join("mirror");
    std::fs::create_dir_all(&dir).expect("create the mirror");
    let (chart, out) = (chart.to_string_lossy(), dir.to_string_lossy());
    run_helm(&[
        "package",
        &chart,
        "--version",
        "7.3.4",
        "--destination",
        &out,
    ]);
    run_helm(&["repo", "index", &out]);
    serve(dir)
}

struct Platform {
    ctx: TestContext,
    server: Box<dyn Cluster>,
    moto: Moto,
    _mirror: Served,
    env: Vec<(&'static str, String)>,
    /// The Kubernetes version the stack declares, then upgrades to.
    versions: (&'static str, &'static str),
}

/// The platform on the test server, at the version `stacks/prod.rhai`
/// declares.
fn env() -> Platform {
    Platform::on(
        Box::new(TestServer::start_blocking(Config::default().with_argocd())),
        ("1.30", "1.31"),
    )
}

/// The platform on a real kube-apiserver v1.20, with the script's
/// Kubernetes versions (before and after the upgrade) ones whose API
/// versions that server serves, so the modules choose `policy/v1beta1`
/// for PodDisruptionBudgets and `autoscaling/v2beta2` for autoscalers. (An
/// upgrade to 1.21 is planned as `policy/v1`, which this server, still
/// 1.20 behind moto's EKS, refuses at plan time, as it should.)
fn real_env() -> Platform {
    Platform::on(Box::new(RealCluster::take_with_argocd()), ("1.19", "1.20"))
}

impl Platform {
    fn on(server: Box<dyn Cluster>, versions: (&'static str, &'static str)) -> Platform {
        let argocd = server.knobs().argocd();
        argocd.provide_chart(
            "external-secrets",
            vec![
                crd(
                    "external-secrets.io",
                    "ClusterSecretStore",
                    "clustersecretstores",
                    "Cluster",
                ),
                crd(
                    "external-secrets.io",
                    "ExternalSecret",
                    "externalsecrets",
                    "Namespaced",
                ),
            ],
        );
        argocd.provide_chart(
            "cert-manager",
            vec![crd(
                "cert-manager.io",
                "ClusterIssuer",
                "clusterissuers",
                "Cluster",
            )],
        );
        let moto = Moto::start_with_cluster_endpoint(&server.url())
            .unwrap_or_else(|e| panic!("the platform test needs moto: {e}"));
        let ctx = TestContext::new();
        let script = std::fs::read_to_string(repo_root().join("stacks/prod.rhai"))
            .expect("stacks/prod.rhai");
        ctx.write("prod.rhai", &with_version(&script, "1.30", versions.0));
        let mirror = argo_helm_mirror(&ctx);
        let mut env = aws_env(&moto);
        env.push(("STACK_HELM", helm().to_string_lossy().into_owned()));
        env.push((
            "STACK_CACHE_DIR",
            ctx.path().join("cache").to_string_lossy().into_owned(),
        ));
        env.push(("STACK_CHART_MIRRORS", format!("{ARGO_HELM}={}", mirror.url)));
        Platform {
            ctx,
            server,
            moto,
            _mirror: mirror,
            env,
            versions,
        }
    }

    fn stack(&self, args: &[&str]) -> Run {
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.ctx.stack_env(args, &env)
    }

    /// The EKS cluster's version and its node groups' versions, as AWS
    /// describes them; `None` when there is no cluster.
    fn eks_versions(&self) -> Option<(String, Vec<String>)> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let eks = moto_aws(&self.moto).eks("eu-west-1").await;
            let cluster = eks
                .describe_cluster()
                .name("prod")
                .send()
                .await
                .ok()?
                .cluster?;
            let mut groups = Vec::new();
            let names = eks
                .list_nodegroups()
                .cluster_name("prod")
                .send()
                .await
                .ok()?;
            for name in names.nodegroups() {
                let group = eks
                    .describe_nodegroup()
                    .cluster_name("prod")
                    .nodegroup_name(name)
                    .send()
                    .await
                    .ok()?
                    .nodegroup?;
                groups.push(format!("{name} {}", group.version().unwrap_or_default()));
            }
            groups.sort();
            Some((cluster.version().unwrap_or_default().to_string(), groups))
        })
    }

    fn app(&self, name: &str) -> Option<Json> {
        self.server
            .object("argoproj.io/v1alpha1/applications", Some("argocd"), name)
    }

    fn writes(&self) -> Vec<String> {
        self.server.writes()
    }
}

/// `script` with its one declared Kubernetes version `from` set to `to`.
fn with_version(script: &str, from: &str, to: &str) -> String {
    let declared = format!(r#"version: "{from}","#);
    assert_eq!(script.matches(&declared).count(), 1, "{declared}");
    script.replace(&declared, &format!(r#"version: "{to}","#))
}

fn the_production_platform_is_built_upgraded_and_destroyed(p: Platform) {
    let (from, to) = p.versions;
    // The plan, before anything exists: the cluster's endpoint, and all
    // that depends on it, is known only after apply.
    let plan = p.stack(&["plan", "prod.rhai"]);
    ok(&plan);
    plan.assert_stdout("+ cluster/prod  (create)");
    plan.assert_stdout("endpoint");
    plan.assert_stdout("(known after apply)");

    // One run: cluster, node groups, Argo CD, every app, SSO, the teams.
    let run = p.stack(&["run", "prod.rhai", "--yes"]);
    ok(&run);
    // What was `(known after apply)` is shown once known.
    assert!(
        run.stderr
            .contains(&format!("endpoint = {}", p.server.url())),
        "{}",
        run.transcript()
    );
    assert_eq!(
        p.eks_versions(),
        Some((
            from.to_string(),
            vec![format!("default {from}"), format!("observability {from}")]
        ))
    );
    let managers = p
        .server
        .managers("apps/v1/deployments", Some("argocd"), "argocd-server");
    assert!(
        managers.iter().any(|m| m == "stack-bootstrap"),
        "{managers:?}"
    );
    for app in [
        "argocd",
        "external-secrets",
        "cert-manager",
        "traefik",
        "keycloak",
        "loki",
        "monitoring",
    ] {
        let found = p.app(app).unwrap_or_else(|| panic!("Application {app}"));
        assert_eq!(
            found.pointer("/status/health/status"),
            Some(&Json::from("Healthy")),
            "{app}"
        );
    }
    assert!(p
        .server
        .object(
            "external-secrets.io/v1beta1/clustersecretstores",
            None,
            "aws-secrets-manager"
        )
        .is_some());
    let grafana = p
        .server
        .object("v1/secrets", Some("monitoring"), "grafana-oidc")
        .expect("Grafana's OIDC Secret");
    assert!(grafana.pointer("/data").is_some(), "{grafana:#}");
    let realm = p
        .server
        .object("v1/configmaps", Some("keycloak"), "sso-realm")
        .expect("the realm");
    assert!(realm
        .to_string()
        .contains("https://grafana.prod.example.com/login/generic_oauth"));
    for team in ["payments", "search", "web"] {
        assert!(
            p.server
                .object("apps/v1/deployments", Some(&format!("team-{team}")), team)
                .is_some(),
            "{team}"
        );
    }
    let state: Json = serde_json::from_str(
        &std::fs::read_to_string(p.ctx.path().join(".stack/prod.state.json")).expect("state"),
    )
    .expect("JSON");
    assert_eq!(
        state["resources"]["cluster/prod"]["outputs"]["endpoint"],
        Json::from(p.server.url()),
        "the endpoint resolved during the run"
    );

    // A second run: nothing to do, nothing written.
    p.server.clear_requests();
    let again = p.stack(&["run", "prod.rhai", "--yes"]);
    ok(&again);
    again.assert_stdout("No changes");
    assert_eq!(p.writes(), Vec::<String>::new());

    // A one-line edit upgrades Kubernetes: the cluster, then its node groups.
    let script = std::fs::read_to_string(p.ctx.path().join("prod.rhai")).expect("the script");
    p.ctx.write("prod.rhai", &with_version(&script, from, to));
    let upgrade = p.stack(&["plan", "prod.rhai"]);
    ok(&upgrade);
    let mut versions = settings(None);
    versions.add_filter(
        &regex_escape(&format!(r#""{from}" → "{to}""#)),
        r#""<from>" → "<to>""#,
    );
    versions.bind(|| insta::assert_snapshot!("platform_upgrade_plan", upgrade.stdout));
    ok(&p.stack(&["run", "prod.rhai", "--yes"]));
    assert_eq!(
        p.eks_versions(),
        Some((
            to.to_string(),
            vec![format!("default {to}"), format!("observability {to}")]
        ))
    );

    // Destroy: the apps, then Argo CD's own objects, then the cluster.
    p.server.clear_requests();
    ok(&p.stack(&["destroy", "prod.rhai", "--yes"]));
    assert_eq!(p.eks_versions(), None, "the EKS cluster is gone");
    assert!(p.app("traefik").is_none() && p.app("argocd").is_none());
    assert!(p
        .server
        .object("apps/v1/deployments", Some("argocd"), "argocd-server")
        .is_none());
    let deletes = p.server.deletes();
    let last_app = deletes.iter().rposition(|d| d.contains("/applications/"));
    let first_argocd = deletes
        .iter()
        .position(|d| d.contains("/namespaces/argocd/deployments/"));
    assert!(
        last_app.is_some() && first_argocd.is_some() && last_app < first_argocd,
        "{deletes:#?}"
    );
}

on_both_servers!(the_production_platform_is_built_upgraded_and_destroyed);
