//! The test kit: a temporary directory to write stacks into, and a way to
//! run the real `stack` binary in it with stable, colourless output.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `stack` binary under test.
pub fn stack_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_stack"))
}

/// A scratch directory plus helpers to run `stack` in it.
pub struct TestContext {
    pub dir: tempfile::TempDir,
}

/// The outcome of one `stack` run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Fails, showing the whole run, unless stdout contains `text`.
    #[track_caller]
    pub fn assert_stdout(&self, text: &str) {
        assert!(
            self.stdout.contains(text),
            "expected {text:?} on stdout\n{}",
            self.transcript()
        );
    }

    /// Fails, showing the whole run, unless stderr contains `text`.
    #[track_caller]
    pub fn assert_stderr(&self, text: &str) {
        assert!(
            self.stderr.contains(text),
            "expected {text:?} on stderr\n{}",
            self.transcript()
        );
    }

    /// Exit code, stdout and stderr in one text, for snapshots.
    pub fn transcript(&self) -> String {
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Default for TestContext {
    fn default() -> Self {
        Self::new()
    }
}

impl TestContext {
    pub fn new() -> TestContext {
        TestContext {
            dir: tempfile::tempdir().expect("create a temporary directory"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file below the scratch directory, creating directories.
    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let path = self.dir.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create directories");
        }
        std::fs::write(&path, content).expect("write a file");
        path
    }

    /// Runs `stack` with `args` in the scratch directory.
    pub fn stack(&self, args: &[&str]) -> Run {
        run_in(self.dir.path(), args, &[])
    }

    /// A test directory holding `server`'s kubeconfig, and its path.
    pub fn with_kubeconfig(server: &dyn stack_testkit::Cluster) -> (TestContext, PathBuf) {
        let ctx = TestContext::new();
        let kubeconfig = ctx.path().join("kubeconfig");
        server
            .write_kubeconfig(&kubeconfig)
            .expect("write the kubeconfig");
        (ctx, kubeconfig)
    }

    /// Runs `stack` with extra environment variables.
    pub fn stack_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        run_in(self.dir.path(), args, env)
    }
}

/// Runs `stack` in `dir` without colour, at a fixed width, with no
/// terminal on any stream.
pub fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(stack_bin());
    command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    Run::from(command.output().expect("run the stack binary"))
}

/// Insta settings that hide what differs between machines.
pub fn settings(dir: Option<&Path>) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    if let Some(dir) = dir {
        let shown = regex_escape(&dir.to_string_lossy());
        settings.add_filter(&shown, "[TMP]");
        if let Ok(canonical) = dir.canonicalize() {
            settings.add_filter(&regex_escape(&canonical.to_string_lossy()), "[TMP]");
        }
    }
    settings.add_filter(&regex_escape(&repo_root().to_string_lossy()), "[REPO]");
    settings
}

pub(crate) fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A directory served over HTTP on a loopback port until dropped.
pub struct Served {
    pub url: String,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Answers each connection to a loopback port with `answer`, on a thread
/// of its own, until dropped.
fn serve_with(answer: impl Fn(TcpStream) + Send + Sync + 'static) -> Served {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener.local_addr().expect("the address");
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            if stopped.load(Ordering::SeqCst) {
                break;
            }
            let Ok(stream) = stream else { continue };
            let answer = answer.clone();
            std::thread::spawn(move || answer(stream));
        }
    });
    Served {
        url: format!("http://{addr}"),
        stop,
        addr,
    }
}

/// Serves the files of `dir` over HTTP on a loopback port.
pub fn serve(dir: PathBuf) -> Served {
    serve_with(move |mut stream| {
        let mut request = String::new();
        if BufReader::new(&stream).read_line(&mut request).is_err() {
            return;
        }
        let path = request.split_whitespace().nth(1).unwrap_or("/");
        let file = path.trim_start_matches('/');
        let body = (!file.contains("..") && !file.is_empty())
            .then(|| std::fs::read(dir.join(file)).ok())
            .flatten();
        let response = match body {
            Some(body) => {
                let mut head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                head.extend(body);
                head
            }
            None => {
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
            }
        };
        let _ = stream.write_all(&response);
    })
}

/// Copies a fixture directory, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create a directory");
    for entry in std::fs::read_dir(from).expect("read a fixture directory") {
        let path = entry.expect("a directory entry").path();
        let target = to.join(path.file_name().expect("a file name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy a fixture");
        }
    }
}

/// Every file below `dir`, recursively.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_below(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Serves the git repositories below `root` over smart HTTP on a loopback
/// port until dropped, with the real `git http-backend` as the CGI program.
pub fn serve_git(root: PathBuf) -> Served {
    serve_with(move |stream| git_http_exchange(stream, &root))
}

/// One request: its head and body handed to `git http-backend`, whose CGI
/// answer becomes the HTTP response.
fn git_http_exchange(stream: TcpStream, root: &Path) {
    use std::io::Read;
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("GET").to_string();
    let target = parts.next().unwrap_or("/").to_string();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.trim().split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let length: usize = header("content-length").parse().unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let mut child = Command::new("git")
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", length.to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("GIT_PROTOCOL", header("git-protocol"))
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run git http-backend");
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(&body);
    }
    let output = child.wait_with_output().expect("git http-backend answers");
    let split = output
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| {
            output
                .stdout
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, 2))
        });
    let Some((end, gap)) = split else { return };
    let head = String::from_utf8_lossy(&output.stdout[..end]).into_owned();
    let mut status = "200 OK".to_string();
    let mut response = String::new();
    for h in head.lines() {
        match h.strip_prefix("Status:") {
            Some(s) => status = s.trim().to_string(),
            None => {
                response.push_str(h.trim_end());
                response.push_str("\r\n");
            }
        }
    }
    let content = &output.stdout[end + gap..];
    let mut out = &stream;
    let _ = write!(
        out,
        "HTTP/1.1 {status}\r\n{response}Content-Length: {}\r\nConnection: close\r\n\r\n",
        content.len()
    );
    let _ = out.write_all(content);
}
