//! Rolled-back updates are not retried silently. When SageMaker rolls an endpoint's update
//! back (an alarm fired, the new fleet failed), apply records in the backend document
//! `rolled-back`, per address, the [`crate::engine::spec_digest`] it tried, when, and why
//! (also for the changes of the same run it depends on, such as the model version the
//! rollback removed). The next plan with the same spec shows those addresses as "rolled back at
//! <time> by alarm X; use --retry-rolled-back or change the spec" and plans no change for them;
//! `apply --retry-rolled-back` (or a spec change: a new digest) tries again. A successful
//! change of the address removes its entry.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::apply::Outcome;
use crate::engine::Model;
use crate::plan::{Action, Plan};
use crate::resources::sagemaker::rollout::ROLLED_BACK;
use crate::shell::Shell;
use crate::state::Backend;

/// The backend document's name.
pub const DOC: &str = "rolled-back";

/// Address -> {digest, time, why}.
pub async fn read(backend: &dyn Backend) -> HashMap<String, Value> {
    let Ok(Some(doc)) = backend.get_doc(DOC).await else {
        return HashMap::new();
    };
    doc["addresses"]
        .as_object()
        .map(|m| m.iter().map(|(a, e)| (a.clone(), e.clone())).collect())
        .unwrap_or_default()
}

/// Marks the plan's updates that would repeat a rolled-back update with the same spec as held
/// (no change, the reason says why), unless `retry`.
pub fn hold(model: &Model, plan: &mut Plan, held: &HashMap<String, Value>, retry: bool) {
    if retry || held.is_empty() {
        return;
    }
    for c in plan.changes.iter_mut() {
        let Some(entry) = held.get(&c.address) else {
            continue;
        };
        if !matches!(c.action, Action::Update | Action::Create) {
            continue;
        }
        let same = model
            .decl(&c.address)
            .and_then(|d| crate::engine::spec_digest(model, d))
            .is_some_and(|d| entry["digest"].as_str() == Some(d.as_str()));
        if !same {
            continue;
        }
        c.action = Action::NoOp;
        c.reason = format!(
            "rolled back at {} {}; use --retry-rolled-back or change the spec",
            entry["time"].as_str().unwrap_or("?"),
            entry["why"].as_str().unwrap_or("by SageMaker"),
        );
    }
}

/// The held changes, one warning each (plan and apply).
pub fn warn_held(plan: &Plan, sh: &Shell) {
    for c in &plan.changes {
        if c.action == Action::NoOp && c.reason.starts_with("rolled back at ") {
            sh.warn(&format!("{}: {}", c.address, c.reason));
        }
    }
}

/// After an apply: records the rolled-back updates (and the changes of this run they depend
/// on), forgets the addresses changed successfully.
pub async fn save(
    backend: &dyn Backend,
    model: &Model,
    plan: &Plan,
    outcomes: &[Outcome],
    sh: &Shell,
) {
    let mut doc = match backend.get_doc(DOC).await {
        Ok(Some(d)) if d.get("addresses").is_some_and(Value::is_object) => d,
        _ => json!({"format_version": "1", "addresses": {}}),
    };
    let before = doc.clone();
    let now = crate::state::now_rfc3339();
    let map = doc["addresses"].as_object_mut().expect("checked above");
    for o in outcomes.iter().filter(|o| o.result.is_done()) {
        map.remove(&o.address);
    }
    for o in outcomes {
        let Some(e) = o.result.error().filter(|e| e.code == ROLLED_BACK) else {
            continue;
        };
        // "… rolled back by alarm X at step `S`; …" -> "by alarm X at step `S`".
        let why = e
            .message
            .split_once(" rolled back ")
            .map(|(_, w)| w.split(';').next().unwrap_or(w).to_string())
            .unwrap_or_else(|| "by SageMaker".into());
        let deps = plan
            .changes
            .iter()
            .find(|c| c.address == o.address)
            .map(|c| c.depends_on.clone())
            .unwrap_or_default();
        let same_run = outcomes
            .iter()
            .filter(|d| d.result.is_done() && deps.contains(&d.address))
            .map(|d| d.address.clone());
        for address in std::iter::once(o.address.clone()).chain(same_run) {
            let Some(digest) = model
                .decl(&address)
                .and_then(|d| crate::engine::spec_digest(model, d))
            else {
                continue;
            };
            map.insert(address, json!({"digest": digest, "time": now, "why": why}));
        }
    }
    if doc != before {
        if let Err(e) = backend.put_doc(DOC, &doc).await {
            sh.warn(&format!("the {DOC} document was not written: {e}"));
        }
    }
}
