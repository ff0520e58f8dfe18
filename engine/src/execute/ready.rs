//! Which steps of a run may start: the ready set of the one scheduler.
//!
//! Steps are numbered in the order they are declared (or, for deletes,
//! recorded); a step is ready once every step it waits for has been
//! released, and the earliest ready step goes first, so that a run with
//! parallelism 1 follows the script. Apply and delete phases differ only
//! in the edges they give: deletes wait for their dependents instead.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

pub(super) struct ReadySet {
    /// How many unreleased steps each step still waits for.
    waiting: Vec<usize>,
    /// The steps that wait for each step.
    dependents: Vec<Vec<usize>>,
    ready: BinaryHeap<Reverse<usize>>,
    /// Steps that have ended one way or another (or are being carried
    /// out): never handed out again.
    settled: Vec<bool>,
}

impl ReadySet {
    /// `len` steps, where `(first, then)` says `then` waits for `first`.
    /// Repeated edges and self-edges count once and not at all.
    pub fn new(len: usize, edges: impl IntoIterator<Item = (usize, usize)>) -> ReadySet {
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); len];
        let mut waiting = vec![0; len];
        for (first, then) in edges {
            if first != then && !dependents[first].contains(&then) {
                dependents[first].push(then);
                waiting[then] += 1;
            }
        }
        let ready = (0..len).filter(|&i| waiting[i] == 0).map(Reverse).collect();
        ReadySet {
            waiting,
            dependents,
            ready,
            settled: vec![false; len],
        }
    }

    /// The earliest ready step, now settled.
    pub fn next(&mut self) -> Option<usize> {
        while let Some(Reverse(step)) = self.ready.pop() {
            if !self.settled[step] {
                self.settled[step] = true;
                return Some(step);
            }
        }
        None
    }

    /// `step` is done and recorded: what waits for it may start.
    pub fn release(&mut self, step: usize) {
        self.settled[step] = true;
        for &then in &self.dependents[step] {
            self.waiting[then] -= 1;
            if self.waiting[then] == 0 {
                self.ready.push(Reverse(then));
            }
        }
    }

    /// `step` failed: everything that waits on it, directly or not, will
    /// not start. Returns those steps, settled now, depth first.
    pub fn fail(&mut self, step: usize) -> Vec<usize> {
        self.settled[step] = true;
        let mut skipped = Vec::new();
        let mut todo: Vec<usize> = self.dependents[step].clone();
        todo.reverse();
        while let Some(then) = todo.pop() {
            if std::mem::replace(&mut self.settled[then], true) {
                continue;
            }
            skipped.push(then);
            todo.extend(self.dependents[then].iter().rev());
        }
        skipped
    }

    /// Steps never handed out: what a cancelled or failed-to-save run left.
    pub fn unsettled(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.settled.len()).filter(|&i| !self.settled[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(set: &mut ReadySet) -> Vec<usize> {
        std::iter::from_fn(|| set.next()).collect()
    }

    #[test]
    fn steps_start_in_order_once_what_they_wait_for_is_released() {
        // 0 → 2, 1 → 2, 2 → 3
        let mut set = ReadySet::new(4, [(0, 2), (1, 2), (2, 3), (0, 2)]);
        assert_eq!(drain(&mut set), [0, 1]);
        set.release(1);
        assert_eq!(set.next(), None);
        set.release(0);
        assert_eq!(drain(&mut set), [2]);
        set.release(2);
        assert_eq!(drain(&mut set), [3]);
        assert_eq!(set.unsettled().count(), 0);
    }

    #[test]
    fn a_failure_settles_everything_downstream_once() {
        // 0 → 1 → 3, 0 → 2 → 3, 4 alone
        let mut set = ReadySet::new(5, [(0, 1), (0, 2), (1, 3), (2, 3)]);
        assert_eq!(drain(&mut set), [0, 4]);
        assert_eq!(set.fail(0), [1, 3, 2]);
        assert_eq!(set.next(), None);
        assert_eq!(set.unsettled().count(), 0);
    }

    #[test]
    fn what_was_never_handed_out_is_unsettled() {
        let mut set = ReadySet::new(3, [(0, 1)]);
        assert_eq!(set.next(), Some(0));
        assert_eq!(set.unsettled().collect::<Vec<_>>(), [1, 2]);
    }
}
