//! The state backend's own commands: `history` (the audit trail), `state list` (the
//! inventory) and `force-unlock`. The first two only read the backend (no lock, no AWS call
//! for the local backend).

use std::process::ExitCode;
use std::sync::Arc;

use crate::ops::options::GlobalOptions;
use crate::ops::run::state_failure;
use crate::ops::session::{confirm, connect_of, load, spec_path, Session};
use crate::ops::Failure;
use crate::shell::Shell;
use crate::state::{self, AuditRecord, Backend};

/// The spec's backend, checked to exist; no other AWS call.
async fn backend(g: &GlobalOptions) -> Result<Arc<dyn Backend>, Failure> {
    let model = load(g)?;
    let spec = &model.spec;
    let b = state::open(
        spec,
        &connect_of(g, spec)?,
        &spec_path(g)?.display().to_string(),
    )
    .await;
    b.check_ready().await.map_err(state_failure)?;
    Ok(b)
}

pub struct HistoryOptions {
    pub json: bool,
    pub limit: usize,
}

/// `history`: the newest runs first, each with every change, its result and request ids.
pub async fn history(
    g: &GlobalOptions,
    o: &HistoryOptions,
    sh: &Shell,
) -> Result<ExitCode, Failure> {
    let b = backend(g).await?;
    let records = b.audit_list(o.limit).await.map_err(state_failure)?;
    if o.json {
        sh.out(&serde_json::to_string_pretty(&records).expect("records serialise"));
    } else if records.is_empty() {
        sh.out(&format!("No runs recorded in {}.", b.describe()));
    } else {
        sh.out(&history_text(&records));
    }
    Ok(ExitCode::SUCCESS)
}

fn history_text(records: &[AuditRecord]) -> String {
    let mut s = String::new();
    for r in records {
        let status = match (r.interrupted, r.exit_status) {
            (true, _) => "INTERRUPTED".to_string(),
            (false, 0) => "ok".to_string(),
            (false, code) => format!("exit {code}"),
        };
        s.push_str(&format!(
            "{}  {}  {status}  run {}\n    by {} on {} (novactl {}), account {} {}, ended {}\n",
            r.started,
            r.command,
            r.run_id,
            r.caller_arn,
            r.host,
            r.novactl_version,
            r.account_id,
            r.region,
            if r.ended.is_empty() {
                "unknown"
            } else {
                &r.ended
            },
        ));
        if r.changes.is_empty() {
            s.push_str("    no changes\n");
        }
        let width = r.changes.iter().map(|c| c.address.len()).max().unwrap_or(0);
        for c in &r.changes {
            let ids: Vec<String> = c
                .writes
                .iter()
                .zip(&c.request_ids)
                .map(|(op, id)| format!("{op} {id}"))
                .collect();
            s.push_str(&format!(
                "    {:<8} {:<width$}  {}{}\n",
                c.action,
                c.address,
                c.result,
                if ids.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", ids.join(", "))
                },
            ));
            if let Some(e) = &c.error {
                s.push_str(&format!("             {e}\n"));
            }
        }
        for n in &r.notes {
            s.push_str(&format!("    note: {n}\n"));
        }
    }
    s
}

/// `state list`: what novactl created in this environment.
pub async fn list(g: &GlobalOptions, json: bool, sh: &Shell) -> Result<ExitCode, Failure> {
    let b = backend(g).await?;
    let mut entries = b.inventory().await.map_err(state_failure)?;
    entries.sort_by(|a, b| (&a.address, &a.identity).cmp(&(&b.address, &b.identity)));
    if json {
        sh.out(&serde_json::to_string_pretty(&entries).expect("entries serialise"));
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        sh.out(&format!("Nothing recorded in {}.", b.describe()));
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<[&str; 7]> = entries
        .iter()
        .map(|e| {
            [
                e.address.as_str(),
                e.kind.as_str(),
                e.region.as_str(),
                e.identity.as_str(),
                e.arn.as_str(),
                e.run_id.as_str(),
                e.created.as_str(),
            ]
        })
        .collect();
    let head = ["ADDRESS", "KIND", "REGION", "NAME", "ARN", "RUN", "CREATED"];
    let mut widths = head.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: [&str; 7]| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<w$}  "));
            }
        }
        l.push('\n');
        l
    };
    let mut out = line(head);
    for r in rows {
        out.push_str(&line(r));
    }
    sh.out(&out);
    Ok(ExitCode::SUCCESS)
}

/// `force-unlock LOCK_ID`: removes the lock with that id after asking (it names the holder);
/// leaves an audit record saying who removed whose lock.
pub async fn force_unlock(
    g: &GlobalOptions,
    id: &str,
    auto_approve: bool,
    sh: &Shell,
) -> Result<ExitCode, Failure> {
    let s = Session::connect(g, sh).await?;
    let holder = s.state.current_lock().await.map_err(state_failure)?;
    let Some(h) = holder else {
        return Err(Failure::Reported(format!(
            "{} is not locked; nothing to remove",
            s.state.describe()
        )));
    };
    if h.id != id {
        return Err(Failure::Reported(format!(
            "the lock is {}, not {id} (held by {} for `{}` on {} since {}); nothing was removed",
            h.id, h.who, h.operation, h.host, h.created
        )));
    }
    sh.status(&format!(
        "The lock {} is held by {} for `{}` on {} (pid {}) since {}{}, lease until {}.\n\
         Removing it lets another run write while that one may still be running.",
        h.id,
        h.who,
        h.operation,
        h.host,
        h.pid,
        h.created,
        state::ago(&h.created),
        h.expires
    ));
    confirm(auto_approve, sh, "remove this lock").await?;
    s.state.force_unlock(id).await.map_err(state_failure)?;
    let mut record = AuditRecord::new(
        state::new_id(),
        "force-unlock",
        &s.caller,
        &s.model.account_id,
        &s.model.spec.spec,
        &s.model.digest,
    );
    record.ended = record.started.clone();
    record.exit_status = 0;
    record.notes.push(format!(
        "removed the lock {} of `{}` by {} on {} (pid {}), held since {}",
        h.id, h.operation, h.who, h.host, h.pid, h.created
    ));
    if let Err(e) = s.state.audit_append(&record).await {
        sh.warn(&format!(
            "the audit record of this force-unlock was not written: {e}"
        ));
    }
    sh.status(&format!(
        "Removed the lock {id}. {} is unlocked.",
        s.state.describe()
    ));
    Ok(ExitCode::SUCCESS)
}
