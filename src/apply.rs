//! Stage 4: the executor. Walks the plan's dependency graph; independent resources run
//! concurrently (at most `parallelism` at once); a failure stops only what depends on it.
//!
//! On an interrupt (see [`crate::interrupt`]) nothing new starts; changes in flight finish
//! (each kind's own sequence reaches its safe point; long waits stop early with an
//! [`INTERRUPTED`] error); on an abort the changes in flight are dropped and reported as
//! [`INTERRUPTED`]. Changes that never started get no outcome.
//!
//! Apply never does anything the plan does not say. Values that were "(known after apply)" in
//! the plan are rendered just before each resource runs, from the outputs of the resources it
//! depends on, which have finished by then.

use std::collections::{HashMap, HashSet};

use futures::stream::{FuturesUnordered, StreamExt};
use serde_json::Value;

use crate::aws::AwsError;
use crate::engine::journal;
use crate::engine::{self, Model, Observations};
use crate::plan::{diff, Action, Change, Plan};
use crate::resources::{Ctx, DeleteTarget, Observed};
use crate::shell::Shell;
use crate::spec::render::is_unknown;

pub struct Options {
    pub parallelism: usize,
    /// Delete non-empty buckets.
    pub force: bool,
    /// Every change is a delete of a resource still in the spec; run in reverse order.
    pub destroy: bool,
}

pub use crate::interrupt::INTERRUPTED;

/// The result for one address.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub address: String,
    pub result: ChangeResult,
}

/// What became of one change the executor started or skipped; decided once, where the change
/// ends (a kind's own error with the [`INTERRUPTED`] code is an interrupt).
#[derive(Debug, Clone)]
pub enum ChangeResult {
    Done,
    /// The change failed with the kind's (or the journal's) error.
    Failed(AwsError),
    /// Not attempted: a change it depends on failed (the error says which).
    Skipped(AwsError),
    /// Stopped by an interrupt before it finished (the error says where).
    Interrupted(AwsError),
}

impl ChangeResult {
    /// The result of a change that ran and returned `r`.
    pub fn of(r: Result<(), AwsError>) -> ChangeResult {
        match r {
            Ok(()) => ChangeResult::Done,
            Err(e) if e.code == INTERRUPTED => ChangeResult::Interrupted(e),
            Err(e) => ChangeResult::Failed(e),
        }
    }

    pub fn is_done(&self) -> bool {
        matches!(self, ChangeResult::Done)
    }

    /// The error of anything but [`ChangeResult::Done`].
    pub fn error(&self) -> Option<&AwsError> {
        match self {
            ChangeResult::Done => None,
            ChangeResult::Failed(e) | ChangeResult::Skipped(e) | ChangeResult::Interrupted(e) => {
                Some(e)
            }
        }
    }

    /// What the audit record and the summary table say of it.
    pub fn status(&self) -> ChangeStatus {
        match self {
            ChangeResult::Done => ChangeStatus::Ok,
            ChangeResult::Failed(_) => ChangeStatus::Failed,
            ChangeResult::Skipped(_) => ChangeStatus::Skipped,
            ChangeResult::Interrupted(_) => ChangeStatus::Interrupted,
        }
    }
}

/// The result of one planned change as the audit record names it (`result`), also for the
/// changes that got no [`Outcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeStatus {
    Ok,
    Failed,
    /// Its dependency failed.
    Skipped,
    /// Stopped inside it, or cut off by an abort.
    Interrupted,
    /// A conflict: apply refused to touch it.
    Refused,
    NotStarted,
}

impl ChangeStatus {
    /// From its outcome; without one, `Interrupted` when the change made writes (the run
    /// stopped inside it), `Refused` for a conflict, else `NotStarted`.
    pub fn of(outcome: Option<&Outcome>, action: Action, wrote: bool) -> ChangeStatus {
        match outcome {
            Some(o) => o.result.status(),
            None if wrote => ChangeStatus::Interrupted,
            None if action == Action::Conflict => ChangeStatus::Refused,
            None => ChangeStatus::NotStarted,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeStatus::Ok => "ok",
            ChangeStatus::Failed => "failed",
            ChangeStatus::Skipped => "skipped",
            ChangeStatus::Interrupted => "interrupted",
            ChangeStatus::Refused => "refused",
            ChangeStatus::NotStarted => "not-started",
        }
    }
}

pub async fn execute(
    model: &Model,
    plan: &Plan,
    obs: &Observations,
    cx: &Ctx<'_>,
    sh: &Shell,
    opts: &Options,
) -> Vec<Outcome> {
    let run: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| !matches!(c.action, Action::NoOp | Action::Conflict))
        .collect();
    let pos: HashMap<&str, usize> = run
        .iter()
        .enumerate()
        .map(|(i, c)| (c.address.as_str(), i))
        .collect();
    // Dependencies among the changes that run.
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); run.len()];
    for (i, c) in run.iter().enumerate() {
        if opts.destroy {
            // Reverse order: a resource goes after everything that depends on it.
            for (j, other) in run.iter().enumerate() {
                if other.depends_on.contains(&c.address) {
                    deps[i].push(j);
                }
            }
        } else if c.action == Action::Delete {
            // Resources that left the spec go last, in reverse kind rank (the plan's order).
            for (j, other) in run.iter().enumerate().take(i) {
                if other.action != Action::Delete || other.kind != c.kind {
                    deps[i].push(j);
                }
            }
        } else {
            deps[i].extend(
                c.depends_on
                    .iter()
                    .filter_map(|d| pos.get(d.as_str()).copied()),
            );
        }
    }

    let mut outputs: HashMap<String, Value> = obs.outputs();
    // The template context, kept current as outputs arrive (see `RenderContext::set_outputs`);
    // each change's desired state is rendered from it when the change starts.
    let mut context = model.context(&outputs, true);
    let mut done: Vec<Option<bool>> = vec![None; run.len()];
    let mut started: HashSet<usize> = HashSet::new();
    let mut results: Vec<Outcome> = Vec::new();
    let mut running = FuturesUnordered::new();
    loop {
        // Skip what depends on a failure; start what is ready (nothing new once a stop is
        // asked for).
        for i in 0..run.len() {
            if started.contains(&i) || crate::interrupt::stopping() {
                continue;
            }
            if let Some(&f) = deps[i].iter().find(|&&d| done[d] == Some(false)) {
                started.insert(i);
                done[i] = Some(false);
                sh.status(&format!(
                    "{} {}: skipped, it depends on {} which failed",
                    run[i].action.symbol(),
                    run[i].address,
                    run[f].address
                ));
                results.push(Outcome {
                    address: run[i].address.clone(),
                    result: ChangeResult::Skipped(AwsError::local(
                        "novactl:apply",
                        "DependencyFailed",
                        format!("not attempted: {} failed", run[f].address),
                    )),
                });
                continue;
            }
            let ready = deps[i].iter().all(|&d| done[d] == Some(true));
            if ready && running.len() < opts.parallelism.max(1) {
                started.insert(i);
                let c = run[i];
                let desired = model.decl(&c.address).map(|d| {
                    model.desired(d, &context).map_err(|e| {
                        AwsError::local("novactl:render", "TemplateError", e.to_string())
                    })
                });
                running.push(async move {
                    let task = sh.task(&c.address, &format!("{} {}", c.action.symbol(), c.address));
                    let status = |m: &str| task.set_message(m);
                    let cx = Ctx {
                        progress: Some(&status),
                        ..*cx
                    };
                    let who = crate::resources::registry()
                        .iter()
                        .find(|k| k.kind() == c.kind)
                        .map_or("apply", |k| k.kind());
                    // Calls made inside are attributed to this address (audit request ids)
                    // and counted for its kind (`-v`).
                    let r = crate::aws::on_behalf_of(
                        who,
                        crate::aws::CHANGE.scope(
                            c.address.clone(),
                            run_change(model, obs, &cx, c, desired, opts),
                        ),
                    )
                    .await;
                    match &r {
                        Ok(_) if c.action == Action::Delete || opts.destroy => {
                            task.finish(&deleted_text(model, obs, c))
                        }
                        Ok(_) => task.finish(past(c.action)),
                        Err(e) => task.finish(&format!("failed: {e}")),
                    }
                    (i, r)
                });
            }
        }
        let next = tokio::select! {
            n = running.next() => n,
            _ = crate::interrupt::aborted() => {
                // Cut off what is in flight (dropped on return); say which.
                for i in 0..run.len() {
                    if started.contains(&i) && done[i].is_none() {
                        results.push(Outcome {
                            address: run[i].address.clone(),
                            result: ChangeResult::Interrupted(AwsError::local(
                                "novactl:apply",
                                INTERRUPTED,
                                "aborted while in flight: it may be half done; the next apply \
                                 converges it",
                            )),
                        });
                    }
                }
                return results;
            }
        };
        let Some((i, r)) = next else {
            break;
        };
        match r {
            Ok(out) => {
                if let Some(out) = out {
                    let entry = outputs
                        .entry(run[i].address.clone())
                        .or_insert_with(|| Value::Object(Default::default()));
                    if let (Value::Object(dst), Value::Object(src)) = (entry, out) {
                        dst.extend(src);
                    }
                    context.set_outputs(model, &run[i].address, &outputs);
                }
                done[i] = Some(true);
                results.push(Outcome {
                    address: run[i].address.clone(),
                    result: ChangeResult::Done,
                });
            }
            Err(e) => {
                done[i] = Some(false);
                results.push(Outcome {
                    address: run[i].address.clone(),
                    result: ChangeResult::of(Err(e)),
                });
            }
        }
    }
    results
}

fn past(a: Action) -> &'static str {
    match a {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Replace => "replaced",
        Action::Delete => "deleted",
        Action::NoOp | Action::Conflict => "unchanged",
    }
}

/// What a delete did, in the kind's words ("deleted", or a KMS key's "scheduled for deletion
/// in N days").
fn deleted_text(model: &Model, obs: &Observations, c: &Change) -> String {
    let decl = model.decl(&c.address);
    let kind = decl.map(|d| d.kind).or_else(|| {
        obs.orphans
            .iter()
            .find(|(_, _, o)| o.address == c.address)
            .map(|(k, _, _)| *k)
    });
    match kind {
        Some(k) => model.kind(k).deleted_text(&model.spec, decl),
        None => past(Action::Delete).into(),
    }
}

/// Runs one change with its create-journal and inventory steps (see [`journal`]); returns the
/// resource's outputs when it has any.
async fn run_change(
    model: &Model,
    obs: &Observations,
    cx: &Ctx<'_>,
    c: &Change,
    desired: Option<Result<Value, AwsError>>,
    opts: &Options,
) -> Result<Option<Value>, AwsError> {
    let out = change(model, obs, cx, c, desired, opts).await?;
    let intent = obs.intents.get(engine::base_address(&c.address));
    match (model.decl(&c.address), c.action) {
        (Some(d), _) if opts.destroy => journal::deleted(cx, &d.address, intent).await?,
        (Some(d), Action::Delete) => journal::deleted(cx, &d.address, intent).await?,
        (Some(d), action @ (Action::Create | Action::Update | Action::Replace)) => {
            let before = obs
                .by_address
                .get(&d.address)
                .and_then(|o| o.outputs.get("arn"))
                .and_then(Value::as_str);
            journal::created(cx, d, action, out.as_ref(), before, intent).await?;
            // A rename (`moved:`): the old address's records follow the resource.
            for m in model.moves.iter().filter(|m| m.to == d.address) {
                journal::moved(cx, &m.from, d, obs.intents.get(&m.from)).await?;
            }
        }
        // Left the spec: gone from the inventory. An extra copy was never the inventory's.
        (None, Action::Delete) if c.address == engine::base_address(&c.address) => {
            journal::deleted(cx, &c.address, intent).await?
        }
        _ => {}
    }
    Ok(out)
}

/// The live resource discovery found for a change that is not the spec's own: one that left
/// the spec, an extra copy, or the old name of a rename (`physical_id` says which).
fn discovered<'a>(
    obs: &'a Observations,
    c: &Change,
) -> Option<(&'static str, &'a str, &'a Observed)> {
    obs.orphans
        .iter()
        .find(|(k, _, o)| {
            *k == c.kind
                && o.physical_id == c.physical_id
                && o.address == engine::base_address(&c.address)
        })
        .map(|(k, region, o)| (*k, region.as_str(), o))
}

/// Deletes a live resource through its kind.
async fn delete(
    kind: &dyn crate::resources::Reconciler,
    cx: &Ctx<'_>,
    observed: &Observed,
    desired: Option<&Value>,
    region: &str,
    opts: &Options,
) -> Result<(), AwsError> {
    let t = DeleteTarget {
        observed,
        desired,
        region,
        force: opts.force,
    };
    kind.delete(cx, &t).await
}

fn gone() -> AwsError {
    AwsError::local(
        "novactl:apply",
        "NotFound",
        "the resource is no longer live",
    )
}

/// The change itself.
async fn change(
    model: &Model,
    obs: &Observations,
    cx: &Ctx<'_>,
    c: &Change,
    desired: Option<Result<Value, AwsError>>,
    opts: &Options,
) -> Result<Option<Value>, AwsError> {
    let (Some(decl), Some(desired)) = (model.decl(&c.address), desired) else {
        // Left the spec, or an extra copy: delete what discovery found.
        let (kind, region, o) = discovered(obs, c).ok_or_else(gone)?;
        delete(model.kind(kind), cx, o, None, region, opts).await?;
        return Ok(None);
    };
    let kind = model.kind(decl.kind);
    let desired = desired?;
    let observed: Option<&Observed> = obs.by_address.get(&c.address);
    if opts.destroy || c.action == Action::Delete {
        let o = observed.ok_or_else(gone)?;
        delete(kind, cx, o, Some(&desired), &decl.region, opts).await?;
        return Ok(None);
    }
    if is_unknown(&desired) {
        return Err(AwsError::local(
            "novactl:render",
            "UnknownValue",
            format!(
                "desired state still holds \"(known after apply)\": {} depends on a resource that \
                 was not created",
                c.address
            ),
        ));
    }
    match c.action {
        Action::Create => {
            journal::intend(cx, decl).await?;
            kind.create(cx, decl, &desired).await.map(Some)
        }
        Action::Update => {
            let o = observed.ok_or_else(gone)?;
            let state = o.state.clone().unwrap_or(Value::Null);
            let changed = diff::top_level(&diff::changes(&state, &desired, kind.replace_on()));
            let out = kind.update(cx, decl, &desired, o, &changed).await?;
            Ok(Some(out))
        }
        Action::Replace => {
            if let Some((_, region, old)) = discovered(obs, c) {
                // Renamed: the new one first, then the old one goes.
                journal::intend(cx, decl).await?;
                let out = kind.create(cx, decl, &desired).await?;
                delete(kind, cx, old, None, region, opts).await?;
                Ok(Some(out))
            } else {
                let o = observed.ok_or_else(gone)?;
                delete(kind, cx, o, Some(&desired), &decl.region, opts).await?;
                journal::intend(cx, decl).await?;
                kind.create(cx, decl, &desired).await.map(Some)
            }
        }
        Action::NoOp | Action::Conflict | Action::Delete => Ok(None),
    }
}
