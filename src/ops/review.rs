//! What the Markdown view of a plan needs besides the plan: the HIPAA findings the change
//! brings or removes, desired state against the live state the plan observed (no AWS call of
//! its own).

use std::collections::BTreeSet;

use crate::compliance::{Evaluation, Outcome};
use crate::engine::{Model, Observations};
use crate::ops::Failure;
use crate::plan::markdown::{Finding, Findings};
use crate::plan::{Action, Plan};

/// Unwaived findings on the resources `plan` changes: those of the desired state (`desired`,
/// spec mode) that the live state (the plan's observations) does not have, those it has that
/// the desired state no longer does, and those in both. Keyed by rule and address.
pub fn findings(
    model: &Model,
    obs: &Observations,
    plan: &Plan,
    desired: &Evaluation,
) -> Result<Findings, Failure> {
    let (live, _) = crate::ops::check::live_mode(model, obs, &desired.spec_file)?;
    Ok(compare(plan, desired, &live))
}

fn compare(plan: &Plan, desired: &Evaluation, live: &Evaluation) -> Findings {
    let changed: BTreeSet<&str> = plan
        .changes
        .iter()
        .filter(|c| !matches!(c.action, Action::NoOp | Action::Conflict))
        .map(|c| c.address.as_str())
        .collect();
    let on_changed = |e: &'_ Evaluation| -> Vec<Finding> {
        e.violations()
            .filter(|o| changed.contains(o.address.as_str()))
            .map(finding)
            .collect()
    };
    let (want, have) = (on_changed(desired), on_changed(live));
    let key = |f: &Finding| (f.rule.clone(), f.address.clone());
    let have_keys: BTreeSet<_> = have.iter().map(key).collect();
    let want_keys: BTreeSet<_> = want.iter().map(key).collect();
    let (kept, brought) = want.into_iter().partition(|f| have_keys.contains(&key(f)));
    let removed = have
        .into_iter()
        .filter(|f| !want_keys.contains(&key(f)))
        .collect();
    Findings {
        brought,
        removed,
        kept,
    }
}

fn finding(o: &Outcome) -> Finding {
    Finding {
        rule: o.rule.id.to_string(),
        severity: o.rule.severity.as_str().to_string(),
        address: o.address.clone(),
        message: o.message.clone(),
    }
}
