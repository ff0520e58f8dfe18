//! Finds the exact place of an option key or argument inside a call, so a
//! diagnostic can point at `chart_version:` rather than at `helm_app`.
//! Rhai reports only where a call starts; this walks the tokens the
//! scanner read from the call's source (strings and comments skipped the
//! one way the scanner skips them).

use std::ops::Range;

use crate::scan::{Scan, Scanned, Token};

/// The tokens of the call starting at `offset` (the function name), from
/// its `(` to its `)`, and how deep the `(` is; `None` if it is not a call
/// with parentheses.
fn call_tokens(scan: &Scan, offset: usize) -> Option<(&[Scanned], usize)> {
    let tokens = &scan.tokens;
    let first = tokens.partition_point(|t| t.token.start() < offset);
    let open = first
        + tokens[first..]
            .iter()
            .position(|t| matches!(t.token, Token::Punct('(', _)))?;
    if tokens[first..open]
        .iter()
        .any(|t| matches!(t.token, Token::Punct(';' | '{' | '}', _)))
    {
        return None;
    }
    let depth = tokens[open].depth;
    let close = open
        + tokens[open..]
            .iter()
            .position(|t| t.depth == depth && matches!(t.token, Token::Punct(')', _)))?;
    Some((&tokens[open..=close], depth))
}

/// The bytes of the call starting at `offset` (the function name), up to
/// its closing parenthesis; `None` if it is not a call with parentheses.
pub fn call_extent(scan: &Scan, offset: usize) -> Option<Range<usize>> {
    let (tokens, _) = call_tokens(scan, offset)?;
    let close = tokens.last()?.token.start();
    Some(offset..close + 1)
}

/// Where `key:` (or `"key":`) is written as a key of the call's top-level
/// options map. Returns the key's bytes.
pub fn option_key(text: &str, scan: &Scan, call_offset: usize, key: &str) -> Option<Range<usize>> {
    let (tokens, depth) = call_tokens(scan, call_offset)?;
    // Keys of a map written as an argument: inside `(`, inside `#{`.
    let keys = depth + 2;
    tokens.iter().enumerate().find_map(|(i, t)| {
        if t.depth != keys {
            return None;
        }
        let range = match &t.token {
            Token::Ident(r) if &text[r.clone()] == key => r.clone(),
            Token::Str(r, value) if value == key => r.clone(),
            _ => return None,
        };
        // `key:`, and not the path `key::name`.
        let colon = |j: usize| match tokens.get(j).map(|t| &t.token) {
            Some(Token::Punct(':', at)) => Some(*at),
            _ => None,
        };
        let at = colon(i + 1)?;
        (colon(i + 2) != Some(at + 1)).then_some(range)
    })
}

/// The value written after an option key ending at `key_end`, when it is a
/// plain name or a path of fields (`edge`, `platform.edge`): how the caller
/// named what it passed.
pub fn value_path(text: &str, key_end: usize) -> Option<&str> {
    let rest = text.get(key_end..)?.trim_start();
    let rest = rest.strip_prefix(':')?.trim_start();
    let end = rest
        .find(|c: char| !(is_ident(c) || c == '.'))
        .unwrap_or(rest.len());
    let path = &rest[..end];
    let ends_value =
        rest[end..].trim_start().starts_with([',', '}']) || rest[end..].trim().is_empty();
    let starts_well = path.starts_with(|c: char| c.is_alphabetic() || c == '_');
    (starts_well && ends_value && !path.ends_with('.')).then_some(path)
}

/// Where a string literal with this content is written in the call.
pub fn literal(text: &str, scan: &Scan, call_offset: usize, content: &str) -> Option<Range<usize>> {
    let extent = call_extent(scan, call_offset)?;
    let call = &text[extent.clone()];
    for quote in ['"', '`'] {
        let needle = format!("{quote}{content}{quote}");
        if let Some(i) = call.find(&needle) {
            return Some(extent.start + i..extent.start + i + needle.len());
        }
    }
    None
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::scan;

    const SRC: &str = r#"let x = helm_app(c, "web", #{ repo: "r", values: #{ version: 1 }, // version: 0 )
        /* "version": ) */ version: "1.0", "odd-key": 2, path: a::b });"#;

    fn at(r: Option<Range<usize>>) -> &'static str {
        r.map(|r| &SRC[r]).unwrap_or("")
    }

    #[test]
    fn finds_top_level_keys_only_and_not_in_comments() {
        let scanned = scan(SRC);
        let call = SRC.find("helm_app").unwrap();
        let r = option_key(SRC, &scanned, call, "version").unwrap();
        assert_eq!(&SRC[r.clone()], "version");
        assert!(
            r.start > SRC.find("*/").unwrap(),
            "must skip the nested `version` and the commented ones"
        );
        assert_eq!(
            at(option_key(SRC, &scanned, call, "odd-key")),
            "\"odd-key\""
        );
        assert_eq!(at(option_key(SRC, &scanned, call, "a")), "");
        assert_eq!(at(option_key(SRC, &scanned, call, "missing")), "");
    }

    #[test]
    fn finds_literals_and_the_call_end() {
        let scanned = scan(SRC);
        let call = SRC.find("helm_app").unwrap();
        assert_eq!(at(literal(SRC, &scanned, call, "web")), "\"web\"");
        assert_eq!(
            call_extent(&scanned, call).map(|r| SRC[r].ends_with("})")),
            Some(true)
        );
    }
}
