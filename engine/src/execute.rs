//! The executor: carries out a plan with bounded parallelism.
//!
//! A ready-set scheduler over the graph: a resource starts when everything
//! it needs has finished, at most `parallelism` run at once. A failure
//! skips what depends on it and nothing else. Completed resources are
//! written to the state before their dependents start, in group commits:
//! all completions that are ready together are saved in one write. Deletes
//! of resources no longer declared run afterwards, dependents first.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::FutureExt;
use serde_json::Value as Json;

use crate::graph::Graph;
use crate::objects::{self, ObjectsError};
use crate::ownership::Owner;
use crate::plan::{hash, Action, Plan};
use crate::provider::{
    Applied, ApplyRequest, ClusterTarget, DeleteRequest, ProgressSink, ProviderError, Router,
    RunChanges,
};
use crate::resource::{Kind, Resource, ResourceId};
use crate::state::{Intent, ObjectRef, ResourceState, State, StateBackend, StateError};
use crate::value::{OutputRef, Resolve, Secret, Value};

/// A state save in flight beside the running work.
type PendingSave<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), StateError>> + Send + 'a>>;

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
    /// Only this resource and what it needs.
    pub target: Option<ResourceId>,
    pub cancel: Cancel,
    /// Readiness timeout for resources that set none.
    pub default_timeout: Duration,
}

impl Default for ExecuteOptions {
    fn default() -> Self {
        ExecuteOptions {
            parallelism: 10,
            target: None,
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

/// Progress reports from providers, passed to the observer by the run's
/// loop (providers run as futures of that loop, and the observer is
/// borrowed by it).
struct Progress {
    sender: tokio::sync::mpsc::UnboundedSender<(ResourceId, String)>,
    updates: tokio::sync::mpsc::UnboundedReceiver<(ResourceId, String)>,
}

impl Progress {
    fn channel() -> Progress {
        let (sender, updates) = tokio::sync::mpsc::unbounded_channel();
        Progress { sender, updates }
    }

    fn sink(&self, id: &ResourceId) -> ProgressSink {
        ProgressSink::new(id.clone(), self.sender.clone())
    }
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
    outputs: &'a HashMap<ResourceId, BTreeMap<String, Json>>,
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

/// Parses `"10m"`, `"90s"`, `"1h30m"`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let mut total = 0u64;
    let mut number = String::new();
    for c in s.chars() {
        match c {
            '0'..='9' => number.push(c),
            'h' | 'm' | 's' => {
                let n: u64 = number.parse().ok()?;
                number.clear();
                total += n * match c {
                    'h' => 3600,
                    'm' => 60,
                    _ => 1,
                };
            }
            _ => return None,
        }
    }
    number.is_empty().then(|| Duration::from_secs(total))
}

/// What the live world says of a plan before it is shown.
#[derive(Debug, Default)]
pub struct Preflight {
    /// What cannot be applied as declared, in graph order.
    pub problems: Vec<(ResourceId, ProviderError)>,
    /// What the creates would take over (`adopt: true`).
    pub adoptions: HashMap<ResourceId, Vec<crate::provider::Adoption>>,
}

pub struct Executor<'a> {
    pub graph: &'a Graph,
    pub router: &'a dyn Router,
    pub observer: &'a dyn Observer,
    pub backend: &'a dyn StateBackend,
    pub options: ExecuteOptions,
}

/// What a finished task hands back to the scheduler.
struct Done {
    index: usize,
    action: Action,
    result: Result<Option<Applied>, ProviderError>,
    started: Instant,
}

impl Executor<'_> {
    /// Carries out `plan` starting from `state`; returns the report and the
    /// final state (also saved).
    pub async fn run(&self, plan: &Plan, mut state: State) -> (Report, State) {
        let began = Instant::now();
        let mut report = Report::default();
        // The identity every applied object carries is saved before the
        // first one does, so that a run killed before its first save finds
        // its own objects again instead of taking them for another stack's.
        if state.ensure_identity() || state.serial == 0 {
            state.serial += 1;
            if let Err(e) = self.backend.save(&state).await {
                report.state_error = Some(e);
                return (report, state);
            }
        }
        // A moved resource is the same one under its new id: its record
        // goes with it (and what named it, names it anew), and its apply
        // re-marks what it owns.
        for change in plan
            .changes
            .iter()
            .filter(|_| self.options.target.is_none())
        {
            if let Some(from) = &change.moved_from {
                if let Some(recorded) = state.resources.remove(from) {
                    state.resources.insert(change.id.clone(), recorded);
                }
                for other in state.resources.values_mut() {
                    if other.cluster.as_ref() == Some(from) {
                        other.cluster = Some(change.id.clone());
                    }
                    for needed in other.depends_on.iter_mut().filter(|d| *d == from) {
                        *needed = change.id.clone();
                    }
                }
            }
        }
        let mut outputs: HashMap<ResourceId, BTreeMap<String, Json>> = state
            .resources
            .iter()
            .map(|(id, r)| (id.clone(), r.outputs.clone()))
            .collect();
        let mut changed = RunChanges::default();
        let mut progress = Progress::channel();
        self.apply_phase(
            plan,
            &mut state,
            &mut outputs,
            &mut report,
            &mut changed,
            &mut progress,
        )
        .await;
        if self.options.target.is_none()
            && report.state_error.is_none()
            && !self.options.cancel.is_cancelled()
        {
            self.delete_phase(plan, &mut state, &mut report, &mut changed, &mut progress)
                .await;
        }
        // Reports sent as their resource finished.
        while let Ok((id, text)) = progress.updates.try_recv() {
            self.observer.progress(&id, &text);
        }
        for provider in self.router.all() {
            if let Err(e) = provider.finish(&changed).await {
                report.finish_errors.push((provider.name().to_string(), e));
            }
        }
        report.cancelled = self.options.cancel.is_cancelled();
        report.elapsed = began.elapsed();
        (report, state)
    }

    /// Live differences of every resource the plan leaves alone
    /// (`--refresh`): what someone changed behind the stack's back.
    pub async fn refresh(
        &self,
        plan: &Plan,
        state: &State,
    ) -> Result<HashMap<ResourceId, Vec<crate::provider::Drift>>, (ResourceId, ProviderError)> {
        let mut outputs: HashMap<ResourceId, BTreeMap<String, Json>> = state
            .resources
            .iter()
            .map(|(id, r)| (id.clone(), r.outputs.clone()))
            .collect();
        let depths = self.graph.depths();
        let unchanged: HashSet<&ResourceId> = plan
            .changes
            .iter()
            .filter(|c| c.action == Action::NoOp)
            .map(|c| &c.id)
            .collect();
        let mut drifts = HashMap::new();
        for resource in self.graph.in_order().filter(|r| unchanged.contains(&r.id)) {
            let fail = |e| (resource.id.clone(), e);
            let request = self
                .request(resource, state, &mut outputs, &depths)
                .await
                .map_err(fail)?;
            let provider = self.router.route(request.route_key()).map_err(fail)?;
            let found = provider.refresh(&request).await.map_err(fail)?;
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
        let outputs: HashMap<ResourceId, BTreeMap<String, Json>> = state
            .resources
            .iter()
            .map(|(id, r)| (id.clone(), r.outputs.clone()))
            .collect();
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
        for resource in self.graph.in_order().filter(|r| changing.contains(&r.id)) {
            let Ok(request) = self.plain_request(resource, state, &outputs, &depths) else {
                continue;
            };
            let Ok(provider) = self.router.route(request.route_key()) else {
                continue;
            };
            match provider.preflight(&request).await {
                Ok(adoptions) if adoptions.is_empty() => {}
                Ok(adoptions) => {
                    found.adoptions.insert(resource.id.clone(), adoptions);
                }
                Err(e) => found.problems.push((resource.id.clone(), e)),
            }
        }
        found
    }

    /// Resources to apply, as indices into the graph's resources.
    fn selected(&self) -> Vec<usize> {
        let resources = self.graph.resources();
        let Some(target) = &self.options.target else {
            return (0..resources.len()).collect();
        };
        let mut keep: HashSet<ResourceId> = HashSet::new();
        let mut todo = vec![target.clone()];
        while let Some(id) = todo.pop() {
            if keep.insert(id.clone()) {
                todo.extend(self.graph.needs(&id).into_iter().map(|r| r.id.clone()));
            }
        }
        (0..resources.len())
            .filter(|&i| keep.contains(&resources[i].id))
            .collect()
    }

    async fn apply_phase(
        &self,
        plan: &Plan,
        state: &mut State,
        outputs: &mut HashMap<ResourceId, BTreeMap<String, Json>>,
        report: &mut Report,
        changed: &mut RunChanges,
        progress: &mut Progress,
    ) {
        let resources = self.graph.resources();
        let actions: HashMap<&ResourceId, Action> =
            plan.changes.iter().map(|c| (&c.id, c.action)).collect();
        let planned: HashMap<&ResourceId, &crate::plan::Change> =
            plan.changes.iter().map(|c| (&c.id, c)).collect();
        let selected = self.selected();
        let in_run: HashSet<usize> = selected.iter().copied().collect();
        let position: HashMap<&ResourceId, usize> = resources
            .iter()
            .enumerate()
            .map(|(i, r)| (&r.id, i))
            .collect();
        let mut waiting: HashMap<usize, usize> = HashMap::new();
        let mut dependents: HashMap<usize, Vec<usize>> = HashMap::new();
        for &i in &selected {
            let needs: Vec<usize> = self
                .graph
                .needs(&resources[i].id)
                .iter()
                .filter_map(|r| position.get(&r.id).copied())
                .filter(|j| in_run.contains(j))
                .collect();
            waiting.insert(i, needs.len());
            for j in needs {
                dependents.entry(j).or_default().push(i);
            }
        }
        let mut ready: Vec<usize> = selected
            .iter()
            .copied()
            .filter(|i| waiting[i] == 0)
            .collect();
        ready.reverse(); // pop() takes the earliest declared first
        let mut settled: HashSet<usize> = HashSet::new();
        let mut running = FuturesUnordered::new();
        let depths = self.graph.depths();
        type Saved = (usize, Action, Outcome, Duration);
        type Start = (
            usize,
            Action,
            Result<ApplyRequest, ProviderError>,
            Option<ResourceState>,
        );
        let mut unsaved: Vec<Saved> = Vec::new();
        let mut in_save: Vec<Saved> = Vec::new();
        // Applies whose intent must be saved before they begin.
        let mut held: Vec<Start> = Vec::new();
        let mut starting: Vec<Start> = Vec::new();
        let mut saving: Option<PendingSave<'_>> = None;
        loop {
            while running.len() + held.len() + starting.len() < self.options.parallelism.max(1)
                && !self.options.cancel.is_cancelled()
                && report.state_error.is_none()
            {
                let Some(i) = ready.pop() else { break };
                let resource = &resources[i];
                let action = actions.get(&resource.id).copied().unwrap_or(Action::NoOp);
                if action == Action::NoOp {
                    // Nothing to do: its recorded outputs stand.
                    settled.insert(i);
                    self.finish(report, resource, action, Outcome::Unchanged, Duration::ZERO);
                    release(i, &dependents, &mut waiting, &mut ready);
                    continue;
                }
                self.observer.started(&resource.id, action);
                let request = self
                    .request(resource, state, outputs, &depths)
                    .await
                    .map(|mut r| {
                        r.progress = progress.sink(&resource.id);
                        r
                    });
                let previous = state
                    .resources
                    .get(&resource.id)
                    .and_then(ResourceState::confirmed);
                let start = (i, action, request, previous);
                match start.2.as_ref().ok().zip(planned.get(&resource.id)) {
                    Some((request, change))
                        if self.write_intent(state, resource, change, request) =>
                    {
                        held.push(start);
                    }
                    _ => running.push(self.carry_out(start)),
                }
            }
            // Completed resources wait here until a save holds them; only
            // then do their dependents start. Saves run beside the work, and
            // whatever completes during one goes into the next, with the
            // intents of the applies that wait to begin.
            if saving.is_none() && (!unsaved.is_empty() || !held.is_empty()) {
                state.serial += 1;
                let snapshot = state.clone();
                let backend = self.backend;
                saving = Some(Box::pin(async move { backend.save(&snapshot).await }));
                in_save = std::mem::take(&mut unsaved);
                starting = std::mem::take(&mut held);
            }
            if running.is_empty() && saving.is_none() {
                break;
            }
            tokio::select! {
                Some((id, text)) = progress.updates.recv() => {
                    self.observer.progress(&id, &text);
                }
                Some(done) = running.next(), if !running.is_empty() => {
                    let mut batch = vec![done];
                    while let Some(Some(more)) = running.next().now_or_never() {
                        batch.push(more);
                    }
                    for done in batch {
                        let resource = &resources[done.index];
                        settled.insert(done.index);
                        match done.result {
                            Ok(applied) => {
                                let applied = applied.unwrap_or_default();
                                self.record(state, outputs, resource, &applied);
                                changed
                                    .changes
                                    .push((done.action.as_str().to_string(), resource.id.clone()));
                                let outcome = match done.action {
                                    Action::Create => Outcome::Created,
                                    Action::Adopt => Outcome::Adopted,
                                    Action::Replace => Outcome::Replaced,
                                    _ => Outcome::Updated,
                                };
                                unsaved.push((done.index, done.action, outcome, done.started.elapsed()));
                            }
                            Err(error) => {
                                self.finish(report, resource, done.action, Outcome::Failed(error), done.started.elapsed());
                                self.skip_dependents(done.index, &dependents, &mut settled, report, &actions);
                            }
                        }
                    }
                }
                saved = async { saving.as_mut().expect("guarded by is_some").await }, if saving.is_some() => {
                    saving = None;
                    match saved {
                        Ok(()) => {
                            for (i, action, outcome, elapsed) in std::mem::take(&mut in_save) {
                                let recorded = state
                                    .resources
                                    .get(&resources[i].id)
                                    .map(|r| r.outputs.clone())
                                    .unwrap_or_default();
                                self.finish_with(report, &resources[i], action, outcome, elapsed, recorded);
                                release(i, &dependents, &mut waiting, &mut ready);
                            }
                            for start in std::mem::take(&mut starting) {
                                if self.options.cancel.is_cancelled() {
                                    settled.insert(start.0);
                                    self.finish(report, &resources[start.0], start.1, Outcome::Cancelled, Duration::ZERO);
                                } else {
                                    running.push(self.carry_out(start));
                                }
                            }
                        }
                        Err(e) => {
                            // Applied, but not recorded: the next run applies
                            // them again, which converges.
                            for (i, action, _, elapsed) in std::mem::take(&mut in_save) {
                                let error = ProviderError::new("applied, but the state could not be saved: the next run applies it again");
                                self.finish(report, &resources[i], action, Outcome::Failed(error), elapsed);
                            }
                            // Not begun: what is applied is recorded first.
                            for (i, action, _, _) in std::mem::take(&mut starting) {
                                settled.insert(i);
                                self.finish(report, &resources[i], action, Outcome::Cancelled, Duration::ZERO);
                            }
                            report.state_error = Some(e);
                        }
                    }
                }
            }
            ready.retain(|i| !settled.contains(i));
        }
        // Whatever never started was cut short by Ctrl-C or a state failure.
        for &i in &selected {
            if !settled.contains(&i) && !report.resources.iter().any(|r| r.id == resources[i].id) {
                let action = actions
                    .get(&resources[i].id)
                    .copied()
                    .unwrap_or(Action::NoOp);
                self.finish(
                    report,
                    &resources[i],
                    action,
                    Outcome::Cancelled,
                    Duration::ZERO,
                );
            }
        }
    }

    fn finish(
        &self,
        report: &mut Report,
        resource: &Resource,
        action: Action,
        outcome: Outcome,
        duration: Duration,
    ) {
        self.finish_with(report, resource, action, outcome, duration, BTreeMap::new());
    }

    fn finish_with(
        &self,
        report: &mut Report,
        resource: &Resource,
        action: Action,
        outcome: Outcome,
        duration: Duration,
        outputs: BTreeMap<String, Json>,
    ) {
        let entry = ResourceReport {
            id: resource.id.clone(),
            kind: resource.kind,
            action,
            outcome,
            duration,
            outputs,
        };
        self.observer.finished(&entry);
        report.resources.push(entry);
    }

    /// Marks everything downstream of a failure as skipped.
    fn skip_dependents(
        &self,
        failed: usize,
        dependents: &HashMap<usize, Vec<usize>>,
        settled: &mut HashSet<usize>,
        report: &mut Report,
        actions: &HashMap<&ResourceId, Action>,
    ) {
        let resources = self.graph.resources();
        let because = resources[failed].id.clone();
        let mut todo: Vec<usize> = dependents.get(&failed).cloned().unwrap_or_default();
        while let Some(i) = todo.pop() {
            if !settled.insert(i) {
                continue;
            }
            let action = actions
                .get(&resources[i].id)
                .copied()
                .unwrap_or(Action::NoOp);
            let outcome = Outcome::Skipped {
                because: because.clone(),
            };
            self.finish(report, &resources[i], action, outcome, Duration::ZERO);
            todo.extend(dependents.get(&i).cloned().unwrap_or_default());
        }
    }

    /// The cluster target of a declared resource.
    fn cluster_target(
        &self,
        resource: &Resource,
        outputs: &HashMap<ResourceId, BTreeMap<String, Json>>,
    ) -> Option<ClusterTarget> {
        let cluster = self.graph.get(resource.cluster.as_ref()?)?;
        let resolve = RunOutputs {
            graph: self.graph,
            outputs,
        };
        let inputs = Value::Map(cluster.inputs.clone())
            .materialize(&resolve)
            .unwrap_or(Json::Null);
        Some(ClusterTarget {
            id: cluster.id.clone(),
            name: cluster.name.clone(),
            inputs,
            outputs: outputs.get(&cluster.id).cloned().unwrap_or_default(),
        })
    }

    /// Builds the request for a resource, reading back sensitive outputs it
    /// needs from resources applied by an earlier run.
    async fn request(
        &self,
        resource: &Resource,
        state: &State,
        outputs: &mut HashMap<ResourceId, BTreeMap<String, Json>>,
        depths: &HashMap<ResourceId, usize>,
    ) -> Result<ApplyRequest, ProviderError> {
        let mut missing_secrets: Vec<OutputRef> = Vec::new();
        for value in resource.inputs.values() {
            value.visit_refs(&mut |_, r| {
                if let Some(r) = r.filter(|r| r.secret) {
                    let recorded = outputs.get(&r.resource).and_then(|o| o.get(&r.output));
                    let hashed = recorded
                        .is_none_or(|v| v.as_str().is_some_and(|s| s.starts_with("(sensitive")));
                    if hashed && !missing_secrets.contains(r) {
                        missing_secrets.push(r.clone());
                    }
                }
            });
        }
        for r in missing_secrets {
            let Some(producer) = self.graph.get(&r.resource) else {
                continue;
            };
            let request = self.plain_request(producer, state, outputs, depths)?;
            let provider = self.router.route(request.route_key())?;
            let read = provider.read_outputs(&request).await?;
            let value = read.get(&r.output).cloned().ok_or_else(|| {
                ProviderError::new(format!(
                    "`{}` needs the sensitive output `{r}`, which its provider cannot read back",
                    resource.id
                ))
                .help(format!(
                    "re-create `{}` so that the output is produced in this run",
                    r.resource
                ))
            })?;
            outputs
                .entry(r.resource.clone())
                .or_default()
                .insert(r.output.clone(), value);
        }
        self.plain_request(resource, state, outputs, depths)
    }

    fn plain_request(
        &self,
        resource: &Resource,
        state: &State,
        outputs: &HashMap<ResourceId, BTreeMap<String, Json>>,
        depths: &HashMap<ResourceId, usize>,
    ) -> Result<ApplyRequest, ProviderError> {
        let resolve = RunOutputs {
            graph: self.graph,
            outputs,
        };
        let unknown = |r: OutputRef| {
            ProviderError::new(format!(
                "`{}` needs `{r}`, which `{}` did not report",
                resource.id, r.resource
            ))
        };
        let inputs = Value::Map(resource.inputs.clone())
            .materialize(&resolve)
            .map_err(unknown)?;
        let objects = objects::objects(self.graph, resource, &resolve)
            .map_err(|ObjectsError::Unknown(r)| unknown(r))?;
        let cluster = self.cluster_target(resource, outputs);
        let base = cluster
            .as_ref()
            .and_then(|c| depths.get(&c.id))
            .map_or(0, |d| d + 1);
        let timeout = inputs
            .get("timeout")
            .and_then(Json::as_str)
            .and_then(parse_duration)
            .unwrap_or(self.options.default_timeout);
        Ok(ApplyRequest {
            id: resource.id.clone(),
            kind: resource.kind,
            name: resource.name.clone(),
            wait: inputs.get("wait").and_then(Json::as_bool).unwrap_or(true),
            direct: self.applied_directly(state, resource),
            inputs,
            objects,
            cluster,
            previous: state
                .resources
                .get(&resource.id)
                .and_then(ResourceState::confirmed),
            unconfirmed: state
                .resources
                .get(&resource.id)
                .map(|r| r.unconfirmed_objects().to_vec())
                .unwrap_or_default(),
            wave: depths
                .get(&resource.id)
                .copied()
                .unwrap_or(0)
                .saturating_sub(base),
            timeout,
            owner: self.owner(state, &resource.id),
            progress: ProgressSink::default(),
        })
    }

    /// The owner of what `id` makes in this stack.
    fn owner(&self, state: &State, id: &ResourceId) -> Owner {
        Owner {
            stack: self.graph.declarations.stack.clone(),
            identity: state.identity.clone(),
            resource: id.clone(),
        }
    }

    /// Applies one resource (deleting it first for a replace).
    fn carry_out(
        &self,
        (index, action, request, previous): (
            usize,
            Action,
            Result<ApplyRequest, ProviderError>,
            Option<ResourceState>,
        ),
    ) -> impl std::future::Future<Output = Done> + '_ {
        let started = Instant::now();
        async move {
            let result = async {
                let mut request = request?;
                let provider = self.router.route(request.route_key())?;
                if let (Action::Replace, Some(recorded)) = (action, previous) {
                    let delete = DeleteRequest {
                        id: request.id.clone(),
                        kind: request.kind,
                        recorded,
                        cluster: request.cluster.clone(),
                        timeout: request.timeout,
                        owner: request.owner.clone(),
                        progress: request.progress.clone(),
                    };
                    // What is replaced goes the way it came: a new `provider`
                    // must not be asked to delete what the old one made.
                    self.router
                        .route(delete.route_key())?
                        .delete(&delete)
                        .await?;
                    // Then it is created anew, with nothing to converge from.
                    request.previous = None;
                }
                provider.apply(&request).await.map(Some)
            }
            .await;
            Done {
                index,
                action,
                result,
                started,
            }
        }
    }

    /// Records in `state` what `request` is about to make that the state
    /// does not hold yet (the resource itself, or objects it gains); true
    /// when there is such a thing, and the state must be saved before the
    /// apply begins.
    fn write_intent(
        &self,
        state: &mut State,
        resource: &Resource,
        change: &crate::plan::Change,
        request: &ApplyRequest,
    ) -> bool {
        let recorded = state.resources.get(&resource.id);
        let first = recorded.is_none_or(|r| r.confirmed().is_none());
        let mut objects: Vec<ObjectRef> = recorded
            .map(|r| r.unconfirmed_objects().to_vec())
            .unwrap_or_default();
        for object in request.objects.iter().filter_map(objects::object_ref) {
            let held = recorded.is_some_and(|r| r.objects.contains(&object));
            if !held && !objects.contains(&object) {
                objects.push(object);
            }
        }
        if !first && objects.is_empty() {
            return false;
        }
        let intent = Some(Intent { first, objects });
        match state.resources.get_mut(&resource.id) {
            Some(recorded) if !first => recorded.intent = intent,
            _ => {
                let inputs = change.inputs.clone().unwrap_or(Json::Null);
                state.resources.insert(
                    resource.id.clone(),
                    ResourceState {
                        kind: resource.kind,
                        inputs_hash: change.inputs_hash.clone().unwrap_or_else(|| hash(&inputs)),
                        inputs,
                        outputs: BTreeMap::new(),
                        objects: Vec::new(),
                        depends_on: self.needed_ids(&resource.id),
                        cluster: resource.cluster.clone(),
                        direct: request.direct,
                        deleting: false,
                        intent,
                    },
                );
            }
        }
        true
    }

    /// Whether `resource` reaches a GitOps cluster from the run rather than
    /// through git: as the graph says, except that a namespace an earlier
    /// run delivered through git stays there. Moving it would leave its file
    /// in git, with Argo CD owning the namespace as well as the stack.
    fn applied_directly(&self, state: &State, resource: &Resource) -> bool {
        let through_git = state
            .resources
            .get(&resource.id)
            .is_some_and(|r| r.kind == Kind::Namespace && !r.direct);
        self.graph.applied_directly(&resource.id) && !through_git
    }

    /// What the state records `id` as needing: deletes go the other way.
    fn needed_ids(&self, id: &ResourceId) -> Vec<ResourceId> {
        self.graph.needs(id).iter().map(|r| r.id.clone()).collect()
    }

    /// Writes a completed resource into the state and the run's outputs.
    fn record(
        &self,
        state: &mut State,
        outputs: &mut HashMap<ResourceId, BTreeMap<String, Json>>,
        resource: &Resource,
        applied: &Applied,
    ) {
        let mut reported = applied.outputs.clone();
        {
            let resolve = RunOutputs {
                graph: self.graph,
                outputs,
            };
            for (name, value) in &resource.known_outputs {
                if let Ok(v) = value.materialize(&resolve) {
                    reported.entry(name.clone()).or_insert(v);
                }
            }
        }
        outputs.insert(resource.id.clone(), reported.clone());
        let resolve = RunOutputs {
            graph: self.graph,
            outputs,
        };
        let inputs = Json::Object(
            resource
                .inputs
                .iter()
                .map(|(k, v)| (k.clone(), v.canonical(&resolve, &state.salt)))
                .collect(),
        );
        let recorded_outputs = reported
            .into_iter()
            .map(|(name, value)| {
                let secret = resource.kind.output(&name).is_some_and(|o| o.secret);
                if secret {
                    let hidden =
                        Secret::new(name.clone(), value.to_string()).salted_hash(&state.salt);
                    (name, Json::String(format!("(sensitive {hidden})")))
                } else {
                    (name, value)
                }
            })
            .collect();
        let direct = self.applied_directly(state, resource);
        state.resources.insert(
            resource.id.clone(),
            ResourceState {
                kind: resource.kind,
                inputs_hash: hash(&inputs),
                inputs,
                outputs: recorded_outputs,
                objects: applied.objects.clone(),
                depends_on: self.needed_ids(&resource.id),
                cluster: resource.cluster.clone(),
                direct,
                deleting: false,
                intent: None,
            },
        );
    }

    async fn delete_phase(
        &self,
        plan: &Plan,
        state: &mut State,
        report: &mut Report,
        changed: &mut RunChanges,
        progress: &mut Progress,
    ) {
        let deletes: Vec<ResourceId> = plan
            .changes
            .iter()
            .filter(|c| c.action == Action::Delete)
            .map(|c| c.id.clone())
            .collect();
        let gone: HashSet<&ResourceId> = deletes.iter().collect();
        // A resource may go once everything that needed it is gone.
        let mut waiting: HashMap<&ResourceId, usize> = deletes.iter().map(|id| (id, 0)).collect();
        let mut dependents_of: HashMap<&ResourceId, Vec<&ResourceId>> = HashMap::new();
        for id in &deletes {
            if let Some(recorded) = state.resources.get(id) {
                for need in recorded.depends_on.iter().chain(recorded.cluster.iter()) {
                    if let Some(&key) = gone.get(need) {
                        if key != id && !dependents_of.get(key).is_some_and(|d| d.contains(&id)) {
                            *waiting.entry(key).or_default() += 1;
                            dependents_of.entry(key).or_default().push(id);
                        }
                    }
                }
            }
        }
        let mut ready: Vec<&ResourceId> = deletes.iter().filter(|id| waiting[id] == 0).collect();
        ready.reverse();
        let mut blocked: HashSet<&ResourceId> = HashSet::new();
        let mut running = FuturesUnordered::new();
        let mut finished: HashSet<&ResourceId> = HashSet::new();
        loop {
            while running.len() < self.options.parallelism.max(1)
                && !self.options.cancel.is_cancelled()
                && report.state_error.is_none()
            {
                let Some(id) = ready.pop() else { break };
                let Some(recorded) = state.resources.get_mut(id) else {
                    continue;
                };
                // Saved before the delete is sent: a run killed while it
                // goes on leaves a state that says so.
                if !recorded.deleting {
                    recorded.deleting = true;
                    state.serial += 1;
                    if let Err(e) = self.backend.save(state).await {
                        report.state_error = Some(e);
                        break;
                    }
                }
                let Some(recorded) = state.resources.get(id).cloned() else {
                    continue;
                };
                self.observer.started(id, Action::Delete);
                let cluster = recorded
                    .cluster
                    .as_ref()
                    .and_then(|c| ClusterTarget::recorded(state, c));
                let request = DeleteRequest {
                    id: id.clone(),
                    kind: recorded.kind,
                    timeout: recorded
                        .inputs
                        .get("timeout")
                        .and_then(Json::as_str)
                        .and_then(parse_duration)
                        .unwrap_or(self.options.default_timeout),
                    recorded,
                    cluster,
                    owner: self.owner(state, id),
                    progress: progress.sink(id),
                };
                let started = Instant::now();
                running.push(async move {
                    let result = async {
                        let provider = self.router.route(request.route_key())?;
                        provider.delete(&request).await
                    }
                    .await;
                    (id, request.kind, result, started)
                });
            }
            let next = loop {
                tokio::select! {
                    done = running.next() => break done,
                    Some((id, text)) = progress.updates.recv() => {
                        self.observer.progress(&id, &text);
                    }
                }
            };
            let Some((id, kind, result, started)) = next else {
                break;
            };
            finished.insert(id);
            let entry = |outcome| ResourceReport {
                id: id.clone(),
                kind,
                action: Action::Delete,
                outcome,
                duration: started.elapsed(),
                outputs: BTreeMap::new(),
            };
            match result {
                Ok(()) => {
                    state.resources.remove(id);
                    state.serial += 1;
                    if let Err(e) = self.backend.save(state).await {
                        report.state_error = Some(e);
                    }
                    changed.changes.push(("delete".into(), id.clone()));
                    let entry = entry(Outcome::Deleted);
                    self.observer.finished(&entry);
                    report.resources.push(entry);
                    // What this one needed may go once its other dependents are gone.
                    for (need, deps) in &dependents_of {
                        if deps.contains(&id) {
                            if let Some(n) = waiting.get_mut(need) {
                                *n -= 1;
                                if *n == 0 && !blocked.contains(need) {
                                    ready.push(need);
                                }
                            }
                        }
                    }
                }
                Err(error) => {
                    let entry = entry(Outcome::Failed(error));
                    self.observer.finished(&entry);
                    report.resources.push(entry);
                    // Keep what it needed: deleting that would strand it.
                    let mut todo: Vec<&ResourceId> = vec![id];
                    while let Some(current) = todo.pop() {
                        for (need, deps) in &dependents_of {
                            if deps.contains(&current) && blocked.insert(need) {
                                todo.push(need);
                                let skipped = ResourceReport {
                                    id: (*need).clone(),
                                    kind: state
                                        .resources
                                        .get(*need)
                                        .map_or(Kind::Manifest, |r| r.kind),
                                    action: Action::Delete,
                                    outputs: BTreeMap::new(),
                                    outcome: Outcome::Skipped {
                                        because: id.clone(),
                                    },
                                    duration: Duration::ZERO,
                                };
                                self.observer.finished(&skipped);
                                report.resources.push(skipped);
                            }
                        }
                    }
                }
            }
        }
        for id in &deletes {
            if !finished.contains(id) && !blocked.contains(id) {
                let kind = state.resources.get(id).map_or(Kind::Manifest, |r| r.kind);
                let entry = ResourceReport {
                    id: id.clone(),
                    kind,
                    action: Action::Delete,
                    outcome: Outcome::Cancelled,
                    duration: Duration::ZERO,
                    outputs: BTreeMap::new(),
                };
                self.observer.finished(&entry);
                report.resources.push(entry);
            }
        }
    }
}

fn release(
    done: usize,
    dependents: &HashMap<usize, Vec<usize>>,
    waiting: &mut HashMap<usize, usize>,
    ready: &mut Vec<usize>,
) {
    let mut newly: Vec<usize> = Vec::new();
    for &d in dependents.get(&done).map(Vec::as_slice).unwrap_or_default() {
        if let Some(n) = waiting.get_mut(&d) {
            *n -= 1;
            if *n == 0 {
                newly.push(d);
            }
        }
    }
    // Keep pop() taking the earliest declared resource first.
    ready.extend(newly);
    ready.sort_unstable_by(|a, b| b.cmp(a));
}
