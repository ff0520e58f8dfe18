//! `stack diff FILE`: what `stack run` would change in each object, against
//! what is there now, as `kubectl diff` shows it — on a cluster delivered
//! directly, the live object against a server-side dry run of the apply;
//! on a GitOps cluster, the file in its repository against the file a run
//! would write. Secret data is shown only as changed. Nothing is written.

use std::collections::HashSet;
use std::fmt::Write;
use std::process::ExitCode;

use serde_json::{json, Value as Json};
use stack_engine::plan::Style;
use stack_engine::provider::{ClusterTarget, Drift, Router};
use stack_engine::ResourceId;

use crate::cli::{OutputFormat, StackArgs};
use crate::context::Context;
use crate::failure::Failure;
use crate::resource_failed::ResourceFailed;
use crate::{load, style};

pub fn run(
    context: &Context,
    args: &StackArgs,
    output: OutputFormat,
    detailed_exitcode: bool,
    targets: &[ResourceId],
) -> Result<ExitCode, Failure> {
    let graph = load::planned_graph(context, args)?;
    let connection = context.connect(args, &graph);
    let state = connection.load(context)?;
    let selection = load::selection(&graph, &state, targets)?;
    let selected: Vec<&stack_engine::Resource> = graph
        .resources()
        .iter()
        .filter(|r| selection.as_ref().is_none_or(|keep| keep.contains(&r.id)))
        .collect();
    // A cluster not created yet, or out of reach, has nothing live to
    // compare: its resources are named instead (GitOps files are compared
    // without the cluster).
    let mut answering: std::collections::BTreeMap<ResourceId, bool> = Default::default();
    let mut which: HashSet<&ResourceId> = HashSet::new();
    let mut unreached: std::collections::BTreeSet<&ResourceId> = Default::default();
    for resource in &selected {
        let Some(cluster) = &resource.cluster else {
            which.insert(&resource.id);
            continue;
        };
        let target = ClusterTarget::recorded(&state, cluster);
        let in_git = target.as_ref().is_some_and(|t| t.delivery() == "gitops")
            && !graph.applied_directly(&resource.id);
        let answers = match answering.get(cluster) {
            Some(answers) => *answers,
            None => {
                let answers = match &target {
                    Some(target) => context.block_on(connection.router.answers(target))?,
                    None => false,
                };
                answering.insert(cluster.clone(), answers);
                answers
            }
        };
        if answers || in_git || resource.kind == stack_engine::Kind::Cluster {
            which.insert(&resource.id);
        } else {
            unreached.insert(cluster);
        }
    }
    for cluster in &unreached {
        eprintln!(
            "{} {cluster} cannot be reached (not created yet, or out of reach): what runs on it is not compared; `stack plan` shows what a run would do there",
            style::stderr_style().yellow("note:")
        );
    }
    let parallelism = stack_engine::execute::ExecuteOptions::default().parallelism;
    let executor = crate::refresh::quiet_executor(
        &graph,
        &connection.router,
        connection.backend.as_ref(),
        parallelism,
    );
    let found = context
        .block_on(executor.live_differences(&which, &state))?
        .map_err(|(id, error)| Failure::runtime(ResourceFailed::new(&graph, &id, &error)))?;
    // In graph order, as a plan lists them.
    let differences: Vec<(&ResourceId, &Vec<Drift>)> = graph
        .in_order()
        .filter_map(|r| found.get(&r.id).map(|d| (&r.id, d)))
        .collect();
    match output {
        OutputFormat::Text => print!(
            "{}",
            text(&differences, !unreached.is_empty(), style::stdout_style())
        ),
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&as_json(&differences)).unwrap_or_default()
        ),
    }
    let code = if detailed_exitcode && !differences.is_empty() {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    };
    load::keep_until_exit((graph, state));
    Ok(code)
}

fn text(differences: &[(&ResourceId, &Vec<Drift>)], partial: bool, style: Style) -> String {
    let mut out = String::new();
    if differences.is_empty() {
        out.push_str(if partial {
            "No differences in what could be compared.\n"
        } else {
            "No differences: every object is as `stack run` would leave it.\n"
        });
        return out;
    }
    for (id, drifts) in differences {
        let mut object = "";
        for drift in drifts.iter() {
            if drift.object != object {
                object = &drift.object;
                let _ = writeln!(out, "{}", style.bold(&format!("{object}  ({id})")));
            }
            write_drift(&mut out, drift, style);
        }
    }
    let objects: HashSet<(&ResourceId, &str)> = differences
        .iter()
        .flat_map(|(id, drifts)| drifts.iter().map(move |d| (*id, d.object.as_str())))
        .collect();
    let _ = writeln!(
        out,
        "\n{} object{} of {} resource{} would change.",
        objects.len(),
        if objects.len() == 1 { "" } else { "s" },
        differences.len(),
        if differences.len() == 1 { "" } else { "s" }
    );
    out
}

/// One field: `-` what is there, `+` what a run leaves; a whole object
/// that is missing is shown whole.
fn write_drift(out: &mut String, drift: &Drift, style: Style) {
    let value = |v: &Json| {
        if drift.sensitive {
            "(sensitive)".to_string()
        } else {
            v.to_string()
        }
    };
    if drift.path.is_empty() {
        match (&drift.live, &drift.desired) {
            (None, Some(desired)) => {
                let _ = writeln!(out, "  {}", style.dim("not there: a run creates it"));
                let yaml = serde_yaml::to_string(desired).unwrap_or_default();
                for line in yaml.lines() {
                    let _ = writeln!(out, "  {}", style.green(&format!("+ {line}")));
                }
            }
            (live, desired) => {
                if let Some(live) = live {
                    let _ = writeln!(out, "  {}", style.red(&format!("- {}", value(live))));
                }
                if let Some(desired) = desired {
                    let _ = writeln!(out, "  {}", style.green(&format!("+ {}", value(desired))));
                }
            }
        }
        return;
    }
    if let Some(live) = &drift.live {
        let _ = writeln!(
            out,
            "  {}",
            style.red(&format!("- {}: {}", drift.path, value(live)))
        );
    }
    if let Some(desired) = &drift.desired {
        let _ = writeln!(
            out,
            "  {}",
            style.green(&format!("+ {}: {}", drift.path, value(desired)))
        );
    }
}

fn as_json(differences: &[(&ResourceId, &Vec<Drift>)]) -> Json {
    let entries: Vec<Json> = differences
        .iter()
        .flat_map(|(id, drifts)| {
            drifts.iter().map(move |d| {
                let mut entry = json!({
                    "resource": id.as_str(),
                    "object": d.object,
                    "path": d.path,
                    "sensitive": d.sensitive,
                });
                if !d.sensitive {
                    entry["live"] = d.live.clone().unwrap_or(Json::Null);
                    entry["desired"] = d.desired.clone().unwrap_or(Json::Null);
                }
                entry
            })
        })
        .collect();
    json!({ "format_version": 1, "differences": entries })
}
