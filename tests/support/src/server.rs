//! The test server: binds a loopback port, serves HTTP/1.1 with hyper,
//! runs the controller doubles, and offers the handle tests use (URL,
//! kubeconfig, knobs, request log, direct object access).

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::argocd::{self, ArgoCdKnobs, ArgoCdSettings};
use crate::crds;
use crate::deployments::{self, ReadinessKnobs, ReadinessSettings};
use crate::faults::Faults;
use crate::handler::{self, Shared};
use crate::knobs::Knobs;
use crate::kubeconfig::kubeconfig_yaml;
use crate::requests::{RequestLog, RequestRecord};
use crate::status::ApiError;
use crate::store::{Deleted, Preconditions, Store, WriteOptions};

/// How a server starts.
#[derive(Debug, Clone)]
pub struct Config {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Seed of fault injection, jitter and uids.
    pub seed: u64,
    /// Per-request latency.
    pub latency: Duration,
    /// Answer kubectl's aggregated discovery requests (else it falls back
    /// to per-group discovery).
    pub aggregated_discovery: bool,
    /// Delay before a new CRD's kinds are served.
    pub crd_establish_delay: Duration,
    pub argocd: ArgoCdSettings,
    pub readiness: ReadinessSettings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 0,
            seed: 0x5717_AC4B,
            latency: Duration::ZERO,
            aggregated_discovery: true,
            crd_establish_delay: Duration::ZERO,
            argocd: ArgoCdSettings::default(),
            readiness: ReadinessSettings::default(),
        }
    }
}

impl Config {
    /// Enables the Argo CD double and installs its CRDs at start.
    pub fn with_argocd(mut self) -> Config {
        self.argocd.enabled = true;
        self.argocd.install_crds = true;
        self
    }

    pub fn with_seed(mut self, seed: u64) -> Config {
        self.seed = seed;
        self
    }

    pub fn with_port(mut self, port: u16) -> Config {
        self.port = port;
        self
    }
}

/// A running Kubernetes API test server; stops when dropped.
#[derive(Debug)]
pub struct TestServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Splits `"apps/v1/deployments"` or `"v1/configmaps"`.
fn split_resource(resource: &str) -> Option<(&str, &str, &str)> {
    let parts: Vec<&str> = resource.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        [v, plural] => Some(("", v, plural)),
        [g, v, plural] => Some((g, v, plural)),
        _ => None,
    }
}

async fn serve_connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let svc_shared = shared.clone();
    let svc = service_fn(move |req| handler::handle(svc_shared.clone(), req));
    let conn = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), svc);
    tokio::select! {
        _ = conn => {}
        _ = shutdown.changed() => {}
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve_connection(stream, shared.clone(), shutdown.clone()));
                }
                // Out of descriptors or similar: back off briefly, keep serving.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
            _ = shutdown.changed() => return,
        }
    }
}

async fn launch(config: Config) -> io::Result<(Arc<Shared>, SocketAddr, watch::Sender<bool>)> {
    let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
    let addr = listener.local_addr()?;
    let store = Arc::new(Store::new(config.seed));
    store.set_crd_delay(config.crd_establish_delay);
    // Subscribed before anything is written, so the controllers miss nothing.
    let (argocd_events, readiness_events, crd_events) =
        (store.subscribe(), store.subscribe(), store.subscribe());
    let mut faults = Faults::new(config.seed);
    faults.latency = config.latency;
    let argocd_knobs = Arc::new(ArgoCdKnobs::new(config.argocd.clone()));
    let readiness_knobs = Arc::new(ReadinessKnobs::new(config.readiness.clone()));
    let knobs = Arc::new(Knobs::new(
        store.clone(),
        faults,
        argocd_knobs.clone(),
        readiness_knobs.clone(),
    ));
    let (tx, rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        store: store.clone(),
        knobs,
        log: RequestLog::default(),
        addr: addr.to_string(),
        shutdown: rx.clone(),
        aggregated_discovery: config.aggregated_discovery,
    });
    if config.argocd.install_crds {
        for crd in [argocd::application_crd(), argocd::appproject_crd()] {
            store
                .create_object(&crd, &WriteOptions::new("argocd-install"))
                .map_err(|e| io::Error::other(e.to_string()))?;
        }
    }
    tokio::spawn(accept_loop(listener, shared.clone(), rx.clone()));
    tokio::spawn(argocd::run(
        store.clone(),
        argocd_events,
        argocd_knobs,
        rx.clone(),
    ));
    tokio::spawn(deployments::run(
        store.clone(),
        readiness_events,
        readiness_knobs,
        rx.clone(),
    ));
    tokio::spawn(crds::run(store, crd_events, rx));
    Ok((shared, addr, tx))
}

impl TestServer {
    /// Starts a server on the current tokio runtime; panics if the port
    /// cannot be bound (see [`TestServer::try_start`]).
    pub async fn start(config: Config) -> TestServer {
        match TestServer::try_start(config).await {
            Ok(s) => s,
            Err(e) => panic!("the Kubernetes API test server could not start: {e}"),
        }
    }

    /// Starts a server on the current tokio runtime.
    pub async fn try_start(config: Config) -> io::Result<TestServer> {
        let (shared, addr, shutdown) = launch(config).await?;
        Ok(TestServer {
            shared,
            addr,
            shutdown,
            thread: None,
        })
    }

    /// Starts a server on its own thread and runtime, for synchronous tests
    /// and programs; panics if it cannot start.
    pub fn start_blocking(config: Config) -> TestServer {
        match TestServer::try_start_blocking(config) {
            Ok(s) => s,
            Err(e) => panic!("the Kubernetes API test server could not start: {e}"),
        }
    }

    /// Starts a server on its own thread and runtime.
    pub fn try_start_blocking(config: Config) -> io::Result<TestServer> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("stack-test-apiserver".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match launch(config).await {
                        Ok((shared, addr, shutdown)) => {
                            let mut stop = shutdown.subscribe();
                            if ready_tx.send(Ok((shared, addr, shutdown))).is_err() {
                                return;
                            }
                            while !*stop.borrow() {
                                if stop.changed().await.is_err() {
                                    break;
                                }
                            }
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })?;
        let (shared, addr, shutdown) = ready_rx
            .recv()
            .map_err(|_| io::Error::other("the server thread ended before starting"))??;
        Ok(TestServer {
            shared,
            addr,
            shutdown,
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig whose current context points at this server.
    pub fn kubeconfig_yaml(&self) -> String {
        kubeconfig_yaml(&self.url(), "default")
    }

    /// Writes [`TestServer::kubeconfig_yaml`] to a file.
    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> io::Result<()> {
        std::fs::write(path, self.kubeconfig_yaml())
    }

    /// Latency, faults and the controller doubles.
    pub fn knobs(&self) -> &Knobs {
        &self.shared.knobs
    }

    /// Every request since start or the last [`TestServer::clear_requests`].
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.log.snapshot()
    }

    pub fn clear_requests(&self) {
        self.shared.log.clear();
    }

    /// The writes that changed something (dry runs left out), as
    /// `METHOD path`, since start or the last clear.
    pub fn writes(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| r.is_write() && !r.is_dry_run())
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    /// The paths of the DELETE requests, in order, since start or the last clear.
    pub fn deletes(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "DELETE")
            .map(|r| r.path)
            .collect()
    }

    fn resolve(&self, resource: &str) -> Option<crate::registry::ResourceType> {
        let (g, v, plural) = split_resource(resource)?;
        self.shared.store.resource_type(g, v, plural)
    }

    /// One object by resource path (`"apps/v1/deployments"`,
    /// `"v1/configmaps"`), namespace (`None` for cluster-scoped) and name.
    pub fn object(&self, resource: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let rt = self.resolve(resource)?;
        self.shared.store.get(&rt, namespace, name).ok()
    }

    /// All objects of a resource, in one namespace or all.
    pub fn list(&self, resource: &str, namespace: Option<&str>) -> Vec<Value> {
        let Some(rt) = self.resolve(resource) else {
            return Vec::new();
        };
        self.shared
            .store
            .list(&rt, namespace, &Default::default(), &Default::default())
            .0
    }

    /// The field managers of an object, in the order they first wrote.
    pub fn managers(&self, resource: &str, namespace: Option<&str>, name: &str) -> Vec<String> {
        match self.resolve(resource) {
            Some(rt) => self.shared.store.managers(&rt, namespace, name),
            None => Vec::new(),
        }
    }

    /// The number of stored objects of every kind (the initial namespaces
    /// included).
    pub fn object_count(&self) -> usize {
        self.shared.store.count()
    }

    /// Creates an object from a whole manifest (kind and apiVersion pick
    /// the resource), as manager `testkit`.
    pub fn create(&self, manifest: Value) -> Result<Value, ApiError> {
        self.shared
            .store
            .create_object(&manifest, &WriteOptions::new("testkit"))
    }

    /// Server-side applies a manifest as `manager` (forcing conflicts).
    pub fn apply(&self, manifest: Value, manager: &str) -> Result<Value, ApiError> {
        self.shared.store.apply_manifest(&manifest, manager)
    }

    /// Deletes an object; `Ok(true)` when it is gone, `Ok(false)` when
    /// finalizers hold it.
    pub fn delete(
        &self,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<bool, ApiError> {
        let rt = self.resolve(resource).ok_or_else(ApiError::no_route)?;
        match self
            .shared
            .store
            .delete(&rt, namespace, name, &Preconditions::default(), false)?
        {
            Deleted::Gone(_) => Ok(true),
            Deleted::Pending(_) => Ok(false),
        }
    }

    /// Installs Argo CD's Application and AppProject CRDs.
    pub fn install_argocd_crds(&self) -> Result<(), ApiError> {
        for crd in [argocd::application_crd(), argocd::appproject_crd()] {
            self.shared
                .store
                .create_object(&crd, &WriteOptions::new("argocd-install"))?;
        }
        Ok(())
    }

    /// Polls (every 10 ms, up to `timeout`) until the object satisfies
    /// `pred` — `None` stands for "absent". Returns whether it did.
    pub fn wait_until(
        &self,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
        timeout: Duration,
        pred: impl Fn(Option<&Value>) -> bool,
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

    /// [`TestServer::wait_until`] for async tests.
    pub async fn wait_until_async(
        &self,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
        timeout: Duration,
        pred: impl Fn(Option<&Value>) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if pred(self.object(resource, namespace, name).as_ref()) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops the server (also done on drop).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}
