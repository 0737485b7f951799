//! `bootstrap`: makes the S3 state backend the spec names (`state.s3`), like `cdk bootstrap`:
//! the state key (KMS, rotation on) with its alias, and the bucket (versioned, all four public
//! access blocks, TLS-only policy, SSE-KMS with that key by default). Idempotent: a second run
//! is "No changes.".
//!
//! # Expected flow
//! The two resources are a small stack of their own (`kms.state`, `s3.state`), planned and
//! applied by the same engine as any spec, tagged `novactl:environment=novactl-state-<bucket>`
//! so that no environment's discovery ever counts them as its own.
//! * When the backend exists already, the run takes the environment's lock first, like apply.
//! * When it does not, there is nothing to lock yet: the stack is applied (every step is
//!   repeat-safe; two bootstraps at once converge to one bucket and one alias), then the lock
//!   is taken to leave the run's audit record in the new backend.
//!
//! # Caveats
//! A key named by id or ARN (not `alias/...`) is used as it is and never created. A key alias
//! that exists and is not novactl's is used, not managed. Bootstrap never deletes anything.

use std::path::Path;
use std::process::ExitCode;

use serde_json::json;

use crate::apply;
use crate::ops::options::{GlobalOptions, Scope};
use crate::ops::run::Run;
use crate::ops::session::{connect_of, finish, load, spec_path, Session};
use crate::ops::Failure;
use crate::plan::{render, Action, Change};
use crate::shell::Shell;
use crate::spec::LoadedSpec;
use crate::state::{self, S3Location};

pub async fn bootstrap(g: &GlobalOptions, sh: &Shell) -> Result<ExitCode, Failure> {
    let _graceful = crate::interrupt::graceful();
    let user = load(g)?.spec;
    let Some(loc) = S3Location::of(&user) else {
        sh.out(&format!(
            "Nothing to bootstrap: {} uses the local state backend ({}), which needs no set-up.",
            user.path.display(),
            state::Backend::describe(&state::local::LocalBackend::for_spec(&user))
        ));
        return Ok(ExitCode::SUCCESS);
    };
    let stack = state_stack(&user, &loc)?;
    let file = spec_path(g)?.display().to_string();
    let backend = state::open(&user, &connect_of(g, &user)?, &file).await;
    let ready = backend.check_ready().await.is_ok();
    let mut s = Session::for_spec(g, stack, backend).await?;
    let mut run = if ready {
        s = s.with_journal();
        Some(Run::begin(&s, "bootstrap", sh).await?)
    } else {
        None
    };
    let result = converge(&s, run.as_ref(), &loc, sh).await;
    if run.is_none() && result.is_ok() {
        // The backend exists now: the run's record goes into it, under its lock.
        run = Some(Run::begin(&s, "bootstrap", sh).await?);
    }
    let Some(mut run) = run else {
        return result.map(|(code, _)| code);
    };
    run.record.environment = user.spec.environment.clone();
    if let Ok((_, Some((plan, outcomes)))) = &result {
        run.record(plan, outcomes);
    }
    run.end(Failure::status_of(&result), sh).await;
    result.map(|(code, _)| code)
}

type Applied = Option<(crate::plan::Plan, Vec<apply::Outcome>)>;

/// Plans the state stack and applies what is missing; returns the plan and outcomes when
/// anything ran.
async fn converge(
    s: &Session,
    run: Option<&Run>,
    loc: &S3Location,
    sh: &Shell,
) -> Result<(ExitCode, Applied), Failure> {
    let scope = Scope {
        targets: Vec::new(),
        adopt: Vec::new(),
        parallelism: Some(4),
        scan: false,
        retry_rolled_back: false,
    };
    let (mut plan, obs) = crate::interrupt::or_stop("while planning", s.plan(&scope, &[])).await?;
    let key_in_use = |c: &Change| c.kind == "kms" && c.action == Action::Conflict;
    for c in plan.changes.iter_mut() {
        if key_in_use(c) {
            sh.status(&format!(
                "Using the existing key {} as the state key (novactl did not create it and will \
                 not manage it).",
                loc.kms_key
            ));
            c.action = Action::NoOp;
        }
    }
    let never: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(|c| format!("{} [{}]", c.address, c.physical_id))
        .collect();
    if !never.is_empty() {
        sh.warn(&format!(
            "bootstrap never deletes; left in place: {}",
            never.join(", ")
        ));
    }
    plan.changes.retain(|c| c.action != Action::Delete);
    if let Some(c) = plan.changes.iter().find(|c| c.action == Action::Conflict) {
        return Err(Failure::Reported(format!(
            "cannot bootstrap s3://{}: {}",
            loc.bucket, c.reason
        )));
    }
    let url = format!("s3://{}/{}", loc.bucket, loc.root());
    if !plan.has_changes() {
        sh.out(&format!(
            "No changes. The state backend {url} is set up (key {}).",
            loc.kms_key
        ));
        s.summary(sh);
        return Ok((ExitCode::SUCCESS, None));
    }
    sh.out(&render::text(&plan, sh));
    if let Some(r) = run {
        r.still_held()?;
    }
    let cx = match run {
        Some(r) => r.ctx(s),
        None => s.ctx(),
    };
    let outcomes = apply::execute(
        &s.model,
        &plan,
        &obs,
        &cx,
        sh,
        &apply::Options {
            parallelism: 4,
            force: false,
            destroy: false,
        },
    )
    .await;
    let failed = outcomes.iter().any(|o| !o.result.is_done());
    let code = finish(&plan, outcomes.clone(), s, sh, "Bootstrap")?;
    if !failed {
        sh.status(&format!("The state backend {url} is ready."));
    }
    Ok((code, Some((plan, outcomes))))
}

/// The state stack as a spec of its own: `kms.state` (unless the key is given by id or ARN)
/// and `s3.state`, in the state region, with the user's tags and endpoint.
fn state_stack(user: &LoadedSpec, loc: &S3Location) -> Result<LoadedSpec, Failure> {
    let by_alias = loc.kms_key.starts_with("alias/");
    let environment = format!("novactl-state-{}", state::name_of_bucket(&loc.bucket));
    let mut doc = json!({
        "environment": environment,
        "region": loc.region,
        "tags": user.spec.tags,
        "s3": {
            "state": {
                "name": loc.bucket,
                "kms_key": "state",
                "versioning": true,
            }
        },
    });
    // The state stack is made with the backend's credentials: `state.s3.assume_role` (the
    // state in another account, whose id the spec's `account_id` is not), else the
    // environment's.
    let own_role = user
        .spec
        .state
        .as_ref()
        .and_then(|s| s.s3.as_ref())
        .and_then(|s3| s3.assume_role.clone());
    let mut aws = user.spec.aws.clone().unwrap_or_default();
    match own_role {
        Some(role) => aws.assume_role = Some(role),
        None => {
            if let Some(a) = &user.spec.account_id {
                doc["account_id"] = json!(a);
            }
        }
    }
    if aws.profile.is_some() || aws.assume_role.is_some() {
        doc["aws"] = json!(aws);
    }
    if let Some(e) = &user.spec.endpoint_url {
        doc["endpoint_url"] = json!(e);
    }
    if by_alias {
        doc["kms"] = json!({
            "state": {
                "alias": loc.kms_key,
                "description": format!("novactl state backend s3://{}/{}", loc.bucket, loc.prefix),
                "rotation": true,
                "deletion_window_days": 30,
            }
        });
    } else {
        return Err(Failure::from(user.error(
            "state.s3.kms_key",
            format!(
                "`{}`: bootstrap creates the state key by its alias; name it `alias/...` (a key \
                 given by id or ARN must exist, with the bucket, before novactl uses them)",
                loc.kms_key
            ),
        )));
    }
    let text = serde_yaml::to_string(&doc).expect("the state stack serialises");
    let path = user.dir.join(Path::new(".novactl-state-stack.yaml"));
    Ok(LoadedSpec::from_text(&path, text)?)
}
