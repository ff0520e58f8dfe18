//! Delayed CRD establishment: with a non-zero delay, a new CRD's kinds are
//! served (and its Established condition set) only after the delay, so
//! clients that must wait for Established can be tested. With no delay the
//! store establishes CRDs as part of the write itself.

use std::sync::Arc;

use tokio::sync::{broadcast, broadcast::error::RecvError, watch};

use crate::store::{is_established, Store};
use crate::watch::{Event, EventKind};

/// Runs until shutdown.
pub(crate) async fn run(
    store: Arc<Store>,
    mut events: broadcast::Receiver<Arc<Event>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let ev = tokio::select! {
            ev = events.recv() => match ev {
                Ok(ev) => ev,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            },
            _ = shutdown.changed() => return,
        };
        if ev.group != "apiextensions.k8s.io"
            || ev.resource != "customresourcedefinitions"
            || ev.kind == EventKind::Deleted
            || is_established(&ev.object)
        {
            continue;
        }
        let name = ev
            .object
            .pointer("/metadata/name")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        let uid = ev
            .object
            .pointer("/metadata/uid")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        let delay = store.crd_delay();
        let store = store.clone();
        tokio::spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            store.establish_crd(&name, &uid);
        });
    }
}
