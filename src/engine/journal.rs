//! The create journal and the inventory, kept by the executor around every change of every
//! kind (so a new kind gets them without code of its own).
//!
//! # Expected flow
//! 1. [`intend`] before a create: an intent (address, kind, region, name, run id, time) goes to
//!    the backend *before* any AWS create call, so a run that dies anywhere after it leaves a
//!    record of what it was making.
//! 2. The kind creates and tags the resource.
//! 3. [`created`] once it succeeded (the resource carries its ownership tags by then): the
//!    inventory entry (kind, region, name, ARN, address, run id) is written and the intent is
//!    closed.
//! 4. [`deleted`] after a delete: the address leaves the inventory (and any intent is closed).
//!
//! On the next run, [`crate::engine::apply_journal`] treats an untagged live resource with the
//! spec's name and an open intent as ours to finish; the update that finishes it closes the
//! intent through [`created`].
//!
//! # Guarantees
//! Without a backend in the context (`plan`, unit tests) every step does nothing. A backend
//! failure fails the change: nothing is created without its intent on record.

use serde_json::Value;

use crate::aws::AwsError;
use crate::plan::Action;
use crate::resources::{Ctx, Decl};
use crate::state::{Intent, InventoryEntry, StateError};

fn failed(step: &str, address: &str, e: StateError) -> AwsError {
    AwsError::local(
        &format!("novactl:{step}"),
        "StateBackend",
        format!("{address}: {e}"),
    )
}

/// Records the intent to create `decl` (before the first create call).
pub async fn intend(cx: &Ctx<'_>, decl: &Decl) -> Result<(), AwsError> {
    let Some(state) = cx.state else {
        return Ok(());
    };
    let intent = Intent {
        address: decl.address.clone(),
        kind: decl.kind.to_string(),
        region: decl.region.clone(),
        identity: decl.identity.clone(),
        run_id: cx.run_id.to_string(),
        time: crate::state::now_rfc3339(),
    };
    state
        .put_intent(&intent)
        .await
        .map_err(|e| failed("journal", &decl.address, e))
}

/// After `action` on `decl` succeeded with `outputs`: records the inventory entry of what was
/// created, and closes the open intent (`open`: one was found at observe time; a create always
/// wrote one). An update that made a new physical resource (a new ARN, e.g. a new model
/// version) refreshes the entry.
pub async fn created(
    cx: &Ctx<'_>,
    decl: &Decl,
    action: Action,
    outputs: Option<&Value>,
    previous_arn: Option<&str>,
    open: Option<&Intent>,
) -> Result<(), AwsError> {
    let Some(state) = cx.state else {
        return Ok(());
    };
    let arn = outputs
        .and_then(|o| o.get("arn"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let made = matches!(action, Action::Create | Action::Replace)
        || open.is_some()
        || (!arn.is_empty() && previous_arn.is_some_and(|p| p != arn));
    if made {
        let entry = InventoryEntry {
            address: decl.address.clone(),
            kind: decl.kind.to_string(),
            region: decl.region.clone(),
            identity: decl.identity.clone(),
            arn: arn.to_string(),
            run_id: cx.run_id.to_string(),
            created: crate::state::now_rfc3339(),
        };
        let err = |e| failed("inventory", &decl.address, e);
        // One entry per address: a rename replaces the old name's.
        state.inventory_set(&entry).await.map_err(err)?;
    }
    if matches!(action, Action::Create | Action::Replace) || open.is_some() {
        state
            .close_intent(&decl.address)
            .await
            .map_err(|e| failed("journal", &decl.address, e))?;
    }
    Ok(())
}

/// After `address` was deleted: it leaves the inventory; an open intent is closed.
pub async fn deleted(cx: &Ctx<'_>, address: &str, open: Option<&Intent>) -> Result<(), AwsError> {
    let Some(state) = cx.state else {
        return Ok(());
    };
    let err = |e| failed("inventory", address, e);
    for e in state.inventory_of(address).await.map_err(err)? {
        state
            .inventory_remove(&e.address, &e.identity)
            .await
            .map_err(err)?;
    }
    if open.is_some() {
        state
            .close_intent(address)
            .await
            .map_err(|e| failed("journal", address, e))?;
    }
    Ok(())
}

/// After the live resource of `from` became `decl` (a `moved:` rename, re-tagged): its
/// inventory entries take the new address, and an open intent of `from` is closed (the
/// resource carries its tags by then). Nothing to move is no error.
pub async fn moved(
    cx: &Ctx<'_>,
    from: &str,
    decl: &Decl,
    open: Option<&Intent>,
) -> Result<(), AwsError> {
    let Some(state) = cx.state else {
        return Ok(());
    };
    let err = |e| failed("inventory", &decl.address, e);
    for old in state.inventory_of(from).await.map_err(err)? {
        state
            .inventory_remove(&old.address, &old.identity)
            .await
            .map_err(err)?;
        let entry = InventoryEntry {
            address: decl.address.clone(),
            ..old
        };
        state.inventory_put(&entry).await.map_err(err)?;
    }
    if open.is_some() {
        state
            .close_intent(from)
            .await
            .map_err(|e| failed("journal", from, e))?;
    }
    Ok(())
}

/// Settles intents left open for resources that are live and ours but need no change (a run
/// that died after the create finished, before it closed its intent): records their
/// inventory entry and closes the intent.
pub async fn settle(
    cx: &Ctx<'_>,
    model: &crate::engine::Model,
    plan: &crate::plan::Plan,
    obs: &crate::engine::Observations,
) -> Result<(), AwsError> {
    for c in plan.changes.iter().filter(|c| c.action == Action::NoOp) {
        let (Some(decl), Some(o), Some(intent)) = (
            model.decl(&c.address),
            obs.by_address.get(&c.address),
            obs.intents.get(&c.address),
        ) else {
            continue;
        };
        if o.state.is_some() && o.owner == crate::resources::Owner::Ours {
            created(cx, decl, Action::NoOp, Some(&o.outputs), None, Some(intent)).await?;
        }
    }
    Ok(())
}
