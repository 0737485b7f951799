//! `destroy`: delete every resource of the spec that is novactl's, in reverse dependency
//! order; resources that are not ours are named and left alone.

use std::path::Path;
use std::process::ExitCode;

use crate::apply;
use crate::engine::{self, Observations};
use crate::ops::options::GlobalOptions;
use crate::ops::run::Run;
use crate::ops::session::{confirm, finish, refuse_refused, warn_deletes, Session};
use crate::ops::Failure;
use crate::plan::{render, Action, Change, Plan};
use crate::resources::{DeleteTarget, Owner};
use crate::shell::Shell;
use futures::StreamExt;

#[derive(Clone, Copy)]
pub struct Options {
    pub auto_approve: bool,
    pub force: bool,
    pub parallelism: Option<usize>,
}

pub async fn destroy(g: &GlobalOptions, o: &Options, sh: &Shell) -> Result<ExitCode, Failure> {
    let _graceful = crate::interrupt::graceful();
    let s = Session::connect(g, sh).await?;
    crate::interrupt::check("before taking the lock")?;
    let mut run = Run::begin(&s, "destroy", sh).await?;
    let result = destroy_locked(&s, &mut run, o, sh).await;
    run.end(Failure::status_of(&result), sh).await;
    result
}

async fn destroy_locked(
    s: &Session,
    run: &mut Run,
    o: &Options,
    sh: &Shell,
) -> Result<ExitCode, Failure> {
    let (plan, obs) = crate::interrupt::or_stop(
        "while reading live state",
        plan_destroy(s, o.force, o.parallelism),
    )
    .await?;
    if !plan.has_changes() {
        sh.out("No changes. Nothing to destroy.");
        s.summary(sh);
        return Ok(ExitCode::SUCCESS);
    }
    if !sh.quiet {
        sh.out(&render::text(&plan, sh));
    }
    refuse_refused(&plan, run, "destroy")?;
    warn_deletes(&plan, sh);
    confirm(o.auto_approve, sh, "destroy these resources").await?;
    execute_destroy(s, run, &plan, &obs, o, sh).await
}

/// The destroy as a plan (`plan --destroy`, and each destroy): a delete of every live resource
/// of the spec (and extra copies) in reverse dependency order, with every refusal marked
/// before anything is deleted: protected, not novactl's, a non-empty bucket without `force`.
/// Reads only.
pub async fn plan_destroy(
    s: &Session,
    force: bool,
    parallelism: Option<usize>,
) -> Result<(Plan, Observations), Failure> {
    // Discovery finds extra copies of the spec's resources, which destroy removes too.
    let obs = s
        .observe(
            crate::ops::options::read_parallelism(parallelism),
            crate::discovery::Mode::Tagged,
        )
        .await?;
    let mut plan = destroy_plan(s, &obs);
    plan.force = force;
    // Every refusal is known before the first delete: one refused resource stops them all.
    check_refusals(s, &obs, &mut plan, force, parallelism).await?;
    Ok((plan, obs))
}

/// `apply PLAN` of a saved destroy plan: the destroy made again, refused if anything moved
/// since the saved one (live state, the spec), then carried out without asking (it was
/// reviewed when it was made).
pub async fn apply_saved(
    s: &Session,
    run: &mut Run,
    saved: Plan,
    file: &Path,
    o: &Options,
    sh: &Shell,
) -> Result<ExitCode, Failure> {
    let o = Options {
        force: o.force || saved.force,
        ..*o
    };
    let (plan, obs) = crate::interrupt::or_stop(
        "while reading live state",
        plan_destroy(s, o.force, o.parallelism),
    )
    .await?;
    crate::ops::apply::refuse_stale(&saved, &plan, file)?;
    if !sh.quiet {
        sh.out(&render::text(&plan, sh));
    }
    if !plan.has_changes() {
        s.summary(sh);
        return Ok(ExitCode::SUCCESS);
    }
    refuse_refused(&plan, run, "destroy")?;
    warn_deletes(&plan, sh);
    execute_destroy(s, run, &plan, &obs, &o, sh).await
}

/// Deletes what `plan` deletes (its refusals already checked), records the run, closes it.
async fn execute_destroy(
    s: &Session,
    run: &mut Run,
    plan: &Plan,
    obs: &Observations,
    o: &Options,
    sh: &Shell,
) -> Result<ExitCode, Failure> {
    run.still_held()?;
    let outcomes = apply::execute(
        &s.model,
        plan,
        obs,
        &run.ctx(s),
        sh,
        &apply::Options {
            parallelism: crate::ops::options::write_parallelism(o.parallelism),
            force: o.force,
            destroy: true,
        },
    )
    .await;
    run.record(plan, &outcomes);
    run.save_last_applied(&s.model, plan, &outcomes, sh).await;
    finish(plan, outcomes, s, sh, "Destroy")
}

/// Marks each delete the kind would refuse (read-only checks, at most `parallelism` at once).
async fn check_refusals(
    s: &Session,
    obs: &Observations,
    plan: &mut Plan,
    force: bool,
    parallelism: Option<usize>,
) -> Result<(), Failure> {
    let cx = s.ctx();
    let checks = plan.changes.iter().map(|c| {
        let cx = &cx;
        async move {
            if c.refused.is_some() || c.action != Action::Delete {
                return Ok(None);
            }
            let (Some(d), Some(observed)) =
                (s.model.decl(&c.address), obs.by_address.get(&c.address))
            else {
                return Ok(None);
            };
            let t = DeleteTarget {
                observed,
                desired: None,
                region: &d.region,
                force,
            };
            s.model.kind(d.kind).refuse_delete(cx, &t).await
        }
    });
    let found: Vec<Result<Option<String>, crate::aws::AwsError>> = futures::stream::iter(checks)
        .buffered(crate::ops::options::read_parallelism(parallelism))
        .collect()
        .await;
    for (c, r) in plan.changes.iter_mut().zip(found) {
        if let Some(why) = r.map_err(|e| Failure::Aws(format!("{}: {e}", c.address)))? {
            c.refused = Some(why);
        }
    }
    Ok(())
}

/// A delete of every live resource of the spec, in reverse dependency order. Deletes of
/// protected resources and of resources that are not novactl's are marked refused.
fn destroy_plan(s: &Session, obs: &Observations) -> Plan {
    let mut changes = Vec::new();
    // Extra copies: live, tagged with a spec address, not the spec's resource.
    for (kind, region, o) in &obs.orphans {
        if s.model.decl(&o.address).is_none() {
            continue; // left the spec: not this spec's to destroy
        }
        changes.push(engine::delete_change(
            engine::extra_address(&o.address, &o.physical_id),
            kind,
            region,
            o,
            format!("destroy: EXTRA COPY tagged novactl:address={}", o.address),
        ));
    }
    for &i in s.model.graph.order.iter().rev() {
        let d = &s.model.decls[i];
        let Some(o) = obs.by_address.get(&d.address) else {
            continue;
        };
        if o.state.is_none() {
            continue;
        }
        let kind = s.model.kind(d.kind);
        let done = kind.deleted_text(&s.model.spec, Some(d));
        let mut c = Change {
            address: d.address.clone(),
            kind: d.kind.to_string(),
            action: Action::Delete,
            reason: if done == "deleted" {
                "destroy".into()
            } else {
                format!("destroy: {done}")
            },
            region: d.region.clone(),
            physical_id: o.physical_id.clone(),
            attributes: Vec::new(),
            before: o.state.clone(),
            after: None,
            depends_on: s.model.graph.deps[i]
                .iter()
                .map(|&j| s.model.decls[j].address.clone())
                .collect(),
            refused: None,
            before_digest: None,
        };
        c.redact(&crate::resources::marked_sensitive(
            &s.model.spec.spec,
            &d.address,
        ));
        if let Owner::Foreign { reason } = &o.owner {
            c.action = Action::Conflict;
            c.reason = format!("`{}` exists but is not novactl's: {reason}", d.identity);
            c.refused = Some(format!(
                "destroy deletes nothing while the spec names a resource that is not novactl's: \
                 remove {} from the spec, or take it over first with `apply --adopt {}`",
                d.address, d.address
            ));
        } else if crate::resources::protected(&s.model.spec.spec, &d.address) {
            c.refused = Some(crate::engine::protected_refusal(
                &s.model, &d.address, "destroy",
            ));
        }
        changes.push(c);
    }
    Plan {
        format_version: crate::plan::FORMAT_VERSION.into(),
        novactl_version: env!("CARGO_PKG_VERSION").into(),
        environment: s.model.spec.spec.environment.clone(),
        account_id: s.model.account_id.clone(),
        region: s.model.spec.spec.region.clone(),
        spec_file: s.spec_file.display().to_string(),
        spec_digest: s.model.digest.clone(),
        changes,
        targets: Vec::new(),
        adopted: Vec::new(),
        cost: None,
        destroy: true,
        force: false,
        moved: Vec::new(),
        notes: Vec::new(),
    }
}
