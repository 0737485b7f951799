//! The plan decision: from live and desired state, an action per resource; deletes of what
//! left the spec and of extra copies; the staleness check of a saved plan.

use std::collections::HashMap;

use serde_json::Value;

use crate::plan::{diff, Action, Change, Plan, FORMAT_VERSION};
use crate::resources::{self, Observed, Owner};
use crate::spec::SpecError;

use super::{model::*, observe::*};

/// A delete of a live resource discovery found (left the spec, or an extra copy).
pub fn delete_change(
    address: String,
    kind: &str,
    region: &str,
    o: &Observed,
    reason: String,
) -> Change {
    let mut c = Change {
        address,
        kind: kind.to_string(),
        action: Action::Delete,
        reason,
        region: region.to_string(),
        physical_id: o.physical_id.clone(),
        attributes: Vec::new(),
        before: o.state.clone(),
        before_digest: None,
        after: None,
        depends_on: Vec::new(),
        refused: None,
    };
    c.redact(&[]);
    c
}

/// The address a plan gives an extra copy of `address` (live, tagged with `address`, but not
/// the resource the spec resolves to): `<address>#<physical id>`.
pub fn extra_address(address: &str, physical_id: &str) -> String {
    match resources::Address::parse(address) {
        Some(a) => a.with_copy(physical_id).to_string(),
        None => format!("{address}#{physical_id}"),
    }
}

/// The spec address of a plan address (`kms.phi#1234...` -> `kms.phi`).
pub fn base_address(address: &str) -> &str {
    resources::Address::base_of(address)
}

pub struct PlanOptions<'a> {
    pub adopt: &'a [String],
    pub targets: &'a [String],
    pub spec_file: String,
    /// Address -> [`spec_digest`] of the resource when the last apply converged it (the
    /// backend's `last-applied`): an update is "drift" when the spec asks the same as then, a
    /// "spec change" when it does not.
    pub last_applied: &'a HashMap<String, String>,
}

/// Decides an action for every resource from live state and desired state.
pub fn make_plan(
    model: &Model,
    obs: &Observations,
    opts: &PlanOptions<'_>,
) -> Result<Plan, SpecError> {
    let ctx = model.context(&obs.outputs(), true);
    let mut changes = Vec::new();
    // Extra copies, each with the physical id of the spec's own resource (when live).
    let mut extras: Vec<(&Discovered, Option<String>)> = Vec::new();
    // Renames (`moved:`) carried out, with the live id they keep; notes for the others.
    let mut moved: Vec<(&super::moves::Move, String)> = Vec::new();
    let mut notes = Vec::new();
    for &i in &model.graph.order {
        let d = &model.decls[i];
        let kind = model.kind(d.kind);
        let desired = model.desired(d, &ctx)?;
        let o = obs.by_address.get(&d.address);
        let move_from = match super::moves::incoming(model, obs, d)? {
            Some(super::moves::Incoming::Moved(m)) => Some(m),
            Some(super::moves::Incoming::Nothing(m)) => {
                notes.push(super::moves::nothing_note(model, m));
                None
            }
            None => None,
        };
        let deps: Vec<String> = model.graph.deps[i]
            .iter()
            .map(|&j| model.decls[j].address.clone())
            .collect();
        // Live resources tagged with this address that are not the spec's: when the spec's is
        // absent, the first is the old name of a rename; every other one is an extra copy.
        let mut same: Vec<&Discovered> = obs
            .orphans
            .iter()
            .filter(|(k, _, o)| o.address == d.address && *k == d.kind)
            .collect();
        same.sort_by(|a, b| a.2.physical_id.cmp(&b.2.physical_id));
        let live = o.is_some_and(|o| o.state.is_some());
        let renamed = if live { None } else { same.first().copied() };
        for extra in same.iter().skip(usize::from(renamed.is_some())) {
            extras.push((*extra, o.map(|o| o.physical_id.clone())));
        }
        let mut c = Change {
            address: d.address.clone(),
            kind: d.kind.to_string(),
            action: Action::NoOp,
            reason: String::new(),
            region: d.region.clone(),
            physical_id: o.map(|o| o.physical_id.clone()).unwrap_or_default(),
            attributes: Vec::new(),
            before: o.and_then(|o| o.state.clone()),
            after: Some(desired.clone()),
            depends_on: deps,
            refused: None,
            before_digest: None,
        };
        match (o.and_then(|o| o.state.as_ref()), o) {
            (None, _) => {
                if let Some((_, _, old)) = renamed {
                    c.action = Action::Replace;
                    c.reason = format!(
                        "{} is now `{}`: creates the new one, then deletes the old one",
                        old.physical_id, d.identity
                    );
                    c.physical_id = old.physical_id.clone();
                    c.before = old.state.clone();
                    c.attributes = diff::changes(
                        old.state.as_ref().unwrap_or(&Value::Null),
                        &desired,
                        kind.replace_on(),
                    );
                } else {
                    c.action = Action::Create;
                    c.reason = "not found".into();
                }
            }
            (Some(state), Some(o)) if move_from.is_some() => {
                // A rename: the live resource is kept and re-tagged with its new address.
                let m = move_from.expect("checked by the guard");
                moved.push((m, o.physical_id.clone()));
                c.attributes = diff::changes(state, &desired, kind.replace_on());
                let attrs: Vec<String> = diff::top_level(&c.attributes)
                    .into_iter()
                    .filter(|a| a != "tags")
                    .collect();
                c.action = if c.attributes.iter().any(|a| a.forces_replace) {
                    Action::Replace
                } else {
                    Action::Update
                };
                c.reason = format!("moved from {} (re-tagged, nothing deleted)", m.from);
                if !attrs.is_empty() {
                    c.reason.push_str(&format!(
                        "; also differs from the spec in {}",
                        attrs.join(", ")
                    ));
                }
            }
            (Some(state), Some(o)) => {
                let adopted = opts.adopt.iter().any(|a| a == &d.address);
                if let (Owner::Foreign { reason }, false) = (&o.owner, adopted) {
                    c.action = Action::Conflict;
                    c.reason = format!(
                        "`{}` exists but is not managed by novactl: {reason}; it is left untouched \
                         (pass --adopt {} to manage it)",
                        d.identity, d.address
                    );
                } else {
                    c.attributes = diff::changes(state, &desired, kind.replace_on());
                    if c.attributes.is_empty() {
                        c.action = Action::NoOp;
                    } else if c.attributes.iter().any(|a| a.forces_replace) {
                        c.action = Action::Replace;
                        c.reason = "a change forces replacement".into();
                    } else {
                        c.action = Action::Update;
                        let attrs = diff::top_level(&c.attributes).join(", ");
                        let applied = opts.last_applied.get(&d.address);
                        c.reason = if let Some(i) = obs
                            .intents
                            .get(&d.address)
                            .filter(|_| obs.journaled.contains(&d.address))
                        {
                            format!(
                                "finishing the create of run {} ({}): it was interrupted before \
                                 `{}` was tagged (create journal)",
                                i.run_id, i.time, d.identity
                            )
                        } else if adopted {
                            "adopt: bring under novactl management".into()
                        } else if applied.is_some_and(|a| Some(a) == spec_digest(model, d).as_ref())
                        {
                            format!(
                                "drift in {attrs} (changed outside novactl since the last apply)"
                            )
                        } else if applied.is_some() {
                            format!("spec change: {attrs}")
                        } else {
                            format!("differs from the spec in {attrs}")
                        };
                        if let Some(note) = kind.update_note(state, &desired) {
                            c.reason = format!("{}; {note}", c.reason);
                        }
                    }
                }
            }
            (Some(_), None) => unreachable!("state implies an observation"),
        }
        if c.action == Action::Replace && resources::protected(&model.spec.spec, &d.address) {
            c.refused = Some(protected_refusal(model, &d.address, "replace"));
        }
        c.redact(&resources::marked_sensitive(&model.spec.spec, &d.address));
        changes.push(c);
    }
    // Resources of ours that left the spec: deleted, last, in reverse kind rank.
    let rank: HashMap<&str, usize> = resources::registry()
        .iter()
        .enumerate()
        .map(|(i, k)| (k.kind(), i))
        .collect();
    // What discovery found to delete: left the spec (`None`), or an extra copy.
    let mut gone: Vec<(&Discovered, Option<Option<String>>)> = obs
        .orphans
        .iter()
        .filter(|(_, _, o)| model.decl(&o.address).is_none())
        // The old address of a rename is the same live resource: no delete.
        .filter(|(_, _, o)| {
            !moved
                .iter()
                .any(|(m, id)| m.from == o.address && id == &o.physical_id)
        })
        .map(|x| (x, None))
        .collect();
    gone.extend(extras.into_iter().map(|(x, spec_id)| (x, Some(spec_id))));
    gone.sort_by_key(|((k, _, o), _)| {
        (
            std::cmp::Reverse(rank.get(k).copied()),
            o.address.clone(),
            o.physical_id.clone(),
        )
    });
    for ((kind, region, o), extra) in gone {
        let left_the_spec = extra.is_none();
        let (address, reason) = match extra {
            None => (
                o.address.clone(),
                format!(
                    "left the spec; tagged novactl:environment={} — it will be DELETED",
                    model.spec.spec.environment
                ),
            ),
            Some(spec_id) => (
                extra_address(&o.address, &o.physical_id),
                format!(
                    "EXTRA COPY: another live {kind} tagged novactl:address={} ({}) — it will be \
                     DELETED{}",
                    o.address,
                    match spec_id {
                        Some(id) if !id.is_empty() => format!("the spec's is {id}"),
                        _ => "not the one the spec names".into(),
                    },
                    if resources::info_of(kind)
                        .is_some_and(|i| i.deletion == resources::Deletion::Scheduled)
                    {
                        " (scheduled for deletion)"
                    } else {
                        ""
                    }
                ),
            ),
        };
        let mut c = delete_change(address, kind, region, o, reason);
        if left_the_spec && resources::tagged_protected(o.state.as_ref()) {
            c.refused = Some(format!(
                "it is protected (tag {}=true, from `protect: true` when it was last applied): \
                 to delete it, put it back in the spec with `protect: false`, apply, then \
                 remove it",
                resources::TAG_PROTECT
            ));
        }
        changes.push(c);
    }
    if !opts.targets.is_empty() {
        let mut keep: Vec<usize> = Vec::new();
        for t in opts.targets {
            match model.graph.index.get(t) {
                Some(&i) => keep.push(i),
                None if changes.iter().any(|c| &c.address == t) => {}
                None => {
                    return Err(model
                        .spec
                        .error("", format!("--target {t}: no such resource in the spec")))
                }
            }
        }
        let keep: Vec<String> = model
            .graph
            .with_dependencies(&keep)
            .into_iter()
            .map(|i| model.decls[i].address.clone())
            .collect();
        changes.retain(|c| {
            let base = base_address(&c.address).to_string();
            keep.contains(&base) || opts.targets.contains(&c.address)
        });
    }
    // Moves left out by --target are not carried out.
    let moved = moved
        .into_iter()
        .filter(|(m, _)| changes.iter().any(|c| c.address == m.to))
        .map(|(m, _)| crate::plan::MovedAddress {
            from: m.from.clone(),
            to: m.to.clone(),
        })
        .collect();
    Ok(Plan {
        format_version: FORMAT_VERSION.into(),
        novactl_version: env!("CARGO_PKG_VERSION").into(),
        environment: model.spec.spec.environment.clone(),
        account_id: model.account_id.clone(),
        region: model.spec.spec.region.clone(),
        spec_file: opts.spec_file.clone(),
        spec_digest: model.digest.clone(),
        changes,
        targets: opts.targets.to_vec(),
        adopted: opts.adopt.to_vec(),
        cost: None,
        destroy: false,
        force: false,
        moved,
        notes,
    })
}

/// The refusal of a delete or replace of a resource the spec protects: names the key to
/// change, with its line.
pub fn protected_refusal(model: &Model, address: &str, what: &str) -> String {
    let key = resources::protect_key(address);
    let at = model.spec.error(&key, "");
    let line = at.line.map(|l| format!(":{l}")).unwrap_or_default();
    format!(
        "{address} is protected: set `protect: false` at {key} ({}{line}) to allow the {what}",
        model.spec.path.display()
    )
}

/// Why a saved plan may no longer be applied, or `None` when it still holds.
pub fn staleness(saved: &Plan, fresh: &Plan) -> Option<String> {
    let mut why = Vec::new();
    if saved.spec_digest != fresh.spec_digest {
        why.push("the spec or one of its template files changed".to_string());
    }
    if saved.account_id != fresh.account_id || saved.region != fresh.region {
        why.push(format!(
            "it was made for account {} in {}, not account {} in {}",
            saved.account_id, saved.region, fresh.account_id, fresh.region
        ));
    }
    let fresh_by: HashMap<&str, &Change> = fresh
        .changes
        .iter()
        .map(|c| (c.address.as_str(), c))
        .collect();
    for c in &saved.changes {
        match fresh_by.get(c.address.as_str()) {
            None => why.push(format!("{}: no longer part of the plan", c.address)),
            Some(f) => {
                let before = c.before.clone().unwrap_or(Value::Null);
                let now = f.before.clone().unwrap_or(Value::Null);
                if !diff::json_eq(&before, &now) {
                    let moved: Vec<String> = if before.is_null() || now.is_null() {
                        vec![if now.is_null() { "deleted" } else { "created" }.to_string()]
                    } else {
                        let mut m: Vec<String> = diff::changes(&before, &now, &[])
                            .into_iter()
                            .map(|a| a.path)
                            .collect();
                        m.extend(
                            diff::changes(&now, &before, &[])
                                .into_iter()
                                .map(|a| a.path)
                                .filter(|p| !p.is_empty()),
                        );
                        m.sort();
                        m.dedup();
                        m
                    };
                    why.push(format!(
                        "{}: live state changed since the plan ({})",
                        c.address,
                        moved.join(", ")
                    ));
                } else if c.before_digest != f.before_digest {
                    why.push(format!(
                        "{}: a sensitive value changed since the plan",
                        c.address
                    ));
                }
            }
        }
    }
    for f in &fresh.changes {
        if f.action != Action::NoOp && !saved.changes.iter().any(|c| c.address == f.address) {
            why.push(format!("{}: new change not in the saved plan", f.address));
        }
    }
    if why.is_empty() {
        None
    } else {
        Some(why.join("\n  "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::LoadedSpec;
    use crate::state::Intent;
    use serde_json::json;
    use std::collections::HashSet;

    fn model() -> Model {
        let spec = LoadedSpec::from_text(
            std::path::Path::new("/tmp/t.yaml"),
            "environment: t\nregion: us-east-1\nkms:\n  k:\n    alias: alias/k\ns3:\n  a:\n    name: bucket-a\n    kms_key: k\n  b:\n    name: bucket-b\n    kms_key: k\n".into(),
        )
        .unwrap();
        Model::build(spec, "123456789012").unwrap()
    }

    fn live(address: &str, name: &str, tags: Value) -> Observed {
        Observed {
            address: address.into(),
            physical_id: name.into(),
            state: Some(json!({"name": name, "tags": tags})),
            owner: Owner::Foreign {
                reason: "test".into(),
            },
            outputs: json!({}),
        }
    }

    fn intent(address: &str, kind: &str, identity: &str) -> Intent {
        Intent {
            address: address.into(),
            kind: kind.into(),
            region: "us-east-1".into(),
            identity: identity.into(),
            run_id: "r1".into(),
            time: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn only_an_untagged_resource_with_a_matching_open_intent_becomes_ours() {
        let m = model();
        let mut obs = Observations {
            by_address: HashMap::from([
                // Untagged, intent for this address and name: ours to finish.
                ("s3.a".to_string(), live("s3.a", "bucket-a", json!({}))),
                // Untagged, but the intent names another bucket: still foreign.
                ("s3.b".to_string(), live("s3.b", "bucket-b", json!({}))),
                // Tagged as someone else's address: an intent does not make it ours.
                (
                    "kms.k".to_string(),
                    live("kms.k", "alias/k", json!({"novactl:address": "kms.other"})),
                ),
            ]),
            orphans: Vec::new(),
            intents: HashMap::new(),
            journaled: HashSet::new(),
            inventoried: Vec::new(),
        };
        apply_journal(
            &m,
            &mut obs,
            vec![
                intent("s3.a", "s3", "bucket-a"),
                intent("s3.b", "s3", "bucket-old"),
                intent("kms.k", "kms", "alias/k"),
                intent("s3.gone", "s3", "bucket-gone"),
            ],
        );
        assert_eq!(obs.by_address["s3.a"].owner, Owner::Ours);
        assert!(matches!(
            obs.by_address["s3.b"].owner,
            Owner::Foreign { .. }
        ));
        assert!(matches!(
            obs.by_address["kms.k"].owner,
            Owner::Foreign { .. }
        ));
        assert_eq!(obs.journaled, HashSet::from(["s3.a".to_string()]));
        assert_eq!(
            obs.intents.len(),
            4,
            "every open intent is kept, to be closed"
        );
    }

    #[test]
    fn extra_copies_get_their_own_address_and_a_rename_takes_the_first() {
        let m = model();
        let ours = |name: &str| Observed {
            owner: Owner::Ours,
            ..live(
                "s3.a",
                name,
                json!({"novactl:address": "s3.a", "novactl:environment": "t"}),
            )
        };
        // s3.a is absent under its spec name; two buckets tagged s3.a exist.
        let obs = Observations {
            by_address: HashMap::from([("s3.a".to_string(), Observed::absent("s3.a"))]),
            orphans: vec![
                ("s3", "us-east-1".into(), ours("old-b")),
                ("s3", "us-east-1".into(), ours("old-a")),
            ],
            intents: HashMap::new(),
            journaled: HashSet::new(),
            inventoried: Vec::new(),
        };
        let plan = make_plan(
            &m,
            &obs,
            &PlanOptions {
                adopt: &[],
                targets: &[],
                spec_file: "t.yaml".into(),
                last_applied: &HashMap::new(),
            },
        )
        .unwrap();
        let by: HashMap<&str, &Change> = plan
            .changes
            .iter()
            .map(|c| (c.address.as_str(), c))
            .collect();
        assert_eq!(by["s3.a"].action, Action::Replace);
        assert_eq!(
            by["s3.a"].physical_id, "old-a",
            "the first by name is the rename"
        );
        let extra = by["s3.a#old-b"];
        assert_eq!(extra.action, Action::Delete);
        assert!(extra.reason.starts_with("EXTRA COPY"), "{}", extra.reason);
        assert_eq!(base_address("s3.a#old-b"), "s3.a");
    }
}
