//! The parameters a script reads with `param(...)`: values files
//! (`--values FILE`, YAML or JSON, merged in order), then `--set`, which
//! wins. A map or a list in a values file reaches `param` as JSON text —
//! a list of plain words as `a,b`, the way `--set` writes one — which it
//! converts to the default's type as it does `--set a,b` or
//! `--set '{"a":1}'`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use miette::{NamedSource, SourceSpan};

use crate::failure::Failure;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ParamsError {
    /// A parameter given twice on the command line: which one wins is a
    /// guess nobody should have to make.
    #[error("`--set {name}` is given twice")]
    #[diagnostic(
        code(stack::cli::set_twice),
        help("give each parameter once; a list is one value: `--set {name}=a,b`")
    )]
    SetTwice { name: String },
    #[error("cannot read the values file {}", path.display())]
    #[diagnostic(
        code(stack::cli::values_read),
        help("check the path given to `--values`")
    )]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the values file {} is not YAML or JSON: {message}", path.display())]
    #[diagnostic(code(stack::cli::values_invalid))]
    Invalid {
        path: PathBuf,
        message: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("here")]
        span: Option<SourceSpan>,
    },
    #[error("the values file {} is not a map of parameters", path.display())]
    #[diagnostic(
        code(stack::cli::values_shape),
        help(
            "write one `name: value` per parameter at the top level, as `--set name=value` would"
        )
    )]
    NotAMap { path: PathBuf },
    #[error("parameter `{name}` in {} has no value", path.display())]
    #[diagnostic(
        code(stack::cli::values_null),
        help("give it a value, or leave it out to use the script's default")
    )]
    Null { name: String, path: PathBuf },
}

/// The parameters of `values` files, in order, then of `--set`.
pub fn params(
    values: &[PathBuf],
    set: &[(String, String)],
) -> Result<BTreeMap<String, String>, Failure> {
    let mut params = BTreeMap::new();
    for path in values {
        params.extend(values_file(path).map_err(Failure::usage)?);
    }
    let mut given = std::collections::BTreeSet::new();
    for (name, value) in set {
        if !given.insert(name) {
            return Err(Failure::usage(ParamsError::SetTwice { name: name.clone() }));
        }
        params.insert(name.clone(), value.clone());
    }
    Ok(params)
}

#[allow(
    clippy::result_large_err,
    reason = "a diagnostic carries its source text; it is built once, when a command fails"
)]
fn values_file(path: &Path) -> Result<BTreeMap<String, String>, ParamsError> {
    let text = std::fs::read_to_string(path).map_err(|source| ParamsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let document: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| ParamsError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
            span: e.location().map(|l| SourceSpan::from((l.index(), 1))),
            src: NamedSource::new(path.to_string_lossy(), text.clone()),
        })?;
    let map = match document {
        serde_yaml::Value::Mapping(map) => map,
        // An empty file sets nothing.
        serde_yaml::Value::Null => return Ok(BTreeMap::new()),
        _ => return Err(ParamsError::NotAMap { path: path.into() }),
    };
    let mut params = BTreeMap::new();
    for (key, value) in map {
        let Some(name) = key.as_str().map(str::to_string) else {
            return Err(ParamsError::NotAMap { path: path.into() });
        };
        let text = match value {
            serde_yaml::Value::Null => {
                return Err(ParamsError::Null {
                    name,
                    path: path.into(),
                })
            }
            serde_yaml::Value::String(s) => s,
            serde_yaml::Value::Bool(b) => b.to_string(),
            serde_yaml::Value::Number(n) => n.to_string(),
            serde_yaml::Value::Sequence(items) if plain_list(&items).is_some() => {
                plain_list(&items).unwrap_or_default()
            }
            other => serde_json::to_string(&other).map_err(|e| ParamsError::Invalid {
                path: path.to_path_buf(),
                message: e.to_string(),
                span: None,
                src: NamedSource::new(path.to_string_lossy(), text.clone()),
            })?,
        };
        params.insert(name, text);
    }
    Ok(params)
}

/// A list of scalars without commas as `--set` writes it (`a,b,c`), which
/// `param` reads for a list and a script can split; other lists are JSON.
fn plain_list(items: &[serde_yaml::Value]) -> Option<String> {
    let words: Option<Vec<String>> = items
        .iter()
        .map(|item| match item {
            serde_yaml::Value::String(s) if !s.contains(',') && !s.is_empty() => Some(s.clone()),
            serde_yaml::Value::Number(n) => Some(n.to_string()),
            serde_yaml::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        })
        .collect();
    words.filter(|w| !w.is_empty()).map(|w| w.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    #[test]
    fn files_merge_in_order_and_set_wins() {
        let dir = tempfile::tempdir().expect("dir");
        let base = write(
            dir.path(),
            "base.yaml",
            "env: dev\nreplicas: 2\nteams: [web, api]\nodd: [\"a,b\", c]\nlimits: {cpu: 1}\n",
        );
        let prod = write(dir.path(), "prod.json", r#"{"env": "prod", "ha": true}"#);
        let set = [("replicas".to_string(), "5".to_string())];
        let params = params(&[base, prod], &set).unwrap_or_else(|_| panic!("valid"));
        assert_eq!(params["env"], "prod");
        assert_eq!(params["replicas"], "5");
        assert_eq!(params["ha"], "true");
        assert_eq!(params["teams"], "web,api");
        assert_eq!(params["odd"], r#"["a,b","c"]"#);
        assert_eq!(params["limits"], r#"{"cpu":1}"#);
    }

    #[test]
    fn a_file_that_is_not_a_map_or_names_no_value_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        for (text, expect) in [
            ("- a\n- b\n", "not a map"),
            ("env:\n", "has no value"),
            ("env: [unclosed\n", "not YAML or JSON"),
        ] {
            let path = write(dir.path(), "v.yaml", text);
            let error = values_file(&path).expect_err(text);
            assert!(error.to_string().contains(expect), "{text}: {error}");
        }
        assert!(matches!(
            values_file(&dir.path().join("missing.yaml")),
            Err(ParamsError::Read { .. })
        ));
    }
}
