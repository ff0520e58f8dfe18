//! Waiting for AWS: poll with exponential backoff until a condition holds
//! or the deadline passes. EKS takes minutes to create a control plane and
//! node groups; the first poll comes right away, so a fast API costs nothing.

use std::future::Future;
use std::time::Duration;

use super::error::EksError;
use stack_engine::provider::{ProgressSink, ProviderError};
use tokio::time::Instant;

/// Poll intervals: `initial`, doubling up to `max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The interval after `current`.
    pub fn next(&self, current: Duration) -> Duration {
        (current * 2).min(self.max)
    }
}

/// What one poll found.
pub enum Poll<T> {
    Done(T),
    /// Not there yet; the text says what was seen (`CREATING`).
    Pending(String),
}

/// When waiting must end, and where to say what each poll saw.
pub struct Deadline {
    pub at: Instant,
    pub progress: ProgressSink,
}

/// Calls `check` until it reports `Done`, an error, or the deadline passes:
/// then fails naming `what` and the last state seen. Each state seen is
/// reported as progress.
pub async fn until<T, F, Fut>(
    what: &str,
    deadline: &Deadline,
    backoff: Backoff,
    mut check: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, ProviderError>>,
{
    let mut interval = backoff.initial;
    loop {
        let seen = match check().await? {
            Poll::Done(value) => return Ok(value),
            Poll::Pending(seen) => seen,
        };
        deadline
            .progress
            .report(format!("waiting for {what}: {seen}"));
        let now = Instant::now();
        if now >= deadline.at {
            return Err(EksError::TimedOut {
                what: what.to_string(),
                seen,
            }
            .into());
        }
        tokio::time::sleep(interval.min(deadline.at - now)).await;
        interval = backoff.next(interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_double_up_to_the_cap() {
        let backoff = Backoff {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(5),
        };
        assert_eq!(backoff.next(Duration::from_secs(2)), Duration::from_secs(4));
        assert_eq!(backoff.next(Duration::from_secs(4)), Duration::from_secs(5));
    }

    #[tokio::test]
    async fn polls_until_done_and_times_out() {
        let quick = Backoff {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(4),
        };
        let (sender, mut updates) = tokio::sync::mpsc::unbounded_channel();
        let soon = Deadline {
            at: Instant::now() + Duration::from_secs(10),
            progress: ProgressSink::new("cluster/prod".into(), sender),
        };
        let mut calls = 0;
        let done = until("three polls", &soon, quick, || {
            calls += 1;
            let n = calls;
            async move {
                Ok(if n < 3 {
                    Poll::Pending(format!("poll {n}"))
                } else {
                    Poll::Done(n)
                })
            }
        })
        .await;
        assert_eq!(done, Ok(3));
        // What each poll saw went to the run's progress.
        let (id, first) = updates.recv().await.expect("a report");
        assert_eq!(id.as_str(), "cluster/prod");
        assert_eq!(first, "waiting for three polls: poll 1");
        let now = Deadline {
            at: Instant::now(),
            progress: ProgressSink::default(),
        };
        let never = until::<(), _, _>("nothing", &now, quick, || async {
            Ok(Poll::Pending("CREATING".into()))
        })
        .await
        .expect_err("the deadline has passed");
        assert!(
            matches!(
                never.downcast_ref::<EksError>(),
                Some(EksError::TimedOut { what, seen }) if what == "nothing" && seen == "CREATING"
            ),
            "{never:?}"
        );
    }
}
