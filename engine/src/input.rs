//! Reading the files a user names — scripts, modules, data files, state:
//! only regular files, only up to a size, so that a FIFO, a device such as
//! `/dev/zero` or a file of gigabytes is refused instead of blocking or
//! exhausting memory.

use std::io::Read;
use std::path::Path;

/// The largest script or module: far above any real one, and small enough
/// that its parsed form (about a kilobyte per call written out) fits the
/// evaluator's memory bound.
pub const MAX_SCRIPT_BYTES: u64 = 4 << 20;
/// The largest data file read with `file()` or `secret("file:...")`.
pub const MAX_DATA_BYTES: u64 = 8 << 20;
/// The largest state file read: a record of some 100,000 resources.
pub const MAX_STATE_BYTES: u64 = 256 << 20;

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("it is {kind}, not a regular file")]
    NotRegular { kind: &'static str },
    #[error("it is larger than {} MiB, the limit for such a file", limit >> 20)]
    TooLarge { limit: u64 },
    #[error("it is not UTF-8 text")]
    NotText,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl InputError {
    /// Whether the file is simply not there.
    pub fn is_not_found(&self) -> bool {
        matches!(self, InputError::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Reads a regular text file of at most `limit` bytes.
pub fn read_text(path: &Path, limit: u64) -> Result<String, InputError> {
    let file = open_nonblocking(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(InputError::NotRegular {
            kind: kind_of(&meta),
        });
    }
    if meta.len() > limit {
        return Err(InputError::TooLarge { limit });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The file may grow after the check: read one byte past the limit.
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge { limit });
    }
    String::from_utf8(bytes).map_err(|_| InputError::NotText)
}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a named pipe"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Opens for reading without waiting: opening a FIFO waits for a writer.
/// `O_NONBLOCK` changes nothing for the reads of a regular file.
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_under_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok.rhai");
        std::fs::write(&ok, "let a = 1;").unwrap();
        assert_eq!(read_text(&ok, MAX_SCRIPT_BYTES).unwrap(), "let a = 1;");
        assert!(matches!(
            read_text(dir.path(), MAX_SCRIPT_BYTES),
            Err(InputError::NotRegular {
                kind: "a directory"
            })
        ));
        assert!(matches!(
            read_text(Path::new("/dev/zero"), MAX_SCRIPT_BYTES),
            Err(InputError::NotRegular { kind: "a device" })
        ));
        let big = dir.path().join("big.rhai");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_SCRIPT_BYTES + 1).unwrap();
        assert!(matches!(
            read_text(&big, MAX_SCRIPT_BYTES),
            Err(InputError::TooLarge { .. })
        ));
        assert!(read_text(&dir.path().join("missing"), MAX_SCRIPT_BYTES)
            .unwrap_err()
            .is_not_found());
    }

    #[test]
    fn a_named_pipe_is_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        assert!(matches!(
            read_text(&fifo, MAX_SCRIPT_BYTES),
            Err(InputError::NotRegular {
                kind: "a named pipe"
            })
        ));
    }
}
