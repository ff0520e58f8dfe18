//! The stack engine: everything between a script's declarations and the world.
//!
//! It knows no Rhai and no Kubernetes client. The standard library fills a
//! [`Declarations`] with [`Resource`]s; the engine turns them into a validated
//! [`Graph`], compares it with the recorded [`State`] to make a [`Plan`], and
//! renders the Kubernetes objects each resource stands for.
//!
//! - `source.rs` — script sources and spans, for diagnostics
//! - `input.rs` — reading the files a user names, bounded
//! - `cache.rs` — the user's cache directory
//! - `duration.rs` — durations as people write and read them
//! - `value.rs` — input values, output references and secrets
//! - `resource.rs` — one declared resource and its kind
//! - `declarations.rs` — what one evaluation declared
//! - `graph.rs` — the dependency graph and its validation
//! - `delivery.rs` — what is applied directly on a GitOps cluster
//! - `objects.rs` — the Kubernetes objects a resource stands for
//! - `ownership.rs` — which stack and resource hold a live object
//! - `state/` — the recorded state of a stack
//! - `plan/` — desired versus recorded: actions and field diffs
//! - `provider.rs` — the `Provider` trait providers implement, and routing
//! - `execute/` — the one scheduler: bounded, dependency-ordered, saving as it goes
//! - `unrecorded.rs` — what carries a stack's mark on its clusters without a record
//! - `render.rs` — the GitOps layout written by `stack render`
//! - `graph_format.rs` — the graph as text, DOT and Mermaid
//! - `suggest.rs` — "did you mean" for every name a user can mistype

pub mod cache;
pub mod declarations;
pub mod delivery;
pub mod duration;
pub mod execute;
pub mod graph;
pub mod graph_format;
pub mod input;
pub mod objects;
pub mod ownership;
pub mod plan;
pub mod provider;
pub mod render;
pub mod resource;
pub mod source;
pub mod stack_outputs;
pub mod state;
pub mod suggest;
pub mod unrecorded;
pub mod value;

pub use declarations::Declarations;
pub use graph::{Graph, GraphError};
pub use plan::{Action, Plan};
pub use resource::{Kind, Resource, ResourceId};
pub use source::{SourceId, Sources, Span};
pub use state::State;
pub use value::{OutputRef, Secret, Value};
