//! Where a state lives and how runs take turns on it. The local file backend
//! is here; the Kubernetes backend (a Secret and a Lease) lives with the
//! providers, since it needs a Kubernetes client.

use std::future::Future;
use std::pin::Pin;

use super::{LockInfo, State, StateError};
use crate::resource::ResourceId;

/// A boxed future, so backends and providers can be used as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait StateBackend: Send + Sync {
    /// Where the state lives, for messages (`stacks/.stack/dev.state.json`).
    fn describe(&self) -> String;

    /// Reads the state; a missing state is an empty one.
    fn load(&self) -> BoxFuture<'_, Result<State, StateError>>;

    /// Writes the whole state atomically: after a crash either the old or
    /// the new state is there, never a mix. `state` is read before this
    /// returns, so a run goes on changing it while the write goes on. Once
    /// the write is done, a killed process loses nothing; a power loss may,
    /// until [`Self::sync`].
    fn save(&self, state: &State) -> BoxFuture<'_, Result<(), StateError>>;

    /// Saves the records of `ids` as they are in `state` (what a group of
    /// steps changed) on top of the last save, with the same guarantees as
    /// [`Self::save`]. A backend that can append writes only those, so a
    /// save costs what it changed; by default the whole state is saved. A
    /// run ends with a whole save.
    fn save_records(
        &self,
        state: &State,
        ids: &[ResourceId],
    ) -> BoxFuture<'_, Result<(), StateError>> {
        let _ = ids;
        self.save(state)
    }

    /// Waits until every save so far would survive a power loss: called
    /// once a run is done, so that no save waits for the disk. A backend
    /// whose saves are durable when they return does nothing.
    fn sync(&self) -> BoxFuture<'_, Result<(), StateError>> {
        Box::pin(async { Ok(()) })
    }

    /// Takes the lock for `holder`, or fails naming the current holder.
    /// With `force`, a lock held by someone else is broken.
    fn lock<'a>(
        &'a self,
        holder: &'a LockInfo,
        force: bool,
    ) -> BoxFuture<'a, Result<(), StateError>>;

    /// Releases a lock taken by `holder`.
    fn unlock<'a>(&'a self, holder: &'a LockInfo) -> BoxFuture<'a, Result<(), StateError>>;

    /// Removes the state once `destroy` has removed everything it held
    /// (called with the lock held and `state` empty): a state kept in a
    /// cluster leaves nothing behind there. A local file stays, the
    /// record that the stack was destroyed.
    fn discard<'a>(&'a self, _state: &'a State) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(async { Ok(()) })
    }
}
