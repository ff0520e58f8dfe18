//! The stack's outputs (`output(name, value)`), as a run records them: each
//! value resolved from what the state holds, a secret (or one that holds a
//! secret, or declared `sensitive`) only as `(sensitive)`, and one whose
//! value is not known (its resource failed) left out.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::graph::Graph;
use crate::objects::KnownOutputs;
use crate::state::State;

/// The outputs `graph` declares, resolved against `state`.
pub fn resolve(graph: &Graph, state: &State) -> BTreeMap<String, Json> {
    let known = KnownOutputs {
        graph,
        state: Some(state),
    };
    graph
        .declarations
        .outputs
        .iter()
        .filter_map(|(name, output)| {
            let value = if output.sensitive || output.value.is_sensitive() {
                Json::String(crate::value::SENSITIVE.into())
            } else {
                output.value.materialize(&known).ok()?
            };
            Some((name.clone(), value))
        })
        .collect()
}

impl State {
    /// Records the stack's outputs of the last run; true when they changed.
    pub fn record_outputs(&mut self, outputs: BTreeMap<String, Json>) -> bool {
        if self.outputs == outputs {
            return false;
        }
        self.outputs = outputs;
        true
    }
}
