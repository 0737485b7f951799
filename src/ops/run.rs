//! A writing run (apply, destroy, dr, bootstrap): holds the environment's lock from before its
//! first write to its end, and leaves one audit record, whatever the outcome.
//!
//! ```text
//! let mut run = Run::begin(&session, "apply", sh).await?;   // lock (or wait, or refuse)
//! ... plan, confirm, run.still_held()?, execute with run.ctx(&session) ...
//! run.record(&plan, &outcomes);
//! run.end(exit_code, sh).await;                              // audit record, unlock
//! ```
//!
//! # Guarantees
//! * The lock is taken before the plan, so a run that waited for another plans against what
//!   that one left.
//! * While the run lives, a background task renews the lease every third of it
//!   ([`state::lease`]). If the lock is lost meanwhile (this process stalled past its lease
//!   and another run took it over), [`Run::still_held`] refuses to start changes and
//!   [`Run::end`] leaves the other run's lock alone.
//! * A lock taken over from a run that died is said so on stderr, and that run gets an audit
//!   record marked interrupted (with the creates its journal left open).
//!
//! # Errors
//! Refusal names the holder, since when, its lock id and the `force-unlock` command; with
//! `--lock-timeout` the run waits first (a countdown on a terminal).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::apply::{ChangeStatus, Outcome};
use crate::aws::RequestLog;
use crate::ops::session::Session;
use crate::ops::Failure;
use crate::plan::{Action, Plan};
use crate::resources::Ctx;
use crate::shell::Shell;
use crate::state::{self, AuditChange, AuditRecord, Backend, LockHandle, LockInfo, StateError};

/// The named backend document apply keeps (see [`Run::save_last_applied`]).
pub const LAST_APPLIED: &str = "last-applied";

/// How often a waiting run (`--lock-timeout`) tries the lock again.
const POLL: Duration = Duration::from_millis(500);

pub struct Run {
    pub backend: Arc<dyn Backend>,
    pub record: AuditRecord,
    lease: Option<Lease>,
    /// Write an audit record at the end (not for `plan --lock`).
    audit: bool,
    requests: Arc<RequestLog>,
}

/// The held lock and the task that renews it.
struct Lease {
    handle: Arc<tokio::sync::Mutex<LockHandle>>,
    /// Set by the renewer when the lock turned out to be someone else's.
    lost: Arc<Mutex<Option<String>>>,
    renewer: tokio::task::JoinHandle<()>,
}

impl Run {
    /// Takes the environment's lock for `command` (waiting up to `--lock-timeout`); refuses,
    /// naming the holder, when another run keeps it.
    pub async fn begin(s: &Session, command: &str, sh: &Shell) -> Result<Run, Failure> {
        Run::start(s, command, sh, true).await
    }

    /// The lock without an audit record: `plan --lock`, for pipelines that serialise plan and
    /// apply.
    pub async fn lock_only(s: &Session, command: &str, sh: &Shell) -> Result<Run, Failure> {
        Run::start(s, command, sh, false).await
    }

    async fn start(s: &Session, command: &str, sh: &Shell, audit: bool) -> Result<Run, Failure> {
        let backend = s.state.clone();
        backend.check_ready().await.map_err(state_failure)?;
        let run_id = state::take_run_id();
        let info = LockInfo {
            id: run_id.clone(),
            operation: command.to_string(),
            who: s.caller.who().to_string(),
            host: state::hostname(),
            pid: std::process::id(),
            created: String::new(),
            expires: String::new(),
            novactl_version: env!("CARGO_PKG_VERSION").into(),
        };
        let lock = acquire(s, info, sh).await?;
        let mut record = AuditRecord::new(
            run_id,
            command,
            &s.caller,
            &s.model.account_id,
            &s.model.spec.spec,
            &s.model.digest,
        );
        record.started = lock.info.created.clone();
        if let Some(old) = &lock.took_over {
            sh.warn(&format!(
                "took over the lock {} of `{}` by {} on {} (pid {}, since {}): that run ended \
                 without releasing it{}",
                old.id,
                old.operation,
                old.who,
                old.host,
                old.pid,
                old.created,
                if state::has_passed(&old.expires) {
                    format!(" and its lease expired at {}", old.expires)
                } else {
                    String::new()
                }
            ));
            record_dead_run(backend.as_ref(), old, &record, sh).await;
        }
        let lease = Lease::keep(backend.clone(), lock);
        crate::faults::pause("lock.acquired").await;
        Ok(Run {
            backend,
            record,
            lease: Some(lease),
            audit,
            requests: s.aws.requests.clone(),
        })
    }

    /// A reconciler context that writes the create journal and inventory of this run.
    pub fn ctx<'a>(&'a self, s: &'a Session) -> Ctx<'a> {
        Ctx {
            state: Some(self.backend.as_ref()),
            run_id: &self.record.run_id,
            ..s.ctx()
        }
    }

    /// Refuses to go on when the lock was lost (taken over after this run's lease expired).
    pub fn still_held(&self) -> Result<(), Failure> {
        match self.lost() {
            Some(why) => Err(Failure::Reported(format!("not starting any change: {why}"))),
            None => Ok(()),
        }
    }

    fn lost(&self) -> Option<String> {
        self.lease
            .as_ref()
            .and_then(|l| l.lost.lock().expect("lost flag").clone())
    }

    /// Records the plan's changes and their outcomes, with the AWS request ids of each
    /// change's writes. A change with no outcome is `not-started`, or `interrupted` when it
    /// made writes.
    pub fn record(&mut self, plan: &Plan, outcomes: &[Outcome]) {
        self.record.plan_digest = plan.digest();
        for c in plan.changes.iter().filter(|c| c.action != Action::NoOp) {
            let outcome = outcomes.iter().find(|o| o.address == c.address);
            let writes = self.requests.for_address(&c.address);
            let result = ChangeStatus::of(outcome, c.action, !writes.is_empty());
            let error = outcome
                .and_then(|o| o.result.error())
                .map(|e| e.to_string());
            self.record.changes.push(AuditChange {
                address: c.address.clone(),
                action: serde_json::to_value(c.action)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                result: result.as_str().into(),
                error,
                request_ids: writes.iter().map(|w| w.request_id.clone()).collect(),
                writes: writes.into_iter().map(|w| w.operation).collect(),
                notes: crate::aws::change_notes(&c.address),
            });
        }
    }

    /// Updates the `last-applied` document after an apply: for every address the plan left
    /// converged (no-op, or changed successfully), the digest of its desired state as the spec
    /// gives it ([`crate::engine::spec_digest`]) with this run's id and time. Other tools read it
    /// to tell drift (same digest, live state moved) from a spec change (new digest).
    pub async fn save_last_applied(
        &self,
        model: &crate::engine::Model,
        plan: &Plan,
        outcomes: &[Outcome],
        sh: &Shell,
    ) {
        let mut doc = match self.backend.get_doc(LAST_APPLIED).await {
            Ok(Some(d)) if d.get("addresses").is_some_and(serde_json::Value::is_object) => d,
            _ => serde_json::json!({"format_version": "1", "addresses": {}}),
        };
        let now = state::now_rfc3339();
        // A rename carried out: the old address's record is gone (the new one's follows).
        for m in &plan.moved {
            let done = outcomes
                .iter()
                .any(|o| o.address == m.to && o.result.is_done());
            if done {
                if let Some(a) = doc["addresses"].as_object_mut() {
                    a.remove(&m.from);
                }
            }
        }
        let done: std::collections::HashSet<&str> = outcomes
            .iter()
            .filter(|o| o.result.is_done())
            .map(|o| o.address.as_str())
            .collect();
        for c in &plan.changes {
            let ok = c.action == Action::NoOp || done.contains(c.address.as_str());
            if !ok || c.action == Action::Conflict {
                continue;
            }
            // Also for what left the spec: `drift` reads a record as "the last apply had it".
            if c.action == Action::Delete {
                doc["addresses"]
                    .as_object_mut()
                    .expect("checked above")
                    .remove(&c.address);
                continue;
            }
            let Some(d) = model.decl(&c.address) else {
                continue;
            };
            if let Some(digest) = crate::engine::spec_digest(model, d) {
                doc["addresses"][&c.address] = serde_json::json!({
                    "digest": digest,
                    "run_id": self.record.run_id,
                    "time": now,
                });
            }
        }
        if let Err(e) = self.backend.put_doc(LAST_APPLIED, &doc).await {
            sh.warn(&format!("the {LAST_APPLIED} document was not written: {e}"));
        }
    }

    /// Writes the audit record and releases the lock. Failures here are warnings: the run's
    /// own result stands.
    ///
    /// An interrupted run (exit 130) is recorded as such. After an abort (a second signal) this
    /// gets [`crate::interrupt::ABORT_GRACE`] at most; the process ends regardless after that.
    pub async fn end(mut self, exit_status: i32, sh: &Shell) {
        let lease = self.lease.take();
        if let Some(l) = &lease {
            l.renewer.abort();
        }
        if let Some(why) = self.lost() {
            sh.warn(&why);
            self.record
                .notes
                .push(format!("lock lost during the run: {why}"));
        }
        self.record.ended = state::now_rfc3339();
        self.record.exit_status = exit_status;
        if exit_status == i32::from(crate::interrupt::EXIT_CODE) || crate::interrupt::stopping() {
            self.record.interrupted = true;
        }
        // No sensitive value enters the audit trail, not even inside an AWS error message.
        let scrub = |s: &mut String| *s = crate::redact::scrub(s).into_owned();
        self.record.command_line.iter_mut().for_each(scrub);
        self.record.notes.iter_mut().for_each(scrub);
        for c in &mut self.record.changes {
            c.error.iter_mut().for_each(scrub);
        }
        if self.audit {
            if let Err(e) = self.backend.audit_append(&self.record).await {
                sh.warn(&format!(
                    "the audit record of run {} was not written: {e}",
                    self.record.run_id
                ));
            }
        }
        if let Some(l) = lease {
            let handle = l.handle.lock().await;
            match self.backend.unlock(&handle).await {
                Ok(()) if self.record.interrupted => {
                    sh.notice(&format!("released the lock {}", handle.info.id))
                }
                Ok(()) => {}
                // Reported above (or now): the other run's lock stays.
                Err(StateError::Lost(m)) if self.lost().is_some() => tracing::debug!("{m}"),
                Err(e) => sh.warn(&format!(
                    "the lock {} was not released: {e}",
                    handle.info.id
                )),
            }
        }
    }
}

impl Lease {
    /// Renews `lock` every third of the lease until aborted, or until the lock is lost.
    fn keep(backend: Arc<dyn Backend>, lock: LockHandle) -> Lease {
        let handle = Arc::new(tokio::sync::Mutex::new(lock));
        let lost = Arc::new(Mutex::new(None));
        let lease = state::lease();
        let period = lease / 3;
        let renewer = {
            let (handle, lost) = (handle.clone(), lost.clone());
            tokio::spawn(async move {
                let mut tick =
                    tokio::time::interval_at(tokio::time::Instant::now() + period, period);
                loop {
                    tick.tick().await;
                    let mut h = handle.lock().await;
                    match backend.renew(&mut h, state::in_rfc3339(lease)).await {
                        Ok(()) => {
                            tracing::debug!(lock = %h.info.id, until = %h.info.expires, "lock lease renewed")
                        }
                        Err(StateError::Lost(m)) => {
                            tracing::warn!("{m}");
                            *lost.lock().expect("lost flag") = Some(m);
                            return;
                        }
                        // Transient (the next tick tries again before the lease runs out).
                        Err(e) => tracing::warn!("renewing the lock lease failed: {e}"),
                    }
                }
            })
        };
        Lease {
            handle,
            lost,
            renewer,
        }
    }
}

/// Takes the lock, waiting up to the session's `--lock-timeout` while another run holds it.
async fn acquire(s: &Session, mut info: LockInfo, sh: &Shell) -> Result<LockHandle, Failure> {
    let started = Instant::now();
    let deadline = started + s.lock_timeout;
    let mut waiting: Option<crate::shell::Task<'_>> = None;
    loop {
        info.created = state::now_rfc3339();
        info.expires = state::in_rfc3339(state::lease());
        match s.state.lock(info.clone()).await {
            Ok(h) => {
                if let Some(t) = waiting {
                    t.finish("acquired");
                }
                return Ok(h);
            }
            Err(StateError::Locked(holder)) => {
                let now = Instant::now();
                if now >= deadline {
                    if let Some(t) = waiting {
                        t.finish("gave up");
                    }
                    let waited = if s.lock_timeout.is_zero() {
                        String::new()
                    } else {
                        format!(" (waited {})", humantime::format_duration(s.lock_timeout))
                    };
                    return Err(Failure::Reported(format!(
                        "{}{waited}",
                        state::held_message(&holder, &s.spec_file.display().to_string())
                    )));
                }
                let left = deadline - now;
                let task = waiting.get_or_insert_with(|| {
                    sh.task(
                        "(lock)",
                        &format!(
                            "waiting up to {} for the lock held by {} (`{}` on {}, since {})",
                            humantime::format_duration(s.lock_timeout),
                            holder.who,
                            holder.operation,
                            holder.host,
                            holder.created
                        ),
                    )
                });
                task.set_message(&format!("{}s left", left.as_secs() + 1));
                crate::interrupt::sleep(POLL.min(left)).await;
                crate::interrupt::check("while waiting for the lock")?;
            }
            Err(e) => return Err(state_failure(e)),
        }
    }
}

/// An audit record for a run that died holding the lock (taken over now): what it was, who ran
/// it, and the creates its journal left open.
async fn record_dead_run(backend: &dyn Backend, old: &LockInfo, now: &AuditRecord, sh: &Shell) {
    if old.operation == "plan" {
        return; // `plan --lock` writes nothing and keeps no record
    }
    let open = backend.open_intents().await.unwrap_or_default();
    let rec = AuditRecord {
        run_id: old.id.clone(),
        command: old.operation.clone(),
        command_line: Vec::new(),
        caller_arn: old.who.clone(),
        assumed_role: None,
        account_id: now.account_id.clone(),
        region: now.region.clone(),
        environment: now.environment.clone(),
        host: old.host.clone(),
        novactl_version: old.novactl_version.clone(),
        spec_digest: String::new(),
        plan_digest: String::new(),
        started: old.created.clone(),
        ended: String::new(),
        exit_status: -1,
        interrupted: true,
        changes: open
            .into_iter()
            .filter(|i| i.run_id == old.id)
            .map(|i| AuditChange {
                address: i.address,
                action: "create".into(),
                result: "interrupted".into(),
                error: None,
                request_ids: Vec::new(),
                writes: Vec::new(),
                notes: Vec::new(),
            })
            .collect(),
        notes: vec![format!(
            "the run ended without releasing the lock (killed, or its host lost); recorded by \
             run {} when it took the lock over at {}",
            now.run_id, now.started
        )],
        details: serde_json::Value::Null,
    };
    if let Err(e) = backend.audit_append(&rec).await {
        sh.warn(&format!(
            "the audit record of the interrupted run {} was not written: {e}",
            old.id
        ));
    }
}

pub fn state_failure(e: StateError) -> Failure {
    Failure::Reported(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::AwsError;

    #[test]
    fn each_change_gets_the_result_its_outcome_or_its_writes_say() {
        use crate::apply::ChangeResult;
        let outcome = |r: ChangeResult| Outcome {
            address: "kms.a".into(),
            result: r,
        };
        let failed = outcome(ChangeResult::of(Err(AwsError::local(
            "kms:CreateKey",
            "AccessDenied",
            "no",
        ))));
        let skipped = outcome(ChangeResult::Skipped(AwsError::local(
            "novactl:apply",
            "DependencyFailed",
            "x",
        )));
        let stopped = outcome(ChangeResult::of(Err(AwsError::local(
            "sagemaker:DescribeEndpoint",
            crate::interrupt::INTERRUPTED,
            "stopped waiting",
        ))));
        let cases = [
            (
                Some(outcome(ChangeResult::Done)),
                Action::Create,
                true,
                "ok",
            ),
            (Some(failed), Action::Create, true, "failed"),
            (Some(skipped), Action::Update, false, "skipped"),
            (Some(stopped), Action::Create, true, "interrupted"),
            (None, Action::Create, true, "interrupted"),
            (None, Action::Create, false, "not-started"),
            (None, Action::Conflict, false, "refused"),
        ];
        for (o, action, wrote, want) in cases {
            let got = ChangeStatus::of(o.as_ref(), action, wrote);
            let error = o.as_ref().and_then(|o| o.result.error());
            assert_eq!(got.as_str(), want, "{action:?}, wrote {wrote}");
            assert_eq!(error.is_some(), o.is_some() && want != "ok");
        }
    }
}
