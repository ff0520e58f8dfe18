//! The local file backend: `.stack/<stack>.state.json` next to the script,
//! written atomically (temporary file, rename) with a journal beside it for
//! the saves during a run, and guarded by a lock file that names its holder.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::backend::{BoxFuture, StateBackend};
use super::journal;
use super::{LockInfo, State, StateError, FORMAT_VERSION};
use crate::resource::ResourceId;

/// `.stack/<stack>.state.json` in the script's directory.
pub fn default_path(script: &Path, stack: &str) -> PathBuf {
    script
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(".stack")
        .join(format!("{stack}.state.json"))
}

/// The journal of the state file at `path`: `dev.state.json.journal`
/// beside `dev.state.json`. Its name is the state file's with a suffix, as
/// the lock file's is, so no `--state` path can name its own journal.
fn journal_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".journal");
    path.with_file_name(name)
}

/// Reads a state file and replays its journal; a missing file is an empty
/// state.
pub fn load(path: &Path, stack: &str) -> Result<State, StateError> {
    let journal = journal_path(path);
    let text = match crate::input::read_text(path, crate::input::MAX_STATE_BYTES) {
        Ok(text) => text,
        Err(e) if e.is_not_found() => {
            if journal.exists() {
                return Err(StateError::JournalWithoutState {
                    path: path.to_path_buf(),
                    journal,
                });
            }
            return Ok(State::empty(stack));
        }
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
                found: u32::try_from(found).unwrap_or(u32::MAX),
            });
        }
    }
    let mut state: State = serde_json::from_str(&text).map_err(|source| StateError::Invalid {
        path: path.to_path_buf(),
        source,
    })?;
    if state.stack != stack {
        return Err(StateError::OtherStack {
            path: path.to_path_buf(),
            found: state.stack,
            stack: stack.to_string(),
        });
    }
    match crate::input::read_text(&journal, crate::input::MAX_STATE_BYTES) {
        Ok(text) => journal::replay(&mut state, &text, &journal)?,
        Err(e) if e.is_not_found() => {}
        Err(source) => {
            return Err(StateError::Read {
                path: journal,
                source,
            })
        }
    }
    Ok(state)
}

fn write_error(path: &Path) -> impl Fn(std::io::Error) -> StateError + '_ {
    |source| StateError::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// The state file's text for `state`.
fn whole_text(path: &Path, state: &State) -> Result<Vec<u8>, StateError> {
    let mut text = serde_json::to_vec_pretty(state)
        .map_err(|e| write_error(path)(std::io::Error::other(e)))?;
    text.push(b'\n');
    Ok(text)
}

/// Writes `text` to `path` so that a crash leaves the old or the new file:
/// a temporary file renamed over it. A killed process loses nothing once
/// the rename is done (the page cache outlives it), so a save does not wait
/// for the disk; [`sync`] does, once a run is done, against power loss.
fn write_whole(path: &Path, text: &[u8]) -> Result<(), StateError> {
    let fail = write_error(path);
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(&fail)?;
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(text)?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(fail)
}

/// Waits until the file at `path`, and its name in its directory, are on
/// the disk.
fn sync(path: &Path) -> Result<(), StateError> {
    let fail = write_error(path);
    match std::fs::File::open(path) {
        Ok(file) => file.sync_all().map_err(fail)?,
        // Nothing saved (a destroy removed it, or nothing ran).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(fail(e)),
    }
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// What this backend knows of the journal beside its state file.
enum Journal {
    /// Not written by this backend: it may end in a line a killed run cut
    /// short, so the next save folds it into a whole one before appending.
    Unknown,
    /// Folded into the state file and removed: the next save starts one.
    Folded,
    /// Being appended to by this backend.
    Open(std::fs::File),
}

/// A state file and its lock file.
pub struct LocalBackend {
    pub path: PathBuf,
    pub stack: String,
    journal: Mutex<Journal>,
}

impl LocalBackend {
    pub fn new(path: impl Into<PathBuf>, stack: impl Into<String>) -> Self {
        LocalBackend {
            path: path.into(),
            stack: stack.into(),
            journal: Mutex::new(Journal::Unknown),
        }
    }

    fn journal(&self) -> MutexGuard<'_, Journal> {
        self.journal.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes the whole state, then removes the journal it holds: killed
    /// in between, the journal's lines are older than the state file and
    /// are skipped when it is read.
    fn write_folded(&self, journal: &mut Journal, text: &[u8]) -> Result<(), StateError> {
        write_whole(&self.path, text)?;
        let path = journal_path(&self.path);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(write_error(&path)(e)),
        }
        *journal = Journal::Folded;
        Ok(())
    }

    /// Appends one save's line to the journal.
    fn append(&self, journal: &mut Journal, line: &[u8]) -> Result<(), StateError> {
        let path = journal_path(&self.path);
        if let Journal::Folded = journal {
            // Removed when folded: anything there now is not this run's.
            let file = std::fs::OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(&path)
                .map_err(write_error(&path))?;
            *journal = Journal::Open(file);
        }
        let Journal::Open(file) = journal else {
            unreachable!("opened above, or folded before");
        };
        // One write: a killed process leaves the line whole or cut short,
        // and a line cut short is left out when the journal is read.
        file.write_all(line).map_err(write_error(&path))
    }

    pub fn lock_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        self.path.with_file_name(name)
    }

    /// The current holder of the lock, if any.
    pub fn holder(&self) -> Option<LockInfo> {
        // A lock file is a few hundred bytes; anything else is not a holder.
        let text = crate::input::read_text(&self.lock_path(), 64 << 10).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn take_lock(&self, holder: &LockInfo, force: bool) -> Result<(), StateError> {
        let lock = self.lock_path();
        let fail = |source| StateError::Lock {
            path: lock.clone(),
            source,
        };
        if let Some(dir) = lock.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let body = serde_json::to_vec_pretty(holder).map_err(|e| fail(std::io::Error::other(e)))?;
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock)
            {
                Ok(mut file) => {
                    file.write_all(&body).map_err(fail)?;
                    file.sync_all().map_err(fail)?;
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let current = self.holder();
                    if let Some(running) = current.as_ref().filter(|h| force && h.is_running_here())
                    {
                        return Err(StateError::StillRunning {
                            stack: self.stack.clone(),
                            holder: Box::new(running.clone()),
                        });
                    }
                    // Never act on a failed read: a lock that cannot be read
                    // is held until the user says it is not.
                    if current.is_none() && !force {
                        return Err(StateError::LockUnreadable {
                            stack: self.stack.clone(),
                            path: lock.clone(),
                        });
                    }
                    let breakable = force || current.as_ref().is_none_or(LockInfo::is_stale);
                    if !breakable {
                        return Err(StateError::Locked {
                            stack: self.stack.clone(),
                            holder: Box::new(
                                current.unwrap_or_else(|| LockInfo::current("unknown")),
                            ),
                        });
                    }
                    // A killed run's lock, or --force-unlock.
                    std::fs::remove_file(&lock).map_err(fail)?;
                }
                Err(e) => return Err(fail(e)),
            }
        }
        Err(StateError::Locked {
            stack: self.stack.clone(),
            holder: Box::new(
                self.holder()
                    .unwrap_or_else(|| LockInfo::current("unknown")),
            ),
        })
    }

    fn release(&self, holder: &LockInfo) -> Result<(), StateError> {
        if self.holder().is_some_and(|h| h.id == holder.id) {
            std::fs::remove_file(self.lock_path()).map_err(|source| StateError::Lock {
                path: self.lock_path(),
                source,
            })?;
        }
        Ok(())
    }
}

impl StateBackend for LocalBackend {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn load(&self) -> BoxFuture<'_, Result<State, StateError>> {
        Box::pin(async move { load(&self.path, &self.stack) })
    }

    fn save(&self, state: &State) -> BoxFuture<'_, Result<(), StateError>> {
        let text = whole_text(&self.path, state);
        Box::pin(async move { self.write_folded(&mut self.journal(), &text?) })
    }

    fn save_records(
        &self,
        state: &State,
        ids: &[ResourceId],
    ) -> BoxFuture<'_, Result<(), StateError>> {
        if let Journal::Unknown = *self.journal() {
            return self.save(state);
        }
        let path = journal_path(&self.path);
        let line =
            journal::entry(state, ids).map_err(|e| write_error(&path)(std::io::Error::other(e)));
        Box::pin(async move { self.append(&mut self.journal(), &line?) })
    }

    fn sync(&self) -> BoxFuture<'_, Result<(), StateError>> {
        Box::pin(async move {
            sync(&journal_path(&self.path))?;
            sync(&self.path)
        })
    }

    fn lock<'a>(
        &'a self,
        holder: &'a LockInfo,
        force: bool,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(async move { self.take_lock(holder, force) })
    }

    fn unlock<'a>(&'a self, holder: &'a LockInfo) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(async move { self.release(holder) })
    }
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

    #[test]
    fn saves_round_trip_and_leave_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".stack").join("dev.state.json");
        let mut state = State::empty("dev");
        state.serial = 7;
        write_whole(&path, &whole_text(&path, &state).unwrap()).unwrap();
        assert_eq!(load(&path, "dev").unwrap(), state);
        let files: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(files.len(), 1);
    }

    fn block_on<T>(future: BoxFuture<'_, T>) -> T {
        futures_util::FutureExt::now_or_never(future).expect("local saves do not wait")
    }

    #[test]
    fn saves_of_records_append_and_a_whole_save_folds_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.state.json");
        let backend = LocalBackend::new(&path, "dev");
        let mut state = State::empty("dev");
        let (a, ra) = super::super::namespace_record("a");
        let (b, rb) = super::super::namespace_record("b");
        for (id, record) in [(&a, &ra), (&b, &rb)] {
            state.serial += 1;
            state.resources.insert(id.clone(), record.clone());
            block_on(backend.save_records(&state, std::slice::from_ref(id))).unwrap();
        }
        // The first save of a backend is whole; the next one appends.
        assert!(journal_path(&path).exists());
        assert_eq!(load(&path, "dev").unwrap(), state);
        state.serial += 1;
        state.resources.remove(&a);
        block_on(backend.save_records(&state, std::slice::from_ref(&a))).unwrap();
        assert_eq!(load(&path, "dev").unwrap(), state);

        // A second backend (the next run) folds what it finds first.
        let next = LocalBackend::new(&path, "dev");
        let mut journal = std::fs::OpenOptions::new()
            .append(true)
            .open(journal_path(&path))
            .unwrap();
        journal.write_all(b"{\"serial\":99,\"rec").unwrap();
        assert_eq!(load(&path, "dev").unwrap(), state);
        state.serial += 1;
        state
            .resources
            .insert(b.clone(), super::super::namespace_record("b2").1);
        block_on(next.save_records(&state, std::slice::from_ref(&b))).unwrap();
        assert!(!journal_path(&path).exists());
        state.serial += 1;
        block_on(next.save_records(&state, std::slice::from_ref(&b))).unwrap();
        assert_eq!(load(&path, "dev").unwrap(), state);
        block_on(next.save(&state)).unwrap();
        assert!(!journal_path(&path).exists());
        assert_eq!(load(&path, "dev").unwrap(), state);
    }

    #[test]
    fn a_state_file_named_like_a_journal_keeps_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.journal");
        assert_ne!(journal_path(&path), path);
        let backend = LocalBackend::new(&path, "dev");
        let mut state = State::empty("dev");
        let (a, ra) = super::super::namespace_record("a");
        for _ in 0..2 {
            state.serial += 1;
            state.resources.insert(a.clone(), ra.clone());
            block_on(backend.save_records(&state, std::slice::from_ref(&a))).unwrap();
        }
        block_on(backend.save(&state)).unwrap();
        assert_eq!(load(&path, "dev").unwrap(), state);
    }

    #[test]
    fn a_journal_without_its_state_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.state.json");
        std::fs::write(journal_path(&path), "").unwrap();
        assert!(matches!(
            load(&path, "dev"),
            Err(StateError::JournalWithoutState { .. })
        ));
    }

    #[test]
    fn a_lock_names_its_holder_and_a_stale_one_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(dir.path().join("s.json"), "dev");
        let me = LockInfo::current("run");
        backend.take_lock(&me, false).unwrap();
        let other = LockInfo {
            id: "other".into(),
            ..LockInfo::current("destroy")
        };
        match backend.take_lock(&other, false) {
            Err(StateError::Locked { holder, .. }) => assert_eq!(*holder, me),
            other => panic!("expected a lock error, got {other:?}"),
        }
        // This very process holds it: not even `force` breaks it.
        match backend.take_lock(&other, true) {
            Err(StateError::StillRunning { holder, .. }) => assert_eq!(*holder, me),
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert_eq!(backend.holder(), Some(me.clone()));
        backend.release(&me).unwrap();
        let elsewhere = LockInfo {
            host: "another-machine".into(),
            ..me.clone()
        };
        backend.take_lock(&elsewhere, false).unwrap();
        backend.take_lock(&other, true).unwrap();
        assert_eq!(backend.holder(), Some(other.clone()));
        backend.release(&other).unwrap();
        let dead = LockInfo {
            pid: u32::MAX - 1,
            ..LockInfo::current("run")
        };
        backend.take_lock(&dead, false).unwrap();
        backend.take_lock(&me, false).unwrap();
        assert_eq!(backend.holder(), Some(me));
    }
}
