//! `interface`, `option`, `required` and `options`: how a module declares
//! what its entry points take and return, once, and checks every caller
//! against it. Mistakes point at the caller's option, with a hint.

use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, ImmutableString, Map, NativeCallContext};

use super::FnDoc;
use crate::fault::{CallerPlace, Fault, RhaiResult};
use crate::interface::{Interface, ModuleOption, Shape};
use crate::schema::describe_value;
use crate::session::Session;

pub static INTERFACE_DOC: FnDoc = FnDoc {
    name: "interface",
    signatures: &[
        "interface(module: string, options: list) -> interface",
        "interface(module: string, options: list, returns: map) -> interface",
    ],
    summary: "For module authors: declares what an entry point takes, as a list of `option(...)` and `required(...)`, and what it returns (each field with one line of doc). Export it as a constant (`export const INSTALL = interface(...)`): `options(global::INSTALL, opts)` checks callers with it, and `stack reference` shows it. `module` names the entry point in messages.",
    schema: None,
    kind: None,
    example: r#"export const INSTALL = interface("std/traefik", [
    option("replicas", "integer", 1, "pod replicas"),
    option("ingress", "ingress or ()", (), "serves its dashboard with it"),
], #{ app: "the helm_app", ingress: "the ingress interface for services" });"#,
};

pub static OPTION_DOC: FnDoc = FnDoc {
    name: "option",
    signatures: &[
        "option(name: string, type: string, default, doc: string) -> option",
        "option(name: string, options: interface, default, doc: string) -> option",
    ],
    summary: "One option of an `interface`: its type, its default and one line of doc. Types: `string`, `integer`, `bool`, `duration`, `map`, `map of strings`, `labels`, `annotations`, `list`, `list of strings`, `list of maps`, `values`, `handles` (handles or module results, as `depends_on`), `secret`, `namespace` (a namespace handle or name), `ingress` (`#{ class, cluster_issuer }`), `<kind> handle` (`cluster handle`, `oidc handle`, ...), `any`; ending in ` or ()` also accepts `()`, as does any option whose default is `()`. An interface in place of the type checks a nested map against it.",
    schema: None,
    kind: None,
    example: r#"option("health", "string or ()", "/healthz", "readiness probe path; () for none")"#,
};

pub static REQUIRED_DOC: FnDoc = FnDoc {
    name: "required",
    signatures: &[
        "required(name: string, type: string, doc: string) -> option",
        "required(name: string, options: interface, doc: string) -> option",
    ],
    summary: "An option of an `interface` that every caller must give (types as for `option`).",
    schema: None,
    kind: None,
    example: r#"required("image", "string", "container image, with a tag")"#,
};

pub static OPTIONS_DOC: FnDoc = FnDoc {
    name: "options",
    signatures: &["options(interface, opts: map) -> map"],
    summary: "For module authors: checks the caller's `opts` against an `interface` and returns them laid over its defaults. An unknown key names the closest known one; a value of the wrong shape names both, and a module's whole result given where one of its fields fits says which field was meant; a required option left out is named. Errors point at the caller's option.",
    schema: None,
    kind: None,
    example: r#"fn install(cluster, opts) {
    let o = options(global::INSTALL, opts);
    // ...
}"#,
};

fn interface_fault(message: String) -> Fault {
    Fault::new("stack::module::interface", message).label("in this interface")
}

fn shape_of(ctx: &NativeCallContext, type_name: &str) -> RhaiResult<Shape> {
    Shape::parse(type_name).map_err(|help| {
        interface_fault(format!("unknown option type `{type_name}`"))
            .help(help)
            .raise(ctx.call_position())
    })
}

fn declare_option(
    ctx: &NativeCallContext,
    name: &str,
    shape: Shape,
    default: Dynamic,
    required: bool,
    doc: &str,
) -> RhaiResult<ModuleOption> {
    if !default.is_unit() {
        shape.check(&default, &[]).map_err(|why| {
            interface_fault(format!(
                "the default of option `{name}` does not fit its type: it {why}"
            ))
            .help(format!(
                "`{name}` is declared as {}; give a default of that type, or `()`",
                shape.describe()
            ))
            .raise(ctx.call_position())
        })?;
    }
    Ok(ModuleOption {
        name: name.to_string(),
        shape,
        default,
        required,
        doc: doc.to_string(),
    })
}

fn build(
    ctx: &NativeCallContext,
    module: &str,
    options: Array,
    returns: Map,
) -> RhaiResult<Interface> {
    let raise = |fault: Fault| fault.raise(ctx.call_position());
    let mut declared: Vec<ModuleOption> = Vec::with_capacity(options.len());
    for (i, item) in options.into_iter().enumerate() {
        let Some(option) = item.clone().try_cast::<ModuleOption>() else {
            return Err(raise(interface_fault(format!(
                "item {i} of the options of {module} is {}, not an option",
                describe_value(&item)
            ))
            .help("write each option as `option(name, type, default, doc)` or `required(name, type, doc)`")));
        };
        if declared.iter().any(|o| o.name == option.name) {
            return Err(raise(interface_fault(format!(
                "option `{}` of {module} is declared twice",
                option.name
            ))));
        }
        declared.push(option);
    }
    let mut fields = Vec::with_capacity(returns.len());
    for (field, doc) in returns {
        let Ok(doc) = doc.clone().into_immutable_string() else {
            return Err(raise(interface_fault(format!(
                "the doc of returned field `{field}` of {module} is {}, not a string",
                describe_value(&doc)
            ))));
        };
        fields.push((field.to_string(), doc.to_string()));
    }
    Ok(Interface {
        module: module.to_string(),
        options: declared,
        returns: fields,
    })
}

fn declare_interface(
    ctx: &NativeCallContext,
    session: &Session,
    module: &str,
    options: Array,
    returns: Map,
) -> RhaiResult<Interface> {
    let interface = build(ctx, module, options, returns)?;
    let mut state = session.borrow_mut();
    // A module imported twice declares its interfaces once.
    state
        .interfaces
        .retain(|known| known.module != interface.module);
    state.interfaces.push(Rc::new(interface.clone()));
    Ok(interface)
}

fn apply(
    ctx: &NativeCallContext,
    session: &Session,
    interface: &Interface,
    opts: &Map,
) -> RhaiResult<Map> {
    let known = session.borrow().interfaces.clone();
    interface.apply(opts, &known).map_err(|problem| {
        let place = match problem.key {
            Some(key) => CallerPlace::Key {
                key,
                field: problem.field,
            },
            None => CallerPlace::Call,
        };
        let label = if place == CallerPlace::Call {
            "missing an option"
        } else {
            "this option"
        };
        Fault::new("stack::module::option", problem.message)
            .label(label)
            .help_opt(problem.help)
            .at_caller(place)
            .raise(ctx.call_position())
    })
}

pub fn register(engine: &mut Engine, session: &Session) {
    engine
        .register_type_with_name::<Interface>("interface")
        .register_fn("to_string", |i: &mut Interface| i.to_string())
        .register_fn("to_debug", |i: &mut Interface| i.to_string())
        .register_type_with_name::<ModuleOption>("option")
        .register_fn("to_string", |o: &mut ModuleOption| {
            format!("option `{}` ({})", o.name, o.shape.describe())
        })
        .register_fn("to_debug", |o: &mut ModuleOption| {
            format!("option `{}` ({})", o.name, o.shape.describe())
        });

    engine.register_fn(
        "option",
        |ctx: NativeCallContext, name: &str, ty: &str, default: Dynamic, doc: &str| {
            let shape = shape_of(&ctx, ty)?;
            declare_option(&ctx, name, shape, default, false, doc)
        },
    );
    engine.register_fn(
        "option",
        |ctx: NativeCallContext, name: &str, nested: Interface, default: Dynamic, doc: &str| {
            declare_option(
                &ctx,
                name,
                Shape::Nested(Rc::new(nested)),
                default,
                false,
                doc,
            )
        },
    );
    engine.register_fn(
        "required",
        |ctx: NativeCallContext, name: &str, ty: &str, doc: &str| {
            let shape = shape_of(&ctx, ty)?;
            declare_option(&ctx, name, shape, Dynamic::UNIT, true, doc)
        },
    );
    engine.register_fn(
        "required",
        |ctx: NativeCallContext, name: &str, nested: Interface, doc: &str| {
            let shape = Shape::Nested(Rc::new(nested));
            declare_option(&ctx, name, shape, Dynamic::UNIT, true, doc)
        },
    );
    let s = session.clone();
    engine.register_fn(
        "interface",
        move |ctx: NativeCallContext, module: ImmutableString, options: Array| {
            declare_interface(&ctx, &s, &module, options, Map::new())
        },
    );
    let s = session.clone();
    engine.register_fn(
        "interface",
        move |ctx: NativeCallContext, module: ImmutableString, options: Array, returns: Map| {
            declare_interface(&ctx, &s, &module, options, returns)
        },
    );
    let s = session.clone();
    engine.register_fn(
        "options",
        move |ctx: NativeCallContext, interface: &mut Interface, opts: Map| {
            apply(&ctx, &s, interface, &opts)
        },
    );
}
