//! The command line: every command and flag.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "stack",
    version,
    about = "Kubernetes platforms as Rhai scripts: check, plan, render and run whole clusters.",
    propagate_version = true
)]
pub struct Cli {
    /// When to colour output: on a terminal without `NO_COLOR` (`auto`),
    /// `always` or `never`.
    #[arg(long, value_enum, value_name = "WHEN", global = true, default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
    /// The same as `--color never`.
    #[arg(long, global = true)]
    pub no_color: bool,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The colour choice, `--no-color` winning.
    pub fn color(&self) -> ColorWhen {
        if self.no_color {
            ColorWhen::Never
        } else {
            self.color
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// Flags every command that reads a stack takes.
#[derive(Debug, Args, Clone)]
pub struct StackArgs {
    /// The stack script.
    pub file: PathBuf,
    /// Set a parameter read by `param("name", default)`; repeatable, and
    /// wins over `--values`.
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub set: Vec<(String, String)>,
    /// Read parameters from a YAML or JSON file of `name: value`;
    /// repeatable, later files win.
    #[arg(long = "values", short = 'f', value_name = "FILE")]
    pub values: Vec<PathBuf>,
    /// The state file [default: .stack/<stack>.state.json next to the script].
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// Fail when `stack.lock` would change: a git module not locked yet, or
    /// locked differently (for CI).
    #[arg(long)]
    pub locked: bool,
}

/// `--target`, on the commands that plan.
#[derive(Debug, Args, Clone, Default)]
pub struct TargetArgs {
    /// Only this resource, with what it needs (or, when the script no
    /// longer declares it, with the records that need it); repeatable.
    #[arg(long = "target", value_name = "ID")]
    pub targets: Vec<String>,
}

impl TargetArgs {
    pub fn ids(&self) -> Vec<stack_engine::ResourceId> {
        self.targets
            .iter()
            .map(stack_engine::ResourceId::new)
            .collect()
    }
}

/// How much of each change a text plan shows.
#[derive(Debug, Args, Clone, Default)]
pub struct PlanView {
    /// One line per resource, with the number of fields it sets or changes.
    #[arg(long, conflicts_with = "verbose")]
    pub compact: bool,
    /// Every field, also of large creates (folded into their number otherwise).
    #[arg(long)]
    pub verbose: bool,
}

impl PlanView {
    pub fn detail(&self) -> stack_engine::plan::Detail {
        use stack_engine::plan::Detail;
        match (self.compact, self.verbose) {
            (true, _) => Detail::Compact,
            (_, true) => Detail::Verbose,
            _ => Detail::Folded,
        }
    }
}

/// Flags of the commands that change things.
#[derive(Debug, Args, Clone)]
pub struct ApplyArgs {
    /// Do not ask for confirmation (required without a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// How many resources may be worked on at once.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallelism: u16,
    /// Break the state lock held by another run (only when that run is gone).
    #[arg(long)]
    pub force_unlock: bool,
    /// Read the live objects first and show what changed outside the stack
    /// (`run` puts it back; `destroy` deletes what is live either way).
    #[arg(long)]
    pub refresh: bool,
    #[command(flatten)]
    pub view: PlanView,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate and validate a stack; print a summary of its resources.
    #[command(visible_alias = "validate")]
    Check {
        #[command(flatten)]
        stack: StackArgs,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// Show what `run` would do: create, update, replace, delete or leave each resource.
    Plan {
        #[command(flatten)]
        stack: StackArgs,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
        /// Exit 3 (instead of 0) when the plan has changes.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Read the live objects and show what changed outside the stack.
        #[arg(long)]
        refresh: bool,
        #[command(flatten)]
        target: TargetArgs,
        /// Save the plan to this file: `stack run PLAN` applies exactly it.
        #[arg(long, value_name = "PLAN")]
        out: Option<PathBuf>,
        #[command(flatten)]
        view: PlanView,
    },
    /// What a run would change in each object, against what is live (or,
    /// on a GitOps cluster, in its repository), as `kubectl diff` shows it.
    Diff {
        #[command(flatten)]
        stack: StackArgs,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
        /// Exit 3 (instead of 0) when something would change.
        #[arg(long)]
        detailed_exitcode: bool,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Plan, confirm, and carry the plan out; given a plan saved by `plan
    /// --out` instead of a script, apply exactly that plan.
    #[command(visible_alias = "apply")]
    Run {
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        apply: ApplyArgs,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Delete everything the state records, dependents first.
    Destroy {
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        apply: ApplyArgs,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Write every Kubernetes object and Argo CD Application as YAML in a GitOps layout.
    #[command(visible_alias = "template")]
    Render {
        #[command(flatten)]
        stack: StackArgs,
        /// Directory to write into (`<dir>/<cluster>/...`); `-` prints every
        /// file to stdout as one YAML stream.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Repository URL for the root Applications, instead of each cluster's `gitops.repo`.
        #[arg(long, value_name = "URL")]
        repo_url: Option<String>,
    },
    /// Print the dependency graph.
    Graph {
        #[command(flatten)]
        stack: StackArgs,
        /// Output format.
        #[arg(long, short, alias = "format", value_enum, default_value_t = GraphOutput::Text)]
        output: GraphOutput,
    },
    /// Print the stack's outputs (`output(name, value)`) as the last run recorded them.
    Output {
        #[command(flatten)]
        stack: StackArgs,
        /// One output, printed bare (a string without quotes) for scripts.
        name: Option<String>,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// Inspect and repair the state: list, show, forget or rename what it records.
    State {
        #[command(subcommand)]
        command: StateCommand,
    },
    /// Deploy, promote and remove services in a services-root repository
    /// (`std/services`), as a service's pipeline does: one commit each.
    Service {
        #[command(subcommand)]
        command: ServiceCommand,
    },
    /// Write Rhai definition files (`.d.rhai`) for editors and language servers.
    Definitions {
        /// The directory to write them into (created when missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Start a stack: write a starter stack script, a module and its tests.
    Init {
        /// Where to write them (created when missing).
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Print a completion script for a shell: `source <(stack completions bash)`.
    Completions { shell: clap_complete::Shell },
    /// Prototype interactively: declarations accumulate in one session.
    Repl {
        /// A stack to load first.
        file: Option<PathBuf>,
        /// Set a parameter read by `param("name", default)`; repeatable.
        #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_param)]
        set: Vec<(String, String)>,
        /// History file [default: ~/.stack_history].
        #[arg(long, value_name = "PATH")]
        history: Option<PathBuf>,
    },
    /// Print the standard library reference (Markdown), as in docs/reference.md,
    /// or the reference of one module: its options, defaults, types and returns.
    Reference {
        /// A module as an import names it: `std/service`, `./lib/team`, a git URL.
        module: Option<String>,
        /// Write a Markdown page per command into this directory instead,
        /// as in docs/commands.
        #[arg(long, value_name = "DIR", conflicts_with = "module")]
        commands: Option<PathBuf>,
    },
    /// Write a Markdown reference of a stack and of every module it imports.
    Docs {
        #[command(flatten)]
        stack: StackArgs,
        /// Directory to write into (`README.md`, `modules/*.md`).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Run the tests of modules: every `fn test_<name>()` in `*_test.rhai` files.
    Test {
        /// A test file, or a directory searched for `*_test.rhai` [default: .].
        path: Option<PathBuf>,
    },
    /// Git modules: lock, update and compare the versions a stack imports.
    Modules {
        #[command(subcommand)]
        command: ModulesCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModulesCommand {
    /// Resolve every git import and write `stack.lock` beside the stack.
    Lock(StackArgs),
    /// Resolve the git imports again and lock what their refs name now.
    Update {
        #[command(flatten)]
        stack: StackArgs,
        /// Only the modules of this repository (its URL, or an import as written).
        module: Option<String>,
    },
    /// Copy every locked module into `vendor/modules/` beside the stack, to
    /// evaluate offline; vendored files are checked against the lock.
    Vendor(StackArgs),
    /// List newer version tags than the lock pins, within each range and beyond it.
    Outdated {
        /// The stack script whose `stack.lock` is read.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Every resource the state records, one id per line.
    List {
        #[command(flatten)]
        stack: StackArgs,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// What the state records of one resource (secrets stay hidden).
    Show {
        #[command(flatten)]
        stack: StackArgs,
        /// The resource id, as `stack state list` prints it.
        id: String,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// Forget resources: their records leave the state, what they made stays live.
    Rm {
        #[command(flatten)]
        stack: StackArgs,
        /// The resource ids to forget.
        #[arg(required = true)]
        ids: Vec<String>,
        /// Forget a resource the script still declares (the next run makes it again).
        #[arg(long)]
        force: bool,
        /// Break the state lock held by another run (only when that run is gone).
        #[arg(long)]
        force_unlock: bool,
    },
    /// Rename a record, for a declaration renamed in the script; the next
    /// run re-marks what it made. `moved(#{ from, to })` in the script does
    /// the same for everyone who runs it.
    Mv {
        #[command(flatten)]
        stack: StackArgs,
        /// The id the state records now.
        from: String,
        /// The id the script declares.
        to: String,
        /// Rename even when the script still declares FROM, or does not declare TO.
        #[arg(long)]
        force: bool,
        /// Break the state lock held by another run (only when that run is gone).
        #[arg(long)]
        force_unlock: bool,
    },
}

/// The values of `-o/--output`, the same for every command that prints data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// `stack graph -o`: the common values, and two graph languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphOutput {
    Text,
    Json,
    Dot,
    Mermaid,
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(format!("`{s}` is not NAME=VALUE")),
    }
}

/// Where the services-root is.
#[derive(Debug, Args, Clone)]
pub struct RootArgs {
    /// The services-root repository: a URL, a bare repository, or a local working copy.
    #[arg(long, value_name = "REPO")]
    pub root: String,
    /// The branch Argo CD follows.
    #[arg(long, default_value = "main")]
    pub branch: String,
}

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Create or update `<env>/<service>.json` and commit (nothing when nothing changes).
    Deploy {
        #[command(flatten)]
        root: RootArgs,
        /// The environment: a top-level directory of the services-root.
        #[arg(long)]
        env: String,
        /// The service's name.
        #[arg(long)]
        service: String,
        /// The image tag to run (`image.tag` of the chart).
        #[arg(long, value_name = "TAG")]
        image_tag: String,
        /// The revision of the service's repository to take the chart from [default: the image tag].
        #[arg(long, value_name = "REV")]
        revision: Option<String>,
        /// The team (one of `teams.json`); needed for a first deploy.
        #[arg(long)]
        team: Option<String>,
        /// The service's repository, holding its chart; needed for a first deploy.
        #[arg(long, value_name = "URL")]
        repo_url: Option<String>,
    },
    /// Copy a service's file from one environment to another and commit.
    Promote {
        #[command(flatten)]
        root: RootArgs,
        /// The environment promoted from.
        #[arg(long)]
        from: String,
        /// The environment promoted to.
        #[arg(long)]
        to: String,
        /// The service's name.
        #[arg(long)]
        service: String,
    },
    /// Remove a service from an environment and commit.
    Remove {
        #[command(flatten)]
        root: RootArgs,
        /// The environment.
        #[arg(long)]
        env: String,
        /// The service's name.
        #[arg(long)]
        service: String,
    },
    /// Every environment's services: team, image tag, revision, last commit,
    /// and with `--context` or `--kubeconfig`, each Application's sync and health.
    List {
        #[command(flatten)]
        root: RootArgs,
        /// The kubeconfig context of the cluster whose Argo CD runs the services.
        #[arg(long)]
        context: Option<String>,
        /// The kubeconfig file of that cluster [default: KUBECONFIG or ~/.kube/config].
        #[arg(long, value_name = "PATH")]
        kubeconfig: Option<PathBuf>,
        /// The namespace Argo CD runs in there.
        #[arg(long, default_value = "argocd")]
        argocd_namespace: String,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
}
