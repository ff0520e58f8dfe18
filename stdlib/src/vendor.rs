//! `stack modules vendor`: every locked git module copied into
//! `vendor/modules/` beside the stack, so that it evaluates offline and
//! without the cache; a vendored file is read only when it matches the
//! hash in `stack.lock`.

use std::path::{Path, PathBuf};

use crate::git_import::{Cache, GitImport, GitImportError};
use crate::lockfile::{content_hash, Lock, Locked};

/// The directory below the stack's that holds vendored modules.
pub const DIR: &str = "vendor/modules";

/// Where the vendored copy of a locked module file lives.
pub fn path(stack_dir: &Path, entry: &Locked) -> PathBuf {
    let repo = stack_engine::cache::file_name(entry.url.rsplit('/').next().unwrap_or("repo"));
    let digest = content_hash(&entry.url);
    stack_dir
        .join(DIR)
        .join(format!("{repo}-{}", &digest[..12]))
        .join(&entry.commit)
        .join(format!("{}.rhai", entry.path))
}

/// The vendored text of `entry`, when it is vendored: checked against the lock.
pub fn read(stack_dir: &Path, entry: &Locked) -> Option<Result<String, GitImportError>> {
    let file = path(stack_dir, entry);
    if !file.is_file() {
        return None;
    }
    let text = stack_engine::input::read_text(&file, stack_engine::input::MAX_SCRIPT_BYTES)
        .map_err(|e| GitImportError::Lock(format!("cannot read `{}`: {e}", file.display())));
    Some(text.and_then(|text| {
        if content_hash(&text) == entry.sha256 {
            Ok(text)
        } else {
            Err(changed(entry, &file.display().to_string()))
        }
    }))
}

pub(crate) fn changed(entry: &Locked, holder: &str) -> GitImportError {
    GitImportError::Changed {
        url: entry.url.clone(),
        path: entry.path.clone(),
        commit: entry.commit.chars().take(12).collect(),
        holder: holder.to_string(),
    }
}

/// Writes every module of the lock in `stack_dir` into `vendor/modules`,
/// replacing what was vendored before; returns how many files.
pub fn vendor(stack_dir: &Path) -> Result<usize, GitImportError> {
    let lock = Lock::load(stack_dir).map_err(|e| GitImportError::Lock(e.to_string()))?;
    let mut files = Vec::new();
    for entry in lock.entries() {
        let text = match read(stack_dir, entry) {
            Some(text) => text?,
            None => {
                let cache = Cache::open(&stack_engine::cache::dir(), &entry.url)?;
                if !cache.has(&entry.commit) {
                    cache.fetch(&entry.url, &entry.resolved, &entry.commit)?;
                }
                let import = GitImport {
                    url: entry.url.clone(),
                    path: entry.path.clone(),
                    reference: entry.reference.clone(),
                };
                let text = cache.read(
                    &import,
                    &entry.commit,
                    stack_engine::input::MAX_SCRIPT_BYTES,
                )?;
                if content_hash(&text) != entry.sha256 {
                    return Err(changed(entry, "the cache"));
                }
                text
            }
        };
        files.push((path(stack_dir, entry), text));
    }
    let dir = stack_dir.join(DIR);
    let cache_error = |e: std::io::Error| GitImportError::Vendor {
        dir: dir.clone(),
        detail: e.to_string(),
    };
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(cache_error)?;
    }
    for (file, text) in &files {
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(cache_error)?;
        }
        std::fs::write(file, text).map_err(cache_error)?;
    }
    Ok(files.len())
}
