//! The flow `run` and `destroy` share: lock the state, plan, show the plan,
//! confirm, execute with live progress, report, unlock.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use miette::Diagnostic;
use stack_engine::execute::{Cancel, ExecuteOptions, Executor, Outcome, Report};
use stack_engine::plan::{self, Plan};
use stack_engine::provider::{FinishNote, ProviderError};
use stack_engine::{Graph, ResourceId};

use crate::cli::ApplyArgs;
use crate::context::{Connection, Context};
use crate::failure::Failure;
use crate::progress::{self, Progress};
use crate::resource_failed::ResourceFailed;
use crate::style;

/// What changes things: `run` applies the script, `destroy` deletes what
/// the state records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Run,
    Destroy,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Run => "run",
            Operation::Destroy => "destroy",
        }
    }
}

/// A provider's end-of-run step that failed: the GitOps commit and push
/// of what the run rendered.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("the {provider} step at the end of the run failed: {message}")]
#[diagnostic(code(stack::run::finish))]
pub struct FinishFailed {
    provider: String,
    message: String,
    #[help]
    help: Option<String>,
}

impl FinishFailed {
    fn new(provider: &str, error: &ProviderError) -> FinishFailed {
        FinishFailed {
            provider: provider.to_string(),
            message: error.message(),
            help: error.help(),
        }
    }
}

/// `run` without a terminal and without `--yes`.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("`stack {operation}` changes things and there is no terminal to confirm on")]
#[diagnostic(code(stack::cli::confirm), help("pass `--yes` to confirm up front"))]
pub struct NeedsYes {
    operation: &'static str,
}

/// Asks on the terminal; true only for `yes`.
fn confirm(operation: Operation, stack: &str) -> bool {
    eprint!(
        "\n{} the changes above to stack `{stack}`? Only `yes` goes ahead: ",
        match operation {
            Operation::Destroy => "Destroy",
            Operation::Run => "Apply",
        }
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    answer.trim() == "yes"
}

pub struct Apply<'a> {
    pub operation: Operation,
    pub graph: Graph,
    pub connection: Connection,
    pub args: &'a ApplyArgs,
    /// `--target`: what the run is narrowed to.
    pub targets: Vec<ResourceId>,
    /// `run PLAN`: the plan it must be.
    pub saved: Option<crate::saved_plan::SavedPlan>,
}

impl Apply<'_> {
    pub fn execute(self, context: &Context) -> Result<ExitCode, Failure> {
        context.block_on(self.run())?
    }

    async fn run(self) -> Result<ExitCode, Failure> {
        self.connection
            .locked(
                self.operation.as_str(),
                self.args.force_unlock,
                self.locked(),
            )
            .await
    }

    async fn locked(&self) -> Result<ExitCode, Failure> {
        let (router, backend) = (&self.connection.router, self.connection.backend.as_ref());
        let out = style::stdout_style();
        let mut state = backend.load().await.map_err(Failure::runtime)?;
        if let Some(saved) = &self.saved {
            saved
                .check_inputs(&self.graph, &state)
                .map_err(Failure::usage)?;
        }
        if self.operation == Operation::Destroy || self.args.refresh {
            crate::refresh::fold_unrecorded(&self.graph, &mut state, router).await;
        }
        let parallelism = usize::from(self.args.parallelism);
        let selection = crate::load::selection(&self.graph, &state, &self.targets)?;
        let mut plan: Plan = plan::plan(&self.graph, &state);
        if let Some(selected) = &selection {
            plan = plan.only(selected);
        }
        if self.args.refresh {
            plan = crate::refresh::refresh(&self.graph, plan, &state, router, backend, parallelism)
                .await?;
        }
        let plan =
            crate::preflight::preflight(&self.graph, plan, &state, router, backend, parallelism)
                .await?;
        crate::protection::refuse_protected(&self.graph, &plan, &state)?;
        if let Some(saved) = &self.saved {
            saved.check_plan(&plan).map_err(Failure::usage)?;
        }
        if self.operation == Operation::Destroy && !plan.has_changes() {
            println!(
                "Nothing to destroy: the state of stack `{}` records nothing.",
                plan.stack
            );
        } else {
            print!("{}", plan::render_text(&plan, out, self.args.view.detail()));
        }
        if !plan.has_changes() {
            if self.operation == Operation::Run {
                println!("Nothing to do.");
            }
            let params = &self.graph.declarations.params;
            let outputs = stack_engine::stack_outputs::resolve(&self.graph, &state);
            if self.operation == Operation::Run
                && self.targets.is_empty()
                && (state.record_params(params) | state.record_outputs(outputs))
            {
                state.serial += 1;
                backend.save(&state).await.map_err(Failure::runtime)?;
            }
            if self.operation == Operation::Destroy && state.resources.is_empty() {
                backend.discard(&state).await.map_err(Failure::runtime)?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        // A saved plan was reviewed when it was made (`plan --out`).
        if !self.args.yes && self.saved.is_none() {
            if !terminal {
                return Err(Failure::usage(NeedsYes {
                    operation: self.operation.as_str(),
                }));
            }
            if !confirm(self.operation, &plan.stack) {
                eprintln!("Nothing was changed.");
                return Ok(ExitCode::from(1));
            }
        }
        let cancel = Cancel::default();
        let on_interrupt = cancel.clone();
        let progress = std::sync::Arc::new(Progress::new(
            style::stderr_style(),
            std::io::stderr().is_terminal(),
        ));
        let watching = progress.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                watching.interrupted();
                on_interrupt.cancel();
            }
        });
        let executor = Executor {
            graph: &self.graph,
            router,
            observer: progress.as_ref(),
            backend,
            options: ExecuteOptions {
                parallelism: usize::from(self.args.parallelism),
                selection,
                cancel: cancel.clone(),
                ..ExecuteOptions::default()
            },
        };
        let (mut report, state) = executor.run(&plan, state).await;
        // A destroy that removed everything leaves no state where a team
        // keeps it (the state Secret goes; its Lease goes with the lock).
        if self.operation == Operation::Destroy && !report.failed() && state.resources.is_empty() {
            if let Err(e) = backend.discard(&state).await {
                report.state_error = Some(e);
            }
        }
        let code = exit_code(&report);
        self.report(report);
        Ok(code)
    }

    fn report(&self, report: Report) {
        for entry in &report.resources {
            if let Outcome::Failed(error) = &entry.outcome {
                eprintln!(
                    "{:?}",
                    miette::Report::new(ResourceFailed::new(&self.graph, &entry.id, error))
                );
            }
        }
        for (provider, error) in &report.finish_errors {
            eprintln!(
                "{:?}",
                miette::Report::new(FinishFailed::new(provider, error))
            );
        }
        let style = style::stderr_style();
        for note in &report.finish_notes {
            match note {
                FinishNote::Done(text) => eprintln!("{text}"),
                FinishNote::Note(text) => eprintln!("{} {text}", style.bold("note:")),
                FinishNote::Warning(text) => eprintln!("{} {text}", style.yellow("warning:")),
            }
        }
        eprintln!("{}", progress::summary(&report, style));
        if let Some(e) = report.state_error {
            eprintln!("{:?}", miette::Report::new(e));
        }
    }
}

fn exit_code(report: &Report) -> ExitCode {
    if report.cancelled {
        ExitCode::from(130)
    } else if report.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
