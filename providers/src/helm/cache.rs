//! Where downloaded charts are kept: `charts/` in the cache directory.

use std::path::PathBuf;

pub use stack_engine::cache::{file_name, CACHE_ENV};

/// The directory downloaded chart archives are kept in.
pub fn charts_dir() -> PathBuf {
    stack_engine::cache::dir().join("charts")
}
