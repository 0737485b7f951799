//! The expansion of the declared calls ([`crate::permissions`]) for one spec: every call
//! novactl may make (the kinds', the state backend's, [`GLOBAL`], [`COMMANDS`]) and the
//! least-privilege policy for a model, with each ARN template filled for each resource.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::engine::Model;
use crate::permissions::{Perm, CORE, STATE_S3};
use crate::resources::Decl;

/// The calls made whatever the spec holds, by who makes them.
pub const GLOBAL: &[(&str, &[Perm])] =
    &[("core", CORE), ("discovery", crate::discovery::PERMISSIONS)];

/// Calls commands make on the spec's resources besides the kinds' own, by who makes them;
/// expanded for every resource (their templates' gates pick which).
pub const COMMANDS: &[(&str, &[Perm])] = &[
    ("dr", crate::ops::dr::PERMISSIONS),
    ("drift", crate::ops::drift::PERMISSIONS),
];

/// Every declared call: [`GLOBAL`], the state backend's, each kind's and [`COMMANDS`].
pub fn registry() -> Vec<(&'static str, &'static Perm)> {
    let mut all: Vec<(&'static str, &'static Perm)> = GLOBAL
        .iter()
        .flat_map(|(who, perms)| perms.iter().map(move |p| (*who, p)))
        .collect();
    all.extend(STATE_S3.iter().map(|p| ("state", p)));
    for k in crate::resources::registry() {
        all.extend(
            k.permissions()
                .iter()
                .flat_map(|g| g.iter())
                .map(|p| (k.kind(), p)),
        );
    }
    for (who, perms) in COMMANDS {
        all.extend(perms.iter().map(|p| (*who, p)));
    }
    all
}

/// The declaration of `call` (`s3:HeadBucket`), if any.
#[cfg(test)]
pub fn declared(call: &str) -> Option<&'static Perm> {
    registry()
        .into_iter()
        .find(|(_, p)| p.call == call)
        .map(|(_, p)| p)
}

/// Fills an ARN template for one resource:
/// `{region}`, `{account}`, `{id}` (the identity: bucket name, role name, alias), `{id_lower}`
/// (SageMaker ARNs are lower case), `{out.K}` (an output the spec knows, e.g. the log group's
/// `role_name`; none: dropped), `{s3obj:K}` (output K, an `s3://bucket/key` URI, as the
/// object's ARN), `{dep:KIND.K}` (output K of each dependency of that kind; none: dropped).
/// A template may start with gates: `{twin}` keeps it for DR twins (`dr.*`) only, `{kind:K}`
/// for resources of kind K only.
///
/// `account` is the one the policy names (`*` when the spec has no `account_id`): an ARN taken
/// from the model (outputs, dependencies' outputs) names the account the model was built for,
/// the offline stand-in [`crate::engine::OFFLINE_ACCOUNT`] when unknown; it is replaced.
pub fn expand(template: &str, d: &Decl, model: &Model, account: &str) -> Vec<String> {
    fill(template, d, model, account)
        .into_iter()
        .map(|arn| with_account(arn, &model.account_id, account))
        .collect()
}

/// `arn` with its account field `account` where it says `built_for`.
fn with_account(arn: String, built_for: &str, account: &str) -> String {
    let mut parts: Vec<&str> = arn.splitn(6, ':').collect();
    if built_for == account || parts.len() < 6 || parts[0] != "arn" || parts[4] != built_for {
        return arn;
    }
    parts[4] = account;
    parts.join(":")
}

fn fill(template: &str, d: &Decl, model: &Model, account: &str) -> Vec<String> {
    let mut template = template;
    if let Some(rest) = template.strip_prefix("{twin}") {
        if !crate::resources::dr::is_twin(&d.address) {
            return Vec::new();
        }
        template = rest;
    }
    if let Some((kind, rest)) = template
        .strip_prefix("{kind:")
        .and_then(|t| t.split_once('}'))
    {
        if d.kind != kind {
            return Vec::new();
        }
        template = rest;
    }
    if let Some(start) = template.find("{s3obj:") {
        let end = template[start..]
            .find('}')
            .map(|e| start + e)
            .unwrap_or(template.len());
        let key = &template[start + 7..end];
        let Some(object) = d
            .outputs
            .get(key)
            .and_then(Value::as_str)
            .and_then(|u| u.strip_prefix("s3://"))
        else {
            return Vec::new();
        };
        let filled = format!(
            "{}arn:aws:s3:::{object}{}",
            &template[..start],
            &template[end + 1..]
        );
        return fill(&filled, d, model, account);
    }
    let base = template
        .replace("{region}", &d.region)
        .replace("{account}", account)
        .replace("{id_lower}", &d.identity.to_lowercase())
        .replace("{id}", &d.identity);
    if let Some(start) = base.find("{out.") {
        let end = base[start..]
            .find('}')
            .map(|e| start + e)
            .unwrap_or(base.len());
        let key = &base[start + 5..end];
        let Some(v) = d.outputs.get(key).and_then(Value::as_str) else {
            return Vec::new();
        };
        let filled = format!("{}{v}{}", &base[..start], &base[end + 1..]);
        return fill(&filled, d, model, account);
    }
    if let Some(start) = base.find("{dep:") {
        let end = base[start..]
            .find('}')
            .map(|e| start + e)
            .unwrap_or(base.len());
        let (kind, key) = base[start + 5..end].split_once('.').unwrap_or(("", ""));
        return d
            .deps
            .iter()
            .filter_map(|a| model.decl(a))
            .filter(|dep| dep.kind == kind)
            .filter_map(|dep| dep.outputs.get(key).and_then(Value::as_str))
            .map(|v| format!("{}{v}{}", &base[..start], &base[end + 1..]))
            .collect();
    }
    vec![base]
}

/// What a statement is keyed by: its resources and its condition `(operator, key, value)`.
pub type Key = (BTreeSet<String>, Option<(String, String, String)>);

/// What novactl needs on `model`, as actions by the resources (and condition) they are granted
/// on: every declared call (`read_only`: only the calls that change nothing, see
/// [`Perm::is_read`], and none of [`COMMANDS`], which only the `dr` commands make).
pub fn grants(model: &Model, account: &str, read_only: bool) -> BTreeMap<Key, BTreeSet<String>> {
    let wanted = |p: &Perm| !read_only || p.is_read();
    let mut by: BTreeMap<Key, BTreeSet<String>> = BTreeMap::new();
    let mut add =
        |actions: &[&str], resources: Vec<String>, cond: Option<(String, String, String)>| {
            if resources.is_empty() {
                return;
            }
            let set: BTreeSet<String> = if resources.iter().any(|r| r == "*") {
                BTreeSet::from(["*".to_string()])
            } else {
                resources.into_iter().collect()
            };
            by.entry((set, cond))
                .or_default()
                .extend(actions.iter().map(|a| a.to_string()));
        };
    for p in GLOBAL.iter().flat_map(|(_, perms)| perms.iter()) {
        if wanted(p) {
            add(
                p.actions,
                p.resources.iter().map(|r| r.to_string()).collect(),
                None,
            );
        }
    }
    if let Some(loc) = crate::state::S3Location::of(&model.spec) {
        let key = if loc.kms_key.starts_with("arn:") {
            loc.kms_key.clone()
        } else {
            format!("arn:aws:kms:{}:{account}:key/*", loc.region)
        };
        let fill_state = |t: &str| {
            t.replace("{bucket}", &loc.bucket)
                .replace("{root}", &loc.root())
                .replace("{region}", &loc.region)
                .replace("{account}", account)
                .replace("{key}", &key)
        };
        for p in STATE_S3.iter().filter(|p| wanted(p)) {
            add(
                p.actions,
                p.resources.iter().map(|r| fill_state(r)).collect(),
                None,
            );
            for i in p.implied {
                add(
                    &[i.action],
                    i.resources.iter().map(|r| fill_state(r)).collect(),
                    None,
                );
            }
        }
    }
    let commands: &[(&str, &[Perm])] = if read_only { &[] } else { COMMANDS };
    for d in &model.decls {
        for p in model
            .kind(d.kind)
            .permissions()
            .iter()
            .flat_map(|g| g.iter())
            .chain(commands.iter().flat_map(|(_, perms)| perms.iter()))
            .filter(|p| wanted(p))
        {
            let res = p
                .resources
                .iter()
                .flat_map(|t| expand(t, d, model, account))
                .collect();
            add(p.actions, res, None);
            for i in p.implied {
                let res = i
                    .resources
                    .iter()
                    .flat_map(|t| expand(t, d, model, account))
                    .collect();
                let cond = i
                    .condition
                    .map(|(op, k, v)| (op.to_string(), k.to_string(), v.to_string()));
                add(&[i.action], res, cond);
            }
        }
    }
    by
}

/// One policy statement (without its `Sid`) granting `actions` on `resources`.
pub fn statement(actions: &BTreeSet<String>, (resources, cond): &Key) -> Value {
    let mut s = json!({
        "Effect": "Allow",
        "Action": actions.iter().collect::<Vec<_>>(),
        "Resource": if resources.len() == 1 && resources.contains("*") {
            json!("*")
        } else {
            json!(resources.iter().collect::<Vec<_>>())
        },
    });
    if let Some((op, k, v)) = cond {
        s["Condition"] = json!({ op: { k: v } });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `"service:Operation"` literal an `AwsError::from_sdk` names in the source is a
    /// declared call (the integration test checks the calls a real run makes; this catches a
    /// call on a path the seed stack does not take).
    #[test]
    fn every_sdk_call_in_the_source_is_declared() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut missing = Vec::new();
        let mut files = vec![root];
        while let Some(p) = files.pop() {
            if p.is_dir() {
                files.extend(std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
                continue;
            }
            if p.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            let starts = [
                "from_sdk(",
                "from_err(",
                "ok_if_gone(",
                ".fail(",
                "OP: &str =",
            ];
            for (i, pat) in starts.iter().flat_map(|p| text.match_indices(p)) {
                let Some(rest) = text[i + pat.len()..].trim_start().strip_prefix('"') else {
                    continue;
                };
                let call = &rest[..rest.find('"').unwrap()];
                let well_formed = call.split_once(':').is_some_and(|(svc, op)| {
                    !svc.is_empty()
                        && svc
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                        && op.starts_with(|c: char| c.is_ascii_uppercase())
                });
                if well_formed && declared(call).is_none() {
                    missing.push(format!("{call} ({})", p.display()));
                }
            }
        }
        missing.sort();
        missing.dedup();
        assert!(missing.is_empty(), "calls without a Perm: {missing:#?}");
    }

    #[test]
    fn a_kind_declares_each_call_once() {
        let mut seen = BTreeSet::new();
        for (kind, p) in registry() {
            assert!(
                seen.insert((kind, p.call)),
                "{kind} declares {} twice",
                p.call
            );
        }
    }
}
