//! Stage 3: the plan as plain data. Renderings ([`render`]: text and JSON, [`markdown`]: a
//! pull-request comment) are views of it; apply executes it.
//!
//! A plan records, per resource in execution order, the action, the attribute-level changes
//! and the live state it was computed from (`before`), so that a saved plan can be refused as
//! stale when live state moved since.

pub mod diff;
pub mod markdown;
pub mod render;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const FORMAT_VERSION: &str = "1.0";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    Replace,
    Delete,
    /// A live resource with the spec's name that is not ours: never touched without `--adopt`.
    Conflict,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::NoOp => " ",
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::Conflict => "!",
        }
    }
}

/// One attribute that differs. `path` is dotted below the resource (`versioning`,
/// `public_access_block.block_public_acls`, `inline_policies.execution`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttrChange {
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// This change is why the resource must be replaced.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forces_replace: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    pub address: String,
    pub kind: String,
    pub action: Action,
    /// Why, in a few words ("drift", "not found", "left the spec", ...).
    pub reason: String,
    pub region: String,
    /// Display only: the live id (key id, bucket name).
    #[serde(default)]
    pub physical_id: String,
    pub attributes: Vec<AttrChange>,
    /// Live state the plan was computed from; `null` when absent. Used for staleness checks.
    /// Sensitive values are `(sensitive)` here (see [`crate::redact`]).
    pub before: Option<Value>,
    /// When `before` had sensitive values redacted: a digest of the unredacted live state, so
    /// that a saved plan is still refused when a secret moved since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_digest: Option<String>,
    /// Desired state as known at plan time (may hold "(known after apply)"). Display only:
    /// apply renders the desired state again with the values known by then.
    pub after: Option<Value>,
    pub depends_on: Vec<String>,
    /// Why apply (or destroy) will refuse this change, naming what to change to allow it
    /// (a protected resource, a non-empty bucket, a resource that is not novactl's). A plan
    /// with any refused change is not applied at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: String,
    pub novactl_version: String,
    pub environment: String,
    pub account_id: String,
    pub region: String,
    /// Spec file (as given on the command line).
    pub spec_file: String,
    /// sha256 over the spec and the template files it uses.
    pub spec_digest: String,
    /// Every resource, in execution order (no-ops included, for staleness checks).
    pub changes: Vec<Change>,
    /// `--target` addresses the plan was limited to (empty: everything).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// Addresses the user chose to adopt (`--adopt`) when the plan was made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adopted: Vec<String>,
    /// The environment's monthly cost before and after the plan (`plan` sets it; see
    /// [`crate::cost`]). Absent from plans made without it (saved plans stay readable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::cost::Cost>,
    /// A destroy plan (`plan --destroy`): every change a delete, and `apply PLAN` destroys.
    /// Absent in plans that are not (and in plans older than the field).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub destroy: bool,
    /// A destroy plan made with `--force`: its apply empties non-empty buckets.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
    /// The renames (`moved:`) this plan carries out: each `to` is an update that re-tags the
    /// live resource, never a create or a delete.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moved: Vec<MovedAddress>,
    /// Remarks that change nothing (a `moved:` entry with nothing live at its `from`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One rename a plan carries out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovedAddress {
    pub from: String,
    pub to: String,
}

impl Change {
    /// Redacts every sensitive value (see [`crate::redact`]): `before`, `after` and the
    /// attribute changes. `marked` are the keys the spec marks sensitive for this resource.
    pub fn redact(&mut self, marked: &[String]) {
        use crate::redact::{digest, path_is_sensitive, redact_value, SENSITIVE};
        if let Some(b) = &mut self.before {
            let original = b.clone();
            if redact_value(b, marked) {
                self.before_digest = Some(digest(&self.address, &original));
            }
        }
        if let Some(a) = &mut self.after {
            redact_value(a, marked);
        }
        for a in &mut self.attributes {
            let whole = path_is_sensitive(&a.path, marked);
            for v in [&mut a.before, &mut a.after].into_iter().flatten() {
                if whole && !v.is_null() {
                    *v = Value::String(SENSITIVE.into());
                } else {
                    redact_value(v, marked);
                }
            }
        }
    }
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::NoOp)
    }

    /// sha256 of the plan's JSON (recorded in the audit trail).
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let text = serde_json::to_string(self).unwrap_or_default();
        hex::encode(Sha256::digest(text.as_bytes()))
    }

    /// Changes apply would refuse, each with why: conflicts (live resources that are not
    /// novactl's) and changes whose `refused` is set (protected). `plan --detailed-exitcode`
    /// exits 1 when there are any.
    pub fn refusals(&self) -> Vec<(&str, &str)> {
        self.changes
            .iter()
            .filter_map(|c| match (&c.refused, c.action) {
                (Some(why), _) => Some((c.address.as_str(), why.as_str())),
                (None, Action::Conflict) => Some((c.address.as_str(), c.reason.as_str())),
                _ => None,
            })
            .collect()
    }

    /// Changes apply or destroy refuses (see [`Change::refused`]).
    pub fn refused(&self) -> Vec<&Change> {
        self.changes
            .iter()
            .filter(|c| c.refused.is_some())
            .collect()
    }

    pub fn count(&self, a: Action) -> usize {
        self.changes.iter().filter(|c| c.action == a).count()
    }

    /// `N to create, M to update, R to replace, D to delete` (the text and Markdown views),
    /// and `, K to move` when the plan renames (moves are updates too).
    pub fn counts(&self) -> String {
        let mut s = format!(
            "{} to create, {} to update, {} to replace, {} to delete",
            self.count(Action::Create),
            self.count(Action::Update),
            self.count(Action::Replace),
            self.count(Action::Delete)
        );
        if !self.moved.is_empty() {
            s.push_str(&format!(", {} to move", self.moved.len()));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(token: &str) -> Change {
        Change {
            address: "sagemaker_model.m".into(),
            kind: "sagemaker_model".into(),
            action: Action::Update,
            reason: String::new(),
            region: "us-east-1".into(),
            physical_id: String::new(),
            attributes: vec![AttrChange {
                path: "environment.HF_TOKEN".into(),
                before: Some(json!(token)),
                after: Some(json!("new-token-value")),
                forces_replace: false,
            }],
            before: Some(json!({"environment": {"HF_TOKEN": token, "HF_TASK": "t"}})),
            before_digest: None,
            after: Some(json!({"environment": {"HF_TOKEN": "new-token-value"}})),
            depends_on: Vec::new(),
            refused: None,
        }
    }

    #[test]
    fn redaction_hides_values_but_keeps_a_digest_that_tells_them_apart() {
        let (mut a, mut b) = (change("old-token-1"), change("old-token-2"));
        a.redact(&[]);
        b.redact(&[]);
        let text = serde_json::to_string(&a).unwrap();
        assert!(
            !text.contains("old-token-1") && !text.contains("new-token-value"),
            "{text}"
        );
        assert_eq!(a.before, b.before, "redacted states are equal");
        assert!(a.before_digest.is_some());
        assert_ne!(a.before_digest, b.before_digest, "the digests differ");
        assert_eq!(
            a.attributes[0].before,
            Some(json!(crate::redact::SENSITIVE))
        );
    }
}
