//! Helpers shared by the provider tests that run against moto.

use aws_credential_types::Credentials;
use serde_json::Value as Json;
use stack_engine::provider::Applied;
use stack_engine::state::ResourceState;
use stack_engine::Kind;
use stack_providers::eks::{Aws, AwsSettings};
use stack_testkit::Moto;

/// The AWS configuration of moto, with dummy credentials.
pub fn moto_aws(moto: &Moto) -> Aws {
    Aws::with_settings(AwsSettings {
        endpoint_url: Some(moto.url()),
        credentials: Some(Credentials::new("testing", "testing", None, None, "test")),
    })
}

/// What the state records for a resource of `kind` applied with `inputs`.
pub fn recorded(kind: Kind, inputs: &Json, applied: &Applied) -> ResourceState {
    ResourceState {
        kind,
        inputs_hash: String::new(),
        inputs: inputs.clone(),
        outputs: applied.outputs.clone(),
        objects: Vec::new(),
        depends_on: Vec::new(),
        cluster: None,
        direct: false,
        deleting: false,
        intent: None,
        moved_from: None,
    }
}
