//! Chart repositories over HTTP: `index.yaml` read with `reqwest`, a
//! version or semver constraint resolved to an exact version, the archive
//! downloaded, its sha256 checked against the index, and kept in the cache.
//! A repository with a mirror in `STACK_CHART_MIRRORS` is read from there.

use std::path::PathBuf;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use stack_engine::provider::ProviderError;

use super::error::HelmError;
use super::{cache, mirror};
use crate::notes::with_notes;

/// A repository's `index.yaml`, as far as it is read.
#[derive(Debug, Deserialize)]
pub struct Index {
    #[serde(default)]
    pub entries: std::collections::BTreeMap<String, Vec<Entry>>,
}

/// One version of a chart in the index.
#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    pub version: String,
    #[serde(default)]
    pub urls: Vec<String>,
    #[serde(default)]
    pub digest: Option<String>,
}

/// A chart archive on disk and the exact version it is.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub archive: PathBuf,
    pub version: String,
}

/// The entry of `chart` that `wanted` selects: an exact version, or the
/// highest version a constraint (`^1.0`, `~28.3`, `>=1, <2`) matches.
pub fn resolve<'a>(
    index: &'a Index,
    repo: &str,
    chart: &str,
    wanted: &str,
) -> Result<&'a Entry, ProviderError> {
    let entries = index.entries.get(chart).ok_or_else(|| HelmError::Chart {
        message: format!("chart repository {repo} has no chart `{chart}`"),
        help: Some(
            "check `chart` and `repo`; the repository's index.yaml lists what it holds".to_string(),
        ),
    })?;
    if let Some(exact) = entries.iter().find(|e| {
        e.version == wanted || e.version.trim_start_matches('v') == wanted.trim_start_matches('v')
    }) {
        return Ok(exact);
    }
    if is_exact(wanted) {
        // A pinned version that is not there is not a constraint to widen.
        let mut known: Vec<&str> = entries.iter().map(|e| e.version.as_str()).collect();
        known.truncate(10);
        return Err(HelmError::Chart {
            message: format!(
                "chart repository {repo} has no version `{wanted}` of chart `{chart}`"
            ),
            help: with_notes(
                [format!("versions there: {}", known.join(", "))],
                Some(
                    "pin a version the repository holds, or give a constraint like `^1.2`"
                        .to_string(),
                ),
            ),
        }
        .into());
    }
    let constraint = semver::VersionReq::parse(wanted.trim_start_matches('v')).map_err(|e| {
        HelmError::Chart {
            message: format!(
                "`{wanted}` is neither a version of `{chart}` nor a version constraint"
            ),
            help: with_notes(
                [e.to_string()],
                Some("give an exact version like `1.2.3` or a constraint like `^1.2`".to_string()),
            ),
        }
    })?;
    Ok(entries
        .iter()
        .filter_map(|e| {
            semver::Version::parse(e.version.trim_start_matches('v'))
                .ok()
                .filter(|v| constraint.matches(v))
                .map(|v| (v, e))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, e)| e)
        .ok_or_else(|| {
            let mut known: Vec<&str> = entries.iter().map(|e| e.version.as_str()).collect();
            known.truncate(10);
            HelmError::Chart {
                message: format!("no version of chart `{chart}` in {repo} matches `{wanted}`"),
                help: with_notes([format!("versions there: {}", known.join(", "))], None),
            }
        })?)
}

/// A repository's index, read through its mirror if it has one.
pub struct Repository {
    /// The repository for messages: `https://… (through the mirror …)`.
    pub shown: String,
    /// Where its files are read from, with a trailing slash.
    pub base: reqwest::Url,
    pub index: Index,
    client: reqwest::Client,
}

/// Reads the `index.yaml` of the chart repository at `repo`.
pub async fn repository(repo: &str) -> Result<Repository, ProviderError> {
    let read_from = mirror::from_env(repo);
    let shown = if read_from == repo {
        mirror::without_credentials(repo)
    } else {
        format!(
            "{} (through the mirror {})",
            mirror::without_credentials(repo),
            mirror::without_credentials(&read_from)
        )
    };
    let base =
        reqwest::Url::parse(&format!("{}/", read_from.trim_end_matches('/'))).map_err(|e| {
            HelmError::Repository {
                message: format!("`{shown}` is not a chart repository URL"),
                help: with_notes([e.to_string()], None),
            }
        })?;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .map_err(|e| HelmError::Repository {
            message: "cannot create an HTTP client".to_string(),
            help: with_notes([e.to_string()], None),
        })?;
    let index_url = join(&base, "index.yaml", &shown)?;
    let text = get(&client, &index_url).await?;
    let index: Index = serde_yaml::from_slice(&text).map_err(|e| HelmError::Repository {
        message: format!("the index of chart repository {shown} cannot be read"),
        help: with_notes([e.to_string()], None),
    })?;
    Ok(Repository {
        shown,
        base,
        index,
        client,
    })
}

/// Whether `version` names one version rather than a constraint.
pub fn is_exact(version: &str) -> bool {
    semver::Version::parse(version.trim_start_matches('v')).is_ok()
}

/// Resolves `wanted` in the repository at `repo` and returns the chart
/// archive, downloaded unless the cache holds it with the right digest.
pub async fn fetch(repo: &str, chart: &str, wanted: &str) -> Result<Fetched, ProviderError> {
    let Repository {
        shown,
        base,
        index,
        client,
    } = repository(repo).await?;
    let repo = shown.as_str();
    let entry = resolve(&index, repo, chart, wanted)?;
    let url = entry.urls.first().ok_or_else(|| HelmError::Repository {
        message: format!(
            "chart `{chart}` {} in {repo} has no download URL",
            entry.version
        ),
        help: None,
    })?;
    // An index may name its archives by absolute URL: those under a
    // mirrored repository are read through the mirror too.
    let url = join(&base, &mirror::from_env(url), repo)?;
    let digest = entry.digest.as_deref().map(str::to_ascii_lowercase);
    let dir = cache::charts_dir().join(cache::file_name(&mirror::without_credentials(
        base.as_str(),
    )));
    let archive = dir.join(format!(
        "{}-{}.tgz",
        cache::file_name(chart),
        cache::file_name(&entry.version)
    ));
    if let (Some(want), Ok(bytes)) = (&digest, std::fs::read(&archive)) {
        if &sha256(&bytes) == want {
            return Ok(Fetched {
                archive,
                version: entry.version.clone(),
            });
        }
    }
    let bytes = get(&client, &url).await?;
    if let Some(want) = &digest {
        let got = sha256(&bytes);
        if &got != want {
            return Err(HelmError::Repository { message: format!(
                "chart `{chart}` {} downloaded from {} does not match the digest in the repository index",
                entry.version,
                mirror::without_credentials(url.as_str())
            ), help: with_notes([format!("index: sha256 {want}"), format!("downloaded: sha256 {got}")], None) }.into());
        }
    }
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(&dir)?;
        let tmp = tempfile::NamedTempFile::new_in(&dir)?;
        std::fs::write(tmp.path(), &bytes)?;
        tmp.persist(&archive).map_err(|e| e.error)?;
        Ok(())
    };
    write().map_err(|e| HelmError::Repository {
        message: format!("cannot keep chart `{chart}` in the cache {}", dir.display()),
        help: with_notes(
            [e.to_string()],
            Some(format!(
                "set `{}` to a writable directory",
                cache::CACHE_ENV
            )),
        ),
    })?;
    Ok(Fetched {
        archive,
        version: entry.version.clone(),
    })
}

fn join(base: &reqwest::Url, path: &str, repo: &str) -> Result<reqwest::Url, ProviderError> {
    base.join(path).map_err(|e| {
        HelmError::Repository {
            message: format!("`{path}` in chart repository {repo} is not a URL"),
            help: with_notes([e.to_string()], None),
        }
        .into()
    })
}

async fn get(client: &reqwest::Client, url: &reqwest::Url) -> Result<Vec<u8>, ProviderError> {
    let shown = mirror::without_credentials(url.as_str());
    let failed = |e: reqwest::Error| HelmError::Repository {
        message: format!("cannot download {shown}"),
        help: with_notes([e.without_url().to_string()], None),
    };
    let response = client.get(url.clone()).send().await.map_err(failed)?;
    let status = response.status();
    if !status.is_success() {
        return Err(HelmError::Repository {
            message: format!("cannot download {shown}: the server answered {status}"),
            help: None,
        }
        .into());
    }
    Ok(response.bytes().await.map_err(failed)?.to_vec())
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> Index {
        serde_yaml::from_str(
            "apiVersion: v1\nentries:\n  argo-like:\n  - version: 1.2.0\n    urls: [argo-like-1.2.0.tgz]\n  - version: 1.10.1\n    urls: [argo-like-1.10.1.tgz]\n  - version: 2.0.0\n    urls: [argo-like-2.0.0.tgz]\n  - version: 1.11.0-rc.1\n    urls: [x.tgz]\n",
        )
        .expect("an index")
    }

    #[test]
    fn constraints_resolve_to_the_highest_match_and_exact_versions_to_themselves() {
        let index = index();
        let cases = [
            ("^1.0", "1.10.1"),
            ("~1.2", "1.2.0"),
            (">=1, <3", "2.0.0"),
            ("1.2.0", "1.2.0"),
            ("v2.0.0", "2.0.0"),
        ];
        for (wanted, version) in cases {
            let entry = resolve(&index, "r", "argo-like", wanted).expect(wanted);
            assert_eq!(entry.version, version, "{wanted}");
        }
    }

    #[test]
    fn no_match_and_unknown_charts_say_so() {
        let index = index();
        let error = resolve(&index, "r", "argo-like", "1.2.1").expect_err("no 1.2.1");
        assert!(
            error.message().contains("no version `1.2.1`"),
            "{}",
            error.message()
        );
        let error = resolve(&index, "r", "argo-like", "^3").expect_err("no 3.x");
        assert!(
            error.message().contains("matches `^3`"),
            "{}",
            error.message()
        );
        let error = resolve(&index, "r", "nope", "1").expect_err("no chart");
        assert!(
            error.message().contains("no chart `nope`"),
            "{}",
            error.message()
        );
    }
}
