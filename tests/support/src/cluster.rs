//! [`Cluster`]: what an end-to-end test needs of a Kubernetes API server,
//! whichever runs it — the in-process [`TestServer`](crate::TestServer) or
//! a [`RealCluster`](crate::RealCluster) behind the fault-injecting proxy —
//! so one scenario runs against both.

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::knobs::Knobs;
use crate::requests::RequestRecord;
use crate::status::ApiError;

/// A Kubernetes API server a test drives `stack` against.
pub trait Cluster: Send + Sync {
    /// What serves the API, for messages: `test server` or `kube-apiserver`.
    fn kind(&self) -> &'static str;

    /// The URL the client under test reaches (plain HTTP on loopback).
    fn url(&self) -> String;

    /// A kubeconfig for the client under test (its requests are logged and
    /// subject to the knobs).
    fn kubeconfig_yaml(&self) -> String;

    /// Writes [`Cluster::kubeconfig_yaml`] to `path`.
    fn write_kubeconfig(&self, path: &Path) -> io::Result<()> {
        std::fs::write(path, self.kubeconfig_yaml())
    }

    /// Latency, injected faults, and the Argo CD and readiness doubles.
    fn knobs(&self) -> &Knobs;

    /// Every request of the client under test since start or the last clear.
    fn requests(&self) -> Vec<RequestRecord>;

    fn clear_requests(&self);

    /// The writes that changed something (dry runs left out), as
    /// `METHOD path`.
    fn writes(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| r.is_write() && !r.is_dry_run())
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    /// The paths of the DELETE requests, in order.
    fn deletes(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "DELETE")
            .map(|r| r.path)
            .collect()
    }

    /// One object by resource path (`"apps/v1/deployments"`,
    /// `"v1/configmaps"`), namespace (`None` for cluster-scoped) and name.
    fn object(&self, resource: &str, namespace: Option<&str>, name: &str) -> Option<Value>;

    /// All objects of a resource, in one namespace or all.
    fn list(&self, resource: &str, namespace: Option<&str>) -> Vec<Value>;

    /// The names of the objects of a resource, sorted.
    fn names(&self, resource: &str, namespace: Option<&str>) -> Vec<String> {
        let mut names: Vec<String> = self
            .list(resource, namespace)
            .iter()
            .filter_map(|o| o.pointer("/metadata/name").and_then(Value::as_str))
            .map(str::to_string)
            .collect();
        names.sort();
        names
    }

    /// The field managers of an object, in the order of its managed fields.
    fn managers(&self, resource: &str, namespace: Option<&str>, name: &str) -> Vec<String> {
        let mut managers: Vec<String> = Vec::new();
        let object = self.object(resource, namespace, name);
        let entries = object
            .as_ref()
            .and_then(|o| o.pointer("/metadata/managedFields"))
            .and_then(Value::as_array);
        for manager in entries
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("manager").and_then(Value::as_str))
        {
            if !managers.iter().any(|m| m == manager) {
                managers.push(manager.to_string());
            }
        }
        managers
    }

    /// Creates an object from a whole manifest, as manager `testkit`.
    fn create(&self, manifest: Value) -> Result<Value, ApiError>;

    /// Server-side applies a manifest as `manager` (forcing conflicts).
    fn apply(&self, manifest: Value, manager: &str) -> Result<Value, ApiError>;

    /// Deletes an object; `Ok(true)` when it is gone, `Ok(false)` when
    /// finalizers hold it.
    fn delete(&self, resource: &str, namespace: Option<&str>, name: &str)
        -> Result<bool, ApiError>;

    /// Installs Argo CD's Application and AppProject CRDs and waits until
    /// Applications are served.
    fn install_argocd_crds(&self) -> Result<(), ApiError> {
        for crd in crate::argocd::crds() {
            self.create(crd)?;
        }
        let served = self.wait_for(
            "apiextensions.k8s.io/v1/customresourcedefinitions",
            None,
            "applications.argoproj.io",
            Duration::from_secs(30),
            &|o| {
                o.and_then(|o| o.pointer("/status/conditions"))
                    .and_then(Value::as_array)
                    .is_some_and(|c| {
                        c.iter()
                            .any(|c| c["type"] == "Established" && c["status"] == "True")
                    })
            },
        );
        if served {
            Ok(())
        } else {
            Err(ApiError::new(
                504,
                "Timeout",
                "the Application CRD was not established within 30s",
            ))
        }
    }

    /// Polls (every 10 ms, up to `timeout`) until the object satisfies
    /// `pred` — `None` stands for "absent". Returns whether it did.
    fn wait_for(
        &self,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
        timeout: Duration,
        pred: &dyn Fn(Option<&Value>) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if pred(self.object(resource, namespace, name).as_ref()) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
