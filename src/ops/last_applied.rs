//! The backend document `last-applied`: per address, a digest of the desired state the last
//! apply converged it to. Plan compares it with today's desired state to tell a **spec change**
//! (the desired state moved: the spec, a template, or a value from another resource) from
//! **drift** (the desired state is what was applied, so live state moved outside novactl).
//!
//! ```text
//! { "format": 1, "addresses": { "s3.models": { "digest": "<sha256>", "applied": "<rfc3339>" } } }
//! ```

use std::collections::HashMap;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::apply::Outcome;
use crate::plan::{Action, Plan};
use crate::shell::Shell;
use crate::spec::render::is_unknown;
use crate::state::{self, Backend};

pub const DOC: &str = "last-applied";

/// sha256 of a desired state's JSON.
pub fn digest(desired: &Value) -> String {
    hex::encode(Sha256::digest(desired.to_string().as_bytes()))
}

/// Address -> digest; empty when never written or unreadable (then no change is called
/// drift or spec change: plan says the resource differs).
pub async fn read(backend: &dyn Backend) -> HashMap<String, String> {
    let Ok(Some(doc)) = backend.get_doc(DOC).await else {
        return HashMap::new();
    };
    doc["addresses"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(a, e)| Some((a.clone(), e["digest"].as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Records what this run converged: every no-op of the plan (its desired state is live), every
/// change that succeeded; forgets what was deleted. A failed write is a warning.
pub async fn record(backend: &dyn Backend, plan: &Plan, outcomes: &[Outcome], sh: &Shell) {
    let mut doc = match backend.get_doc(DOC).await {
        Ok(Some(d)) if d["addresses"].is_object() => d,
        _ => json!({ "format": 1, "addresses": {} }),
    };
    let now = state::now_rfc3339();
    let addresses = doc["addresses"].as_object_mut().expect("an object");
    for c in &plan.changes {
        let outcome = outcomes.iter().find(|o| o.address == c.address);
        let desired = match (c.action, outcome) {
            (Action::NoOp, _) => c.after.clone(),
            (Action::Delete, Some(o)) if o.result.is_ok() => {
                addresses.remove(&c.address);
                continue;
            }
            (_, Some(o)) if o.result.is_ok() => o.desired.clone(),
            _ => continue,
        };
        match desired.filter(|d| !is_unknown(d)) {
            Some(d) => {
                addresses.insert(
                    c.address.clone(),
                    json!({ "digest": digest(&d), "applied": now }),
                );
            }
            None => {
                addresses.remove(&c.address);
            }
        }
    }
    if let Err(e) = backend.put_doc(DOC, &doc).await {
        sh.warn(&format!(
            "could not record the applied state ({e}); the next plan cannot tell drift from \
             spec changes"
        ));
    }
}
