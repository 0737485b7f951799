//! A writing run (apply, destroy, dr): holds the environment's lock from before its first
//! write to its end, and leaves one audit record, whatever the outcome.
//!
//! ```text
//! let mut run = Run::begin(&session, "apply", sh).await?;   // lock (or refuse, naming holder)
//! ... plan, confirm, execute with run.ctx(&session) ...
//! run.record(&plan, &outcomes);
//! run.end(exit_code, sh).await;                              // audit record, unlock
//! ```

use std::sync::Arc;

use crate::apply::Outcome;
use crate::ops::session::Session;
use crate::ops::Failure;
use crate::plan::{Action, Plan};
use crate::resources::Ctx;
use crate::shell::Shell;
use crate::state::{self, AuditChange, AuditRecord, Backend, LockHandle, LockInfo, StateError};

/// Lease of a lock: a holder that has not renewed it for this long is presumed dead.
pub const LEASE_SECS: u64 = 15 * 60;

pub struct Run {
    pub backend: Arc<dyn Backend>,
    pub lock: Option<LockHandle>,
    pub record: AuditRecord,
}

impl Run {
    /// Takes the environment's lock for `command`; refuses at once when another run holds it.
    pub async fn begin(s: &Session, command: &str, sh: &Shell) -> Result<Run, Failure> {
        let backend = s.state.clone();
        backend.check_ready().await.map_err(state_failure)?;
        let run_id = state::new_id();
        let info = LockInfo {
            id: run_id.clone(),
            operation: command.to_string(),
            who: s.caller.arn.clone(),
            host: state::hostname(),
            pid: std::process::id(),
            created: state::now_rfc3339(),
            expires: state::in_rfc3339(LEASE_SECS),
            novactl_version: env!("CARGO_PKG_VERSION").into(),
        };
        let lock = backend.lock(info).await.map_err(state_failure)?;
        if let Some(old) = &lock.took_over {
            sh.warn(&format!(
                "took over the lock {} of `{}` by {} on {} (pid {}), whose run ended without \
                 releasing it (since {})",
                old.id, old.operation, old.who, old.host, old.pid, old.created
            ));
        }
        let spec = &s.model.spec.spec;
        let record = AuditRecord {
            run_id,
            command: command.to_string(),
            command_line: std::env::args().collect(),
            caller_arn: s.caller.arn.clone(),
            account_id: s.model.account_id.clone(),
            region: spec.region.clone(),
            environment: spec.environment.clone(),
            host: state::hostname(),
            novactl_version: env!("CARGO_PKG_VERSION").into(),
            spec_digest: s.model.digest.clone(),
            plan_digest: String::new(),
            started: state::now_rfc3339(),
            ended: String::new(),
            exit_status: 1,
            interrupted: false,
            changes: Vec::new(),
            notes: Vec::new(),
            details: serde_json::Value::Null,
        };
        Ok(Run {
            backend,
            lock: Some(lock),
            record,
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

    /// Records the plan's changes and their outcomes.
    pub fn record(&mut self, plan: &Plan, outcomes: &[Outcome]) {
        self.record.plan_digest = plan.digest();
        for c in plan.changes.iter().filter(|c| c.action != Action::NoOp) {
            let outcome = outcomes.iter().find(|o| o.address == c.address);
            let (result, error) = match outcome.map(|o| &o.result) {
                Some(Ok(())) => ("ok", None),
                Some(Err(e)) if e.code == "DependencyFailed" => ("skipped", Some(e.to_string())),
                Some(Err(e)) if e.code == crate::apply::INTERRUPTED => {
                    ("interrupted", Some(e.to_string()))
                }
                Some(Err(e)) => ("failed", Some(e.to_string())),
                None => ("not-started", None),
            };
            self.record.changes.push(AuditChange {
                address: c.address.clone(),
                action: serde_json::to_value(c.action)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                result: result.into(),
                error,
                request_ids: Vec::new(),
            });
        }
    }

    /// Writes the audit record and releases the lock. Failures here are warnings: the run's
    /// own result stands.
    ///
    /// An interrupted run (exit 130) is recorded as such. After an abort (a second signal) this
    /// gets [`crate::interrupt::ABORT_GRACE`] at most; the process ends regardless after that.
    pub async fn end(mut self, exit_status: i32, sh: &Shell) {
        self.record.ended = state::now_rfc3339();
        self.record.exit_status = exit_status;
        if exit_status == i32::from(crate::interrupt::EXIT_CODE) || crate::interrupt::stopping() {
            self.record.interrupted = true;
        }
        if let Err(e) = self.backend.audit_append(&self.record).await {
            sh.warn(&format!(
                "the audit record of run {} was not written: {e}",
                self.record.run_id
            ));
        }
        if let Some(lock) = self.lock.take() {
            match self.backend.unlock(&lock).await {
                Ok(()) if self.record.interrupted => {
                    sh.notice(&format!("released the lock {}", lock.info.id))
                }
                Ok(()) => {}
                Err(e) => sh.warn(&format!("the lock {} was not released: {e}", lock.info.id)),
            }
        }
    }
}

pub fn state_failure(e: StateError) -> Failure {
    Failure::Reported(e.to_string())
}
