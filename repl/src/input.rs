//! Reading the shape of an input without parsing it: whether brackets,
//! string interpolations or block comments are still open (so the editor
//! keeps reading lines), and which top-level statements are
//! `import "path" as alias;` (so the shell can keep those modules for every
//! later input instead of letting them vanish with the input's own scope).
//! The reading itself is the standard library's scanner, the one the
//! checks before evaluation use.

use std::ops::Range;

use stack_stdlib::scan::{scan, Scan, Token};

/// A top-level `import "path" as alias;` statement of an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub path: String,
    pub alias: String,
    /// Byte range of the whole statement, including its `;`.
    pub range: Range<usize>,
}

/// Whether the input is ready to evaluate: `:` commands always are, script
/// text once nothing is left open. Mismatched brackets count as complete so
/// the parser can point at them.
pub fn is_complete(text: &str) -> bool {
    is_command(text) || is_closed(&scan(text))
}

/// Whether a reading of script text leaves nothing open (or mismatched).
pub fn is_closed(found: &Scan) -> bool {
    found.mismatched || found.open.is_empty()
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
    let found = scan(text);
    let tokens: Vec<&Token> = found.top_level().collect();
    let word = |t: Option<&&Token>| match t {
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
    let found = scan(text);
    let tokens: Vec<&Token> = found.top_level().collect();
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
