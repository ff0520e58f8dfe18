//! Bounded retries of Kubernetes API calls: exponential backoff with jitter
//! on throttling (429, honouring the server's `retryAfterSeconds`), server
//! errors (5xx), dropped or refused connections and timed-out requests.
//! Client errors (4xx) are final, except 429 and a 409 that carries retry
//! semantics; a 409 naming field managers is a conflict and never retried.

use std::future::Future;
use std::time::Duration;

use kube::core::Status;

/// How often and how patiently to retry one API call.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in total, the first included.
    pub attempts: u32,
    /// Delay before the first retry; doubled for each further one.
    pub base: Duration,
    /// Upper bound of one delay.
    pub cap: Duration,
    /// Upper bound of a delay the server asks for with `retryAfterSeconds`.
    pub max_retry_after: Duration,
    /// How long one request may take before it counts as failed.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Whether a 409 Conflict may be retried for this call: true for calls that
/// carry no `resourceVersion` (server-side apply, delete, get), false for
/// optimistic-concurrency writes, where a 409 is the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflicts {
    Retry,
    Final,
}

/// The error of an API call after its retries.
#[derive(Debug)]
pub enum CallError {
    Kube(kube::Error),
    /// The request did not finish within the policy's request timeout.
    TimedOut(Duration),
}

impl CallError {
    /// The API status, when the server answered with one.
    pub fn status(&self) -> Option<&Status> {
        match self {
            CallError::Kube(kube::Error::Api(status)) => Some(status),
            _ => None,
        }
    }

    pub fn code(&self) -> Option<u16> {
        self.status().map(|s| s.code)
    }

    pub fn is_not_found(&self) -> bool {
        self.code() == Some(404)
    }

    /// The server was never reached or the connection broke.
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            CallError::TimedOut(_)
                | CallError::Kube(
                    kube::Error::HyperError(_)
                        | kube::Error::Service(_)
                        | kube::Error::ReadEvents(_)
                )
        )
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Kube(kube::Error::Api(status)) => {
                if status.message.is_empty() {
                    write!(f, "{} ({})", status.reason, status.code)
                } else {
                    f.write_str(&status.message)
                }
            }
            CallError::Kube(e) => {
                write!(f, "{e}")?;
                let mut source = std::error::Error::source(e);
                while let Some(s) = source {
                    write!(f, ": {s}")?;
                    source = s.source();
                }
                Ok(())
            }
            CallError::TimedOut(after) => write!(f, "no answer within {}s", after.as_secs()),
        }
    }
}

impl From<kube::Error> for CallError {
    fn from(e: kube::Error) -> Self {
        CallError::Kube(e)
    }
}

/// Whether a status is a server-side apply conflict between field managers:
/// a 409 whose causes are `FieldManagerConflict`s (`conflict with "kubectl"
/// using apps/v1`), or whose message says the apply failed with conflicts.
pub fn is_field_conflict(status: &Status) -> bool {
    status.code == 409
        && (status.message.starts_with("Apply failed with")
            || status
                .details
                .as_ref()
                .is_some_and(|d| d.causes.iter().any(is_conflict_cause)))
}

/// A cause that names another field manager.
pub fn is_conflict_cause(cause: &kube::core::response::StatusCause) -> bool {
    cause.reason == "FieldManagerConflict" || cause.message.starts_with("conflict with ")
}

impl RetryPolicy {
    /// No retries: one attempt.
    pub fn none() -> Self {
        RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The delay before attempt `attempt + 1` after `error`, or `None` when
    /// the error is final.
    pub fn delay(&self, error: &CallError, attempt: u32, conflicts: Conflicts) -> Option<Duration> {
        if attempt + 1 >= self.attempts {
            return None;
        }
        let server_asks = match error {
            CallError::TimedOut(_) => None,
            CallError::Kube(kube::Error::Api(status)) => {
                let asked = status
                    .details
                    .as_ref()
                    .map(|d| d.retry_after_seconds)
                    .filter(|s| *s > 0)
                    .map(|s| Duration::from_secs(u64::from(s)).min(self.max_retry_after));
                match status.code {
                    429 => asked,
                    409 if is_field_conflict(status) || status.reason == "AlreadyExists" => {
                        return None
                    }
                    409 if asked.is_some() => asked,
                    409 if conflicts == Conflicts::Retry => None,
                    500..=599 => asked,
                    _ => return None,
                }
            }
            e if e.is_transport() => None,
            _ => return None,
        };
        Some(server_asks.unwrap_or_else(|| self.backoff(attempt)))
    }

    /// Exponential backoff with jitter: a random point in the upper half of
    /// `min(cap, base * 2^attempt)`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let full = self
            .base
            .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX))
            .min(self.cap);
        let half = full / 2;
        let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(if nanos == 0 { 0 } else { jitter() % nanos })
    }

    /// Runs `call` until it succeeds, fails for good, or the attempts are spent.
    pub async fn run<T, F, Fut>(&self, conflicts: Conflicts, mut call: F) -> Result<T, CallError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let mut attempt = 0;
        loop {
            let result = match tokio::time::timeout(self.request_timeout, call()).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e)) => CallError::Kube(e),
                Err(_) => CallError::TimedOut(self.request_timeout),
            };
            match self.delay(&result, attempt, conflicts) {
                Some(delay) => {
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                None => return Err(result),
            }
        }
    }
}

/// A random number from the standard library's randomly keyed hasher.
fn jitter() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, reason: &str) -> CallError {
        CallError::Kube(kube::Error::Api(Box::new(Status {
            code,
            reason: reason.into(),
            message: format!("{reason} happened"),
            ..Status::default()
        })))
    }

    #[test]
    fn what_is_retried() {
        let p = RetryPolicy::default();
        let cases = [
            (429, "TooManyRequests", Conflicts::Final, true),
            (500, "InternalError", Conflicts::Final, true),
            (503, "ServiceUnavailable", Conflicts::Final, true),
            (504, "Timeout", Conflicts::Final, true),
            (400, "BadRequest", Conflicts::Retry, false),
            (403, "Forbidden", Conflicts::Retry, false),
            (404, "NotFound", Conflicts::Retry, false),
            (422, "Invalid", Conflicts::Retry, false),
            (409, "Conflict", Conflicts::Retry, true),
            (409, "Conflict", Conflicts::Final, false),
            (409, "AlreadyExists", Conflicts::Retry, false),
        ];
        for (code, reason, conflicts, retried) in cases {
            assert_eq!(
                p.delay(&status(code, reason), 0, conflicts).is_some(),
                retried,
                "{code} {reason} {conflicts:?}"
            );
        }
        assert!(p
            .delay(
                &CallError::TimedOut(Duration::from_secs(1)),
                0,
                Conflicts::Final
            )
            .is_some());
    }

    fn from_json(status: serde_json::Value) -> CallError {
        let status: Status = serde_json::from_value(status).expect("a Status");
        CallError::Kube(kube::Error::Api(Box::new(status)))
    }

    #[test]
    fn a_field_conflict_is_final() {
        let conflict = from_json(serde_json::json!({
            "code": 409, "reason": "Conflict",
            "details": { "causes": [{ "reason": "FieldManagerConflict",
                                      "message": "conflict with \"kubectl\"", "field": ".spec.replicas" }] },
        }));
        assert!(RetryPolicy::default()
            .delay(&conflict, 0, Conflicts::Retry)
            .is_none());
    }

    #[test]
    fn server_retry_after_is_honoured_and_bounded() {
        let p = RetryPolicy::default();
        let ask = |secs: u32| {
            from_json(serde_json::json!({
                "code": 429, "reason": "TooManyRequests", "details": { "retryAfterSeconds": secs },
            }))
        };
        assert_eq!(
            p.delay(&ask(2), 0, Conflicts::Final),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            p.delay(&ask(3600), 0, Conflicts::Final),
            Some(p.max_retry_after)
        );
    }

    #[test]
    fn attempts_are_bounded_and_backoff_grows_to_the_cap() {
        let p = RetryPolicy::default();
        let e = status(500, "InternalError");
        assert!(p.delay(&e, p.attempts - 2, Conflicts::Final).is_some());
        assert!(p.delay(&e, p.attempts - 1, Conflicts::Final).is_none());
        for attempt in 0..12 {
            let full = (p.base * 2u32.pow(attempt)).min(p.cap);
            let d = p.backoff(attempt);
            assert!(
                d >= full / 2 && d <= full,
                "attempt {attempt}: {d:?} not in [{:?}, {full:?}]",
                full / 2
            );
        }
    }
}
