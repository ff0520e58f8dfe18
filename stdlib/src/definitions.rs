//! Rhai definition files (`.d.rhai`) for editors: `stack definitions --out
//! DIR`. From the same metadata as `docs/reference.md` — each function's
//! signatures, summary and options, and each standard module's interfaces —
//! plus Rhai's own built-in functions and operators from the engine.

use std::fmt::Write;

use crate::evaluator::Evaluator;
use crate::functions::{FnDoc, DOCS};
use crate::module_docs::{literal, ModuleDoc};
use crate::modules::STD_MODULES;
use crate::schema::{Opt, Schema};

/// Every definition file: its path below the output directory, and its text.
pub fn files() -> Vec<(String, String)> {
    let mut evaluator =
        Evaluator::new("definitions", std::path::Path::new("."), Default::default());
    let mut files: Vec<(String, String)> = evaluator
        .engine()
        .definitions()
        .iter_files()
        .filter(|(name, _)| name.starts_with("__builtin"))
        .collect();
    files.push(("stack.d.rhai".to_string(), stdlib()));
    for (name, _) in STD_MODULES {
        let path = format!("std/{name}");
        if let Ok(doc) = evaluator.module_doc(&path) {
            files.push((format!("std/{name}.d.rhai"), module(&doc)));
        }
    }
    files
}

/// The standard library's functions.
fn stdlib() -> String {
    let mut out = String::from(
        "module static;\n\n// The functions of the stack standard library (`stack reference`).\n",
    );
    for doc in DOCS {
        function(&mut out, doc);
    }
    out
}

fn function(out: &mut String, doc: &FnDoc) {
    out.push('\n');
    comment(out, doc.summary);
    if let Some(schema) = doc.schema {
        options(out, schema);
    }
    if let Some(kind) = doc.kind {
        let outputs: Vec<&str> = kind.outputs().iter().map(|o| o.name).collect();
        let _ = writeln!(
            out,
            "///\n/// Handle properties: id, {}.",
            outputs.join(", ")
        );
    }
    for signature in doc.signatures {
        let _ = writeln!(out, "fn {};", typed(signature));
    }
}

fn options(out: &mut String, schema: &Schema) {
    let line = |out: &mut String, o: &Opt| {
        let default = match (o.required, o.default) {
            (true, _) => ", required".to_string(),
            (false, Some(d)) => format!(", default {d}"),
            (false, None) => String::new(),
        };
        let _ = writeln!(
            out,
            "/// - `{}` ({}{default}): {}",
            o.name,
            o.ty.describe(),
            o.doc
        );
    };
    out.push_str("///\n/// Options:\n");
    for o in schema.common {
        line(out, o);
    }
    for (key, variants) in schema.variants.iter() {
        for (variant, opts) in variants.iter() {
            let _ = writeln!(out, "///\n/// With `{key}: \"{variant}\"`:");
            for o in opts.iter() {
                line(out, o);
            }
        }
    }
}

/// A standard module: its header as module documentation, and each entry
/// point with its options.
fn module(doc: &ModuleDoc) -> String {
    let mut out = format!("module {};\n\n", doc.name);
    for line in doc.prose.lines() {
        let _ = writeln!(out, "{}", format!("//! {line}").trim_end());
    }
    for entry in &doc.entries {
        out.push('\n');
        let interface = &entry.interface;
        let _ = writeln!(out, "/// Options of `{}`:", interface.module);
        for option in &interface.options {
            let default = if option.required {
                "required".to_string()
            } else {
                format!("default {}", literal(&option.default))
            };
            let _ = writeln!(
                out,
                "/// - `{}` ({}, {default}): {}",
                option.name,
                option.shape.describe(),
                option.doc
            );
        }
        if !interface.returns.is_empty() {
            out.push_str("///\n/// Returns a map:\n");
            for (field, meaning) in &interface.returns {
                let _ = writeln!(out, "/// - `{field}`: {meaning}");
            }
        }
        match &entry.signature {
            Some(signature) => {
                let returns = if interface.returns.is_empty() {
                    "?"
                } else {
                    "Map"
                };
                let params = signature
                    .split_once('(')
                    .map(|(name, rest)| (name, rest.trim_end_matches(')')));
                if let Some((name, params)) = params {
                    let params: Vec<String> = params
                        .split(',')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(|p| format!("{p}: {}", if p == "opts" { "Map" } else { "?" }))
                        .collect();
                    let _ = writeln!(out, "fn {name}({}) -> {returns};", params.join(", "));
                }
            }
            None => {
                let _ = writeln!(out, "const {}: Interface;", entry.constant);
            }
        }
    }
    out
}

/// Doc-comment lines of `text`, wrapped near 90 columns.
fn comment(out: &mut String, text: &str) {
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + word.len() > 90 {
            let _ = writeln!(out, "/// {line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "/// {line}");
    }
}

/// A reference signature (`namespace(cluster: cluster handle, name: string)
/// -> namespace handle`) with Rhai type names (`Handle`, `String`, `Map`;
/// `?` for what takes several).
fn typed(signature: &str) -> String {
    let (call, returns) = match signature.split_once(" -> ") {
        Some((call, returns)) => (call, Some(returns)),
        None => (signature, None),
    };
    let (name, params) = call
        .split_once('(')
        .map_or((call, ""), |(n, p)| (n, p.trim_end_matches(')')));
    let params: Vec<String> = params
        .split(", ")
        .map(str::trim)
        .filter(|p| !p.is_empty() && *p != "...")
        .map(|p| match p.split_once(": ") {
            Some((param, ty)) => format!("{param}: {}", type_name(ty)),
            None => format!("{p}: ?"),
        })
        .collect();
    let returns = returns.map_or("()".to_string(), type_name);
    format!("{name}({}) -> {returns}", params.join(", "))
}

fn type_name(phrase: &str) -> String {
    match phrase.trim() {
        "string" | "secret string" => "String".into(),
        "map" => "Map".into(),
        "bool" => "bool".into(),
        "integer" | "int" => "int".into(),
        "array" | "list" => "Array".into(),
        p if p.starts_with("array of") => "Array".into(),
        p if p.ends_with(" handle") || p == "handle" => "Handle".into(),
        "interface" => "Interface".into(),
        "option" => "Option".into(),
        _ => "?".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_get_rhai_type_names() {
        assert_eq!(
            typed(
                "namespace(cluster: cluster handle, name: string, opts: map) -> namespace handle"
            ),
            "namespace(cluster: Handle, name: String, opts: Map) -> Handle"
        );
        assert_eq!(
            typed("merge(a: map, b: map, ...) -> map"),
            "merge(a: Map, b: Map) -> Map"
        );
        assert_eq!(typed("moved(opts: map)"), "moved(opts: Map) -> ()");
        assert_eq!(
            typed("manifest(cluster: cluster handle, object_or_list, opts: map) -> handle(s)"),
            "manifest(cluster: Handle, object_or_list: ?, opts: Map) -> ?"
        );
    }

    #[test]
    fn every_function_and_standard_module_has_a_definition() {
        let files = files();
        let stack = &files
            .iter()
            .find(|(name, _)| name == "stack.d.rhai")
            .expect("stack.d.rhai")
            .1;
        for doc in DOCS {
            assert!(stack.contains(&format!("fn {}(", doc.name)), "{}", doc.name);
        }
        for (name, _) in STD_MODULES {
            let module = &files
                .iter()
                .find(|(file, _)| *file == format!("std/{name}.d.rhai"))
                .unwrap_or_else(|| panic!("std/{name}.d.rhai"))
                .1;
            assert!(
                module.starts_with(&format!("module std/{name};")),
                "{module}"
            );
        }
        assert!(files.iter().any(|(name, _)| name.starts_with("__builtin")));
    }
}
