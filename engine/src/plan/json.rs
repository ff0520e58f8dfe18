//! The plan as JSON for pipelines (`stack plan --output json`).

use serde_json::{json, Value as Json};

use super::{text::show, Plan};

/// Format version of the JSON plan; bumped on incompatible changes.
pub const PLAN_FORMAT_VERSION: u32 = 1;

fn leaf(value: &Option<Json>) -> Json {
    match value {
        Some(Json::String(s)) if s.starts_with("(sensitive") => {
            Json::String(show(&Json::String(s.clone())))
        }
        Some(v) => v.clone(),
        None => Json::Null,
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
                "fields": c.fields.iter().map(|f| json!({
                    "path": f.path,
                    "before": leaf(&f.before),
                    "after": leaf(&f.after),
                })).collect::<Vec<_>>(),
                "unknown_outputs": c.unknown_outputs,
            })
        })
        .collect();
    json!({
        "format_version": PLAN_FORMAT_VERSION,
        "stack": plan.stack,
        "changes": changes,
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
