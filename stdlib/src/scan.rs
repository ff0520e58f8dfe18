//! The shape of a script, read without parsing it: its tokens outside
//! strings and comments, and what is still open at the end (brackets,
//! back-tick strings, interpolations, a block comment). One reading serves
//! the check for openers that never close, the syntax errors that point
//! at them, the names a misspelling is compared with, and the REPL's line
//! editor (is the input complete, which top-level statements are imports).

use std::ops::Range;

/// A token of code.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    Ident(Range<usize>),
    /// A `"..."` string: its byte range and its unescaped text.
    Str(Range<usize>, String),
    Punct(char, usize),
}

impl Token {
    /// The byte offset where it starts.
    pub fn start(&self) -> usize {
        match self {
            Token::Ident(r) | Token::Str(r, _) => r.start,
            Token::Punct(_, at) => *at,
        }
    }
}

/// A token and how deep it is in brackets and interpolations (0: at the
/// top level of the script).
#[derive(Debug, Clone, PartialEq)]
pub struct Scanned {
    pub token: Token,
    pub depth: usize,
}

/// Something opened and not closed (yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opener {
    /// `(`, `[` or `{`.
    Bracket(char),
    /// A `` ` `` string.
    Backtick,
    /// A `${` inside a back-tick string.
    Interpolation,
    /// A `/*` (they nest).
    BlockComment,
}

/// An opener and the byte offset where it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open {
    pub opener: Opener,
    pub offset: usize,
}

/// What reading a script found.
#[derive(Debug, Default)]
pub struct Scan {
    pub tokens: Vec<Scanned>,
    /// Still open at the end, outermost first.
    pub open: Vec<Open>,
    /// A bracket closed in the wrong order or too often: the parser will
    /// say what is wrong.
    pub mismatched: bool,
    /// The end of the text is inside a string or a comment.
    pub in_literal: bool,
    /// How far the text was read, and what a continued reading picks up.
    read_to: usize,
    pending: Pending,
}

/// What was still being read at the end of the text.
#[derive(Debug, Default, Clone, PartialEq)]
enum Pending {
    #[default]
    Nothing,
    /// A block comment, this many levels deep.
    Comment(usize),
    /// A raw string, ended by this.
    Raw(String),
}

impl Scan {
    /// Tokens outside any bracket or interpolation.
    pub fn top_level(&self) -> impl Iterator<Item = &Token> {
        self.tokens
            .iter()
            .filter(|t| t.depth == 0)
            .map(|t| &t.token)
    }
}

/// Reads `text`.
pub fn scan(text: &str) -> Scan {
    scan_more(Scan::default(), text)
}

/// Reads on where `previous` stopped, in `text` that begins with the text
/// `previous` read and continues it from a new line: what an input read a
/// line at a time costs once, not once per line.
pub fn scan_more(mut previous: Scan, text: &str) -> Scan {
    let at = previous.read_to.min(text.len());
    previous.in_literal = false;
    Reader {
        text,
        bytes: text.as_bytes(),
        at,
        out: previous,
    }
    .read()
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    out: Scan,
}

impl Reader<'_> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.at + ahead).copied()
    }

    fn starts_with(&self, s: &str) -> bool {
        self.bytes[self.at..].starts_with(s.as_bytes())
    }

    fn top(&self) -> Option<Opener> {
        self.out.open.last().map(|o| o.opener)
    }

    fn push(&mut self, token: Token) {
        let depth = self.out.open.len();
        self.out.tokens.push(Scanned { token, depth });
    }

    fn read(mut self) -> Scan {
        match std::mem::take(&mut self.out.pending) {
            Pending::Nothing => {}
            Pending::Comment(depth) => self.block_comment_from(depth),
            Pending::Raw(closing) => self.raw_string_end(&closing),
        }
        while self.at < self.bytes.len() {
            if self.top() == Some(Opener::Backtick) {
                self.backtick();
            } else {
                self.code();
            }
        }
        if self.top() == Some(Opener::Backtick) {
            self.out.in_literal = true;
        }
        self.out.read_to = self.bytes.len();
        self.out
    }

    /// Inside a back-tick string: to its end or the next `${`.
    fn backtick(&mut self) {
        if self.starts_with("``") {
            self.at += 2;
        } else if self.starts_with("`") {
            self.out.open.pop();
            self.at += 1;
        } else if self.starts_with("${") {
            self.out.open.push(Open {
                opener: Opener::Interpolation,
                offset: self.at,
            });
            self.at += 2;
        } else {
            self.at += 1;
        }
    }

    fn code(&mut self) {
        let start = self.at;
        let Some(c) = self.text[start..].chars().next() else {
            self.at = self.bytes.len();
            return;
        };
        match c {
            '/' if self.peek(1) == Some(b'/') => match self.text[start..].find('\n') {
                Some(end) => self.at = start + end,
                None => {
                    self.out.in_literal = true;
                    self.at = self.bytes.len();
                }
            },
            '/' if self.peek(1) == Some(b'*') => self.block_comment(),
            '"' | '\'' => self.quoted(c),
            '#' if self.raw_string() => {}
            '`' => {
                self.out.open.push(Open {
                    opener: Opener::Backtick,
                    offset: start,
                });
                self.at += 1;
            }
            '(' | '[' | '{' => {
                self.push(Token::Punct(c, start));
                self.out.open.push(Open {
                    opener: Opener::Bracket(c),
                    offset: start,
                });
                self.at += 1;
            }
            ')' | ']' | '}' => {
                let closes = match self.top() {
                    Some(Opener::Bracket(open)) => {
                        matches!((open, c), ('(', ')') | ('[', ']') | ('{', '}'))
                    }
                    Some(Opener::Interpolation) => c == '}',
                    _ => false,
                };
                if closes {
                    self.out.open.pop();
                } else {
                    self.out.mismatched = true;
                }
                self.push(Token::Punct(c, start));
                self.at += 1;
            }
            c if c.is_alphabetic() || c == '_' => {
                let end = self.text[start..]
                    .char_indices()
                    .find(|(_, n)| !(n.is_alphanumeric() || *n == '_'))
                    .map_or(self.bytes.len(), |(i, _)| start + i);
                self.push(Token::Ident(start..end));
                self.at = end;
            }
            c if c.is_whitespace() => self.at += c.len_utf8(),
            c => {
                self.push(Token::Punct(c, start));
                self.at += c.len_utf8();
            }
        }
    }

    /// A `/* */` comment, nested ones included; one that never closes
    /// stays open.
    fn block_comment(&mut self) {
        self.out.open.push(Open {
            opener: Opener::BlockComment,
            offset: self.at,
        });
        self.block_comment_from(0);
    }

    /// The rest of a block comment `depth` levels deep, whose opener is on
    /// top of the open stack until it closes.
    fn block_comment_from(&mut self, mut depth: usize) {
        while self.at < self.bytes.len() {
            if self.starts_with("/*") {
                depth += 1;
                self.at += 2;
            } else if self.starts_with("*/") {
                depth -= 1;
                self.at += 2;
                if depth == 0 {
                    self.out.open.pop();
                    return;
                }
            } else {
                self.at += 1;
            }
        }
        self.out.pending = Pending::Comment(depth);
        self.out.in_literal = true;
    }

    /// A `"` string or a `'` character, to its closing quote. One that
    /// never closes ends at the end of its line: Rhai reports it there.
    fn quoted(&mut self, quote: char) {
        let start = self.at;
        let mut value = String::new();
        let mut chars = self.text[start + 1..].char_indices();
        while let Some((i, n)) = chars.next() {
            match n {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                }
                '\n' => {
                    self.at = start + 1 + i;
                    return;
                }
                _ if n == quote => {
                    let end = start + 1 + i + 1;
                    if quote == '"' {
                        self.push(Token::Str(start..end, value));
                    }
                    self.at = end;
                    return;
                }
                _ => value.push(n),
            }
        }
        self.out.in_literal = true;
        self.at = self.bytes.len();
    }

    /// A raw string `#"..."#`, with as many `#` on each side; false when
    /// the `#` starts something else (`#{`).
    fn raw_string(&mut self) -> bool {
        let hashes = self.bytes[self.at..]
            .iter()
            .take_while(|b| **b == b'#')
            .count();
        if self.peek(hashes) != Some(b'"') {
            return false;
        }
        let closing = format!("\"{}", "#".repeat(hashes));
        self.at += hashes + 1;
        self.raw_string_end(&closing);
        true
    }

    /// The rest of a raw string, to `closing`.
    fn raw_string_end(&mut self, closing: &str) {
        match self.text[self.at..].find(closing) {
            Some(end) => self.at += end + closing.len(),
            None => {
                self.out.pending = Pending::Raw(closing.to_string());
                self.out.in_literal = true;
                self.at = self.bytes.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_on_line_by_line_finds_what_one_reading_finds() {
        let text = "let a = f(#{\n /* a /* nested\n */ still */ b: `x ${\n y } ` ,\n r: #\"raw\n\"# }\n, [1,\n 2]);\n// end";
        let mut joined = String::new();
        let mut step = Scan::default();
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                joined.push('\n');
            }
            joined.push_str(line);
            step = scan_more(step, &joined);
            let whole = scan(&joined);
            assert_eq!(step.open, whole.open, "after line {i}");
            assert_eq!(step.tokens, whole.tokens, "after line {i}");
            assert_eq!(step.mismatched, whole.mismatched, "after line {i}");
            assert_eq!(step.in_literal, whole.in_literal, "after line {i}");
        }
    }

    fn openers(text: &str) -> Vec<Opener> {
        scan(text).open.iter().map(|o| o.opener).collect()
    }

    #[test]
    fn strings_and_comments_hide_what_is_in_them() {
        for text in [
            "let a = 1; /* a */ let b = 2;",
            "/* outer /* inner */ still */ let a = 1;",
            r#"let a = "/* not a comment ${ (";"#,
            "let a = `/*`;",
            "let a = `x ${ #{ k: `y ${1}` }.k } z`;",
            "let a = 1; // /* in a line comment\n",
            r##"let a = #"raw /* ${ "#;"##,
            "let m = #{ a: 1 }; let s = `a``b`;",
            "let c = '{';",
        ] {
            assert_eq!(openers(text), [], "{text}");
        }
    }

    #[test]
    fn what_stays_open_is_found_where_it_starts() {
        let text = "let a = 1;\n  /* the rest\nlet b = 2;";
        let found = scan(text);
        assert_eq!(found.open[0].opener, Opener::BlockComment);
        assert_eq!(
            stack_engine::source::line_col(text, found.open[0].offset),
            (2, 3)
        );
        assert!(found.in_literal);
        assert_eq!(
            openers("let x = `served by ${ ns.name`;"),
            [Opener::Backtick, Opener::Interpolation, Opener::Backtick]
        );
        assert_eq!(
            openers("f(#{ a: [1"),
            [
                Opener::Bracket('('),
                Opener::Bracket('{'),
                Opener::Bracket('[')
            ]
        );
        assert!(scan("let x = 1)").mismatched);
    }

    #[test]
    fn top_level_tokens_leave_out_what_brackets_hold() {
        let text = "import \"std/a\" as a; fn f() { import \"b\" as b; }";
        let found = scan(text);
        let strings: Vec<&str> = found
            .top_level()
            .filter_map(|t| match t {
                Token::Str(_, s) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(strings, ["std/a"]);
    }
}
