//! Settings a double acts on, and a wake-up for the double when a test
//! changes them, so a change takes effect at once instead of at the next
//! event.

use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

#[derive(Debug)]
pub(crate) struct Watched<S> {
    state: Mutex<S>,
    changed: Notify,
}

impl<S> Watched<S> {
    pub(crate) fn new(state: S) -> Watched<S> {
        Watched {
            state: Mutex::new(state),
            changed: Notify::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, S> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the settings and wakes the double.
    pub(crate) fn update(&self, f: impl FnOnce(&mut S)) {
        f(&mut self.lock());
        self.changed.notify_one();
    }

    /// Resolves when a test changed the settings.
    pub(crate) async fn changed(&self) {
        self.changed.notified().await;
    }
}
