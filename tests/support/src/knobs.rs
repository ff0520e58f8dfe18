//! The run-time knobs of a test server or a real cluster's proxy: latency, injected faults, CRD
//! establishment delay, and the two controller doubles. Every setter takes
//! effect for the next request.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::argocd::ArgoCdKnobs;
use crate::deployments::ReadinessKnobs;
use crate::faults::{Fault, FaultRule, Faults};
use crate::store::Store;

/// Handle to a running server's knobs.
#[derive(Debug)]
pub struct Knobs {
    faults: Mutex<Faults>,
    /// The test server's store; `None` for a real cluster.
    store: Option<Arc<Store>>,
    pub(crate) argocd: Arc<ArgoCdKnobs>,
    pub(crate) readiness: Arc<ReadinessKnobs>,
}

impl Knobs {
    pub(crate) fn new(
        store: Option<Arc<Store>>,
        faults: Faults,
        argocd: Arc<ArgoCdKnobs>,
        readiness: Arc<ReadinessKnobs>,
    ) -> Knobs {
        Knobs {
            faults: Mutex::new(faults),
            store,
            argocd,
            readiness,
        }
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Holds every request this long before answering it.
    pub fn set_latency(&self, latency: Duration) {
        self.faults().latency = latency;
    }

    /// Adds up to this much random extra latency per request.
    pub fn set_latency_jitter(&self, jitter: Duration) {
        self.faults().jitter = jitter;
    }

    /// Adds a fault rule (rules are tried in the order added).
    pub fn inject(&self, rule: FaultRule) {
        self.faults().add(rule);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.faults().clear();
    }

    /// Restarts the fault and jitter generator from a seed.
    pub fn reseed(&self, seed: u64) {
        self.faults().reseed(seed);
    }

    /// Delays serving a new CRD's kinds (and its Established condition).
    /// The test server only: a real kube-apiserver establishes CRDs in its
    /// own time.
    pub fn set_crd_establish_delay(&self, delay: Duration) {
        if let Some(store) = &self.store {
            store.set_crd_delay(delay);
        }
    }

    /// The Argo CD controller double.
    pub fn argocd(&self) -> &ArgoCdKnobs {
        &self.argocd
    }

    /// The workload readiness double (Deployments, StatefulSets, Jobs).
    pub fn deployments(&self) -> &ReadinessKnobs {
        &self.readiness
    }

    /// The latency and fault decision for one request.
    pub(crate) fn before_request(&self, method: &str, path: &str) -> (Duration, Option<Fault>) {
        let mut f = self.faults();
        let delay = f.delay();
        (delay, f.decide(method, path))
    }
}
