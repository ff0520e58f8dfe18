//! The one scheduler: every phase of a run — applies, then deletes — is
//! the same loop over a [`ReadySet`].
//!
//! A step is prepared (its request built, and what it is about to make
//! written as an intent), carried out by its provider, recorded, and only
//! released to what waits on it once a save holds the record. Saves run
//! beside the work as group commits: whatever completes, or must be
//! recorded before it starts, while one save runs goes into the next.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::FutureExt;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::error::StepError;
use super::ready::ReadySet;
use super::{Executor, Outcome, Outputs, Report, ResourceReport};
use crate::plan::{Action, Change};
use crate::provider::{
    Applied, ApplyRequest, DeleteRequest, ProgressSink, ProviderError, RunChanges,
};
use crate::resource::{Kind, Resource, ResourceId};
use crate::state::backend::BoxFuture;
use crate::state::{ResourceState, State, StateError};

/// What a run carries from step to step.
pub(super) struct Run {
    pub state: State,
    pub outputs: Outputs,
    pub report: Report,
    pub changed: RunChanges,
    pub depths: HashMap<ResourceId, usize>,
    /// Where providers report progress; the loop passes it to the observer.
    pub progress_to: UnboundedSender<(ResourceId, String)>,
}

impl Run {
    fn sink(&self, id: &ResourceId) -> ProgressSink {
        ProgressSink::new(id.clone(), self.progress_to.clone())
    }
}

/// One thing a phase does to one resource.
pub(super) struct Step<'p> {
    pub id: ResourceId,
    pub kind: Kind,
    pub action: Action,
    /// The declaration, for what is applied.
    pub resource: Option<&'p Resource>,
    pub change: Option<&'p Change>,
}

/// The steps of a phase and what waits for what: `(first, then)`.
pub(super) struct Phase<'p> {
    pub steps: Vec<Step<'p>>,
    pub edges: Vec<(usize, usize)>,
}

/// Which way a phase goes along what its steps need.
pub(super) enum Order {
    /// Applies: what a step needs goes first.
    NeedsFirst,
    /// Deletes: what needs a step goes first.
    DependentsFirst,
}

impl<'p> Phase<'p> {
    /// `steps`, ordered by what each needs (ids of other steps; others are
    /// not in this phase and do not hold it).
    pub fn new(
        steps: Vec<Step<'p>>,
        order: Order,
        needs: impl Fn(&Step<'p>) -> Vec<ResourceId>,
    ) -> Phase<'p> {
        let position: HashMap<&ResourceId, usize> =
            steps.iter().enumerate().map(|(i, s)| (&s.id, i)).collect();
        let mut edges = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            for need in needs(step) {
                if let Some(&n) = position.get(&need) {
                    edges.push(match order {
                        Order::NeedsFirst => (n, i),
                        Order::DependentsFirst => (i, n),
                    });
                }
            }
        }
        Phase { steps, edges }
    }
}

/// What a provider is asked to do for a step.
enum Work {
    Apply {
        request: Box<ApplyRequest>,
        /// What a replace deletes first.
        replacing: Option<Box<ResourceState>>,
    },
    Delete(Box<DeleteRequest>),
}

/// A step made ready to run.
enum Prepared {
    /// Nothing to do.
    Settled(Outcome),
    /// It cannot be asked for (an output it needs is missing).
    Failed(ProviderError),
    /// To be carried out; once a save holds its intent, when `save_first`.
    Start { work: Work, save_first: bool },
}

/// What a carried-out step hands back.
struct Done {
    step: usize,
    result: Result<Applied, ProviderError>,
    started: Instant,
}

/// A step carried out and recorded, waiting for a save to hold it.
struct Completed {
    step: usize,
    outcome: Outcome,
    elapsed: Duration,
}

impl Executor<'_> {
    /// Runs every step of `phase`; what never starts (Ctrl-C, a save that
    /// failed) is reported cancelled.
    pub(super) async fn drive(
        &self,
        phase: &Phase<'_>,
        run: &mut Run,
        progress: &mut UnboundedReceiver<(ResourceId, String)>,
    ) {
        let steps = &phase.steps;
        let mut ready = ReadySet::new(steps.len(), phase.edges.iter().copied());
        let mut running = FuturesUnordered::new();
        let mut unsaved: Vec<Completed> = Vec::new();
        let mut in_save: Vec<Completed> = Vec::new();
        // Steps whose intent must be saved before they begin.
        let mut held: Vec<(usize, Work)> = Vec::new();
        let mut starting: Vec<(usize, Work)> = Vec::new();
        // A state save in flight beside the running work.
        let mut saving: Option<BoxFuture<'_, Result<(), StateError>>> = None;
        loop {
            while running.len() + held.len() + starting.len() < self.options.parallelism.max(1)
                && !self.options.cancel.is_cancelled()
                && run.report.state_error.is_none()
            {
                let Some(i) = ready.next() else { break };
                match self.prepare(&steps[i], run).await {
                    Prepared::Settled(outcome) => {
                        self.report(run, &steps[i], outcome, Duration::ZERO);
                        ready.release(i);
                    }
                    Prepared::Failed(error) => {
                        self.fail(run, phase, &mut ready, i, error, Duration::ZERO);
                    }
                    Prepared::Start {
                        work,
                        save_first: true,
                    } => held.push((i, work)),
                    Prepared::Start { work, .. } => running.push(self.carry_out(i, work)),
                }
            }
            if saving.is_none() && (!unsaved.is_empty() || !held.is_empty()) {
                run.state.serial += 1;
                let ids: Vec<ResourceId> = unsaved
                    .iter()
                    .map(|c| c.step)
                    .chain(held.iter().map(|(step, _)| *step))
                    .map(|step| steps[step].id.clone())
                    .collect();
                saving = Some(self.backend.save_records(&run.state, &ids));
                in_save = std::mem::take(&mut unsaved);
                starting = std::mem::take(&mut held);
            }
            if running.is_empty() && saving.is_none() {
                break;
            }
            tokio::select! {
                Some((id, text)) = progress.recv() => {
                    self.observer.progress(&id, &text);
                }
                Some(done) = running.next(), if !running.is_empty() => {
                    let mut batch = vec![done];
                    while let Some(Some(more)) = running.next().now_or_never() {
                        batch.push(more);
                    }
                    for Done { step, result, started } in batch {
                        match result {
                            Ok(applied) => {
                                let outcome = self.complete(run, &steps[step], &applied);
                                unsaved.push(Completed { step, outcome, elapsed: started.elapsed() });
                            }
                            Err(error) => {
                                self.fail(run, phase, &mut ready, step, error, started.elapsed());
                            }
                        }
                    }
                }
                saved = async { saving.as_mut().expect("guarded by is_some").await }, if saving.is_some() => {
                    saving = None;
                    match saved {
                        Ok(()) => {
                            for Completed { step, outcome, elapsed } in std::mem::take(&mut in_save) {
                                self.report(run, &steps[step], outcome, elapsed);
                                ready.release(step);
                            }
                            for (step, work) in std::mem::take(&mut starting) {
                                // A delete whose mark is saved goes ahead even
                                // after Ctrl-C: the state now says it began,
                                // and a resource declared again would be
                                // replaced on the strength of that.
                                let delete = matches!(work, Work::Delete(_));
                                if self.options.cancel.is_cancelled() && !delete {
                                    self.report(run, &steps[step], Outcome::Cancelled, Duration::ZERO);
                                } else {
                                    running.push(self.carry_out(step, work));
                                }
                            }
                        }
                        Err(e) => {
                            for Completed { step, elapsed, .. } in std::mem::take(&mut in_save) {
                                let error = match steps[step].action {
                                    Action::Delete => StepError::DeletedUnsaved,
                                    _ => StepError::AppliedUnsaved,
                                };
                                self.report(run, &steps[step], Outcome::Failed(error.into()), elapsed);
                            }
                            // Not begun: what a step is about to make is
                            // recorded before it begins. A delete never sent
                            // loses its mark, so that no later save says it
                            // began.
                            for (step, work) in std::mem::take(&mut starting) {
                                if let Work::Delete(request) = work {
                                    if let Some(recorded) = run.state.resources.get_mut(&request.id) {
                                        recorded.deleting = false;
                                    }
                                }
                                self.report(run, &steps[step], Outcome::Cancelled, Duration::ZERO);
                            }
                            run.report.state_error = Some(e);
                        }
                    }
                }
            }
        }
        for step in ready.unsettled() {
            self.report(run, &steps[step], Outcome::Cancelled, Duration::ZERO);
        }
    }

    /// Makes `step` ready to run: its request built, and what it is about
    /// to make recorded in the state (saved before it starts).
    async fn prepare(&self, step: &Step<'_>, run: &mut Run) -> Prepared {
        if step.action == Action::NoOp {
            // Nothing to do: its recorded outputs stand.
            return Prepared::Settled(Outcome::Unchanged);
        }
        if step.action == Action::Delete {
            let Some(recorded) = run.state.resources.get_mut(&step.id) else {
                return Prepared::Settled(Outcome::Unchanged);
            };
            // Saved before the delete is sent: a run killed while it goes
            // on leaves a state that says so.
            let save_first = !std::mem::replace(&mut recorded.deleting, true);
            let recorded = recorded.clone();
            self.observer.started(&step.id, step.action);
            let request = self.delete_request(&step.id, recorded, run, run.sink(&step.id));
            return Prepared::Start {
                work: Work::Delete(Box::new(request)),
                save_first,
            };
        }
        let Some(resource) = step.resource else {
            return Prepared::Settled(Outcome::Unchanged);
        };
        self.observer.started(&step.id, step.action);
        let mut request = match self
            .request(resource, &run.state, &mut run.outputs, &run.depths)
            .await
        {
            Ok(request) => request,
            Err(error) => return Prepared::Failed(error),
        };
        request.progress = run.sink(&step.id);
        let replacing = (step.action == Action::Replace)
            .then(|| run.state.resources.get(&step.id))
            .flatten()
            .and_then(ResourceState::confirmed);
        let save_first = step
            .change
            .is_some_and(|change| self.write_intent(&mut run.state, resource, change, &request));
        Prepared::Start {
            work: Work::Apply {
                request: Box::new(request),
                replacing: replacing.map(Box::new),
            },
            save_first,
        }
    }

    /// Asks the provider to carry out one step (for a replace: the delete
    /// by whoever made it, then the create).
    fn carry_out(&self, step: usize, work: Work) -> impl std::future::Future<Output = Done> + '_ {
        let started = Instant::now();
        async move {
            let result = async {
                match work {
                    Work::Delete(request) => {
                        let provider = self.router.route(request.route_key())?;
                        provider.delete(&request).await.map(|()| Applied::default())
                    }
                    Work::Apply {
                        mut request,
                        replacing,
                    } => {
                        let provider = self.router.route(request.route_key())?;
                        if let Some(recorded) = replacing {
                            let delete = request.deleting(*recorded);
                            // What is replaced goes the way it came: a new
                            // `provider` must not be asked to delete what the
                            // old one made.
                            self.router
                                .route(delete.route_key())?
                                .delete(&delete)
                                .await?;
                            // Then it is created anew, with nothing to
                            // converge from.
                            request.previous = None;
                        }
                        provider.apply(&request).await
                    }
                }
            }
            .await;
            Done {
                step,
                result,
                started,
            }
        }
    }

    /// Records a step that its provider carried out; how it ended.
    fn complete(&self, run: &mut Run, step: &Step<'_>, applied: &Applied) -> Outcome {
        run.changed
            .changes
            .push((step.action.as_str().to_string(), step.id.clone()));
        match (step.action, step.resource) {
            (Action::Delete, _) | (_, None) => {
                run.state.resources.remove(&step.id);
                Outcome::Deleted
            }
            (action, Some(resource)) => {
                self.record(&mut run.state, &mut run.outputs, resource, applied);
                match action {
                    Action::Create => Outcome::Created,
                    Action::Adopt => Outcome::Adopted,
                    Action::Replace => Outcome::Replaced,
                    _ => Outcome::Updated,
                }
            }
        }
    }

    /// A step failed: it and everything waiting on it are reported.
    fn fail(
        &self,
        run: &mut Run,
        phase: &Phase<'_>,
        ready: &mut ReadySet,
        step: usize,
        error: ProviderError,
        elapsed: Duration,
    ) {
        let because = phase.steps[step].id.clone();
        self.report(run, &phase.steps[step], Outcome::Failed(error), elapsed);
        for skipped in ready.fail(step) {
            let outcome = Outcome::Skipped {
                because: because.clone(),
            };
            self.report(run, &phase.steps[skipped], outcome, Duration::ZERO);
        }
    }

    /// The one way a step's end is told: to the observer and the report.
    fn report(&self, run: &mut Run, step: &Step<'_>, outcome: Outcome, duration: Duration) {
        let applied = matches!(
            outcome,
            Outcome::Created | Outcome::Adopted | Outcome::Updated | Outcome::Replaced
        );
        let outputs = run
            .state
            .resources
            .get(&step.id)
            .filter(|_| applied)
            .map(|r| {
                // What the declaration already knew was in the plan.
                let known = step.resource.map(|d| &d.known_outputs);
                r.outputs
                    .iter()
                    .filter(|(name, _)| known.is_none_or(|k| !k.contains_key(*name)))
                    .map(|(name, value)| (name.clone(), value.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let entry = ResourceReport {
            id: step.id.clone(),
            kind: step.kind,
            action: step.action,
            outcome,
            duration,
            outputs,
        };
        self.observer.finished(&entry);
        run.report.resources.push(entry);
    }
}
