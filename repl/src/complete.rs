//! What Tab offers at the cursor: `:` commands and their arguments, module
//! functions after `alias::`, handle properties and map keys after `.`, and
//! otherwise variables, functions, module aliases and keywords.

use crate::input;
use crate::vocabulary::{is_identifier, Vocabulary, COMMANDS, KEYWORDS};

/// One completion: what the list shows and what replaces the word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub display: String,
    pub replacement: String,
}

/// Where the word being completed starts, and what may replace it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    Words {
        start: usize,
        candidates: Vec<Candidate>,
    },
    /// A file name (the argument of `:load`), starting at `start`.
    Path { start: usize },
}

impl Completion {
    fn none(pos: usize) -> Completion {
        Completion::Words {
            start: pos,
            candidates: Vec::new(),
        }
    }
}

/// The completion of `line` at byte offset `pos`.
pub fn complete(line: &str, pos: usize, vocabulary: &Vocabulary) -> Completion {
    let Some(before) = line.get(..pos) else {
        return Completion::none(pos);
    };
    if input::is_command(before) {
        return command(before, vocabulary);
    }
    if let Some(completion) = import_path(before, vocabulary) {
        return completion;
    }
    if input::ends_in_literal(before) {
        return Completion::none(pos);
    }
    if let Some(completion) = option_key(before, vocabulary) {
        return completion;
    }
    let start = before
        .char_indices()
        .rev()
        .take_while(|&(_, c)| c.is_alphanumeric() || c == '_' || c == '.' || c == ':')
        .last()
        .map_or(pos, |(i, _)| i);
    let word = &before[start..];
    if let Some((alias, prefix)) = word.rsplit_once("::") {
        let functions = vocabulary.modules.get(alias).map(Vec::as_slice);
        let candidates = functions
            .unwrap_or_default()
            .iter()
            .filter(|f| f.starts_with(prefix))
            .map(|f| Candidate {
                display: f.clone(),
                replacement: format!("{alias}::{f}"),
            })
            .collect();
        return Completion::Words { start, candidates };
    }
    if let Some((path, prefix)) = word.rsplit_once('.') {
        let mut segments = path.split('.');
        let shape = segments
            .next()
            .and_then(|var| vocabulary.variables.get(var))
            .and_then(|shape| segments.try_fold(shape, |shape, key| shape.member(key)));
        let members = shape.map(|s| s.members()).unwrap_or_default();
        return Completion::Words {
            start: pos - prefix.len(),
            candidates: words(members.iter().map(String::as_str), prefix, ""),
        };
    }
    let aliases: Vec<String> = vocabulary
        .modules
        .keys()
        .map(|a| format!("{a}::"))
        .collect();
    let names = vocabulary
        .variables
        .keys()
        .chain(vocabulary.functions.iter())
        .map(String::as_str)
        .chain(KEYWORDS.iter().copied())
        .filter(|n| is_identifier(n));
    let mut candidates = words(names, word, "");
    candidates.extend(words(aliases.iter().map(String::as_str), word, ""));
    sort(&mut candidates);
    Completion::Words { start, candidates }
}

/// A module path inside `import "…`: standard modules and nearby files.
fn import_path(before: &str, vocabulary: &Vocabulary) -> Option<Completion> {
    let (head, partial) = before.rsplit_once('"')?;
    if partial.contains(char::is_whitespace) || !head.trim_end().ends_with("import") {
        return None;
    }
    let statement = head.trim_end().strip_suffix("import")?;
    if statement
        .chars()
        .next_back()
        .is_some_and(|c| c.is_alphanumeric() || c == '_')
    {
        return None; // `reimport "`, not the keyword
    }
    Some(Completion::Words {
        start: before.len() - partial.len(),
        candidates: words(
            vocabulary.module_paths.iter().map(String::as_str),
            partial,
            "",
        ),
    })
}

/// An option key at the top level of the `#{ }` given to a function that
/// takes options: `namespace(c, "web", #{ lab` offers `labels: `.
fn option_key(before: &str, vocabulary: &Vocabulary) -> Option<Completion> {
    use stack_stdlib::scan::{scan, Opener, Token};
    let scanned = scan(before);
    let [.., call, map] = scanned.open.as_slice() else {
        return None;
    };
    let is_map = map.opener == Opener::Bracket('{') && before[..map.offset].ends_with('#');
    if !is_map || call.opener != Opener::Bracket('(') {
        return None;
    }
    let callee = before[..call.offset].trim_end();
    let name_start = callee
        .char_indices()
        .rev()
        .take_while(|&(_, c)| c.is_alphanumeric() || c == '_' || c == ':')
        .last()
        .map_or(callee.len(), |(i, _)| i);
    let keys = vocabulary.options.get(&callee[name_start..])?;
    // After the map's `{` or its last `,`: a key, unless a `:` followed.
    let depth = scanned.open.len();
    let entry = scanned
        .tokens
        .iter()
        .rev()
        .filter(|t| t.depth == depth && t.token.start() > map.offset)
        .find(|t| matches!(t.token, Token::Punct(',', _)))
        .map(|t| t.token.start())
        .unwrap_or(map.offset);
    let prefix = before[entry + 1..].trim_start();
    if !prefix.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    Some(Completion::Words {
        start: before.len() - prefix.len(),
        candidates: words(keys.iter().map(String::as_str), prefix, ": "),
    })
}

/// `:` commands: the command name, then a resource id or a file name.
fn command(before: &str, vocabulary: &Vocabulary) -> Completion {
    let offset = before.len() - before.trim_start().len();
    let text = before.trim_start();
    match text.split_once(char::is_whitespace) {
        None => Completion::Words {
            start: offset,
            candidates: words(COMMANDS.iter().copied(), text, ""),
        },
        Some((name, rest)) => {
            let arg = rest.trim_start();
            let start = before.len() - arg.len();
            match name {
                ":show" | ":s" | ":forget" | ":f" => Completion::Words {
                    start,
                    candidates: words(vocabulary.resources.iter().map(String::as_str), arg, ""),
                },
                ":load" | ":l" => Completion::Path { start },
                _ => Completion::none(before.len()),
            }
        }
    }
}

fn words<'a>(names: impl Iterator<Item = &'a str>, prefix: &str, suffix: &str) -> Vec<Candidate> {
    let mut candidates: Vec<Candidate> = names
        .filter(|n| n.starts_with(prefix))
        .map(|n| Candidate {
            display: n.to_string(),
            replacement: format!("{n}{suffix}"),
        })
        .collect();
    sort(&mut candidates);
    candidates
}

fn sort(candidates: &mut Vec<Candidate>) {
    candidates.sort_by(|a, b| a.replacement.cmp(&b.replacement));
    candidates.dedup_by(|a, b| a.replacement == b.replacement);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::vocabulary::Shape;

    fn vocabulary() -> Vocabulary {
        let handle = Shape::Handle(vec!["id", "name", "endpoint", "ca_data"]);
        let mut ingress = BTreeMap::new();
        ingress.insert("app".to_string(), Shape::Handle(vec!["id", "health"]));
        ingress.insert("class".to_string(), Shape::Other);
        let mut variables = BTreeMap::new();
        variables.insert("c".to_string(), handle);
        variables.insert("ingress".to_string(), Shape::Map(ingress));
        variables.insert("count".to_string(), Shape::Other);
        let mut modules = BTreeMap::new();
        modules.insert(
            "t".to_string(),
            vec!["install".to_string(), "issuer".to_string()],
        );
        let mut options = BTreeMap::new();
        options.insert(
            "namespace".to_string(),
            vec!["labels".to_string(), "annotations".to_string()],
        );
        options.insert("t::install".to_string(), vec!["issuers".to_string()]);
        Vocabulary {
            functions: vec!["cluster".into(), "namespace".into(), "helm_app".into()],
            modules,
            variables,
            resources: vec!["cluster/dev".into(), "dev/namespace/apps".into()],
            options,
            module_paths: vec![
                "modules/team".into(),
                "std/argocd".into(),
                "std/traefik".into(),
            ],
        }
    }

    fn replacements(line: &str) -> (usize, Vec<String>) {
        match complete(line, line.len(), &vocabulary()) {
            Completion::Words { start, candidates } => (
                start,
                candidates.into_iter().map(|c| c.replacement).collect(),
            ),
            Completion::Path { start } => (start, vec!["<path>".into()]),
        }
    }

    #[test]
    fn completes_by_context() {
        let cases: &[(&str, usize, &[&str])] = &[
            ("namesp", 0, &["namespace"]),
            ("let n = namesp", 8, &["namespace"]),
            ("co", 0, &["const", "continue", "count"]),
            ("t", 0, &["t::", "true"]),
            ("t::", 0, &["t::install", "t::issuer"]),
            ("x = t::ins", 4, &["t::install"]),
            ("c.", 2, &["ca_data", "endpoint", "id", "name"]),
            ("f(c.na", 4, &["name"]),
            ("ingress.", 8, &["app", "class"]),
            ("ingress.app.he", 12, &["health"]),
            ("count.", 6, &[]),
            ("nothing.", 8, &[]),
            ("let s = \"namesp", 15, &[]),
            (":gr", 0, &[":graph"]),
            ("  :s", 2, &[":show"]),
            (":show dev/", 6, &["dev/namespace/apps"]),
            (":load ./st", 6, &["<path>"]),
            (":graph x", 8, &[]),
            (":forget dev/n", 8, &["dev/namespace/apps"]),
            ("namespace(c, \"web\", #{ la", 23, &["labels: "]),
            (
                "namespace(c, \"web\", #{ labels: #{ a: 1 }, ",
                42,
                &["annotations: ", "labels: "],
            ),
            ("namespace(c, \"web\", #{ labels: la", 31, &[]),
            (
                "namespace(c, \"web\", #{ labels: #{ l",
                34,
                &["let", "loop"],
            ),
            ("t::install(c, #{ is", 17, &["issuers: "]),
            ("import \"std/t", 8, &["std/traefik"]),
            (
                "import \"",
                8,
                &["modules/team", "std/argocd", "std/traefik"],
            ),
        ];
        for (line, start, expected) in cases {
            let (s, got) = replacements(line);
            assert_eq!(got, *expected, "{line:?}");
            assert_eq!(s, *start, "{line:?}");
        }
    }
}
