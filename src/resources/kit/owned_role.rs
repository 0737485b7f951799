//! A role a kind owns (a log group's delivery role, a bucket's replication role): made, read,
//! repaired and deleted through the `iam` kind, tagged with and found by the owner's address,
//! and the IAM calls that takes ([`OWNED_ROLE`]: the `iam` kind's `role_calls` list, on the
//! role the owner names).

use serde_json::{json, Value};

use crate::aws::AwsError;
use crate::permissions::{perm, Perm};
use crate::plan::diff;
use crate::resources::iam::{role_calls, Iam};
use crate::resources::{Ctx, Decl, DeleteTarget, Owner, Reconciler};

/// The calls on a role another kind owns and names in its output `role_name` (the log group's
/// role for CloudTrail).
pub const OWNED_ROLE: &[Perm] = role_calls!("arn:aws:iam::{account}:role/{out.role_name}");

/// A role that belongs to another resource (a log group's delivery role, a bucket's
/// replication role) as a decl of the `iam` kind: tagged with, and found by, the owner's
/// address.
pub fn owned_role_decl(owner: &str, region: &str, role: &str) -> Decl {
    Decl {
        address: owner.to_string(),
        kind: "iam",
        name: role.to_string(),
        spec_path: String::new(),
        region: region.to_string(),
        identity: role.to_string(),
        identity_key: String::new(),
        deps: Vec::new(),
        outputs: json!({}),
        template_files: Vec::new(),
    }
}

/// Reads an owned role (see [`owned_role_decl`]) as the `iam` kind observes it.
pub async fn observe_owned_role(
    cx: &Ctx<'_>,
    rd: &Decl,
) -> Result<crate::resources::Observed, AwsError> {
    Iam.observe(cx, rd).await
}

/// Makes an owned role (see [`owned_role_decl`]) match `want` (the `iam` kind's desired
/// shape) from whatever exists; a role of that name that is not the owner's is an error.
pub async fn ensure_owned_role(cx: &Ctx<'_>, rd: &Decl, want: &Value) -> Result<(), AwsError> {
    let live = Iam.observe(cx, rd).await?;
    match (&live.state, &live.owner) {
        (None, _) => Iam.create(cx, rd, want).await.map(drop),
        (Some(_), Owner::Foreign { reason }) => Err(AwsError::local(
            "iam:CreateRole",
            "EntityAlreadyExists",
            format!(
                "role {} exists and is not {}'s: {reason}",
                rd.identity, rd.address
            ),
        )),
        (Some(state), Owner::Ours) => {
            let changed = diff::top_level(&diff::changes(state, want, &[]));
            if changed.is_empty() {
                return Ok(());
            }
            Iam.update(cx, rd, want, &live, &changed).await.map(drop)
        }
    }
}

/// [`ensure_owned_role`] for an owner just made (nothing of it can exist yet): the role is
/// created without a read first; a role of that name found by the create (left by an earlier
/// run, or made by a resent call) is converged when it is the owner's and refused otherwise
/// (the `iam` kind's create does both).
pub async fn create_owned_role(cx: &Ctx<'_>, rd: &Decl, want: &Value) -> Result<(), AwsError> {
    Iam.create(cx, rd, want).await.map(drop)
}

/// [`ensure_owned_role`] for an owner being adopted (`apply --adopt`): a role of that name made
/// outside novactl is taken over (updated to `want`, the owner's tags included) instead of
/// refused.
pub async fn adopt_owned_role(cx: &Ctx<'_>, rd: &Decl, want: &Value) -> Result<(), AwsError> {
    let mut live = Iam.observe(cx, rd).await?;
    let Some(state) = &live.state else {
        return Iam.create(cx, rd, want).await.map(drop);
    };
    let changed = diff::top_level(&diff::changes(state, want, &[]));
    if changed.is_empty() {
        return Ok(());
    }
    live.owner = Owner::Ours;
    Iam.update(cx, rd, want, &live, &changed).await.map(drop)
}

/// Deletes an owned role if it exists and is the owner's.
pub async fn delete_owned_role(cx: &Ctx<'_>, rd: &Decl) -> Result<(), AwsError> {
    let live = Iam.observe(cx, rd).await?;
    if live.state.is_some() && live.owner == Owner::Ours {
        let target = DeleteTarget {
            observed: &live,
            desired: None,
            region: &rd.region,
            force: false,
        };
        Iam.delete(cx, &target).await?;
    }
    Ok(())
}
