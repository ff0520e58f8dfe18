//! The request log: what clients asked and what they got, so tests can
//! count requests (e.g. "a second run writes nothing").

use std::sync::Mutex;

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// The HTTP status answered; `None` when the connection was dropped.
    pub status: Option<u16>,
    /// Whether an injected fault decided the answer.
    pub injected: bool,
    /// The latency the server added, as long as it really slept (a timer
    /// wakes a little late): what a bound of the requests' latency counts.
    pub delayed: std::time::Duration,
}

impl RequestRecord {
    /// POST, PUT, PATCH or DELETE.
    pub fn is_write(&self) -> bool {
        matches!(self.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE")
    }

    /// A `?watch=true` request.
    pub fn is_watch(&self) -> bool {
        self.query
            .split('&')
            .any(|kv| kv == "watch=true" || kv == "watch=1")
    }

    /// Whether the request carried `dryRun=All`.
    pub fn is_dry_run(&self) -> bool {
        self.query.split('&').any(|kv| kv == "dryRun=All")
    }
}

/// Every request since the last clear.
#[derive(Debug, Default)]
pub(crate) struct RequestLog(Mutex<Vec<RequestRecord>>);

impl RequestLog {
    pub(crate) fn push(&self, record: RequestRecord) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record);
    }

    pub(crate) fn snapshot(&self) -> Vec<RequestRecord> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn clear(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_requests() {
        let r = |method: &str, query: &str| RequestRecord {
            method: method.into(),
            path: "/api/v1/namespaces/a/configmaps".into(),
            query: query.into(),
            status: Some(200),
            injected: false,
            delayed: std::time::Duration::ZERO,
        };
        assert!(r("PATCH", "fieldManager=x").is_write());
        assert!(!r("GET", "").is_write());
        assert!(r("GET", "labelSelector=a&watch=true").is_watch());
        assert!(r("PATCH", "dryRun=All&fieldManager=x").is_dry_run());
        let log = RequestLog::default();
        log.push(r("GET", ""));
        assert_eq!(log.snapshot().len(), 1);
        log.clear();
        assert!(log.snapshot().is_empty());
    }
}
