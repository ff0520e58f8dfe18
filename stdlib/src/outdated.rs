//! `stack modules outdated`: the version tags published after the ones a
//! stack's lock pins, within its version range and beyond it.

use std::path::Path;

use crate::git_import::{is_range, Cache, GitImportError};
use crate::lockfile::Lock;

/// One repository and ref of the lock, against the tags it has now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outdated {
    pub url: String,
    pub reference: String,
    /// The tag (or branch, or commit) the lock pins.
    pub locked: String,
    /// The newest tag the range would pick now, when newer than `locked`.
    pub in_range: Option<String>,
    /// The newest version tag of all, when newer than `locked` and not `in_range`.
    pub latest: Option<String>,
}

/// Every repository and ref `stack.lock` in `dir` pins, read over the network.
pub fn outdated(dir: &Path) -> Result<Vec<Outdated>, GitImportError> {
    let lock = Lock::load(dir).map_err(|e| GitImportError::Lock(e.to_string()))?;
    let mut out: Vec<Outdated> = Vec::new();
    for entry in lock.entries() {
        if out
            .iter()
            .any(|o| o.url == entry.url && o.reference == entry.reference)
        {
            continue;
        }
        let refs = Cache::open(&stack_engine::cache::dir(), &entry.url)?.list(&entry.url)?;
        let versions = refs.versions();
        let locked = entry
            .resolved
            .strip_prefix("refs/tags/")
            .or_else(|| entry.resolved.strip_prefix("refs/heads/"))
            .unwrap_or(&entry.resolved)
            .to_string();
        let current = versions
            .iter()
            .find(|(_, tag, _)| *tag == locked)
            .map(|(v, ..)| v.clone());
        let newer = |v: &semver::Version| current.as_ref().is_none_or(|c| v > c);
        let in_range = semver::VersionReq::parse(&entry.reference)
            .ok()
            .filter(|_| is_range(&entry.reference))
            .and_then(|range| {
                versions
                    .iter()
                    .rev()
                    .find(|(v, ..)| range.matches(v))
                    .filter(|(v, ..)| newer(v))
                    .map(|(_, tag, _)| tag.clone())
            });
        let latest = versions
            .last()
            .filter(|(v, ..)| newer(v))
            .map(|(_, tag, _)| tag.clone())
            .filter(|tag| Some(tag) != in_range.as_ref() && current.is_some());
        out.push(Outdated {
            url: entry.url.clone(),
            reference: entry.reference.clone(),
            locked,
            in_range,
            latest,
        });
    }
    Ok(out)
}
