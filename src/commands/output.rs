//! `stack output FILE [NAME]`: the stack's outputs as the last whole run
//! recorded them, for people (`name = value`) and pipelines (`-o json`, or
//! one NAME printed bare, as `terraform output -raw` does).

use std::process::ExitCode;

use serde_json::{json, Value as Json};

use crate::cli::{OutputFormat, StackArgs};
use crate::context::Context;
use crate::failure::Failure;
use crate::load;

/// An output the script does not declare, or one no run has recorded.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum OutputError {
    #[error("the stack declares no output `{name}`")]
    #[diagnostic(code(stack::output::unknown))]
    Unknown {
        name: String,
        #[help]
        help: Option<String>,
    },
    #[error("output `{name}` has no recorded value")]
    #[diagnostic(
        code(stack::output::not_recorded),
        help("outputs are recorded by a whole `stack run` that finishes without a failure")
    )]
    NotRecorded { name: String },
}

pub fn run(
    context: &Context,
    args: &StackArgs,
    name: Option<&str>,
    format: OutputFormat,
) -> Result<ExitCode, Failure> {
    let graph = load::graph(args)?;
    let state = context.connect(args, &graph).load(context)?;
    let declared = &graph.declarations.outputs;
    if let Some(name) = name {
        if !declared.contains_key(name) {
            return Err(Failure::usage(OutputError::Unknown {
                name: name.to_string(),
                help: stack_engine::suggest::did_you_mean(
                    name,
                    declared.keys().map(String::as_str),
                ),
            }));
        }
        let Some(value) = state.outputs.get(name) else {
            return Err(Failure::runtime(OutputError::NotRecorded {
                name: name.to_string(),
            }));
        };
        match (format, value) {
            (OutputFormat::Text, Json::String(text)) => println!("{text}"),
            _ => println!("{value}"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    match format {
        OutputFormat::Text => {
            for name in declared.keys() {
                match state.outputs.get(name) {
                    Some(value) => println!("{name} = {value}"),
                    None => println!("{name} (not recorded yet)"),
                }
            }
        }
        OutputFormat::Json => {
            let outputs: serde_json::Map<String, Json> = declared
                .iter()
                .map(|(name, output)| {
                    let sensitive = output.sensitive || output.value.is_sensitive();
                    let entry = json!({
                        "value": if sensitive { Json::Null } else { state.outputs.get(name).cloned().unwrap_or(Json::Null) },
                        "recorded": state.outputs.contains_key(name),
                        "sensitive": sensitive,
                        "description": output.description,
                    });
                    (name.clone(), entry)
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&Json::Object(outputs)).unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
