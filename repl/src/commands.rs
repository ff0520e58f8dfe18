//! The `:` commands: how they are spelled, and the text the read-only ones
//! print (`:help`, `:plan`, `:graph`, `:show`). Commands that change the
//! session (`:load`, `:reset`, `:quit`) are carried out by the session.

use std::fmt::Write;

use stack_engine::graph_format::{self, GraphFormat};
use stack_engine::objects;
use stack_engine::plan::{self, Style};
use stack_engine::{suggest, Graph, Kind, Resource, State};

use crate::vocabulary::COMMANDS;

/// A parsed `:` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Plan,
    Graph,
    Show(String),
    Load(String),
    Forget(String),
    Reset,
    Quit,
}

/// A command that cannot run as typed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CommandError {
    #[error("unknown command `{name}`")]
    #[diagnostic(code(stack::repl::unknown_command))]
    Unknown {
        name: String,
        #[help]
        help: String,
    },
    #[error("`{command}` needs an argument")]
    #[diagnostic(code(stack::repl::missing_argument))]
    MissingArgument {
        command: &'static str,
        #[help]
        help: String,
    },
    #[error("`{command}` takes no argument")]
    #[diagnostic(code(stack::repl::extra_argument), help("type `{command}` on its own"))]
    ExtraArgument { command: &'static str },
    #[error("no resource `{id}` is declared")]
    #[diagnostic(code(stack::repl::unknown_resource))]
    UnknownResource {
        id: String,
        #[help]
        help: String,
    },
}

/// Parses a `:` command. Any unambiguous prefix of a name works (`:q`).
pub fn parse(text: &str) -> Result<Command, CommandError> {
    let text = text.trim();
    let (name, arg) = match text.split_once(char::is_whitespace) {
        Some((name, arg)) => (name, arg.trim()),
        None => (text, ""),
    };
    let unknown = || CommandError::Unknown {
        name: name.to_string(),
        help: suggest::did_you_mean(name, COMMANDS.iter().copied())
            .unwrap_or_else(|| format!("commands: {}", COMMANDS.join(" "))),
    };
    let matching: Vec<&str> = COMMANDS
        .iter()
        .copied()
        .filter(|c| c.starts_with(name))
        .collect();
    let full = match (matching.as_slice(), name) {
        (_, ":exit") => ":quit",
        ([one], _) if name.len() > 1 => one,
        _ => return Err(unknown()),
    };
    let no_argument = |command: Command, name: &'static str| {
        if arg.is_empty() {
            Ok(command)
        } else {
            Err(CommandError::ExtraArgument { command: name })
        }
    };
    let argument = |command: fn(String) -> Command, name: &'static str, help: &str| {
        if arg.is_empty() {
            Err(CommandError::MissingArgument {
                command: name,
                help: help.to_string(),
            })
        } else {
            Ok(command(arg.to_string()))
        }
    };
    match full {
        ":help" => no_argument(Command::Help, ":help"),
        ":plan" => no_argument(Command::Plan, ":plan"),
        ":graph" => no_argument(Command::Graph, ":graph"),
        ":reset" => no_argument(Command::Reset, ":reset"),
        ":quit" => no_argument(Command::Quit, ":quit"),
        ":show" => argument(
            Command::Show,
            ":show",
            "type `:show ID` with a resource id from `:graph`, e.g. `:show dev/namespace/apps`",
        ),
        ":load" => argument(
            Command::Load,
            ":load",
            "type `:load FILE` with the path of a script",
        ),
        ":forget" => argument(
            Command::Forget,
            ":forget",
            "type `:forget ID` with a resource id from `:graph`",
        ),
        _ => Err(unknown()),
    }
}

/// The text of `:help`.
pub fn help() -> String {
    let mut out = String::from(
        "Type Rhai to declare resources; they accumulate in this session.\n\
         An input continues over several lines while a bracket is open.\n\
         Tab completes functions, `module::` functions, `handle.` properties,\n\
         option keys inside the `#{ }` of a call, and module paths after `import \"`.\n\
         Long listings go through $PAGER (default `less -FRX`).\n\n\
         Commands:\n\
         \x20 :help       this text\n\
         \x20 :plan       what `stack run` would do, against an empty state\n\
         \x20 :graph      the dependency graph\n\
         \x20 :show ID    the YAML that would be applied for a resource\n\
         \x20 :load FILE  evaluate a script into this session\n\
         \x20 :forget ID  drop one declaration (declaring an id again replaces it)\n\
         \x20 :reset      forget every declaration, variable and function (imports stay)\n\
         \x20 :quit       leave (or Ctrl-D)\n\n\
         Standard library:\n",
    );
    for doc in stack_stdlib::functions::DOCS {
        for signature in doc.signatures {
            let _ = writeln!(out, "  {signature}");
        }
    }
    out
}

/// The plan against an empty state: everything declared, to be created.
pub fn plan(graph: &Graph, style: Style) -> String {
    let state = State::empty(graph.declarations.stack.clone());
    plan::render_text(&plan::plan(graph, &state), style, plan::Detail::Folded)
}

/// The dependency graph as text, one resource a line.
pub fn graph(graph: &Graph) -> String {
    if graph.resources().is_empty() {
        return "Nothing is declared yet.\n".into();
    }
    graph_format::format(graph, GraphFormat::Text)
}

impl CommandError {
    /// No declaration has `id`: the closest that does, or where to look.
    pub fn unknown_id(id: &str, ids: &[String]) -> CommandError {
        CommandError::UnknownResource {
            id: id.to_string(),
            help: suggest::did_you_mean(id, ids.iter().map(String::as_str)).unwrap_or_else(|| {
                if ids.is_empty() {
                    "nothing is declared yet".into()
                } else {
                    "`:graph` lists the declared ids".into()
                }
            }),
        }
    }
}

/// The YAML of the objects `stack run` would apply for `id`, with the data
/// of Secrets redacted; or why there are none.
pub fn show(graph: &Graph, id: &str) -> Result<String, CommandError> {
    let Some(resource) = graph.resources().iter().find(|r| r.id.as_str() == id) else {
        let ids: Vec<String> = graph.resources().iter().map(|r| r.id.to_string()).collect();
        return Err(CommandError::unknown_id(id, &ids));
    };
    if let Some(why) = no_objects(resource) {
        return Ok(format!("{id} {why}.\n"));
    }
    let objects = objects::shown_objects(graph, resource, &Default::default());
    if objects.is_empty() {
        return Ok(format!("{id} has no Kubernetes objects.\n"));
    }
    let documents: Vec<String> = objects
        .into_iter()
        .map(|object| serde_yaml::to_string(&object).unwrap_or_default())
        .collect();
    Ok(documents.join("---\n"))
}

/// Why a resource has no objects of its own to show.
fn no_objects(resource: &Resource) -> Option<&'static str> {
    match resource.kind {
        Kind::Cluster => Some("is a cluster: its provider creates it, and there are no Kubernetes objects to show"),
        Kind::Bootstrap => Some("installs Argo CD with Helm directly, before GitOps exists: `stack run` renders its chart, so there are no objects to show here"),
        Kind::Oidc => Some("is an OpenID Connect provider and client: there are no Kubernetes objects of its own to show"),
        Kind::HelmApp if !objects::delivered_by_argocd(resource) => Some("is applied with `helm template` by `stack run` (`via: \"helm\"`): its objects come from the chart at run time"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use stack_stdlib::Evaluator;

    use super::*;

    #[test]
    fn parses_commands_and_prefixes() {
        let cases: &[(&str, Command)] = &[
            (":help", Command::Help),
            (":h", Command::Help),
            ("  :plan ", Command::Plan),
            (":g", Command::Graph),
            (
                ":show dev/namespace/apps",
                Command::Show("dev/namespace/apps".into()),
            ),
            (
                ":load  stacks/dev.rhai",
                Command::Load("stacks/dev.rhai".into()),
            ),
            (":reset", Command::Reset),
            (":q", Command::Quit),
            (":exit", Command::Quit),
        ];
        for (text, command) in cases {
            assert_eq!(&parse(text).expect(text), command, "{text}");
        }
    }

    #[test]
    fn rejects_what_it_cannot_run() {
        let unknown = parse(":grpah").expect_err("a typo");
        assert!(unknown.to_string().contains(":grpah"));
        assert!(matches!(unknown, CommandError::Unknown { help, .. } if help.contains(":graph")));
        assert!(matches!(parse(":"), Err(CommandError::Unknown { .. })));
        assert!(matches!(
            parse(":show"),
            Err(CommandError::MissingArgument { .. })
        ));
        assert!(matches!(
            parse(":load"),
            Err(CommandError::MissingArgument { .. })
        ));
        assert!(matches!(
            parse(":plan x"),
            Err(CommandError::ExtraArgument { .. })
        ));
    }

    fn graph(script: &str) -> Graph {
        let mut e = Evaluator::new("t", Path::new("."), BTreeMap::new());
        let _ = e
            .eval_text("<test>", None, script)
            .expect("the test script evaluates");
        Graph::build(e.declarations()).expect("a valid graph")
    }

    #[test]
    fn shows_objects_with_unknown_outputs_and_redacted_secrets() {
        let g = graph(
            r#"
            let c = cluster("dev", #{ provider: "kind", argocd_installed: true });
            namespace(c, "apps", #{ labels: #{ team: "web" } });
            helm_app(c, "podinfo", #{ repo: "https://charts.example.com", chart: "podinfo",
                version: "6.5.0", values: #{ url: `https://${c.endpoint}` } });
            manifest(c, #{ apiVersion: "v1", kind: "Secret",
                metadata: #{ name: "db", namespace: "apps" }, stringData: #{ password: "hunter2" } });
            "#,
        );
        let ns = show(&g, "dev/namespace/apps").expect("shown");
        assert!(ns.contains("kind: Namespace"), "{ns}");
        assert!(ns.contains("team: web"), "{ns}");
        let app = show(&g, "dev/helm_app/podinfo").expect("shown");
        assert!(app.contains("kind: Application"), "{app}");
        assert!(app.contains("url: https://(known after apply)"), "{app}");
        let secret = show(&g, "dev/manifest/Secret/apps/db").expect("shown");
        assert!(!secret.contains("hunter2"), "{secret}");
        assert!(secret.contains("(sensitive)"), "{secret}");
        let cluster = show(&g, "cluster/dev").expect("shown");
        assert!(cluster.contains("no Kubernetes objects"), "{cluster}");
    }

    #[test]
    fn suggests_ids() {
        let g =
            graph(r#"let c = cluster("dev", #{ provider: "kind" }); namespace(c, "apps", #{});"#);
        let err = show(&g, "dev/namespace/app").expect_err("unknown");
        assert!(
            matches!(&err, CommandError::UnknownResource { help, .. } if help.contains("dev/namespace/apps")),
            "{err:?}"
        );
    }

    #[test]
    fn graph_and_plan_list_every_resource() {
        let g =
            graph(r#"let c = cluster("dev", #{ provider: "kind" }); namespace(c, "apps", #{});"#);
        let text = super::graph(&g);
        assert!(text.contains("cluster/dev\n"), "{text}");
        assert!(text.contains("dev/namespace/apps  ← cluster/dev"), "{text}");
        let planned = plan(&g, Style::PLAIN);
        assert!(planned.contains("Plan: 2 to create"), "{planned}");
        assert_eq!(super::graph(&graph("")), "Nothing is declared yet.\n");
    }
}
