//! [`Moto`]: `moto` in server mode (PyPI `moto[server]`), the AWS double
//! the EKS tests run against, started on a free loopback port and stopped
//! when dropped.
//!
//! The server is `STACK_MOTO` (a `moto_server` executable) when set, else
//! the project's virtualenv `target/tools/venv/bin/moto_server` that
//! `scripts/install-moto.sh` creates. A missing server is a loud failure
//! that says how to install it. `moto_eks.py` beside this crate adds the
//! EKS version updates (cluster and node group) that moto does not serve.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server.
pub struct Moto {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Moto {
    /// The `moto_server` to run.
    pub fn binary() -> Result<PathBuf, String> {
        if let Some(path) = std::env::var_os("STACK_MOTO").filter(|p| !p.is_empty()) {
            let path = PathBuf::from(path);
            return if path.is_file() {
                Ok(path)
            } else {
                Err(format!("STACK_MOTO={} does not exist", path.display()))
            };
        }
        let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../target/tools/venv/bin/moto_server");
        if venv.is_file() {
            return Ok(venv);
        }
        Err(format!(
            "moto is not installed ({} does not exist): run scripts/install-moto.sh, or set STACK_MOTO to a `moto_server`",
            venv.display()
        ))
    }

    /// Starts moto on a free loopback port and waits until it answers.
    pub fn start() -> Result<Moto, String> {
        Moto::start_with(&[])
    }

    /// Starts moto whose EKS clusters report `endpoint` (a test Kubernetes
    /// API server) as their API endpoint.
    pub fn start_with_cluster_endpoint(endpoint: &str) -> Result<Moto, String> {
        Moto::start_with(&[("MOTO_EKS_CLUSTER_ENDPOINT", endpoint)])
    }

    fn start_with(env: &[(&str, &str)]) -> Result<Moto, String> {
        let binary = Moto::binary()?;
        let mut last = String::new();
        // The port is free when chosen; another process may take it before
        // moto binds it, so a server that exits early is started again.
        for _ in 0..3 {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("no free loopback port: {e}"))?
                .port();
            // Its request log goes to a file: a pipe nobody reads would fill.
            let log = std::env::temp_dir().join(format!("stack-moto-{port}.log"));
            let stderr = std::fs::File::create(&log)
                .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
            let child = command(&binary)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
            let mut moto = Moto { child, port, log };
            match moto.wait_ready(Duration::from_secs(60)) {
                Ok(()) => return Ok(moto),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let stderr = std::fs::read_to_string(&self.log).unwrap_or_default();
                return Err(format!("moto_server exited with {status}: {stderr}"));
            }
            if self.answers() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "moto_server did not answer on port {} within {timeout:?}",
                    self.port
                ));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }

    /// Whether the server answers an HTTP request.
    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let request = "GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
    }

    /// `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

/// `moto_server`, run through `moto_eks.py` beside this crate with the
/// interpreter of its virtualenv, which adds the EKS version updates moto
/// lacks; a `moto_server` outside a virtualenv runs as it is.
fn command(binary: &Path) -> Command {
    let python = binary.with_file_name("python");
    let extended = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("moto_eks.py");
    if python.is_file() && extended.is_file() {
        let mut command = Command::new(python);
        command.arg(extended);
        command
    } else {
        Command::new(binary)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
