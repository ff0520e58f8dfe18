//! `stack definitions --out DIR`: Rhai definition files (`.d.rhai`) for
//! editors and language servers: the standard library's functions with
//! their options, each standard module's entry points, and Rhai's own
//! built-ins.

use std::path::Path;

use crate::failure::Failure;

pub fn run(out: &Path) -> Result<String, Failure> {
    let files = stack_stdlib::definitions::files();
    let mut report = format!(
        "Wrote {} definition files into {}:\n",
        files.len(),
        out.display()
    );
    for path in crate::write_files::write_files(out, &files)? {
        report.push_str(&format!("  {}\n", path.display()));
    }
    Ok(report)
}
