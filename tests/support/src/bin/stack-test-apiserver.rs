//! Runs the Kubernetes API test server (or, with `--real`, a real
//! kube-apiserver) standalone, so `stack` and `kubectl` can be pointed at
//! it by hand.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use stack_testkit::{Cluster, Config, RealCluster, RequestRecord, TestServer};

/// A Kubernetes API test server on loopback (plain HTTP, no auth).
#[derive(Debug, Parser)]
#[command(name = "stack-test-apiserver", version)]
struct Args {
    /// Port on 127.0.0.1 (default: a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Write a kubeconfig here (default: print it).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Run the Argo CD controller double and install its CRDs.
    #[arg(long)]
    argocd: bool,
    /// Milliseconds before the Argo CD double marks an app synced.
    #[arg(long, default_value_t = 500)]
    argocd_sync_delay_ms: u64,
    /// Milliseconds before the Argo CD double releases the resources finalizer.
    #[arg(long, default_value_t = 500)]
    argocd_finalizer_delay_ms: u64,
    /// Make this app report Degraded: NAME=MESSAGE (repeatable).
    #[arg(long = "degraded", value_name = "NAME=MESSAGE")]
    degraded: Vec<String>,
    /// Milliseconds before Deployments, StatefulSets and Jobs report ready.
    #[arg(long, default_value_t = 200)]
    readiness_delay_ms: u64,
    /// Milliseconds before a new CRD is established.
    #[arg(long, default_value_t = 0)]
    crd_establish_delay_ms: u64,
    /// Milliseconds of latency added to every request.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// When stopped (Ctrl-C), write every request it answered here, one
    /// JSON object per line (`method`, `path`, `query`, `status`).
    #[arg(long, value_name = "FILE")]
    request_log: Option<PathBuf>,
    /// Seed of fault injection and jitter.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Run a real kube-apiserver instead (with etcd and
    /// kube-controller-manager; built by scripts/install-kube-apiserver.sh,
    /// found through STACK_KUBE_BIN): the kubeconfig reaches it over TLS
    /// with an admin token, and the Argo CD and readiness doubles act on it.
    #[arg(long)]
    real: bool,
}

/// Runs a real control plane until Ctrl-C.
fn run_real(args: &Args) {
    let cluster = match RealCluster::start() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let argocd = cluster.knobs().argocd();
    if !args.argocd {
        argocd.disable();
    }
    argocd.set_sync_delay(Duration::from_millis(args.argocd_sync_delay_ms));
    argocd.set_finalizer_delay(Duration::from_millis(args.argocd_finalizer_delay_ms));
    if args.argocd {
        if let Err(e) = cluster.install_argocd_crds() {
            eprintln!("error: cannot install Argo CD's CRDs: {}", e.message);
            std::process::exit(1);
        }
    }
    cluster
        .knobs()
        .deployments()
        .set_delay(Duration::from_millis(args.readiness_delay_ms));
    println!("kube-apiserver listening on {}", cluster.api_url());
    let yaml = cluster.direct_kubeconfig_yaml();
    match &args.kubeconfig {
        Some(path) => match std::fs::write(path, yaml) {
            Ok(()) => println!("kubeconfig written to {}", path.display()),
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                std::process::exit(1);
            }
        },
        None => print!("{yaml}"),
    }
    let waited = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(tokio::signal::ctrl_c()),
        Err(e) => Err(e),
    };
    if let Err(e) = waited {
        eprintln!("error: waiting for Ctrl-C: {e}");
    }
    println!("stopping");
}

fn main() {
    let args = Args::parse();
    if args.real {
        run_real(&args);
        return;
    }
    let mut config = Config::default().with_port(args.port).with_seed(args.seed);
    config.latency = Duration::from_millis(args.latency_ms);
    config.crd_establish_delay = Duration::from_millis(args.crd_establish_delay_ms);
    config.readiness.delay = Duration::from_millis(args.readiness_delay_ms);
    if args.argocd {
        config = config.with_argocd();
        config.argocd.sync_delay = Duration::from_millis(args.argocd_sync_delay_ms);
        config.argocd.finalizer_delay = Duration::from_millis(args.argocd_finalizer_delay_ms);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start a runtime: {e}");
            std::process::exit(1);
        }
    };
    runtime.block_on(async move {
        let server = match TestServer::try_start(config).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot start the server: {e}");
                std::process::exit(1);
            }
        };
        for d in &args.degraded {
            match d.split_once('=') {
                Some((name, message)) => server.knobs().argocd().degrade(name, message),
                None => {
                    eprintln!("error: --degraded wants NAME=MESSAGE, got {d:?}");
                    std::process::exit(2);
                }
            }
        }
        println!("listening on {}", server.url());
        match &args.kubeconfig {
            Some(path) => match server.write_kubeconfig(path) {
                Ok(()) => println!("kubeconfig written to {}", path.display()),
                Err(e) => {
                    eprintln!("error: cannot write {}: {e}", path.display());
                    std::process::exit(1);
                }
            },
            None => print!("{}", server.kubeconfig_yaml()),
        }
        if let Err(e) = tokio::signal::ctrl_c().await {
            eprintln!("error: waiting for Ctrl-C: {e}");
        }
        println!("stopping");
        if let Some(path) = &args.request_log {
            if let Err(e) = write_request_log(path, &server.requests()) {
                eprintln!("error: cannot write {}: {e}", path.display());
                std::process::exit(1);
            }
        }
    });
}

fn write_request_log(path: &std::path::Path, requests: &[RequestRecord]) -> std::io::Result<()> {
    let mut out = String::new();
    for r in requests {
        let line = serde_json::json!({
            "method": r.method,
            "path": r.path,
            "query": r.query,
            "status": r.status,
            "delayed_ms": r.delayed.as_secs_f64() * 1000.0,
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    std::fs::write(path, out)
}
