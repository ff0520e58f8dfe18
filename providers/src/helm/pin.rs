//! Chart version constraints pinned when a plan is made: a `version` like
//! `^7.3` is resolved against the repository's index to the exact version
//! it selects today, recorded as the input `resolved_version`. The plan
//! shows it, what is applied (or committed for Argo CD) is exactly that
//! version, and a newer matching release shows up in a later plan as a
//! change instead of slipping in unseen. Exact versions need no network.

use std::collections::HashMap;

use stack_engine::provider::ProviderError;
use stack_engine::{Graph, Kind, ResourceId};

use super::repo;

pub use stack_engine::objects::RESOLVED_VERSION;

/// A chart declared with a version constraint.
#[derive(Debug, Clone, PartialEq)]
struct Constrained {
    id: ResourceId,
    repo: String,
    chart: String,
    constraint: String,
}

fn constrained(graph: &Graph) -> Vec<Constrained> {
    graph
        .resources()
        .iter()
        .filter(|r| matches!(r.kind, Kind::HelmApp | Kind::Bootstrap))
        .filter_map(|r| {
            let text = |key: &str| r.input_str(key).filter(|s| !s.is_empty());
            let repo = text("repo")?;
            let is_http = repo.starts_with("http://") || repo.starts_with("https://");
            let constraint = text("version").filter(|v| !repo::is_exact(v))?;
            let chart = text("chart")?;
            (is_http && text("path").is_none()).then(|| Constrained {
                id: r.id.clone(),
                repo: repo.to_string(),
                chart: chart.to_string(),
                constraint: constraint.to_string(),
            })
        })
        .collect()
}

/// The exact version each constrained chart of `graph` resolves to, each
/// repository's index read once. A failure names the resource it is for.
pub async fn resolve_constraints(
    graph: &Graph,
) -> Result<Vec<(ResourceId, String)>, (ResourceId, ProviderError)> {
    let mut indexes: HashMap<String, repo::Repository> = HashMap::new();
    let mut pinned = Vec::new();
    for c in constrained(graph) {
        if !indexes.contains_key(&c.repo) {
            let read = repo::repository(&c.repo)
                .await
                .map_err(|e| (c.id.clone(), e))?;
            indexes.insert(c.repo.clone(), read);
        }
        let repository = &indexes[&c.repo];
        let entry = repo::resolve(
            &repository.index,
            &repository.shown,
            &c.chart,
            &c.constraint,
        )
        .map_err(|e| (c.id.clone(), e))?;
        pinned.push((c.id, entry.version.clone()));
    }
    Ok(pinned)
}
