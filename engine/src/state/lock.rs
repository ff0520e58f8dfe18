//! Who holds a state lock: enough to name them in an error, and to tell a
//! lock left behind by a killed run on this machine from a live one.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// A unique id of this run.
    pub id: String,
    pub pid: u32,
    pub host: String,
    pub user: String,
    /// RFC 3339 start time.
    pub started: String,
    /// What the run does: `run`, `destroy`.
    pub operation: String,
    /// When the holding process started (clock ticks since boot, from
    /// `/proc`): a pid reused by another process is not the holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_start: Option<u64>,
}

impl LockInfo {
    /// The lock for this process.
    pub fn current(operation: &str) -> LockInfo {
        let pid = std::process::id();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        LockInfo {
            id: format!("{pid}-{}", now.as_nanos()),
            pid,
            host: hostname(),
            user: std::env::var("USER")
                .or_else(|_| std::env::var("USERNAME"))
                .unwrap_or_else(|_| "unknown".into()),
            started: rfc3339(now.as_secs()),
            operation: operation.to_string(),
            process_start: process_start(pid),
        }
    }

    /// Whether this lock was taken on this machine by a process that is gone:
    /// a run that was killed. Such a lock may be taken over.
    pub fn is_stale(&self) -> bool {
        self.host == hostname() && std::path::Path::new("/proc/self").exists() && !self.is_running()
    }

    /// Whether the run holding this lock is known to be running: taken on
    /// this machine by a process that still runs (the same pid, started at
    /// the same time). `--force-unlock` never breaks such a lock.
    pub fn is_running_here(&self) -> bool {
        self.host == hostname() && self.is_running()
    }

    fn is_running(&self) -> bool {
        match (process_start(self.pid), self.process_start) {
            (None, _) => false,
            (Some(now), Some(then)) => now == then,
            (Some(_), None) => true,
        }
    }
}

/// When process `pid` started, in clock ticks since boot (field 22 of
/// `/proc/<pid>/stat`); `None` when there is no such process (or no `/proc`).
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

impl fmt::Display for LockInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`stack {}` (pid {} on {}, user {}, since {})",
            self.operation, self.pid, self.host, self.user, self.started
        )
    }
}

/// The machine's name.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|secs| jiff::Timestamp::from_second(secs).ok())
        .unwrap_or(jiff::Timestamp::MAX)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_996_800), "2026-11-30T00:00:00Z");
    }

    #[test]
    fn a_live_process_is_not_stale() {
        let me = LockInfo::current("run");
        assert!(!me.is_stale());
        let gone = LockInfo {
            pid: u32::MAX - 1,
            ..me.clone()
        };
        assert!(gone.is_stale());
        assert!(me.is_running_here());
        let reused = LockInfo {
            process_start: me.process_start.map(|t| t + 1),
            ..me.clone()
        };
        assert!(
            reused.is_stale(),
            "the same pid, started later: another process"
        );
    }
}
