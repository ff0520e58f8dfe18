//! A module's interface, declared once in the module with `interface(...)`:
//! the options an entry point takes (name, type, default or required, one
//! line of doc) and what it returns. The same value checks every caller's
//! options (`options(...)`) and generates the module's reference, so the
//! two cannot drift apart.

use std::rc::Rc;

use rhai::{Dynamic, Map};
use stack_engine::suggest;

use crate::schema::{describe_value, Ty};

/// What an option accepts.
#[derive(Debug, Clone)]
pub enum Shape {
    /// A type of the stdlib's vocabulary; `nullable` also accepts `()`.
    Ty { ty: Ty, nullable: bool },
    /// A map checked against an interface of its own (`postgres: #{ ... }`).
    Nested(Rc<Interface>),
}

/// One option of an interface.
#[derive(Debug, Clone)]
pub struct ModuleOption {
    pub name: String,
    pub shape: Shape,
    /// The value used when the caller leaves the option out.
    pub default: Dynamic,
    pub required: bool,
    pub doc: String,
}

/// The options of one entry point of a module, and what it returns.
#[derive(Debug, Clone)]
pub struct Interface {
    /// How messages name the entry point: `std/service`, `std/service postgres`.
    pub module: String,
    pub options: Vec<ModuleOption>,
    /// Each field of the returned map, with its doc, in the order written.
    pub returns: Vec<(String, String)>,
}

/// A caller's mistake, found by [`Interface::apply`].
#[derive(Debug, Clone)]
pub struct Problem {
    /// The caller's key to point at; `None` for the call itself.
    pub key: Option<String>,
    pub message: String,
    pub help: Option<String>,
    /// A field of the value given that has the expected shape: the caller
    /// most likely meant it (`edge` given, `edge.ingress` meant).
    pub field: Option<String>,
}

impl Shape {
    /// Parses a type name: `"string"`, `"oidc handle"`, `"secret or ()"`.
    pub fn parse(text: &str) -> Result<Shape, String> {
        let (name, nullable) = match text.strip_suffix(" or ()") {
            Some(name) => (name, true),
            None => (text, false),
        };
        match Ty::named(name) {
            Some(ty) => Ok(Shape::Ty { ty, nullable }),
            None => {
                let names = Ty::names();
                Err(
                    suggest::did_you_mean(name, names.iter().map(String::as_str)).unwrap_or_else(
                        || {
                            format!(
                                "known types: {} (each may end in ` or ()`)",
                                names.join(", ")
                            )
                        },
                    ),
                )
            }
        }
    }

    /// How the shape reads in messages and docs.
    pub fn describe(&self) -> String {
        match self {
            Shape::Ty {
                ty,
                nullable: false,
            } => ty.describe(),
            Shape::Ty { ty, nullable: true } => format!("{} or `()`", ty.describe()),
            Shape::Nested(inner) => format!("map of {} options", inner.module),
        }
    }

    /// The shape with its article: "a string", "an oidc handle".
    pub fn with_article(&self) -> String {
        match self {
            Shape::Ty {
                ty,
                nullable: false,
            } => ty.with_article(),
            Shape::Ty { ty, nullable: true } => format!("{} or `()`", ty.with_article()),
            Shape::Nested(inner) => format!("a map of {} options", inner.module),
        }
    }

    fn accepts_unit(&self) -> bool {
        matches!(self, Shape::Ty { nullable: true, .. })
    }

    /// Checks a value that is not `()`; `Err` says what is wrong with it.
    pub fn check(&self, value: &Dynamic, known: &[Rc<Interface>]) -> Result<(), String> {
        match self {
            Shape::Ty { ty, .. } => ty.check(value),
            Shape::Nested(inner) => {
                let Some(map) = value.read_lock::<Map>() else {
                    return Err(format!("expects a map, got {}", describe_value(value)));
                };
                inner.apply(&map, known).map(drop).map_err(|p| p.message)
            }
        }
    }
}

impl Interface {
    /// Checks a caller's options and returns them laid over the defaults.
    /// `known` are the interfaces declared so far, to recognise a module's
    /// whole result given where one of its fields is expected.
    pub fn apply(&self, opts: &Map, known: &[Rc<Interface>]) -> Result<Map, Problem> {
        let mut merged = Map::new();
        for option in &self.options {
            merged.insert(option.name.as_str().into(), option.default.clone());
        }
        for (key, value) in opts {
            let Some(option) = self.options.iter().find(|o| o.name == key.as_str()) else {
                return Err(self.unknown(key));
            };
            if value.is_unit() {
                if !option.default.is_unit() && !option.shape.accepts_unit() {
                    return Err(Problem {
                        key: Some(key.to_string()),
                        message: format!(
                            "option `{key}` of {} cannot be `()`: it expects {}",
                            self.module,
                            option.shape.with_article()
                        ),
                        help: Some(format!(
                            "leave `{key}` out for its default, {}",
                            describe_value(&option.default)
                        )),
                        field: None,
                    });
                }
            } else if let (Shape::Nested(inner), Some(given)) =
                (&option.shape, value.read_lock::<Map>())
            {
                // A mistake inside a nested map keeps its own message and hint.
                if let Err(problem) = inner.apply(&given, known) {
                    return Err(Problem {
                        key: Some(key.to_string()),
                        message: format!(
                            "in option `{key}` of {}: {}",
                            self.module, problem.message
                        ),
                        help: problem.help,
                        field: None,
                    });
                }
            } else if let Err(message) = option.shape.check(value, known) {
                return Err(self.wrong(option, key, value, message, known));
            }
            merged.insert(key.clone(), value.clone());
        }
        if let Some(missing) = self
            .options
            .iter()
            .find(|o| o.required && opts.get(o.name.as_str()).is_none_or(Dynamic::is_unit))
        {
            return Err(Problem {
                key: None,
                message: format!("{} needs option `{}`", self.module, missing.name),
                help: Some(format!(
                    "`{}` ({}): {}",
                    missing.name,
                    missing.shape.describe(),
                    missing.doc
                )),
                field: None,
            });
        }
        Ok(merged)
    }

    fn unknown(&self, key: &str) -> Problem {
        let mut names: Vec<&str> = self.options.iter().map(|o| o.name.as_str()).collect();
        let help = suggest::did_you_mean(key, names.iter().copied());
        names.sort_unstable();
        Problem {
            key: Some(key.to_string()),
            message: format!("unknown option `{key}` for {}", self.module),
            help: help.or_else(|| Some(format!("known options: {}", names.join(", ")))),
            field: None,
        }
    }

    fn wrong(
        &self,
        option: &ModuleOption,
        key: &str,
        value: &Dynamic,
        message: String,
        known: &[Rc<Interface>],
    ) -> Problem {
        let message = format!("option `{key}` of {} {message}", self.module);
        let Some(map) = value.read_lock::<Map>() else {
            return Problem {
                key: Some(key.to_string()),
                message,
                help: Some(format!("`{key}`: {}", option.doc)),
                field: None,
            };
        };
        // A module's whole result where one of its fields was meant.
        let result_of = known
            .iter()
            .find(|i| i.returns_exactly(&map))
            .map(|i| format!("got the result of {}", i.module));
        let field = map
            .iter()
            .find(|(_, v)| !v.is_unit() && option.shape.check(v, known).is_ok())
            .map(|(k, _)| k.to_string());
        // With a field, the diagnostic ends the help with "did you mean
        // `edge.ingress`?", written where the caller's text is known.
        let help = match (result_of, &field) {
            (result_of, Some(_)) => result_of,
            (Some(result_of), None) => Some(format!(
                "{result_of}; none of its fields is {}",
                option.shape.with_article()
            )),
            (None, None) => Some(format!("`{key}`: {}", option.doc)),
        };
        Problem {
            key: Some(key.to_string()),
            message,
            help,
            field,
        }
    }

    /// Whether a map has exactly the fields this interface returns.
    fn returns_exactly(&self, map: &Map) -> bool {
        !self.returns.is_empty()
            && map.len() == self.returns.len()
            && self
                .returns
                .iter()
                .all(|(name, _)| map.contains_key(name.as_str()))
    }
}

impl std::fmt::Display for Interface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.options.iter().map(|o| o.name.as_str()).collect();
        write!(f, "interface of {} ({})", self.module, names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interface() -> Interface {
        Interface {
            module: "std/demo".into(),
            options: vec![
                ModuleOption {
                    name: "name".into(),
                    shape: Shape::parse("string").unwrap(),
                    default: Dynamic::UNIT,
                    required: true,
                    doc: "its name".into(),
                },
                ModuleOption {
                    name: "replicas".into(),
                    shape: Shape::parse("integer").unwrap(),
                    default: Dynamic::from(1_i64),
                    required: false,
                    doc: "replicas".into(),
                },
                ModuleOption {
                    name: "ingress".into(),
                    shape: Shape::parse("ingress").unwrap(),
                    default: Dynamic::UNIT,
                    required: false,
                    doc: "the ingress interface".into(),
                },
            ],
            returns: vec![("app".into(), "the app".into())],
        }
    }

    fn map(pairs: &[(&str, Dynamic)]) -> Map {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), v.clone()))
            .collect()
    }

    #[test]
    fn defaults_fill_what_the_caller_leaves_out() {
        let merged = interface()
            .apply(&map(&[("name", "web".into())]), &[])
            .unwrap();
        assert_eq!(merged["replicas"].as_int().unwrap(), 1);
        assert!(merged["ingress"].is_unit());
    }

    #[test]
    fn unknown_and_missing_options_are_named() {
        let p = interface()
            .apply(
                &map(&[("name", "web".into()), ("replica", 2_i64.into())]),
                &[],
            )
            .unwrap_err();
        assert_eq!(p.key.as_deref(), Some("replica"));
        assert!(p.help.unwrap().contains("replicas"));
        let p = interface().apply(&Map::new(), &[]).unwrap_err();
        assert_eq!(p.key, None);
        assert!(p.message.contains("`name`"));
    }

    #[test]
    fn unit_is_refused_where_the_default_is_not_unit() {
        let p = interface()
            .apply(
                &map(&[("name", "web".into()), ("replicas", Dynamic::UNIT)]),
                &[],
            )
            .unwrap_err();
        assert_eq!(p.key.as_deref(), Some("replicas"));
    }

    #[test]
    fn a_whole_module_result_points_at_the_field_meant() {
        let ingress = map(&[
            ("class", "traefik".into()),
            ("cluster_issuer", "letsencrypt".into()),
        ]);
        let traefik = Rc::new(Interface {
            module: "std/traefik".into(),
            options: vec![],
            returns: vec![
                ("app".into(), String::new()),
                ("ingress".into(), String::new()),
            ],
        });
        let result = map(&[("app", "x".into()), ("ingress", Dynamic::from_map(ingress))]);
        let p = interface()
            .apply(
                &map(&[
                    ("name", "web".into()),
                    ("ingress", Dynamic::from_map(result)),
                ]),
                &[traefik],
            )
            .unwrap_err();
        assert_eq!(p.field.as_deref(), Some("ingress"));
        assert_eq!(p.help.as_deref(), Some("got the result of std/traefik"));
    }

    #[test]
    fn type_names_parse_with_a_hint_for_a_typo() {
        assert!(matches!(
            Shape::parse("oidc handle"),
            Ok(Shape::Ty {
                nullable: false,
                ..
            })
        ));
        assert!(matches!(
            Shape::parse("list of strings or ()"),
            Ok(Shape::Ty { nullable: true, .. })
        ));
        assert!(Shape::parse("strng").unwrap_err().contains("string"));
    }
}
