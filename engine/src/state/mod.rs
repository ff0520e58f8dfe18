//! The recorded state of a stack: per resource, its kind, a hash
//! of its inputs, the canonical inputs (secrets as salted hashes), its
//! outputs, and the exact Kubernetes objects applied for it, so that removed
//! resources and removed objects can be pruned.

pub mod backend;
mod edit;
mod journal;
mod local;
mod lock;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::resource::{Kind, ResourceId};

pub use backend::StateBackend;
pub use edit::EditError;
pub use local::{default_path, load, LocalBackend};
pub use lock::LockInfo;

/// The state format version this engine reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// The state of one stack. A field this release does not know is refused,
/// not dropped: the next save would lose it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub version: u32,
    pub stack: String,
    /// Incremented on every save; a reader can tell two saves apart.
    pub serial: u64,
    /// Salt for the hashes of secret values, fixed for the life of the state.
    pub salt: String,
    /// Tells this stack from another of the same name (a copy of the script
    /// in another directory or repository): the objects and cloud
    /// resources it makes carry it. Made with the state and kept with it;
    /// a state written before it existed gets one when a run begins.
    #[serde(default)]
    pub identity: String,
    #[serde(default)]
    pub resources: BTreeMap<ResourceId, ResourceState>,
    /// Objects `stack state rm` let go of: they still carry this stack's
    /// mark, and are no longer its to find or delete. A run that applies
    /// one again takes it back.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub forgotten: BTreeSet<ObjectRef>,
    /// The parameters of the last whole run that finished without a
    /// failure, each as a salted hash (a parameter may end up in a
    /// Secret): a plan says which differ now, never what they hold.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    /// The stack's outputs after the last whole run (`stack output`);
    /// secret ones only as `(sensitive)`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, Json>,
}

/// What the state records of one applied resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceState {
    pub kind: Kind,
    /// sha256 of the canonical inputs.
    pub inputs_hash: String,
    /// The canonical inputs that were applied (secrets as salted hashes).
    pub inputs: Json,
    /// Outputs after apply; sensitive ones as salted hashes.
    #[serde(default)]
    pub outputs: BTreeMap<String, Json>,
    /// The Kubernetes objects applied for this resource.
    #[serde(default)]
    pub objects: Vec<ObjectRef>,
    /// What it needed when it was applied: deletes run in the reverse order.
    #[serde(default)]
    pub depends_on: Vec<ResourceId>,
    /// The cluster it lives on, so it can be deleted after it is no longer declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ResourceId>,
    /// On a GitOps cluster, it was applied by `stack run` itself rather
    /// than written to git: it is deleted the same way.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub direct: bool,
    /// A run began deleting it and did not see the deletion through (it was
    /// killed): what is live may be going away, so a script that still
    /// declares it has it made anew.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleting: bool,
    /// What a run began applying and did not confirm (it was killed, or
    /// the apply failed halfway): the next run converges it, `destroy`
    /// deletes whatever of it carries this stack's mark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<Intent>,
    /// Renamed from this id by `stack state mv`: what it made still names
    /// the old id until the next run applies it under the new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<ResourceId>,
}

/// Written to the state before a provider is asked to apply, so that what
/// a run makes is known even when the run dies before it records the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intent {
    /// The resource had never been applied: nothing else in its record is
    /// confirmed, and what exists under its name may be someone else's.
    pub first: bool,
    /// The Kubernetes objects being applied that the record does not hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ObjectRef>,
}

impl ResourceState {
    /// The record as last confirmed by a provider; none for a resource a
    /// run only began to create.
    pub fn confirmed(&self) -> Option<ResourceState> {
        match &self.intent {
            Some(intent) if intent.first => None,
            _ => Some(ResourceState {
                intent: None,
                ..self.clone()
            }),
        }
    }

    /// Objects that may be live without being confirmed.
    pub fn unconfirmed_objects(&self) -> &[ObjectRef] {
        self.intent.as_ref().map_or(&[], |i| i.objects.as_slice())
    }
}

/// The identity of one applied Kubernetes object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

impl State {
    /// A new, empty state with a fresh salt.
    pub fn empty(stack: impl Into<String>) -> State {
        State {
            version: FORMAT_VERSION,
            stack: stack.into(),
            serial: 0,
            salt: fresh_salt(),
            identity: fresh_salt(),
            resources: BTreeMap::new(),
            forgotten: BTreeSet::new(),
            params: BTreeMap::new(),
            outputs: BTreeMap::new(),
        }
    }
}

impl State {
    /// `params` as the state keeps them: each value a salted hash.
    pub fn hashed_params(&self, params: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        salted_params(params, &self.salt)
    }

    /// Records `params` as those of the last run; true when they differ
    /// from what was recorded.
    pub fn record_params(&mut self, params: &BTreeMap<String, String>) -> bool {
        let hashed = self.hashed_params(params);
        if self.params == hashed {
            return false;
        }
        self.params = hashed;
        true
    }
}

/// Why a state could not be read.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StateError {
    #[error("cannot read the state file {}", path.display())]
    #[diagnostic(code(stack::state::read))]
    Read {
        path: PathBuf,
        #[source]
        source: crate::input::InputError,
    },
    #[error("the state file {} is not valid", path.display())]
    #[diagnostic(
        code(stack::state::invalid),
        help("restore it from a backup or version control; it is plain JSON")
    )]
    Invalid {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("the state file {} is missing, and its journal {} is there", path.display(), journal.display())]
    #[diagnostic(
        code(stack::state::journal_without_state),
        help("the journal only holds what changed since the state file was written: restore the state file from a backup or version control. To start the stack afresh, remove the journal too")
    )]
    JournalWithoutState { path: PathBuf, journal: PathBuf },
    #[error("the state file {} has format version {found}; this stack reads version {FORMAT_VERSION}", path.display())]
    #[diagnostic(
        code(stack::state::version),
        help("use a stack release that knows this format")
    )]
    Version { path: PathBuf, found: u32 },
    #[error("the state file {} belongs to stack `{found}`, not `{stack}`", path.display())]
    #[diagnostic(
        code(stack::state::other_stack),
        help("each stack has its own state: pass that stack's `--state`, or none for the default")
    )]
    OtherStack {
        path: PathBuf,
        found: String,
        stack: String,
    },
    #[error("cannot write the state to {}", path.display())]
    #[diagnostic(
        code(stack::state::write),
        help("check that the directory exists and is writable; the previous state is intact")
    )]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the state of `{stack}` is locked by {holder}")]
    #[diagnostic(
        code(stack::state::locked),
        help("another run is working on this stack: wait for it to finish. If it is gone, run again with `--force-unlock`")
    )]
    Locked {
        stack: String,
        holder: Box<LockInfo>,
    },
    #[error("the state of `{stack}` is locked, and its lock file {} cannot be read", path.display())]
    #[diagnostic(
        code(stack::state::lock_unreadable),
        help("a run may be writing it, or it was left broken: if no other run is working on this stack, run again with `--force-unlock`")
    )]
    LockUnreadable { stack: String, path: PathBuf },
    #[error("refused to break the lock of `{stack}`: {holder} is still running")]
    #[diagnostic(
        code(stack::state::still_running),
        help("`--force-unlock` breaks only the lock of a run that is gone: let that run finish, or stop it first")
    )]
    StillRunning {
        stack: String,
        holder: Box<LockInfo>,
    },
    #[error("cannot take the state lock {}", path.display())]
    #[diagnostic(code(stack::state::lock))]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the state backend failed: {message}")]
    #[diagnostic(code(stack::state::backend))]
    Backend {
        message: String,
        #[help]
        help: Option<String>,
    },
}

impl State {
    /// Gives a state read from before identities existed its identity;
    /// true when it had none (it must be saved before anything carries it).
    pub fn ensure_identity(&mut self) -> bool {
        if self.identity.is_empty() {
            self.identity = fresh_salt();
            return true;
        }
        false
    }
}

/// A salt that differs between states: time, process and address entropy
/// through the standard library's randomly keyed hasher.
/// Each parameter's value as a hash salted with `salt`: a parameter may be
/// a secret, so its value is never kept.
pub fn salted_params(params: &BTreeMap<String, String>, salt: &str) -> BTreeMap<String, String> {
    params
        .iter()
        .map(|(name, value)| {
            let hash = crate::value::Secret::new("param", value.clone()).salted_hash(salt);
            (name.clone(), hash)
        })
        .collect()
}

fn fresh_salt() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::new();
    for round in 0..2u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(round);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        h.write_u32(std::process::id());
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

/// A confirmed namespace record, for the tests of how states are kept.
#[cfg(test)]
pub(crate) fn namespace_record(name: &str) -> (ResourceId, ResourceState) {
    let record = ResourceState {
        kind: Kind::Namespace,
        inputs_hash: name.into(),
        inputs: serde_json::json!({}),
        outputs: BTreeMap::new(),
        objects: Vec::new(),
        depends_on: Vec::new(),
        cluster: None,
        direct: false,
        deleting: false,
        intent: None,
        moved_from: None,
    };
    (ResourceId::of(Kind::Namespace, Some("c"), name), record)
}

/// Where a stack script's state lives by default.
pub fn path_for(script: &Path, stack: &str) -> PathBuf {
    default_path(script, stack)
}
