//! `stack.lock`: the commit and content hash of every git module a stack
//! imports, transitive ones too. The first resolution writes it; later
//! evaluations use exactly the locked commit, from the cache when it holds
//! it, and refuse content that no longer matches.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The file name, beside the stack's script.
pub const FILE_NAME: &str = "stack.lock";
const VERSION: u32 = 1;

/// What an evaluation may do with `stack.lock`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LockPolicy {
    /// Use what is locked; lock what is not yet (as cargo writes Cargo.lock).
    #[default]
    Extend,
    /// Use what is locked; any change to the lock is an error (`--locked`).
    Locked,
    /// Use what is locked; resolve what is not without writing the lock
    /// (`stack reference` of a git module).
    ReadOnly,
    /// Resolve again the modules of this repository URL (all when `None`)
    /// and lock what they resolve to now (`stack modules update`).
    Update(Option<String>),
}

impl LockPolicy {
    /// Whether `stack.lock` may be written.
    pub fn writes(&self) -> bool {
        !matches!(self, LockPolicy::Locked | LockPolicy::ReadOnly)
    }

    /// Whether the locked entry of `url` is set aside to be resolved again.
    pub fn updates(&self, url: &str) -> bool {
        match self {
            LockPolicy::Update(None) => true,
            LockPolicy::Update(Some(u)) => u == url,
            _ => false,
        }
    }
}

/// One locked module file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Locked {
    pub url: String,
    pub path: String,
    #[serde(rename = "ref")]
    pub reference: String,
    /// The ref name the commit was found under (`refs/tags/v1.4.0`).
    pub resolved: String,
    pub commit: String,
    /// The sha256 of the module file's text.
    pub sha256: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    modules: Vec<Locked>,
}

/// Why the lock file cannot be used.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[diagnostic(
    code(stack::module::lock),
    help("fix or remove the lock file; `stack modules lock` writes it again")
)]
pub enum LockError {
    #[error("cannot read `{}`: {detail}", path.display())]
    Read { path: PathBuf, detail: String },
    #[error("`{}` was written by a newer stack (format {found}, this one reads {VERSION})", path.display())]
    Newer { path: PathBuf, found: u32 },
    #[error("cannot write `{}`: {detail}", path.display())]
    Write { path: PathBuf, detail: String },
}

/// The lock of one stack, as read and as the evaluation extends it.
#[derive(Debug, Default)]
pub struct Lock {
    path: PathBuf,
    entries: BTreeMap<(String, String, String), Locked>,
    changed: bool,
}

impl Lock {
    /// Reads `stack.lock` in `dir`; a missing file is an empty lock.
    pub fn load(dir: &Path) -> Result<Lock, LockError> {
        let path = dir.join(FILE_NAME);
        let mut lock = Lock {
            path: path.clone(),
            ..Lock::default()
        };
        let text = match stack_engine::input::read_text(&path, stack_engine::input::MAX_DATA_BYTES)
        {
            Ok(text) => text,
            Err(e) if e.is_not_found() => return Ok(lock),
            Err(e) => {
                return Err(LockError::Read {
                    path,
                    detail: e.to_string(),
                })
            }
        };
        let version = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("version")?.as_u64());
        if let Some(found) = version.filter(|v| *v > u64::from(VERSION)) {
            return Err(LockError::Newer {
                path,
                found: u32::try_from(found).unwrap_or(u32::MAX),
            });
        }
        let file: File = serde_json::from_str(&text).map_err(|e| LockError::Read {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        for entry in file.modules {
            lock.entries
                .insert(key(&entry.url, &entry.path, &entry.reference), entry);
        }
        Ok(lock)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn entries(&self) -> impl Iterator<Item = &Locked> {
        self.entries.values()
    }

    pub fn get(&self, url: &str, path: &str, reference: &str) -> Option<&Locked> {
        self.entries.get(&key(url, path, reference))
    }

    /// Records a module resolved for the first time (or again, after an update).
    pub fn insert(&mut self, entry: Locked) {
        let k = key(&entry.url, &entry.path, &entry.reference);
        if self.entries.get(&k) != Some(&entry) {
            self.entries.insert(k, entry);
            self.changed = true;
        }
    }

    /// Drops what `used` does not name: modules no import reaches any more.
    pub fn retain(&mut self, used: &[(String, String, String)]) {
        let before = self.entries.len();
        self.entries.retain(|k, _| used.contains(k));
        self.changed |= self.entries.len() != before;
    }

    /// Whether the evaluation added to the lock.
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// Writes the lock if it changed, replacing the file whole.
    pub fn save(&mut self) -> Result<(), LockError> {
        if !self.changed {
            return Ok(());
        }
        let file = File {
            version: VERSION,
            modules: self.entries.values().cloned().collect(),
        };
        let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
        text.push('\n');
        let write = |e: std::io::Error| LockError::Write {
            path: self.path.clone(),
            detail: e.to_string(),
        };
        let temp = self.path.with_extension("lock.tmp");
        std::fs::write(&temp, text).map_err(write)?;
        std::fs::rename(&temp, &self.path).map_err(write)?;
        self.changed = false;
        Ok(())
    }
}

pub(crate) fn key(url: &str, path: &str, reference: &str) -> (String, String, String) {
    (url.to_string(), path.to_string(), reference.to_string())
}

/// The content hash recorded for a module's text.
pub fn content_hash(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(reference: &str) -> Locked {
        Locked {
            url: "file:///lib".into(),
            path: "net/ingress".into(),
            reference: reference.into(),
            resolved: "refs/tags/v1.4.0".into(),
            commit: "a".repeat(40),
            sha256: content_hash("x"),
        }
    }

    #[test]
    fn a_lock_is_written_when_it_changes_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut lock = Lock::load(dir.path()).unwrap();
        lock.save().unwrap();
        assert!(!dir.path().join(FILE_NAME).exists());
        lock.insert(entry("^1.4"));
        lock.save().unwrap();
        let again = Lock::load(dir.path()).unwrap();
        assert_eq!(
            again.get("file:///lib", "net/ingress", "^1.4"),
            Some(&entry("^1.4"))
        );
        assert!(!again.changed());
    }

    #[test]
    fn a_newer_format_or_an_unknown_field_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, r#"{"version": 9, "modules": []}"#).unwrap();
        assert!(matches!(
            Lock::load(dir.path()),
            Err(LockError::Newer { found: 9, .. })
        ));
        std::fs::write(&path, r#"{"version": 1, "modules": [], "extra": 1}"#).unwrap();
        assert!(matches!(
            Lock::load(dir.path()),
            Err(LockError::Read { .. })
        ));
    }
}
