//! Openers that never close. Rhai ends an unclosed `/*` silently at the
//! end of the input, so the rest of a script would vanish into the comment
//! and the run would see fewer declarations than were written (and prune
//! the others); and an unclosed `${` in a backtick string is reported as a
//! missing `;` somewhere after it. This finds either and where it starts.
//! (An unclosed string Rhai reports itself, where it starts.)

use rhai::{LexError, ParseError, ParseErrorType, Position};

use crate::scan::{scan, Opener};
use stack_engine::source::line_col as line_column;

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

/// The first unclosed opener: `/*` or `${`, its line and column (1-based).
/// A block comment runs to the end, so it is the last thing open; else the
/// innermost interpolation (a string opened inside it and never closed is
/// most likely its missing `}`'s doing). Brackets Rhai reports itself.
fn unclosed(text: &str) -> Option<(&'static str, usize, usize)> {
    let found = scan(text);
    let at = |offset| line_column(text, offset);
    if let Some(comment) = found.open.iter().find(|o| o.opener == Opener::BlockComment) {
        let (line, column) = at(comment.offset);
        return Some((OPENER, line, column));
    }
    let interpolation = found
        .open
        .iter()
        .rev()
        .find(|o| o.opener == Opener::Interpolation)?;
    let (line, column) = at(interpolation.offset);
    Some((INTERPOLATION, line, column))
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
