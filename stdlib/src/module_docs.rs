//! A module's reference, generated from the module itself: the prose of its
//! header comment and every interface it exports (`stack reference
//! std/service`, `docs/modules/`, `stack docs`).

use std::fmt::Write;
use std::rc::Rc;

use rhai::{Dynamic, Module};

use crate::interface::{Interface, ModuleOption, Shape};

/// What a reader needs to call a module.
#[derive(Debug, Clone)]
pub struct ModuleDoc {
    /// The module as an import names it: `std/service`, `./lib/team`.
    pub name: String,
    /// Its header comment, as Markdown.
    pub prose: String,
    pub entries: Vec<Entry>,
}

/// One exported interface, with the function it describes when there is one
/// (`INSTALL` describes `install(cluster, opts)`).
#[derive(Debug, Clone)]
pub struct Entry {
    pub constant: String,
    pub signature: Option<String>,
    pub interface: Rc<Interface>,
}

impl ModuleDoc {
    /// Reads a loaded module and its source text.
    pub fn new(name: &str, text: &str, module: &Module) -> ModuleDoc {
        let mut entries: Vec<(usize, Entry)> = module
            .iter_var()
            .filter_map(|(constant, value)| {
                let interface = value.clone().try_cast::<Interface>()?;
                let at = text
                    .find(&format!("const {constant}"))
                    .unwrap_or(usize::MAX);
                Some((
                    at,
                    Entry {
                        constant: constant.to_string(),
                        signature: signature(text, &constant.to_lowercase()),
                        interface: Rc::new(interface),
                    },
                ))
            })
            .collect();
        entries.sort_by_key(|(at, _)| *at);
        ModuleDoc {
            name: name.to_string(),
            prose: prose(text),
            entries: entries.into_iter().map(|(_, e)| e).collect(),
        }
    }

    /// The first sentence of the header: what the module is for.
    pub fn summary(&self) -> &str {
        self.prose.lines().next().unwrap_or("")
    }

    /// The alias an import usually gives the module: its last path segment.
    fn alias(&self) -> &str {
        let path = self.name.split("//").last().unwrap_or(&self.name);
        let path = path.split('?').next().unwrap_or(path);
        let file = path.rsplit('/').next().unwrap_or(path);
        file.strip_suffix(".rhai").unwrap_or(file)
    }

    /// The reference as Markdown; `level` is the heading level of its title.
    pub fn markdown(&self, level: usize) -> String {
        let h = |n: usize| "#".repeat(level + n);
        let mut out = format!("{} `{}`\n\n{}\n", h(0), self.name, self.prose);
        // Interfaces used as an option's type are shown under that option.
        let nested: Vec<String> = self
            .entries
            .iter()
            .flat_map(|e| nested_of(&e.interface))
            .map(|i| i.module.clone())
            .collect();
        for entry in &self.entries {
            if nested.contains(&entry.interface.module) && entry.signature.is_none() {
                continue;
            }
            let title = match &entry.signature {
                Some(signature) => format!("{}::{signature}", self.alias()),
                None => entry.constant.clone(),
            };
            let _ = writeln!(out, "\n{} `{title}`\n", h(1));
            options_table(&mut out, &entry.interface);
            if !entry.interface.returns.is_empty() {
                let _ = writeln!(out, "\nReturns a map:\n\n| field | meaning |\n|---|---|");
                for (field, doc) in &entry.interface.returns {
                    let _ = writeln!(out, "| `{field}` | {} |", cell(doc));
                }
            }
            for (option, inner) in nested_options(&entry.interface) {
                let _ = writeln!(out, "\n{} `{option}`\n", h(2));
                options_table(&mut out, inner);
            }
        }
        out
    }
}

/// `install(cluster, opts)` when the module defines `fn install(...)`.
fn signature(text: &str, function: &str) -> Option<String> {
    let marker = format!("fn {function}(");
    let start = text
        .match_indices(&marker)
        .find(|(i, _)| *i == 0 || text[..*i].ends_with('\n'))?
        .0;
    let end = start + text[start..].find(')')?;
    Some(text[start + 3..=end].to_string())
}

/// The header comment as Markdown: paragraphs as written, indented lines
/// (examples) as Rhai code blocks.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    for line in text.lines().take_while(|l| l.starts_with("//")) {
        let line = line.trim_start_matches('/');
        let line = line.strip_prefix(' ').unwrap_or(line);
        let code = line.starts_with("  ");
        if code != in_code {
            out.push_str(if code { "```rhai\n" } else { "```\n" });
            in_code = code;
        }
        let _ = writeln!(out, "{}", if code { &line[2..] } else { line });
    }
    if in_code {
        out.push_str("```\n");
    }
    out.trim_end().to_string()
}

fn nested_of(interface: &Interface) -> Vec<&Rc<Interface>> {
    nested_options(interface)
        .into_iter()
        .map(|(_, i)| i)
        .collect()
}

fn nested_options(interface: &Interface) -> Vec<(&str, &Rc<Interface>)> {
    interface
        .options
        .iter()
        .filter_map(|o| match &o.shape {
            Shape::Nested(inner) => Some((o.name.as_str(), inner)),
            Shape::Ty { .. } => None,
        })
        .collect()
}

fn options_table(out: &mut String, interface: &Interface) {
    if interface.options.is_empty() {
        out.push_str("No options.\n");
        return;
    }
    out.push_str("| option | type | default | meaning |\n|---|---|---|---|\n");
    for option in &interface.options {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            option.name,
            cell(&type_text(option)),
            default_text(option),
            cell(&option.doc)
        );
    }
}

fn type_text(option: &ModuleOption) -> String {
    match &option.shape {
        Shape::Nested(_) => format!("map (`{}` below)", option.name),
        shape => shape.describe(),
    }
}

fn default_text(option: &ModuleOption) -> String {
    if option.required {
        "required".into()
    } else {
        format!("`{}`", cell(&literal(&option.default)))
    }
}

/// A value as a Rhai literal: `"traefik"`, `["a", "b"]`, `#{ cpu: "4" }`.
pub fn literal(value: &Dynamic) -> String {
    if value.is_unit() {
        "()".into()
    } else if let Some(s) = value.read_lock::<rhai::ImmutableString>() {
        format!("{:?}", s.as_str())
    } else if let Some(items) = value.read_lock::<rhai::Array>() {
        let items: Vec<String> = items.iter().map(literal).collect();
        format!("[{}]", items.join(", "))
    } else if let Some(map) = value.read_lock::<rhai::Map>() {
        if map.is_empty() {
            return "#{}".into();
        }
        let fields: Vec<String> = map
            .iter()
            .map(|(k, v)| format!("{k}: {}", literal(v)))
            .collect();
        format!("#{{ {} }}", fields.join(", "))
    } else {
        value.to_string()
    }
}

/// Text inside a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_becomes_prose_with_code_blocks() {
        let text = "// A thing.\n//\n//   import \"std/x\" as x;\n//   x::install(c, #{});\n//\n// More.\n\nfn install(cluster, opts) {}\n";
        assert_eq!(
            prose(text),
            "A thing.\n\n```rhai\nimport \"std/x\" as x;\nx::install(c, #{});\n```\n\nMore."
        );
        assert_eq!(
            signature(text, "install").as_deref(),
            Some("install(cluster, opts)")
        );
    }

    #[test]
    fn defaults_read_as_rhai() {
        let mut map = rhai::Map::new();
        map.insert("cpu".into(), "4".into());
        assert_eq!(literal(&Dynamic::from_map(map)), "#{ cpu: \"4\" }");
        assert_eq!(
            literal(&Dynamic::from_array(vec!["a".into(), 1_i64.into()])),
            "[\"a\", 1]"
        );
        assert_eq!(literal(&Dynamic::UNIT), "()");
    }
}
