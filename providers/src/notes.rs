//! The help of a provider error: what the server, the tool or the live
//! object said, then what to do.

/// `notes` (what was said), then `help`, one per line.
pub fn with_notes(notes: impl IntoIterator<Item = String>, help: Option<String>) -> Option<String> {
    let lines: Vec<String> = notes.into_iter().chain(help).collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}
