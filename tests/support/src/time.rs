//! Wall-clock timestamps in the shapes Kubernetes uses (RFC 3339, seconds,
//! UTC) and the short ages `kubectl get` shows.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, now.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Now as `2024-05-01T12:00:00Z`.
pub(crate) fn now_rfc3339() -> String {
    format_rfc3339(unix_now())
}

/// A Unix time as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn format_rfc3339(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|secs| jiff::Timestamp::from_second(secs).ok())
        .unwrap_or(jiff::Timestamp::MAX)
        .to_string()
}

/// Parses an RFC 3339 time; one without an offset is taken as UTC.
pub(crate) fn parse_rfc3339(s: &str) -> Option<u64> {
    let at = match s.parse::<jiff::Timestamp>() {
        Ok(at) => at,
        Err(_) => jiff::tz::Offset::UTC
            .to_timestamp(s.get(..19)?.parse::<jiff::civil::DateTime>().ok()?)
            .ok()?,
    };
    u64::try_from(at.as_second()).ok()
}

/// The age column of `kubectl get`: `42s`, `5m`, `3h`, `12d`.
pub(crate) fn human_age(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(1_709_251_199), "2024-02-29T23:59:59Z");
        for secs in [0, 951_782_400, 1_709_251_199, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&format_rfc3339(secs)), Some(secs));
        }
        assert_eq!(parse_rfc3339("garbage"), None);
    }

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(human_age(5), "5s");
        assert_eq!(human_age(600), "10m");
        assert_eq!(human_age(3 * 3600), "3h");
        assert_eq!(human_age(3 * 86_400), "3d");
    }
}
