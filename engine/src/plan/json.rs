//! The plan as JSON for pipelines (`stack plan --output json`).

use serde_json::{json, Value as Json};

use super::{FieldChange, Plan};

/// Format version of the JSON plan; bumped on incompatible changes.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// A field's value; secret ones never reach here (they are concealed).
fn leaf(value: &Option<Json>) -> Json {
    value.clone().unwrap_or(Json::Null)
}

/// One field as the JSON plan holds it: a secret says only how it changes.
pub fn field_json(f: &FieldChange) -> Json {
    if f.sensitive {
        json!({
            "path": f.path,
            "sensitive": true,
            "before": Json::Null,
            "after": Json::Null,
            "change": match (&f.before, &f.after) {
                (None, Some(_)) => "added",
                (Some(_), None) => "removed",
                _ => "changed",
            },
        })
    } else {
        json!({
            "path": f.path,
            "before": leaf(&f.before),
            "after": leaf(&f.after),
        })
    }
}

pub fn plan_json(plan: &Plan) -> Json {
    let s = plan.summary();
    let changes: Vec<Json> = plan
        .changes
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "kind": c.kind,
                "action": c.action.as_str(),
                "reason": c.reason,
                "moved_from": c.moved_from,
                "fields": c.fields.iter().map(field_json).collect::<Vec<_>>(),
                "unknown_outputs": c.unknown_outputs,
            })
        })
        .collect();
    json!({
        "format_version": PLAN_FORMAT_VERSION,
        "stack": plan.stack,
        "changes": changes,
        "params": plan.params.iter().map(|p| json!({
            "name": p.name,
            "was_set": p.was_set,
            "is_set": p.is_set,
        })).collect::<Vec<_>>(),
        "summary": {
            "create": s.create,
            "adopt": s.adopt,
            "update": s.update,
            "replace": s.replace,
            "delete": s.delete,
            "unchanged": s.unchanged,
        },
    })
}
