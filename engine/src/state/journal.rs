//! The journal beside a local state file: what each save during a run
//! changed, one line per save, so that a save costs what it changed rather
//! than the whole state. A run ends by folding it into the state file.
//!
//! A line is `{"serial":N,"records":{"<id>":{..}|null}}`: the records of
//! those resources as they were at save `N` (`null`: gone). Reading
//! replays the lines newer than the state file's serial, in order; a last
//! line without its newline was cut short by a killed process, and its
//! save never returned, so it is left out.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ResourceState, State, StateError};
use crate::resource::ResourceId;

/// One save, as written.
#[derive(Serialize)]
struct EntryRef<'a> {
    serial: u64,
    records: BTreeMap<&'a ResourceId, Option<&'a ResourceState>>,
}

/// One save, as read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    serial: u64,
    records: BTreeMap<ResourceId, Option<ResourceState>>,
}

/// The line that records `ids` as they are in `state`.
pub(super) fn entry(state: &State, ids: &[ResourceId]) -> Result<Vec<u8>, serde_json::Error> {
    let records = ids.iter().map(|id| (id, state.resources.get(id))).collect();
    let mut line = serde_json::to_vec(&EntryRef {
        serial: state.serial,
        records,
    })?;
    line.push(b'\n');
    Ok(line)
}

/// Applies the saves in `text` (the journal at `path`) that `state` does
/// not hold yet.
pub(super) fn replay(state: &mut State, text: &str, path: &Path) -> Result<(), StateError> {
    let mut lines = text.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        if !line.ends_with('\n') && lines.peek().is_none() {
            break;
        }
        let entry: Entry = serde_json::from_str(line).map_err(|source| StateError::Invalid {
            path: path.to_path_buf(),
            source,
        })?;
        if entry.serial <= state.serial {
            // Already in the state file: it was saved whole after this.
            continue;
        }
        for (id, record) in entry.records {
            match record {
                Some(record) => state.resources.insert(id, record),
                None => state.resources.remove(&id),
            };
        }
        state.serial = entry.serial;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(hash: &str) -> ResourceState {
        super::super::namespace_record(hash).1
    }

    fn id(name: &str) -> ResourceId {
        super::super::namespace_record(name).0
    }

    #[test]
    fn replay_gives_the_state_each_save_described() {
        let mut live = State::empty("dev");
        live.serial = 1;
        let base = live.clone();
        let mut journal = Vec::new();
        live.serial = 2;
        live.resources.insert(id("a"), record("1"));
        live.resources.insert(id("b"), record("1"));
        journal.extend(entry(&live, &[id("a"), id("b")]).unwrap());
        live.serial = 3;
        live.resources.insert(id("a"), record("2"));
        live.resources.remove(&id("b"));
        journal.extend(entry(&live, &[id("a"), id("b")]).unwrap());

        let mut read = base.clone();
        replay(
            &mut read,
            std::str::from_utf8(&journal).unwrap(),
            Path::new("j"),
        )
        .unwrap();
        assert_eq!(read, live);
    }

    #[test]
    fn a_line_cut_short_is_left_out_and_older_saves_are_skipped() {
        let mut live = State::empty("dev");
        live.serial = 5;
        live.resources.insert(id("a"), record("1"));
        let whole = entry(&live, &[id("a")]).unwrap();
        let text = String::from_utf8(whole.clone()).unwrap();

        // Serial 5 is already in a state file at serial 5.
        let mut read = live.clone();
        read.resources.clear();
        replay(&mut read, &text, Path::new("j")).unwrap();
        assert!(read.resources.is_empty());

        // A save that never returned: its line has no end.
        let mut read = State::empty("dev");
        let cut = &text[..text.len() - 10];
        replay(&mut read, cut, Path::new("j")).unwrap();
        assert!(read.resources.is_empty());
        assert_eq!(read.serial, 0);

        // A broken line before the end is a broken journal, not a cut one.
        let broken = format!("{cut}\n{text}");
        assert!(matches!(
            replay(&mut State::empty("dev"), &broken, Path::new("j")),
            Err(StateError::Invalid { .. })
        ));
    }
}
