//! The executor: carries out a plan with bounded parallelism.
//!
//! One scheduler ([`schedule`]) runs every step of a run: a step starts
//! when everything it waits for has finished and been saved, at most
//! `parallelism` run at once, and a failure skips what waits on it and
//! nothing else. A run has two phases over the same loop: applies in the
//! graph's order, then deletes of what is no longer declared, over the
//! recorded edges reversed (dependents first).
//!
//! - `error.rs` — how a step fails for reasons of the run
//! - `ready.rs` — the ready set: which steps may start
//! - `schedule.rs` — the loop: prepare, carry out, save, release
//! - `request.rs` — what a provider is asked, and the cluster it goes to
//! - `record.rs` — what the state records before and after a step

mod error;
mod ready;
mod record;
mod request;
mod schedule;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use serde_json::Value as Json;

use crate::graph::Graph;
use crate::plan::{Action, Plan};
use crate::provider::{ProviderError, Router, RunChanges};
use crate::resource::{Kind, ResourceId};
use crate::state::{State, StateBackend, StateError};
use crate::value::{OutputRef, Resolve};

pub use error::StepError;
use schedule::{Order, Phase, Run, Step};

/// Stops a run from starting new work (Ctrl-C). Cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<(AtomicBool, tokio::sync::Notify)>);

impl Cancel {
    pub fn cancel(&self) {
        self.0 .0.store(true, Ordering::SeqCst);
        self.0 .1.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.0 .0.load(Ordering::SeqCst)
    }
}

#[derive(Debug, Clone)]
pub struct ExecuteOptions {
    pub parallelism: usize,
    /// `--target`: only these resources (see `plan::selection`); the
    /// plan's other changes wait for a run without one.
    pub selection: Option<HashSet<ResourceId>>,
    pub cancel: Cancel,
    /// Readiness timeout for resources that set none.
    pub default_timeout: Duration,
}

impl Default for ExecuteOptions {
    fn default() -> Self {
        ExecuteOptions {
            parallelism: 10,
            selection: None,
            cancel: Cancel::default(),
            default_timeout: Duration::from_secs(600),
        }
    }
}

/// How one resource ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Created,
    /// Created by taking over what existed and nobody owned.
    Adopted,
    Updated,
    Replaced,
    Deleted,
    Unchanged,
    Failed(ProviderError),
    /// Not started because something it needs failed.
    Skipped {
        because: ResourceId,
    },
    /// Not started because the run was interrupted.
    Cancelled,
}

impl Outcome {
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed(_))
    }
}

#[derive(Debug, Clone)]
pub struct ResourceReport {
    pub id: ResourceId,
    pub kind: Kind,
    pub action: Action,
    pub outcome: Outcome,
    pub duration: Duration,
    /// What an applied resource reported, as the state records it (secrets
    /// as their hash): outputs that were `(known after apply)` in the plan.
    pub outputs: BTreeMap<String, Json>,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Report {
    pub resources: Vec<ResourceReport>,
    /// A state write that failed: the run stops starting work when it does.
    pub state_error: Option<StateError>,
    /// A provider's end-of-run step that failed (a GitOps commit).
    pub finish_errors: Vec<(String, ProviderError)>,
    /// What the providers' end-of-run steps said.
    pub finish_notes: Vec<crate::provider::FinishNote>,
    pub cancelled: bool,
    pub elapsed: Duration,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.state_error.is_some()
            || !self.finish_errors.is_empty()
            || self.resources.iter().any(|r| r.outcome.is_failure())
    }

    pub fn count(&self, pred: impl Fn(&Outcome) -> bool) -> usize {
        self.resources.iter().filter(|r| pred(&r.outcome)).count()
    }
}

/// Progress events, for the live view and plain logs.
pub trait Observer: Send + Sync {
    fn started(&self, id: &ResourceId, action: Action);
    fn finished(&self, report: &ResourceReport);
    /// How a running resource is going, in its provider's words.
    fn progress(&self, _id: &ResourceId, _text: &str) {}
}

/// An observer that shows nothing.
pub struct Quiet;

impl Observer for Quiet {
    fn started(&self, _: &ResourceId, _: Action) {}
    fn finished(&self, _: &ResourceReport) {}
}

/// Outputs known during a run: evaluated ones, recorded ones, and those
/// reported by resources applied so far.
struct RunOutputs<'a> {
    graph: &'a Graph,
    outputs: &'a Outputs,
}

impl Resolve for RunOutputs<'_> {
    fn output(&self, output: &OutputRef) -> Option<Json> {
        if let Some(v) = self
            .graph
            .get(&output.resource)
            .and_then(|r| r.known_outputs.get(&output.output))
        {
            return v.materialize(self).ok();
        }
        self.outputs
            .get(&output.resource)?
            .get(&output.output)
            .cloned()
    }
}

/// What the live world says of a plan before it is shown.
#[derive(Debug, Default)]
pub struct Preflight {
    /// What cannot be applied as declared, in graph order.
    pub problems: Vec<(ResourceId, ProviderError)>,
    /// What the creates would take over (`adopt: true`).
    pub adoptions: HashMap<ResourceId, Vec<crate::provider::Adoption>>,
    /// Deletes that only forget the record, with the provider that says so.
    pub forgotten: HashMap<ResourceId, &'static str>,
}

pub struct Executor<'a> {
    pub graph: &'a Graph,
    pub router: &'a dyn Router,
    pub observer: &'a dyn Observer,
    pub backend: &'a dyn StateBackend,
    pub options: ExecuteOptions,
}

/// Outputs by resource, as the run knows them so far.
type Outputs = HashMap<ResourceId, BTreeMap<String, Json>>;

/// The outputs `state` records.
fn recorded_outputs(state: &State) -> Outputs {
    state
        .resources
        .iter()
        .map(|(id, r)| (id.clone(), r.outputs.clone()))
        .collect()
}

impl Executor<'_> {
    /// Carries out `plan` starting from `state`; returns the report and the
    /// final state (also saved).
    pub async fn run(&self, plan: &Plan, mut state: State) -> (Report, State) {
        let began = Instant::now();
        let mut report = Report::default();
        // The identity every applied object carries is saved before the
        // first one does, so that a run killed before its first save finds
        // its own objects again instead of taking them for another stack's;
        // moved records are saved whole, since the saves of steps hold only
        // their own records.
        let new_identity = state.ensure_identity();
        let moved = self.options.selection.is_none() && record::move_records(plan, &mut state);
        if new_identity || moved || state.serial == 0 {
            state.serial += 1;
            if let Err(e) = self.backend.save(&state).await {
                report.state_error = Some(e);
                return (report, state);
            }
        }
        let first_serial = state.serial;
        let (progress_to, mut progress) = tokio::sync::mpsc::unbounded_channel();
        let mut run = Run {
            outputs: recorded_outputs(&state),
            state,
            report,
            changed: RunChanges::default(),
            depths: self.graph.depths(),
            progress_to,
        };
        let applies = self.apply_steps(plan);
        self.drive(&applies, &mut run, &mut progress).await;
        if run.report.state_error.is_none() && !self.options.cancel.is_cancelled() {
            let deletes = self.delete_steps(plan, &run.state);
            self.drive(&deletes, &mut run, &mut progress).await;
        }
        // A whole run that finished without a failure records the
        // parameters it ran with and the stack's outputs.
        let whole = self.options.selection.is_none()
            && !self.options.cancel.is_cancelled()
            && !run.report.failed();
        if whole {
            let outputs = crate::stack_outputs::resolve(self.graph, &run.state);
            let params = run.state.record_params(&self.graph.declarations.params);
            if run.state.record_outputs(outputs) || params {
                run.state.serial += 1;
            }
        }
        // The saves of steps are folded into one whole save, which a run
        // whose saves failed does not make: its state holds what no save did.
        if run.report.state_error.is_none() && run.state.serial != first_serial {
            if let Err(e) = self.backend.save(&run.state).await {
                run.report.state_error = Some(e);
            }
        }
        if let Err(e) = self.backend.sync().await {
            run.report.state_error.get_or_insert(e);
        }
        // Reports sent as their resource finished.
        while let Ok((id, text)) = progress.try_recv() {
            self.observer.progress(&id, &text);
        }
        let Run {
            mut report,
            state,
            changed,
            ..
        } = run;
        for provider in self.router.all() {
            match provider.finish(&changed).await {
                Ok(notes) => report.finish_notes.extend(notes),
                Err(e) => report.finish_errors.push((provider.name().to_string(), e)),
            }
        }
        report.cancelled = self.options.cancel.is_cancelled();
        report.elapsed = began.elapsed();
        (report, state)
    }

    /// The apply phase: every declared resource in the run (all of them, or
    /// what `--target` needs), waiting for what it needs.
    fn apply_steps<'p>(&'p self, plan: &'p Plan) -> Phase<'p> {
        let planned: HashMap<&ResourceId, &crate::plan::Change> =
            plan.changes.iter().map(|c| (&c.id, c)).collect();
        let in_run = self.options.selection.as_ref();
        let steps: Vec<Step<'p>> = self
            .graph
            .resources()
            .iter()
            .filter(|r| in_run.is_none_or(|keep| keep.contains(&r.id)))
            .map(|resource| {
                let change = planned.get(&resource.id).copied();
                Step {
                    id: resource.id.clone(),
                    kind: resource.kind,
                    action: change.map_or(Action::NoOp, |c| c.action),
                    resource: Some(resource),
                    change,
                }
            })
            .collect();
        Phase::new(steps, Order::NeedsFirst, |step| {
            self.graph
                .needs(&step.id)
                .into_iter()
                .map(|need| need.id.clone())
                .collect()
        })
    }

    /// The delete phase: what the plan deletes, each once everything
    /// recorded as needing it is gone.
    fn delete_steps<'p>(&self, plan: &'p Plan, state: &State) -> Phase<'p> {
        let in_run = self.options.selection.as_ref();
        let steps: Vec<Step<'p>> = plan
            .changes
            .iter()
            .filter(|c| c.action == Action::Delete)
            .filter(|c| in_run.is_none_or(|keep| keep.contains(&c.id)))
            .map(|change| Step {
                id: change.id.clone(),
                kind: state
                    .resources
                    .get(&change.id)
                    .map_or(Kind::Manifest, |r| r.kind),
                action: Action::Delete,
                resource: None,
                change: Some(change),
            })
            .collect();
        Phase::new(steps, Order::DependentsFirst, |step| {
            state
                .resources
                .get(&step.id)
                .into_iter()
                .flat_map(|r| r.depends_on.iter().chain(r.cluster.iter()))
                .cloned()
                .collect()
        })
    }

    /// Live differences of every resource the plan leaves alone
    /// (`--refresh`): what someone changed behind the stack's back.
    pub async fn refresh(
        &self,
        plan: &Plan,
        state: &State,
    ) -> Result<HashMap<ResourceId, Vec<crate::provider::Drift>>, (ResourceId, ProviderError)> {
        let unchanged: HashSet<&ResourceId> = plan
            .changes
            .iter()
            .filter(|c| c.action == Action::NoOp)
            .map(|c| &c.id)
            .collect();
        self.live_differences(&unchanged, state).await
    }

    /// Where what the declared resources in `which` would apply differs
    /// from what is live (`stack diff`; `plan --refresh` asks it of what
    /// the plan leaves alone): by resource, each object and field.
    pub async fn live_differences(
        &self,
        which: &HashSet<&ResourceId>,
        state: &State,
    ) -> Result<HashMap<ResourceId, Vec<crate::provider::Drift>>, (ResourceId, ProviderError)> {
        let mut outputs = recorded_outputs(state);
        let depths = self.graph.depths();
        // Requests are made in graph order (one may resolve what the next
        // reads); the live reads go out side by side, up to `parallelism`.
        let mut asked = Vec::new();
        for resource in self.graph.in_order().filter(|r| which.contains(&r.id)) {
            let fail = |e| (resource.id.clone(), e);
            let request = self
                .request(resource, state, &mut outputs, &depths)
                .await
                .map_err(fail)?;
            let provider = self.router.route(request.route_key()).map_err(fail)?;
            asked.push((resource, request, provider));
        }
        let found: Vec<_> = stream::iter(asked)
            .map(|(resource, request, provider)| async move {
                let found = provider.refresh(&request).await;
                (resource, found)
            })
            .buffered(self.options.parallelism.max(1))
            .collect()
            .await;
        let mut drifts = HashMap::new();
        for (resource, found) in found {
            let found = found.map_err(|e| (resource.id.clone(), e))?;
            if !found.is_empty() {
                drifts.insert(resource.id.clone(), found);
            }
        }
        Ok(drifts)
    }

    /// Asks the providers to check what the plan would create or change
    /// against the live world (kinds the cluster does not serve, things
    /// that exist already), before anything runs. Every problem found is
    /// returned, in graph order, with what the creates would adopt; a
    /// resource whose inputs wait on outputs not known yet is left to the
    /// run.
    pub async fn preflight(&self, plan: &Plan, state: &State) -> Preflight {
        let outputs = recorded_outputs(state);
        let depths = self.graph.depths();
        let changing: HashSet<&ResourceId> = plan
            .changes
            .iter()
            .filter(|c| {
                matches!(
                    c.action,
                    Action::Create | Action::Adopt | Action::Update | Action::Replace
                )
            })
            .map(|c| &c.id)
            .collect();
        let mut found = Preflight::default();
        for change in plan.changes.iter().filter(|c| c.action == Action::Delete) {
            let Some(recorded) = state.resources.get(&change.id) else {
                continue;
            };
            let cluster = recorded
                .cluster
                .as_ref()
                .and_then(|c| self.cluster_target(c, state, &outputs));
            let key = crate::provider::RouteKey {
                kind: recorded.kind,
                inputs: &recorded.inputs,
                cluster: cluster.as_ref(),
                direct: recorded.direct,
            };
            if let Ok(provider) = self.router.route(key) {
                if provider.only_forgets() {
                    found.forgotten.insert(change.id.clone(), provider.name());
                }
            }
        }
        // Each resource is checked on its own, so the checks go out side by
        // side, up to `parallelism`; what they find is kept in graph order.
        let mut answering: HashMap<ResourceId, bool> = HashMap::new();
        let mut checks = Vec::new();
        for resource in self.graph.in_order().filter(|r| changing.contains(&r.id)) {
            // Whether its cluster answers is asked once per cluster.
            if let Some(cluster) = &resource.cluster {
                let answers = match answering.get(cluster) {
                    Some(answers) => *answers,
                    None => {
                        let answers = match self.cluster_target(cluster, state, &outputs) {
                            Some(target) => self.router.answers(&target).await,
                            None => true,
                        };
                        answering.insert(cluster.clone(), answers);
                        answers
                    }
                };
                if !answers {
                    continue;
                }
            }
            let Ok(request) = self.plain_request(resource, state, &outputs, &depths) else {
                continue;
            };
            let Ok(provider) = self.router.route(request.route_key()) else {
                continue;
            };
            checks.push((resource, request, provider));
        }
        let answers: Vec<_> = stream::iter(checks)
            .map(|(resource, request, provider)| async move {
                (resource, provider.preflight(&request).await)
            })
            .buffered(self.options.parallelism.max(1))
            .collect()
            .await;
        for (resource, answer) in answers {
            match answer {
                Ok(adoptions) if adoptions.is_empty() => {}
                Ok(adoptions) => {
                    found.adoptions.insert(resource.id.clone(), adoptions);
                }
                Err(e) => found.problems.push((resource.id.clone(), e)),
            }
        }
        found
    }
}
