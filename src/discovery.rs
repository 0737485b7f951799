//! Discovery: finding the resources of this environment that left the spec, at a cost that
//! grows with the environment, never with the account.
//!
//! # Expected flow
//! 1. While every resource of the spec is observed, one paged Resource Groups Tagging API
//!    `GetResources` per region (filtered by `novactl:environment`) lists everything carrying
//!    this environment's tag, and the state backend's inventory lists what novactl created of
//!    the kinds the tagging API does not cover (IAM roles, dashboards).
//! 2. A resource found that way is the spec's own when observe read it at its address (same
//!    ARN or name): nothing more is read for it. So a no-op plan pays only step 1.
//! 3. Each remaining one goes to its kind's [`Reconciler::discover_found`], which reads it (and
//!    checks it is still there and still ours).
//!
//! `plan --scan` (and `apply --scan`) instead lists every resource of every kind in the
//! account, as before: the way to find strays the tagging API or the inventory do not know,
//! such as roles created before the inventory existed.
//!
//! # Caveats
//! The tagging API is eventually consistent: a resource tagged seconds ago may be missing from
//! it. Discovery only looks for what *left* the spec, and observe reads the spec's resources
//! directly, so a lag delays the deletion of a removed resource by one plan at most.

use std::collections::HashMap;

use serde_json::Value;

use crate::aws::AwsError;
pub use crate::resources::kit::cache::{ReadCache, PERMISSIONS};
use crate::resources::{self, Ctx, Found, Observed, Reconciler};
use crate::state::Backend;

/// What one kind's discovery in one region found: (kind, region, the resources or the error).
pub type Discovered = (&'static str, String, Result<Vec<Observed>, AwsError>);

/// How `observe` looks for resources that left the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Not at all: only the spec's resources are read (`check --live`, `report`).
    Off,
    /// Tagging API and inventory (the default).
    Tagged,
    /// Every resource of every kind in the account (`--scan`).
    Scan,
}

/// What the tagging API and the inventory say exists for this environment, by kind and
/// region, before the spec's own resources are set aside.
pub struct Candidates {
    by_kind: Vec<(&'static dyn Reconciler, String, Found)>,
}

/// Step 1: the tagging API in every region (unless `tagging` is false: `--scan` lists instead)
/// and the inventory, concurrently.
pub async fn candidates(
    cx: &Ctx<'_>,
    cache: &ReadCache,
    regions: &[String],
    state: Option<&dyn Backend>,
    tagging: bool,
) -> Result<Candidates, Vec<(String, AwsError)>> {
    let registry = resources::registry();
    let tagged = futures::future::join_all(
        regions
            .iter()
            .filter(|_| tagging)
            .map(|r| async move { (r.clone(), cache.tagged(cx, r).await) }),
    );
    let inventory = async {
        match state {
            // A backend that does not exist yet (S3 before `bootstrap`) has created nothing.
            Some(s) => match s.inventory().await {
                Err(crate::state::StateError::Missing(_)) => Ok(Vec::new()),
                r => r.map_err(|e| e.to_string()),
            },
            None => Ok(Vec::new()),
        }
    };
    let (tagged, inventory) = futures::join!(tagged, inventory);
    let mut errors = Vec::new();
    let mut by_kind = Vec::new();
    for (region, r) in tagged {
        let list = match r {
            Ok(l) => l,
            Err(e) => {
                errors.push((format!("discovery in {region}"), e));
                continue;
            }
        };
        for (arn, tags) in list {
            let ty = resources::arn_type(&arn);
            let Some(k) = registry
                .iter()
                .find(|k| k.tagging_types().contains(&ty.as_str()))
            else {
                continue;
            };
            let Some(address) = resources::ours_of_kind(&tags, cx.environment, k.kind()) else {
                continue;
            };
            by_kind.push((
                *k,
                region.clone(),
                Found {
                    address,
                    arn,
                    identity: String::new(),
                    tags: Some(tags),
                },
            ));
        }
    }
    match inventory {
        Ok(entries) => {
            for e in entries {
                let Some(k) = registry
                    .iter()
                    .find(|k| k.kind() == e.kind && k.tagging_types().is_empty())
                else {
                    continue;
                };
                if !regions.contains(&e.region) {
                    continue;
                }
                by_kind.push((
                    *k,
                    e.region.clone(),
                    Found {
                        address: e.address,
                        arn: e.arn,
                        identity: e.identity,
                        tags: None,
                    },
                ));
            }
        }
        Err(e) => errors.push((
            "discovery (state inventory)".into(),
            AwsError::local("novactl:inventory", "StateBackend", e),
        )),
    }
    if errors.is_empty() {
        Ok(Candidates { by_kind })
    } else {
        Err(errors)
    }
}

impl Candidates {
    /// The inventory's (address, name) pairs among the candidates (kinds the tagging API
    /// does not cover).
    pub fn inventoried(&self) -> Vec<(String, String)> {
        self.by_kind
            .iter()
            .filter(|(_, _, f)| f.tags.is_none())
            .map(|(_, _, f)| (f.address.clone(), f.name().to_string()))
            .collect()
    }
}

/// Is `found` the resource observe already read for its address?
fn is_observed(found: &Found, observed: &HashMap<String, Observed>) -> bool {
    let Some(o) = observed.get(&found.address) else {
        return false;
    };
    if o.state.is_none() {
        return false;
    }
    let norm = |s: &str| s.trim_end_matches(":*").to_ascii_lowercase();
    if !found.arn.is_empty() {
        if let Some(arn) = o.outputs.get("arn").and_then(Value::as_str) {
            if norm(arn) == norm(&found.arn) {
                return true;
            }
        }
    }
    let name = found.name();
    !name.is_empty() && norm(name) == norm(&o.physical_id)
}

/// Steps 2 and 3: sets aside what observe read, and has each kind read the rest.
pub async fn read_candidates(
    cx: &Ctx<'_>,
    c: Candidates,
    observed: &HashMap<String, Observed>,
) -> Vec<Discovered> {
    let mut groups: Vec<(&'static dyn Reconciler, String, Vec<Found>)> = Vec::new();
    for (k, region, found) in c.by_kind {
        if is_observed(&found, observed) {
            continue;
        }
        match groups
            .iter_mut()
            .find(|(gk, gr, _)| gk.kind() == k.kind() && gr == &region)
        {
            Some(g) => g.2.push(found),
            None => groups.push((k, region, vec![found])),
        }
    }
    futures::future::join_all(groups.into_iter().map(|(k, region, found)| async move {
        let r = crate::aws::on_behalf_of(k.kind(), k.discover_found(cx, &region, found)).await;
        (k.kind(), region, r)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn found(address: &str, arn: &str) -> Found {
        Found {
            address: address.into(),
            arn: arn.into(),
            identity: String::new(),
            tags: None,
        }
    }

    fn observed(address: &str, physical: &str, arn: &str) -> (String, Observed) {
        (
            address.to_string(),
            Observed {
                address: address.into(),
                physical_id: physical.into(),
                state: Some(json!({})),
                owner: resources::Owner::Ours,
                outputs: json!({ "arn": arn }),
            },
        )
    }

    #[test]
    fn the_spec_resource_read_by_observe_is_set_aside_by_arn_or_name() {
        let obs: HashMap<String, Observed> = [
            observed("kms.a", "1234", "arn:aws:kms:us-east-1:1:key/1234"),
            observed("s3.b", "bucket-b", "arn:aws:s3:::bucket-b"),
            observed(
                "log_group.c",
                "/g",
                "arn:aws:logs:us-east-1:1:log-group:/g:*",
            ),
            observed(
                "sagemaker_endpoint.e",
                "MyEndpoint",
                "arn:aws:sagemaker:us-east-1:1:endpoint/myendpoint",
            ),
        ]
        .into_iter()
        .collect();
        let cases = [
            (
                found("kms.a", "arn:aws:kms:us-east-1:1:key/1234"),
                true,
                "same key",
            ),
            (
                found("kms.a", "arn:aws:kms:us-east-1:1:key/9999"),
                false,
                "a second key",
            ),
            (found("s3.b", "arn:aws:s3:::bucket-b"), true, "same bucket"),
            (
                found("s3.b", "arn:aws:s3:::bucket-old"),
                false,
                "renamed bucket",
            ),
            (
                found("log_group.c", "arn:aws:logs:us-east-1:1:log-group:/g"),
                true,
                ":* trimmed",
            ),
            (
                found(
                    "sagemaker_endpoint.e",
                    "arn:aws:sagemaker:us-east-1:1:endpoint/myendpoint",
                ),
                true,
                "SageMaker lower-cases names in ARNs",
            ),
            (
                found("s3.gone", "arn:aws:s3:::gone"),
                false,
                "address left the spec",
            ),
        ];
        for (f, want, why) in cases {
            assert_eq!(is_observed(&f, &obs), want, "{why}");
        }
    }

    #[test]
    fn found_names_come_from_the_arn_or_the_inventory() {
        assert_eq!(found("x", "arn:aws:s3:::b").name(), "b");
        assert_eq!(found("x", "arn:aws:cloudtrail:r:1:trail/T").name(), "T");
        assert_eq!(found("x", "arn:aws:cloudwatch:r:1:alarm:A/B").name(), "A/B");
        assert_eq!(found("x", "arn:aws:logs:r:1:log-group:/a/b").name(), "/a/b");
        assert_eq!(found("x", "arn:aws:sns:r:1:topic").name(), "topic");
        let inv = Found {
            identity: "Role".into(),
            ..found("iam.r", "")
        };
        assert_eq!(inv.name(), "Role");
    }

    #[test]
    fn arn_types_match_the_tagging_api() {
        for (arn, ty) in [
            ("arn:aws:s3:::b", "s3:bucket"),
            ("arn:aws:sns:us-east-1:1:t", "sns:topic"),
            ("arn:aws:kms:us-east-1:1:key/k", "kms:key"),
            ("arn:aws:cloudwatch:us-east-1:1:alarm:a", "cloudwatch:alarm"),
            ("arn:aws:logs:us-east-1:1:log-group:/g", "logs:log-group"),
            ("arn:aws:sagemaker:us-east-1:1:model/m", "sagemaker:model"),
            (
                "arn:aws:sagemaker:us-east-1:1:endpoint-config/c",
                "sagemaker:endpoint-config",
            ),
            ("arn:aws:cloudtrail:us-east-1:1:trail/t", "cloudtrail:trail"),
        ] {
            assert_eq!(resources::arn_type(arn), ty, "{arn}");
        }
    }
}
