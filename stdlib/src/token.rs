//! Placeholder tokens that let unknown outputs and secrets travel through
//! ordinary Rhai strings (interpolation, concatenation, maps) and be found
//! again when a value reaches a declaration.
//!
//! A token is `OPEN` + a body + `CLOSE`. The body is `o:<resource>#<output>`
//! (an output), `p:…` (a sensitive output) or `s:<n>` (the n-th secret of
//! the session), each byte written as a private-use character of plane 16.
//! Every character of a token is therefore reserved: a character indexed
//! out of it (`s[1]`) is known to come from a token and can be refused
//! where it is looked at, as a whole token is.

use stack_engine::resource::ResourceId;
use stack_engine::OutputRef;

pub const OPEN: char = '\u{F0000}';
pub const CLOSE: char = '\u{F0001}';
/// The reserved characters, as messages name them.
pub const RESERVED: &str = "U+F0000, U+F0001 or U+100000 to U+1000FF";
/// Where the bytes of a token's body are written: byte `b` is `BODY + b`.
const BODY: u32 = 0x10_0000;

/// Whether `c` is one of the characters tokens are written with.
pub fn is_reserved(c: char) -> bool {
    c == OPEN || c == CLOSE || (BODY..BODY + 256).contains(&u32::from(c))
}

/// A piece of a string: literal text or a token.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece<'a> {
    Text(&'a str),
    Output(OutputRef),
    Secret(usize),
}

pub fn output(reference: &OutputRef) -> String {
    let tag = if reference.secret { 'p' } else { 'o' };
    wrap(&format!(
        "{tag}:{}#{}",
        reference.resource, reference.output
    ))
}

pub fn secret(index: usize) -> String {
    wrap(&format!("s:{index}"))
}

fn wrap(body: &str) -> String {
    let mut out = String::with_capacity(4 * (body.len() + 2));
    out.push(OPEN);
    out.extend(
        body.bytes()
            .map(|b| char::from_u32(BODY + u32::from(b)).unwrap_or(CLOSE)),
    );
    out.push(CLOSE);
    out
}

fn unwrap(body: &str) -> Option<String> {
    let bytes = body
        .chars()
        .map(|c| u8::try_from(u32::from(c).checked_sub(BODY)?).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

/// The byte offset of the first reserved character in text that comes from
/// outside (a script, a file, a `--set` value): such text could forge a
/// secret or an output, so it is refused.
pub fn reserved_at(text: &str) -> Option<usize> {
    if !may_hold_reserved(text) {
        return None;
    }
    text.find(is_reserved)
}

/// Replaces every reserved character, so that text can be shown.
pub fn shown(text: &str) -> String {
    text.replace(is_reserved, "\u{FFFD}")
}

/// Whether a string carries a token or a piece of one.
pub fn has_tokens(s: &str) -> bool {
    may_hold_reserved(s) && s.contains(is_reserved)
}

/// Reserved characters are encoded from byte 0xF3 up: text without such a
/// byte (nearly all text) is passed over without decoding it.
fn may_hold_reserved(s: &str) -> bool {
    s.bytes().any(|b| b >= 0xF3)
}

/// Whether a piece of literal text holds a piece of a token that a string
/// function took apart: what it stood for is lost.
pub fn is_fragment(text: &str) -> bool {
    has_tokens(text)
}

/// Splits a string into literal text and tokens.
pub fn pieces(s: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    // Literal text runs from `text` to where the next token starts.
    let mut text = 0;
    let mut at = 0;
    while let Some(found) = s[at..].find(OPEN) {
        let start = at + found;
        let body = start + OPEN.len_utf8();
        let token = s[body..].find(CLOSE).and_then(|end| {
            let piece = unwrap(&s[body..body + end]).and_then(|b| parse(&b))?;
            Some((piece, body + end + CLOSE.len_utf8()))
        });
        match token {
            Some((piece, next)) => {
                if start > text {
                    out.push(Piece::Text(&s[text..start]));
                }
                out.push(piece);
                text = next;
                at = next;
            }
            // A lone `OPEN` is a fragment: it stays in the text around it.
            None => at = body,
        }
    }
    if text < s.len() {
        out.push(Piece::Text(&s[text..]));
    }
    out
}

fn parse(body: &str) -> Option<Piece<'static>> {
    let (tag, rest) = body.split_once(':')?;
    match tag {
        "o" | "p" => {
            let (resource, output) = rest.rsplit_once('#')?;
            Some(Piece::Output(OutputRef {
                resource: ResourceId::new(resource),
                output: output.to_string(),
                secret: tag == "p",
            }))
        }
        "s" => rest.parse().ok().map(Piece::Secret),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_inside_text() {
        let r = OutputRef {
            resource: ResourceId::new("cluster/prod"),
            output: "endpoint".into(),
            secret: false,
        };
        let s = format!("https://{}:443/{}", output(&r), secret(3));
        assert_eq!(
            pieces(&s),
            vec![
                Piece::Text("https://"),
                Piece::Output(r),
                Piece::Text(":443/"),
                Piece::Secret(3)
            ]
        );
        assert!(!has_tokens("plain"));
        assert_eq!(pieces("plain"), vec![Piece::Text("plain")]);
    }

    #[test]
    fn every_character_of_a_token_is_reserved() {
        let s = secret(12);
        assert!(s.chars().all(is_reserved));
        assert!(has_tokens(&s.chars().nth(2).unwrap().to_string()));
        assert!(!"héllo 🌍 \u{F8FF}".chars().any(is_reserved));
        assert_eq!(reserved_at("ab\u{F0001}"), Some(2));
        assert_eq!(shown("a\u{F0000}b"), "a\u{FFFD}b");
    }

    #[test]
    fn a_token_taken_apart_is_text_holding_fragments() {
        let s = secret(7);
        let cut: String = s.chars().take(3).collect();
        assert_eq!(pieces(&cut), vec![Piece::Text(&cut)]);
        assert!(is_fragment(&cut));
    }
}
