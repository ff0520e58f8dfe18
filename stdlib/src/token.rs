//! Placeholder tokens that let unknown outputs and secrets travel through
//! ordinary Rhai strings (interpolation, concatenation, maps) and be found
//! again when a value reaches a declaration.
//!
//! A token is `OPEN` + `o:<resource>#<output>` (an output), `p:…` (a
//! sensitive output) or `s:<n>` (the n-th secret of the session) + `CLOSE`.
//! The delimiters are private-use characters no script types by accident.

use stack_engine::resource::ResourceId;
use stack_engine::OutputRef;

pub const OPEN: char = '\u{F0000}';
pub const CLOSE: char = '\u{F0001}';

/// A piece of a string: literal text or a token.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece<'a> {
    Text(&'a str),
    Output(OutputRef),
    Secret(usize),
}

pub fn output(reference: &OutputRef) -> String {
    let tag = if reference.secret { 'p' } else { 'o' };
    format!(
        "{OPEN}{tag}:{}#{}{CLOSE}",
        reference.resource, reference.output
    )
}

pub fn secret(index: usize) -> String {
    format!("{OPEN}s:{index}{CLOSE}")
}

/// The byte offset of the first token delimiter in text that comes from
/// outside (a script, a file, a `--set` value): such text could forge a
/// secret or an output, so it is refused.
pub fn reserved_at(text: &str) -> Option<usize> {
    text.find([OPEN, CLOSE])
}

/// Whether a string carries any token.
pub fn has_tokens(s: &str) -> bool {
    s.contains(OPEN)
}

/// Splits a string into literal text and tokens.
pub fn pieces(s: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find(OPEN) {
        if start > 0 {
            out.push(Piece::Text(&rest[..start]));
        }
        let after = &rest[start + OPEN.len_utf8()..];
        let Some(end) = after.find(CLOSE) else {
            out.push(Piece::Text(&rest[start..]));
            return out;
        };
        out.push(parse(&after[..end]).unwrap_or(Piece::Text(
            &rest[start..start + OPEN.len_utf8() + end + CLOSE.len_utf8()],
        )));
        rest = &after[end + CLOSE.len_utf8()..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
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
}
