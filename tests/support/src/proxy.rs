//! A fault-injecting proxy in front of a real kube-apiserver: the client
//! under test talks plain HTTP on loopback to the proxy, which logs each
//! request, applies the [`Knobs`] (latency, 5xx, 429, 409, dropped
//! connections, stalled bodies; by rate, count, method and path) and
//! forwards the rest to the API server over HTTPS with the admin token,
//! streaming the answer back (watches included). So retry, `kill -9` and
//! interruption tests run against real semantics, and "a second run writes
//! nothing" is checked on the real server's request stream.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderName, CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::body::{read_all, ResponseBody};
use crate::client::{self, Endpoint, TESTKIT_HEADER};
use crate::faults::Fault;
use crate::handler::{error_response, injected, stalled, Dropped};
use crate::knobs::Knobs;
use crate::requests::{RequestLog, RequestRecord};
use crate::status::ApiError;

/// Largest request body forwarded.
const BODY_LIMIT: usize = 64 << 20;

/// A running proxy; stops with the shutdown signal it was started with.
#[derive(Debug)]
pub(crate) struct Proxy {
    addr: SocketAddr,
    log: Arc<RequestLog>,
}

struct State {
    upstream: kube::Client,
    knobs: Arc<Knobs>,
    log: Arc<RequestLog>,
    shutdown: watch::Receiver<bool>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub(crate) async fn start(
        upstream: Endpoint,
        knobs: Arc<Knobs>,
        shutdown: watch::Receiver<bool>,
    ) -> io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let log = Arc::new(RequestLog::default());
        let state = Arc::new(State {
            upstream: client::connect(&upstream).map_err(io::Error::other)?,
            knobs,
            log: log.clone(),
            shutdown: shutdown.clone(),
        });
        tokio::spawn(accept_loop(listener, state, shutdown));
        Ok(Proxy { addr, log })
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn requests(&self) -> Vec<RequestRecord> {
        self.log.snapshot()
    }

    pub(crate) fn clear_requests(&self) {
        self.log.clear();
    }
}

async fn accept_loop(
    listener: TcpListener,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let state = state.clone();
                    let mut stop = shutdown.clone();
                    tokio::spawn(async move {
                        let svc = service_fn(move |req| forward(state.clone(), req));
                        let conn = http1::Builder::new()
                            .keep_alive(true)
                            .serve_connection(TokioIo::new(stream), svc);
                        tokio::select! {
                            _ = conn => {}
                            _ = stop.changed() => {}
                        }
                    });
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
            },
            _ = shutdown.changed() => return,
        }
    }
}

/// Headers that belong to one connection, or that the proxy sets itself.
fn passes(name: &HeaderName) -> bool {
    ![
        HOST,
        CONNECTION,
        CONTENT_LENGTH,
        TRANSFER_ENCODING,
        hyper::header::AUTHORIZATION,
    ]
    .contains(name)
        && name.as_str() != TESTKIT_HEADER
}

async fn forward(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<ResponseBody>, Dropped> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let (delay, fault) = state.knobs.before_request(method.as_str(), &path);
    let slept = std::time::Instant::now();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let delayed = slept.elapsed();
    let record = |status: Option<u16>, injected: bool| RequestRecord {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        status,
        injected,
        delayed,
    };
    match fault {
        Some(Fault::DropConnection) => {
            state.log.push(record(None, true));
            return Err(Dropped);
        }
        Some(Fault::StallBody) | None => {}
        Some(fault) => {
            let e = injected(fault);
            state.log.push(record(Some(e.code), true));
            return Ok(error_response(&e));
        }
    }
    let mut upstream = Request::builder()
        .method(method.clone())
        .uri(req.uri().path_and_query().map_or("/", |p| p.as_str()));
    for (name, value) in req.headers().iter().filter(|(n, _)| passes(n)) {
        upstream = upstream.header(name, value);
    }
    let Ok(body) = read_all(req.into_body(), BODY_LIMIT).await else {
        state.log.push(record(None, false));
        return Err(Dropped);
    };
    let upstream = upstream
        .body(kube::client::Body::from(body))
        .map_err(|_| Dropped)?;
    let answer = match state.upstream.send(upstream).await {
        Ok(answer) => answer,
        Err(e) => {
            // The server is unreachable: answered as a load balancer would.
            state.log.push(record(Some(503), false));
            return Ok(error_response(&ApiError::new(
                503,
                "ServiceUnavailable",
                format!("the proxy cannot reach kube-apiserver: {e}"),
            )));
        }
    };
    let status = answer.status();
    if fault == Some(Fault::StallBody) {
        state.log.push(record(Some(status.as_u16()), true));
        return Ok(stalled(status.as_u16(), state.shutdown.clone()));
    }
    state.log.push(record(Some(status.as_u16()), false));
    let (parts, mut body) = answer.into_parts();
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let mut stop = state.shutdown.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                frame = body.frame() => match frame {
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            if tx.send(data).await.is_err() {
                                return;
                            }
                        }
                    }
                    // The server ended or broke the body: so does the proxy.
                    _ => return,
                },
                _ = stop.changed() => return,
            }
        }
    });
    let mut response = Response::new(ResponseBody::Stream(rx));
    *response.status_mut() = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::OK);
    for (name, value) in parts.headers.iter().filter(|(n, _)| passes(n)) {
        response.headers_mut().append(name, value.clone());
    }
    Ok(response)
}
