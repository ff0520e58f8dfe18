//! [`RealCluster`]: a real Kubernetes control plane on loopback — etcd,
//! kube-apiserver (a self-signed serving certificate, a static admin token,
//! RBAC on) and kube-controller-manager (namespace lifecycle and garbage
//! collection) — with the test kit's controllers standing in for what
//! cannot run here (Argo CD, the kubelets) and the fault-injecting
//! [`Proxy`](crate::proxy) in front of it.
//!
//! The binaries are found in `STACK_KUBE_BIN` (the directory
//! `scripts/install-kube-apiserver.sh` prints), else on `PATH`; a missing
//! one fails loudly, saying how to install it. The processes run under a
//! supervisor shell that stops them and removes their files when the
//! cluster is dropped or when the test process ends, however it ends.
//!
//! Each test takes a cluster of its own ([`RealCluster::take`]): the
//! scenarios create and delete cluster-scoped objects (CRDs, namespaces,
//! Argo CD's namespace), so sharing one would let one test's destroy
//! remove another's objects. Start-up (about five seconds) is hidden by a
//! warm spare that starts in the background while a test runs.

use std::io;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;

use crate::client::{self, Endpoint};
use crate::cluster::Cluster;
use crate::faults::Faults;
use crate::knobs::Knobs;
use crate::proxy::Proxy;
use crate::requests::RequestRecord;
use crate::rng::Rng;
use crate::status::ApiError;
use crate::{argocd, deployments, ArgoCdKnobs, ArgoCdSettings, ReadinessKnobs, ReadinessSettings};

/// How the supervisor runs the control plane: etcd, then kube-apiserver,
/// then (once the serving certificate exists) kube-controller-manager;
/// it stops all three and removes the cluster's directory when the stop
/// file appears or the test process is gone.
const SUPERVISOR: &str = r#"
set -u
dir=$1; owner=$2
cleanup() {
  kill $(jobs -p) 2>/dev/null
  wait 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 0' TERM INT
"$ETCD" --name default --data-dir "$dir/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$PEER_PORT" \
  --initial-cluster "default=http://127.0.0.1:$PEER_PORT" >"$dir/etcd.log" 2>&1 &
"$APISERVER" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" --insecure-port 0 \
  --cert-dir "$dir/certs" --token-auth-file "$dir/tokens.csv" --authorization-mode RBAC \
  --service-cluster-ip-range 10.0.0.0/24 \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$dir/sa.pub" --service-account-signing-key-file "$dir/sa.key" \
  --disable-admission-plugins ServiceAccount --profiling=false >"$dir/apiserver.log" 2>&1 &
until [ -s "$dir/certs/apiserver.crt" ] || [ -e "$dir/stop" ]; do sleep 0.1; done
"$CONTROLLER_MANAGER" --controllers namespace,garbagecollector --leader-elect=false \
  --port 0 --secure-port 0 --kubeconfig "$dir/kubeconfig" >"$dir/controller-manager.log" 2>&1 &
while kill -0 "$owner" 2>/dev/null && [ ! -e "$dir/stop" ]; do sleep 0.2; done
"#;

/// A running control plane; stops when dropped.
pub struct RealCluster {
    supervisor: Supervisor,
    api_url: String,
    token: String,
    /// Taken on drop, to shut down without blocking (drops may happen in
    /// async code).
    runtime: Option<tokio::runtime::Runtime>,
    client: kube::Client,
    knobs: Arc<Knobs>,
    proxy: Proxy,
    shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for RealCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealCluster")
            .field("api_url", &self.api_url)
            .field("proxy", &self.proxy.url())
            .finish_non_exhaustive()
    }
}

/// The warm spare: a cluster starting in the background for the next test.
static SPARE: Mutex<Option<std::thread::JoinHandle<Result<RealCluster, String>>>> =
    Mutex::new(None);

impl RealCluster {
    /// A fresh cluster for one test (the warm spare when one is ready),
    /// with the Argo CD double on and the readiness double's defaults;
    /// panics, saying why, when none can start.
    pub fn take() -> RealCluster {
        let spare = SPARE.lock().unwrap_or_else(|e| e.into_inner()).take();
        let cluster = match spare {
            Some(handle) => handle
                .join()
                .unwrap_or_else(|_| Err("the spare cluster's start panicked".into())),
            None => RealCluster::start(),
        };
        // The next test's cluster starts while this one is used.
        *SPARE.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(std::thread::spawn(RealCluster::start));
        match cluster {
            Ok(c) => c,
            Err(e) => panic!("the real kube-apiserver could not start: {e}"),
        }
    }

    /// [`RealCluster::take`], with the Argo CD double on and Argo CD's
    /// CRDs installed, as a cluster running Argo CD has them.
    pub fn take_with_argocd() -> RealCluster {
        let cluster = RealCluster::take();
        cluster.knobs().argocd().enable();
        cluster
            .install_argocd_crds()
            .unwrap_or_else(|e| panic!("cannot install Argo CD's CRDs: {e}"));
        cluster
    }

    /// Where a control-plane binary is: `STACK_KUBE_BIN`, else `PATH`.
    pub fn binary(name: &str) -> Result<PathBuf, String> {
        let from_env = std::env::var_os("STACK_KUBE_BIN")
            .filter(|d| !d.is_empty())
            .map(|d| PathBuf::from(d).join(name));
        let on_path = || {
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        };
        from_env.filter(|p| p.is_file()).or_else(on_path).ok_or_else(|| {
            format!(
                "`{name}` was found neither in STACK_KUBE_BIN nor on PATH: run scripts/install-kube-apiserver.sh and set STACK_KUBE_BIN to the directory it prints (scripts/test.sh does both)"
            )
        })
    }

    /// Starts a control plane on free loopback ports and waits until the
    /// API server is ready and serves namespaces.
    pub fn start() -> Result<RealCluster, String> {
        let etcd = RealCluster::binary("etcd")?;
        let apiserver = RealCluster::binary("kube-apiserver")?;
        let controller_manager = RealCluster::binary("kube-controller-manager")?;
        let dir = tempfile::Builder::new()
            .prefix("stack-kube-")
            .tempdir()
            .map_err(|e| format!("cannot make a directory for the cluster: {e}"))?
            .keep();
        let token = token();
        let fail = |what: &str, e: &dyn std::fmt::Display| format!("{what}: {e}");
        std::fs::write(
            dir.join("tokens.csv"),
            format!("{token},admin,admin-uid,\"system:masters\"\n"),
        )
        .map_err(|e| fail("cannot write the token file", &e))?;
        service_account_keys(&dir)?;
        let [etcd_port, peer_port, api_port] = free_ports()?;
        let api_url = format!("https://127.0.0.1:{api_port}");
        std::fs::write(
            dir.join("kubeconfig"),
            kubeconfig(&api_url, &dir.join("certs/apiserver.crt"), &token),
        )
        .map_err(|e| fail("cannot write the kubeconfig", &e))?;
        let supervisor = Command::new("bash")
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("supervisor")
            .arg(&dir)
            .arg(std::process::id().to_string())
            .env("ETCD", &etcd)
            .env("APISERVER", &apiserver)
            .env("CONTROLLER_MANAGER", &controller_manager)
            .env("ETCD_PORT", etcd_port.to_string())
            .env("PEER_PORT", peer_port.to_string())
            .env("API_PORT", api_port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| fail("cannot start the supervisor shell", &e))?;
        let mut supervisor = Supervisor {
            dir: dir.clone(),
            child: supervisor,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("stack-real-cluster")
            .enable_all()
            .build()
            .map_err(|e| fail("cannot start a runtime", &e))?;
        let endpoint = |dir: &Path| Endpoint {
            url: api_url.clone(),
            token: Some(token.clone()),
            root_cert_pem: std::fs::read(dir.join("certs/apiserver.crt")).ok(),
        };
        let client = wait_ready(&mut supervisor, &runtime, &endpoint, READY_TIMEOUT)?;
        let knobs = Arc::new(Knobs::new(
            None,
            Faults::new(1),
            Arc::new(ArgoCdKnobs::new(ArgoCdSettings {
                enabled: true,
                ..ArgoCdSettings::default()
            })),
            Arc::new(ReadinessKnobs::new(ReadinessSettings::default())),
        ));
        let (shutdown, stop) = watch::channel(false);
        let proxy = runtime
            .block_on(Proxy::start(endpoint(&dir), knobs.clone(), stop.clone()))
            .map_err(|e| fail("cannot start the proxy", &e))?;
        runtime.spawn(argocd::run(
            client.clone(),
            knobs.argocd.clone(),
            stop.clone(),
        ));
        runtime.spawn(deployments::run(
            client.clone(),
            knobs.readiness.clone(),
            stop,
        ));
        Ok(RealCluster {
            supervisor,
            api_url,
            token,
            runtime: Some(runtime),
            client,
            knobs,
            proxy,
            shutdown,
        })
    }

    /// The API server's own URL (HTTPS).
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// A kubeconfig reaching the API server directly: HTTPS with its
    /// certificate authority and the admin token, no proxy (no faults, no
    /// request log).
    pub fn direct_kubeconfig_yaml(&self) -> String {
        kubeconfig(
            &self.api_url,
            &self.supervisor.dir.join("certs/apiserver.crt"),
            &self.token,
        )
    }

    /// Runs a request future on the cluster's runtime from any thread, async
    /// tests included.
    fn block<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = T> + Send + 'static,
    ) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        let runtime = self.runtime.as_ref().expect("the runtime lives until drop");
        runtime.spawn(async move {
            let _ = tx.send(f.await);
        });
        rx.recv().expect("the cluster's runtime answers")
    }
}

impl Drop for RealCluster {
    fn drop(&mut self) {
        // The controllers and the proxy stop before the server they use.
        let _ = self.shutdown.send(true);
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The supervisor shell of a control plane: dropping it stops the
/// processes and removes their directory.
struct Supervisor {
    dir: PathBuf,
    child: Child,
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        let _ = std::fs::write(self.dir.join("stop"), "");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
    }
}

/// How long kube-apiserver may take to become ready (about five seconds
/// on two idle cores; much longer while a build shares them).
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Waits until `/readyz` answers `ok` and the default namespace exists.
fn wait_ready(
    supervisor: &mut Supervisor,
    runtime: &tokio::runtime::Runtime,
    endpoint: &dyn Fn(&Path) -> Endpoint,
    timeout: Duration,
) -> Result<kube::Client, String> {
    let dir = supervisor.dir.clone();
    let deadline = Instant::now() + timeout;
    let mut last = String::from("no answer yet");
    while Instant::now() < deadline {
        if let Ok(Some(status)) = supervisor.child.try_wait() {
            return Err(format!(
                "the control plane exited ({status}); {}",
                log_tails(&dir)
            ));
        }
        if dir.join("certs/apiserver.crt").is_file() {
            let endpoint = endpoint(&dir);
            let probe = runtime.block_on(async move {
                let client = client::connect(&endpoint)?;
                let request = http::Request::get("/readyz")
                    .body(Vec::new())
                    .map_err(|e| e.to_string())?;
                let ready = client
                    .request_text(request)
                    .await
                    .map_err(|e| e.to_string())?;
                let namespaces = client::api_resource("v1/namespaces")
                    .ok_or_else(|| "no namespaces resource".to_string())?;
                let default = client::api(&client, &namespaces, None)
                    .get_opt("default")
                    .await
                    .map_err(|e| e.to_string())?;
                match (ready.trim(), default) {
                    ("ok", Some(_)) => Ok(client),
                    (ready, _) => Err(format!("not ready: {ready}")),
                }
            });
            match probe {
                Ok(client) => return Ok(client),
                Err(e) => last = e,
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "kube-apiserver was not ready within {}s ({last}); {}",
        timeout.as_secs(),
        log_tails(&dir)
    ))
}

/// The last lines of each component's log, for a failure message.
fn log_tails(dir: &Path) -> String {
    ["etcd", "apiserver", "controller-manager"]
        .iter()
        .map(|name| {
            let text = std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(8)..].join("\n");
            format!("{name}.log:\n{tail}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Cluster for RealCluster {
    fn kind(&self) -> &'static str {
        "kube-apiserver"
    }

    fn url(&self) -> String {
        self.proxy.url()
    }

    fn kubeconfig_yaml(&self) -> String {
        crate::kubeconfig::kubeconfig_yaml(&self.proxy.url(), "default")
    }

    fn knobs(&self) -> &Knobs {
        &self.knobs
    }

    fn requests(&self) -> Vec<RequestRecord> {
        self.proxy.requests()
    }

    fn clear_requests(&self) {
        self.proxy.clear_requests();
    }

    fn object(&self, resource: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let resource = client::api_resource(resource)?;
        let (client, namespace, name) = (
            self.client.clone(),
            namespace.map(str::to_string),
            name.to_string(),
        );
        self.block(async move {
            client::api(&client, &resource, namespace.as_deref())
                .get_opt(&name)
                .await
                .ok()
                .flatten()
                .map(|o| client::to_value(&o))
        })
    }

    fn list(&self, resource: &str, namespace: Option<&str>) -> Vec<Value> {
        let Some(resource) = client::api_resource(resource) else {
            return Vec::new();
        };
        let (client, namespace) = (self.client.clone(), namespace.map(str::to_string));
        self.block(async move {
            client::api(&client, &resource, namespace.as_deref())
                .list(&Default::default())
                .await
                .map(|l| l.items.iter().map(client::to_value).collect())
                .unwrap_or_default()
        })
    }

    fn create(&self, manifest: Value) -> Result<Value, ApiError> {
        let client = self.client.clone();
        self.block(async move { client::create_manifest(&client, &manifest).await })
    }

    fn apply(&self, manifest: Value, manager: &str) -> Result<Value, ApiError> {
        let (client, manager) = (self.client.clone(), manager.to_string());
        self.block(
            async move { client::apply_manifest(&client, &manifest, &manager, "default").await },
        )
    }

    fn delete(
        &self,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<bool, ApiError> {
        let resource = client::api_resource(resource).ok_or_else(ApiError::no_route)?;
        let (client, namespace, name) = (
            self.client.clone(),
            namespace.map(str::to_string),
            name.to_string(),
        );
        self.block(
            async move { client::delete(&client, &resource, namespace.as_deref(), &name).await },
        )
    }
}

/// An admin kubeconfig with a token, trusting `ca`.
fn kubeconfig(url: &str, ca: &Path, token: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: real
  cluster:
    server: {url}
    certificate-authority: {ca}
contexts:
- name: real
  context:
    cluster: real
    user: admin
    namespace: default
current-context: real
users:
- name: admin
  user:
    token: {token}
",
        ca = ca.display()
    )
}

/// A token no other cluster of this run shares.
fn token() -> String {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
        ^ u64::from(std::process::id());
    let mut rng = Rng::new(seed);
    format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64())
}

/// The RSA key pair that signs service account tokens, made with openssl.
fn service_account_keys(dir: &Path) -> Result<(), String> {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                format!("cannot run openssl (the service account key is made with it): {e}")
            })?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "openssl {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    };
    run(&["genrsa", "-out", "sa.key", "2048"])?;
    run(&["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"])
}

/// Three distinct free loopback ports.
fn free_ports() -> Result<[u16; 3], String> {
    let listeners = (0..3)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| format!("no free loopback port: {e}"))?;
    let port = |i: usize| listeners[i].local_addr().map(|a| a.port());
    Ok([
        port(0).map_err(|e| e.to_string())?,
        port(1).map_err(|e| e.to_string())?,
        port(2).map_err(|e| e.to_string())?,
    ])
}
