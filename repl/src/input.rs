//! Reading the shape of an input without parsing it: whether brackets,
//! string interpolations or block comments are still open (so the editor
//! keeps reading lines), and which top-level statements are
//! `import "path" as alias;` (so the shell can keep those modules for every
//! later input instead of letting them vanish with the input's own scope).

use std::ops::Range;

/// A top-level `import "path" as alias;` statement of an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub path: String,
    pub alias: String,
    /// Byte range of the whole statement, including its `;`.
    pub range: Range<usize>,
}

/// A token seen outside any bracket, string or comment.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(Range<usize>),
    /// A `"..."` string: its range and its unescaped text.
    Str(Range<usize>, String),
    Punct(char, usize),
}

/// What scanning an input found.
#[derive(Debug, Default)]
struct Scan {
    /// Something is still open at the end: a bracket, a back-tick string or
    /// a block comment.
    open: bool,
    /// Brackets closed in the wrong order or too often: the input is as
    /// complete as it will get and the parser will say what is wrong.
    mismatched: bool,
    /// The cursor (end of text) is inside a string or comment.
    in_literal: bool,
    top_level: Vec<Token>,
}

/// An open delimiter.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Open {
    Bracket(char),
    /// A `` ` `` string.
    Backtick,
    /// A `${` inside a back-tick string.
    Interpolation,
}

fn scan(text: &str) -> Scan {
    let mut out = Scan::default();
    let mut stack: Vec<Open> = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if stack.last() == Some(&Open::Backtick) {
            match c {
                '\\' => {
                    chars.next();
                }
                '`' => {
                    stack.pop();
                }
                '$' if chars.peek().map(|&(_, n)| n) == Some('{') => {
                    chars.next();
                    stack.push(Open::Interpolation);
                }
                _ => {}
            }
            continue;
        }
        match c {
            '/' if chars.peek().map(|&(_, n)| n) == Some('/') => {
                let mut ended = false;
                for (_, n) in chars.by_ref() {
                    if n == '\n' {
                        ended = true;
                        break;
                    }
                }
                if !ended {
                    out.in_literal = true;
                }
            }
            '/' if chars.peek().map(|&(_, n)| n) == Some('*') => {
                chars.next();
                // Rhai block comments nest.
                let mut depth = 1;
                while depth > 0 {
                    match chars.next() {
                        Some((_, '*')) if chars.peek().map(|&(_, n)| n) == Some('/') => {
                            chars.next();
                            depth -= 1;
                        }
                        Some((_, '/')) if chars.peek().map(|&(_, n)| n) == Some('*') => {
                            chars.next();
                            depth += 1;
                        }
                        Some(_) => {}
                        None => break,
                    }
                }
                if depth > 0 {
                    out.open = true;
                    out.in_literal = true;
                }
            }
            '"' | '\'' => {
                let mut value = String::new();
                let mut end = None;
                while let Some((j, n)) = chars.next() {
                    match n {
                        '\\' => {
                            if let Some((_, escaped)) = chars.next() {
                                value.push(escaped);
                            }
                        }
                        _ if n == c => {
                            end = Some(j + n.len_utf8());
                            break;
                        }
                        _ => value.push(n),
                    }
                }
                match end {
                    Some(end) if stack.is_empty() && c == '"' => {
                        out.top_level.push(Token::Str(i..end, value));
                    }
                    Some(_) => {}
                    // An unterminated quote cannot continue on the next line
                    // in Rhai: leave it to the parser to report.
                    None => out.in_literal = true,
                }
            }
            '`' => stack.push(Open::Backtick),
            '(' | '[' | '{' => stack.push(Open::Bracket(c)),
            ')' | ']' | '}' => {
                let matches = match stack.last() {
                    Some(Open::Bracket(open)) => {
                        matches!((open, c), ('(', ')') | ('[', ']') | ('{', '}'))
                    }
                    Some(Open::Interpolation) => c == '}',
                    _ => false,
                };
                if matches {
                    stack.pop();
                    if stack.is_empty() {
                        out.top_level.push(Token::Punct(c, i));
                    }
                } else {
                    out.mismatched = true;
                }
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, n)) = chars.peek() {
                    if n.is_alphanumeric() || n == '_' {
                        end = j + n.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                if stack.is_empty() {
                    out.top_level.push(Token::Ident(i..end));
                }
            }
            c if c.is_whitespace() => {}
            c => {
                if stack.is_empty() {
                    out.top_level.push(Token::Punct(c, i));
                }
            }
        }
    }
    if matches!(stack.last(), Some(Open::Backtick)) {
        out.in_literal = true;
    }
    out.open |= !stack.is_empty();
    out
}

/// Whether the input is ready to evaluate: `:` commands always are, script
/// text once nothing is left open. Mismatched brackets count as complete so
/// the parser can point at them.
pub fn is_complete(text: &str) -> bool {
    if is_command(text) {
        return true;
    }
    let scan = scan(text);
    scan.mismatched || !scan.open
}

/// Whether the input is a `:` command rather than script text.
pub fn is_command(text: &str) -> bool {
    text.trim_start().starts_with(':')
}

/// Whether the end of `text` is inside a string or a comment, where
/// completing names makes no sense.
pub fn ends_in_literal(text: &str) -> bool {
    scan(text).in_literal
}

/// The top-level `import "path" as alias;` statements of an input.
pub fn imports(text: &str) -> Vec<Import> {
    let tokens = scan(text).top_level;
    let word = |t: Option<&Token>| match t {
        Some(Token::Ident(r)) => Some((&text[r.clone()], r.clone())),
        _ => None,
    };
    let mut found = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let at_statement_start = i == 0 || matches!(tokens[i - 1], Token::Punct(';' | '}', _));
        let statement = (
            word(tokens.get(i)),
            tokens.get(i + 1),
            word(tokens.get(i + 2)),
            word(tokens.get(i + 3)),
        );
        match statement {
            (
                Some(("import", start)),
                Some(Token::Str(_, path)),
                Some(("as", _)),
                Some((alias, r)),
            ) if at_statement_start => {
                let mut end = r.end;
                i += 4;
                if let Some(Token::Punct(';', at)) = tokens.get(i) {
                    end = at + 1;
                    i += 1;
                }
                found.push(Import {
                    path: path.clone(),
                    alias: alias.to_string(),
                    range: start.start..end,
                });
            }
            _ => i += 1,
        }
    }
    found
}

/// `text` with the given statements replaced by spaces, so that every line
/// and column of the rest stays where the user typed it.
pub fn blank_out(text: &str, imports: &[Import]) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        if c != '\n' && imports.iter().any(|im| im.range.contains(&i)) {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// Names of functions an input defines at the top level (`fn name(...)`).
pub fn defined_functions(text: &str) -> Vec<String> {
    let tokens = scan(text).top_level;
    tokens
        .windows(2)
        .filter_map(|pair| match pair {
            [Token::Ident(f), Token::Ident(name)] if &text[f.clone()] == "fn" => {
                Some(text[name.clone()].to_string())
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completeness_follows_open_delimiters() {
        let cases: &[(&str, bool)] = &[
            ("let x = 1;", true),
            ("", true),
            ("helm_app(c, \"a\", #{", false),
            ("helm_app(c, \"a\", #{\n  repo: \"r\",\n})", true),
            ("let s = `a ${ #{ b: 1 }.b", false),
            ("let s = `a ${ #{ b: 1 }.b }`;", true),
            ("let s = `multi\nline", false),
            ("let s = \"({[\";", true),
            ("// (((", true),
            ("/* open", false),
            ("/* /* nested */ still", false),
            ("/* /* nested */ done */ 1", true),
            ("let x = [1, 2", false),
            ("let x = 1)", true),
            ("foo(])", true),
            ("let c = '{';", true),
            (":show dev/namespace/{", true),
            ("\"unterminated", true),
        ];
        for (text, complete) in cases {
            assert_eq!(is_complete(text), *complete, "{text:?}");
        }
    }

    #[test]
    fn finds_top_level_imports_only() {
        let text = "import \"std/traefik\" as t;\nlet x = 1;\nimport \"./lib/x\" as lib\nfn f() { import \"std/loki\" as l; }";
        let found = imports(text);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].path, "std/traefik");
        assert_eq!(found[0].alias, "t");
        assert_eq!(
            &text[found[0].range.clone()],
            "import \"std/traefik\" as t;"
        );
        assert_eq!(found[1].path, "./lib/x");
        assert_eq!(found[1].alias, "lib");
        assert_eq!(&text[found[1].range.clone()], "import \"./lib/x\" as lib");
    }

    #[test]
    fn leaves_imports_it_cannot_keep() {
        for text in [
            "import \"std/x\";",
            "import `std/${x}` as y;",
            "let import_ = 1; foo(import \"x\" as y)",
            "x.import \"a\" as b",
        ] {
            assert!(imports(text).is_empty(), "{text:?}");
        }
    }

    #[test]
    fn blanking_keeps_positions() {
        let text = "import \"std/a\" as a; let x = 1;\nlet y = 2;";
        let blanked = blank_out(text, &imports(text));
        assert_eq!(blanked.len(), text.len());
        assert_eq!(blanked, "                     let x = 1;\nlet y = 2;");
    }

    #[test]
    fn recognises_commands_and_literals() {
        assert!(is_command("  :graph"));
        assert!(!is_command("x :: y"));
        assert!(ends_in_literal("let s = \"abc"));
        assert!(ends_in_literal("x // note"));
        assert!(ends_in_literal("let s = `a"));
        assert!(!ends_in_literal("let s = `a ${ na"));
        assert!(!ends_in_literal("let s = \"a\"; na"));
    }

    #[test]
    fn lists_defined_functions() {
        assert_eq!(
            defined_functions("fn greet(x) { x }\nfn twice(y) { fn_x(y) }"),
            ["greet", "twice"]
        );
    }
}
