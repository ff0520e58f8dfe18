//! Handles: what a declaration returns. Reading a property gives a token for
//! the output, so passing it anywhere creates a dependency edge.

use std::fmt;

use rhai::{Dynamic, Engine, ImmutableString, NativeCallContext};
use stack_engine::{suggest, Kind, OutputRef, ResourceId};

use crate::fault::{Fault, RhaiResult};
use crate::token;

/// A declared resource, as a script holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Handle {
    pub id: ResourceId,
    pub kind: Kind,
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.kind, self.id)
    }
}

impl Handle {
    /// Every property a handle of this kind has: `id` and its outputs.
    pub fn properties(&self) -> Vec<&'static str> {
        let mut names = vec!["id"];
        names.extend(self.kind.outputs().iter().map(|o| o.name));
        names
    }

    /// The value of a property: the id, or a token for an output.
    #[allow(clippy::result_large_err)] // an error path: a Fault is built once per failed evaluation
    pub fn property(&self, name: &str) -> Result<Dynamic, Fault> {
        if name == "id" {
            return Ok(Dynamic::from(self.id.to_string()));
        }
        match self.kind.output(name) {
            Some(spec) => Ok(Dynamic::from(token::output(&OutputRef {
                resource: self.id.clone(),
                output: name.to_string(),
                secret: spec.secret,
            }))),
            None => {
                let known = self.properties();
                Err(Fault::new(
                    "stack::script::unknown_property",
                    format!("a {} handle has no property `{name}`", self.kind),
                )
                .label("unknown property")
                .help(
                    suggest::did_you_mean(name, known.iter().copied())
                        .unwrap_or_else(|| format!("its properties are {}", known.join(", "))),
                ))
            }
        }
    }
}

/// Registers the handle type: property access, equality and printing.
pub fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<Handle>("Handle")
        .register_indexer_get(
            |ctx: NativeCallContext,
             handle: &mut Handle,
             name: ImmutableString|
             -> RhaiResult<Dynamic> {
                handle
                    .property(&name)
                    .map_err(|f| f.raise(ctx.call_position()))
            },
        )
        .register_fn("to_string", |h: &mut Handle| h.to_string())
        .register_fn("to_debug", |h: &mut Handle| h.to_string())
        .register_fn("==", |a: Handle, b: Handle| a.id == b.id)
        .register_fn("!=", |a: Handle, b: Handle| a.id != b.id);
}
