//! Label and annotation keys and label values as the Kubernetes API server
//! accepts them, checked when the script runs rather than at apply.

use crate::token;

/// `[prefix/]name`: a DNS subdomain prefix of at most 253 characters, and
/// a name of 1 to 63 letters, digits, `-`, `_` and `.`, starting and ending
/// with a letter or digit.
pub fn check_key(key: &str) -> Result<(), String> {
    if token::has_tokens(key) {
        return Ok(()); // refused by name where the map is converted
    }
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        let subdomain = !prefix.is_empty()
            && prefix.len() <= 253
            && prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && prefix.starts_with(|c: char| c.is_ascii_alphanumeric())
            && prefix.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !subdomain {
            return Err(format!(
                "has the key `{key}`, which Kubernetes refuses: its prefix `{prefix}` must be a DNS subdomain (lowercase letters, digits, `-` and `.`)"
            ));
        }
    }
    if name.is_empty() || !is_name(name) {
        return Err(format!(
            "has the key `{key}`, which Kubernetes refuses: the part after any `prefix/` is 1 to 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// A label value: empty, or like the name part of a key.
pub fn check_value(key: &str, value: &str) -> Result<(), String> {
    if value.is_empty() || token::has_tokens(value) || is_name(value) {
        return Ok(());
    }
    Err(format!(
        "gives `{key}` the value `{value}`, which Kubernetes refuses: a label value is at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit"
    ))
}

fn is_name(s: &str) -> bool {
    s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_follow_the_api_server() {
        for ok in [
            "team",
            "app.kubernetes.io/name",
            "stack.dev/stack",
            "a_b.c-d",
            "x/y",
        ] {
            assert!(check_key(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a b",
            "-a",
            "a-",
            "Upper.Case/x",
            "/x",
            "x/",
            &"a".repeat(64),
        ] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
        for ok in ["", "web", "v1.2.3", "A_b"] {
            assert!(check_value("k", ok).is_ok(), "{ok}");
        }
        for bad in ["a b", "https://x", "-a", &"a".repeat(64)] {
            assert!(check_value("k", bad).is_err(), "{bad}");
        }
    }
}
