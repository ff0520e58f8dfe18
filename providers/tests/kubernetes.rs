//! The Kubernetes provider, the existing-cluster provider and the
//! Kubernetes state backend against the Kubernetes API test server.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value as Json};
use stack_engine::provider::{
    Applied, ApplyRequest, ClusterTarget, DeleteRequest, Provider, ProviderError,
};
use stack_engine::state::{LockInfo, ObjectRef, ResourceState, State, StateBackend, StateError};
use stack_engine::Kind;
use stack_providers::kubernetes::RetryPolicy;
use stack_providers::kubernetes::{Clients, KubernetesProvider};
use stack_providers::{existing, ExistingClusterProvider, KubernetesStateBackend};
use stack_testkit::{Cluster, Config, Fault, FaultRule, TestServer};
use std::sync::Arc;

/// A test server, a kubeconfig pointing at it, and the cluster target.
struct Env {
    server: TestServer,
    dir: tempfile::TempDir,
    target: ClusterTarget,
}

async fn env(config: Config) -> Env {
    let server = TestServer::start(config).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("kubeconfig");
    server.write_kubeconfig(&path).expect("kubeconfig written");
    let target = ClusterTarget {
        id: "cluster/dev".into(),
        name: "dev".into(),
        inputs: json!({ "provider": "existing", "kubeconfig": path.to_string_lossy() }),
        outputs: BTreeMap::new(),
    };
    Env {
        server,
        dir,
        target,
    }
}

impl Env {
    fn request(
        &self,
        kind: Kind,
        name: &str,
        objects: Vec<Json>,
        previous: Option<&Applied>,
    ) -> ApplyRequest {
        ApplyRequest {
            id: format!("dev/{}/{name}", kind.as_str()).as_str().into(),
            kind,
            name: name.into(),
            inputs: json!({}),
            objects,
            cluster: Some(self.target.clone()),
            previous: previous.map(|a| ResourceState {
                kind,
                inputs_hash: String::new(),
                inputs: json!({}),
                outputs: a.outputs.clone(),
                objects: a.objects.clone(),
                depends_on: Vec::new(),
                cluster: Some(self.target.id.clone()),
                direct: false,
                deleting: false,
                intent: None,
                moved_from: None,
            }),
            unconfirmed: Vec::new(),
            wave: 0,
            timeout: Duration::from_secs(30),
            wait: true,
            direct: false,
            owner: test_owner(),
            progress: Default::default(),
        }
    }

    fn delete_request(&self, kind: Kind, applied: &Applied, timeout: Duration) -> DeleteRequest {
        DeleteRequest {
            id: "dev/helm_app/web".into(),
            kind,
            recorded: ResourceState {
                kind,
                inputs_hash: String::new(),
                inputs: json!({}),
                outputs: applied.outputs.clone(),
                objects: applied.objects.clone(),
                depends_on: Vec::new(),
                cluster: Some(self.target.id.clone()),
                direct: false,
                deleting: false,
                intent: None,
                moved_from: None,
            },
            cluster: Some(self.target.clone()),
            timeout,
            owner: test_owner(),
            progress: Default::default(),
        }
    }
}

fn namespace(name: &str) -> Json {
    json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": name } })
}

fn config_map(ns: &str, name: &str, value: &str) -> Json {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": name, "namespace": ns },
        "data": { "key": value },
    })
}

fn deployment(ns: &str, name: &str, replicas: i64) -> Json {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": name, "namespace": ns, "labels": { "app": name } },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "containers": [{ "name": name, "image": "nginx:1.27" }] },
            },
        },
    })
}

fn application(name: &str, version: &str) -> Json {
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {
            "name": name, "namespace": "argocd",
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
        },
        "spec": {
            "project": "default",
            "source": { "repoURL": "https://charts.example.com", "chart": name, "targetRevision": version },
            "destination": { "server": "https://kubernetes.default.svc", "namespace": name },
            "syncPolicy": { "automated": { "prune": true, "selfHeal": true } },
        },
    })
}

fn widget_crd() -> Json {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": { "name": "widgets.example.com" },
        "spec": {
            "group": "example.com",
            "names": { "kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList" },
            "scope": "Namespaced",
            "versions": [{ "name": "v1", "served": true, "storage": true,
                           "schema": { "openAPIV3Schema": { "type": "object", "x-kubernetes-preserve-unknown-fields": true } } }],
        },
    })
}

fn refs(applied: &Applied) -> Vec<String> {
    applied
        .objects
        .iter()
        .map(|o| match &o.namespace {
            Some(ns) => format!("{} {ns}/{}", o.kind, o.name),
            None => format!("{} {}", o.kind, o.name),
        })
        .collect()
}

fn text(e: &ProviderError) -> String {
    let mut all = e.message();
    if let Some(h) = e.help() {
        all.push('\n');
        all.push_str(&h);
    }
    all
}

fn rv(object: Option<Json>) -> String {
    object
        .and_then(|o| {
            o.pointer("/metadata/resourceVersion")
                .and_then(Json::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applies_a_namespace_a_config_map_and_a_deployment_and_waits_until_it_is_available() {
    let env = env(Config::default()).await;
    env.server
        .knobs()
        .deployments()
        .set_delay(Duration::from_millis(300));
    let provider = KubernetesProvider::new();
    // Declared out of order: the namespace still goes first.
    let objects = vec![
        deployment("team-web", "api", 2),
        config_map("team-web", "settings", "a"),
        namespace("team-web"),
    ];
    let applied = provider
        .apply(&env.request(Kind::Manifest, "api", objects, None))
        .await
        .expect("applied");
    assert_eq!(
        refs(&applied),
        [
            "Namespace team-web",
            "Deployment team-web/api",
            "ConfigMap team-web/settings"
        ]
    );
    let live = env
        .server
        .object("apps/v1/deployments", Some("team-web"), "api")
        .expect("deployment exists");
    assert_eq!(
        live.pointer("/status/availableReplicas"),
        Some(&json!(2)),
        "returned before available: {live}"
    );
    assert!(env
        .server
        .managers("apps/v1/deployments", Some("team-web"), "api")
        .contains(&"stack".to_string()));
    assert_eq!(applied.outputs.get("kind"), Some(&json!("Deployment")));
    assert_eq!(applied.outputs.get("namespace"), Some(&json!("team-web")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workload_that_never_becomes_ready_times_out_saying_why() {
    let env = env(Config::default()).await;
    env.server.knobs().deployments().hold("stuck");
    let provider = KubernetesProvider::new();
    let job = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": { "name": "migrate", "namespace": "t" },
        "spec": { "template": { "spec": { "restartPolicy": "Never",
                  "containers": [{ "name": "m", "image": "migrate:1" }] } } },
    });
    provider
        .apply(&env.request(Kind::Manifest, "migrate", vec![namespace("t"), job], None))
        .await
        .expect("the job completes");
    let mut request = env.request(
        Kind::Manifest,
        "stuck",
        vec![deployment("t", "stuck", 3)],
        None,
    );
    request.timeout = Duration::from_millis(500);
    let error = provider.apply(&request).await.expect_err("never available");
    assert_eq!(
        error.message(),
        "Deployment t/stuck is not ready after 500ms"
    );
    assert!(
        error
            .help()
            .unwrap_or_default()
            .lines()
            .any(|d| d.contains("of 3 replicas")),
        "{}",
        text(&error)
    );
    assert!(error
        .help()
        .as_deref()
        .is_some_and(|h| h.contains("kubectl describe deployment/stuck -n t")));
    // Without waiting, the same apply returns at once.
    request.wait = false;
    provider
        .apply(&request)
        .await
        .expect("applied without waiting");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applying_again_changes_nothing() {
    let env = env(Config::default()).await;
    let provider = KubernetesProvider::new();
    let objects = vec![
        namespace("a"),
        config_map("a", "c", "1"),
        deployment("a", "d", 1),
    ];
    let first = provider
        .apply(&env.request(Kind::Manifest, "c", objects.clone(), None))
        .await
        .expect("first apply");
    let before = (
        rv(env.server.object("v1/configmaps", Some("a"), "c")),
        rv(env.server.object("apps/v1/deployments", Some("a"), "d")),
    );
    let second = provider
        .apply(&env.request(Kind::Manifest, "c", objects, Some(&first)))
        .await
        .expect("second apply");
    let after = (
        rv(env.server.object("v1/configmaps", Some("a"), "c")),
        rv(env.server.object("apps/v1/deployments", Some("a"), "d")),
    );
    assert_eq!(first, second);
    assert_eq!(
        before, after,
        "a second apply of the same objects must not change them"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_no_longer_declared_are_pruned() {
    let env = env(Config::default()).await;
    let provider = KubernetesProvider::new();
    let first = provider
        .apply(&env.request(
            Kind::Manifest,
            "set",
            vec![
                namespace("p"),
                config_map("p", "keep", "1"),
                config_map("p", "drop", "2"),
            ],
            None,
        ))
        .await
        .expect("first apply");
    assert!(env
        .server
        .object("v1/configmaps", Some("p"), "drop")
        .is_some());
    let second = provider
        .apply(&env.request(
            Kind::Manifest,
            "set",
            vec![namespace("p"), config_map("p", "keep", "1")],
            Some(&first),
        ))
        .await
        .expect("second apply");
    assert_eq!(refs(&second), ["Namespace p", "ConfigMap p/keep"]);
    assert!(
        env.server
            .object("v1/configmaps", Some("p"), "drop")
            .is_none(),
        "pruned"
    );
    assert!(
        env.server
            .object("v1/configmaps", Some("p"), "keep")
            .is_some(),
        "kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crd_and_its_custom_resource_apply_together() {
    let env = env(Config {
        crd_establish_delay: Duration::from_millis(300),
        ..Config::default()
    })
    .await;
    let provider = KubernetesProvider::new();
    let widget = json!({
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": { "name": "w1", "namespace": "default" },
        "spec": { "size": 3 },
    });
    // Unknown until its CRD exists: the error says so.
    let error = provider
        .apply(&env.request(Kind::Manifest, "widgets", vec![widget.clone()], None))
        .await
        .expect_err("no such kind yet");
    assert!(
        error
            .message()
            .contains("no kind `Widget` in `example.com/v1`"),
        "{}",
        text(&error)
    );
    // The custom resource comes first in the list; the CRD is applied and
    // Established before it, and the kind is discovered again.
    let applied = provider
        .apply(&env.request(Kind::Manifest, "widgets", vec![widget, widget_crd()], None))
        .await
        .expect("applied");
    assert_eq!(
        refs(&applied),
        [
            "CustomResourceDefinition widgets.example.com",
            "Widget default/w1"
        ]
    );
    let live = env
        .server
        .object("example.com/v1/widgets", Some("default"), "w1")
        .expect("widget exists");
    assert_eq!(live.pointer("/spec/size"), Some(&json!(3)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_is_waited_for_until_synced_and_healthy() {
    let env = env(Config::default().with_argocd()).await;
    env.server
        .knobs()
        .argocd()
        .set_sync_delay(Duration::from_millis(300));
    let provider = KubernetesProvider::new();
    provider
        .apply(&env.request(Kind::Namespace, "argocd", vec![namespace("argocd")], None))
        .await
        .expect("namespace");
    let applied = provider
        .apply(&env.request(
            Kind::HelmApp,
            "web",
            vec![application("web", "1.2.3")],
            None,
        ))
        .await
        .expect("application applied");
    assert_eq!(applied.outputs.get("health"), Some(&json!("Healthy")));
    assert_eq!(applied.outputs.get("revision"), Some(&json!("1.2.3")));
    assert_eq!(refs(&applied), ["Application argocd/web"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_degraded_application_fails_with_its_own_conditions() {
    let env = env(Config::default().with_argocd()).await;
    env.server
        .knobs()
        .argocd()
        .degrade("web", "Back-off pulling image \"web:broken\"");
    let provider = KubernetesProvider::new();
    provider
        .apply(&env.request(Kind::Namespace, "argocd", vec![namespace("argocd")], None))
        .await
        .expect("namespace");
    let error = provider
        .apply(&env.request(
            Kind::HelmApp,
            "web",
            vec![application("web", "1.2.3")],
            None,
        ))
        .await
        .expect_err("a degraded application fails");
    assert_eq!(error.message(), "Application argocd/web is Degraded");
    assert!(
        error
            .help()
            .unwrap_or_default()
            .lines()
            .any(|d| d.contains("SyncError") && d.contains("web:broken")),
        "{}",
        text(&error)
    );
    assert!(
        error
            .help()
            .unwrap_or_default()
            .lines()
            .any(|d| d.starts_with("health Degraded") && d.contains("web:broken")),
        "{}",
        text(&error)
    );
    // Fixed, the next apply converges.
    env.server.knobs().argocd().heal("web");
    let applied = provider
        .apply(&env.request(
            Kind::HelmApp,
            "web",
            vec![application("web", "1.2.3")],
            None,
        ))
        .await
        .expect("healthy after the fix");
    assert_eq!(applied.outputs.get("health"), Some(&json!("Healthy")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_application_waits_for_the_argocd_finalizer() {
    let env = env(Config::default().with_argocd()).await;
    let provider = KubernetesProvider::new();
    provider
        .apply(&env.request(Kind::Namespace, "argocd", vec![namespace("argocd")], None))
        .await
        .expect("namespace");
    let applied = provider
        .apply(&env.request(
            Kind::HelmApp,
            "web",
            vec![application("web", "1.0.0")],
            None,
        ))
        .await
        .expect("application applied");
    env.server
        .knobs()
        .argocd()
        .set_finalizer_delay(Duration::from_millis(400));
    provider
        .delete(&env.delete_request(Kind::HelmApp, &applied, Duration::from_secs(30)))
        .await
        .expect("deleted");
    assert!(
        env.server
            .object("argoproj.io/v1alpha1/applications", Some("argocd"), "web")
            .is_none(),
        "delete returned before the finalizer was done"
    );

    // With Argo CD gone, the finalizer stays: the delete times out naming it.
    let applied = provider
        .apply(&env.request(
            Kind::HelmApp,
            "api",
            vec![application("api", "1.0.0")],
            None,
        ))
        .await
        .expect("application applied");
    env.server.knobs().argocd().disable();
    let error = provider
        .delete(&env.delete_request(Kind::HelmApp, &applied, Duration::from_millis(500)))
        .await
        .expect_err("the finalizer holds the application");
    assert!(
        error
            .message()
            .contains("Application argocd/api is still there"),
        "{}",
        text(&error)
    );
    assert!(
        error
            .help()
            .unwrap_or_default()
            .lines()
            .any(|d| d.contains("resources-finalizer.argocd.argoproj.io")),
        "{}",
        text(&error)
    );
    // Deleting what is gone already is fine.
    env.server.knobs().argocd().enable();
    provider
        .delete(&env.delete_request(Kind::HelmApp, &applied, Duration::from_secs(30)))
        .await
        .expect("deleted once Argo CD is back");
    provider
        .delete(&env.delete_request(Kind::HelmApp, &applied, Duration::from_secs(30)))
        .await
        .expect("a missing object is fine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_owned_by_another_manager_is_a_conflict_naming_it() {
    let env = env(Config::default()).await;
    env.server
        .apply(namespace("c"), "kubectl")
        .expect("namespace");
    env.server
        .apply(config_map("c", "shared", "theirs"), "kubectl")
        .expect("theirs");
    let uid = |env: &Env| {
        env.server
            .object("v1/configmaps", Some("c"), "shared")
            .and_then(|o| o.pointer("/metadata/uid").cloned())
    };
    let before = uid(&env);
    // Nobody owns it: not taken over without `adopt: true`.
    let refused = KubernetesProvider::new()
        .apply(&env.request(
            Kind::Manifest,
            "shared",
            vec![config_map("c", "shared", "ours")],
            None,
        ))
        .await
        .expect_err("refused");
    assert!(
        refused
            .message()
            .contains("refused to take over ConfigMap c/shared"),
        "{}",
        text(&refused)
    );
    let live = env.server.object("v1/configmaps", Some("c"), "shared");
    assert_eq!(
        live.as_ref().and_then(|o| o.pointer("/data/key")),
        Some(&json!("theirs"))
    );
    let mut adopting = env.request(
        Kind::Manifest,
        "shared",
        vec![config_map("c", "shared", "ours")],
        None,
    );
    adopting.inputs = json!({ "adopt": true });
    let strict = KubernetesProvider::new().force_conflicts(false);
    let error = strict.apply(&adopting).await.expect_err("a conflict");
    assert!(
        error.message().contains("ConfigMap c/shared"),
        "{}",
        text(&error)
    );
    assert!(error.message().contains("kubectl"), "{}", text(&error));
    assert!(
        error
            .help()
            .unwrap_or_default()
            .lines()
            .any(|d| d.contains(".data.key") && d.contains("kubectl")),
        "{}",
        text(&error)
    );
    // By default `stack` takes the field over, of the object it adopts.
    KubernetesProvider::new()
        .apply(&adopting)
        .await
        .expect("forced");
    let live = env
        .server
        .object("v1/configmaps", Some("c"), "shared")
        .expect("exists");
    assert_eq!(live.pointer("/data/key"), Some(&json!("ours")));
    assert_eq!(uid(&env), before, "the same object, adopted");
    assert_eq!(
        live.pointer("/metadata/annotations/stack.dev~1resource"),
        Some(&json!("dev/resources"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_server_errors_and_throttling_are_retried() {
    let env = env(Config::default().with_seed(7)).await;
    env.server
        .knobs()
        .inject(FaultRule::rate(Fault::InternalError, 0.04));
    env.server
        .knobs()
        .inject(FaultRule::rate(Fault::Unavailable, 0.03));
    env.server.knobs().inject(FaultRule::rate(
        Fault::TooManyRequests {
            retry_after_secs: 0,
        },
        0.03,
    ));
    let provider = KubernetesProvider::new();
    let mut objects = vec![namespace("faulty")];
    objects.extend((0..20).map(|i| config_map("faulty", &format!("c{i}"), "v")));
    objects.push(deployment("faulty", "api", 1));
    let applied = provider
        .apply(&env.request(Kind::Manifest, "many", objects, None))
        .await
        .expect("applied through retries");
    assert_eq!(applied.objects.len(), 22);
    let injected = env.server.requests().iter().filter(|r| r.injected).count();
    assert!(
        injected > 0,
        "no fault was injected: the test proves nothing"
    );
    for i in 0..20 {
        assert!(env
            .server
            .object("v1/configmaps", Some("faulty"), &format!("c{i}"))
            .is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_are_retried() {
    let env = env(Config::default()).await;
    env.server
        .knobs()
        .inject(FaultRule::times(Fault::DropConnection, 3).on_writes());
    env.server
        .knobs()
        .inject(FaultRule::times(Fault::DropConnection, 2).on_methods(&["GET"]));
    let provider = KubernetesProvider::new();
    let applied = provider
        .apply(&env.request(
            Kind::Manifest,
            "c",
            vec![namespace("drops"), config_map("drops", "c", "1")],
            None,
        ))
        .await
        .expect("applied through dropped connections");
    assert_eq!(refs(&applied), ["Namespace drops", "ConfigMap drops/c"]);
    let dropped = env
        .server
        .requests()
        .iter()
        .filter(|r| r.status.is_none())
        .count();
    assert_eq!(dropped, 5, "every injected drop was hit and retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn giving_up_after_bounded_retries_names_the_object() {
    let env = env(Config::default()).await;
    let clients = Arc::new(Clients::new().with_retry(RetryPolicy {
        attempts: 3,
        base: Duration::from_millis(10),
        ..RetryPolicy::default()
    }));
    let provider = KubernetesProvider::with_clients(clients);
    provider
        .apply(&env.request(Kind::Namespace, "n", vec![namespace("n")], None))
        .await
        .expect("namespace");
    env.server.knobs().inject(
        FaultRule::rate(Fault::InternalError, 1.0)
            .on_path("/configmaps")
            .on_methods(&["PATCH"]),
    );
    let error = provider
        .apply(&env.request(Kind::Manifest, "c", vec![config_map("n", "c", "1")], None))
        .await
        .expect_err("always failing");
    assert!(
        error.message().starts_with("cannot apply ConfigMap n/c"),
        "{}",
        text(&error)
    );
    let attempts = env
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.path.ends_with("/configmaps/c"))
        .count();
    assert_eq!(attempts, 3, "retries are bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_shows_drift_made_by_another_manager() {
    let env = env(Config::default()).await;
    let provider = KubernetesProvider::new();
    let objects = vec![
        namespace("d"),
        deployment("d", "api", 2),
        config_map("d", "c", "1"),
    ];
    let request = env.request(Kind::Manifest, "api", objects, None);
    provider.apply(&request).await.expect("applied");
    let drift = provider.refresh(&request).await.expect("refreshed");
    assert_eq!(drift, Vec::new(), "no drift right after apply");

    let mut scaled = deployment("d", "api", 5);
    scaled["spec"] = json!({ "replicas": 5 });
    env.server
        .apply(scaled, "kubectl-scale")
        .expect("scaled by another manager");
    env.server
        .delete("v1/configmaps", Some("d"), "c")
        .expect("deleted by hand");
    let drift = provider.refresh(&request).await.expect("refreshed");
    let replicas = drift
        .iter()
        .find(|d| d.object == "Deployment/d/api" && d.path == "spec.replicas")
        .unwrap_or_else(|| panic!("no replicas drift in {drift:?}"));
    assert_eq!(
        (replicas.desired.clone(), replicas.live.clone()),
        (Some(json!(2)), Some(json!(5)))
    );
    assert!(
        drift
            .iter()
            .any(|d| d.object == "ConfigMap/d/c" && d.path.is_empty() && d.live.is_none()),
        "{drift:?}"
    );
    assert!(
        env.server.requests().iter().any(|r| r.is_dry_run()),
        "drift comes from a server-side dry run"
    );
    let live = env
        .server
        .object("apps/v1/deployments", Some("d"), "api")
        .expect("exists");
    assert_eq!(
        live.pointer("/spec/replicas"),
        Some(&json!(5)),
        "a refresh changes nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_cluster_reports_endpoint_and_version() {
    let env = env(Config::default()).await;
    let provider = ExistingClusterProvider::new();
    let request = ApplyRequest {
        id: env.target.id.clone(),
        kind: Kind::Cluster,
        name: "dev".into(),
        inputs: env.target.inputs.clone(),
        objects: Vec::new(),
        cluster: None,
        previous: None,
        unconfirmed: Vec::new(),
        wave: 0,
        timeout: Duration::from_secs(30),
        wait: true,
        direct: false,
        owner: test_owner(),
        progress: Default::default(),
    };
    let applied = provider.apply(&request).await.expect("reachable");
    assert_eq!(
        applied.outputs.get("endpoint"),
        Some(&json!(env.server.url()))
    );
    assert!(
        applied
            .outputs
            .get("version")
            .and_then(Json::as_str)
            .is_some_and(|v| v.starts_with('v')),
        "{:?}",
        applied.outputs
    );

    // A context that is not in the kubeconfig is named, with the ones that are.
    let mut wrong = request.clone();
    wrong.inputs["context"] = json!("stack-tset");
    let error = provider.apply(&wrong).await.expect_err("no such context");
    assert!(error.message().contains("`stack-tset`"), "{}", text(&error));
    assert!(
        error
            .help()
            .is_some_and(|h| h.ends_with("did you mean `stack-test`?")),
        "{}",
        text(&error)
    );

    // An API that does not answer is named by context and server.
    let port = env.server.addr().port();
    drop(env.server);
    let clients = Arc::new(Clients::new().with_retry(RetryPolicy {
        attempts: 2,
        base: Duration::from_millis(10),
        ..RetryPolicy::default()
    }));
    let error = ExistingClusterProvider::with_clients(clients)
        .apply(&request)
        .await
        .expect_err("unreachable");
    assert!(
        error.message().contains("context `stack-test`"),
        "{}",
        text(&error)
    );
    assert!(
        error.message().contains(&format!("127.0.0.1:{port}")),
        "{}",
        text(&error)
    );
    assert!(error
        .help()
        .as_deref()
        .is_some_and(|h| h.contains("kubectl --context stack-test")));
    drop(env.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gitops_cluster_without_a_kubeconfig_applies_with_empty_outputs() {
    let inputs = json!({
        "provider": "existing",
        "delivery": "gitops",
        "kubeconfig": "/nonexistent/stack/kubeconfig",
    });
    let request = ApplyRequest {
        id: "cluster/git".into(),
        kind: Kind::Cluster,
        name: "git".into(),
        inputs: inputs.clone(),
        objects: Vec::new(),
        cluster: None,
        previous: None,
        unconfirmed: Vec::new(),
        wave: 0,
        timeout: Duration::from_secs(5),
        wait: true,
        direct: false,
        owner: test_owner(),
        progress: Default::default(),
    };
    let applied = ExistingClusterProvider::new()
        .apply(&request)
        .await
        .expect("tolerated");
    assert_eq!(applied.outputs.get("endpoint"), Some(&json!("")));
    let target = ClusterTarget {
        id: "cluster/git".into(),
        name: "git".into(),
        inputs: inputs.clone(),
        outputs: applied.outputs.clone(),
    };
    assert!(!existing::reachable(&target));

    // A direct cluster without one is an error that says what to set.
    let mut direct = request;
    direct.inputs["delivery"] = json!("direct");
    let error = ExistingClusterProvider::new()
        .apply(&direct)
        .await
        .expect_err("no kubeconfig");
    assert!(
        error.message().contains("/nonexistent/stack/kubeconfig"),
        "{}",
        text(&error)
    );
    assert!(error
        .help()
        .as_deref()
        .is_some_and(|h| h.contains("KUBECONFIG")));
}

fn state_with(stack: &str, ids: &[&str]) -> State {
    let mut state = State::empty(stack);
    for id in ids {
        state.resources.insert(
            (*id).into(),
            ResourceState {
                kind: Kind::Namespace,
                inputs_hash: "h".into(),
                inputs: json!({ "labels": {} }),
                outputs: BTreeMap::from([("name".to_string(), json!(id))]),
                objects: vec![ObjectRef {
                    api_version: "v1".into(),
                    kind: "Namespace".into(),
                    namespace: None,
                    name: (*id).to_string(),
                }],
                depends_on: Vec::new(),
                cluster: None,
                direct: false,
                deleting: false,
                intent: None,
                moved_from: None,
            },
        );
    }
    state.serial = 3;
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_lives_in_a_secret() {
    let env = env(Config::default()).await;
    let backend = KubernetesStateBackend::new(env.target.clone(), "stack-system", "dev");
    assert_eq!(
        backend.describe(),
        "Secret stack-system/stack-state-dev on cluster `dev`"
    );
    let empty = backend.load().await.expect("loaded");
    assert!(empty.resources.is_empty());
    let state = state_with("dev", &["dev/namespace/a", "dev/namespace/b"]);
    backend.save(&state).await.expect("saved");
    let mut next = state.clone();
    next.serial += 1;
    backend.save(&next).await.expect("saved again");

    let secret = env
        .server
        .object("v1/secrets", Some("stack-system"), "stack-state-dev")
        .expect("secret exists in a namespace created for it");
    assert_eq!(secret.pointer("/type"), Some(&json!("Opaque")));
    let other = KubernetesStateBackend::new(env.target.clone(), "stack-system", "dev");
    assert_eq!(other.load().await.expect("loaded"), next);

    // Two writers from the same state: the second cannot overwrite the first.
    let a = KubernetesStateBackend::new(env.target.clone(), "stack-system", "dev");
    let b = KubernetesStateBackend::new(env.target.clone(), "stack-system", "dev");
    let mut from_a = a.load().await.expect("a loads");
    let mut from_b = b.load().await.expect("b loads");
    from_a.serial = 10;
    a.save(&from_a).await.expect("a saves");
    from_b.serial = 20;
    let error = b.save(&from_b).await.expect_err("b's view is stale");
    assert!(
        matches!(&error, StateError::Backend { message, .. } if message.contains("changed by another writer")),
        "{error}"
    );
    assert_eq!(other.load().await.expect("loaded").serial, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_lock_names_its_holder_and_can_be_broken() {
    let env = env(Config::default()).await;
    // A short Lease, so that one no longer renewed is soon told from a live one.
    let first = KubernetesStateBackend::new(env.target.clone(), "stack-system", "dev")
        .with_lease_duration(Duration::from_secs(3));
    let second = KubernetesStateBackend::new(env.target.clone(), "stack-system", "dev");
    let holder = LockInfo {
        host: "build-7".into(),
        ..LockInfo::current("run")
    };
    let other = LockInfo {
        id: format!("{}-other", holder.id),
        ..LockInfo::current("destroy")
    };
    first.lock(&holder, false).await.expect("locked");
    first
        .lock(&holder, false)
        .await
        .expect("taking one's own lock again is fine");
    let lease = env
        .server
        .object(
            "coordination.k8s.io/v1/leases",
            Some("stack-system"),
            "stack-lock-dev",
        )
        .expect("lease exists");
    assert_eq!(
        lease.pointer("/spec/holderIdentity"),
        Some(&json!(holder.id))
    );

    let error = second
        .lock(&other, false)
        .await
        .expect_err("held by the first");
    match &error {
        StateError::Locked {
            stack,
            holder: named,
        } => {
            assert_eq!(stack, "dev");
            assert_eq!(**named, holder);
        }
        e => panic!("expected Locked, got {e}"),
    }
    assert!(error.to_string().contains("build-7"), "{error}");

    // Not while the first still renews its Lease, even with force.
    match second.lock(&other, true).await {
        Err(StateError::StillRunning { holder: named, .. }) => assert_eq!(*named, holder),
        e => panic!("expected a refusal to break a live lock, got {e:?}"),
    }
    // Once it stops renewing (its run was killed), force breaks the lock.
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match second.lock(&other, true).await {
            Ok(()) => break,
            Err(StateError::StillRunning { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("force did not break the abandoned lock: {e}"),
        }
    }
    let lease = env
        .server
        .object(
            "coordination.k8s.io/v1/leases",
            Some("stack-system"),
            "stack-lock-dev",
        )
        .expect("lease exists");
    assert_eq!(
        lease.pointer("/spec/holderIdentity"),
        Some(&json!(other.id))
    );
    // The first holder's unlock leaves the new holder's lock alone.
    KubernetesStateBackend::new(env.target.clone(), "stack-system", "dev")
        .unlock(&holder)
        .await
        .expect("unlocked");
    assert!(env
        .server
        .object(
            "coordination.k8s.io/v1/leases",
            Some("stack-system"),
            "stack-lock-dev"
        )
        .is_some());
    second.unlock(&other).await.expect("unlocked");
    assert!(env
        .server
        .object(
            "coordination.k8s.io/v1/leases",
            Some("stack-system"),
            "stack-lock-dev"
        )
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_may_be_taken_over() {
    let env = env(Config::default()).await;
    let gone = LockInfo {
        host: "elsewhere".into(),
        ..LockInfo::current("run")
    };
    // A holder that stopped renewing: its lease lasts two seconds.
    let stopped = KubernetesStateBackend::new(env.target.clone(), "stack-system", "dev")
        .with_lease_duration(Duration::from_secs(2));
    stopped.lock(&gone, false).await.expect("locked");
    drop(stopped);
    let next = KubernetesStateBackend::new(env.target.clone(), "stack-system", "dev");
    let me = LockInfo {
        id: format!("{}-next", gone.id),
        ..LockInfo::current("run")
    };
    assert!(matches!(
        next.lock(&me, false).await,
        Err(StateError::Locked { .. })
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match next.lock(&me, false).await {
            Ok(()) => break,
            Err(StateError::Locked { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the expired lease was not taken over: {e}"),
        }
    }
    next.unlock(&me).await.expect("unlocked");
}

/// The owner every request of these tests applies and deletes as.
fn test_owner() -> stack_engine::ownership::Owner {
    stack_engine::ownership::Owner {
        stack: "dev".into(),
        identity: "test-identity".into(),
        resource: "dev/resources".into(),
    }
}
