//! `stack plan --out PLAN` and `stack run PLAN`: a plan saved to a file and
//! applied exactly, as `terraform plan -out` does. The file holds what the
//! plan was made from (the script, its values files, `--target`,
//! `--refresh`), digests of the script's sources and of the state, the
//! parameters as salted hashes (a parameter may be a secret: its value is
//! never written), and the plan itself. `run PLAN` plans again from the
//! same inputs and refuses when the script, a parameter or the state
//! changed since, or when the clusters now answer differently.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use stack_engine::plan::{hash, Plan};
use stack_engine::state::{salted_params, State};
use stack_engine::{Graph, ResourceId};

use crate::cli::StackArgs;

/// Marks a saved plan and the layout of its file.
const FORMAT: &str = "stack-plan/1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedPlan {
    format: String,
    stack: String,
    /// The stack script, absolute.
    script: PathBuf,
    /// `--values` files, absolute, in order.
    values: Vec<PathBuf>,
    /// `--state`, absolute, when given.
    state_file: Option<PathBuf>,
    locked: bool,
    pub targets: Vec<String>,
    pub refresh: bool,
    /// Digest of every source the script read, modules included.
    sources: String,
    /// The parameters as salted hashes, and their salt (fresh per plan).
    params: BTreeMap<String, String>,
    salt: String,
    /// The serial and digest of the state the plan was made against.
    serial: u64,
    state: String,
    /// The plan, as `plan --output json` shows it.
    plan: Json,
}

/// Why a saved plan cannot be applied.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SavedPlanError {
    #[error("cannot read the saved plan {}: {message}", path.display())]
    #[diagnostic(code(stack::plan::saved_read))]
    Read { path: PathBuf, message: String },

    #[error("cannot write the plan to {}: {message}", path.display())]
    #[diagnostic(code(stack::plan::saved_write))]
    Write { path: PathBuf, message: String },

    #[error("the script of stack `{stack}` changed since the plan was saved")]
    #[diagnostic(
        code(stack::plan::saved_script),
        help("nothing was applied: plan again (`stack plan {} --out PLAN`) and apply that", script.display())
    )]
    Script { stack: String, script: PathBuf },

    #[error("parameters are set differently than when the plan was saved: {}", names.join(", "))]
    #[diagnostic(
        code(stack::plan::saved_params),
        help("nothing was applied: pass the same `--set` as to `stack plan` (values files are read again from where they were), or plan again")
    )]
    Params { names: Vec<String> },

    #[error("the state of stack `{stack}` changed since the plan was saved (serial {planned}, now {now})")]
    #[diagnostic(
        code(stack::plan::saved_state),
        help("nothing was applied: another run (or `stack state`) changed it; plan again and apply that")
    )]
    State {
        stack: String,
        planned: u64,
        now: u64,
    },

    #[error("the saved plan is stale: planned again from the same script and state, it differs")]
    #[diagnostic(
        code(stack::plan::saved_stale),
        help("nothing was applied: what the clusters answer changed since (live drift, adoptions, chart versions); plan again and apply that")
    )]
    Stale,
}

impl SavedPlan {
    /// A plan to save: what it was made from, and what it says.
    pub fn new(
        args: &StackArgs,
        graph: &Graph,
        state: &State,
        plan: &Plan,
        targets: &[ResourceId],
        refresh: bool,
    ) -> SavedPlan {
        let salt = State::empty(&graph.declarations.stack).salt;
        SavedPlan {
            format: FORMAT.to_string(),
            stack: graph.declarations.stack.clone(),
            script: absolute(&args.file),
            values: args.values.iter().map(|v| absolute(v)).collect(),
            state_file: args.state.as_deref().map(absolute),
            locked: args.locked,
            targets: targets.iter().map(|t| t.to_string()).collect(),
            refresh,
            sources: sources_digest(graph),
            params: salted_params(&graph.declarations.params, &salt),
            salt,
            serial: state.serial,
            state: state_digest(state),
            plan: plan.to_json(),
        }
    }

    /// Reads `path` when it is a saved plan; `None` when it is something
    /// else (a stack script).
    pub fn read(path: &Path) -> Result<Option<SavedPlan>, SavedPlanError> {
        let Ok(text) = std::fs::read_to_string(path) else {
            return Ok(None); // not text: a script error will say so
        };
        let Ok(json) = serde_json::from_str::<Json>(&text) else {
            return Ok(None);
        };
        if json.get("format").and_then(Json::as_str) != Some(FORMAT) {
            return Ok(None);
        }
        serde_json::from_value(json)
            .map(Some)
            .map_err(|e| SavedPlanError::Read {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
    }

    pub fn write(&self, path: &Path) -> Result<(), SavedPlanError> {
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        std::fs::write(path, text + "\n").map_err(|e| SavedPlanError::Write {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// The stack arguments the plan was made with; `set` comes from this
    /// invocation (values are not saved).
    pub fn stack_args(&self, given: &StackArgs) -> StackArgs {
        StackArgs {
            file: self.script.clone(),
            set: given.set.clone(),
            values: self.values.clone(),
            state: given.state.clone().or_else(|| self.state_file.clone()),
            locked: self.locked || given.locked,
        }
    }

    pub fn target_ids(&self) -> Vec<ResourceId> {
        self.targets.iter().map(ResourceId::new).collect()
    }

    /// Refuses unless the script, its parameters and `state` (as loaded,
    /// before anything is read from the clusters) are those of the plan.
    pub fn check_inputs(&self, graph: &Graph, state: &State) -> Result<(), SavedPlanError> {
        if state_digest(state) != self.state {
            return Err(SavedPlanError::State {
                stack: self.stack.clone(),
                planned: self.serial,
                now: state.serial,
            });
        }
        if sources_digest(graph) != self.sources {
            return Err(SavedPlanError::Script {
                stack: self.stack.clone(),
                script: self.script.clone(),
            });
        }
        let params = salted_params(&graph.declarations.params, &self.salt);
        let mut names: Vec<String> = params
            .keys()
            .chain(self.params.keys())
            .filter(|name| params.get(*name) != self.params.get(*name))
            .cloned()
            .collect();
        names.sort();
        names.dedup();
        if !names.is_empty() {
            return Err(SavedPlanError::Params { names });
        }
        Ok(())
    }

    /// Refuses unless planning again gave the saved plan.
    pub fn check_plan(&self, plan: &Plan) -> Result<(), SavedPlanError> {
        if plan.to_json() == self.plan {
            Ok(())
        } else {
            Err(SavedPlanError::Stale)
        }
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The texts of the sources, in the order read: their names depend on
/// how the script was named on the command line.
fn sources_digest(graph: &Graph) -> String {
    let sources: Vec<Json> = graph
        .sources()
        .iter()
        .map(|(_, source)| Json::from(source.text.as_ref()))
        .collect();
    hash(&Json::Array(sources))
}

/// The state's digest; a stack without state yet has none (a new empty
/// state gets a fresh salt each time it is made).
fn state_digest(state: &State) -> String {
    if state.serial == 0 && state.resources.is_empty() {
        return "none".to_string();
    }
    hash(&serde_json::to_value(state).unwrap_or(Json::Null))
}
