//! `destroy`: delete every resource of the spec that is novactl's, in reverse dependency
//! order; resources that are not ours are named and left alone.

use std::process::ExitCode;

use crate::apply;
use crate::cli::Global;
use crate::engine::{self, Observations};
use crate::ops::run::Run;
use crate::ops::session::{confirm, finish, warn_deletes, Session};
use crate::ops::Failure;
use crate::plan::{render, Action, Change, Plan};
use crate::resources::Owner;
use crate::shell::Shell;

pub struct Options {
    pub auto_approve: bool,
    pub force: bool,
    pub parallelism: usize,
}

pub async fn destroy(g: &Global, o: &Options, sh: &Shell) -> Result<ExitCode, Failure> {
    let s = Session::connect(g, sh).await?;
    let mut run = Run::begin(&s, "destroy", sh).await?;
    let result = destroy_locked(&s, &mut run, o, sh).await;
    run.end(if result.is_ok() { 0 } else { 1 }, sh).await;
    result
}

async fn destroy_locked(
    s: &Session,
    run: &mut Run,
    o: &Options,
    sh: &Shell,
) -> Result<ExitCode, Failure> {
    // Discovery finds extra copies of the spec's resources, which destroy removes too.
    let obs = s.observe(o.parallelism, true).await?;
    let plan = destroy_plan(s, &obs, sh);
    if !plan.has_changes() {
        sh.out("No changes. Nothing to destroy.");
        sh.status(&s.aws.summary());
        return Ok(ExitCode::SUCCESS);
    }
    sh.out(&render::text(&plan, sh));
    warn_deletes(&plan, sh);
    confirm(o.auto_approve, sh, "destroy these resources")?;
    let outcomes = apply::execute(
        &s.model,
        &plan,
        &obs,
        &run.ctx(s),
        sh,
        &apply::Options {
            parallelism: o.parallelism,
            force: o.force,
            destroy: true,
        },
    )
    .await;
    run.record(&plan, &outcomes);
    finish(&plan, outcomes, s, sh, "Destroy")
}

/// A delete of every live resource of the spec that is ours, in reverse dependency order.
fn destroy_plan(s: &Session, obs: &Observations, sh: &Shell) -> Plan {
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
        if let Owner::Foreign { reason } = &o.owner {
            sh.warn(&format!(
                "{}: `{}` is left untouched: {reason}",
                d.address, d.identity
            ));
            continue;
        }
        changes.push(Change {
            address: d.address.clone(),
            kind: d.kind.to_string(),
            action: Action::Delete,
            reason: "destroy".into(),
            region: d.region.clone(),
            physical_id: o.physical_id.clone(),
            attributes: Vec::new(),
            before: o.state.clone(),
            after: None,
            depends_on: s.model.graph.deps[i]
                .iter()
                .map(|&j| s.model.decls[j].address.clone())
                .collect(),
        });
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
    }
}
