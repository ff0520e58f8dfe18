//! Where `stack` keeps what it downloads (charts, git modules), shared by
//! every stack of a user: `STACK_CACHE_DIR`, else `$XDG_CACHE_HOME/stack`,
//! else `~/.cache/stack`.

use std::path::PathBuf;

/// The environment variable that overrides the cache directory.
pub const CACHE_ENV: &str = "STACK_CACHE_DIR";

/// The cache directory.
pub fn dir() -> PathBuf {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = var(CACHE_ENV) {
        return dir;
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return dir.join("stack");
    }
    match var("HOME") {
        Some(home) => home.join(".cache").join("stack"),
        None => std::env::temp_dir().join("stack-cache"),
    }
}

/// A file name for `text` that keeps letters, digits, `.`, `-` and `_`.
pub fn file_name(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}
