//! `apply`: plan (or load a saved plan and check it is not stale), confirm, execute.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::apply;
use crate::engine::journal;
use crate::engine::{self, Observations};
use crate::ops::options::GlobalOptions;
use crate::ops::options::Scope;
use crate::ops::run::Run;
use crate::ops::session::{confirm, finish, refuse_refused, warn_deletes, Session};
use crate::ops::show::read_plan;
use crate::ops::Failure;
use crate::plan::{render, Action, Change, Plan};
use crate::shell::Shell;

pub struct Options {
    pub auto_approve: bool,
    pub force: bool,
    pub plan_file: Option<PathBuf>,
    pub allow_noncompliant: bool,
    pub scope: Scope,
}

pub async fn apply(g: &GlobalOptions, o: &Options, sh: &Shell) -> Result<ExitCode, Failure> {
    let _graceful = crate::interrupt::graceful();
    // A saved plan names its spec (and region): `apply PLAN` needs no -e.
    let saved = o.plan_file.as_deref().map(read_plan).transpose()?;
    let g = match (&saved, &o.plan_file) {
        (Some(plan), Some(file)) => global_for_plan(g, plan, file)?,
        _ => g.clone(),
    };
    let s = Session::connect_for(&g, &o.scope, sh).await?;
    if let (Some(plan), Some(file)) = (&saved, &o.plan_file) {
        if plan.destroy {
            return apply_destroy_plan(&s, o, plan.clone(), file, sh).await;
        }
    }
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
    let result = apply_locked(&s, &mut run, o, saved, sh).await;
    run.end(Failure::status_of(&result), sh).await;
    result
}

/// `apply PLAN` of a destroy plan (`plan --destroy --out PLAN`): no compliance gate (nothing
/// is created), the run is recorded as a destroy.
async fn apply_destroy_plan(
    s: &Session,
    o: &Options,
    saved: Plan,
    file: &Path,
    sh: &Shell,
) -> Result<ExitCode, Failure> {
    refuse_scope(o)?;
    crate::interrupt::check("before taking the lock")?;
    let mut run = Run::begin(s, "destroy", sh).await?;
    let d = crate::ops::destroy::Options {
        auto_approve: true,
        force: o.force,
        parallelism: o.scope.parallelism,
    };
    let result = crate::ops::destroy::apply_saved(s, &mut run, saved, file, &d, sh).await;
    run.end(Failure::status_of(&result), sh).await;
    result
}

/// A saved plan carries its own scope: `--target` and `--adopt` with one are refused.
fn refuse_scope(o: &Options) -> Result<(), Failure> {
    if !o.scope.targets.is_empty() || !o.scope.adopt.is_empty() {
        return Err(Failure::Usage(
            "a saved plan carries its own --target and --adopt; make a new plan to change them"
                .into(),
        ));
    }
    Ok(())
}

/// Refuses `saved` when `fresh` (the same plan made now) shows that anything moved since.
pub fn refuse_stale(saved: &Plan, fresh: &Plan, file: &Path) -> Result<(), Failure> {
    match engine::staleness(saved, fresh) {
        Some(why) => Err(Failure::Reported(format!(
            "the saved plan {} is stale; make a new plan. What moved:\n  {why}",
            file.display()
        ))),
        None => Ok(()),
    }
}

/// The options of a run that applies `plan`: its spec file and region, unless the command line
/// names the same ones (a different spec is refused).
fn global_for_plan(g: &GlobalOptions, plan: &Plan, file: &Path) -> Result<GlobalOptions, Failure> {
    let planned = PathBuf::from(&plan.spec_file);
    let planned_abs = std::path::absolute(&planned).unwrap_or(planned.clone());
    if let Some(given) = &g.env {
        let given_abs = std::path::absolute(given).unwrap_or(given.clone());
        if given_abs != planned_abs {
            return Err(Failure::Usage(format!(
                "the plan {} was made from {}, not {}; make a new plan from this spec",
                file.display(),
                planned.display(),
                given.display()
            )));
        }
    }
    if !planned_abs.is_file() {
        return Err(Failure::Usage(format!(
            "the plan {} was made from {}, which is no longer there (moved or deleted); make a new \
             plan",
            file.display(),
            planned.display()
        )));
    }
    Ok(GlobalOptions {
        env: Some(planned_abs),
        region: g.region.clone().or_else(|| Some(plan.region.clone())),
        ..g.clone()
    })
}

async fn apply_locked(
    s: &Session,
    run: &mut Run,
    o: &Options,
    saved: Option<Plan>,
    sh: &Shell,
) -> Result<ExitCode, Failure> {
    // A saved plan was reviewed when it was made: applying it does not ask again.
    let reviewed = saved.is_some();
    let (plan, obs) = crate::interrupt::or_stop("while planning", async {
        match (saved, &o.plan_file) {
            (Some(saved), Some(file)) => saved_plan(s, o, saved, file).await,
            _ => s.plan(&o.scope, &o.scope.adopt).await,
        }
    })
    .await?;
    if !sh.quiet {
        sh.out(&render::text(&plan, sh));
    }
    crate::ops::rolled_back::warn_held(&plan, sh);
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
        if sh.quiet {
            sh.summary("No changes.");
        }
        s.final_summary(sh);
        return Ok(ExitCode::SUCCESS);
    }
    warn_deletes(&plan, sh);
    confirm(o.auto_approve || reviewed, sh, "apply these changes").await?;
    run.still_held()?;
    let outcomes = apply::execute(
        &s.model,
        &plan,
        &obs,
        &run.ctx(s),
        sh,
        &apply::Options {
            parallelism: crate::ops::options::write_parallelism(o.scope.parallelism),
            force: o.force,
            destroy: false,
        },
    )
    .await;
    run.record(&plan, &outcomes);
    run.save_last_applied(&s.model, &plan, &outcomes, sh).await;
    crate::ops::rolled_back::save(s.state.as_ref(), &s.model, &plan, &outcomes, sh).await;
    finish(&plan, outcomes, s, sh, "Apply")
}

/// Loads a saved plan, makes a fresh one with its targets and adoptions, and refuses the saved
/// one if anything moved since.
async fn saved_plan(
    s: &Session,
    o: &Options,
    saved: Plan,
    file: &Path,
) -> Result<(Plan, Observations), Failure> {
    refuse_scope(o)?;
    let scope = Scope {
        targets: saved.targets.clone(),
        ..o.scope.clone()
    };
    let (fresh, obs) = s.plan(&scope, &saved.adopted).await?;
    refuse_stale(&saved, &fresh, file)?;
    Ok((fresh, obs))
}
