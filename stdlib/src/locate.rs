//! Finds the exact place of an option key or argument inside a call, so a
//! diagnostic can point at `chart_version:` rather than at `helm_app`.
//! Rhai reports only where a call starts; this reads the call's text.

use std::ops::Range;

/// The bytes of the call starting at `offset` (the function name), up to
/// its closing parenthesis; `None` if it is not a call with parentheses.
pub fn call_extent(text: &str, offset: usize) -> Option<Range<usize>> {
    let rest = text.get(offset..)?;
    let open = rest.find('(')?;
    if rest[..open].contains([';', '{', '}']) {
        return None;
    }
    let mut depth = 0usize;
    let mut in_string: Option<char> = None;
    let mut escaped = false;
    for (i, c) in rest[open..].char_indices() {
        if let Some(q) = in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                c if c == q => in_string = None,
                _ => {}
            }
            continue;
        }
        match c {
            '"' | '`' | '\'' => in_string = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(offset..offset + open + i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Where `key:` (or `"key":`) is written as a key of the call's top-level
/// options map. Returns the key's bytes.
pub fn option_key(text: &str, call_offset: usize, key: &str) -> Option<Range<usize>> {
    let extent = call_extent(text, call_offset)?;
    let call = &text[extent.clone()];
    let mut depth = 0usize;
    let mut in_string: Option<char> = None;
    let mut escaped = false;
    let bytes = call.as_bytes();
    for (i, c) in call.char_indices() {
        if let Some(q) = in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                c if c == q => in_string = None,
                _ => {}
            }
            // A quoted key at map depth 2 (inside the call, inside `#{`).
            if in_string.is_none() && depth == 2 && c == '"' {
                let start = call[..i].rfind('"').unwrap_or(i);
                if &call[start + 1..i] == key && followed_by_colon(&call[i + 1..]) {
                    return Some(extent.start + start..extent.start + i + 1);
                }
            }
            continue;
        }
        match c {
            '"' | '`' | '\'' => in_string = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ if depth == 2 && call[i..].starts_with(key) => {
                let before_ok = i == 0 || !is_ident(bytes[i - 1] as char);
                let after = &call[i + key.len()..];
                let after_ok = !after.chars().next().is_some_and(is_ident);
                if before_ok && after_ok && followed_by_colon(after) {
                    return Some(extent.start + i..extent.start + i + key.len());
                }
            }
            _ => {}
        }
    }
    None
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
pub fn literal(text: &str, call_offset: usize, content: &str) -> Option<Range<usize>> {
    let extent = call_extent(text, call_offset)?;
    let call = &text[extent.clone()];
    for quote in ['"', '`'] {
        let needle = format!("{quote}{content}{quote}");
        if let Some(i) = call.find(&needle) {
            return Some(extent.start + i..extent.start + i + needle.len());
        }
    }
    None
}

fn followed_by_colon(s: &str) -> bool {
    let t = s.trim_start();
    t.starts_with(':') && !t.starts_with("::")
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#"let x = helm_app(c, "web", #{ repo: "r", values: #{ version: 1 }, version: "1.0", "odd-key": 2 });"#;

    fn at(r: Option<Range<usize>>) -> &'static str {
        r.map(|r| &SRC[r]).unwrap_or("")
    }

    #[test]
    fn finds_top_level_keys_only() {
        let call = SRC.find("helm_app").unwrap();
        let r = option_key(SRC, call, "version").unwrap();
        assert_eq!(&SRC[r.clone()], "version");
        assert!(
            r.start > SRC.find("1 }").unwrap(),
            "must skip the nested `version`"
        );
        assert_eq!(at(option_key(SRC, call, "odd-key")), "\"odd-key\"");
        assert_eq!(at(option_key(SRC, call, "missing")), "");
    }

    #[test]
    fn finds_literals() {
        let call = SRC.find("helm_app").unwrap();
        assert_eq!(at(literal(SRC, call, "web")), "\"web\"");
        assert_eq!(
            call_extent(SRC, call).map(|r| SRC[r].ends_with("})")),
            Some(true)
        );
    }
}
