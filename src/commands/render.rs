//! `stack render FILE --out DIR`: the GitOps layout, byte for byte the same
//! on every run; `--out -` prints it as one YAML stream.

use std::path::Path;

use stack_engine::render;

use crate::cli::StackArgs;
use crate::context::Context;
use crate::failure::Failure;
use crate::load;

pub fn run(
    context: &Context,
    args: &StackArgs,
    out: &Path,
    repo_url: Option<&str>,
) -> Result<String, Failure> {
    let graph = load::pinned_graph(context, args)?;
    let state = context.connect(args, &graph).load(context)?;
    let rendered = render::render(&graph, Some(&state), repo_url).map_err(|e| match e {
        render::RenderError::Write { .. } => Failure::runtime(e),
        other => Failure::usage(other),
    })?;
    if out == Path::new("-") {
        for note in &rendered.notes {
            eprintln!("note: {note}");
        }
        return Ok(render::stream(&rendered));
    }
    let written = render::write(&rendered, out).map_err(Failure::runtime)?;
    let mut report = format!(
        "Rendered {} file{} into {}:\n",
        written.len(),
        if written.len() == 1 { "" } else { "s" },
        out.display()
    );
    for path in &written {
        report.push_str(&format!("  {}\n", path.display()));
    }
    for note in &rendered.notes {
        report.push_str(&format!("note: {note}\n"));
    }
    Ok(report)
}
