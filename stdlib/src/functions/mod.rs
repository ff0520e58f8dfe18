//! The standard library's functions, one file each. Each file holds the
//! function's option schema and its binding; `DOCS` lists them all for the
//! generated reference (`docs/reference.md`).

pub mod api_version;
pub mod applicationset;
pub mod appproject;
pub mod bootstrap;
pub mod cluster;
pub mod data;
pub mod guards;
pub mod helm_app;
pub mod manifest;
pub mod moved;
pub mod namespace;
pub mod oidc;
pub mod oidc_keycloak;
pub mod options;
pub mod output;
pub mod params;
pub mod state;
pub mod string_ops;
pub mod testing;

use rhai::{Engine, Map, NativeCallContext};
use stack_engine::Kind;

use crate::declare::key_span;
use crate::fault::{Fault, RhaiResult};
use crate::schema::Schema;
use crate::session::Session;

/// The reference entry of one function.
pub struct FnDoc {
    pub name: &'static str,
    pub signatures: &'static [&'static str],
    pub summary: &'static str,
    pub schema: Option<&'static Schema>,
    /// The kind of resource it declares (its outputs are listed).
    pub kind: Option<Kind>,
    pub example: &'static str,
}

/// Every standard-library function, in reference order.
pub const DOCS: &[&FnDoc] = &[
    &cluster::DOC,
    &bootstrap::DOC,
    &helm_app::DOC,
    &oidc::DOC,
    &namespace::DOC,
    &appproject::DOC,
    &applicationset::DOC,
    &manifest::DOC,
    &api_version::DOC,
    &params::PARAM_DOC,
    &params::PARAMS_DOC,
    &state::DOC,
    &moved::DOC,
    &output::DOC,
    &data::SECRET_DOC,
    &data::FILE_DOC,
    &data::YAML_DOC,
    &data::JSON_DOC,
    &data::MERGE_DOC,
    &options::INTERFACE_DOC,
    &options::OPTION_DOC,
    &options::REQUIRED_DOC,
    &options::OPTIONS_DOC,
    &testing::ASSERT_DOC,
    &testing::ASSERT_EQ_DOC,
    &testing::RESOURCES_DOC,
    &testing::MOCK_OUTPUT_DOC,
];

/// Names of every function the standard library adds.
pub fn names() -> impl Iterator<Item = &'static str> {
    DOCS.iter().map(|d| d.name)
}

pub fn register_all(engine: &mut Engine, session: &Session) {
    cluster::register(engine, session);
    bootstrap::register(engine, session);
    helm_app::register(engine, session);
    oidc::register(engine, session);
    namespace::register(engine, session);
    appproject::register(engine, session);
    applicationset::register(engine, session);
    manifest::register(engine, session);
    api_version::register(engine, session);
    params::register(engine, session);
    state::register(engine, session);
    moved::register(engine, session);
    output::register(engine, session);
    data::register(engine, session);
    guards::register(engine, session);
    string_ops::register(engine, session);
    testing::register(engine, session);
    options::register(engine, session);
}

/// Validates a nested options map (`gitops`, each of `node_groups`) in place
/// of option `key` of the current call.
pub fn validate_nested(
    ctx: &NativeCallContext,
    session: &Session,
    key: &str,
    schema: &Schema,
    map: &Map,
) -> RhaiResult<()> {
    let call = session.call_span(ctx);
    for problem in schema.validate(map) {
        session.refuse(
            Fault::new("stack::script::option", problem.message)
                .label(format!("in `{key}`"))
                .help_opt(problem.help)
                .at(key_span(session, call, key))
                .raise(ctx.call_position()),
        )?;
    }
    Ok(())
}
