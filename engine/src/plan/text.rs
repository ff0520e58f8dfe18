//! The plan as people read it.

use std::fmt::Write;

use serde_json::Value as Json;

use super::{Action, Change, FieldChange, Plan};
use crate::resource::Kind;

/// Terminal styling: ANSI colours, or none (`NO_COLOR`, pipes, snapshots).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub const PLAIN: Style = Style { color: false };

    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn green(self, t: &str) -> String {
        self.paint("32", t)
    }
    pub fn yellow(self, t: &str) -> String {
        self.paint("33", t)
    }
    pub fn red(self, t: &str) -> String {
        self.paint("31", t)
    }
    pub fn magenta(self, t: &str) -> String {
        self.paint("35", t)
    }
    pub fn dim(self, t: &str) -> String {
        self.paint("2", t)
    }
    pub fn bold(self, t: &str) -> String {
        self.paint("1", t)
    }

    fn action(self, action: Action, t: &str) -> String {
        match action {
            Action::Create | Action::Adopt => self.green(t),
            Action::Update => self.yellow(t),
            Action::Replace => self.magenta(t),
            Action::Delete => self.red(t),
            Action::NoOp => self.dim(t),
        }
    }
}

/// A JSON leaf as it appears in a plan line, written where the line is
/// built: a plan of a thousand resources has ten thousand of them.
fn write_leaf(out: &mut String, value: &Json) {
    let _ = match value {
        Json::String(s) if s == crate::value::UNKNOWN => out.write_str(s),
        Json::String(s) if crate::value::is_hidden(s) => out.write_str(crate::value::SENSITIVE),
        Json::Array(a) if a.is_empty() => out.write_str("[]"),
        Json::Object(o) if o.is_empty() => out.write_str("{}"),
        other => write!(out, "{other}"),
    };
}

fn is_unknown(value: &Json) -> bool {
    value.as_str() == Some(crate::value::UNKNOWN)
}

/// One field of a change, with its line's end.
fn write_field(out: &mut String, change: &FieldChange) {
    let sensitive = crate::value::SENSITIVE;
    out.push_str("      ");
    out.push_str(&change.path);
    if change.sensitive {
        let _ = match (&change.before, &change.after) {
            (_, Some(after)) if is_unknown(after) => write!(out, " = {}", crate::value::UNKNOWN),
            (None, Some(_)) => write!(out, " = {sensitive}"),
            (Some(_), None) => write!(out, " = {sensitive} → null"),
            _ => write!(out, ": {sensitive} value changed"),
        };
        out.push('\n');
        return;
    }
    match (&change.before, &change.after) {
        (None, Some(after)) => {
            out.push_str(" = ");
            write_leaf(out, after);
        }
        (Some(before), None) => {
            out.push_str(" = ");
            write_leaf(out, before);
            out.push_str(" → null");
        }
        (Some(before), Some(after)) => {
            out.push_str(": ");
            write_leaf(out, before);
            out.push_str(" → ");
            write_leaf(out, after);
        }
        (None, None) => {}
    }
    out.push('\n');
}

/// Fields as a plan lists them, one indented line each.
pub fn render_fields(fields: &[FieldChange]) -> String {
    let mut out = String::new();
    for field in fields {
        write_field(&mut out, field);
    }
    out
}

/// How much of each change a text plan shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Detail {
    /// One line per resource, with the number of fields it sets or changes.
    Compact,
    /// Every changed field, except that a create of Kubernetes objects or
    /// a chart setting more than [`FOLDED_CREATE`] fields shows their
    /// number instead.
    #[default]
    Folded,
    /// Every field of every change.
    Verbose,
}

/// The most fields a create lists before it is folded into their number.
pub const FOLDED_CREATE: usize = 8;

fn fields_count(n: usize) -> String {
    format!("{n} field{}", if n == 1 { "" } else { "s" })
}

fn change_block(out: &mut String, change: &Change, style: Style, detail: Detail) {
    let head = format!("{} {}", change.action.symbol(), change.id);
    let _ = write!(out, "  {}", style.action(change.action, &style.bold(&head)));
    let action = change.action.as_str();
    let count = if detail == Detail::Compact && change.action != Action::Delete {
        format!(", {}", fields_count(change.fields.len()))
    } else {
        String::new()
    };
    match &change.reason {
        Some(reason) => {
            let _ = writeln!(out, "  ({action}: {reason}{count})");
        }
        None => {
            let _ = writeln!(out, "  ({action}{count})");
        }
    }
    if change.action == Action::Delete || detail == Detail::Compact {
        return;
    }
    // A cluster's or an identity provider's settings are read whole: what
    // is folded are the Kubernetes objects and chart values of a create.
    let folded = detail == Detail::Folded
        && change.action == Action::Create
        && !matches!(change.kind, Kind::Cluster | Kind::Oidc)
        && change.fields.len() > FOLDED_CREATE;
    if folded {
        let _ = writeln!(
            out,
            "      {}",
            style.dim(&format!(
                "{} (`--verbose` lists them)",
                fields_count(change.fields.len())
            ))
        );
    } else {
        for field in &change.fields {
            write_field(out, field);
        }
    }
    if !change.unknown_outputs.is_empty() {
        let _ = writeln!(
            out,
            "      {}",
            style.dim(&format!(
                "outputs {} (known after apply)",
                change.unknown_outputs.join(", ")
            ))
        );
    }
}

/// The whole plan as text.
pub fn render_text(plan: &Plan, style: Style, detail: Detail) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        style.bold(&format!("Plan for stack `{}`", plan.stack))
    );
    let _ = writeln!(out);
    if !plan.params.is_empty() {
        let _ = writeln!(out, "  Parameters set differently than in the last run:");
        for p in &plan.params {
            let how = match (p.was_set, p.is_set) {
                (true, true) => "another value",
                (true, false) => "set then, not set now",
                (false, _) => "not set then, set now",
            };
            let _ = writeln!(out, "      {}: {how}", p.name);
        }
        let _ = writeln!(out);
    }
    let mut shown = 0;
    for change in plan.changes.iter().filter(|c| c.action != Action::NoOp) {
        change_block(&mut out, change, style, detail);
        shown += 1;
    }
    if shown == 0 {
        let _ = writeln!(out, "  No changes: the state matches the script.");
    }
    let s = plan.summary();
    let _ = writeln!(out);
    let adopt = if s.adopt > 0 {
        format!(", {} to adopt", style.green(&s.adopt.to_string()))
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "Plan: {} to create{adopt}, {} to update, {} to replace, {} to delete, {} unchanged.",
        style.green(&s.create.to_string()),
        style.yellow(&s.update.to_string()),
        style.magenta(&s.replace.to_string()),
        style.red(&s.delete.to_string()),
        s.unchanged
    );
    out
}
