//! Who owns an object in a cluster: every object a stack applies carries
//! its stack (a label), the stack's identity and the resource it belongs
//! to (annotations). Before creating an object that exists already, and
//! before deleting one, a provider reads who holds it now and acts only on
//! what this stack and resource hold.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use crate::objects::STACK_LABEL;
use crate::resource::ResourceId;

/// Annotation naming the resource an object belongs to.
pub const RESOURCE_ANNOTATION: &str = "stack.dev/resource";
/// Annotation holding the identity of the stack that owns an object.
pub const IDENTITY_ANNOTATION: &str = "stack.dev/identity";

/// The owner of what one resource makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The stack's name, as its script declares it.
    pub stack: String,
    /// The stack's identity, kept in its state.
    pub identity: String,
    pub resource: ResourceId,
}

/// Who holds a live object, as seen from one owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// This stack, for this resource.
    This,
    /// This stack, for another of its resources (a renamed declaration).
    OtherResource(ResourceId),
    /// Another stack: its name, and the resource when the object says.
    OtherStack {
        stack: String,
        resource: Option<String>,
    },
    /// No stack: made with kubectl, helm or by the cluster itself.
    Nobody,
}

impl Owner {
    /// Writes the ownership label and annotations into `object`'s metadata.
    pub fn stamp(&self, object: &mut Json) {
        let Some(root) = object.as_object_mut() else {
            return;
        };
        let metadata = map_entry(root, "metadata");
        map_entry(metadata, "labels").insert(STACK_LABEL.into(), Json::String(self.stack.clone()));
        let annotations = map_entry(metadata, "annotations");
        annotations.insert(
            RESOURCE_ANNOTATION.into(),
            Json::String(self.resource.to_string()),
        );
        annotations.insert(
            IDENTITY_ANNOTATION.into(),
            Json::String(self.identity.clone()),
        );
    }

    /// The ownership as cloud tags (the same keys as on objects).
    pub fn tags(&self) -> BTreeMap<String, String> {
        [
            (STACK_LABEL, self.stack.clone()),
            (RESOURCE_ANNOTATION, self.resource.to_string()),
            (IDENTITY_ANNOTATION, self.identity.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Who holds `live`, read from its label and annotations.
    pub fn holder_of(&self, live: &Json) -> Holder {
        let metadata = live.get("metadata");
        let text = |section: &str, key: &str| {
            metadata
                .and_then(|m| m.get(section))
                .and_then(|s| s.get(key))
                .and_then(Json::as_str)
        };
        self.holder(
            text("labels", STACK_LABEL),
            text("annotations", IDENTITY_ANNOTATION),
            text("annotations", RESOURCE_ANNOTATION),
        )
    }

    /// Who holds a cloud resource with these tags.
    pub fn holder_of_tagged<'a>(&self, tag: impl Fn(&str) -> Option<&'a str>) -> Holder {
        self.holder(
            tag(STACK_LABEL),
            tag(IDENTITY_ANNOTATION),
            tag(RESOURCE_ANNOTATION),
        )
    }

    fn holder(
        &self,
        stack: Option<&str>,
        identity: Option<&str>,
        resource: Option<&str>,
    ) -> Holder {
        match (identity, stack) {
            (Some(identity), _) if identity == self.identity => match resource {
                Some(r) if r != self.resource.as_str() => Holder::OtherResource(ResourceId::new(r)),
                _ => Holder::This,
            },
            (Some(_), stack) | (None, stack @ Some(_)) => Holder::OtherStack {
                stack: stack.unwrap_or("(unnamed)").to_string(),
                resource: resource.map(str::to_string),
            },
            (None, None) => Holder::Nobody,
        }
    }
}

/// The map under `key`, made (or made a map) when it is not one.
fn map_entry<'a>(map: &'a mut Map<String, Json>, key: &str) -> &'a mut Map<String, Json> {
    let entry = map
        .entry(key.to_string())
        .or_insert_with(|| Json::Object(Map::new()));
    if !entry.is_object() {
        *entry = Json::Object(Map::new());
    }
    match entry {
        Json::Object(inner) => inner,
        _ => unreachable!("made a map above"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn owner(resource: &str) -> Owner {
        Owner {
            stack: "prod".into(),
            identity: "id-1".into(),
            resource: ResourceId::new(resource),
        }
    }

    #[test]
    fn a_stamped_object_is_held_by_its_resource_and_no_other() {
        let mut object =
            json!({ "kind": "Namespace", "metadata": { "name": "a", "labels": { "team": "x" } } });
        owner("namespace/t/a").stamp(&mut object);
        assert_eq!(object["metadata"]["labels"]["team"], "x");
        assert_eq!(owner("namespace/t/a").holder_of(&object), Holder::This);
        assert_eq!(
            owner("manifest/t/a").holder_of(&object),
            Holder::OtherResource(ResourceId::new("namespace/t/a"))
        );
        let copy = Owner {
            identity: "id-2".into(),
            ..owner("namespace/t/a")
        };
        assert_eq!(
            copy.holder_of(&object),
            Holder::OtherStack {
                stack: "prod".into(),
                resource: Some("namespace/t/a".into())
            }
        );
    }

    #[test]
    fn tags_say_the_same_as_labels_and_annotations() {
        let tags = owner("cluster/prod").tags();
        let holder = |me: &Owner| me.holder_of_tagged(|k| tags.get(k).map(String::as_str));
        assert_eq!(holder(&owner("cluster/prod")), Holder::This);
        let copy = Owner {
            identity: "id-2".into(),
            ..owner("cluster/prod")
        };
        assert!(matches!(holder(&copy), Holder::OtherStack { .. }));
    }

    #[test]
    fn objects_without_ownership_are_nobodys_and_a_bare_label_is_another_stacks() {
        let me = owner("namespace/t/a");
        assert_eq!(
            me.holder_of(&json!({ "metadata": { "name": "a" } })),
            Holder::Nobody
        );
        let labelled = json!({ "metadata": { "labels": { STACK_LABEL: "prod" } } });
        assert!(matches!(
            me.holder_of(&labelled),
            Holder::OtherStack { resource: None, .. }
        ));
    }
}
