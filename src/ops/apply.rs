//! `apply`: plan (or load a saved plan and check it is not stale), confirm, execute.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::apply;
use crate::cli::Global;
use crate::commands::Common;
use crate::engine::{self, Observations};
use crate::ops::run::Run;
use crate::ops::session::{confirm, finish, refuse_refused, warn_deletes, Session};
use crate::ops::Failure;
use crate::plan::{render, Action, Change, Plan};
use crate::shell::Shell;
use crate::state::journal;

pub struct Options {
    pub auto_approve: bool,
    pub force: bool,
    pub plan_file: Option<PathBuf>,
    pub allow_noncompliant: bool,
    pub common: Common,
}

pub async fn apply(g: &Global, o: &Options, sh: &Shell) -> Result<ExitCode, Failure> {
    let _graceful = crate::interrupt::graceful();
    let s = Session::connect(g, sh).await?;
    // The HIPAA gate on the desired state: no lock, no read, nothing changed when it refuses.
    let notes = crate::ops::check::gate(
        &s.model,
        &s.spec_file.display().to_string(),
        o.allow_noncompliant,
        sh,
    )?;
    crate::interrupt::check("before taking the lock")?;
    // The lock comes before the plan: a run that waited for another sees what it did.
    let mut run = Run::begin(&s, "apply", sh).await?;
    run.record.notes.extend(notes);
    let result = apply_locked(&s, &mut run, o, sh).await;
    run.end(Failure::status_of(&result), sh).await;
    result
}

async fn apply_locked(
    s: &Session,
    run: &mut Run,
    o: &Options,
    sh: &Shell,
) -> Result<ExitCode, Failure> {
    let (plan, obs) = crate::interrupt::or_stop("while planning", async {
        match &o.plan_file {
            Some(file) => saved_plan(s, o, file).await,
            None => s.plan(&o.common, &o.common.adopt).await,
        }
    })
    .await?;
    sh.out(&render::text(&plan, sh));
    let conflicts: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Conflict)
        .collect();
    if !conflicts.is_empty() {
        run.record(&plan, &[]);
        let lines: Vec<String> = conflicts
            .iter()
            .map(|c| format!("  {}: {}", c.address, c.reason))
            .collect();
        return Err(Failure::Reported(format!(
            "refusing to apply: {} resource(s) exist but are not novactl's; nothing was changed:\n{}",
            conflicts.len(),
            lines.join("\n")
        )));
    }
    refuse_refused(&plan, run, "apply")?;
    journal::settle(&run.ctx(s), &s.model, &plan, &obs).await?;
    if !plan.has_changes() {
        run.save_last_applied(&s.model, &plan, &[], sh).await;
        s.summary(sh);
        return Ok(ExitCode::SUCCESS);
    }
    warn_deletes(&plan, sh);
    confirm(o.auto_approve, sh, "apply these changes")?;
    run.still_held()?;
    let outcomes = apply::execute(
        &s.model,
        &plan,
        &obs,
        &run.ctx(s),
        sh,
        &apply::Options {
            parallelism: crate::commands::write_parallelism(o.common.parallelism),
            force: o.force,
            destroy: false,
        },
    )
    .await;
    run.record(&plan, &outcomes);
    run.save_last_applied(&s.model, &plan, &outcomes, sh).await;
    finish(&plan, outcomes, s, sh, "Apply")
}

/// Loads a saved plan, makes a fresh one with its targets and adoptions, and refuses the saved
/// one if anything moved since.
async fn saved_plan(
    s: &Session,
    o: &Options,
    file: &Path,
) -> Result<(Plan, Observations), Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", file.display())))?;
    let saved: Plan = serde_json::from_str(&text)
        .map_err(|e| Failure::Usage(format!("{} is not a novactl plan: {e}", file.display())))?;
    if saved.format_version != crate::plan::FORMAT_VERSION {
        return Err(Failure::Usage(format!(
            "{}: plan format {} is not supported (this novactl writes {})",
            file.display(),
            saved.format_version,
            crate::plan::FORMAT_VERSION
        )));
    }
    if !o.common.targets.is_empty() || !o.common.adopt.is_empty() {
        return Err(Failure::Usage(
            "a saved plan carries its own --target and --adopt; make a new plan to change them"
                .into(),
        ));
    }
    let common = Common {
        targets: saved.targets.clone(),
        ..o.common.clone()
    };
    let (fresh, obs) = s.plan(&common, &saved.adopted).await?;
    if let Some(why) = engine::staleness(&saved, &fresh) {
        return Err(Failure::Reported(format!(
            "the saved plan {} is stale; make a new plan. What moved:\n  {why}",
            file.display()
        )));
    }
    Ok((fresh, obs))
}
