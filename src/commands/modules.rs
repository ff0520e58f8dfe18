//! `stack modules lock|update|vendor|outdated FILE`: the git modules a stack
//! imports, pinned in `stack.lock` beside it.

use std::fmt::Write;
use std::path::Path;

use stack_stdlib::git_import::GitImport;
use stack_stdlib::lockfile::{Lock, LockPolicy, FILE_NAME};

use crate::cli::{ModulesCommand, StackArgs};
use crate::failure::Failure;
use crate::load;

pub fn run(command: &ModulesCommand) -> Result<String, Failure> {
    match command {
        ModulesCommand::Lock(stack) => lock(stack, LockPolicy::Extend),
        ModulesCommand::Update { stack, module } => {
            let url = module.as_deref().map(|m| {
                GitImport::parse(m)
                    .map(|i| i.url)
                    .unwrap_or_else(|_| m.to_string())
            });
            lock(stack, LockPolicy::Update(url))
        }
        ModulesCommand::Vendor(stack) => vendor(stack),
        ModulesCommand::Outdated { file } => outdated(file),
    }
}

/// Evaluates the stack so that every import is resolved, then lists the lock.
fn lock(stack: &StackArgs, policy: LockPolicy) -> Result<String, Failure> {
    let before = Lock::load(stack_dir(&stack.file)).map_err(Failure::usage)?;
    load::graph_with(stack, policy)?;
    let after = Lock::load(stack_dir(&stack.file)).map_err(Failure::usage)?;
    let mut out = String::new();
    let mut count = 0;
    for entry in after.entries() {
        count += 1;
        let was = before.get(&entry.url, &entry.path, &entry.reference);
        let change = match was {
            None => " (new)".to_string(),
            Some(w) if w.commit != entry.commit => format!(" (was {})", short(&w.commit)),
            Some(_) => String::new(),
        };
        let _ = writeln!(
            out,
            "  {}//{}?ref={}  {} {}{change}",
            entry.url,
            entry.path,
            entry.reference,
            entry
                .resolved
                .trim_start_matches("refs/tags/")
                .trim_start_matches("refs/heads/"),
            short(&entry.commit),
        );
    }
    let header = if count == 0 {
        "The stack imports no git modules.\n".to_string()
    } else {
        format!(
            "{} locks {count} module file{}:\n",
            after.path().display(),
            if count == 1 { "" } else { "s" }
        )
    };
    Ok(header + out.as_str())
}

fn vendor(stack: &StackArgs) -> Result<String, Failure> {
    load::graph(stack)?;
    let files = stack_stdlib::vendor::vendor(stack_dir(&stack.file)).map_err(Failure::usage)?;
    Ok(format!(
        "{} holds {files} module file{} of {FILE_NAME}.\n",
        stack_stdlib::vendor::DIR,
        if files == 1 { "" } else { "s" }
    ))
}

fn outdated(file: &Path) -> Result<String, Failure> {
    let rows = stack_stdlib::outdated::outdated(stack_dir(file)).map_err(Failure::usage)?;
    if rows.is_empty() {
        return Ok(format!("No {FILE_NAME} pins a git module.\n"));
    }
    let mut out = String::new();
    for row in rows {
        let news = match (&row.in_range, &row.latest) {
            (None, None) => "up to date".to_string(),
            (Some(r), None) => format!("{r} within {}", row.reference),
            (None, Some(l)) => format!("{l} beyond {}", row.reference),
            (Some(r), Some(l)) => format!("{r} within {}, {l} beyond it", row.reference),
        };
        let _ = writeln!(
            out,
            "  {} ?ref={}  locked {}  {news}",
            row.url, row.reference, row.locked
        );
    }
    Ok(out)
}

fn stack_dir(file: &Path) -> &Path {
    file.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}
