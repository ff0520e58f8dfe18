//! The stdlib reference (`docs/reference.md`), generated from the schemas
//! and doc entries of the bindings. A test fails when the file drifts.

use std::fmt::Write;

use crate::functions::{FnDoc, DOCS};
use crate::modules::STD_MODULES;
use crate::schema::Schema;

fn options_table(out: &mut String, schema: &Schema) {
    let row = |out: &mut String, o: &crate::schema::Opt| {
        let default = match (o.required, o.default) {
            (true, _) => "required".to_string(),
            (false, Some(d)) => format!("`{d}`"),
            (false, None) => "—".to_string(),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            o.name,
            o.ty.describe(),
            default,
            o.doc
        );
    };
    let _ = writeln!(
        out,
        "| option | type | default | meaning |\n|---|---|---|---|"
    );
    for o in schema.common {
        row(out, o);
    }
    if let Some((key, variants)) = schema.variants {
        for (variant, opts) in variants {
            let _ = writeln!(out, "\nWith `{key}: \"{variant}\"`:\n");
            let _ = writeln!(
                out,
                "| option | type | default | meaning |\n|---|---|---|---|"
            );
            for o in *opts {
                row(out, o);
            }
        }
    }
}

fn entry(out: &mut String, doc: &FnDoc) {
    let _ = writeln!(out, "## `{}`\n", doc.name);
    let _ = writeln!(out, "```rhai");
    for s in doc.signatures {
        let _ = writeln!(out, "{s}");
    }
    let _ = writeln!(out, "```\n\n{}\n", doc.summary);
    if let Some(schema) = doc.schema {
        options_table(out, schema);
        let _ = writeln!(out);
    }
    if let Some(kind) = doc.kind {
        let outputs: Vec<String> = kind
            .outputs()
            .iter()
            .map(|o| {
                if o.secret {
                    format!("`{}` (sensitive)", o.name)
                } else {
                    format!("`{}`", o.name)
                }
            })
            .collect();
        let _ = writeln!(out, "Handle properties: `id`, {}.\n", outputs.join(", "));
    }
    let _ = writeln!(out, "```rhai\n{}\n```\n", doc.example);
}

/// The whole reference as Markdown.
pub fn markdown() -> String {
    let mut out = String::from(
        "<!-- Generated from the stdlib bindings by `stack reference`; do not edit. -->\n\
         # Standard library reference\n\n\
         Every declaration takes an options map. Unknown options and wrong types are errors that point at the option.\n\
         Reading a handle property gives its value when it is known at evaluation (a cluster's `name`), and otherwise\n\
         an output shown as `(known after apply)`; passing either into another declaration makes that declaration\n\
         depend on the handle.\n\n",
    );
    for doc in DOCS {
        entry(&mut out, doc);
    }
    let _ = writeln!(
        out,
        "## Standard modules\n\nEach module's options, defaults and returns: `stack reference std/<name>`, or the pages below.\n"
    );
    for (name, text) in STD_MODULES {
        let summary = text
            .lines()
            .take_while(|l| l.starts_with("//"))
            .map(|l| l.trim_start_matches('/').trim())
            .find(|l| !l.is_empty())
            .unwrap_or("");
        let _ = writeln!(out, "- [`std/{name}`](modules/{name}.md) — {summary}");
    }
    out
}
