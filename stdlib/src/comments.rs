//! Block comments that never close. Rhai ends an unclosed `/*` silently at
//! the end of the input, so the rest of a script would vanish into the
//! comment and the run would see fewer declarations than were written
//! (and prune the others). This finds such a comment and where it starts.

use rhai::{Engine, LexError, ParseError, ParseErrorType, Position, Token};

/// What the parse error of an unclosed comment carries as its symbol.
pub const OPENER: &str = "/*";

/// Fails at the start of the outermost block comment of `text` that is
/// never closed; Rhai's own tokenizer decides what is inside a string.
pub fn check_closed(engine: &Engine, text: &str) -> Result<(), ParseError> {
    if !text.contains(OPENER) {
        return Ok(());
    }
    let inputs = [text];
    let (mut tokens, _control) = engine.lex(&inputs);
    tokens.state.include_comments = true;
    let mut last_opened = Position::NONE;
    while let Some((token, pos)) = tokens.next() {
        match token {
            Token::EOF => break,
            Token::Comment(comment) if comment.starts_with(OPENER) => last_opened = pos,
            Token::LexError(_) => return Ok(()),
            _ => {}
        }
        // Still inside a comment after a token: the input ended in it.
        if tokens.state.comment_level > 0 {
            break;
        }
    }
    if tokens.state.comment_level == 0 {
        return Ok(());
    }
    Err(ParseError(
        Box::new(ParseErrorType::BadInput(LexError::ImproperSymbol(
            OPENER.into(),
            "this block comment is never closed".into(),
        ))),
        last_opened,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unclosed_at(text: &str) -> Option<(usize, usize)> {
        let engine = Engine::new();
        check_closed(&engine, text)
            .err()
            .map(|e| (e.1.line().unwrap_or(0), e.1.position().unwrap_or(0)))
    }

    #[test]
    fn closed_comments_and_comment_markers_in_strings_pass() {
        assert_eq!(unclosed_at("let a = 1; /* a */ let b = 2;"), None);
        assert_eq!(
            unclosed_at("/* outer /* inner */ still */ let a = 1;"),
            None
        );
        assert_eq!(unclosed_at(r#"let a = "/* not a comment";"#), None);
        assert_eq!(unclosed_at("let a = `/*`;"), None);
        assert_eq!(unclosed_at("let a = 1; // /* in a line comment"), None);
    }

    #[test]
    fn an_unclosed_comment_is_found_where_it_starts() {
        assert_eq!(
            unclosed_at("let a = 1;\n  /* the rest\nlet b = 2;"),
            Some((2, 3))
        );
        assert_eq!(
            unclosed_at("/* closed */\nlet a = 1; /* outer /* inner */ open"),
            Some((2, 12))
        );
    }
}
