//! Script sources and spans: every declaration remembers where it was written,
//! so a failure far away (a cycle, a failed apply) can point at the line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{NamedSource, SourceSpan};

/// Index of a source in [`Sources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(pub usize);

/// A region of a script: which file, and which bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    pub source: SourceId,
    pub offset: usize,
    pub len: usize,
}

impl Span {
    pub fn new(source: SourceId, offset: usize, len: usize) -> Self {
        Span {
            source,
            offset,
            len,
        }
    }

    pub fn source_span(&self) -> SourceSpan {
        (self.offset, self.len).into()
    }
}

/// One loaded script: its display name (relative to where the user runs
/// `stack`), its path on disk (if any) and its text.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub path: Option<PathBuf>,
    pub text: Arc<str>,
    /// Where each line starts, so a position is found without reading the
    /// text from its start (every declaration asks for one).
    line_starts: Arc<[usize]>,
}

impl Source {
    /// Byte offset of a 1-based line and column (columns count characters).
    pub fn offset_of(&self, line: usize, col: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        start
            + self.text[start..]
                .chars()
                .take_while(|c| *c != '\n')
                .take(col.saturating_sub(1))
                .map(char::len_utf8)
                .sum::<usize>()
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let col = self
            .text
            .get(start..offset)
            .map_or(0, |t| t.chars().count());
        (line, col + 1)
    }
}

/// Where each line of `text` starts.
fn line_starts(text: &str) -> Arc<[usize]> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// All scripts an evaluation read: the stack and every module it imported.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    sources: Vec<Source>,
}

impl Sources {
    /// Adds a source, or returns the id of the one already loaded from the same name.
    pub fn add(&mut self, name: impl Into<String>, path: Option<&Path>, text: &str) -> SourceId {
        let name = name.into();
        if let Some(i) = self.sources.iter().position(|s| s.name == name) {
            return SourceId(i);
        }
        self.sources.push(Source {
            name,
            path: path.map(Path::to_path_buf),
            text: Arc::from(text),
            line_starts: line_starts(text),
        });
        SourceId(self.sources.len() - 1)
    }

    pub fn get(&self, id: SourceId) -> &Source {
        &self.sources[id.0]
    }

    pub fn find(&self, name: &str) -> Option<SourceId> {
        self.sources
            .iter()
            .position(|s| s.name == name)
            .map(SourceId)
    }

    /// The source as miette wants it for a diagnostic.
    pub fn named(&self, id: SourceId) -> NamedSource<Arc<str>> {
        let source = self.get(id);
        NamedSource::new(source.name.clone(), source.text.clone()).with_language("rust")
    }

    /// 1-based line and column of a span's start.
    pub fn line_col(&self, span: Span) -> (usize, usize) {
        self.get(span.source).line_col(span.offset)
    }

    pub fn iter(&self) -> impl Iterator<Item = (SourceId, &Source)> {
        self.sources
            .iter()
            .enumerate()
            .map(|(i, s)| (SourceId(i), s))
    }
}

/// 1-based line and column (in characters) of a byte offset in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |nl| nl + 1);
    (line, before[start..].chars().count() + 1)
}

/// Byte offset of a 1-based line and column in `text` (columns count
/// characters), for a text that is not a loaded source.
pub fn offset_of(text: &str, line: usize, col: usize) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let within: usize = l
                .chars()
                .take(col.saturating_sub(1))
                .map(char::len_utf8)
                .sum();
            return offset + within;
        }
        offset += l.len();
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_finds_positions_by_its_line_index() {
        let mut sources = Sources::default();
        let text = "let a = 1;\nlet é = cluster(\"x\");\n";
        let id = sources.add("s.rhai", None, text);
        let source = sources.get(id);
        let off = source.offset_of(2, 9);
        assert_eq!(&text[off..off + 7], "cluster");
        assert_eq!(source.line_col(off), (2, 9));
        assert_eq!(source.offset_of(9, 1), text.len());
        assert_eq!(source.line_col(0), (1, 1));
    }

    #[test]
    fn line_col_round_trips() {
        let text = "let a = 1;\nlet b = cluster(\"x\");\n";
        let off = offset_of(text, 2, 9);
        assert_eq!(&text[off..off + 7], "cluster");
        assert_eq!(line_col(text, off), (2, 9));
    }
}

/// A message with labelled spans in one source: the building block for
/// diagnostics whose labels may fall in several files.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{message}")]
#[diagnostic(severity(Advice))]
pub struct SpanNote {
    pub message: String,
    #[source_code]
    pub src: NamedSource<Arc<str>>,
    #[label(collection)]
    pub labels: Vec<miette::LabeledSpan>,
}

/// Splits labelled spans by file: the labels in the first span's file, and a
/// note for each other file.
pub fn group_labels(
    sources: &Sources,
    labels: &[(Span, String)],
) -> (
    NamedSource<Arc<str>>,
    Vec<miette::LabeledSpan>,
    Vec<SpanNote>,
) {
    let mut order: Vec<SourceId> = Vec::new();
    for (span, _) in labels {
        if !order.contains(&span.source) {
            order.push(span.source);
        }
    }
    let collect = |source: SourceId| -> Vec<miette::LabeledSpan> {
        labels
            .iter()
            .filter(|(span, _)| span.source == source)
            .map(|(span, text)| {
                miette::LabeledSpan::new_with_span(Some(text.clone()), span.source_span())
            })
            .collect()
    };
    let first = order.first().copied().unwrap_or(SourceId(0));
    let notes = order
        .iter()
        .skip(1)
        .map(|&source| SpanNote {
            message: format!("in {}", sources.get(source).name),
            src: sources.named(source),
            labels: collect(source),
        })
        .collect();
    (sources.named(first), collect(first), notes)
}
