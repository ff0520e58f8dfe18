//! Openers that never close. Rhai ends an unclosed `/*` silently at the
//! end of the input, so the rest of a script would vanish into the comment
//! and the run would see fewer declarations than were written (and prune
//! the others); and an unclosed `${` in a backtick string is reported as a
//! missing `;` somewhere after it. This finds either and where it starts.
//! (An unclosed string Rhai reports itself, where it starts.)

use rhai::{LexError, ParseError, ParseErrorType, Position};

/// What the parse error of an unclosed block comment carries as its symbol.
pub const OPENER: &str = "/*";
/// What the parse error of an unclosed interpolation carries as its symbol.
pub const INTERPOLATION: &str = "${";

/// Fails at the start of the first block comment or interpolation of
/// `text` that is never closed.
pub fn check_closed(text: &str) -> Result<(), ParseError> {
    let Some((opener, line, column)) = unclosed(text) else {
        return Ok(());
    };
    let what = if opener == OPENER {
        "this block comment is never closed"
    } else {
        "this interpolation is never closed"
    };
    let clamp = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    Err(ParseError(
        Box::new(ParseErrorType::BadInput(LexError::ImproperSymbol(
            opener.into(),
            what.into(),
        ))),
        Position::new(clamp(line), clamp(column)),
    ))
}

/// Where the scanner is.
enum Context {
    /// Script: at top level, or inside `${ }` opened at a position.
    Code {
        braces: usize,
        interpolation: Option<(usize, usize)>,
    },
    /// Inside a backtick string.
    Backtick,
}

/// The first unclosed opener: `/*` or `${`, its line and column (1-based).
fn unclosed(text: &str) -> Option<(&'static str, usize, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let (mut line, mut column) = (1usize, 1usize);
    let mut stack = vec![Context::Code {
        braces: 0,
        interpolation: None,
    }];
    let mut i = 0;
    // Moves past `n` characters, keeping the line and column.
    let advance = |i: &mut usize, n: usize, line: &mut usize, column: &mut usize| {
        for _ in 0..n {
            if chars.get(*i) == Some(&'\n') {
                *line += 1;
                *column = 1;
            } else {
                *column += 1;
            }
            *i += 1;
        }
    };
    while i < chars.len() {
        let (c, next) = (chars[i], chars.get(i + 1).copied());
        match stack.last_mut()? {
            Context::Backtick => match (c, next) {
                ('`', Some('`')) => advance(&mut i, 2, &mut line, &mut column),
                ('`', _) => {
                    stack.pop();
                    advance(&mut i, 1, &mut line, &mut column);
                }
                ('$', Some('{')) => {
                    stack.push(Context::Code {
                        braces: 0,
                        interpolation: Some((line, column)),
                    });
                    advance(&mut i, 2, &mut line, &mut column);
                }
                _ => advance(&mut i, 1, &mut line, &mut column),
            },
            Context::Code {
                braces,
                interpolation,
            } => match (c, next) {
                ('/', Some('/')) => {
                    while i < chars.len() && chars[i] != '\n' {
                        advance(&mut i, 1, &mut line, &mut column);
                    }
                }
                ('/', Some('*')) => {
                    let start = (line, column);
                    let mut depth = 0usize;
                    loop {
                        match (chars.get(i), chars.get(i + 1)) {
                            (None, _) => return Some((OPENER, start.0, start.1)),
                            (Some('/'), Some('*')) => {
                                depth += 1;
                                advance(&mut i, 2, &mut line, &mut column);
                            }
                            (Some('*'), Some('/')) => {
                                depth -= 1;
                                advance(&mut i, 2, &mut line, &mut column);
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => advance(&mut i, 1, &mut line, &mut column),
                        }
                    }
                }
                ('"' | '\'', _) => {
                    // To the closing quote; Rhai reports one that never comes.
                    advance(&mut i, 1, &mut line, &mut column);
                    while i < chars.len() && chars[i] != c && chars[i] != '\n' {
                        let step = if chars[i] == '\\' { 2 } else { 1 };
                        advance(&mut i, step, &mut line, &mut column);
                    }
                    advance(&mut i, 1, &mut line, &mut column);
                }
                ('#', Some('#' | '"')) => {
                    // A raw string: `#"..."#`, with as many `#` on each side.
                    let hashes = chars[i..].iter().take_while(|h| **h == '#').count();
                    if chars.get(i + hashes) != Some(&'"') {
                        advance(&mut i, 1, &mut line, &mut column);
                        continue;
                    }
                    advance(&mut i, hashes + 1, &mut line, &mut column);
                    let closing: Vec<char> = std::iter::once('"')
                        .chain(std::iter::repeat_n('#', hashes))
                        .collect();
                    while i < chars.len() && !chars[i..].starts_with(&closing) {
                        advance(&mut i, 1, &mut line, &mut column);
                    }
                    advance(&mut i, closing.len(), &mut line, &mut column);
                }
                ('`', _) => {
                    stack.push(Context::Backtick);
                    advance(&mut i, 1, &mut line, &mut column);
                }
                ('{', _) => {
                    *braces += 1;
                    advance(&mut i, 1, &mut line, &mut column);
                }
                ('}', _) if *braces == 0 && interpolation.is_some() => {
                    stack.pop();
                    advance(&mut i, 1, &mut line, &mut column);
                }
                ('}', _) => {
                    *braces = braces.saturating_sub(1);
                    advance(&mut i, 1, &mut line, &mut column);
                }
                _ => advance(&mut i, 1, &mut line, &mut column),
            },
        }
    }
    // The innermost interpolation still open (a string opened inside it
    // and never closed is most likely its missing `}`'s doing).
    stack.iter().rev().find_map(|context| match context {
        Context::Code {
            interpolation: Some((line, column)),
            ..
        } => Some((INTERPOLATION, *line, *column)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_openers_and_openers_inside_strings_pass() {
        for text in [
            "let a = 1; /* a */ let b = 2;",
            "/* outer /* inner */ still */ let a = 1;",
            r#"let a = "/* not a comment ${";"#,
            "let a = `/*`;",
            "let a = `x ${ #{ k: `y ${1}` }.k } z`;",
            "let a = 1; // /* in a line comment",
            r##"let a = #"raw /* ${ "#;"##,
            "let m = #{ a: 1 }; let s = `a``b`;",
        ] {
            assert_eq!(unclosed(text), None, "{text}");
        }
    }

    #[test]
    fn an_unclosed_opener_is_found_where_it_starts() {
        assert_eq!(
            unclosed("let a = 1;\n  /* the rest\nlet b = 2;"),
            Some((OPENER, 2, 3))
        );
        assert_eq!(
            unclosed("/* closed */\nlet a = 1; /* outer /* inner */ open"),
            Some((OPENER, 2, 12))
        );
        assert_eq!(
            unclosed("let c = 1;\nlet x = `abc ${ c\n\nlet y = 2;"),
            Some((INTERPOLATION, 2, 14))
        );
        assert_eq!(
            unclosed("let x = `served by ${ ns.name`;\nlet y = 2;"),
            Some((INTERPOLATION, 1, 20))
        );
    }
}
