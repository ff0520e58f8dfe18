//! The HTTP front: latency and fault injection, the request log, routing,
//! content negotiation (aggregated discovery, Tables, YAML apply bodies),
//! and the mapping of each verb onto the store.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ACCEPT, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};
use tokio::sync::{broadcast::error::RecvError, mpsc, watch};

use crate::body::{read_all, ResponseBody};
use crate::discovery::{self, Aggregated};
use crate::faults::Fault;
use crate::knobs::Knobs;
use crate::registry::ResourceType;
use crate::requests::{RequestLog, RequestRecord};
use crate::route::{self, Query, ResourcePath, Route};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::{self, ApiError};
use crate::store::{
    scale_view, Deleted, PatchKind, Preconditions, Store, Subresource, WatchFrom, WriteOptions,
};
use crate::table::{self, Include};
use crate::watch::{error_event, initial_events_end, WatchFilter};

/// Largest request body accepted.
const BODY_LIMIT: usize = 64 << 20;

/// What every connection shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Arc<Store>,
    pub(crate) knobs: Arc<Knobs>,
    pub(crate) log: RequestLog,
    pub(crate) addr: String,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) aggregated_discovery: bool,
}

/// Returned to hyper to close the connection without answering.
#[derive(Debug)]
pub(crate) struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped")
    }
}

impl std::error::Error for Dropped {}

type Resp = Response<ResponseBody>;

/// One request, read.
struct Ctx {
    method: String,
    query: Query,
    accept: String,
    content_type: String,
    user_agent: String,
    body: Vec<u8>,
}

fn typed(code: u16, value: &Value, content_type: &str) -> Resp {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let mut r = Response::new(ResponseBody::full(bytes));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let ct = HeaderValue::from_str(content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/json"));
    r.headers_mut().insert(CONTENT_TYPE, ct);
    r
}

fn ok(code: u16, value: &Value) -> Resp {
    typed(code, value, "application/json")
}

pub(crate) fn error_response(e: &ApiError) -> Resp {
    let mut r = ok(e.code, &e.to_status());
    if let Some(secs) = e.retry_after {
        r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    r
}

/// The answer to a request an injected fault decides.
pub(crate) fn injected(fault: Fault) -> ApiError {
    match fault {
        Fault::InternalError => ApiError::new(
            500,
            "InternalError",
            "Internal error occurred: injected fault",
        ),
        Fault::Unavailable => ApiError::new(
            503,
            "ServiceUnavailable",
            "the server is currently unable to handle the request (injected fault)",
        ),
        Fault::TooManyRequests { retry_after_secs } => {
            let mut e = ApiError::new(
                429,
                "TooManyRequests",
                "the server has received too many requests and has asked us to try again later (injected fault)",
            );
            e.retry_after = Some(retry_after_secs);
            e
        }
        Fault::Conflict | Fault::DropConnection | Fault::StallBody => ApiError::new(
            409,
            "Conflict",
            "Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again (injected fault)",
        ),
    }
}

/// A response whose status and headers are sent and whose body never
/// comes: its sender waits until the server shuts down.
pub(crate) fn stalled(code: u16, mut shutdown: watch::Receiver<bool>) -> Resp {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let _held = tx;
        let _ = shutdown.changed().await;
    });
    let mut r = Response::new(ResponseBody::Stream(rx));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// Serves one request.
pub(crate) async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Resp, Dropped> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let raw_query = req.uri().query().unwrap_or("").to_string();
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (accept, content_type, user_agent) =
        (header(ACCEPT), header(CONTENT_TYPE), header(USER_AGENT));
    // The test kit's own clients (the controller doubles) are neither
    // logged, slowed nor faulted: the knobs and the log are about the
    // client under test.
    let own = req.headers().contains_key(crate::client::TESTKIT_HEADER);
    let log = |r: RequestRecord| {
        if !own {
            shared.log.push(r);
        }
    };
    let (delay, fault) = if own {
        (Duration::ZERO, None)
    } else {
        shared.knobs.before_request(&method, &path)
    };
    let slept = std::time::Instant::now();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let delayed = slept.elapsed();
    let record = |status: Option<u16>, injected: bool| RequestRecord {
        method: method.clone(),
        path: path.clone(),
        query: raw_query.clone(),
        status,
        injected,
        delayed,
    };
    if let Some(fault) = fault {
        if fault == Fault::DropConnection {
            log(record(None, true));
            return Err(Dropped);
        }
        if fault == Fault::StallBody {
            log(record(Some(200), true));
            return Ok(stalled(200, shared.shutdown.clone()));
        }
        let e = injected(fault);
        log(record(Some(e.code), true));
        return Ok(error_response(&e));
    }
    let Ok(body) = read_all(req.into_body(), BODY_LIMIT).await else {
        log(record(None, false));
        return Err(Dropped);
    };
    let ctx = Ctx {
        method: method.clone(),
        query: Query::parse(&raw_query),
        accept,
        content_type,
        user_agent,
        body,
    };
    let resp = serve(&shared, &path, &ctx).unwrap_or_else(|e| error_response(&e));
    log(record(Some(resp.status().as_u16()), false));
    Ok(resp)
}

fn serve(shared: &Arc<Shared>, path: &str, ctx: &Ctx) -> Result<Resp, ApiError> {
    let route = route::parse(path);
    if !matches!(route, Route::Resource(_)) && ctx.method != "GET" {
        return Err(ApiError::method_not_allowed());
    }
    let aggregated = if shared.aggregated_discovery {
        Aggregated::from_accept(&ctx.accept)
    } else {
        None
    };
    let reg = || shared.store.registry();
    Ok(match route {
        Route::Version => ok(200, &discovery::version()),
        Route::Health => {
            let mut r = Response::new(ResponseBody::full("ok"));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            r
        }
        Route::Api => match aggregated {
            Some(f) => typed(
                200,
                &discovery::aggregated(&reg(), true, f),
                &f.content_type(),
            ),
            None => ok(200, &discovery::api_versions(&shared.addr)),
        },
        Route::Apis => match aggregated {
            Some(f) => typed(
                200,
                &discovery::aggregated(&reg(), false, f),
                &f.content_type(),
            ),
            None => ok(200, &discovery::api_group_list(&reg())),
        },
        Route::Group(g) => ok(
            200,
            &discovery::api_group(&reg(), &g).ok_or_else(ApiError::no_route)?,
        ),
        Route::GroupVersion { group, version } => ok(
            200,
            &discovery::resource_list(&reg(), &group, &version).ok_or_else(ApiError::no_route)?,
        ),
        Route::OpenApiV2 => openapi_v2(&ctx.accept),
        Route::Unknown => return Err(ApiError::no_route()),
        Route::OpenApiV3Root => ok(200, &discovery::openapi_v3_root(&reg())),
        Route::OpenApiV3 { group, version } => ok(
            200,
            &discovery::openapi_v3_doc(&reg(), &group, &version).ok_or_else(ApiError::no_route)?,
        ),
        Route::Resource(rp) => return resource(shared, &rp, ctx),
    })
}

/// `/openapi/v2` without definitions. kubectl fetches it (as protobuf,
/// where an empty message is a valid empty document) when it validates an
/// object whose kind is not served yet; no definitions means no checks.
fn openapi_v2(accept: &str) -> Resp {
    if accept.contains("protobuf") {
        let mut r = Response::new(ResponseBody::full(Bytes::new()));
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/com.github.proto-openapi.spec.v2.v1.0+protobuf"),
        );
        return r;
    }
    ok(
        200,
        &json!({
            "swagger": "2.0",
            "info": { "title": "Kubernetes", "version": format!("v{}.{}.0", discovery::MAJOR, discovery::MINOR) },
            "paths": {},
            "definitions": {},
        }),
    )
}

/// The field manager of a write: `fieldManager`, else the client's name
/// from its User-Agent, as kube-apiserver does.
fn field_manager(q: &Query, user_agent: &str) -> String {
    match q.get("fieldManager") {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => {
            let prefix = user_agent.split('/').next().unwrap_or("").trim();
            if prefix.is_empty() {
                "unknown".into()
            } else {
                prefix.chars().take(128).collect()
            }
        }
    }
}

fn dry_run(values: &[&str]) -> Result<bool, ApiError> {
    match values {
        [] => Ok(false),
        vs if vs.iter().all(|v| *v == "All") => Ok(true),
        vs => Err(ApiError::bad_request(format!(
            "dryRun: Unsupported value: {:?}: supported values: \"All\"",
            vs.iter().find(|v| **v != "All").copied().unwrap_or("")
        ))),
    }
}

fn parse_body(ctx: &Ctx, yaml: bool) -> Result<Value, ApiError> {
    // Typed client-go clients send protobuf first and switch to JSON when
    // told the media type is unsupported.
    let ct = ctx.content_type.split(';').next().unwrap_or("").trim();
    if ct.contains("protobuf") || ct.contains("cbor") {
        return Err(ApiError::unsupported_media_type(ct));
    }
    if ctx.body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    match serde_json::from_slice(&ctx.body) {
        Ok(v) => Ok(v),
        Err(e) if !yaml => Err(ApiError::bad_request(format!(
            "the body of the request could not be decoded as JSON: {e}"
        ))),
        Err(_) => serde_yaml::from_slice(&ctx.body).map_err(|e| {
            ApiError::bad_request(format!(
                "the body of the request could not be decoded as YAML: {e}"
            ))
        }),
    }
}

fn selectors(q: &Query) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels = LabelSelector::parse(q.get("labelSelector").unwrap_or(""))
        .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?;
    let fields = FieldSelector::parse(q.get("fieldSelector").unwrap_or(""))
        .map_err(|e| ApiError::bad_request(format!("invalid field selector: {e}")))?;
    Ok((labels, fields))
}

fn resource(shared: &Arc<Shared>, rp: &ResourcePath, ctx: &Ctx) -> Result<Resp, ApiError> {
    let store = &shared.store;
    let rt = store
        .resource_type(&rp.group, &rp.version, &rp.plural)
        .ok_or_else(ApiError::no_route)?;
    if rp.namespace.is_some() && !rt.namespaced {
        return Err(ApiError::no_route());
    }
    let ns = rp.namespace.as_deref();
    let subresource = match rp.subresource.as_deref() {
        None => Subresource::Main,
        Some("status") if rt.status => Subresource::Status,
        Some("scale") if rt.scale() => Subresource::Scale,
        Some(_) => return Err(ApiError::no_route()),
    };
    let q = &ctx.query;
    let opts = WriteOptions {
        manager: field_manager(q, &ctx.user_agent),
        dry_run: dry_run(&q.all("dryRun"))?,
        subresource,
        force: q.flag("force"),
    };
    let named_needs_ns = rt.namespaced && ns.is_none();
    let table = table::wanted(&ctx.accept);
    let include = Include::parse(q.get("includeObject"));
    if let (Subresource::Scale, Some(name), false) =
        (subresource, rp.name.as_deref(), named_needs_ns)
    {
        return scale(store, &rt, ns, name, ctx, &opts);
    }
    match (ctx.method.as_str(), rp.name.as_deref()) {
        ("GET", name) if q.flag("watch") => {
            if name.is_some() && named_needs_ns {
                return Err(ApiError::no_route());
            }
            watch(shared, &rt, ns, name, ctx)
        }
        ("GET", Some(name)) => {
            if named_needs_ns {
                return Err(ApiError::no_route());
            }
            let obj = store.get(&rt, ns, name)?;
            Ok(if table {
                ok(200, &table::table(&[obj], None, include))
            } else {
                ok(200, &obj)
            })
        }
        ("GET", None) => {
            let (labels, fields) = selectors(q)?;
            let (items, rv) = store.list(&rt, ns, &labels, &fields);
            Ok(if table {
                ok(200, &table::table(&items, Some(rv), include))
            } else {
                ok(200, &list_json(&rt, items, rv))
            })
        }
        ("POST", None) => {
            if named_needs_ns {
                return Err(ApiError::method_not_allowed());
            }
            let body = parse_body(ctx, false)?;
            Ok(ok(201, &store.create(&rt, ns, body, &opts)?))
        }
        ("PUT", Some(name)) if !named_needs_ns => {
            let body = parse_body(ctx, false)?;
            Ok(ok(200, &store.replace(&rt, ns, name, body, &opts)?))
        }
        ("PATCH", Some(name)) if !named_needs_ns => {
            let ct = ctx.content_type.split(';').next().unwrap_or("").trim();
            let kind = match ct {
                "application/merge-patch+json" => PatchKind::Merge,
                "application/strategic-merge-patch+json" => PatchKind::Strategic,
                "application/json-patch+json" => PatchKind::Json,
                "application/apply-patch+yaml" | "application/apply-patch+json" => PatchKind::Apply,
                other => return Err(ApiError::unsupported_media_type(other)),
            };
            if kind == PatchKind::Apply && q.get("fieldManager").is_none_or(str::is_empty) {
                return Err(ApiError::bad_request(
                    "PATCH, field manager is required for apply requests",
                ));
            }
            if kind != PatchKind::Apply && opts.force {
                return Err(ApiError::bad_request(
                    "force is only allowed for apply patches",
                ));
            }
            let body = parse_body(ctx, kind == PatchKind::Apply)?;
            let written = store.patch(&rt, ns, name, kind, &body, &opts)?;
            Ok(ok(if written.created { 201 } else { 200 }, &written.object))
        }
        ("DELETE", Some(name)) if !named_needs_ns => {
            let (pre, body_dry_run) = delete_options(ctx)?;
            match store.delete(&rt, ns, name, &pre, opts.dry_run || body_dry_run)? {
                Deleted::Gone(obj) if !rt.custom => {
                    let uid = obj
                        .pointer("/metadata/uid")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    Ok(ok(200, &status::success(&rt.group, &rt.plural, name, uid)))
                }
                Deleted::Gone(obj) | Deleted::Pending(obj) => Ok(ok(200, &obj)),
            }
        }
        ("DELETE", None) => {
            let (labels, fields) = selectors(q)?;
            let (_, body_dry_run) = delete_options(ctx)?;
            let items =
                store.delete_collection(&rt, ns, &labels, &fields, opts.dry_run || body_dry_run);
            let rv = store.current_rv();
            Ok(ok(200, &list_json(&rt, items, rv)))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// `/scale`: reads and writes `.spec.replicas` as an `autoscaling/v1` Scale.
fn scale(
    store: &Store,
    rt: &ResourceType,
    ns: Option<&str>,
    name: &str,
    ctx: &Ctx,
    opts: &WriteOptions,
) -> Result<Resp, ApiError> {
    let current = scale_view(&store.get(rt, ns, name)?);
    let wanted = match ctx.method.as_str() {
        "GET" => return Ok(ok(200, &current)),
        "PUT" => parse_body(ctx, false)?,
        "PATCH" => {
            let body = parse_body(ctx, false)?;
            match ctx.content_type.split(';').next().unwrap_or("").trim() {
                "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
                    let mut v = current.clone();
                    crate::patch::merge_patch(&mut v, &body);
                    v
                }
                "application/json-patch+json" => crate::patch::json_patch(&current, &body)
                    .map_err(|e| ApiError::new(422, "Invalid", e))?,
                other => return Err(ApiError::unsupported_media_type(other)),
            }
        }
        _ => return Err(ApiError::method_not_allowed()),
    };
    let replicas = wanted
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .filter(|r| *r >= 0)
        .ok_or_else(|| {
            ApiError::invalid(
                "autoscaling",
                "Scale",
                name,
                "spec.replicas",
                "Invalid value: must be a non-negative integer",
            )
        })?;
    let updated = store.set_replicas(rt, ns, name, replicas, opts)?;
    Ok(ok(200, &scale_view(&updated)))
}

fn list_json(rt: &ResourceType, items: Vec<Value>, rv: u64) -> Value {
    json!({
        "kind": format!("{}List", rt.kind),
        "apiVersion": rt.api_version(),
        "metadata": { "resourceVersion": rv.to_string() },
        "items": items,
    })
}

/// Reads `DeleteOptions` from the body (preconditions, dryRun).
fn delete_options(ctx: &Ctx) -> Result<(Preconditions, bool), ApiError> {
    if ctx.body.iter().all(u8::is_ascii_whitespace) {
        return Ok((Preconditions::default(), false));
    }
    let body = parse_body(ctx, false)?;
    let text = |p: &str| body.pointer(p).and_then(Value::as_str).map(str::to_string);
    let pre = Preconditions {
        uid: text("/preconditions/uid"),
        resource_version: text("/preconditions/resourceVersion"),
    };
    let dry: Vec<&str> = body
        .get("dryRun")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    Ok((pre, dry_run(&dry)?))
}

fn line(v: &Value) -> Bytes {
    let mut b = serde_json::to_vec(v).unwrap_or_default();
    b.push(b'\n');
    Bytes::from(b)
}

/// `?watch=true`: a stream of JSON event lines.
fn watch(
    shared: &Arc<Shared>,
    rt: &ResourceType,
    ns: Option<&str>,
    name: Option<&str>,
    ctx: &Ctx,
) -> Result<Resp, ApiError> {
    let q = &ctx.query;
    let (labels, mut fields) = selectors(q)?;
    if let Some(n) = name {
        fields = fields.and_name(n);
    }
    let from = match q.get("resourceVersion") {
        None | Some("" | "0") => WatchFrom::Now { initial: true },
        Some(v) => WatchFrom::After(
            v.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {v:?}")))?,
        ),
    };
    // Events at or before a requested resourceVersion are not sent again.
    let after = match from {
        WatchFrom::After(rv) => rv,
        WatchFrom::Now { .. } => 0,
    };
    let send_bookmark = q.get("sendInitialEvents") == Some("true");
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs);
    let as_table = table::wanted(&ctx.accept);
    let include = Include::parse(q.get("includeObject"));
    let filter = WatchFilter {
        group: rt.group.clone(),
        resource: rt.plural.clone(),
        namespace: ns.map(str::to_string),
        labels,
        fields,
        api_version: rt.api_version(),
    };
    let (tx, rx_body) = mpsc::channel::<Bytes>(256);
    let started = shared.store.watch_start(rt, ns, from);
    let (initial, mut events, current) = match started {
        Ok(w) => (w.initial, w.events, w.rv),
        Err(e) if e.code == 410 => {
            let _ = tx.try_send(line(&error_event(e.to_status())));
            return Ok(stream_response(rx_body));
        }
        Err(e) => return Err(e),
    };
    let convert = move |mut ev: Value| {
        if as_table {
            let obj = ev["object"].take();
            ev["object"] = table::table(&[obj], None, include);
        }
        ev
    };
    let (api_version, kind) = (rt.api_version(), rt.kind.clone());
    let mut shutdown = shared.shutdown.clone();
    tokio::spawn(async move {
        for ev in initial {
            if let Some(v) = filter.render(&ev) {
                if tx.send(line(&convert(v))).await.is_err() {
                    return;
                }
            }
        }
        if send_bookmark
            && tx
                .send(line(&initial_events_end(&api_version, &kind, current)))
                .await
                .is_err()
        {
            return;
        }
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        loop {
            let expiry = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = events.recv() => match r {
                    Ok(ev) if ev.rv <= after => {}
                    Ok(ev) => {
                        if let Some(v) = filter.render(&ev) {
                            if tx.send(line(&convert(v))).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        let gone = ApiError::expired("the watch fell too far behind; list again");
                        let _ = tx.send(line(&error_event(gone.to_status()))).await;
                        return;
                    }
                    Err(RecvError::Closed) => return,
                },
                _ = expiry => return,
                _ = tx.closed() => return,
                _ = shutdown.changed() => return,
            }
        }
    });
    Ok(stream_response(rx_body))
}

fn stream_response(rx: mpsc::Receiver<Bytes>) -> Resp {
    let mut r = Response::new(ResponseBody::Stream(rx));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_manager_defaults_to_the_user_agent_prefix() {
        let q = Query::parse("");
        assert_eq!(
            field_manager(&q, "kubectl/v1.32.4 (linux/amd64) kubernetes/abc"),
            "kubectl"
        );
        assert_eq!(field_manager(&q, ""), "unknown");
        let q = Query::parse("fieldManager=stack");
        assert_eq!(field_manager(&q, "kubectl/v1"), "stack");
    }

    #[test]
    fn dry_run_accepts_only_all() {
        assert_eq!(dry_run(&[]), Ok(false));
        assert_eq!(dry_run(&["All"]), Ok(true));
        assert!(dry_run(&["Some"]).is_err());
    }

    #[test]
    fn injected_faults_carry_their_codes() {
        assert_eq!(injected(Fault::InternalError).code, 500);
        assert_eq!(injected(Fault::Unavailable).code, 503);
        let e = injected(Fault::TooManyRequests {
            retry_after_secs: 2,
        });
        assert_eq!((e.code, e.retry_after), (429, Some(2)));
        assert_eq!(injected(Fault::Conflict).code, 409);
        let r = error_response(&e);
        assert_eq!(
            r.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()),
            Some("2")
        );
    }
}
