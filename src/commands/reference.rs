//! `stack reference MODULE`: one module's options, defaults, types and
//! returns, read from the module itself (std, relative or git); `stack
//! reference --commands DIR`: a page per command.

use std::collections::BTreeMap;
use std::path::Path;

use stack_stdlib::lockfile::LockPolicy;
use stack_stdlib::Evaluator;

use crate::failure::Failure;

pub fn module(path: &str) -> Result<String, Failure> {
    // Relative modules are found from the current directory, and a git
    // module is read at what `stack.lock` there pins, without writing it.
    let mut evaluator = Evaluator::new("reference", Path::new("."), BTreeMap::new());
    evaluator.session().borrow_mut().lock_policy = LockPolicy::ReadOnly;
    let doc = evaluator.module_doc(path).map_err(Failure::usage)?;
    Ok(doc.markdown(1))
}

/// Writes `docs/commands`-style pages into `dir`.
pub fn commands(dir: &Path) -> Result<String, Failure> {
    let pages = crate::command_docs::pages(<crate::cli::Cli as clap::CommandFactory>::command());
    crate::write_files::write_files(dir, &pages)?;
    Ok(format!(
        "Wrote {} command pages into {}.\n",
        pages.len(),
        dir.display()
    ))
}
