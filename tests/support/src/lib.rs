//! `stack-testkit`: a Kubernetes API test server that behaves like
//! kube-apiserver for what `stack` uses, so the engine, the providers and
//! the CLI can be tested end to end on a machine without a cluster, and
//! `kubectl` can cross-check it.
//!
//! What lives where:
//! - `server` — [`TestServer`] and its [`Config`]: start, URL, kubeconfig,
//!   request log, direct object access; `handler` maps HTTP requests onto
//!   the store, `route` parses paths and queries, `body` streams responses.
//! - `store` — objects, resourceVersions, namespaces, finalizers, status
//!   subresources, CRD side effects; `registry` — the served kinds.
//! - `apply` — server-side apply and managed fields; `patch` — merge, JSON
//!   and strategic merge patches; `selector` — label and field selectors;
//!   `watch` — events and watch filters; `table` — `kubectl get` tables.
//! - `discovery` — discovery documents and OpenAPI v3 stubs; `status` —
//!   `Status` errors.
//! - `knobs`, `faults`, `requests` — latency, injected faults, request log.
//! - `argocd` — the Argo CD controller double (`applicationset` beside it); `deployments` — workload
//!   readiness; `crds` — delayed CRD establishment; `watched` — the
//!   settings of a double, waking it when a test changes them.
//! - `kubeconfig` — the kubeconfig pointing clients at the server.
//! - `moto` — [`Moto`], the AWS double (moto in server mode) for EKS.
//!
//! In a test: `TestServer::start(Config::default()).await` (or
//! `start_blocking` from synchronous code), then `write_kubeconfig` and run
//! the client with `KUBECONFIG` set. By hand:
//! `cargo run -p stack-testkit --bin stack-test-apiserver -- --kubeconfig
//! /tmp/kubeconfig --argocd`, then `KUBECONFIG=/tmp/kubeconfig kubectl get ns`.
//!
//! Differences from kube-apiserver worth knowing: no authentication or
//! admission, no schema validation or defaulting, no protobuf request
//! bodies (typed `kubectl create <kind>` helpers get 415; `create -f`,
//! `apply`, `replace`, `patch`, `delete` work), managed fields are tracked
//! as leaf paths with lists keyed by `name` instead of per-schema list
//! types, and garbage collection by owner references is not done.

mod applicationset;
mod apply;
pub mod argocd;
mod body;
mod client;
mod cluster;
mod crds;
pub mod deployments;
mod discovery;
pub mod faults;
mod handler;
pub mod knobs;
pub mod kubeconfig;
pub mod moto;
mod patch;
mod proxy;
mod real;
mod registry;
pub mod requests;
mod rng;
mod route;
pub mod selector;
mod server;
mod status;
mod store;
mod table;
mod time;
mod watch;
mod watched;

pub use argocd::{ArgoCdKnobs, ArgoCdSettings};
pub use client::TESTKIT_HEADER;
pub use cluster::Cluster;
pub use deployments::{ReadinessKnobs, ReadinessSettings};
pub use faults::{Fault, FaultRule};
pub use knobs::Knobs;
pub use moto::Moto;
pub use real::RealCluster;
pub use registry::ResourceType;
pub use requests::RequestRecord;
pub use server::{Config, TestServer};
pub use status::ApiError;
