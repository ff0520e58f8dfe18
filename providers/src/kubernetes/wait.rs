//! Waiting for an object to become ready or to be gone, bounded by a
//! deadline. Waits watch the object (`kube::runtime::wait::await_condition`)
//! and confirm what the watch reports with a read; a watch that breaks is
//! started again after a backoff, and an API that cannot watch the kind is
//! polled instead.

use std::time::Duration;

use kube::api::{Api, DynamicObject};
use kube::runtime::wait::{await_condition, Error as WaitError};
use kube::runtime::watcher::Error as WatchError;
use serde_json::Value as Json;
use stack_engine::provider::{ProgressSink, ProviderError};
use tokio::time::Instant;

use super::client::Cluster;
use super::error::{object_error, with_notes, KubeError};
use super::object::ObjectId;
use super::readiness::{readiness, Readiness};
use super::retry::{CallError, Conflicts};
use stack_engine::duration;

/// A point in time waits must end by, and the timeout it came from.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    pub at: Instant,
    pub timeout: Duration,
}

impl Deadline {
    pub fn after(timeout: Duration) -> Self {
        Deadline {
            at: Instant::now() + timeout,
            timeout,
        }
    }

    fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }
}

fn to_json(object: &DynamicObject) -> Json {
    serde_json::to_value(object).unwrap_or(Json::Null)
}

/// Reads `name`, retrying; `None` when it does not exist.
pub async fn read(
    cluster: &Cluster,
    api: &Api<DynamicObject>,
    name: &str,
) -> Result<Option<Json>, CallError> {
    let found = cluster
        .retry
        .run(Conflicts::Retry, || {
            let api = api.clone();
            let name = name.to_string();
            async move { api.get_opt(&name).await }
        })
        .await?;
    Ok(found.as_ref().map(to_json))
}

/// Waits until `done` holds for the object called `name` (given the live
/// object, or `None` when there is none). Returns what it last saw, and
/// whether `done` held before the deadline.
async fn observe<F>(
    cluster: &Cluster,
    api: &Api<DynamicObject>,
    name: &str,
    deadline: Deadline,
    done: F,
) -> Result<(Option<Json>, bool), CallError>
where
    F: Fn(Option<&Json>) -> bool + Clone + Send + Sync + 'static,
{
    let mut last = read(cluster, api, name).await?;
    let mut watch = true;
    let mut failures = 0u32;
    loop {
        if done(last.as_ref()) {
            return Ok((last, true));
        }
        let remaining = deadline.remaining();
        if remaining.is_zero() {
            return Ok((last, false));
        }
        if watch {
            let wanted = name.to_string();
            let check = done.clone();
            // A server that ignores the watch's field selector shows other
            // objects too: only this one counts, and what the watch reports
            // is confirmed with a read below.
            let condition = move |o: Option<&DynamicObject>| match o {
                Some(o) if o.metadata.name.as_deref() != Some(wanted.as_str()) => false,
                Some(o) => check(Some(&to_json(o))),
                None => check(None),
            };
            match tokio::time::timeout(remaining, await_condition(api.clone(), name, condition))
                .await
            {
                Err(_) => {}
                Ok(Ok(_)) => failures = 0,
                Ok(Err(WaitError::ProbeFailed(e))) => {
                    let retryable = match e {
                        WatchError::InitialListFailed(e)
                        | WatchError::WatchStartFailed(e)
                        | WatchError::WatchFailed(e) => cluster
                            .retry
                            .delay(&CallError::Kube(e), 0, Conflicts::Retry)
                            .is_some(),
                        WatchError::WatchError(_) => true,
                        WatchError::NoResourceVersion => false,
                    };
                    if retryable {
                        failures += 1;
                        tokio::time::sleep(
                            cluster
                                .retry
                                .backoff(failures.min(8))
                                .min(deadline.remaining()),
                        )
                        .await;
                    } else {
                        watch = false;
                    }
                }
            }
        } else {
            // No watch for this kind: poll, less often as time goes by.
            failures += 1;
            let interval =
                (Duration::from_millis(100) * failures.min(20)).min(Duration::from_secs(2));
            tokio::time::sleep(interval.min(remaining)).await;
        }
        last = match read(cluster, api, name).await {
            Ok(found) => found,
            Err(e) if e.is_transport() || e.code().is_some_and(|c| c == 429 || c >= 500) => {
                if deadline.remaining().is_zero() {
                    return Err(e);
                }
                continue;
            }
            Err(e) => return Err(e),
        };
    }
}

/// Waits until `object` is ready; fails at once when it reports a failure.
///
/// `stale` is a failed status the object had before this apply: seen
/// unchanged, it is no verdict on what was just applied (Argo CD has not
/// looked again yet), so the wait goes on until the status changes.
pub async fn until_ready(
    cluster: &Cluster,
    api: &Api<DynamicObject>,
    object: &ObjectId,
    deadline: Deadline,
    stale: Option<Json>,
    progress: &ProgressSink,
) -> Result<Option<Json>, ProviderError> {
    let id = object.clone();
    let old = stale.clone();
    let progress = progress.clone();
    let done = move |live: Option<&Json>| {
        live.is_some_and(|l| match readiness(&id, l) {
            Readiness::Pending(why) => {
                progress.report(format!("{id}: {why}"));
                false
            }
            Readiness::Failed { .. } => old.is_none() || l.get("status") != old.as_ref(),
            Readiness::Ready => true,
        })
    };
    let (live, _) = observe(cluster, api, &object.name, deadline, done)
        .await
        .map_err(|e| object_error(cluster, "wait for", object, &e))?;
    let Some(live) = live else {
        return Err(KubeError::Lifecycle {
            message: format!("{object} disappeared while waiting for it to become ready"),
            help: Some("another client deleted it; run again to re-create it".into()),
        }
        .into());
    };
    let unchanged = stale.is_some() && live.get("status") == stale.as_ref();
    match readiness(object, &live) {
        Readiness::Ready => Ok(Some(live)),
        Readiness::Failed { summary, details } if unchanged => {
            Err(KubeError::NotReady {
                message: format!(
                    "{object} still {summary} {} after it was applied again",
                    duration::show(deadline.timeout)
                ),
                help: with_notes(details, Some(format!(
                    "its controller has not re-evaluated it since; inspect it with `kubectl describe {}`",
                    kubectl_name(object)
                ))),
            }
            .into())
        }
        Readiness::Failed { summary, details } => {
            Err(failed(object, &summary, details))
        }
        Readiness::Pending(why) => Err(KubeError::NotReady {
            message: format!("{object} is not ready after {}", duration::show(deadline.timeout)),
            help: with_notes(
                [why],
                Some(format!(
                    "raise the resource's `timeout`, or inspect it with `kubectl describe {}`",
                    kubectl_name(object)
                )),
            ),
        }
        .into()),
    }
}

/// Waits until `object` has the `spec` someone else is to apply (Argo CD,
/// from git) and is ready; fails at once when it reports a failure then.
pub async fn until_applied_and_ready(
    cluster: &Cluster,
    api: &Api<DynamicObject>,
    object: &ObjectId,
    spec: Json,
    deadline: Deadline,
) -> Result<(), ProviderError> {
    let id = object.clone();
    let wanted = spec.clone();
    let done = move |live: Option<&Json>| {
        live.is_some_and(|l| {
            l.get("spec") == Some(&wanted) && !matches!(readiness(&id, l), Readiness::Pending(_))
        })
    };
    let (live, _) = observe(cluster, api, &object.name, deadline, done)
        .await
        .map_err(|e| object_error(cluster, "wait for", object, &e))?;
    let applied = live.as_ref().is_some_and(|l| l.get("spec") == Some(&spec));
    match live.as_ref().map(|l| readiness(object, l)) {
        Some(Readiness::Ready) if applied => Ok(()),
        Some(Readiness::Failed { summary, details }) if applied => {
            Err(failed(object, &summary, details))
        }
        _ if !applied => Err(KubeError::NotReady {
            message: format!(
                "{object} does not have the committed version after {}",
                duration::show(deadline.timeout)
            ),
            help: Some(
                "check that Argo CD syncs the repository: `kubectl get applications -A`".into(),
            ),
        }
        .into()),
        _ => Err(KubeError::NotReady {
            message: format!(
                "{object} is not ready after {}",
                duration::show(deadline.timeout)
            ),
            help: Some(format!(
                "inspect it with `kubectl describe {}`",
                kubectl_name(object)
            )),
        }
        .into()),
    }
}

/// Waits until `object` (with `uid`, if known) is gone. Finalizers are
/// honoured by waiting; on timeout the error names those still pending.
pub async fn until_gone(
    cluster: &Cluster,
    api: &Api<DynamicObject>,
    object: &ObjectId,
    uid: Option<String>,
    deadline: Deadline,
) -> Result<(), ProviderError> {
    let done = move |live: Option<&Json>| match live {
        None => true,
        Some(l) => uid
            .as_deref()
            .is_some_and(|uid| l.pointer("/metadata/uid").and_then(Json::as_str) != Some(uid)),
    };
    let (live, finished) = observe(cluster, api, &object.name, deadline, done)
        .await
        .map_err(|e| object_error(cluster, "wait for the deletion of", object, &e))?;
    if finished {
        return Ok(());
    }
    let finalizers: Vec<String> = live
        .as_ref()
        .and_then(|l| l.pointer("/metadata/finalizers"))
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
        .map(str::to_string)
        .collect();
    let note = if finalizers.is_empty() {
        "it has no finalizers left; its deletion is still in progress".to_string()
    } else {
        format!("waiting for finalizers: {}", finalizers.join(", "))
    };
    let argocd = finalizers.iter().any(|f| f.ends_with("argocd.argoproj.io"));
    let help = if argocd {
        "Argo CD removes its finalizer once it has deleted the application's resources: check that Argo CD is running and can delete them".to_string()
    } else {
        format!(
            "the controllers that own these finalizers must be running; inspect it with `kubectl get {} -o yaml`",
            kubectl_name(object)
        )
    };
    Err(KubeError::Lifecycle {
        message: format!(
            "{object} is still there {} after its deletion",
            duration::show(deadline.timeout)
        ),
        help: with_notes([note], Some(help)),
    }
    .into())
}

/// An object that reports a failure: what its status says, and how to look.
fn failed(object: &ObjectId, summary: &str, details: Vec<String>) -> ProviderError {
    KubeError::NotReady {
        message: format!("{object} {summary}"),
        help: with_notes(
            details,
            Some(format!(
                "inspect it with `kubectl describe {}`",
                kubectl_name(object)
            )),
        ),
    }
    .into()
}

/// `deployment/api -n team-web`, for kubectl hints.
fn kubectl_name(object: &ObjectId) -> String {
    match &object.namespace {
        Some(ns) => format!("{}/{} -n {ns}", object.kind.to_lowercase(), object.name),
        None => format!("{}/{}", object.kind.to_lowercase(), object.name),
    }
}
