//! Providers: how `stack` reaches the world. Each implements the engine's
//! `Provider` trait; `router.rs` picks one per resource.
//!
//! - `router.rs` — which provider serves which resource
//! - `ownership.rs` — taking over and deleting only what the stack holds
//! - `git.rs` — running git: clones kept up to date, commits, pushes that rebase
//! - `gitops.rs` — delivery into a git repository, one commit per run
//! - `kubernetes/` — server-side apply, readiness waits, prune, delete, drift
//! - `existing.rs` — clusters that exist already, reached through a kubeconfig
//! - `kind.rs` — local clusters made with the `kind` CLI
//! - `oidc.rs` — external OpenID Connect providers, checked by discovery
//! - `aws.rs` — the AWS configuration, journal and errors shared by EKS and Cognito
//! - `cognito.rs` — Cognito user pool clients and domains for `oidc`
//! - `keycloak.rs` — Keycloak realms and clients for `oidc`, imported in the cluster
//! - `eks/` — EKS clusters and node groups through the AWS SDK, and their tokens
//! - `helm/` — charts rendered with `helm template`: `via: "helm"` apps, `bootstrap`
//! - `state_kubernetes.rs` — the state in a Secret, locked with a Lease

pub mod aws;
pub mod cognito;
pub mod eks;
pub mod existing;
pub mod git;
pub mod gitops;
pub mod helm;
pub mod keycloak;
pub mod kind;
pub mod kubernetes;
mod notes;
pub mod oidc;
pub mod ownership;
pub mod provider_kind;
pub mod router;
pub mod state_kubernetes;

pub use eks::EksProvider;
pub use existing::ExistingClusterProvider;
pub use helm::HelmProvider;
pub use kubernetes::KubernetesProvider;
pub use state_kubernetes::KubernetesStateBackend;
