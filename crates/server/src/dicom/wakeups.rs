//! When received studies may next be complete. The materializer notes each batch it files
//! (its last arrival plus the shortest wait, the moment a study of it can be quiet enough);
//! the completer sleeps until the earliest such moment instead of until its next poll, so
//! a study is routed as soon as its settle time has passed rather than up to a poll later.

use std::collections::BTreeSet;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

#[derive(Default)]
pub struct Wakeups {
    due: Mutex<BTreeSet<DateTime<Utc>>>,
    /// Tells the completer that an earlier moment may have come in.
    pub(crate) noted: Notify,
}

impl Wakeups {
    /// A study may be complete at `at`.
    pub fn note(&self, at: DateTime<Utc>) {
        self.due
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(at);
        self.noted.notify_one();
    }

    /// The earliest moment still ahead or not yet acted on.
    pub fn next(&self) -> Option<DateTime<Utc>> {
        self.due
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .first()
            .copied()
    }

    /// Forgets the moments up to `now`: the completer is about to look.
    pub fn take_due(&self, now: DateTime<Utc>) {
        let mut due = self.due.lock().unwrap_or_else(|p| p.into_inner());
        *due = due.split_off(&(now + chrono::Duration::nanoseconds(1)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_moment_comes_first_and_passed_ones_are_forgotten() {
        let a = Wakeups::default();
        let t0 = Utc::now();
        a.note(t0 + chrono::Duration::seconds(5));
        a.note(t0 + chrono::Duration::seconds(1));
        a.note(t0 + chrono::Duration::seconds(3));
        assert_eq!(a.next(), Some(t0 + chrono::Duration::seconds(1)));
        a.take_due(t0 + chrono::Duration::seconds(3));
        assert_eq!(a.next(), Some(t0 + chrono::Duration::seconds(5)));
        a.take_due(t0 + chrono::Duration::seconds(9));
        assert_eq!(a.next(), None);
    }
}
