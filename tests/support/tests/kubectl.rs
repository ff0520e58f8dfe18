//! The real `kubectl` against the test server — the independent client
//! that checks the server behaves like kube-apiserver — and the same
//! checks against a real kube-apiserver (`kube_apiserver::<name>`), so the
//! two are seen to agree.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use stack_testkit::{Cluster, Config, RealCluster, TestServer};

const WAIT: Duration = Duration::from_secs(10);

/// `kubectl` from PATH; the tests need it and say so loudly.
fn kubectl_bin() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("kubectl"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`kubectl` is required on PATH for these tests (install kubectl v1.2x)")
        })
}

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// A server, a kubeconfig pointing at it, and a private HOME for kubectl's
/// caches.
struct Kube {
    server: Box<dyn Cluster>,
    dir: tempfile::TempDir,
}

/// The test server, no controller doubles.
fn test_server() -> Kube {
    Kube::with(Config::default())
}

/// A real kube-apiserver of its own, behind the test kit's proxy.
fn real() -> Kube {
    let cluster = RealCluster::take();
    cluster.knobs().argocd().disable();
    Kube::on(Box::new(cluster))
}

/// Each check `fn name(k: Kube)` against both servers.
macro_rules! on_both_servers {
    ($($name:ident),* $(,)?) => {
        mod test_server {
            $( #[test] fn $name() { super::$name(super::test_server()) } )*
        }
        mod kube_apiserver {
            $( #[test] fn $name() { super::$name(super::real()) } )*
        }
    };
}

impl Kube {
    fn with(config: Config) -> Kube {
        Kube::on(Box::new(TestServer::start_blocking(config)))
    }

    fn on(server: Box<dyn Cluster>) -> Kube {
        let dir = tempfile::tempdir().expect("temp dir");
        server
            .write_kubeconfig(&dir.path().join("kubeconfig"))
            .expect("kubeconfig written");
        Kube { server, dir }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(kubectl_bin());
        c.args(args)
            .env("KUBECONFIG", self.dir.path().join("kubeconfig"))
            .env("HOME", self.dir.path())
            .env("KUBECACHEDIR", self.dir.path().join("cache"))
            .env_remove("KUBECTL_EXTERNAL_DIFF");
        c
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Out {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl starts");
        if let Some(mut input) = child.stdin.take() {
            input
                .write_all(stdin.unwrap_or("").as_bytes())
                .expect("stdin written");
        }
        let out = child.wait_with_output().expect("kubectl finishes");
        Out {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs kubectl, expecting success; returns stdout.
    fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.ok,
            "kubectl {args:?} failed:\nstdout: {}\nstderr: {}",
            out.stdout, out.stderr
        );
        out.stdout
    }

    /// Runs kubectl, expecting failure; returns stderr.
    fn fails(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            !out.ok,
            "kubectl {args:?} should have failed:\nstdout: {}",
            out.stdout
        );
        out.stderr
    }

    fn apply(&self, manifest: &str) -> String {
        self.ok(&["apply", "--server-side", "-f", "-"], Some(manifest))
    }
}

const BASE: &str = "\
apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: demo
  labels: {app: x}
data:
  greeting: hello
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: nginx:1.27
";

const SCALE: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
spec:
  replicas: 5
";

const WIDGET_CRD: &str = "\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
    subresources: {status: {}}
";

const WIDGET: &str = "\
apiVersion: example.com/v1
kind: Widget
metadata: {name: w1, namespace: default}
spec: {size: 3}
";

fn server_side_apply_then_get_shows_objects_with_managed_fields(k: Kube) {
    let out = k.apply(BASE);
    assert!(out.contains("namespace/demo serverside-applied"), "{out}");
    assert!(
        out.contains("configmap/settings serverside-applied"),
        "{out}"
    );
    assert!(
        out.contains("deployment.apps/web serverside-applied"),
        "{out}"
    );

    let yaml = k.ok(
        &[
            "get",
            "deployment",
            "web",
            "-n",
            "demo",
            "-o",
            "yaml",
            "--show-managed-fields",
        ],
        None,
    );
    let v: Value = serde_yaml::from_str(&yaml).expect("kubectl printed YAML");
    assert_eq!(v["spec"]["replicas"], 2);
    let managed = v["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields present");
    let kubectl = managed
        .iter()
        .find(|m| m["manager"] == "kubectl")
        .expect("kubectl is a manager");
    assert_eq!(kubectl["operation"], "Apply");
    assert_eq!(
        kubectl["fieldsV1"]["f:spec"]["f:replicas"],
        serde_json::json!({})
    );

    let cm = k.ok(
        &["get", "configmap", "settings", "-n", "demo", "-o", "json"],
        None,
    );
    let cm: Value = serde_json::from_str(&cm).expect("json");
    assert_eq!(cm["data"]["greeting"], "hello");
    assert!(cm["metadata"]["uid"].is_string());

    // Reapplying the same manifest changes nothing.
    let rv = k
        .server
        .object("v1/configmaps", Some("demo"), "settings")
        .map(|o| o["metadata"]["resourceVersion"].clone());
    k.apply(BASE);
    assert_eq!(
        k.server
            .object("v1/configmaps", Some("demo"), "settings")
            .map(|o| o["metadata"]["resourceVersion"].clone()),
        rv
    );

    // The readiness double makes `kubectl wait` succeed.
    let waited = k.ok(
        &[
            "wait",
            "--for=condition=Available",
            "deployment/web",
            "-n",
            "demo",
            "--timeout=10s",
        ],
        None,
    );
    assert!(waited.contains("condition met"), "{waited}");

    let table = k.ok(&["get", "deployments", "-A"], None);
    assert!(
        table.contains("NAMESPACE") && table.contains("demo") && table.contains("web"),
        "{table}"
    );
}

fn conflicting_manager_is_reported_and_force_takes_over(k: Kube) {
    k.apply(BASE);
    let err = k.fails(
        &[
            "apply",
            "--server-side",
            "--field-manager=scaler",
            // A partial manifest, as server-side apply allows; kubectl would
            // check it whole against a real server's schema.
            "--validate=false",
            "-f",
            "-",
        ],
        Some(SCALE),
    );
    assert!(
        err.contains("Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas"),
        "{err}"
    );
    assert!(
        err.contains("--force-conflicts"),
        "kubectl explains the way out: {err}"
    );
    let replicas = |k: &Kube| {
        k.server
            .object("apps/v1/deployments", Some("demo"), "web")
            .map(|d| d["spec"]["replicas"].clone())
    };
    assert_eq!(replicas(&k), Some(serde_json::json!(2)));
    assert!(k
        .server
        .requests()
        .iter()
        .any(|r| r.method == "PATCH" && r.status == Some(409)));

    let out = k.ok(
        &[
            "apply",
            "--server-side",
            "--field-manager=scaler",
            // A partial manifest, as server-side apply allows; kubectl would
            // check it whole against a real server's schema.
            "--validate=false",
            "--force-conflicts",
            "-f",
            "-",
        ],
        Some(SCALE),
    );
    assert!(out.contains("serverside-applied"), "{out}");
    assert_eq!(replicas(&k), Some(serde_json::json!(5)));
    let managers = k
        .server
        .managers("apps/v1/deployments", Some("demo"), "web");
    assert!(managers.contains(&"scaler".to_string()), "{managers:?}");

    // kubectl now conflicts with the new owner in turn.
    let err = k.fails(&["apply", "--server-side", "-f", "-"], Some(BASE));
    assert!(err.contains("conflict with \"scaler\""), "{err}");
}

fn label_selectors_pick_objects(k: Kube) {
    k.apply(
        "\
apiVersion: v1
kind: ConfigMap
metadata: {name: a, labels: {app: x, tier: web}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b, labels: {app: x, tier: db}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, labels: {app: 'y'}}
",
    );
    let names = |sel: &str| {
        let mut v: Vec<String> = k
            .ok(&["get", "cm", "-l", sel, "-o", "name"], None)
            .lines()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("app=x"), vec!["configmap/a", "configmap/b"]);
    assert_eq!(names("app=x,tier!=db"), vec!["configmap/a"]);
    assert_eq!(names("app in (x,y),!tier"), vec!["configmap/c"]);
    let out = k.ok(&["get", "cm", "-l", "app=x"], None);
    assert!(out.contains("NAME") && out.contains("AGE"), "{out}");
    let none = k.run(&["get", "cm", "-l", "app=nothing"], None);
    assert!(none.ok);
    assert!(
        none.stderr.contains("No resources found"),
        "{}",
        none.stderr
    );
}

fn delete_removes_objects_and_namespaces_take_their_contents(k: Kube) {
    k.apply(BASE);
    let out = k.ok(&["delete", "configmap", "settings", "-n", "demo"], None);
    assert!(out.contains("configmap \"settings\" deleted"), "{out}");
    assert!(k
        .server
        .object("v1/configmaps", Some("demo"), "settings")
        .is_none());
    let err = k.fails(&["get", "configmap", "settings", "-n", "demo"], None);
    assert!(err.contains("configmaps \"settings\" not found"), "{err}");

    // A finalizer holds an object until it is removed.
    k.apply(
        "\
apiVersion: v1
kind: ConfigMap
metadata: {name: held, namespace: demo, finalizers: [example.com/hold]}
",
    );
    k.ok(
        &["delete", "configmap", "held", "-n", "demo", "--wait=false"],
        None,
    );
    let held = k
        .server
        .object("v1/configmaps", Some("demo"), "held")
        .expect("held by its finalizer");
    assert!(held["metadata"]["deletionTimestamp"].is_string());
    k.ok(
        &[
            "patch",
            "configmap",
            "held",
            "-n",
            "demo",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ],
        None,
    );
    assert!(k
        .server
        .object("v1/configmaps", Some("demo"), "held")
        .is_none());

    let out = k.ok(&["delete", "namespace", "demo"], None);
    assert!(out.contains("namespace \"demo\" deleted"), "{out}");
    assert!(k.server.object("v1/namespaces", None, "demo").is_none());
    assert!(k.server.list("apps/v1/deployments", None).is_empty());
}

fn crd_then_custom_resource(k: Kube) {
    let err = k.fails(&["apply", "--server-side", "-f", "-"], Some(WIDGET));
    assert!(err.contains("no matches for kind \"Widget\""), "{err}");
    let err = k.fails(&["get", "widgets"], None);
    assert!(
        err.contains("the server doesn't have a resource type \"widgets\""),
        "{err}"
    );

    k.apply(WIDGET_CRD);
    let out = k.ok(
        &[
            "wait",
            "--for=condition=Established",
            "crd/widgets.example.com",
            "--timeout=10s",
        ],
        None,
    );
    assert!(out.contains("condition met"), "{out}");
    let out = k.apply(WIDGET);
    assert!(
        out.contains("widget.example.com/w1 serverside-applied"),
        "{out}"
    );
    let listed = k.ok(&["get", "wd", "-o", "name"], None);
    assert_eq!(listed.trim(), "widget.example.com/w1");
    let yaml = k.ok(&["get", "widget", "w1", "-o", "yaml"], None);
    let v: Value = serde_yaml::from_str(&yaml).expect("yaml");
    assert_eq!(v["spec"]["size"], 3);
    let resources = k.ok(&["api-resources", "--api-group=example.com"], None);
    assert!(
        resources.contains("widgets") && resources.contains("Widget"),
        "{resources}"
    );

    // Deleting the CRD takes its objects and its kind away.
    k.ok(&["delete", "crd", "widgets.example.com"], None);
    assert!(k
        .server
        .object("example.com/v1/widgets", Some("default"), "w1")
        .is_none());
    // (kubectl may still map the kind from its discovery cache; either way
    // the server no longer serves it.)
    let err = k.fails(&["get", "widgets"], None);
    assert!(
        err.contains("doesn't have a resource type")
            || err.contains("could not find the requested resource"),
        "{err}"
    );
}

fn argo_cd_applications_exist_only_once_their_crd_does(k: Kube) {
    let err = k.fails(&["get", "applications.argoproj.io"], None);
    assert!(err.contains("doesn't have a resource type"), "{err}");
    k.server.install_argocd_crds().expect("CRDs installed");
    let out = k.run(&["get", "applications.argoproj.io", "-A"], None);
    assert!(out.ok, "{}", out.stderr);
}

fn server_dry_run_stores_nothing(k: Kube) {
    let out = k.ok(
        &["apply", "--server-side", "--dry-run=server", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dry}\ndata: {a: b}\n"),
    );
    assert!(
        out.contains("configmap/dry serverside-applied (server dry run)"),
        "{out}"
    );
    assert!(k
        .server
        .object("v1/configmaps", Some("default"), "dry")
        .is_none());
    // As on a real cluster, a dry-run namespace does not exist for the
    // objects after it.
    let err = k.fails(
        &["apply", "--server-side", "--dry-run=server", "-f", "-"],
        Some(BASE),
    );
    assert!(err.contains("namespaces \"demo\" not found"), "{err}");
    assert!(k.server.object("v1/namespaces", None, "demo").is_none());
    k.apply(BASE);
    k.server.clear_requests();
    let out = k.ok(
        &[
            "apply",
            "--server-side",
            "--dry-run=server",
            "--field-manager=scaler",
            // A partial manifest, as server-side apply allows; kubectl would
            // check it whole against a real server's schema.
            "--validate=false",
            "--force-conflicts",
            "-f",
            "-",
        ],
        Some(SCALE),
    );
    assert!(out.contains("(server dry run)"), "{out}");
    assert_eq!(
        k.server
            .object("apps/v1/deployments", Some("demo"), "web")
            .map(|d| d["spec"]["replicas"].clone()),
        Some(serde_json::json!(2))
    );
    let patches: Vec<_> = k
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert_eq!(patches.len(), 1);
    assert!(patches[0].is_dry_run(), "{:?}", patches[0]);
}

fn namespaced_object_before_its_namespace_is_refused(k: Kube) {
    let err = k.fails(
        &["apply", "--server-side", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: early, namespace: later}\ndata: {a: b}\n"),
    );
    assert!(err.contains("namespaces \"later\" not found"), "{err}");
    assert!(k
        .server
        .object("v1/configmaps", Some("later"), "early")
        .is_none());
}

fn kubectl_get_watch_streams_events(k: Kube) {
    let mut child = k
        .command(&[
            "get",
            "configmaps",
            "-n",
            "default",
            "--watch",
            "--output-watch-events",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get --watch starts");
    let stdout = child.stdout.take().expect("stdout piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Wait until kubectl's watch request has reached the server.
    let deadline = Instant::now() + WAIT;
    while !k.server.requests().iter().any(|r| r.is_watch()) {
        assert!(Instant::now() < deadline, "kubectl never started watching");
        std::thread::sleep(Duration::from_millis(20));
    }
    k.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: watched}\ndata: {a: b}\n");
    k.ok(&["delete", "configmap", "watched"], None);
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match rx.recv_timeout(WAIT) {
            // `EVENT  NAME  AGE` rows; the header row is skipped.
            Ok(line) if !line.starts_with("EVENT") => {
                let cols: Vec<&str> = line.split_whitespace().take(2).collect();
                seen.push(cols.join(" "));
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(seen, vec!["ADDED watched", "DELETED watched"]);
}

fn label_annotate_patch_create_and_replace(k: Kube) {
    k.apply(BASE);
    k.ok(
        &["label", "configmap", "settings", "-n", "demo", "tier=gold"],
        None,
    );
    k.ok(
        &["annotate", "deployment", "web", "-n", "demo", "note=hi"],
        None,
    );
    k.ok(
        &[
            "patch",
            "configmap",
            "settings",
            "-n",
            "demo",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/data/extra","value":"1"}]"#,
        ],
        None,
    );
    let cm = k
        .server
        .object("v1/configmaps", Some("demo"), "settings")
        .expect("configmap");
    assert_eq!(cm["metadata"]["labels"]["tier"], "gold");
    assert_eq!(cm["data"]["extra"], "1");
    let d = k
        .server
        .object("apps/v1/deployments", Some("demo"), "web")
        .expect("deployment");
    assert_eq!(d["metadata"]["annotations"]["note"], "hi");
    assert_eq!(
        d["metadata"]["generation"], 2,
        "a Deployment's annotations count for its generation (they are copied to its ReplicaSets)"
    );

    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: demo}\nstringData: {password: hunter2}\n";
    k.ok(&["create", "-f", "-"], Some(secret));
    let err = k.fails(&["create", "-f", "-"], Some(secret));
    assert!(err.contains("already exists"), "{err}");
    let data = k.ok(
        &[
            "get",
            "secret",
            "s",
            "-n",
            "demo",
            "-o",
            "jsonpath={.data.password}",
        ],
        None,
    );
    assert_eq!(data, "aHVudGVyMg==");
    k.ok(
        &["replace", "-f", "-"],
        Some("apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: demo}\ndata: {password: b3RoZXI=}\n"),
    );
    let s = k
        .server
        .object("v1/secrets", Some("demo"), "s")
        .expect("secret");
    assert_eq!(s["data"]["password"], "b3RoZXI=");
}

fn argo_cd_double_syncs_degrades_and_finalizes(k: Kube) {
    k.server.install_argocd_crds().expect("CRDs installed");
    let argocd = k.server.knobs().argocd();
    argocd.set_sync_delay(Duration::from_millis(20));
    argocd.set_finalizer_delay(Duration::from_millis(20));
    argocd.enable();
    k.server.knobs().argocd().degrade(
        "broken",
        "Deployment \"api\" exceeded its progress deadline",
    );
    let app = |name: &str| {
        format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: argocd}}\n---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: {name}, namespace: argocd, finalizers: [resources-finalizer.argocd.argoproj.io]}}\nspec:\n  project: default\n  source: {{repoURL: 'https://charts.example.com', chart: podinfo, targetRevision: 6.5.0}}\n  destination: {{server: 'https://kubernetes.default.svc', namespace: podinfo}}\n"
        )
    };
    k.apply(&app("podinfo"));
    let out = k.ok(
        &[
            "wait",
            "--for=jsonpath={.status.health.status}=Healthy",
            "application/podinfo",
            "-n",
            "argocd",
            "--timeout=10s",
        ],
        None,
    );
    assert!(out.contains("condition met"), "{out}");
    let sync = k.ok(
        &[
            "get",
            "application",
            "podinfo",
            "-n",
            "argocd",
            "-o",
            "jsonpath={.status.sync.status}/{.status.operationState.phase}",
        ],
        None,
    );
    assert_eq!(sync, "Synced/Succeeded");

    k.apply(&app("broken"));
    k.ok(
        &[
            "wait",
            "--for=jsonpath={.status.health.status}=Degraded",
            "application/broken",
            "-n",
            "argocd",
            "--timeout=10s",
        ],
        None,
    );
    let broken = k
        .server
        .object(
            "argoproj.io/v1alpha1/applications",
            Some("argocd"),
            "broken",
        )
        .expect("app");
    assert_eq!(
        broken["status"]["conditions"][0]["message"],
        "Deployment \"api\" exceeded its progress deadline"
    );

    // kubectl delete waits until the double has released the finalizer.
    let out = k.ok(
        &[
            "delete",
            "application",
            "podinfo",
            "-n",
            "argocd",
            "--timeout=10s",
        ],
        None,
    );
    assert!(out.contains("deleted"), "{out}");
    assert!(k
        .server
        .object(
            "argoproj.io/v1alpha1/applications",
            Some("argocd"),
            "podinfo"
        )
        .is_none());
}

#[test]
fn legacy_discovery_works_too() {
    let config = Config {
        aggregated_discovery: false,
        ..Config::default()
    };
    let k = Kube::with(config);
    k.apply(BASE);
    let out = k.ok(&["get", "deploy", "-n", "demo", "-o", "name"], None);
    assert_eq!(out.trim(), "deployment.apps/web");
    assert!(k
        .server
        .requests()
        .iter()
        .any(|r| r.path == "/apis/apps/v1"));
}

fn client_side_apply_diff_and_scale(k: Kube) {
    let out = k.ok(&["apply", "-f", "-"], Some(BASE));
    assert!(out.contains("deployment.apps/web created"), "{out}");
    let newer = BASE.replace("nginx:1.27", "nginx:1.28");
    let diff = k.run(&["diff", "-f", "-"], Some(&newer));
    assert!(
        diff.stdout.contains("nginx:1.28"),
        "{}{}",
        diff.stdout,
        diff.stderr
    );
    let out = k.ok(&["apply", "-f", "-"], Some(&newer));
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    assert!(out.contains("configmap/settings unchanged"), "{out}");
    let d = k
        .server
        .object("apps/v1/deployments", Some("demo"), "web")
        .expect("deployment");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.28"
    );
    assert_eq!(d["metadata"]["generation"], 2);
    let diff = k.run(&["diff", "-f", "-"], Some(&newer));
    assert!(
        diff.ok && diff.stdout.is_empty(),
        "no drift: {}",
        diff.stdout
    );

    let out = k.ok(
        &["scale", "deployment", "web", "-n", "demo", "--replicas=4"],
        None,
    );
    assert!(out.contains("scaled"), "{out}");
    let d = k
        .server
        .object("apps/v1/deployments", Some("demo"), "web")
        .expect("deployment");
    assert_eq!(d["spec"]["replicas"], 4);
    let out = k.ok(
        &[
            "rollout",
            "status",
            "deployment/web",
            "-n",
            "demo",
            "--timeout=10s",
        ],
        None,
    );
    assert!(out.contains("successfully rolled out"), "{out}");
}

on_both_servers!(
    argo_cd_double_syncs_degrades_and_finalizes,
    server_side_apply_then_get_shows_objects_with_managed_fields,
    conflicting_manager_is_reported_and_force_takes_over,
    label_selectors_pick_objects,
    delete_removes_objects_and_namespaces_take_their_contents,
    crd_then_custom_resource,
    argo_cd_applications_exist_only_once_their_crd_does,
    server_dry_run_stores_nothing,
    namespaced_object_before_its_namespace_is_refused,
    kubectl_get_watch_streams_events,
    label_annotate_patch_create_and_replace,
    client_side_apply_diff_and_scale,
);
