//! A Markdown page per command (`docs/commands/`), generated from the
//! command line's own definition, so that the pages say what the binary
//! does: `stack reference --commands DIR` writes them, and a test fails
//! when `docs/commands/` drifts from the binary.

use std::fmt::Write;

use clap::{Arg, Command};

/// Every page: its file name and its Markdown.
pub fn pages(mut cli: Command) -> Vec<(String, String)> {
    cli.build();
    let mut pages = Vec::new();
    let mut index = String::from(
        "# Commands\n\nEvery command of `stack`, generated from the binary (`stack reference --commands docs/commands`).\nExit codes: 0 success, 1 runtime failure, 2 the script or command line is wrong, 3 `--detailed-exitcode` found changes, 130 interrupted.\n\n| command | does |\n|---|---|\n",
    );
    for command in visible(&cli) {
        walk(command, "stack", &mut pages, &mut index);
    }
    pages.push(("README.md".to_string(), index));
    pages
}

fn visible(command: &Command) -> impl Iterator<Item = &Command> {
    command
        .get_subcommands()
        .filter(|c| !c.is_hide_set() && c.get_name() != "help")
}

fn walk(command: &Command, parent: &str, pages: &mut Vec<(String, String)>, index: &mut String) {
    let path = format!("{parent} {}", command.get_name());
    let file = format!("{}.md", path.replace(' ', "-"));
    let about = command
        .get_about()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let _ = writeln!(index, "| [`{path}`]({file}) | {} |", cell(&about));
    pages.push((file, page(command, &path)));
    for sub in visible(command) {
        walk(sub, &path, pages, index);
    }
}

fn page(command: &Command, path: &str) -> String {
    let mut out = format!("# `{path}`\n\n");
    let about = command
        .get_long_about()
        .or(command.get_about())
        .map(|a| a.to_string())
        .unwrap_or_default();
    let _ = writeln!(out, "{}\n", sentence(&about));
    let aliases: Vec<String> = command
        .get_visible_aliases()
        .map(|a| format!("`{parent} {a}`", parent = parent_of(path)))
        .collect();
    if !aliases.is_empty() {
        let _ = writeln!(out, "Also: {}.\n", aliases.join(", "));
    }
    let usage = command
        .clone()
        .bin_name(path)
        .render_usage()
        .to_string()
        .replace("Usage: ", "");
    let _ = writeln!(out, "```text\n{usage}\n```\n");
    let subcommands: Vec<&Command> = visible(command).collect();
    if !subcommands.is_empty() {
        out.push_str("## Commands\n\n| command | does |\n|---|---|\n");
        for sub in subcommands {
            let name = format!("{path} {}", sub.get_name());
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            let _ = writeln!(
                out,
                "| [`{name}`]({}.md) | {} |",
                name.replace(' ', "-"),
                cell(&about)
            );
        }
        out.push('\n');
    }
    let arguments: Vec<&Arg> = shown(command).filter(|a| a.is_positional()).collect();
    if !arguments.is_empty() {
        out.push_str("## Arguments\n\n| argument | meaning |\n|---|---|\n");
        for arg in arguments {
            let _ = writeln!(out, "| `{}` | {} |", value_name(arg), cell(&help(arg)));
        }
        out.push('\n');
    }
    let options: Vec<&Arg> = shown(command).filter(|a| !a.is_positional()).collect();
    if !options.is_empty() {
        out.push_str("## Options\n\n| option | meaning |\n|---|---|\n");
        for arg in options {
            let _ = writeln!(out, "| {} | {} |", flag(arg), cell(&help(arg)));
        }
        out.push('\n');
    }
    out
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once(' ').map_or(path, |(parent, _)| parent)
}

fn shown(command: &Command) -> impl Iterator<Item = &Arg> {
    command
        .get_arguments()
        .filter(|a| !a.is_hide_set() && a.get_id() != "help" && a.get_id() != "version")
}

fn value_name(arg: &Arg) -> String {
    arg.get_value_names()
        .and_then(|names| names.first())
        .map(|n| n.to_string())
        .unwrap_or_else(|| arg.get_id().to_string().to_uppercase())
}

/// `` `-o, --output <OUTPUT>` ``
fn flag(arg: &Arg) -> String {
    let mut names = Vec::new();
    if let Some(short) = arg.get_short() {
        names.push(format!("-{short}"));
    }
    if let Some(long) = arg.get_long() {
        names.push(format!("--{long}"));
    }
    let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
    let value = if takes_value {
        format!(" <{}>", value_name(arg))
    } else {
        String::new()
    };
    format!("`{}{value}`", names.join(", "))
}

/// The help, with the values it takes and its default.
fn help(arg: &Arg) -> String {
    let mut text = arg
        .get_long_help()
        .or(arg.get_help())
        .map(|h| h.to_string())
        .unwrap_or_default();
    if !text.is_empty() && !text.ends_with(['.', ']', ')', ':']) {
        text.push('.');
    }
    let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| format!("`{}`", v.get_name()))
        .collect();
    if !values.is_empty() && takes_value {
        let _ = write!(text, " One of {}.", values.join(", "));
    }
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|d| d.to_string_lossy().into_owned())
        .collect();
    if !defaults.is_empty() && takes_value {
        let _ = write!(text, " Default: `{}`.", defaults.join(","));
    }
    text
}

/// `text` ending as a sentence does (clap drops the last period of a
/// doc comment).
fn sentence(text: &str) -> String {
    if text.is_empty() || text.ends_with(['.', ']', ')', ':']) {
        text.to_string()
    } else {
        format!("{text}.")
    }
}

/// Text inside a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
