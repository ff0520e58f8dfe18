//! Option schemas: which keys a declaration takes, of which type, with which
//! default. Unknown keys get a "did you mean"; wrong types name both types.
//! The same tables generate the stdlib reference in `docs/`.

use rhai::{Dynamic, Map};
use stack_engine::suggest;
use stack_engine::Kind;

use crate::handle::Handle;
use crate::token::Piece;
use stack_engine::OutputRef;

/// The type an option accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ty {
    Str,
    Int,
    Bool,
    /// A duration such as `"90s"`, `"10m"`, `"1h30m"`.
    Duration,
    Map,
    /// A map of strings to strings: tags.
    StrMap,
    /// Kubernetes labels: keys and values as the API server accepts them.
    Labels,
    /// Kubernetes annotations: keys as the API server accepts them.
    Annotations,
    /// A list of any values.
    List,
    /// A list of strings.
    StrList,
    /// A list of maps.
    MapList,
    /// Helm values: a map, or a list of maps deep-merged in order.
    Values,
    /// One of a fixed set of strings.
    OneOf(&'static [&'static str]),
    /// A handle of this kind.
    Handle(Kind),
    /// Handles or resource ids (`depends_on`).
    Dependencies,
    /// A `secret(...)` value or a sensitive output.
    Secret,
    /// A namespace handle, or a namespace's name.
    NamespaceRef,
    /// The ingress interface modules share: `#{ class, cluster_issuer }`.
    Ingress,
    /// Any value.
    Any,
}

impl Ty {
    /// How the type reads in messages and docs.
    pub fn describe(self) -> String {
        match self {
            Ty::Str => "string".into(),
            Ty::Int => "integer".into(),
            Ty::Bool => "bool".into(),
            Ty::Duration => "duration (\"90s\", \"10m\", \"1h\")".into(),
            Ty::Map => "map".into(),
            Ty::StrMap => "map of strings".into(),
            Ty::Labels => "map of Kubernetes labels".into(),
            Ty::Annotations => "map of Kubernetes annotations".into(),
            Ty::List => "list".into(),
            Ty::StrList => "list of strings".into(),
            Ty::MapList => "list of maps".into(),
            Ty::Values => "map, or list of maps".into(),
            Ty::OneOf(choices) => {
                let quoted: Vec<String> = choices.iter().map(|c| format!("\"{c}\"")).collect();
                format!("one of {}", quoted.join(", "))
            }
            Ty::Handle(kind) => format!("{kind} handle"),
            Ty::Dependencies => "list of handles, ids or module results".into(),
            Ty::Secret => "secret (`secret(...)` or a sensitive output)".into(),
            Ty::NamespaceRef => "namespace handle or name".into(),
            Ty::Ingress => "ingress interface `#{ class, cluster_issuer }`".into(),
            Ty::Any => "any value".into(),
        }
    }

    /// Checks a value; `Err` says what is wrong with it.
    pub fn check(self, value: &Dynamic) -> Result<(), String> {
        let ok = match self {
            Ty::Str => value.is_string(),
            Ty::Int => value.is_int(),
            Ty::Bool => value.is_bool(),
            Ty::Duration => {
                return match value.clone().into_immutable_string() {
                    Ok(s) if is_duration(&s) => Ok(()),
                    _ => Err(mismatch(self, value)),
                };
            }
            Ty::Map => value.is_map(),
            Ty::StrMap | Ty::Labels | Ty::Annotations => {
                let Some(map) = value.read_lock::<rhai::Map>() else {
                    return Err(mismatch(self, value));
                };
                if let Some((key, bad)) = map.iter().find(|(_, v)| !v.is_string()) {
                    return Err(format!(
                        "expects string values, but `{key}` is {}",
                        describe_value(bad)
                    ));
                }
                if matches!(self, Ty::Labels | Ty::Annotations) {
                    for (key, value) in map.iter() {
                        crate::labels::check_key(key)?;
                        if self == Ty::Labels {
                            let value = value.clone().into_immutable_string().unwrap_or_default();
                            crate::labels::check_value(key, &value)?;
                        }
                    }
                }
                true
            }
            Ty::List => value.is_array(),
            Ty::StrList => list_of(value, Dynamic::is_string),
            Ty::MapList => list_of(value, Dynamic::is_map),
            Ty::Values => value.is_map() || list_of(value, Dynamic::is_map),
            Ty::OneOf(choices) => {
                return match value.clone().into_immutable_string() {
                    Ok(s) if choices.contains(&s.as_str()) => Ok(()),
                    _ => Err(mismatch(self, value)),
                };
            }
            Ty::Handle(kind) => {
                return match value.clone().try_cast::<Handle>() {
                    Some(h) if h.kind == kind => Ok(()),
                    Some(h) => Err(format!(
                        "expects a {kind} handle, got a {} handle (`{}`)",
                        h.kind, h.id
                    )),
                    None => Err(mismatch(self, value)),
                };
            }
            Ty::Dependencies => {
                let Some(items) = value.read_lock::<rhai::Array>() else {
                    return Err(mismatch(self, value));
                };
                for item in items.iter() {
                    let mut ids = Vec::new();
                    crate::declare::dependency_ids(item, &mut ids);
                    if ids.is_empty() {
                        return Err(format!(
                            "expects handles, ids or module results, but {} holds no handle",
                            describe_value(item)
                        ));
                    }
                }
                true
            }
            Ty::Secret => value
                .read_lock::<rhai::ImmutableString>()
                .is_some_and(|s| is_secret(&s)),
            Ty::NamespaceRef => {
                return match value.read_lock::<Handle>() {
                    Some(h) if h.kind == Kind::Namespace => Ok(()),
                    Some(h) => Err(format!(
                        "expects a namespace handle or name, got a {} handle (`{}`)",
                        h.kind, h.id
                    )),
                    None if value.is_string() => Ok(()),
                    None => Err(mismatch(self, value)),
                };
            }
            Ty::Ingress => {
                return check_ingress(value).map_err(|m| m.unwrap_or_else(|| mismatch(self, value)))
            }
            Ty::Any => true,
        };
        if ok {
            Ok(())
        } else {
            Err(mismatch(self, value))
        }
    }

    /// A "did you mean" for a value that failed [`Ty::check`], if one is close.
    pub fn hint(self, value: &Dynamic) -> Option<String> {
        let Ty::OneOf(choices) = self else {
            return None;
        };
        let s = value.clone().into_immutable_string().ok()?;
        suggest::did_you_mean(&s, choices.iter().copied())
    }

    /// The type a module interface names (`"string"`, `"list of strings"`,
    /// `"cluster handle"`, ...); `None` for a name it does not know.
    pub fn named(name: &str) -> Option<Ty> {
        if let Some(kind) = name.strip_suffix(" handle") {
            return Kind::ALL
                .into_iter()
                .find(|k| k.as_str() == kind)
                .map(Ty::Handle);
        }
        NAMED.iter().find(|(n, _)| *n == name).map(|(_, ty)| *ty)
    }

    /// Every name [`Ty::named`] knows, for a "did you mean".
    pub fn names() -> Vec<String> {
        let mut names: Vec<String> = NAMED.iter().map(|(n, _)| n.to_string()).collect();
        names.extend(Kind::ALL.iter().map(|k| format!("{k} handle")));
        names
    }

    /// The type with its article: "a string", "an integer", "one of ...".
    pub fn with_article(self) -> String {
        let words = self.describe();
        match self {
            Ty::OneOf(_) | Ty::Any => words,
            _ if words.starts_with(['a', 'e', 'i', 'o', 'u']) => format!("an {words}"),
            _ => format!("a {words}"),
        }
    }
}

/// Whether a string is one secret and nothing else.
fn is_secret(s: &str) -> bool {
    matches!(
        crate::token::pieces(s).as_slice(),
        [Piece::Secret(_)] | [Piece::Output(OutputRef { secret: true, .. })]
    )
}

/// `#{ class, cluster_issuer }` (`cluster_issuer` may be left out or `()`:
/// no TLS); `Err(None)` when it is not even a map.
fn check_ingress(value: &Dynamic) -> Result<(), Option<String>> {
    let map = value.read_lock::<rhai::Map>().ok_or(None)?;
    let expected = "the ingress interface `#{ class, cluster_issuer }`";
    let Some(class) = map.get("class") else {
        return Err(Some(format!(
            "expects {expected}, got a map without `class`"
        )));
    };
    if !class.is_string() {
        return Err(Some(format!(
            "expects {expected}, but its `class` is {}",
            describe_value(class)
        )));
    }
    match map.get("cluster_issuer") {
        Some(issuer) if !issuer.is_unit() && !issuer.is_string() => {
            return Err(Some(format!(
                "expects {expected}, but its `cluster_issuer` is {}",
                describe_value(issuer)
            )))
        }
        _ => {}
    }
    if let Some(extra) = map
        .keys()
        .find(|k| !matches!(k.as_str(), "class" | "cluster_issuer"))
    {
        return Err(Some(format!(
            "expects {expected}, got a map with `{extra}`"
        )));
    }
    Ok(())
}

fn list_of(value: &Dynamic, item: impl Fn(&Dynamic) -> bool) -> bool {
    value
        .read_lock::<rhai::Array>()
        .is_some_and(|items| items.iter().all(item))
}

/// Type names of module interfaces.
const NAMED: &[(&str, Ty)] = &[
    ("string", Ty::Str),
    ("integer", Ty::Int),
    ("bool", Ty::Bool),
    ("duration", Ty::Duration),
    ("map", Ty::Map),
    ("map of strings", Ty::StrMap),
    ("labels", Ty::Labels),
    ("annotations", Ty::Annotations),
    ("list", Ty::List),
    ("list of strings", Ty::StrList),
    ("list of maps", Ty::MapList),
    ("values", Ty::Values),
    ("handles", Ty::Dependencies),
    ("secret", Ty::Secret),
    ("namespace", Ty::NamespaceRef),
    ("ingress", Ty::Ingress),
    ("any", Ty::Any),
];

fn mismatch(ty: Ty, value: &Dynamic) -> String {
    // For a list, name the first item of the wrong kind.
    if let (Some(items), Ty::StrList | Ty::MapList | Ty::Values) =
        (value.read_lock::<rhai::Array>(), ty)
    {
        let wanted: fn(&Dynamic) -> bool = if ty == Ty::StrList {
            Dynamic::is_string
        } else {
            Dynamic::is_map
        };
        if let Some((i, bad)) = items.iter().enumerate().find(|(_, v)| !wanted(v)) {
            return format!(
                "expects {}, but item {i} is {}",
                ty.describe(),
                describe_value(bad)
            );
        }
    }
    format!(
        "expects {}, got {}",
        ty.with_article(),
        describe_value(value)
    )
}

/// A value's type in words, with a short preview.
pub fn describe_value(value: &Dynamic) -> String {
    if let Some(h) = value.read_lock::<Handle>() {
        return format!("a {} handle (`{}`)", h.kind, h.id);
    }
    match value.type_name() {
        "i64" => format!("an integer ({value})"),
        "f64" => format!("a float ({value})"),
        "bool" => format!("a bool ({value})"),
        "string" => {
            let s = value.to_string();
            if crate::token::has_tokens(&s) {
                "a string".to_string()
            } else {
                format!("a string ({s:?})")
            }
        }
        "()" => "nothing (`()`)".to_string(),
        "array" => "a list".to_string(),
        "map" => "a map".to_string(),
        other => format!("a `{other}`"),
    }
}

/// Whether `s` is a duration like `90s`, `10m`, `1h30m`.
pub fn is_duration(s: &str) -> bool {
    stack_engine::duration::parse(s).is_some()
}

/// One option of a declaration.
#[derive(Debug, Clone, Copy)]
pub struct Opt {
    pub name: &'static str,
    pub ty: Ty,
    pub doc: &'static str,
    pub required: bool,
    /// The default as a JSON literal, filled into the inputs when absent.
    pub default: Option<&'static str>,
}

pub const fn opt(name: &'static str, ty: Ty, doc: &'static str) -> Opt {
    Opt {
        name,
        ty,
        doc,
        required: false,
        default: None,
    }
}

pub const fn required(name: &'static str, ty: Ty, doc: &'static str) -> Opt {
    Opt {
        name,
        ty,
        doc,
        required: true,
        default: None,
    }
}

pub const fn defaulted(
    name: &'static str,
    ty: Ty,
    default: &'static str,
    doc: &'static str,
) -> Opt {
    Opt {
        name,
        ty,
        doc,
        required: false,
        default: Some(default),
    }
}

/// What a resource needs besides what its values refer to.
pub const DEPENDS_ON: Opt = opt("depends_on", Ty::Dependencies, "explicit dependencies");

/// Guards a resource against deletion, as every resource may be guarded.
pub const PROTECT: Opt = opt(
    "protect",
    Ty::Bool,
    "refuse any plan that deletes or replaces it, and `destroy`, until the option is removed",
);

/// Lets a resource take over Kubernetes objects that exist already and no
/// stack owns (made with kubectl or helm).
pub const ADOPT: Opt = opt(
    "adopt",
    Ty::Bool,
    "take over its objects when they exist already and no stack owns them",
);

/// Per-variant options: each value of the discriminating key with its options.
pub type Variants = &'static [(&'static str, &'static [Opt])];

/// The options of a declaration: common ones, and per-variant ones chosen by
/// a discriminating key (`provider`).
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    pub function: &'static str,
    pub common: &'static [Opt],
    /// The key that picks a variant, and each variant's own options.
    pub variants: Option<(&'static str, Variants)>,
}

/// A problem with one option, to be located at its key.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionProblem {
    /// The key to point at (the options map itself when empty).
    pub key: String,
    pub message: String,
    pub help: Option<String>,
}

impl Schema {
    /// The options that apply to a map, given its discriminating key.
    /// The default of option `name` (of `variant`) as text, when it has one.
    pub fn default_text(&self, variant: Option<&str>, name: &str) -> Option<String> {
        let default = self
            .options_for(variant)
            .find(|o| o.name == name)?
            .default?;
        match serde_json::from_str(default).ok()? {
            serde_json::Value::String(text) => Some(text),
            other => Some(other.to_string()),
        }
    }

    pub fn options_for(&self, variant: Option<&str>) -> impl Iterator<Item = &'static Opt> + Clone {
        let own: &'static [Opt] = match (self.variants, variant) {
            (Some((_, variants)), Some(variant)) => variants
                .iter()
                .find(|(v, _)| *v == variant)
                .map_or(&[], |(_, opts)| opts),
            _ => &[],
        };
        self.common.iter().chain(own)
    }

    /// Validates an options map; returns every problem found.
    pub fn validate(&self, opts: &Map) -> Vec<OptionProblem> {
        let mut problems = Vec::new();
        let variant = self.variants.and_then(|(key, _)| {
            opts.get(key)
                .and_then(|v| v.clone().into_immutable_string().ok())
                .map(|s| s.to_string())
        });
        let options = self.options_for(variant.as_deref());
        for (key, value) in opts {
            let key = key.as_str();
            match options.clone().find(|o| o.name == key) {
                Some(o) => {
                    if let Err(message) = o.ty.check(value) {
                        problems.push(OptionProblem {
                            key: key.to_string(),
                            message: format!("option `{key}` of {} {message}", self.function),
                            help: o
                                .ty
                                .hint(value)
                                .or_else(|| Some(format!("`{key}`: {}", o.doc))),
                        });
                    }
                }
                None => {
                    let known: Vec<Opt> = options.clone().cloned().collect();
                    problems.push(self.unknown(key, variant.as_deref(), &known));
                }
            }
        }
        for o in options.filter(|o| o.required) {
            if !opts.contains_key(o.name) {
                let which = match (&variant, self.variants) {
                    (Some(v), Some((k, _))) => format!(" with {k} `{v}`"),
                    _ => String::new(),
                };
                problems.push(OptionProblem {
                    key: String::new(),
                    message: format!("{}{which} needs option `{}`", self.function, o.name),
                    help: Some(format!("`{}` ({}): {}", o.name, o.ty.describe(), o.doc)),
                });
            }
        }
        problems
    }

    fn unknown(&self, key: &str, variant: Option<&str>, options: &[Opt]) -> OptionProblem {
        // `chart_version` most likely means `version`: the last word names the thing.
        let last_word = key
            .rsplit_once('_')
            .map(|(_, last)| last)
            .filter(|last| options.iter().any(|o| o.name == *last));
        let mut help = match last_word {
            Some(last) => Some(format!("did you mean `{last}`?")),
            None => suggest::did_you_mean(key, options.iter().map(|o| o.name)),
        };
        if let Some((discriminant, variants)) = self.variants {
            let owners: Vec<&str> = variants
                .iter()
                .filter(|(v, opts)| Some(*v) != variant && opts.iter().any(|o| o.name == key))
                .map(|(v, _)| *v)
                .collect();
            if !owners.is_empty() {
                help = Some(format!(
                    "`{key}` is an option of {discriminant} {}",
                    owners
                        .iter()
                        .map(|o| format!("`{o}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        let mut names: Vec<&str> = options.iter().map(|o| o.name).collect();
        names.sort_unstable();
        OptionProblem {
            key: key.to_string(),
            message: format!("unknown option `{key}` for {}", self.function),
            help: help.or_else(|| Some(format!("known options: {}", names.join(", ")))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for ok in ["10m", "90s", "1h30m", "2h", "1.5h"] {
            assert!(is_duration(ok), "{ok}");
        }
        for bad in ["", "10", "m", "10x", "h10"] {
            assert!(!is_duration(bad), "{bad}");
        }
    }
}
