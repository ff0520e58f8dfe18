//! Modules kept in git: `git+https://host/org/lib.git//net/ingress?ref=v1.4.0`.
//!
//! The repository is fetched with the real `git` (so the user's
//! credentials, SSH agent and config apply) into a bare repository under
//! the cache directory, one per URL, shared by every stack; module files
//! are read from the object store at a commit, without a work tree.

use std::path::{Path, PathBuf};
use std::process::Command;

use stack_engine::suggest;

use crate::fault::Fault;

/// An import of a module file in a git repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitImport {
    /// The repository as `git` is given it: `https://…`, `ssh://…`, `file://…`.
    pub url: String,
    /// The module file in the repository, without `.rhai`.
    pub path: String,
    /// A tag, branch, commit or semver range over the tags; `HEAD` when
    /// none is given.
    pub reference: String,
}

/// Why a git import failed.
#[derive(Debug, thiserror::Error)]
pub enum GitImportError {
    #[error("`{0}` is not a git module import")]
    Syntax(String, &'static str),
    #[error("cannot run `git`, which fetches modules kept in git: {0}")]
    NoGit(std::io::Error),
    #[error("cannot read the repository `{url}`")]
    Unreachable { url: String, detail: String },
    #[error("`{url}` has no tag, branch or commit `{reference}`")]
    NoSuchRef {
        url: String,
        reference: String,
        close: Option<String>,
    },
    #[error("no tag of `{url}` matches `{range}`")]
    NoMatchingTag {
        url: String,
        range: String,
        tags: Vec<String>,
    },
    #[error("`{url}` has no module `{path}` at {reference} (commit {commit})")]
    NotFound {
        url: String,
        path: String,
        reference: String,
        commit: String,
    },
    #[error("the module `{path}` at commit {commit} is larger than {limit} bytes")]
    TooLarge {
        path: String,
        commit: String,
        limit: u64,
    },
    #[error("`{reference}` of `{url}` is now commit {now}, but {lock} has {locked}")]
    Moved {
        url: String,
        reference: String,
        now: String,
        locked: String,
        lock: String,
    },
    #[error("{holder} holds the module `{path}` of `{url}` at commit {commit}, but not as stack.lock recorded it")]
    Changed {
        url: String,
        path: String,
        commit: String,
        /// Where the differing text was read: the cache, or a vendored file.
        holder: String,
    },
    #[error("{0}")]
    Lock(String),
    #[error(
        "`{import}` is not in {lock} as it resolves now, and `--locked` forbids changing the lock"
    )]
    WouldChange { import: String, lock: String },
    #[error("cannot use the cache directory `{}`: {detail}", dir.display())]
    Cache { dir: PathBuf, detail: String },
    #[error("cannot write `{}`: {detail}", dir.display())]
    Vendor { dir: PathBuf, detail: String },
}

impl GitImportError {
    /// The diagnostic at the import.
    pub fn fault(&self) -> Fault {
        let fault = |code| Fault::new(code, self.to_string()).label("imported here");
        match self {
            GitImportError::Syntax(_, help) => fault("stack::module::git_syntax").help(*help),
            GitImportError::NoGit(_) => {
                fault("stack::module::git").help("install git and put it on PATH")
            }
            GitImportError::Unreachable { detail, .. } => fault("stack::module::unreachable")
                .help(format!(
                    "git said: {detail}\ncheck the URL, the network and your credentials (git's own config, SSH agent and credential helpers apply)"
                )),
            GitImportError::NoSuchRef { close, .. } => {
                fault("stack::module::no_such_ref").help(match close {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => "give a tag, a branch, a commit or a version range such as `^1.4`"
                        .to_string(),
                })
            }
            GitImportError::NoMatchingTag { tags, .. } => {
                fault("stack::module::no_such_ref").help(if tags.is_empty() {
                    "the repository has no version tags (like `v1.4.0`)".to_string()
                } else {
                    format!("version tags: {}", tags.join(", "))
                })
            }
            GitImportError::NotFound { .. } => fault("stack::module::not_found")
                .help("the path after `//` names a module file in the repository, without `.rhai`"),
            GitImportError::TooLarge { .. } => fault("stack::module::too_large")
                .help("split it into modules and import them"),
            GitImportError::Moved { .. } => fault("stack::module::moved").help(
                "the ref was moved after the lock was written: review the change, then run `stack modules update`",
            ),
            GitImportError::Changed { .. } => fault("stack::module::changed").help(
                "the module's content differs from the locked hash: restore the lock file, or run `stack modules update` to lock what is there now",
            ),
            GitImportError::WouldChange { .. } => fault("stack::module::locked").help(
                "run `stack modules lock` (or `stack modules update`) and commit the lock file",
            ),
            GitImportError::Lock(_) => fault("stack::module::lock")
                .help("fix or remove the lock file; `stack modules lock` writes it again"),
            GitImportError::Vendor { .. } => fault("stack::module::vendor")
                .help("`stack modules vendor` replaces `vendor/modules` beside the stack: it must be writable"),
            GitImportError::Cache { .. } => fault("stack::module::cache")
                .help("set STACK_CACHE_DIR to a directory stack may write"),
        }
    }
}

/// Outside a script (`stack modules outdated`) the error is its own diagnostic.
impl miette::Diagnostic for GitImportError {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(self.fault().code))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.fault()
            .help
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }
}

const FORM: &str =
    "write `git+https://host/org/repo.git//path/to/module?ref=v1.4.0` (or git+ssh://, git+file://)";

impl GitImport {
    /// Whether an import path names a git module.
    pub fn is_git(path: &str) -> bool {
        path.starts_with("git+")
    }

    pub fn parse(path: &str) -> Result<GitImport, GitImportError> {
        let syntax = |help| GitImportError::Syntax(path.to_string(), help);
        let rest = path.strip_prefix("git+").ok_or_else(|| syntax(FORM))?;
        let (location, query) = match rest.split_once('?') {
            Some((l, q)) => (l, Some(q)),
            None => (rest, None),
        };
        let reference = match query {
            None => "HEAD".to_string(),
            Some(q) => match q.strip_prefix("ref=") {
                Some(r) if !r.is_empty() && !r.contains('&') => r.to_string(),
                _ => {
                    return Err(syntax(
                        "the only query is `?ref=<tag, branch, commit or range>`",
                    ))
                }
            },
        };
        let (scheme, after) = location.split_once("://").ok_or_else(|| syntax(FORM))?;
        if !matches!(scheme, "https" | "http" | "ssh" | "file") {
            return Err(syntax(
                "git modules are read over https://, ssh:// or file://",
            ));
        }
        let (repo, module) = after
            .split_once("//")
            .ok_or_else(|| syntax("name the module after `//`: `…/repo.git//path/to/module`"))?;
        // A password in the URL would be stored in stack.lock and shown in
        // messages: credentials come from git's own helpers instead.
        let authority = repo.split('/').next().unwrap_or_default();
        if authority
            .rsplit_once('@')
            .is_some_and(|(userinfo, _)| userinfo.contains(':'))
        {
            return Err(syntax(
                "leave credentials out of the URL: git's credential helpers, SSH agent and config supply them",
            ));
        }
        let module = module.trim_end_matches(".rhai");
        if module.is_empty()
            || module
                .split('/')
                .any(|part| part.is_empty() || part == "." || part == "..")
        {
            return Err(syntax(
                "the module path after `//` is relative to the repository's root, without `.` or `..`",
            ));
        }
        Ok(GitImport {
            url: format!("{scheme}://{repo}"),
            path: module.to_string(),
            reference,
        })
    }

    /// The import as written, for display names and messages.
    pub fn display(&self) -> String {
        format!("git+{}//{}?ref={}", self.url, self.path, self.reference)
    }

    /// A module imported by a relative path from this one: the same
    /// repository at the same ref; `None` when it leaves the repository.
    pub fn relative(&self, path: &str) -> Option<GitImport> {
        let mut parts: Vec<&str> = self.path.split('/').collect();
        parts.pop();
        for part in path.trim_end_matches(".rhai").split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop()?;
                }
                other => parts.push(other),
            }
        }
        Some(GitImport {
            path: parts.join("/"),
            ..self.clone()
        })
    }
}

/// Whether a ref is a semver range over tags rather than a name.
pub fn is_range(reference: &str) -> bool {
    reference.starts_with(['^', '~', '>', '<', '=', '*'])
}

/// A repository's branches and tags as `git ls-remote` lists them.
#[derive(Debug, Default)]
pub struct Refs {
    /// `(name, commit)`: `HEAD`, `refs/heads/…`, `refs/tags/…` (peeled to
    /// the commit for annotated tags).
    pub entries: Vec<(String, String)>,
}

impl Refs {
    fn parse(text: &str) -> Refs {
        let mut entries: Vec<(String, String)> = Vec::new();
        for line in text.lines() {
            let Some((commit, name)) = line.split_once('\t') else {
                continue;
            };
            if let Some(tag) = name.strip_suffix("^{}") {
                // The peeled commit of an annotated tag replaces the tag object.
                entries.retain(|(n, _)| n != tag);
                entries.push((tag.to_string(), commit.to_string()));
            } else if !entries.iter().any(|(n, _)| n == name) {
                entries.push((name.to_string(), commit.to_string()));
            }
        }
        Refs { entries }
    }

    /// Tags whose names are versions (`v1.4.0` or `1.4.0`), with the version.
    pub fn versions(&self) -> Vec<(semver::Version, String, String)> {
        let mut out: Vec<_> = self
            .entries
            .iter()
            .filter_map(|(name, commit)| {
                let tag = name.strip_prefix("refs/tags/")?;
                let version = semver::Version::parse(tag.strip_prefix('v').unwrap_or(tag)).ok()?;
                Some((version, tag.to_string(), commit.clone()))
            })
            .collect();
        out.sort();
        out
    }

    /// The ref name and commit `reference` stands for.
    pub fn resolve(&self, url: &str, reference: &str) -> Result<(String, String), GitImportError> {
        if is_range(reference) {
            let range = semver::VersionReq::parse(reference).map_err(|_| {
                GitImportError::Syntax(
                    reference.to_string(),
                    "a version range is written like `^1.4`, `~1.4.2` or `>=1.2, <2`",
                )
            })?;
            let versions = self.versions();
            return versions
                .iter()
                .rev()
                .find(|(v, ..)| range.matches(v))
                .map(|(_, tag, commit)| (format!("refs/tags/{tag}"), commit.clone()))
                .ok_or_else(|| GitImportError::NoMatchingTag {
                    url: url.to_string(),
                    range: reference.to_string(),
                    tags: versions.into_iter().map(|(_, tag, _)| tag).collect(),
                });
        }
        for name in [
            reference.to_string(),
            format!("refs/tags/{reference}"),
            format!("refs/heads/{reference}"),
        ] {
            if let Some((n, commit)) = self.entries.iter().find(|(n, _)| *n == name) {
                return Ok((n.clone(), commit.clone()));
            }
        }
        if is_commit(reference) {
            if let Some((_, commit)) = self.entries.iter().find(|(_, c)| c.starts_with(reference)) {
                return Ok((commit.clone(), commit.clone()));
            }
            // A commit no ref points at is fetched by its id.
            return Ok((reference.to_string(), reference.to_string()));
        }
        let names: Vec<&str> = self
            .entries
            .iter()
            .filter_map(|(n, _)| {
                n.strip_prefix("refs/tags/")
                    .or_else(|| n.strip_prefix("refs/heads/"))
            })
            .collect();
        Err(GitImportError::NoSuchRef {
            url: url.to_string(),
            reference: reference.to_string(),
            close: suggest::closest(reference, names).map(str::to_string),
        })
    }
}

fn is_commit(reference: &str) -> bool {
    (7..=40).contains(&reference.len()) && reference.chars().all(|c| c.is_ascii_hexdigit())
}

/// The bare repository that caches one URL's objects.
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache of `url` under `root` (the user's cache directory).
    pub fn open(root: &Path, url: &str) -> Result<Cache, GitImportError> {
        let digest = crate::lockfile::content_hash(url);
        let dir = root.join("git").join(format!(
            "{}-{}",
            stack_engine::cache::file_name(url.rsplit('/').next().unwrap_or("repo")),
            &digest[..12]
        ));
        if !dir.join("HEAD").is_file() {
            std::fs::create_dir_all(&dir).map_err(|e| GitImportError::Cache {
                dir: dir.clone(),
                detail: e.to_string(),
            })?;
            git(&dir, &["init", "--bare", "--quiet"]).map_err(|e| match e {
                Failure::Run(e) => GitImportError::NoGit(e),
                Failure::Exit(detail) => GitImportError::Cache {
                    dir: dir.clone(),
                    detail,
                },
            })?;
        }
        Ok(Cache { dir })
    }

    /// The repository's refs, read over the network.
    pub fn list(&self, url: &str) -> Result<Refs, GitImportError> {
        let out = git(&self.dir, &["ls-remote", "--", url]).map_err(|e| e.at(url))?;
        Ok(Refs::parse(&out))
    }

    /// Whether the cache holds `commit`.
    pub fn has(&self, commit: &str) -> bool {
        git(
            &self.dir,
            &["cat-file", "-e", &format!("{commit}^{{commit}}")],
        )
        .is_ok()
    }

    /// Fetches `name` (a ref or a commit) from `url` and keeps `commit`
    /// reachable in the cache.
    pub fn fetch(&self, url: &str, name: &str, commit: &str) -> Result<(), GitImportError> {
        git(
            &self.dir,
            &["fetch", "--quiet", "--no-tags", "--", url, name],
        )
        .map_err(|e| e.at(url))?;
        let fetched = git(&self.dir, &["rev-parse", "FETCH_HEAD^{commit}"])
            .map_err(|e| e.at(url))?
            .trim()
            .to_string();
        if !fetched.starts_with(commit) {
            return Err(GitImportError::Moved {
                url: url.to_string(),
                reference: name.to_string(),
                now: fetched,
                locked: commit.to_string(),
                lock: crate::lockfile::FILE_NAME.to_string(),
            });
        }
        git(
            &self.dir,
            &["update-ref", &format!("refs/stack/{fetched}"), &fetched],
        )
        .map_err(|e| e.at(url))?;
        Ok(())
    }

    /// The full id of a commit the cache holds.
    pub fn full_commit(&self, commit: &str) -> Option<String> {
        git(&self.dir, &["rev-parse", &format!("{commit}^{{commit}}")])
            .ok()
            .map(|s| s.trim().to_string())
    }

    /// The text of the module `import.path` at `commit`, bounded by `limit`.
    pub fn read(
        &self,
        import: &GitImport,
        commit: &str,
        limit: u64,
    ) -> Result<String, GitImportError> {
        let object = format!("{commit}:{}.rhai", import.path);
        let not_found = || GitImportError::NotFound {
            url: import.url.clone(),
            path: import.path.clone(),
            reference: import.reference.clone(),
            commit: commit.chars().take(12).collect(),
        };
        let kind = git(&self.dir, &["cat-file", "-t", &object]).map_err(|_| not_found())?;
        if kind.trim() != "blob" {
            return Err(not_found());
        }
        let size: u64 = git(&self.dir, &["cat-file", "-s", &object])
            .map_err(|_| not_found())?
            .trim()
            .parse()
            .unwrap_or(u64::MAX);
        if size > limit {
            return Err(GitImportError::TooLarge {
                path: import.path.clone(),
                commit: commit.to_string(),
                limit,
            });
        }
        git(&self.dir, &["cat-file", "blob", &object]).map_err(|_| not_found())
    }
}

enum Failure {
    Run(std::io::Error),
    Exit(String),
}

impl Failure {
    fn at(self, url: &str) -> GitImportError {
        match self {
            Failure::Run(e) => GitImportError::NoGit(e),
            Failure::Exit(detail) => GitImportError::Unreachable {
                url: url.to_string(),
                detail,
            },
        }
    }
}

/// Runs `git` in `dir` without a terminal prompt, returning its stdout.
fn git(dir: &Path, args: &[&str]) -> Result<String, Failure> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(Failure::Run)?;
    if output.status.success() {
        return String::from_utf8(output.stdout)
            .map_err(|_| Failure::Exit("git printed text that is not UTF-8".to_string()));
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    // git's first `fatal:` says why; the lines after it are generic advice.
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let detail = lines
        .iter()
        .find_map(|l| {
            l.strip_prefix("fatal: ")
                .or_else(|| l.strip_prefix("error: "))
        })
        .or(lines.first().copied())
        .unwrap_or("git failed")
        .to_string();
    Err(Failure::Exit(detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_names_the_repository_the_module_and_the_ref() {
        let i = GitImport::parse("git+https://host/org/lib.git//net/ingress?ref=v1.4.0").unwrap();
        assert_eq!(i.url, "https://host/org/lib.git");
        assert_eq!(i.path, "net/ingress");
        assert_eq!(i.reference, "v1.4.0");
        assert!(GitImport::parse("git+ssh://git@host/org/lib.git//m?ref=v1").is_ok());
        let f = GitImport::parse("git+file:///srv/lib//base").unwrap();
        assert_eq!(
            (f.url.as_str(), f.reference.as_str()),
            ("file:///srv/lib", "HEAD")
        );
        for bad in [
            "git+https://host/lib.git",
            "git+ftp://host/lib//m",
            "git+https://host/lib//../m",
            "git+https://host/lib//m?rev=1",
            "git+https://user:token@host/lib.git//m",
        ] {
            assert!(GitImport::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_relative_import_stays_in_the_repository() {
        let i = GitImport::parse("git+file:///lib//net/ingress?ref=v1").unwrap();
        assert_eq!(i.relative("./tls").unwrap().path, "net/tls");
        assert_eq!(i.relative("../base.rhai").unwrap().path, "base");
        assert!(i.relative("../../x").is_none());
    }

    #[test]
    fn refs_resolve_tags_branches_commits_and_ranges() {
        let refs = Refs::parse(
            "a1\tHEAD\nb2\trefs/heads/main\nc3\trefs/tags/v1.4.0\nd4\trefs/tags/v1.5.0\ne5\trefs/tags/v1.5.0^{}\nf6\trefs/tags/v2.0.0\n",
        );
        let at = |r: &str| refs.resolve("u", r).map(|(_, c)| c);
        assert_eq!(at("HEAD").unwrap(), "a1");
        assert_eq!(at("main").unwrap(), "b2");
        assert_eq!(at("v1.5.0").unwrap(), "e5");
        assert_eq!(at("^1.4").unwrap(), "e5");
        assert_eq!(at("~1.4").unwrap(), "c3");
        assert_eq!(at("0123abcd").unwrap(), "0123abcd");
        assert!(matches!(
            refs.resolve("u", "v1.6.0"),
            Err(GitImportError::NoSuchRef { close: Some(_), .. })
        ));
        assert!(matches!(
            refs.resolve("u", "^3"),
            Err(GitImportError::NoMatchingTag { .. })
        ));
    }
}
