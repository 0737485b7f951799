//! The DR operations, each a writing run through [`crate::ops::run::Run`] (lock, audit):
//!
//! * [`drill`]: `dr drill`: measures RPO (canary objects) and RTO (promoting the standby), checks
//!   model artifacts by SHA-256, and writes an evidence report.
//! * [`failover`]: `dr failover` (promote the standby for real) and `dr failback` (return it to
//!   its warm size).
//!
//! The DR stack itself (twins, replication, artifact copies) is made by plan and apply: see
//! [`crate::resources::dr`] and [`crate::resources::dr::replication`]. This module holds what the
//! operations share: the standbys and bucket pairs of the spec ([`stack`]), promotion
//! ([`promote`], [`demote`]) and the clock measurements are read from.

pub mod drill;
pub mod failover;
pub mod report;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::aws::AwsError;
use crate::ops::run::state_failure;
use crate::ops::session::Session;
use crate::ops::Failure;
use crate::permissions::{perm, Implied, Perm};
use crate::resources::kit::wait::Wait;
use crate::resources::sagemaker::hosting::{is_busy, EndpointNow, Hosting};
use crate::resources::sagemaker::state::Scaling;
use crate::resources::{dr, Ctx, Decl};
use crate::spec::model::Dr;
use crate::state::{AuditChange, Backend};

/// The calls `dr drill`, `dr failover` and `dr failback` make beside those of the kinds they
/// reconcile through (promotion is the endpoint kind's `UpdateEndpointWeightsAndCapacities`,
/// canary and artifact reads are [`crate::resources::dr::replication`]'s): canaries written into
/// each primary bucket and deleted from both, the canary invocation, S3's replication metrics.
/// Expanded for every DR twin (see [`crate::ops::permissions::expand::expand`]).
pub const PERMISSIONS: &[Perm] = &[
    Perm {
        call: "s3:PutObject",
        actions: &["s3:PutObject"],
        resources: &[SOURCE_CANARIES],
        implied: &[Implied {
            action: "kms:GenerateDataKey",
            resources: &["arn:aws:kms:{out.source_region}:{account}:key/*"],
            condition: None,
        }],
    },
    perm(
        "s3:DeleteObject",
        &["s3:DeleteObject", "s3:DeleteObjectVersion"],
        &[SOURCE_CANARIES, TWIN_CANARIES],
    ),
    perm(
        "sagemaker-runtime:InvokeEndpoint",
        &["sagemaker:InvokeEndpoint"],
        &["{twin}{kind:sagemaker_endpoint}arn:aws:sagemaker:{region}:{account}:endpoint/{id_lower}"],
    ),
    perm(
        "cloudwatch:GetMetricStatistics",
        &["cloudwatch:GetMetricStatistics"],
        &["{twin}{kind:s3}*"],
    ),
];
/// The drill's canary objects (`drill::CANARY_PREFIX`) in a twin's primary bucket and in the twin.
const SOURCE_CANARIES: &str = "arn:aws:s3:::{out.source_name}/novactl-drill/*";
const TWIN_CANARIES: &str = "{twin}{kind:s3}arn:aws:s3:::{id}/novactl-drill/*";

/// Backend document written by `dr failover` (`{"promoted": true, "at": ...}`) and by
/// `dr failback` (`"promoted": false`). While it says promoted, plan and apply keep the
/// standby at the primary's capacity.
pub const FAILOVER_DOC: &str = "dr-failover";
/// Backend document holding the last drill's JSON report.
pub const DRILL_DOC: &str = "last-drill";

/// When `dr failover` promoted the standby, if it is promoted now.
pub async fn promoted(b: &dyn Backend) -> Result<Option<String>, Failure> {
    let doc = b.get_doc(FAILOVER_DOC).await.map_err(state_failure)?;
    Ok(doc
        .filter(|d| d["promoted"] == true)
        .map(|d| d["at"].as_str().unwrap_or("an unknown time").to_string()))
}

/// A DR endpoint and what promoting it means.
pub struct Standby<'a> {
    pub decl: &'a Decl,
    pub name: String,
    pub variant: String,
    /// `dr.instance_count`.
    pub warm: i32,
    /// The primary's instance count.
    pub target: i32,
    /// The primary's autoscaling (registered on promotion).
    pub scaling: Scaling,
    /// The endpoint's `timeout_minutes`.
    pub timeout: Duration,
}

/// A replicated bucket and its twin.
pub struct BucketPair<'a> {
    pub decl: &'a Decl,
    pub source: String,
    pub source_region: String,
    pub twin: String,
}

/// The spec's DR stack.
pub struct Stack<'a> {
    pub dr: &'a Dr,
    pub standbys: Vec<Standby<'a>>,
    pub buckets: Vec<BucketPair<'a>>,
    /// Twins of models (their artifacts are checked by the drill).
    pub models: Vec<&'a Decl>,
}

/// The DR stack of the session's spec; a usage error when the spec has none.
pub fn stack(s: &Session) -> Result<Stack<'_>, Failure> {
    let spec = &s.model.spec.spec;
    let Some(d) = &spec.dr else {
        return Err(Failure::Usage(format!(
            "{}: the spec has no `dr` section, so there is no DR stack",
            s.spec_file.display()
        )));
    };
    let twins: Vec<&Decl> = s
        .model
        .decls
        .iter()
        .filter(|x| dr::is_twin(&x.address))
        .collect();
    let standbys = twins
        .iter()
        .filter(|x| x.kind == "sagemaker_endpoint")
        .map(|x| {
            let e = &spec.sagemaker.endpoints[&x.name];
            Standby {
                decl: x,
                name: x.identity.clone(),
                variant: e.variant_name.clone(),
                warm: dr::standby_count(spec),
                target: e.instance_count,
                scaling: Scaling::of(e.autoscaling.as_ref()),
                timeout: Duration::from_secs(e.timeout_minutes * 60),
            }
        })
        .collect();
    let buckets = twins
        .iter()
        .filter(|x| x.kind == "s3" && dr::replicating_twin(x))
        .map(|x| BucketPair {
            decl: x,
            source: x.outputs["source_name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            source_region: x.outputs["source_region"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            twin: x.identity.clone(),
        })
        .collect();
    let models = twins
        .iter()
        .filter(|x| x.kind == "sagemaker_model")
        .copied()
        .collect();
    Ok(Stack {
        dr: d,
        standbys,
        buckets,
        models,
    })
}

/// An audit entry for what a DR command did to `address`: the writes made under that address
/// (run inside `aws::CHANGE.scope`), after the first `skip` of them, with their request ids.
pub fn audit_change(
    s: &Session,
    address: &str,
    action: &str,
    error: Option<String>,
    skip: usize,
) -> AuditChange {
    let writes: Vec<_> = s
        .aws
        .requests
        .for_address(address)
        .into_iter()
        .skip(skip)
        .collect();
    AuditChange {
        address: address.to_string(),
        action: action.to_string(),
        result: if error.is_some() { "failed" } else { "ok" }.into(),
        error,
        request_ids: writes.iter().map(|w| w.request_id.clone()).collect(),
        writes: writes.into_iter().map(|w| w.operation).collect(),
        notes: Vec::new(),
    }
}

/// Seconds since a fixed start, and the wall-clock times they stand for.
pub struct Clock {
    start: Instant,
    at: chrono::DateTime<chrono::Utc>,
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            start: Instant::now(),
            at: chrono::Utc::now(),
        }
    }

    /// Seconds since the start (millisecond resolution).
    pub fn now(&self) -> f64 {
        (self.start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0
    }

    /// RFC 3339 (milliseconds, UTC) of `secs` after the start.
    pub fn stamp(&self, secs: f64) -> String {
        (self.at + chrono::Duration::milliseconds((secs * 1000.0) as i64))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }
}

/// How long to sleep between two reads while measuring: 5% of the time waited so far, at least
/// 0.25 s and at most 5 s. That is the resolution of every time the drill measures.
pub fn poll_interval(waited: Duration) -> Duration {
    (waited / 20).clamp(Duration::from_millis(250), Duration::from_secs(5))
}

/// The grace a drill waits past an objective before it stops waiting: 10% of the objective,
/// at least 2 s and at most 60 s.
pub fn grace(objective: Duration) -> Duration {
    (objective / 10).clamp(Duration::from_secs(2), Duration::from_secs(60))
}

/// What a promotion did and saw, in seconds on the caller's clock.
pub struct Promotion {
    pub arn: String,
    pub config_name: String,
    /// When UpdateEndpointWeightsAndCapacities was accepted (`None`: already at capacity).
    pub requested_s: Option<f64>,
    pub in_service_s: f64,
    /// When the primary's autoscaling was registered (`None`: none, or already registered).
    pub registered_s: Option<f64>,
    /// Every status read: `{t, status, desired, current}`.
    pub statuses: Vec<Value>,
    /// Whether anything was written.
    pub wrote: bool,
}

fn hosting<'a>(cx: &'a Ctx<'a>, sb: &'a Standby<'a>) -> Hosting<'a> {
    Hosting::new(cx, &sb.decl.region, &sb.decl.address).fresh()
}

fn status_of(t: f64, n: &EndpointNow) -> Value {
    json!({"t": t, "status": n.status, "desired": n.capacity, "current": n.current})
}

/// Promotes a standby as a failover does: scales it to the primary's instance count in place
/// (keeping every variant property), waits until it is InService at that count, registers the
/// primary's autoscaling. Repeat-safe: a standby that is already promoted is only read.
/// Fails once `deadline` (seconds on `clock`) has passed.
pub async fn promote(
    cx: &Ctx<'_>,
    sb: &Standby<'_>,
    clock: &Clock,
    deadline: f64,
) -> Result<Promotion, AwsError> {
    let h = hosting(cx, sb);
    let Some(mut now) = h.endpoint_now(&sb.name).await? else {
        return Err(AwsError::local(
            "sagemaker:DescribeEndpoint",
            "NoStandby",
            format!(
                "{}: the standby endpoint {} does not exist in {}; run `novactl apply` first",
                sb.decl.address, sb.name, sb.decl.region
            ),
        ));
    };
    let variant = now.variant.clone().unwrap_or_else(|| sb.variant.clone());
    let started = clock.now();
    let mut statuses = vec![status_of(started, &now)];
    let mut requested_s = None;
    let serving = |n: &EndpointNow| {
        n.status == "InService"
            && n.capacity.is_none_or(|c| c == sb.target)
            && n.current.is_none_or(|c| c == sb.target)
    };
    while !serving(&now) {
        let t = clock.now();
        if now.status == "InService" && requested_s.is_none() {
            h.request_capacity(&sb.name, &variant, sb.target).await?;
            requested_s = Some(clock.now());
        } else if !is_busy(&now.status) && now.status != "InService" {
            return Err(AwsError::local(
                "sagemaker:WaitInService",
                "EndpointFailed",
                format!(
                    "{} ({}) is {}: {}",
                    sb.decl.address,
                    sb.name,
                    now.status,
                    now.failure_reason
                        .as_deref()
                        .unwrap_or("SageMaker gave no FailureReason")
                ),
            ));
        } else if t > deadline {
            return Err(AwsError::local(
                "sagemaker:WaitInService",
                "Timeout",
                format!(
                    "{} did not serve at {} instances within {:.1} s (last status {}, {} of {} \
                     instances)",
                    sb.decl.address,
                    sb.target,
                    deadline,
                    now.status,
                    now.current.unwrap_or(0),
                    sb.target
                ),
            ));
        } else {
            tokio::time::sleep(poll_interval(Duration::from_secs_f64(t - started))).await;
        }
        now = h.describe(&sb.name).await?;
        statuses.push(status_of(clock.now(), &now));
    }
    let in_service_s = clock.now();
    let mut registered_s = None;
    if sb.scaling.registered && h.read_scaling(&sb.name, &variant).await? != sb.scaling {
        h.apply_scaling(&sb.name, &variant, &sb.scaling).await?;
        registered_s = Some(clock.now());
    }
    Ok(Promotion {
        arn: now.arn.clone(),
        config_name: now.config_name.clone(),
        requested_s,
        in_service_s,
        registered_s,
        statuses,
        wrote: requested_s.is_some() || registered_s.is_some(),
    })
}

/// Returns a standby to its warm size: autoscaling off, `dr.instance_count` instances, InService
/// (within the endpoint's `timeout_minutes`). Returns whether anything was written.
pub async fn demote(cx: &Ctx<'_>, sb: &Standby<'_>) -> Result<bool, AwsError> {
    let h = hosting(cx, sb);
    let Some(now) = h.endpoint_now(&sb.name).await? else {
        return Ok(false);
    };
    let variant = now.variant.clone().unwrap_or_else(|| sb.variant.clone());
    let mut wrote = false;
    if h.read_scaling(&sb.name, &variant).await?.registered {
        h.deregister_scaling(&sb.name, &variant).await?;
        wrote = true;
    }
    if now.capacity.is_some_and(|c| c != sb.warm) {
        let w = Wait {
            budget: sb.timeout,
            poll: Duration::from_millis(500),
            max_poll: Duration::from_secs(10),
        };
        h.scale_to(&sb.name, &variant, sb.warm, &w).await?;
        wrote = true;
    }
    Ok(wrote)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measurement_resolution_and_grace_are_bounded() {
        let s = Duration::from_secs;
        assert_eq!(poll_interval(s(0)), Duration::from_millis(250));
        assert_eq!(poll_interval(s(60)), s(3));
        assert_eq!(poll_interval(s(3600)), s(5));
        assert_eq!(grace(s(3)), s(2), "at least 2 s");
        assert_eq!(grace(s(30 * 60)), s(60), "at most a minute");
        assert_eq!(grace(s(300)), s(30), "10% between");
    }

    #[test]
    fn clock_stamps_are_rfc3339_milliseconds() {
        let c = Clock::start();
        let t = c.stamp(1.5);
        assert!(t.ends_with('Z') && t.contains('.'), "{t}");
        assert!(chrono::DateTime::parse_from_rfc3339(&t).is_ok(), "{t}");
    }
}
