//! `stack`: Kubernetes platforms as Rhai scripts.
//!
//! - `cli.rs` — commands and flags
//! - `load.rs` — evaluate → graph, shared by the commands
//! - `context.rs` — the runtime, providers and state backend, made once
//! - `commands/` — one file per command
//! - `failure.rs`, `style.rs` — exit codes, colour and diagnostics

mod apply;
mod backend;
mod cli;
mod command_docs;
mod commands;
mod context;
mod failure;
mod load;
mod params;
mod preflight;
mod progress;
mod protection;
mod refresh;
mod resource_failed;
mod saved_plan;
mod services_root;
mod style;
mod write_files;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use failure::Failure;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    style::choose(cli.color());
    style::install_diagnostics();
    match run(&context::Context::default(), cli.command) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("{:?}", failure.report);
            failure.exit_code()
        }
    }
}

fn run(context: &context::Context, command: Command) -> Result<ExitCode, Failure> {
    let print = |text: String| {
        print!("{text}");
        ExitCode::SUCCESS
    };
    match command {
        Command::Check { stack, output } => commands::check::run(&stack, output).map(print),
        Command::Plan {
            stack,
            output,
            detailed_exitcode,
            refresh,
            target,
            out,
            view,
        } => commands::plan::run(
            context,
            &stack,
            commands::plan::PlanArgs {
                output,
                detailed_exitcode,
                refresh,
                targets: &target.ids(),
                out: out.as_deref(),
                detail: view.detail(),
            },
        ),
        Command::Diff {
            stack,
            output,
            detailed_exitcode,
            target,
        } => commands::diff::run(context, &stack, output, detailed_exitcode, &target.ids()),
        Command::Run {
            stack,
            apply,
            target,
        } => commands::run::run(context, &stack, &apply, target.ids()),
        Command::Destroy {
            stack,
            apply,
            target,
        } => commands::destroy::run(context, &stack, &apply, target.ids()),
        Command::Render {
            stack,
            out,
            repo_url,
        } => commands::render::run(context, &stack, &out, repo_url.as_deref()).map(print),
        Command::Graph { stack, output } => commands::graph::run(&stack, output).map(print),
        Command::Output {
            stack,
            name,
            output,
        } => commands::output::run(context, &stack, name.as_deref(), output),
        Command::State { command } => commands::state::run(context, &command),
        Command::Init { dir } => commands::init::run(&dir).map(print),
        Command::Service { command } => commands::service::run(context, &command),
        Command::Definitions { out } => commands::definitions::run(&out).map(print),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "stack", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Repl { file, set, history } => {
            commands::repl::run(file, &set, history).map(|()| ExitCode::SUCCESS)
        }
        Command::Reference {
            commands: Some(dir),
            ..
        } => commands::reference::commands(&dir).map(print),
        Command::Reference { module: None, .. } => Ok(print(stack_stdlib::reference::markdown())),
        Command::Reference {
            module: Some(module),
            ..
        } => commands::reference::module(&module).map(print),
        Command::Docs { stack, out } => commands::docs::run(&stack, &out).map(print),
        Command::Test { path } => commands::test::run(path.as_deref()),
        Command::Modules { command } => commands::modules::run(&command).map(print),
    }
}
