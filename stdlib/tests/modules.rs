//! The standard module library: every file in `modules/` is embedded, every
//! embedded module evaluates, and the generated reference is up to date.

use std::collections::BTreeMap;
use std::path::PathBuf;

use stack_stdlib::modules::STD_MODULES;
use stack_stdlib::Evaluator;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn every_module_file_is_embedded() {
    let mut on_disk: Vec<String> = std::fs::read_dir(repo().join("modules"))
        .expect("modules/ exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rhai"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    on_disk.sort();
    let mut embedded: Vec<String> = STD_MODULES.iter().map(|(n, _)| n.to_string()).collect();
    embedded.sort();
    assert_eq!(on_disk, embedded, "modules/ and STD_MODULES disagree");
}

#[test]
fn every_module_evaluates_and_exports_install() {
    for (name, _) in STD_MODULES {
        let mut evaluator = Evaluator::new("modules", &repo(), BTreeMap::new());
        let script = format!("import \"std/{name}\" as m;");
        if let Err(e) = evaluator.eval_text("check.rhai", None, &script) {
            panic!("std/{name} does not evaluate: {:?}", miette::Report::new(e));
        }
        let text = stack_stdlib::modules::std_module(name).unwrap_or_default();
        assert!(
            text.contains("fn install("),
            "std/{name} exports no install(cluster, opts)"
        );
        assert!(
            text.starts_with("//"),
            "std/{name} starts without a header comment"
        );
    }
}

#[test]
fn the_reference_in_docs_is_up_to_date() {
    let path = repo().join("docs").join("reference.md");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = stack_stdlib::reference::markdown();
    assert!(
        on_disk == generated,
        "docs/reference.md is out of date: regenerate it with `cargo run -q -- reference > docs/reference.md`"
    );
}

#[test]
fn every_module_declares_the_interface_of_install() {
    for (name, _) in STD_MODULES {
        let mut evaluator = Evaluator::new("modules", &repo(), BTreeMap::new());
        let doc = evaluator
            .module_doc(&format!("std/{name}"))
            .unwrap_or_else(|e| panic!("std/{name}: {:?}", miette::Report::new(e)));
        let install = doc
            .entries
            .iter()
            .find(|e| e.signature.as_deref() == Some("install(cluster, opts)"));
        let install = install.unwrap_or_else(|| panic!("std/{name} exports no INSTALL interface"));
        assert!(
            !install.interface.returns.is_empty(),
            "std/{name} does not say what install returns"
        );
        assert!(
            install.interface.options.iter().all(|o| !o.doc.is_empty()),
            "std/{name} has an option without a doc"
        );
    }
}

#[test]
fn the_module_pages_in_docs_are_up_to_date() {
    for (name, _) in STD_MODULES {
        let path = repo()
            .join("docs")
            .join("modules")
            .join(format!("{name}.md"));
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        let mut evaluator = Evaluator::new("modules", &repo(), BTreeMap::new());
        let generated = evaluator
            .module_doc(&format!("std/{name}"))
            .map(|d| d.markdown(1))
            .unwrap_or_default();
        assert!(
            on_disk == generated,
            "docs/modules/{name}.md is out of date: regenerate it with `cargo run -q -- reference std/{name} > docs/modules/{name}.md`"
        );
    }
}
