//! The server over plain HTTP, as any client sees it: verbs, status codes,
//! watches, injected faults, latency and the request log.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use stack_testkit::{Cluster, Config, Fault, FaultRule, TestServer};

const WAIT: Duration = Duration::from_secs(10);

/// A response: status, headers (lowercased names) and body.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = std::str::from_utf8(&raw[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 || raw.len() < eol + 2 + size {
            return out;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[(eol + 4 + size).min(raw.len())..];
    }
}

/// Sends one request on a fresh connection; `Err` when the server closed
/// it without answering.
fn send(
    server: &TestServer,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> Result<Reply, String> {
    let mut s = TcpStream::connect(server.addr()).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(WAIT)).map_err(|e| e.to_string())?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: raw-test/1.0\r\nAccept: application/json\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        server.addr(),
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    if raw.is_empty() {
        return Err("connection closed without a response".into());
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no header end")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or("no status")?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut payload = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v == "chunked")
    {
        payload = dechunk(&payload);
    }
    let body = serde_json::from_slice(&payload).unwrap_or(Value::Null);
    Ok(Reply {
        status,
        headers,
        body,
    })
}

fn get(server: &TestServer, path: &str) -> Reply {
    send(server, "GET", path, "application/json", "").expect("answered")
}

fn write(server: &TestServer, method: &str, path: &str, content_type: &str, body: &Value) -> Reply {
    send(server, method, path, content_type, &body.to_string()).expect("answered")
}

const CMS: &str = "/api/v1/namespaces/default/configmaps";

fn cm(name: &str, labels: Value) -> Value {
    json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": name, "labels": labels }, "data": { "k": "v" } })
}

#[test]
fn crud_with_optimistic_concurrency() {
    let server = TestServer::start_blocking(Config::default());
    let created = write(
        &server,
        "POST",
        CMS,
        "application/json",
        &cm("a", json!({})),
    );
    assert_eq!(created.status, 201);
    let again = write(
        &server,
        "POST",
        CMS,
        "application/json",
        &cm("a", json!({})),
    );
    assert_eq!(
        (again.status, again.body["reason"].as_str()),
        (409, Some("AlreadyExists"))
    );
    assert_eq!(again.body["kind"], "Status");

    let mut next = created.body.clone();
    next["data"]["k"] = json!("w");
    let put = write(
        &server,
        "PUT",
        &format!("{CMS}/a"),
        "application/json",
        &next,
    );
    assert_eq!(put.status, 200);
    let stale = write(
        &server,
        "PUT",
        &format!("{CMS}/a"),
        "application/json",
        &next,
    );
    assert_eq!(
        (stale.status, stale.body["reason"].as_str()),
        (409, Some("Conflict"))
    );

    let merged = write(
        &server,
        "PATCH",
        &format!("{CMS}/a"),
        "application/merge-patch+json",
        &json!({"data": {"x": "1"}}),
    );
    assert_eq!(merged.body["data"], json!({"k": "w", "x": "1"}));
    let unsupported = write(
        &server,
        "PATCH",
        &format!("{CMS}/a"),
        "text/plain",
        &json!({}),
    );
    assert_eq!(unsupported.status, 415);

    let missing = get(&server, &format!("{CMS}/nope"));
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["message"], "configmaps \"nope\" not found");
    let unknown = get(
        &server,
        "/apis/argoproj.io/v1alpha1/namespaces/default/applications",
    );
    assert_eq!(unknown.status, 404);

    let deleted = send(
        &server,
        "DELETE",
        &format!("{CMS}/a"),
        "application/json",
        "",
    )
    .expect("answered");
    assert_eq!(
        (deleted.status, deleted.body["status"].as_str()),
        (200, Some("Success"))
    );
    assert_eq!(get(&server, &format!("{CMS}/a")).status, 404);
}

#[test]
fn apply_requires_a_field_manager_and_honours_dry_run() {
    let server = TestServer::start_blocking(Config::default());
    let path = format!("{CMS}/a");
    let no_manager = write(
        &server,
        "PATCH",
        &path,
        "application/apply-patch+yaml",
        &cm("a", json!({})),
    );
    assert_eq!(no_manager.status, 400);
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n";
    let dry = send(
        &server,
        "PATCH",
        &format!("{path}?fieldManager=t&dryRun=All"),
        "application/apply-patch+yaml",
        yaml,
    )
    .expect("answered");
    assert_eq!(dry.status, 201);
    assert_eq!(dry.body["data"]["k"], "v");
    assert!(server
        .object("v1/configmaps", Some("default"), "a")
        .is_none());
    let real = send(
        &server,
        "PATCH",
        &format!("{path}?fieldManager=t"),
        "application/apply-patch+yaml",
        yaml,
    )
    .expect("answered");
    assert_eq!(real.status, 201);
    let bad_dry = send(
        &server,
        "PATCH",
        &format!("{path}?fieldManager=t&dryRun=Some"),
        "application/apply-patch+yaml",
        yaml,
    )
    .expect("answered");
    assert_eq!(bad_dry.status, 400);
}

#[test]
fn status_subresource_is_separate_from_the_main_resource() {
    let server = TestServer::start_blocking(Config {
        readiness: stack_testkit::ReadinessSettings {
            enabled: false,
            ..Default::default()
        },
        ..Config::default()
    });
    let d = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": "web" },
        "spec": { "replicas": 1 },
        "status": { "replicas": 7 }
    });
    let path = "/apis/apps/v1/namespaces/default/deployments";
    let created = write(&server, "POST", path, "application/json", &d);
    assert_eq!(created.status, 201);
    assert!(created.body.get("status").is_none());
    let status = write(
        &server,
        "PATCH",
        &format!("{path}/web/status"),
        "application/merge-patch+json",
        &json!({"status": {"availableReplicas": 1}, "spec": {"replicas": 9}}),
    );
    assert_eq!(status.status, 200);
    assert_eq!(status.body["status"]["availableReplicas"], 1);
    assert_eq!(status.body["spec"]["replicas"], 1);
    let cm_status = get(&server, &format!("{CMS}/x/status"));
    assert_eq!(
        cm_status.status, 404,
        "configmaps have no status subresource"
    );
}

#[test]
fn list_filters_by_label_and_field_selectors() {
    let server = TestServer::start_blocking(Config::default());
    for (name, app) in [("a", "x"), ("b", "x"), ("c", "y")] {
        server
            .create(cm(name, json!({ "app": app })))
            .expect("created");
    }
    let names = |query: &str| -> Vec<String> {
        get(&server, &format!("{CMS}?{query}")).body["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i["metadata"]["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(names("labelSelector=app%3Dx"), vec!["a", "b"]);
    assert_eq!(names("labelSelector=app%20notin%20(x)"), vec!["c"]);
    assert_eq!(names("fieldSelector=metadata.name%3Db"), vec!["b"]);
    let all = get(&server, "/api/v1/configmaps");
    assert_eq!(all.body["kind"], "ConfigMapList");
    assert!(all.body["metadata"]["resourceVersion"].is_string());
    assert_eq!(
        get(&server, &format!("{CMS}?labelSelector=a%20in%20(")).status,
        400
    );
}

#[test]
fn watch_streams_events_for_selected_objects() {
    let server = TestServer::start_blocking(Config::default());
    server
        .create(cm("before", json!({ "app": "x" })))
        .expect("created");
    let start_rv = get(&server, CMS).body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .to_string();
    server
        .create(cm("other", json!({ "app": "y" })))
        .expect("created");
    server
        .create(cm("after", json!({ "app": "x" })))
        .expect("created");
    server
        .delete("v1/configmaps", Some("default"), "after")
        .expect("deleted");

    // Resuming from a resourceVersion replays what happened since, filtered.
    let mut s = TcpStream::connect(server.addr()).expect("connect");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    let req = format!(
        "GET {CMS}?watch=true&labelSelector=app%3Dx&resourceVersion={start_rv}&timeoutSeconds=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).expect("sent");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .expect("the watch ends at its timeout");
    let text = String::from_utf8_lossy(&raw);
    let events: Vec<Value> = text
        .split(['\r', '\n'])
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let seen: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or("").to_string(),
                e["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("ADDED".to_string(), "after".to_string()),
            ("DELETED".to_string(), "after".to_string())
        ]
    );
}

#[test]
fn injected_faults_answer_as_configured() {
    let server = TestServer::start_blocking(Config::default());
    let knobs = server.knobs();
    knobs.inject(FaultRule::times(Fault::Unavailable, 1).on_path("/configmaps"));
    knobs.inject(
        FaultRule::times(
            Fault::TooManyRequests {
                retry_after_secs: 3,
            },
            1,
        )
        .on_path("/configmaps"),
    );
    knobs.inject(FaultRule::times(Fault::InternalError, 1).on_path("/configmaps"));
    knobs.inject(FaultRule::times(Fault::Conflict, 1).on_writes());
    knobs.inject(FaultRule::times(Fault::DropConnection, 1).on_path("/configmaps"));

    assert_eq!(
        get(&server, "/api/v1").status,
        200,
        "other paths are untouched"
    );
    assert_eq!(get(&server, CMS).status, 503);
    let throttled = get(&server, CMS);
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.header("retry-after"), Some("3"));
    assert_eq!(throttled.body["details"]["retryAfterSeconds"], 3);
    assert_eq!(get(&server, CMS).status, 500);
    let conflict = write(
        &server,
        "POST",
        CMS,
        "application/json",
        &cm("a", json!({})),
    );
    assert_eq!(
        (conflict.status, conflict.body["reason"].as_str()),
        (409, Some("Conflict"))
    );
    assert!(
        send(&server, "GET", CMS, "application/json", "").is_err(),
        "dropped"
    );
    assert_eq!(get(&server, CMS).status, 200, "count rules retire");

    let log = server.requests();
    let injected: Vec<Option<u16>> = log
        .iter()
        .filter(|r| r.injected)
        .map(|r| r.status)
        .collect();
    assert_eq!(
        injected,
        vec![Some(503), Some(429), Some(500), Some(409), None]
    );
    server.clear_requests();
    assert!(server.requests().is_empty());
}

#[test]
fn seeded_fault_rates_repeat_exactly() {
    let run = |seed: u64| -> Vec<u16> {
        let server = TestServer::start_blocking(Config::default().with_seed(seed));
        server
            .knobs()
            .inject(FaultRule::rate(Fault::Unavailable, 0.5).on_path("/configmaps"));
        (0..20).map(|_| get(&server, CMS).status).collect()
    };
    let a = run(9);
    assert_eq!(a, run(9));
    assert!(a.contains(&503) && a.contains(&200), "{a:?}");
}

#[test]
fn latency_holds_each_request() {
    let server = TestServer::start_blocking(Config::default());
    server.knobs().set_latency(Duration::from_millis(150));
    let start = Instant::now();
    assert_eq!(get(&server, "/version").status, 200);
    assert!(start.elapsed() >= Duration::from_millis(150));
    server.knobs().set_latency(Duration::ZERO);
    assert_eq!(get(&server, "/version").body["major"], "1");
}

#[test]
fn crd_establishment_can_be_delayed() {
    let server = TestServer::start_blocking(Config {
        crd_establish_delay: Duration::from_millis(100),
        ..Config::default()
    });
    let crd = stack_testkit::argocd::application_crd();
    server.create(crd).expect("crd created");
    assert_eq!(
        get(
            &server,
            "/apis/argoproj.io/v1alpha1/namespaces/default/applications"
        )
        .status,
        404,
        "not served before it is established"
    );
    assert!(server.wait_until(
        "apiextensions.k8s.io/v1/customresourcedefinitions",
        None,
        "applications.argoproj.io",
        WAIT,
        |o| o.is_some_and(|o| o["status"]["conditions"][1]["status"] == "True"),
    ));
    assert_eq!(
        get(
            &server,
            "/apis/argoproj.io/v1alpha1/namespaces/default/applications"
        )
        .status,
        200
    );
}

#[test]
fn readiness_double_can_hold_a_deployment() {
    let server = TestServer::start_blocking(Config::default());
    server.knobs().deployments().hold("slow");
    for name in ["fast", "slow"] {
        server
            .apply(
                json!({ "apiVersion": "apps/v1", "kind": "Deployment", "metadata": { "name": name }, "spec": { "replicas": 3 } }),
                "test",
            )
            .expect("applied");
    }
    let available = |o: Option<&Value>| o.is_some_and(|o| o["status"]["availableReplicas"] == 3);
    assert!(server.wait_until(
        "apps/v1/deployments",
        Some("default"),
        "fast",
        WAIT,
        available
    ));
    assert!(
        server.wait_until("apps/v1/deployments", Some("default"), "slow", WAIT, |o| {
            o.is_some_and(|o| o["status"]["conditions"][0]["status"] == "False")
        })
    );
    server.knobs().deployments().release("slow");
    assert!(server.wait_until(
        "apps/v1/deployments",
        Some("default"),
        "slow",
        WAIT,
        available
    ));
}

#[test]
fn argo_double_heals_when_told() {
    let mut config = Config::default().with_argocd();
    config.argocd.sync_delay = Duration::ZERO;
    let server = TestServer::start_blocking(config);
    server.knobs().argocd().degrade("app", "boom");
    server
        .apply(
            json!({ "apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": { "name": "app" }, "spec": { "project": "default" } }),
            "stack",
        )
        .expect("applied");
    let health = |want: &'static str| {
        move |o: Option<&Value>| o.is_some_and(|o| o["status"]["health"]["status"] == want)
    };
    assert!(server.wait_until(
        "argoproj.io/v1alpha1/applications",
        Some("default"),
        "app",
        WAIT,
        health("Degraded")
    ));
    server.knobs().argocd().heal("app");
    assert!(server.wait_until(
        "argoproj.io/v1alpha1/applications",
        Some("default"),
        "app",
        WAIT,
        health("Healthy")
    ));
}

#[tokio::test]
async fn async_start_serves_on_the_current_runtime() {
    let server = TestServer::start(Config::default()).await;
    server.create(cm("a", json!({}))).expect("created");
    assert!(
        server
            .wait_until_async("v1/configmaps", Some("default"), "a", WAIT, |o| o.is_some())
            .await
    );
    assert!(server.url().starts_with("http://127.0.0.1:"));
    assert!(server.kubeconfig_yaml().contains(&server.url()));
}
