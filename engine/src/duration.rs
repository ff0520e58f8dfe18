//! Durations as people write and read them (`90s`, `10m`, `1h30m`): the
//! one parser of `timeout` options and the one way a duration is shown,
//! both jiff's "friendly" format.

use std::time::Duration;

use jiff::fmt::friendly::{Designator, Spacing, SpanParser, SpanPrinter};

static PARSER: SpanParser = SpanParser::new();
static COMPACT: SpanPrinter = SpanPrinter::new()
    .designator(Designator::Compact)
    .spacing(Spacing::None);

/// Parses `"10m"`, `"90s"`, `"1h30m"`, `"1.5h"`, `"500ms"`: a unit after
/// every number, in the compact units only, as the reference documents.
pub fn parse(text: &str) -> Option<Duration> {
    let compact = text
        .chars()
        .all(|c| c.is_ascii_digit() || ".hms".contains(c));
    // A bare number has no unit: seconds or minutes would be a guess.
    if !compact || text.is_empty() || text.ends_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    PARSER.parse_unsigned_duration(text).ok()
}

/// `1h5m`, `90s` as `1m30s`, `500ms`: a timeout as it was written.
pub fn show(duration: Duration) -> String {
    COMPACT.unsigned_duration_to_string(&duration)
}

/// `1.2s`, `2m03s`: how long something took, to a tenth of a second.
pub fn elapsed(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        format!(
            "{}m{:02}s",
            duration.as_secs() / 60,
            duration.as_secs() % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_durations_parse() {
        let written = [
            ("10m", 600),
            ("90s", 90),
            ("1h30m", 5400),
            ("2h", 7200),
            ("1.5h", 5400),
        ];
        for (text, secs) in written {
            assert_eq!(parse(text), Some(Duration::from_secs(secs)), "{text}");
        }
        for bad in ["", "10", "m", "10x", "h10", "-10m", "10 minutes", " 10m"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations_show_as_written() {
        assert_eq!(show(Duration::from_secs(90)), "1m30s");
        assert_eq!(show(Duration::from_secs(3900)), "1h5m");
        assert_eq!(show(Duration::from_millis(500)), "500ms");
        assert_eq!(show(Duration::ZERO), "0s");
        assert_eq!(elapsed(Duration::from_millis(1234)), "1.2s");
        assert_eq!(elapsed(Duration::from_secs(123)), "2m03s");
    }
}
