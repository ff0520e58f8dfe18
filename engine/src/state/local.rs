//! The local file backend: `.stack/<stack>.state.json` next to the script.

use std::path::{Path, PathBuf};

use super::{State, StateError, FORMAT_VERSION};

/// `.stack/<stack>.state.json` in the script's directory.
pub fn default_path(script: &Path, stack: &str) -> PathBuf {
    script
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(".stack")
        .join(format!("{stack}.state.json"))
}

/// Reads a state file; a missing file is an empty state.
pub fn load(path: &Path, stack: &str) -> Result<State, StateError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::empty(stack)),
        Err(source) => {
            return Err(StateError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let version = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("version").and_then(|v| v.as_u64()));
    if let Some(found) = version {
        if found != u64::from(FORMAT_VERSION) {
            return Err(StateError::Version {
                path: path.to_path_buf(),
                found: found as u32,
            });
        }
    }
    serde_json::from_str(&text).map_err(|source| StateError::Invalid {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_an_empty_state() {
        let dir = tempfile::tempdir().unwrap();
        let state = load(&dir.path().join("none.json"), "dev").unwrap();
        assert!(state.resources.is_empty());
        assert_eq!(state.stack, "dev");
    }

    #[test]
    fn a_broken_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, "{ not json").unwrap();
        let err = load(&path, "dev").unwrap_err();
        assert!(err.to_string().contains("is not valid"), "{err}");
        std::fs::write(&path, r#"{"version": 99}"#).unwrap();
        assert!(matches!(
            load(&path, "dev"),
            Err(StateError::Version { found: 99, .. })
        ));
    }
}
