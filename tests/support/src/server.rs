//! The test server: binds a loopback port, serves HTTP/1.1 with hyper,
//! runs the controller doubles, and offers the handle tests use (URL,
//! kubeconfig, knobs, request log, direct object access).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::argocd::{self, ArgoCdKnobs, ArgoCdSettings};
use crate::cluster::Cluster;
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
    let crd_events = store.subscribe();
    let mut faults = Faults::new(config.seed);
    faults.latency = config.latency;
    let argocd_knobs = Arc::new(ArgoCdKnobs::new(config.argocd.clone()));
    let readiness_knobs = Arc::new(ReadinessKnobs::new(config.readiness.clone()));
    let knobs = Arc::new(Knobs::new(
        Some(store.clone()),
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
        for crd in argocd::crds() {
            store
                .create_object(&crd, &WriteOptions::new("argocd-install"))
                .map_err(|e| io::Error::other(e.to_string()))?;
        }
    }
    tokio::spawn(accept_loop(listener, shared.clone(), rx.clone()));
    // The controller doubles reach the server as any client does.
    let client = crate::client::connect(&crate::client::Endpoint {
        url: format!("http://{addr}"),
        token: None,
        root_cert_pem: None,
    })
    .map_err(io::Error::other)?;
    tokio::spawn(argocd::run(client.clone(), argocd_knobs, rx.clone()));
    tokio::spawn(deployments::run(client, readiness_knobs, rx.clone()));
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

    fn resolve(&self, resource: &str) -> Option<crate::registry::ResourceType> {
        let (g, v, plural) = split_resource(resource)?;
        self.shared.store.resource_type(g, v, plural)
    }

    /// The number of stored objects of every kind (the initial namespaces
    /// included).
    pub fn object_count(&self) -> usize {
        self.shared.store.count()
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
        self.wait_for(resource, namespace, name, timeout, &pred)
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

impl Cluster for TestServer {
    fn kind(&self) -> &'static str {
        "test server"
    }

    fn url(&self) -> String {
        TestServer::url(self)
    }

    fn kubeconfig_yaml(&self) -> String {
        kubeconfig_yaml(&self.url(), "default")
    }

    fn knobs(&self) -> &Knobs {
        &self.shared.knobs
    }

    fn requests(&self) -> Vec<RequestRecord> {
        self.shared.log.snapshot()
    }

    fn clear_requests(&self) {
        self.shared.log.clear();
    }

    fn object(&self, resource: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let rt = self.resolve(resource)?;
        self.shared.store.get(&rt, namespace, name).ok()
    }

    fn list(&self, resource: &str, namespace: Option<&str>) -> Vec<Value> {
        let Some(rt) = self.resolve(resource) else {
            return Vec::new();
        };
        self.shared
            .store
            .list(&rt, namespace, &Default::default(), &Default::default())
            .0
    }

    /// In the order the managers first wrote.
    fn managers(&self, resource: &str, namespace: Option<&str>, name: &str) -> Vec<String> {
        match self.resolve(resource) {
            Some(rt) => self.shared.store.managers(&rt, namespace, name),
            None => Vec::new(),
        }
    }

    fn create(&self, manifest: Value) -> Result<Value, ApiError> {
        self.shared
            .store
            .create_object(&manifest, &WriteOptions::new("testkit"))
    }

    fn apply(&self, manifest: Value, manager: &str) -> Result<Value, ApiError> {
        self.shared.store.apply_manifest(&manifest, manager)
    }

    fn delete(
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

    fn install_argocd_crds(&self) -> Result<(), ApiError> {
        for crd in argocd::crds() {
            self.shared
                .store
                .create_object(&crd, &WriteOptions::new("argocd-install"))?;
        }
        Ok(())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}
