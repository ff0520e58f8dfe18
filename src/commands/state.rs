//! `stack state list|show|rm|mv FILE ...`: what the state records, and the
//! two repairs made by hand. The script is evaluated first: it says where
//! the state lives and what is still declared. `rm` and `mv` hold the
//! state lock and change records only; nothing live is touched.

use std::process::ExitCode;

use serde_json::{json, Value as Json};
use stack_engine::plan::{self, FieldChange};
use stack_engine::state::{EditError, ObjectRef, ResourceState, State};
use stack_engine::{Graph, ResourceId};

use crate::cli::{OutputFormat, StackArgs, StateCommand};
use crate::context::{Connection, Context};
use crate::failure::Failure;
use crate::load;

pub fn run(context: &Context, command: &StateCommand) -> Result<ExitCode, Failure> {
    match command {
        StateCommand::List { stack, output } => {
            let (graph, connection) = open(context, stack)?;
            let state = connection.load(context)?;
            print!("{}", list(&graph, &state, *output));
        }
        StateCommand::Show { stack, id, output } => {
            let (graph, connection) = open(context, stack)?;
            let state = connection.load(context)?;
            let id = parse_id(id)?;
            let Some(record) = state.resources.get(&id) else {
                return Err(Failure::usage(state.not_recorded(&id)));
            };
            print!("{}", show(&graph, &id, record, *output));
        }
        StateCommand::Rm {
            stack,
            ids,
            force,
            force_unlock,
        } => {
            let (graph, connection) = open(context, stack)?;
            let ids = ids
                .iter()
                .map(|id| parse_id(id))
                .collect::<Result<Vec<_>, _>>()?;
            let removed = edit(context, &connection, *force_unlock, "state rm", |state| {
                state.remove_records(&ids, |id| graph.get(id).is_some(), *force)
            })?;
            for (id, _) in removed {
                println!("Removed `{id}` from the state; what it made is left as it is.");
            }
        }
        StateCommand::Mv {
            stack,
            from,
            to,
            force,
            force_unlock,
        } => {
            let (graph, connection) = open(context, stack)?;
            let (from, to) = (parse_id(from)?, parse_id(to)?);
            edit(context, &connection, *force_unlock, "state mv", |state| {
                state.move_record(&from, &to, |id| graph.get(id).is_some(), *force)
            })?;
            println!(
                "Moved `{from}` to `{to}` in the state; the next run applies it under its new id."
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn open(context: &Context, args: &StackArgs) -> Result<(Graph, Connection), Failure> {
    let graph = load::graph(args)?;
    let connection = context.connect(args, &graph);
    Ok((graph, connection))
}

fn parse_id(text: &str) -> Result<ResourceId, Failure> {
    ResourceId::try_from(text.to_string()).map_err(|reason| {
        Failure::usage(EditError::BadId {
            id: text.to_string(),
            reason,
        })
    })
}

/// Loads the state under its lock, applies `change`, and saves it whole;
/// a refused change saves nothing.
fn edit<T>(
    context: &Context,
    connection: &Connection,
    force_unlock: bool,
    operation: &str,
    change: impl FnOnce(&mut State) -> Result<T, EditError>,
) -> Result<T, Failure> {
    let backend = connection.backend.as_ref();
    context.block_on(connection.locked(operation, force_unlock, async {
        let mut state = backend.load().await.map_err(Failure::runtime)?;
        let done = change(&mut state).map_err(Failure::usage)?;
        backend.save(&state).await.map_err(Failure::runtime)?;
        Ok(done)
    }))?
}

/// How far a record got: applied, begun but not confirmed, being deleted,
/// or renamed and waiting for a run.
fn status(record: &ResourceState) -> &'static str {
    if record.deleting {
        "deleting"
    } else if record.confirmed().is_none() {
        "unfinished"
    } else if record.moved_from.is_some() {
        "moved"
    } else {
        "applied"
    }
}

fn list(graph: &Graph, state: &State, output: OutputFormat) -> String {
    match output {
        OutputFormat::Text => state.resources.keys().map(|id| format!("{id}\n")).collect(),
        OutputFormat::Json => {
            let resources: Vec<Json> = state
                .resources
                .iter()
                .map(|(id, record)| {
                    json!({
                        "id": id,
                        "kind": record.kind,
                        "cluster": record.cluster,
                        "declared": graph.get(id).is_some(),
                        "status": status(record),
                        "objects": record.objects.len(),
                    })
                })
                .collect();
            pretty(&json!({
                "stack": state.stack,
                "serial": state.serial,
                "resources": resources,
            }))
        }
    }
}

fn show(graph: &Graph, id: &ResourceId, record: &ResourceState, output: OutputFormat) -> String {
    let (inputs, outputs) = plan::recorded_fields(record);
    let declared = graph.get(id).is_some();
    let objects: Vec<String> = record.objects.iter().map(object_name).collect();
    match output {
        OutputFormat::Text => {
            let mut out = format!("{id}\n");
            let line = |name: &str, value: &str| format!("  {name:<10} {value}\n");
            out.push_str(&line("kind", record.kind.as_str()));
            if let Some(cluster) = &record.cluster {
                out.push_str(&line("cluster", cluster.as_str()));
            }
            out.push_str(&line("status", status(record)));
            out.push_str(&line(
                "declared",
                if declared {
                    "yes"
                } else {
                    "no (the next run deletes it)"
                },
            ));
            if let Some(from) = &record.moved_from {
                out.push_str(&line("moved from", from.as_str()));
            }
            if !record.depends_on.is_empty() {
                let needs: Vec<&str> = record.depends_on.iter().map(ResourceId::as_str).collect();
                out.push_str(&line("needs", &needs.join(", ")));
            }
            section(&mut out, "inputs", &inputs);
            section(&mut out, "outputs", &outputs);
            if !objects.is_empty() {
                out.push_str("  objects\n");
                for object in &objects {
                    out.push_str(&format!("      {object}\n"));
                }
            }
            out
        }
        OutputFormat::Json => pretty(&json!({
            "id": id,
            "kind": record.kind,
            "cluster": record.cluster,
            "declared": declared,
            "status": status(record),
            "moved_from": record.moved_from,
            "depends_on": record.depends_on,
            "inputs": inputs.iter().map(plan::field_json).collect::<Vec<_>>(),
            "outputs": outputs.iter().map(plan::field_json).collect::<Vec<_>>(),
            "objects": objects,
        })),
    }
}

/// `Deployment web/podinfo (apps/v1)`.
fn object_name(object: &ObjectRef) -> String {
    match &object.namespace {
        Some(namespace) => format!(
            "{} {namespace}/{} ({})",
            object.kind, object.name, object.api_version
        ),
        None => format!("{} {} ({})", object.kind, object.name, object.api_version),
    }
}

fn section(out: &mut String, name: &str, fields: &[FieldChange]) {
    if !fields.is_empty() {
        out.push_str(&format!("  {name}\n"));
        out.push_str(&plan::render_fields(fields));
    }
}

fn pretty(document: &Json) -> String {
    let mut out = serde_json::to_string_pretty(document).unwrap_or_default();
    out.push('\n');
    out
}
