//! Where inputs come from: the line editor on a terminal (completion,
//! multi-line editing, a history file), or plain lines from a pipe, joined
//! while brackets are open, so the shell can be scripted.

use std::cell::RefCell;
use std::io::{BufRead, StdinLock};
use std::path::PathBuf;
use std::rc::Rc;

use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{ColorMode, CompletionType, Config, Editor};

use stack_stdlib::scan::{scan_more, Scan};

use crate::helper::ReplHelper;
use crate::input;
use crate::vocabulary::Vocabulary;

pub const PROMPT: &str = "stack> ";

/// One read.
pub enum Read {
    Input(String),
    /// Ctrl-C: the input being typed is dropped.
    Interrupted,
    /// Ctrl-D or the end of the piped input.
    End,
    /// Piped input that cannot be read: longer than a script may be, not
    /// text, or failing. The rest is not read.
    Unreadable(String),
}

/// The longest piped input, as long as a script may be.
const MAX_INPUT_BYTES: u64 = stack_engine::input::MAX_SCRIPT_BYTES;
const MAX_INPUT_LINES: usize = stack_stdlib::engine::limits::MAX_LINES;

pub enum Reader {
    Editor {
        editor: Box<Editor<ReplHelper, FileHistory>>,
        history: Option<PathBuf>,
    },
    Piped(StdinLock<'static>),
}

impl Reader {
    /// The line editor, with history loaded from `history` (created when
    /// missing). Problems with the history file are warnings only.
    pub fn editor(
        vocabulary: Rc<RefCell<Vocabulary>>,
        color: bool,
        history: Option<PathBuf>,
    ) -> rustyline::Result<Reader> {
        let config = Config::builder()
            .max_history_size(10_000)?
            .history_ignore_dups(true)?
            .history_ignore_space(true)
            .auto_add_history(false)
            .completion_type(CompletionType::List)
            .color_mode(if color {
                ColorMode::Enabled
            } else {
                ColorMode::Disabled
            })
            .build();
        let mut editor = Editor::with_config(config)?;
        editor.set_helper(Some(ReplHelper::new(vocabulary, color)));
        if let Some(path) = &history {
            let loaded = if path.exists() {
                editor.load_history(path).map_err(|e| e.to_string())
            } else {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map(drop)
                    .map_err(|e| e.to_string())
            };
            if let Err(e) = loaded {
                warn_history(path, &e);
            }
        }
        Ok(Reader::Editor {
            editor: Box::new(editor),
            history,
        })
    }

    pub fn piped() -> Reader {
        Reader::Piped(std::io::stdin().lock())
    }

    pub fn read(&mut self) -> Read {
        match self {
            Reader::Editor { editor, .. } => match editor.readline(PROMPT) {
                Ok(line) => {
                    // A failure to remember a line only affects the history.
                    let _ = editor.add_history_entry(line.as_str());
                    Read::Input(line)
                }
                Err(ReadlineError::Interrupted) => Read::Interrupted,
                Err(ReadlineError::Eof) => Read::End,
                Err(e) => {
                    eprintln!("error: cannot read the terminal: {e}");
                    Read::End
                }
            },
            Reader::Piped(stdin) => read_piped(stdin),
        }
    }

    /// Writes the history file.
    pub fn finish(&mut self) {
        if let Reader::Editor {
            editor,
            history: Some(path),
        } = self
        {
            if let Err(e) = editor.append_history(path) {
                warn_history(path, &e.to_string());
            }
        }
    }
}

fn warn_history(path: &std::path::Path, error: &str) {
    eprintln!(
        "warning: the history file {} cannot be used: {error}",
        path.display()
    );
}

/// Lines until the input is complete; at the end of the stream whatever
/// is left, so that an unclosed bracket is reported rather than dropped.
/// An input is read only up to [`MAX_INPUT_BYTES`]: a stream without end
/// (`/dev/zero`, an unclosed bracket repeated) is refused, not held.
fn read_piped(stdin: &mut impl BufRead) -> Read {
    let mut text = String::new();
    let mut lines = 0usize;
    let mut shape = Scan::default();
    loop {
        let mut line = String::new();
        let room = MAX_INPUT_BYTES.saturating_sub(text.len() as u64);
        match std::io::Read::take(&mut *stdin, room + 1).read_line(&mut line) {
            Ok(n) if n as u64 > room => {
                return Read::Unreadable(format!(
                    "an input is longer than {} MiB, the limit for a script",
                    MAX_INPUT_BYTES >> 20
                ))
            }
            Ok(0) if text.trim().is_empty() => return Read::End,
            Ok(0) => return Read::Input(text),
            Ok(_) => {
                let line = line.trim_end_matches(['\n', '\r']);
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(line);
                lines += 1;
                if lines > MAX_INPUT_LINES {
                    return Read::Unreadable(format!(
                        "an input has more than {MAX_INPUT_LINES} lines, the limit for a script"
                    ));
                }
                // Each line is read once: a long input costs its length.
                shape = scan_more(shape, &text);
                if input::is_command(&text) || input::is_closed(&shape) {
                    return Read::Input(text);
                }
            }
            Err(e) => return Read::Unreadable(format!("cannot read the input: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(text: &str) -> Vec<String> {
        let mut stream = std::io::Cursor::new(text.as_bytes().to_vec());
        let mut out = Vec::new();
        loop {
            match read_piped(&mut stream) {
                Read::Input(text) => out.push(text),
                Read::Interrupted => {}
                Read::End => return out,
                Read::Unreadable(why) => panic!("{why}"),
            }
        }
    }

    #[test]
    fn an_input_without_end_is_refused_not_held() {
        let mut zeros = std::io::Read::take(std::io::repeat(0), MAX_INPUT_BYTES * 4);
        let mut zeros = std::io::BufReader::new(&mut zeros);
        assert!(matches!(read_piped(&mut zeros), Read::Unreadable(_)));
        let open = "(\n".repeat(3 << 20);
        let mut stream = std::io::Cursor::new(open.into_bytes());
        assert!(matches!(read_piped(&mut stream), Read::Unreadable(_)));
    }

    #[test]
    fn joins_lines_while_brackets_are_open() {
        assert_eq!(
            inputs("let a = 1;\nf(#{\n  x: 1,\n});\r\n:graph\n\nlet b = [1,\n"),
            [
                "let a = 1;",
                "f(#{\n  x: 1,\n});",
                ":graph",
                "",
                "let b = [1,"
            ]
        );
    }
}
