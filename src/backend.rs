//! Which state backend a command uses: `--state PATH`, else what the
//! script chose with `state(...)`, else the local file next to the script.

use std::sync::Arc;

use serde_json::Value as Json;
use stack_engine::declarations::StateConfig;
use stack_engine::objects::KnownOutputs;
use stack_engine::provider::ClusterTarget;
use stack_engine::state::{LocalBackend, StateBackend};
use stack_engine::{Graph, Value};
use stack_providers::kubernetes::client::Clients;
use stack_providers::KubernetesStateBackend;

use crate::cli::StackArgs;
use crate::load;

pub fn for_stack(args: &StackArgs, graph: &Graph, clients: Arc<Clients>) -> Box<dyn StateBackend> {
    let stack = graph.declarations.stack.clone();
    if args.state.is_some() {
        return Box::new(LocalBackend::new(load::state_path(args, &stack), stack));
    }
    match &graph.declarations.state {
        Some(StateConfig::Kubernetes {
            cluster,
            cluster_inputs,
            namespace,
            ..
        }) => {
            let resolve = KnownOutputs { graph, state: None };
            let inputs = Value::Map(cluster_inputs.clone())
                .materialize(&resolve)
                .unwrap_or(Json::Null);
            let target = ClusterTarget::new(cluster.clone(), inputs, Default::default());
            Box::new(KubernetesStateBackend::with_clients(
                target,
                clients,
                namespace.clone(),
                stack,
            ))
        }
        Some(StateConfig::Local {
            path: Some(path), ..
        }) => Box::new(LocalBackend::new(
            load::stack_dir(&args.file).join(path),
            stack,
        )),
        _ => Box::new(LocalBackend::new(load::state_path(args, &stack), stack)),
    }
}
