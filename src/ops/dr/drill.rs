//! `dr drill`: proves, with evidence, how fast the DR stack takes over.
//!
//! # Expected flow
//! 1. Lock (through `Run`), then a full plan: any pending change of a `dr.*` address fails the
//!    drill before anything is written, listing them.
//! 2. The clock starts. Three probes run at once:
//!    * **RPO**, per replicated bucket: a canary object (`novactl-drill/<run id>.json`, written
//!      with a SHA-256 checksum, encrypted by the bucket's KMS default) goes into the primary;
//!      the twin is read until the replica exists with the same checksum. Its lag is the time
//!      from the primary's acknowledgement to the first read that saw the replica. The wait
//!      ends at the objective plus [`super::grace`]: a replica still missing then is a miss.
//!      Replication metrics (CloudWatch `AWS/S3 ReplicationLatency`) are read where available.
//!    * **RTO**, per standby: promoted as a failover would ([`super::promote`]), then a canary
//!      `InvokeEndpoint` (`dr.canary`) must succeed. RTO is the time from the drill's start to
//!      that success (to InService at capacity when `dr.canary.invoke` is false, as the report
//!      says). The wait ends at the objective plus its grace.
//!    * **Artifacts**: SHA-256 of every DR model's artifact in both regions.
//! 3. With `--teardown`: the standbys go back to their warm size and the canaries are deleted.
//! 4. The evidence report (JSON, and Markdown beside it with `--report`; the Markdown on
//!    stdout) goes to the audit trail (`details`) and to the backend document `last-drill`.
//!
//! # Guarantees
//! * Bounded: every wait ends at its objective plus grace (teardown at the endpoint's
//!   `timeout_minutes`).
//! * Every time in the report is read off one clock; measured times have the resolution of
//!   [`super::poll_interval`].
//!
//! # Errors
//! Exit 0 when both objectives are met and every artifact matches, 3 when an objective is
//! missed (or an artifact differs), 1 when the drill could not measure (an AWS error, a DR
//! stack that is not converged, a promoted standby).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ChecksumAlgorithm;
use aws_smithy_types::Blob;
use futures::future::join_all;
use serde_json::{json, Value};

use super::{
    audit_change, demote, grace, poll_interval, promote, report, stack, BucketPair, Clock, Stack,
    Standby, DRILL_DOC,
};
use crate::aws::{AwsError, CHANGE};
use crate::ops::options::GlobalOptions;
use crate::ops::options::Scope;
use crate::ops::run::Run;
use crate::ops::session::Session;
use crate::ops::Failure;
use crate::plan::Action;
use crate::resources::dr::objects::{compute_sha256, head, sha256_of};
use crate::resources::{dr, Ctx, Decl};
use crate::shell::Shell;
use crate::spec::model::Canary;

/// Objectives when the spec sets none (the seed's: 15 minutes to recover, an hour of data).
pub const DEFAULT_RTO_MINUTES: f64 = 15.0;
pub const DEFAULT_RPO_MINUTES: f64 = 60.0;
/// Where canary objects go in every replicated bucket.
pub const CANARY_PREFIX: &str = "novactl-drill/";

pub struct Options {
    pub report: Option<PathBuf>,
    pub teardown: bool,
}

pub async fn drill(g: &GlobalOptions, o: &Options, sh: &Shell) -> Result<ExitCode, Failure> {
    if let Some(p) = &o.report {
        if p.extension().is_some_and(|e| e == "md") {
            return Err(Failure::Usage(format!(
                "--report {}: name the JSON file (e.g. drill.json); the Markdown goes beside it",
                p.display()
            )));
        }
    }
    let s = Session::connect(g, sh).await?;
    let st = stack(&s)?;
    if st.buckets.is_empty() && st.standbys.is_empty() {
        return Err(Failure::Usage(
            "nothing to drill: dr.replicate lists no buckets and no endpoints".into(),
        ));
    }
    if s.model.dr_promoted {
        return Err(Failure::Usage(
            "the standby serves as the primary since `dr failover`: a drill would scale it \
             down; run `novactl dr failback` first"
                .into(),
        ));
    }
    let mut run = Run::begin(&s, "dr drill", sh).await?;
    let result = drill_locked(&s, &st, &mut run, o, sh).await;
    let code = *result.as_ref().unwrap_or(&1);
    run.end(code, sh).await;
    result.map(|c| ExitCode::from(c as u8))
}

async fn drill_locked(
    s: &Session,
    st: &Stack<'_>,
    run: &mut Run,
    o: &Options,
    sh: &Shell,
) -> Result<i32, Failure> {
    let check_started = crate::state::now_rfc3339();
    let (plan, _) = s.plan(&Scope::default(), &[]).await?;
    run.record.plan_digest = plan.digest();
    let pending: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| dr::is_twin(&c.address) && c.action != Action::NoOp)
        .map(|c| {
            let attrs = crate::plan::diff::top_level(&c.attributes);
            format!(
                "  {} {}: {}{}",
                c.action.symbol(),
                c.address,
                c.reason,
                if attrs.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", attrs.join(", "))
                }
            )
        })
        .collect();
    if !pending.is_empty() {
        return Err(Failure::Reported(format!(
            "the DR stack is not converged, so a drill would not measure what the spec says; \
             nothing was changed. Pending:\n{}\nRun `novactl apply` first.",
            pending.join("\n")
        )));
    }
    let rto = minutes(st.dr.rto_minutes, DEFAULT_RTO_MINUTES);
    let rpo = minutes(st.dr.rpo_minutes, DEFAULT_RPO_MINUTES);
    let (rto_grace, rpo_grace) = (grace(rto), grace(rpo));
    sh.status(&format!(
        "Drill {}: RPO objective {} (+{} grace) on {} bucket(s), RTO objective {} (+{} grace) \
         on {} standby(s).",
        run.record.run_id,
        secs_text(rpo.as_secs_f64()),
        secs_text(rpo_grace.as_secs_f64()),
        st.buckets.len(),
        secs_text(rto.as_secs_f64()),
        secs_text(rto_grace.as_secs_f64()),
        st.standbys.len()
    ));
    let cx = run.ctx(s);
    let clock = Clock::start();
    let run_id = run.record.run_id.clone();
    let canary = &st.dr.canary;
    let limits = Limits {
        rpo: rpo.as_secs_f64(),
        rpo_grace: rpo_grace.as_secs_f64(),
        rto: rto.as_secs_f64(),
        rto_grace: rto_grace.as_secs_f64(),
    };
    // Writes are attributed to the address they are for (audit request ids).
    let (buckets, standbys, artifacts) = futures::join!(
        join_all(st.buckets.iter().map(|b| CHANGE.scope(
            b.decl.address.clone(),
            rpo_probe(&cx, b, &run_id, &clock, &limits)
        ))),
        join_all(st.standbys.iter().map(|sb| CHANGE.scope(
            sb.decl.address.clone(),
            rto_probe(&cx, sb, &clock, &limits, canary)
        ))),
        join_all(st.models.iter().map(|m| artifact_probe(&cx, m))),
    );
    let measured_s = clock.now();
    let probe_writes: Vec<usize> = st
        .buckets
        .iter()
        .map(|b| b.decl)
        .chain(st.standbys.iter().map(|sb| sb.decl))
        .map(|d| s.aws.requests.for_address(&d.address).len())
        .collect();
    let teardown = if o.teardown {
        Some(teardown_all(&cx, st, &buckets, &clock).await)
    } else {
        None
    };
    let ended_s = clock.now();

    let errors: Vec<String> = buckets
        .iter()
        .chain(&standbys)
        .chain(&artifacts)
        .filter_map(|v| {
            v["error"]
                .as_str()
                .map(|e| format!("{}: {e}", v["address"]))
        })
        .collect();
    let worst = |items: &[Value], field: &str| -> Option<f64> {
        items
            .iter()
            .map(|v| v[field].as_f64())
            .collect::<Option<Vec<f64>>>()
            .and_then(|v| v.into_iter().reduce(f64::max))
    };
    let all_met = |items: &[Value]| items.iter().all(|v| v["met"] == true);
    let rpo_met = all_met(&buckets);
    let rto_met = all_met(&standbys);
    let artifacts_ok = artifacts.iter().all(|v| v["match"] == true);
    let (result, code) = if !errors.is_empty() {
        ("error", 1)
    } else if rpo_met && rto_met && artifacts_ok {
        ("pass", 0)
    } else {
        ("fail", 3)
    };
    let spec = &s.model.spec.spec;
    let doc = json!({
        "format_version": report::FORMAT_VERSION,
        "kind": "novactl-dr-drill",
        "run_id": run_id,
        "environment": spec.environment,
        "spec_file": s.spec_file.display().to_string(),
        "spec_digest": s.model.digest,
        "caller": {"account": s.caller.account, "arn": s.caller.arn},
        "primary_region": spec.region,
        "dr_region": st.dr.region,
        "converged_check": {
            "started_at": check_started,
            "plan_digest": run.record.plan_digest,
            "dr_changes_pending": 0,
        },
        "started_at": clock.stamp(0.0),
        "ended_at": clock.stamp(ended_s),
        "measured_seconds": measured_s,
        "duration_seconds": ended_s,
        "result": result,
        "exit_code": code,
        "errors": errors,
        "rpo": {
            "objective_seconds": limits.rpo,
            "grace_seconds": limits.rpo_grace,
            "measured_seconds": worst(&buckets, "lag_seconds"),
            "met": rpo_met,
            "buckets": buckets,
        },
        "rto": {
            "objective_seconds": limits.rto,
            "grace_seconds": limits.rto_grace,
            "measured_seconds": worst(&standbys, "rto_seconds"),
            "met": rto_met,
            "endpoints": standbys,
        },
        "artifacts": {"ok": artifacts_ok, "models": artifacts},
        "teardown": teardown,
        "aws_calls": s.aws.stats.calls().len(),
    });
    record(run, s, st, &doc, &probe_writes);
    if let Some(p) = &o.report {
        write_report(p, &doc)?;
        sh.status(&format!(
            "Wrote the evidence report to {} and {}.",
            p.display(),
            p.with_extension("md").display()
        ));
    }
    if let Err(e) = run.backend.put_doc(DRILL_DOC, &doc).await {
        sh.warn(&format!(
            "the drill report was not saved as `{DRILL_DOC}`: {e}"
        ));
    }
    sh.out(&report::markdown(&doc));
    if teardown.is_none() && !st.standbys.is_empty() {
        sh.warn(
            "the standby stays promoted (no --teardown): `novactl apply` returns it to its warm \
             size; the canary objects stay under novactl-drill/",
        );
    }
    sh.status(&s.aws.summary());
    for e in &errors {
        sh.error(e);
    }
    sh.status(&format!(
        "Drill {result}: RPO {} (objective {}), RTO {} (objective {}){}.",
        measured_text(&doc["rpo"]),
        secs_text(limits.rpo),
        measured_text(&doc["rto"]),
        secs_text(limits.rto),
        artifact_verdict(&artifacts)
    ));
    Ok(code)
}

/// The drill line's words on the artifacts: nothing when they all match; the first one missing
/// from its primary bucket (apply said so too: "not in the primary bucket yet"); else that one
/// differs between the regions.
fn artifact_verdict(artifacts: &[Value]) -> String {
    if artifacts.iter().all(|v| v["match"] == true) {
        return String::new();
    }
    let missing = artifacts
        .iter()
        .find(|v| v["source"]["exists"] == false)
        .and_then(|v| v["source"]["uri"].as_str());
    match missing {
        Some(uri) => format!(", the model artifact {uri} is not in the primary bucket yet"),
        None => ", an artifact differs between the regions".to_string(),
    }
}

struct Limits {
    rpo: f64,
    rpo_grace: f64,
    rto: f64,
    rto_grace: f64,
}

fn minutes(v: Option<f64>, default: f64) -> Duration {
    Duration::from_secs_f64(v.unwrap_or(default) * 60.0)
}

fn secs_text(s: f64) -> String {
    if s >= 120.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{s:.2} s")
    }
}

fn measured_text(v: &Value) -> String {
    match v["measured_seconds"].as_f64() {
        Some(s) => format!(
            "{} {}",
            secs_text(s),
            if v["met"] == true { "met" } else { "MISSED" }
        ),
        None => "not measured (MISSED)".into(),
    }
}

/// The drill's evidence in the audit record: the report as `details`, and its writes (canary
/// objects, promotions, teardown) as changes with their request ids.
fn record(run: &mut Run, s: &Session, st: &Stack<'_>, doc: &Value, probe_writes: &[usize]) {
    run.record.details = doc.clone();
    run.record.notes.push(format!(
        "dr drill {}: RPO {}, RTO {}",
        doc["result"],
        measured_text(&doc["rpo"]),
        measured_text(&doc["rto"])
    ));
    let probes = doc["rpo"]["buckets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| ("drill-canary", b))
        .chain(
            doc["rto"]["endpoints"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| ("drill-promote", e)),
        );
    let decls = st
        .buckets
        .iter()
        .map(|b| b.decl)
        .chain(st.standbys.iter().map(|sb| sb.decl));
    for (((action, v), d), &n) in probes.zip(decls).zip(probe_writes) {
        let error = v["error"].as_str().map(str::to_string);
        run.record
            .changes
            .push(audit_change(s, &d.address, action, error, 0));
        if !doc["teardown"].is_null() {
            let c = audit_change(s, &d.address, "drill-teardown", None, n);
            if !c.writes.is_empty() {
                run.record.changes.push(c);
            }
        }
    }
}

fn write_report(p: &Path, doc: &Value) -> Result<(), Failure> {
    let json = serde_json::to_string_pretty(doc).expect("a report serialises");
    let md = p.with_extension("md");
    std::fs::write(p, json + "\n")
        .and_then(|_| std::fs::write(&md, report::markdown(doc)))
        .map_err(|e| Failure::Usage(format!("cannot write the report {}: {e}", p.display())))
}

fn canary_key(run_id: &str) -> String {
    format!("{CANARY_PREFIX}{run_id}.json")
}

fn hex_of(b64: &str) -> Option<String> {
    aws_smithy_types::base64::decode(b64).ok().map(hex::encode)
}

async fn rpo_probe(
    cx: &Ctx<'_>,
    b: &BucketPair<'_>,
    run_id: &str,
    clock: &Clock,
    l: &Limits,
) -> Value {
    match rpo_measure(cx, b, run_id, clock, l).await {
        Ok(v) => v,
        Err(e) => json!({
            "address": b.decl.address,
            "source_bucket": b.source,
            "replica_bucket": b.twin,
            "error": e.to_string(),
            "met": false,
        }),
    }
}

async fn rpo_measure(
    cx: &Ctx<'_>,
    b: &BucketPair<'_>,
    run_id: &str,
    clock: &Clock,
    l: &Limits,
) -> Result<Value, AwsError> {
    let key = canary_key(run_id);
    let body = json!({
        "novactl": "dr drill canary",
        "run_id": run_id,
        "bucket": b.source,
        "written_at": crate::state::now_rfc3339(),
    })
    .to_string();
    let src = &cx.clients(&b.source_region).s3;
    let put_s = clock.now();
    let out = src
        .put_object()
        .bucket(&b.source)
        .key(&key)
        .content_type("application/json")
        .body(ByteStream::from(body.into_bytes()))
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .send()
        .await
        .map_err(AwsError::from_sdk("s3:PutObject"))?;
    let written_s = clock.now();
    let version = out.version_id().map(str::to_string);
    let sha = out.checksum_sha256().unwrap_or_default().to_string();
    let deadline = written_s + l.rpo + l.rpo_grace;
    let twin_s3 = &cx.clients(&b.decl.region).s3;
    let mut reads = 0;
    let mut seen = None;
    loop {
        reads += 1;
        if let Some(h) = head(twin_s3, &b.twin, &key, None).await? {
            let replica_sha = match &h.sha256 {
                Some(x) => x.clone(),
                None => compute_sha256(twin_s3, &b.twin, &key, &h.version_id).await?,
            };
            if replica_sha == sha {
                seen = Some((clock.now(), h, replica_sha));
                break;
            }
        }
        let t = clock.now();
        if t >= deadline {
            break;
        }
        let wait = poll_interval(Duration::from_secs_f64(t - written_s));
        tokio::time::sleep(wait.min(Duration::from_secs_f64(deadline - t))).await;
    }
    let source_after = head(src, &b.source, &key, version.as_deref()).await?;
    let metrics = replication_metrics(cx, b).await;
    let lag = seen.as_ref().map(|(t, _, _)| round3(t - written_s));
    let met = lag.is_some_and(|x| x <= l.rpo);
    Ok(json!({
        "address": b.decl.address,
        "source_bucket": b.source,
        "replica_bucket": b.twin,
        "key": key,
        "version_id": version,
        "sha256": sha,
        "sha256_hex": hex_of(&sha),
        "server_side_encryption": out.server_side_encryption().map(|x| x.as_str().to_string()),
        "kms_key_id": out.ssekms_key_id(),
        "put_seconds": round3(written_s - put_s),
        "written_at": clock.stamp(written_s),
        "written_s": written_s,
        "replica_seen_at": seen.as_ref().map(|(t, _, _)| clock.stamp(*t)),
        "replica_seen_s": seen.as_ref().map(|(t, _, _)| *t),
        "replica_version_id": seen.as_ref().map(|(_, h, _)| h.version_id.clone()),
        "replica_status": seen.as_ref().and_then(|(_, h, _)| h.replication_status.clone()),
        "replica_sha256": seen.as_ref().map(|(_, _, s)| s.clone()),
        "source_status": source_after.and_then(|h| h.replication_status),
        "reads": reads,
        "waited_until_s": round3(deadline),
        "lag_seconds": lag,
        "objective_seconds": l.rpo,
        "met": met,
        "missing": seen.is_none(),
        "missed_by_seconds": lag.map(|x| round3((x - l.rpo).max(0.0))),
        "missed_by_more_than_seconds": seen.is_none().then_some(l.rpo_grace),
        "metrics": metrics,
    }))
}

/// S3's own measure, where it publishes one: the maximum `ReplicationLatency` of the rule over
/// the last hour (CloudWatch `AWS/S3`, with RTC metrics on).
async fn replication_metrics(cx: &Ctx<'_>, b: &BucketPair<'_>) -> Value {
    let cw = &cx.clients(&b.source_region).cloudwatch;
    let dim = |n: &str, v: &str| Dimension::builder().name(n).value(v).build();
    let rule = crate::resources::dr::replication::rule_id(&b.decl.name);
    let end = std::time::SystemTime::now();
    let start = end - Duration::from_secs(3600);
    let out = cw
        .get_metric_statistics()
        .namespace("AWS/S3")
        .metric_name("ReplicationLatency")
        .dimensions(dim("SourceBucket", &b.source))
        .dimensions(dim("DestinationBucket", &b.twin))
        .dimensions(dim("RuleId", &rule))
        .start_time(end_time(start))
        .end_time(end_time(end))
        .period(60)
        .statistics(Statistic::Maximum)
        .send()
        .await;
    match out {
        Ok(o) => {
            let max = o
                .datapoints()
                .iter()
                .filter_map(|d| d.maximum())
                .reduce(f64::max);
            match max {
                Some(m) => json!({
                    "available": true,
                    "replication_latency_max_seconds": m,
                    "datapoints": o.datapoints().len(),
                }),
                None => json!({
                    "available": false,
                    "reason": "no ReplicationLatency datapoints in the last hour (S3 publishes \
                               them with RTC metrics, minutes after the fact)",
                }),
            }
        }
        Err(e) => json!({
            "available": false,
            "reason": AwsError::from_err("cloudwatch:GetMetricStatistics", e).to_string(),
        }),
    }
}

fn end_time(t: std::time::SystemTime) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from(t)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

async fn rto_probe(
    cx: &Ctx<'_>,
    sb: &Standby<'_>,
    clock: &Clock,
    l: &Limits,
    canary: &Canary,
) -> Value {
    match rto_measure(cx, sb, clock, l, canary).await {
        Ok(v) => v,
        // Not serving in time is a missed objective, not an error.
        Err(e) if e.code == "Timeout" => json!({
            "address": sb.decl.address,
            "endpoint": sb.name,
            "target_count": sb.target,
            "rto_seconds": null,
            "objective_seconds": l.rto,
            "met": false,
            "missed_by_more_than_seconds": l.rto_grace,
            "timeout": e.to_string(),
        }),
        Err(e) => json!({
            "address": sb.decl.address,
            "endpoint": sb.name,
            "error": e.to_string(),
            "met": false,
        }),
    }
}

async fn rto_measure(
    cx: &Ctx<'_>,
    sb: &Standby<'_>,
    clock: &Clock,
    l: &Limits,
    canary: &Canary,
) -> Result<Value, AwsError> {
    let deadline = l.rto + l.rto_grace;
    let p = promote(cx, sb, clock, deadline).await?;
    let promoted_s = clock.now();
    let (serving_s, canary_v) = if canary.invoke {
        let rt = &cx.clients(&sb.decl.region).runtime;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let out = rt
                .invoke_endpoint()
                .endpoint_name(&sb.name)
                .content_type(&canary.content_type)
                .body(Blob::new(canary.body.as_bytes()))
                .send()
                .await;
            match out {
                Ok(o) => {
                    let t = clock.now();
                    break (
                        Some(t),
                        json!({
                            "invoked": true,
                            "ok": true,
                            "attempts": attempts,
                            "at": clock.stamp(t),
                            "invoked_variant": o.invoked_production_variant(),
                            "content_type": o.content_type(),
                            "body_bytes": o.body().map(|b| b.as_ref().len()),
                        }),
                    );
                }
                Err(e) => {
                    let e = AwsError::from_err("sagemaker-runtime:InvokeEndpoint", e);
                    let t = clock.now();
                    if t >= deadline {
                        break (
                            None,
                            json!({"invoked": true, "ok": false, "attempts": attempts,
                                   "error": e.to_string()}),
                        );
                    }
                    tokio::time::sleep(poll_interval(Duration::from_secs_f64(t - promoted_s)))
                        .await;
                }
            }
        }
    } else {
        (
            Some(promoted_s),
            json!({
                "invoked": false,
                "skipped": "dr.canary.invoke is false: RTO is measured to InService at capacity \
                            with autoscaling registered",
            }),
        )
    };
    let requested = p.requested_s.unwrap_or(p.in_service_s);
    let rto = serving_s.map(round3);
    Ok(json!({
        "address": sb.decl.address,
        "endpoint": sb.name,
        "arn": p.arn,
        "config_name": p.config_name,
        "warm_count": sb.warm,
        "target_count": sb.target,
        "update_requested_s": p.requested_s,
        "in_service_s": p.in_service_s,
        "in_service_at": clock.stamp(p.in_service_s),
        "autoscaling_registered_s": p.registered_s,
        "serving_s": serving_s,
        "serving_at": serving_s.map(|t| clock.stamp(t)),
        "before_transition_seconds": round3(requested),
        "transition_seconds": round3(p.in_service_s - requested),
        "after_transition_seconds": serving_s.map(|t| round3(t - p.in_service_s)),
        "statuses": p.statuses,
        "autoscaling": sb.scaling,
        "canary": canary_v,
        "rto_seconds": rto,
        "objective_seconds": l.rto,
        "met": rto.is_some_and(|x| x <= l.rto),
        "missed_by_seconds": rto.map(|x| round3((x - l.rto).max(0.0))),
    }))
}

async fn artifact_probe(cx: &Ctx<'_>, m: &Decl) -> Value {
    match artifact_measure(cx, m).await {
        Ok(v) => v,
        Err(e) => json!({"address": m.address, "error": e.to_string(), "match": false}),
    }
}

/// One side of an artifact: where, which version, its SHA-256 and how it was obtained.
async fn artifact_side(cx: &Ctx<'_>, region: &str, uri: &str) -> Result<Value, AwsError> {
    let Some((bucket, key)) = dr::parse_s3_uri(uri) else {
        return Ok(json!({"uri": uri, "exists": false}));
    };
    let s3 = &cx.clients(region).s3;
    let Some(h) = head(s3, bucket, key, None).await? else {
        return Ok(json!({"uri": uri, "region": region, "exists": false}));
    };
    let (sha, how) = sha256_of(s3, bucket, key, &h).await?;
    Ok(json!({
        "uri": uri,
        "region": region,
        "exists": true,
        "version_id": h.version_id,
        "bytes": h.size,
        "sha256": sha,
        "sha256_hex": hex_of(&sha),
        "sha256_from": how,
    }))
}

async fn artifact_measure(cx: &Ctx<'_>, m: &Decl) -> Result<Value, AwsError> {
    let o = &m.outputs;
    let src_region = o["artifact_source_region"].as_str().unwrap_or_default();
    let (source, replica) = tokio::try_join!(
        artifact_side(
            cx,
            src_region,
            o["artifact_source"].as_str().unwrap_or_default()
        ),
        artifact_side(
            cx,
            &m.region,
            o["artifact_replica"].as_str().unwrap_or_default()
        ),
    )?;
    let same = source["exists"] == true && source["sha256"] == replica["sha256"];
    Ok(json!({"address": m.address, "source": source, "replica": replica, "match": same}))
}

/// Returns every standby to its warm size and deletes the canaries (every version, both
/// buckets).
async fn teardown_all(cx: &Ctx<'_>, st: &Stack<'_>, buckets: &[Value], clock: &Clock) -> Value {
    let started = clock.now();
    let standbys = join_all(st.standbys.iter().map(|sb| async move {
        match CHANGE.scope(sb.decl.address.clone(), demote(cx, sb)).await {
            Ok(wrote) => json!({"address": sb.decl.address, "endpoint": sb.name,
                                "count": sb.warm, "changed": wrote}),
            Err(e) => json!({"address": sb.decl.address, "endpoint": sb.name,
                             "error": e.to_string()}),
        }
    }))
    .await;
    let mut removed = 0;
    let mut errors = Vec::new();
    for (b, probe) in st.buckets.iter().zip(buckets) {
        let Some(key) = probe["key"].as_str() else {
            continue;
        };
        for (region, bucket) in [(&b.source_region, &b.source), (&b.decl.region, &b.twin)] {
            let deleted = CHANGE.scope(
                b.decl.address.clone(),
                delete_versions(cx, region, bucket, key),
            );
            match deleted.await {
                Ok(n) => removed += n,
                Err(e) => errors.push(format!("s3://{bucket}/{key}: {e}")),
            }
        }
    }
    json!({
        "started_s": started,
        "ended_s": clock.now(),
        "standbys": standbys,
        "canary_versions_removed": removed,
        "errors": errors,
    })
}

/// Deletes every version (and delete marker) of `key`: a canary leaves nothing behind.
async fn delete_versions(
    cx: &Ctx<'_>,
    region: &str,
    bucket: &str,
    key: &str,
) -> Result<usize, AwsError> {
    let s3 = &cx.clients(region).s3;
    let page = s3
        .list_object_versions()
        .bucket(bucket)
        .prefix(key)
        .send()
        .await
        .map_err(AwsError::from_sdk("s3:ListObjectVersions"))?;
    let versions: Vec<String> = page
        .versions()
        .iter()
        .filter(|v| v.key() == Some(key))
        .filter_map(|v| v.version_id().map(str::to_string))
        .chain(
            page.delete_markers()
                .iter()
                .filter(|m| m.key() == Some(key))
                .filter_map(|m| m.version_id().map(str::to_string)),
        )
        .collect();
    for v in &versions {
        s3.delete_object()
            .bucket(bucket)
            .key(key)
            .version_id(v)
            .send()
            .await
            .map_err(AwsError::from_sdk("s3:DeleteObject"))?;
    }
    Ok(versions.len())
}

#[cfg(test)]
mod tests {
    use super::artifact_verdict;
    use serde_json::json;

    #[test]
    fn the_verdict_names_a_missing_artifact_before_a_difference() {
        let ok = json!({"match": true, "source": {"exists": true}});
        let differs = json!({"match": false, "source": {"exists": true, "uri": "s3://a/m"}});
        let missing = json!({"match": false, "source": {"exists": false, "uri": "s3://b/m"}});
        assert_eq!(artifact_verdict(std::slice::from_ref(&ok)), "");
        assert_eq!(
            artifact_verdict(&[ok.clone(), differs.clone()]),
            ", an artifact differs between the regions"
        );
        assert_eq!(
            artifact_verdict(&[differs, missing]),
            ", the model artifact s3://b/m is not in the primary bucket yet"
        );
    }
}
