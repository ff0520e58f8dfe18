//! How the value of an expression input is shown. Outputs and secrets travel
//! inside strings as opaque tokens; they are shown the way plans show them
//! (`(known after apply)`, `(sensitive)`), and handles by kind and id.

use rhai::{Array, Dynamic, ImmutableString, Map};
use stack_stdlib::convert::readable;
use stack_stdlib::handle::Handle;
use stack_stdlib::Session;

use crate::vocabulary::is_identifier;

/// The text to echo for a value, or `None` for `()`.
pub fn echo(value: &Dynamic, session: &Session) -> Option<String> {
    if value.is_unit() {
        return None;
    }
    // A string on its own is shown bare; inside a list or map it is quoted.
    if let Some(s) = value.read_lock::<ImmutableString>() {
        return Some(readable(&s, session));
    }
    Some(show(value, session))
}

fn show(value: &Dynamic, session: &Session) -> String {
    if value.is_unit() {
        return "()".into();
    }
    if let Some(s) = value.read_lock::<ImmutableString>() {
        return format!("{:?}", readable(&s, session));
    }
    if let Some(handle) = value.read_lock::<Handle>() {
        return handle.to_string();
    }
    if let Some(items) = value.read_lock::<Array>() {
        let items: Vec<String> = items.iter().map(|v| show(v, session)).collect();
        return format!("[{}]", items.join(", "));
    }
    if let Some(map) = value.read_lock::<Map>() {
        let entries: Vec<String> = map
            .iter()
            .map(|(k, v)| {
                let key = if is_identifier(k) {
                    k.to_string()
                } else {
                    format!("{:?}", k.as_str())
                };
                format!("{key}: {}", show(v, session))
            })
            .collect();
        return format!("#{{{}}}", entries.join(", "));
    }
    readable(&value.to_string(), session)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use stack_stdlib::Evaluator;

    use super::*;

    fn eval(evaluator: &mut Evaluator, text: &str) -> Option<String> {
        let value = evaluator
            .eval_text("<test>", None, text)
            .expect("the test script evaluates");
        echo(&value, evaluator.session())
    }

    #[test]
    fn shows_values_readably() {
        let mut e = Evaluator::new("t", Path::new("."), BTreeMap::new());
        let cases: &[(&str, Option<&str>)] = &[
            ("let c = cluster(\"dev\", #{ provider: \"kind\" });", None),
            ("c", Some("cluster(cluster/dev)")),
            ("c.name", Some("dev")),
            ("c.endpoint", Some("(known after apply)")),
            (
                "`https://${c.endpoint}/x`",
                Some("https://(known after apply)/x"),
            ),
            ("40 + 2", Some("42")),
            ("true", Some("true")),
            (
                "#{ a: [1, \"two\", c], \"b-c\": c.name }",
                Some("#{a: [1, \"two\", cluster(cluster/dev)], \"b-c\": \"dev\"}"),
            ),
            ("()", None),
        ];
        for (text, expected) in cases {
            assert_eq!(eval(&mut e, text).as_deref(), *expected, "{text}");
        }
    }
}
