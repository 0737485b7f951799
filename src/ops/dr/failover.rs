//! `dr failover`: the real promotion of the standby; `dr failback`: its return to warm size.
//!
//! # Expected flow (failover)
//! 1. Lock (through `Run`).
//! 2. The backend document `dr-failover` is marked promoted *first*, so that an interrupted
//!    failover still keeps plan and apply from scaling the standby back down.
//! 3. Every standby is promoted ([`super::promote`]: scaled in place to the primary's count,
//!    InService, the primary's autoscaling registered), each within its `timeout_minutes`.
//! 4. stdout gets one line per endpoint to route traffic to: address, name, ARN.
//!
//! Only the DR region is read and written (apart from the identity check every command makes),
//! so a failover works while the primary region is down.
//!
//! # Guarantees
//! Repeat-safe: a second failover reads, finds every standby promoted and writes nothing.
//!
//! # Fail back
//! `dr failback` clears the mark and returns every standby to `dr.instance_count` without
//! autoscaling. It asks for confirmation (or `--auto-approve`): traffic must be routed back to
//! the primary first.

use std::process::ExitCode;

use serde_json::json;

use super::{audit_change, demote, promote, stack, Clock, Stack, FAILOVER_DOC};
use crate::aws::CHANGE;
use crate::ops::options::GlobalOptions;
use crate::ops::run::{state_failure, Run};
use crate::ops::session::{confirm, Session};
use crate::ops::Failure;
use crate::shell::Shell;

pub async fn failover(g: &GlobalOptions, sh: &Shell) -> Result<ExitCode, Failure> {
    let s = Session::connect(g, sh).await?;
    let st = standbys(&s)?;
    let mut run = Run::begin(&s, "dr failover", sh).await?;
    let result = failover_locked(&s, &st, &mut run, sh).await;
    run.end(if result.is_ok() { 0 } else { 1 }, sh).await;
    result
}

fn standbys<'a>(s: &'a Session) -> Result<Stack<'a>, Failure> {
    let st = stack(s)?;
    if st.standbys.is_empty() {
        return Err(Failure::Usage(
            "no standby to promote: dr.replicate.sagemaker_endpoints is empty".into(),
        ));
    }
    Ok(st)
}

async fn failover_locked(
    s: &Session,
    st: &Stack<'_>,
    run: &mut Run,
    sh: &Shell,
) -> Result<ExitCode, Failure> {
    let backend = run.backend.clone();
    let doc = backend.get_doc(FAILOVER_DOC).await.map_err(state_failure)?;
    let at = match doc.filter(|d| d["promoted"] == true) {
        Some(d) => d["at"].as_str().unwrap_or_default().to_string(),
        None => {
            let at = crate::state::now_rfc3339();
            let mark = json!({
                "promoted": true,
                "at": at,
                "run_id": run.record.run_id,
                "by": s.caller.arn,
                "endpoints": st.standbys.iter().map(|sb| &sb.decl.address).collect::<Vec<_>>(),
            });
            backend
                .put_doc(FAILOVER_DOC, &mark)
                .await
                .map_err(state_failure)?;
            at
        }
    };
    let cx = run.ctx(s);
    let clock = Clock::start();
    let mut lines = Vec::new();
    let mut details = Vec::new();
    let mut failed = Vec::new();
    let mut changes = Vec::new();
    for sb in &st.standbys {
        let task = sh.task(&sb.decl.address, &format!("promote {}", sb.decl.address));
        let deadline = clock.now() + sb.timeout.as_secs_f64();
        let promoted = CHANGE
            .scope(sb.decl.address.clone(), promote(&cx, sb, &clock, deadline))
            .await;
        match promoted {
            Ok(p) => {
                task.finish(if p.wrote {
                    "promoted"
                } else {
                    "already promoted"
                });
                lines.push(format!("{} {} {}", sb.decl.address, sb.name, p.arn));
                details.push(json!({
                    "address": sb.decl.address, "endpoint": sb.name, "arn": p.arn,
                    "region": sb.decl.region, "instances": sb.target,
                    "autoscaling": sb.scaling, "changed": p.wrote,
                    "in_service_s": p.in_service_s,
                }));
                if p.wrote {
                    changes.push(audit_change(s, &sb.decl.address, "failover", None, 0));
                }
            }
            Err(e) => {
                task.finish(&format!("failed: {e}"));
                changes.push(audit_change(
                    s,
                    &sb.decl.address,
                    "failover",
                    Some(e.to_string()),
                    0,
                ));
                failed.push(format!("  {}: {e}", sb.decl.address));
            }
        }
    }
    run.record.changes.extend(changes);
    run.record.details = json!({"promoted_at": at, "endpoints": details});
    run.record
        .notes
        .push(format!("dr failover: standby promoted since {at}"));
    sh.out(&lines.join("\n"));
    sh.status(&s.aws.summary());
    if !failed.is_empty() {
        return Err(Failure::Reported(format!(
            "failover failed for {} standby(s); run it again to resume:\n{}",
            failed.len(),
            failed.join("\n")
        )));
    }
    sh.status(&format!(
        "Failover complete: route traffic to the endpoint(s) above in {}. Plan and apply keep \
         them at the primary's capacity until `novactl dr failback`.",
        st.dr.region
    ));
    Ok(ExitCode::SUCCESS)
}

pub struct FailbackOptions {
    pub auto_approve: bool,
}

pub async fn failback(
    g: &GlobalOptions,
    o: &FailbackOptions,
    sh: &Shell,
) -> Result<ExitCode, Failure> {
    let s = Session::connect(g, sh).await?;
    let st = standbys(&s)?;
    let mut run = Run::begin(&s, "dr failback", sh).await?;
    let result = failback_locked(&s, &st, &mut run, o, sh).await;
    run.end(if result.is_ok() { 0 } else { 1 }, sh).await;
    result
}

async fn failback_locked(
    s: &Session,
    st: &Stack<'_>,
    run: &mut Run,
    o: &FailbackOptions,
    sh: &Shell,
) -> Result<ExitCode, Failure> {
    confirm(
        o.auto_approve,
        sh,
        &format!(
            "return the standby in {} to its warm size (route traffic back to the primary first)",
            st.dr.region
        ),
    )
    .await?;
    let cx = run.ctx(s);
    let mut failed = Vec::new();
    let mut changes = Vec::new();
    for sb in &st.standbys {
        let task = sh.task(
            &sb.decl.address,
            &format!("return {} to {} instance(s)", sb.decl.address, sb.warm),
        );
        match CHANGE.scope(sb.decl.address.clone(), demote(&cx, sb)).await {
            Ok(wrote) => {
                task.finish(if wrote { "done" } else { "already warm" });
                if wrote {
                    changes.push(audit_change(s, &sb.decl.address, "failback", None, 0));
                }
            }
            Err(e) => {
                task.finish(&format!("failed: {e}"));
                changes.push(audit_change(
                    s,
                    &sb.decl.address,
                    "failback",
                    Some(e.to_string()),
                    0,
                ));
                failed.push(format!("  {}: {e}", sb.decl.address));
            }
        }
    }
    run.record.changes.extend(changes);
    if !failed.is_empty() {
        return Err(Failure::Reported(format!(
            "failback failed for {} standby(s); the standby stays marked promoted; run it again:\n{}",
            failed.len(),
            failed.join("\n")
        )));
    }
    let mark = json!({
        "promoted": false,
        "failed_back_at": crate::state::now_rfc3339(),
        "run_id": run.record.run_id,
        "by": s.caller.arn,
    });
    run.backend
        .put_doc(FAILOVER_DOC, &mark)
        .await
        .map_err(state_failure)?;
    run.record
        .notes
        .push("dr failback: standby warm again".into());
    sh.status(&s.aws.summary());
    sh.status("Failback complete: the standby is warm again.");
    Ok(ExitCode::SUCCESS)
}
