//! Data helpers: `secret`, `file`, `yaml`, `json` and `merge`.

use std::path::{Path, PathBuf};

use rhai::{Array, Dynamic, Engine, ImmutableString, Map, NativeCallContext};
use stack_engine::input::{read_text, MAX_DATA_BYTES};
use stack_engine::Secret;

use super::FnDoc;
use crate::convert::from_json;
use crate::fault::{Fault, RhaiResult};
use crate::session::Session;
use crate::token;

pub static SECRET_DOC: FnDoc = FnDoc {
    name: "secret",
    signatures: &["secret(source: string) -> secret string"],
    summary: "A secret value from `\"env:NAME\"` (an environment variable) or `\"file:path\"` (a file: relative paths stay inside the stack's directory, absolute ones name mounted secrets such as `/run/secrets/db`; the trailing newline is removed). It can be interpolated like any string but is never printed, diffed, logged or stored in clear: state keeps a salted hash. It may only be written into Kubernetes `Secret` objects.",
    schema: None,
    kind: None,
    example: r#"let db_password = secret("env:DB_PASSWORD");"#,
};

pub static FILE_DOC: FnDoc = FnDoc {
    name: "file",
    signatures: &["file(path: string) -> string"],
    summary: "Reads a text file relative to the calling script. It never reads outside the stack's directory.",
    schema: None,
    kind: None,
    example: r#"let values = yaml(file("values/grafana.yaml"));"#,
};

pub static YAML_DOC: FnDoc = FnDoc {
    name: "yaml",
    signatures: &["yaml(text: string) -> map or array"],
    summary: "Parses YAML. One document gives its value; several (`---`) give an array of them.",
    schema: None,
    kind: None,
    example: r#"manifest(c, yaml(file("issuer.yaml")));"#,
};

pub static JSON_DOC: FnDoc = FnDoc {
    name: "json",
    signatures: &["json(text: string) -> value"],
    summary: "Parses JSON.",
    schema: None,
    kind: None,
    example: r#"let dashboards = json(file("dashboards.json"));"#,
};

pub static MERGE_DOC: FnDoc = FnDoc {
    name: "merge",
    signatures: &["merge(a: map, b: map, ...) -> map", "merge(maps: array) -> map"],
    summary: "Deep-merges maps left to right: nested maps merge key by key, anything else is replaced by the later value.",
    schema: None,
    kind: None,
    example: r#"let values = merge(defaults, #{ replicas: 3 }, overrides);"#,
};

/// Resolves a path relative to the calling script and checks it stays in
/// the stack's directory, whether or not the file exists.
fn inside_stack(
    ctx: &NativeCallContext,
    session: &Session,
    path: &str,
    what: &str,
) -> RhaiResult<PathBuf> {
    let pos = ctx.call_position();
    let (base, stack_dir) = {
        let state = session.borrow();
        let caller = ctx
            .call_source()
            .and_then(|name| state.declarations.sources.find(name))
            .or(state.main_source)
            .and_then(|id| state.declarations.sources.get(id).path.clone());
        let base = caller
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| state.stack_dir.clone());
        (base, state.stack_dir.clone())
    };
    let base = if base.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        base
    };
    let base = std::path::absolute(&base).unwrap_or(base);
    let base = base.canonicalize().unwrap_or(base);
    let joined = normalize(&base.join(path));
    let escape = || {
        Fault::new(
            "stack::script::file_escape",
            format!("`{path}` is outside the stack's directory"),
        )
        .label("outside the stack")
        .help(format!(
            "{what} reads only files in the stack script's directory and below it: copy the file there"
        ))
        .raise(pos)
    };
    if !joined.starts_with(&stack_dir) {
        return Err(escape());
    }
    let shown = joined
        .strip_prefix(&stack_dir)
        .unwrap_or(&joined)
        .display()
        .to_string();
    let resolved = joined.canonicalize().map_err(|e| {
        let message = if e.kind() == std::io::ErrorKind::NotFound {
            format!("{what} cannot read `{path}`: there is no such file")
        } else {
            format!("{what} cannot read `{path}`: {e}")
        };
        Fault::new("stack::script::file", message)
            .label("read here")
            .help(format!(
                "paths are relative to the calling script: looked for `{shown}` in the stack's directory"
            ))
            .raise(pos)
    })?;
    if !resolved.starts_with(&stack_dir) {
        return Err(escape());
    }
    Ok(resolved)
}

/// Removes `.` and resolves `..` without touching the file system.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn file(ctx: NativeCallContext, session: &Session, path: &str) -> RhaiResult<String> {
    let path = &super::guards::text(&ctx, session, path)?;
    let resolved = inside_stack(&ctx, session, path, "file()")?;
    let text = read_text(&resolved, MAX_DATA_BYTES).map_err(|e| {
        Fault::new("stack::script::file", format!("cannot read `{path}`: {e}"))
            .label("read here")
            .raise(ctx.call_position())
    })?;
    if token::reserved_at(&text).is_some() {
        return Err(Fault::new(
            "stack::script::reserved_character",
            format!("`{path}` holds a character stack reserves for its own use ({})", token::RESERVED),
        )
        .label("read here")
        .help("remove it from the file: stack uses these private-use characters to carry secrets and outputs through strings")
        .raise(ctx.call_position()));
    }
    Ok(text)
}

fn secret(ctx: NativeCallContext, session: &Session, source: &str) -> RhaiResult<String> {
    let source = &super::guards::text(&ctx, session, source)?;
    let pos = ctx.call_position();
    // A lint goes on without a secret it cannot read: the value is unknown
    // (and sensitive), and `check` says which it could not read.
    let unread = |error: Box<rhai::EvalAltResult>| -> RhaiResult<String> {
        let mut state = session.borrow_mut();
        if state.linting {
            state.unread_secrets.insert(source.to_string());
            Ok(String::new())
        } else {
            Err(error)
        }
    };
    let value = match source.split_once(':') {
        Some(("env", name)) => match std::env::var(name) {
            Ok(value) => value,
            Err(_) => unread(
                Fault::new(
                    "stack::script::secret",
                    format!("environment variable `{name}` is not set"),
                )
                .label("read here")
                .help(format!("export {name} before running stack"))
                .raise(pos),
            )?,
        },
        Some(("file", path)) => {
            // An absolute path names a mounted secret (`/run/secrets/...`);
            // a relative one stays inside the stack like file().
            let resolved = if Path::new(path).is_absolute() {
                PathBuf::from(path)
            } else {
                inside_stack(&ctx, session, path, "secret()")?
            };
            match read_text(&resolved, MAX_DATA_BYTES) {
                Ok(text) => text.strip_suffix('\n').unwrap_or(&text).to_string(),
                Err(e) => {
                    let fault = Fault::new(
                        "stack::script::secret",
                        format!("cannot read secret file `{path}`: {e}"),
                    )
                    .label("read here")
                    .raise(pos);
                    // Only a file that is not there is a secret not given
                    // yet; a pipe, a device or a huge file is refused.
                    if e.is_not_found() {
                        unread(fault)?
                    } else {
                        return Err(fault);
                    }
                }
            }
        }
        _ => {
            return Err(Fault::new(
                "stack::script::secret",
                format!("`{source}` is not a secret source"),
            )
            .label("unknown source")
            .help("use \"env:NAME\" for an environment variable or \"file:path\" for a file")
            .raise(pos))
        }
    };
    let index = session.add_secret(Secret::new(source, value));
    Ok(token::secret(index))
}

/// A parse error in `text`, read by `function` at line/column of the text:
/// points into the script when the text is a literal of the call.
fn parse_fault(
    ctx: &NativeCallContext,
    session: &Session,
    code: &'static str,
    message: String,
    text: &str,
    at: Option<(usize, usize)>,
) -> Box<rhai::EvalAltResult> {
    let call = session.call_span(ctx);
    let mut fault = Fault::new(code, message).label("parsed here");
    if let Some((line, column)) = at {
        let source = session.source_text(call.source);
        let scan = session.source_scan(call.source);
        // A backtick string drops a newline that directly follows the opening quote.
        let found = crate::locate::literal(&source, &scan, call.offset, text)
            .map(|r| (r.start + 1, r.end))
            .or_else(|| {
                crate::locate::literal(&source, &scan, call.offset, &format!("\n{text}"))
                    .map(|r| (r.start + 2, r.end))
            });
        match found {
            Some((start, end)) if !text.is_empty() => {
                let inner = stack_engine::source::offset_of(text, line, column);
                let offset = (start + inner).min(end - 1);
                fault = fault
                    .label(format!("line {line}, column {column} of the text"))
                    .at(stack_engine::Span::new(call.source, offset, 1));
            }
            _ => {
                fault = fault.label(format!(
                    "line {line}, column {column} of the text parsed here"
                ));
            }
        }
    }
    fault.raise(ctx.call_position())
}

/// A serde error message without the " at line L column C" of the place
/// the label already shows (other places it names stay).
fn without_location(message: &str, at: Option<(usize, usize)>) -> String {
    match at {
        Some((line, column)) => {
            message.replacen(&format!(" at line {line} column {column}"), "", 1)
        }
        None => message.to_string(),
    }
}

fn yaml(ctx: NativeCallContext, session: &Session, text: &str) -> RhaiResult<Dynamic> {
    use serde::Deserialize;
    let text = &super::guards::text(&ctx, session, text)?;
    let mut docs = Vec::new();
    for document in serde_yaml::Deserializer::from_str(text) {
        let value = serde_json::Value::deserialize(document).map_err(|e| {
            let at = e.location().map(|l| (l.line(), l.column()));
            parse_fault(
                &ctx,
                session,
                "stack::script::yaml",
                format!("invalid YAML: {}", without_location(&e.to_string(), at)),
                text,
                at,
            )
        })?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(match docs.len() {
        0 => Dynamic::UNIT,
        1 => from_json(&docs[0]),
        _ => Dynamic::from_array(docs.iter().map(from_json).collect()),
    })
}

fn json(ctx: NativeCallContext, session: &Session, text: &str) -> RhaiResult<Dynamic> {
    let text = &super::guards::text(&ctx, session, text)?;
    serde_json::from_str::<serde_json::Value>(text)
        .map(|v| from_json(&v))
        .map_err(|e| {
            let at = Some((e.line(), e.column()));
            parse_fault(
                &ctx,
                session,
                "stack::script::json",
                format!("invalid JSON: {}", without_location(&e.to_string(), at)),
                text,
                at,
            )
        })
}

/// Deep-merges script maps, keeping handles and tokens as they are.
pub fn merge_into(base: &mut Dynamic, overlay: &Dynamic) {
    let both_maps = base.is_map() && overlay.is_map();
    if !both_maps {
        *base = overlay.clone();
        return;
    }
    let overlay = overlay
        .read_lock::<Map>()
        .map(|m| m.clone())
        .unwrap_or_default();
    let mut merged = base
        .read_lock::<Map>()
        .map(|m| m.clone())
        .unwrap_or_default();
    for (key, value) in overlay {
        match merged.get_mut(&key) {
            Some(existing) => merge_into(existing, &value),
            None => {
                merged.insert(key, value);
            }
        }
    }
    *base = Dynamic::from_map(merged);
}

fn merge_all(ctx: &NativeCallContext, items: &[Dynamic]) -> RhaiResult<Dynamic> {
    let mut out = Dynamic::from_map(Map::new());
    for (i, item) in items.iter().enumerate() {
        if !item.is_map() {
            return Err(Fault::new(
                "stack::script::argument",
                format!(
                    "merge expects maps; argument {} is {}",
                    i + 1,
                    crate::schema::describe_value(item)
                ),
            )
            .label("here")
            .raise(ctx.call_position()));
        }
        merge_into(&mut out, item);
    }
    Ok(out)
}

pub fn register(engine: &mut Engine, session: &Session) {
    let s = session.clone();
    engine.register_fn(
        "file",
        move |ctx: NativeCallContext, path: ImmutableString| file(ctx, &s, &path),
    );
    let s = session.clone();
    engine.register_fn(
        "secret",
        move |ctx: NativeCallContext, source: ImmutableString| secret(ctx, &s, &source),
    );
    let s = session.clone();
    engine.register_fn(
        "yaml",
        move |ctx: NativeCallContext, text: ImmutableString| yaml(ctx, &s, &text),
    );
    let s = session.clone();
    engine.register_fn(
        "json",
        move |ctx: NativeCallContext, text: ImmutableString| json(ctx, &s, &text),
    );
    engine.register_fn("merge", |ctx: NativeCallContext, items: Array| {
        merge_all(&ctx, &items)
    });
    engine.register_fn("merge", |ctx: NativeCallContext, a: Dynamic, b: Dynamic| {
        merge_all(&ctx, &[a, b])
    });
    engine.register_fn(
        "merge",
        |ctx: NativeCallContext, a: Dynamic, b: Dynamic, c: Dynamic| merge_all(&ctx, &[a, b, c]),
    );
    engine.register_fn(
        "merge",
        |ctx: NativeCallContext, a: Dynamic, b: Dynamic, c: Dynamic, d: Dynamic| {
            merge_all(&ctx, &[a, b, c, d])
        },
    );
    engine.register_fn(
        "merge",
        |ctx: NativeCallContext, a: Dynamic, b: Dynamic, c: Dynamic, d: Dynamic, e: Dynamic| {
            merge_all(&ctx, &[a, b, c, d, e])
        },
    );
}
