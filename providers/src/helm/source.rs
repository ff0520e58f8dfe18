//! Where a chart comes from, read from a resource's inputs: a chart
//! repository over HTTP (`repo` + `chart` + `version`), a chart in git
//! (`repo` + `path`, `version` the ref), or a local directory (`path`
//! alone, relative to the stack's directory).

use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use stack_engine::provider::ProviderError;

use super::error::HelmError;
use super::{git, repo};
use crate::notes::with_notes;

/// A chart source, as declared.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Http {
        repo: String,
        chart: String,
        version: String,
    },
    Git {
        repo: String,
        path: String,
        reference: String,
    },
    Local {
        path: String,
    },
}

/// A chart ready to render: a directory or an archive, kept alive as long
/// as a checkout needs it.
pub struct Chart {
    pub path: PathBuf,
    /// The exact version: resolved from a constraint, the git ref, or the
    /// chart's own `version` for a local chart.
    pub version: String,
    /// `argo-like 1.0.0 from http://…`, for messages.
    pub describe: String,
    _checkout: Option<tempfile::TempDir>,
}

impl Source {
    /// Reads the source from resource inputs.
    pub fn from_inputs(inputs: &Json) -> Result<Source, ProviderError> {
        let text = |k: &str| {
            inputs
                .get(k)
                .and_then(Json::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        match (text("repo"), text("chart"), text("path")) {
            (Some(repo), _, Some(path)) => Ok(Source::Git {
                repo,
                path,
                reference: text("version").unwrap_or_else(|| "HEAD".into()),
            }),
            (None, _, Some(path)) => Ok(Source::Local { path }),
            (Some(repo), Some(chart), None) => {
                if !(repo.starts_with("http://") || repo.starts_with("https://")) {
                    return Err(HelmError::Chart { message: format!(
                        "chart repository `{repo}` is not an HTTP(S) URL"
                    ), help: Some("chart repositories are read over HTTP(S); a chart in git takes `path` instead of `chart`".to_string()) }.into());
                }
                // A constraint pinned when the plan was made wins.
                let version = text(super::pin::RESOLVED_VERSION)
                    .or_else(|| text("version"))
                    .ok_or_else(|| HelmError::Chart {
                        message: format!("chart `{chart}` has no `version`"),
                        help: None,
                    })?;
                Ok(Source::Http {
                    repo,
                    chart,
                    version,
                })
            }
            _ => Err(HelmError::Chart {
                message: "no chart to render: give `repo` and `chart`, or `path`".to_string(),
                help: None,
            }
            .into()),
        }
    }

    /// Brings the chart onto this machine.
    pub async fn fetch(&self, stack_dir: &Path) -> Result<Chart, ProviderError> {
        match self {
            Source::Http {
                repo,
                chart,
                version,
            } => {
                let fetched = repo::fetch(repo, chart, version).await?;
                Ok(Chart {
                    path: fetched.archive,
                    describe: format!("`{chart}` {} from {repo}", fetched.version),
                    version: fetched.version,
                    _checkout: None,
                })
            }
            Source::Git {
                repo,
                path,
                reference,
            } => {
                let checkout = git::checkout(repo, reference).await?;
                let dir = checkout.path().join(path.trim_start_matches('/'));
                if !dir.join("Chart.yaml").is_file() {
                    return Err(HelmError::Chart {
                        message: format!(
                        "`{path}` at `{reference}` of {repo} is not a chart: it has no Chart.yaml"
                    ),
                        help: None,
                    }
                    .into());
                }
                Ok(Chart {
                    path: dir,
                    version: reference.clone(),
                    describe: format!("`{path}` at `{reference}` of {repo}"),
                    _checkout: Some(checkout),
                })
            }
            Source::Local { path } => {
                let dir = stack_dir.join(path);
                let chart_yaml = std::fs::read_to_string(dir.join("Chart.yaml")).map_err(|e| {
                    HelmError::Chart { message: format!(
                        "`{path}` is not a chart: cannot read {}",
                        dir.join("Chart.yaml").display()
                    ), help: with_notes([e.to_string()], Some("`path` without `repo` names a chart directory relative to the stack".to_string())) }
                })?;
                let version = serde_yaml::from_str::<Json>(&chart_yaml)
                    .ok()
                    .and_then(|c| {
                        c.get("version")
                            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    })
                    .unwrap_or_default();
                Ok(Chart {
                    path: dir,
                    describe: format!("`{path}`"),
                    version,
                    _checkout: None,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sources_are_read_from_inputs() {
        let cases = [
            (
                json!({ "repo": "https://charts.example.com", "chart": "a", "version": "^1.0" }),
                Source::Http {
                    repo: "https://charts.example.com".into(),
                    chart: "a".into(),
                    version: "^1.0".into(),
                },
            ),
            (
                json!({ "repo": "https://git.example.com/c.git", "path": "charts/a", "version": "v1" }),
                Source::Git {
                    repo: "https://git.example.com/c.git".into(),
                    path: "charts/a".into(),
                    reference: "v1".into(),
                },
            ),
            (
                json!({ "path": "./charts/a" }),
                Source::Local {
                    path: "./charts/a".into(),
                },
            ),
        ];
        for (inputs, want) in cases {
            assert_eq!(Source::from_inputs(&inputs).expect("a source"), want);
        }
    }

    #[test]
    fn a_repository_that_is_not_http_is_refused() {
        let error =
            Source::from_inputs(&json!({ "repo": "oci://r", "chart": "a", "version": "1" }))
                .expect_err("not http");
        assert!(
            error.message().contains("not an HTTP(S) URL"),
            "{}",
            error.message()
        );
    }
}
