//! Repairs of the state by hand (`stack state rm`, `stack state mv`) and by
//! `moved(...)`: records leave the state or change their id, and whatever
//! names them (a resource's cluster, what it needed) follows. Nothing live
//! is touched: what a removed record made is left where it is.

use crate::resource::ResourceId;
use crate::state::{ResourceState, State};

/// Why an edit of the state was refused; nothing was changed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum EditError {
    #[error("`{id}` is not a resource id: {reason}")]
    #[diagnostic(
        code(stack::state::bad_id),
        help(
            "ids look like `cluster/dev` or `dev/namespace/apps`; `stack state list` prints them"
        )
    )]
    BadId { id: String, reason: String },
    #[error("`{id}` is not in the state")]
    #[diagnostic(code(stack::state::not_recorded))]
    NotRecorded {
        id: ResourceId,
        #[help]
        help: Option<String>,
    },
    #[error("`{id}` is still declared by the script: the next run would make it again")]
    #[diagnostic(
        code(stack::state::still_declared),
        help(
            "remove or rename the declaration first (`moved(...)` renames it in the script), \
             or pass `--force` to edit the state anyway"
        )
    )]
    StillDeclared { id: ResourceId },
    #[error("`{id}` is not declared by the script: the next run would delete it")]
    #[diagnostic(
        code(stack::state::not_declared),
        help("declare `{id}` first, or pass `--force` to edit the state anyway")
    )]
    NotDeclared { id: ResourceId },
    #[error("`{id}` is needed by `{needed_by}`, which stays in the state")]
    #[diagnostic(
        code(stack::state::needed),
        help(
            "`{needed_by}` is deleted through what it needs: remove it in the same command, \
             or first"
        )
    )]
    Needed {
        id: ResourceId,
        needed_by: ResourceId,
    },
    #[error("the state already records `{to}`")]
    #[diagnostic(
        code(stack::state::exists),
        help("remove `{to}` first with `stack state rm` if it is stale")
    )]
    Exists { to: ResourceId },
    #[error("`{from}` cannot become `{to}`: {reason}")]
    #[diagnostic(
        code(stack::state::bad_move),
        help("a record keeps its kind and its cluster; declare the new resource instead")
    )]
    BadMove {
        from: ResourceId,
        to: ResourceId,
        reason: String,
    },
}

impl State {
    /// Gives the record of `from` the id `to`, and points every record that
    /// names `from` (as its cluster, or as what it needed) at `to`. False
    /// when `from` is not recorded.
    pub fn rename(&mut self, from: &ResourceId, to: &ResourceId) -> bool {
        let Some(recorded) = self.resources.remove(from) else {
            return false;
        };
        self.resources.insert(to.clone(), recorded);
        for other in self.resources.values_mut() {
            if other.cluster.as_ref() == Some(from) {
                other.cluster = Some(to.clone());
            }
            for needed in other.depends_on.iter_mut().filter(|d| *d == from) {
                *needed = to.clone();
            }
        }
        true
    }

    /// Removes the records of `ids`, and keeps their objects as forgotten
    /// (no longer found as this stack's). Refused when one is not recorded,
    /// is still declared (`declared`, unless `force`), or is the cluster of
    /// or needed by a record that stays. All or nothing.
    pub fn remove_records(
        &mut self,
        ids: &[ResourceId],
        declared: impl Fn(&ResourceId) -> bool,
        force: bool,
    ) -> Result<Vec<(ResourceId, ResourceState)>, EditError> {
        for id in ids {
            if !self.resources.contains_key(id) {
                return Err(self.not_recorded(id));
            }
            if !force && declared(id) {
                return Err(EditError::StillDeclared { id: id.clone() });
            }
        }
        let staying = self.resources.iter().filter(|(id, _)| !ids.contains(id));
        for (other, record) in staying {
            let names = |id: &ResourceId| {
                record.cluster.as_ref() == Some(id) || record.depends_on.contains(id)
            };
            if let Some(id) = ids.iter().find(|id| names(id)) {
                return Err(EditError::Needed {
                    id: id.clone(),
                    needed_by: other.clone(),
                });
            }
        }
        let removed: Vec<(ResourceId, ResourceState)> = ids
            .iter()
            .filter_map(|id| Some((id.clone(), self.resources.remove(id)?)))
            .collect();
        for (_, record) in &removed {
            let objects = record.objects.iter().chain(record.unconfirmed_objects());
            self.forgotten.extend(objects.cloned());
        }
        Ok(removed)
    }

    /// Renames the record of `from` to `to` as [`State::rename`] does, and
    /// marks it so the next run applies it under its new id. Refused when
    /// `from` is not recorded, `to` is, the kind or the cluster would
    /// change, or (unless `force`) `from` is still declared or `to` is not.
    pub fn move_record(
        &mut self,
        from: &ResourceId,
        to: &ResourceId,
        declared: impl Fn(&ResourceId) -> bool,
        force: bool,
    ) -> Result<(), EditError> {
        if !self.resources.contains_key(from) {
            return Err(self.not_recorded(from));
        }
        if self.resources.contains_key(to) {
            return Err(EditError::Exists { to: to.clone() });
        }
        let bad = |reason: &str| EditError::BadMove {
            from: from.clone(),
            to: to.clone(),
            reason: reason.to_string(),
        };
        // The cluster it lives on, by its name now (renamed first, if it was).
        let lives_on = self.resources[from]
            .cluster
            .as_ref()
            .and_then(|c| c.parts())
            .map(|p| p.name);
        match (from.parts(), to.parts()) {
            (Some(a), Some(b)) if a.kind != b.kind => return Err(bad("the kind differs")),
            (Some(a), Some(b)) if a.cluster != b.cluster && b.cluster != lives_on => {
                return Err(bad(
                    "it lives on another cluster (rename the cluster's record first)",
                ))
            }
            (Some(_), Some(_)) => {}
            (_, None) => return Err(bad("the new id is not one `stack` writes")),
            (None, _) => return Err(bad("the old id is not one this release reads")),
        }
        if !force && declared(from) {
            return Err(EditError::StillDeclared { id: from.clone() });
        }
        if !force && !declared(to) {
            return Err(EditError::NotDeclared { id: to.clone() });
        }
        self.rename(from, to);
        if let Some(record) = self.resources.get_mut(to) {
            // What it made names the id it was first applied under.
            record.moved_from.get_or_insert_with(|| from.clone());
        }
        Ok(())
    }

    /// The refusal for an id the state does not hold, with the nearest
    /// one it does.
    pub fn not_recorded(&self, id: &ResourceId) -> EditError {
        let known = self.resources.keys().map(ResourceId::as_str);
        EditError::NotRecorded {
            id: id.clone(),
            help: crate::suggest::did_you_mean(id.as_str(), known)
                .or_else(|| Some("`stack state list` shows what the state records".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{namespace_record, ObjectRef};

    fn state_of(names: &[&str]) -> State {
        let mut state = State::empty("dev");
        for name in names {
            let (id, record) = namespace_record(name);
            state.resources.insert(id, record);
        }
        state
    }

    fn id(text: &str) -> ResourceId {
        ResourceId::from(text)
    }

    #[test]
    fn removing_a_declared_record_needs_force() {
        let mut state = state_of(&["apps"]);
        let apps = id("c/namespace/apps");
        let refused = state.remove_records(std::slice::from_ref(&apps), |_| true, false);
        assert!(matches!(refused, Err(EditError::StillDeclared { .. })));
        assert!(state.resources.contains_key(&apps));
        let object = ObjectRef {
            api_version: "v1".into(),
            kind: "Namespace".into(),
            namespace: None,
            name: "apps".into(),
        };
        state.resources.get_mut(&apps).expect("apps").objects = vec![object.clone()];
        let removed = state
            .remove_records(std::slice::from_ref(&apps), |_| true, true)
            .expect("forced");
        assert_eq!(removed.len(), 1);
        assert!(state.resources.is_empty());
        assert!(state.forgotten.contains(&object), "no longer found as ours");
    }

    #[test]
    fn a_record_others_need_stays_unless_they_go_too() {
        let mut state = state_of(&["apps", "web"]);
        let (apps, web) = (id("c/namespace/apps"), id("c/namespace/web"));
        state.resources.get_mut(&web).expect("web").depends_on = vec![apps.clone()];
        let refused = state.remove_records(std::slice::from_ref(&apps), |_| false, false);
        assert!(
            matches!(refused, Err(EditError::Needed { ref needed_by, .. }) if *needed_by == web)
        );
        assert_eq!(state.resources.len(), 2);
        state
            .remove_records(&[apps, web], |_| false, false)
            .expect("both go");
        assert!(state.resources.is_empty());
    }

    #[test]
    fn an_unknown_id_suggests_a_recorded_one() {
        let mut state = state_of(&["apps"]);
        let Err(EditError::NotRecorded { help, .. }) =
            state.remove_records(&[id("c/namespace/aps")], |_| false, false)
        else {
            panic!("refused");
        };
        assert!(help.expect("help").contains("c/namespace/apps"));
    }

    #[test]
    fn a_move_renames_and_repoints_what_names_it() {
        let mut state = state_of(&["apps", "web"]);
        let (apps, web) = (id("c/namespace/apps"), id("c/namespace/web"));
        state.resources.get_mut(&web).expect("web").depends_on = vec![apps.clone()];
        let to = id("c/namespace/platform");
        let declared = |id: &ResourceId| *id == to;
        state
            .move_record(&apps, &to, declared, false)
            .expect("moved");
        assert!(!state.resources.contains_key(&apps));
        assert_eq!(state.resources[&web].depends_on, vec![to.clone()]);
        assert_eq!(state.resources[&to].moved_from, Some(apps.clone()));
        assert!(matches!(
            state.move_record(&web, &to, declared, false),
            Err(EditError::Exists { .. })
        ));
        let elsewhere = id("c/namespace/elsewhere");
        assert!(matches!(
            state.move_record(&web, &elsewhere, declared, false),
            Err(EditError::NotDeclared { .. })
        ));
    }

    #[test]
    fn a_move_keeps_kind_and_cluster() {
        let mut state = state_of(&["apps"]);
        let apps = id("c/namespace/apps");
        for to in ["c/helm_app/apps", "prod/namespace/apps", "nonsense"] {
            assert!(
                matches!(
                    state.move_record(&apps, &id(to), |_| false, false),
                    Err(EditError::BadMove { .. })
                ),
                "{to}"
            );
        }
        assert!(state.resources.contains_key(&apps));
    }

    #[test]
    fn what_lives_on_a_renamed_cluster_follows_it() {
        let mut state = state_of(&["apps"]);
        let (apps, old, new) = (id("c/namespace/apps"), id("cluster/c"), id("cluster/prod"));
        let mut cluster = state.resources[&apps].clone();
        cluster.kind = crate::resource::Kind::Cluster;
        state.resources.insert(old.clone(), cluster);
        state.resources.get_mut(&apps).expect("apps").cluster = Some(old.clone());
        let to = id("prod/namespace/apps");
        assert!(matches!(
            state.move_record(&apps, &to, |_| true, true),
            Err(EditError::BadMove { .. })
        ));
        state
            .move_record(&old, &new, |_| true, true)
            .expect("cluster");
        assert_eq!(state.resources[&apps].cluster, Some(new));
        state.move_record(&apps, &to, |_| true, true).expect("apps");
        assert_eq!(state.resources[&to].moved_from, Some(apps));
    }
}
