//! A run against AWS: the checked model with the real account, the clients, and the steps
//! every AWS command shares (observe, plan, confirm, the closing summary).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::apply;
use crate::aws::{regions, Aws, Caller, Connect, RetryPolicy};
use crate::discovery::Mode;
use crate::engine::{self, Model, Observations, PlanOptions, OFFLINE_ACCOUNT};
use crate::ops::options::GlobalOptions;
use crate::ops::options::Scope;
use crate::ops::run::{state_failure, Run};
use crate::ops::Failure;
use crate::plan::{Action, Plan};
use crate::resources::Ctx;
use crate::shell::Shell;
use crate::spec::{LoadedSpec, VarSource};
use crate::state::{self, Backend};

pub fn spec_path(g: &GlobalOptions) -> Result<PathBuf, Failure> {
    g.env.clone().ok_or_else(|| {
        Failure::Usage("no spec given: pass -e/--env FILE (or set NOVACTL_ENV)".into())
    })
}

/// The `vars` set outside the files: `NOVACTL_VAR_<KEY>` (sorted), then `--var` (in order),
/// so a flag beats the environment, which beats the files.
pub fn spec_vars(g: &GlobalOptions) -> Result<Vec<(VarSource, String, String)>, Failure> {
    let mut env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let k = k.to_str()?.strip_prefix("NOVACTL_VAR_")?.to_string();
            Some((k, v.to_string_lossy().into_owned()))
        })
        .collect();
    env.sort();
    let mut out = Vec::new();
    for (k, v) in env {
        if !crate::ops::options::var_name_ok(&k) {
            return Err(Failure::Usage(format!(
                "NOVACTL_VAR_{k}: `{k}` is not a variable name (letters, digits and `_`, not \
                 starting with a digit)"
            )));
        }
        out.push((VarSource::Env, k, v));
    }
    out.extend(
        g.vars
            .iter()
            .map(|(k, v)| (VarSource::Flag, k.clone(), v.clone())),
    );
    Ok(out)
}

/// Reads the spec (its bases, `--var`) and applies `--region` (the order: `--region`, then the
/// spec's `region`).
pub fn load_spec(g: &GlobalOptions) -> Result<LoadedSpec, Failure> {
    let mut spec = LoadedSpec::load_with(&spec_path(g)?, &spec_vars(g)?)?;
    if let Some(r) = &g.region {
        if !crate::spec::looks_like_region(r) {
            return Err(Failure::Usage(format!(
                "--region {r}: not an AWS region name (e.g. us-east-1)"
            )));
        }
        if let Some(why) = regions::check(r, std::env::var(regions::EXTRA_ENV).ok().as_deref()) {
            return Err(Failure::Usage(format!(
                "--region {why}; nothing was read or changed"
            )));
        }
        if spec.spec.dr.as_ref().is_some_and(|dr| &dr.region == r) {
            return Err(Failure::Usage(format!(
                "--region {r}: that is the spec's DR region; the primary region must differ"
            )));
        }
        spec.spec.region = r.clone();
    }
    Ok(spec)
}

/// Where the region in use came from, and a warning when AWS_REGION names another one (the
/// AWS chain's region is not used: the spec names its region).
pub fn warn_region(g: &GlobalOptions, spec: &LoadedSpec, sh: &Shell) {
    let used = &spec.spec.region;
    for var in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
        let Some(env) = std::env::var(var).ok().filter(|v| !v.is_empty()) else {
            continue;
        };
        if &env != used {
            let source = if g.region.is_some() {
                "--region".to_string()
            } else {
                format!("`region` in {}", spec.path.display())
            };
            sh.warn(&format!(
                "{var}={env} differs from the region novactl uses, {used} (from {source}); \
                 novactl uses {used} (order: --region, then the spec's `region`)"
            ));
        }
        break;
    }
}

/// Loads and fully checks the spec with no AWS call (its waivers and regions included, with or without
/// an endpoint override: a misspelt region is a typo on an emulator too).
pub fn load(g: &GlobalOptions) -> Result<Model, Failure> {
    let spec = load_spec(g)?;
    let account = spec
        .spec
        .account_id
        .clone()
        .unwrap_or_else(|| OFFLINE_ACCOUNT.to_string());
    let model = Model::build(spec, &account)?;
    check_regions(&model, &model.regions())?;
    crate::compliance::check_waivers(&model)?;
    Ok(model)
}

/// Endpoint, profile and retry policy: `--endpoint-url`, else the spec's `endpoint_url`;
/// `--max-attempts`, `AWS_MAX_ATTEMPTS`, `AWS_RETRY_MODE` (a bad value is a usage error).
pub fn connect_of(g: &GlobalOptions, spec: &LoadedSpec) -> Result<Connect, Failure> {
    let (endpoint_url, endpoint_source) = match (&g.endpoint_url, &spec.spec.endpoint_url) {
        (Some(u), _) => (Some(u.clone()), "--endpoint-url".to_string()),
        (None, Some(u)) => (
            Some(u.clone()),
            format!("endpoint_url in {}", spec.path.display()),
        ),
        (None, None) => (None, String::new()),
    };
    let retry =
        RetryPolicy::resolve(g.max_attempts, |k| std::env::var(k).ok()).map_err(Failure::Usage)?;
    // `--profile`, then AWS_PROFILE (the SDK reads it itself), then the spec's `aws.profile`.
    let aws = spec.spec.aws.clone().unwrap_or_default();
    let env_profile = std::env::var("AWS_PROFILE").is_ok_and(|p| !p.is_empty());
    let profile = g
        .profile
        .clone()
        .or_else(|| aws.profile.filter(|_| !env_profile));
    Ok(Connect {
        endpoint_url,
        endpoint_source,
        profile,
        assume_role: aws.assume_role.map(state::with_session_name),
        retry,
    })
}

/// Every region the spec uses must be one AWS has (`NOVACTL_EXTRA_REGIONS` allows others,
/// e.g. on an emulator): a misspelt region is refused at its key before any call.
fn check_regions(model: &Model, used: &[String]) -> Result<(), Failure> {
    let extra = std::env::var(regions::EXTRA_ENV).ok();
    let spec = &model.spec;
    let keyed = [
        Some(("region", &spec.spec.region)),
        spec.spec.dr.as_ref().map(|dr| ("dr.region", &dr.region)),
        spec.spec
            .state
            .as_ref()
            .and_then(|s| s.s3.as_ref())
            .and_then(|s| s.region.as_ref())
            .map(|r| ("state.s3.region", r)),
    ];
    let others = used.iter().map(|r| ("region", r));
    for (key, r) in keyed.into_iter().flatten().chain(others) {
        if let Some(why) = regions::check(r, extra.as_deref()) {
            return Err(spec
                .error(key, format!("{why}; nothing was read or changed"))
                .into());
        }
    }
    Ok(())
}

/// Every `--target` and `--adopt` address must be one of the spec's (a `dr.` twin, a copy
/// `ADDR#id` of one): a misspelt address is refused with the nearest one, before any call.
pub fn check_scope(model: &Model, scope: &Scope) -> Result<(), Failure> {
    let flags = [("--target", &scope.targets), ("--adopt", &scope.adopt)];
    for (flag, addresses) in flags {
        for a in addresses {
            let base = engine::base_address(a);
            if model.decls.iter().any(|d| d.address == base) {
                continue;
            }
            let near =
                crate::suggest::did_you_mean(base, model.decls.iter().map(|d| d.address.as_str()));
            return Err(Failure::Usage(format!(
                "{flag} {a}: no such resource in {}{near}; nothing was read or changed \
                 (`novactl graph -e {}` lists the addresses)",
                model.spec.path.display(),
                model.spec.path.display()
            )));
        }
    }
    Ok(())
}

/// A session against AWS: the checked model with the real account, and the clients.
pub struct Session {
    pub model: Model,
    pub aws: Aws,
    pub in_spec: crate::resources::SpecNames,
    pub spec_file: PathBuf,
    pub caller: Caller,
    /// Where the lock, journal, inventory and audit trail live.
    pub state: Arc<dyn Backend>,
    /// `--lock-timeout`: how long a writing run waits for another run's lock.
    pub lock_timeout: Duration,
    /// Observe reads the create journal (the backend exists).
    journal: bool,
}

impl Session {
    /// Loads the spec (no AWS call until it is valid), connects, checks the account, and
    /// checks that the state backend exists (else names `novactl bootstrap`).
    pub async fn connect(g: &GlobalOptions, sh: &Shell) -> Result<Session, Failure> {
        Session::connect_for(g, &Scope::default(), sh).await
    }

    /// [`Session::connect`] for a run limited by `scope`: its `--target` and `--adopt`
    /// addresses are checked against the spec first (no AWS call when one is not in it).
    pub async fn connect_for(
        g: &GlobalOptions,
        scope: &Scope,
        sh: &Shell,
    ) -> Result<Session, Failure> {
        let offline = load(g)?;
        check_scope(&offline, scope)?;
        warn_region(g, &offline.spec, sh);
        let connect = connect_of(g, &offline.spec)?;
        let state = state::open(
            &offline.spec,
            &connect,
            &spec_path(g)?.display().to_string(),
        )
        .await;
        state.check_ready().await.map_err(state_failure)?;
        let mut s = Session::for_model(g, offline, state).await?;
        s.journal = true;
        if s.model.spec.spec.dr.is_some() {
            if let Some(at) = crate::ops::dr::promoted(s.state.as_ref()).await? {
                s.model.dr_promoted = true;
                sh.warn(&format!(
                    "the DR standby serves as the primary since `dr failover` ({at}): it is kept \
                     at the primary's capacity until `novactl dr failback`"
                ));
            }
        }
        Ok(s)
    }

    /// A session on `spec` with `state` as its backend, which need not exist yet (bootstrap);
    /// observe reads no journal.
    pub async fn for_spec(
        g: &GlobalOptions,
        spec: LoadedSpec,
        state: Arc<dyn Backend>,
    ) -> Result<Session, Failure> {
        let offline = Model::build(spec, OFFLINE_ACCOUNT)?;
        Session::for_model(g, offline, state).await
    }

    /// [`Session::for_spec`] from the spec's model already built with no account known
    /// (`offline`): it is built again only when the account turns out to differ from the one it
    /// was built with (each build renders every resource).
    async fn for_model(
        g: &GlobalOptions,
        offline: Model,
        state: Arc<dyn Backend>,
    ) -> Result<Session, Failure> {
        let spec = &offline.spec;
        let connect = connect_of(g, spec)?;
        let regions = offline.regions();
        check_regions(&offline, &regions)?;
        let aws = Aws::connect(&connect, &spec.spec.region, &regions).await;
        let caller = aws
            .caller()
            .await
            .map_err(|e| Failure::Aws(format!("cannot identify the AWS account: {e}")))?;
        let account = caller.account.clone();
        if let Some(want) = &spec.spec.account_id {
            if want != &account {
                let whose = match &caller.assumed {
                    Some(a) => format!(
                        "the assumed role {} (session {}, assumed by {}) is in account \
                         {account}",
                        a.role_arn, a.session_name, a.caller_arn
                    ),
                    None => format!("the credentials ({}) are for account {account}", caller.arn),
                };
                return Err(Failure::Usage(format!(
                    "{}: account_id: the spec is for account {want}, but {whose}; nothing was \
                     read or changed",
                    spec.path.display()
                )));
            }
        }
        let model = if offline.account_id == account {
            offline
        } else {
            Model::build(offline.spec, &account)?
        };
        crate::redact::register(model.sensitive_values.clone());
        let in_spec = crate::resources::SpecNames::of(&model.decls);
        Ok(Session {
            model,
            aws,
            in_spec,
            // Absolute, so that `apply PLAN` finds the spec from any directory.
            spec_file: std::path::absolute(spec_path(g)?)
                .map_err(|e| Failure::Usage(format!("cannot resolve the spec path: {e}")))?,
            caller,
            state,
            lock_timeout: g.lock_timeout.unwrap_or_default(),
            journal: false,
        })
    }

    /// Observe reads the create journal from now on (the backend exists).
    pub fn with_journal(mut self) -> Session {
        self.journal = true;
        self
    }

    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            aws: &self.aws,
            environment: &self.model.spec.spec.environment,
            account_id: &self.model.account_id,
            progress: None,
            in_spec: &self.in_spec,
            cache: None,
            state: None,
            run_id: "",
        }
    }

    /// Live state of the spec's resources (and, unless `mode` is off, of ours that left it,
    /// through the tagging API and this backend's inventory).
    pub async fn observe(&self, parallelism: usize, mode: Mode) -> Result<Observations, Failure> {
        let cx = self.ctx();
        let state = self.journal.then_some(self.state.as_ref());
        let (obs, intents) = tokio::join!(
            engine::observe(&self.model, &cx, parallelism, mode, state),
            async {
                if self.journal {
                    self.state.open_intents().await
                } else {
                    Ok(Vec::new())
                }
            }
        );
        let mut obs = obs.map_err(|errs| {
            let lines: Vec<String> = errs.iter().map(|(a, e)| format!("  {a}: {e}")).collect();
            Failure::Aws(format!(
                "reading live state failed for {} resource(s):\n{}",
                errs.len(),
                lines.join("\n")
            ))
        })?;
        engine::apply_journal(&self.model, &mut obs, intents.map_err(state_failure)?);
        Ok(obs)
    }

    /// Observe, then plan.
    pub async fn plan(
        &self,
        scope: &Scope,
        adopt: &[String],
    ) -> Result<(Plan, Observations), Failure> {
        let mode = if scope.scan { Mode::Scan } else { Mode::Tagged };
        let obs = self
            .observe(
                crate::ops::options::read_parallelism(scope.parallelism),
                mode,
            )
            .await?;
        let last_applied = crate::ops::last_applied::read(self.state.as_ref()).await;
        let plan = engine::make_plan(
            &self.model,
            &obs,
            &PlanOptions {
                adopt,
                targets: &scope.targets,
                spec_file: self.spec_file.display().to_string(),
                last_applied: &last_applied,
            },
        )?;
        let mut plan = plan;
        let held = crate::ops::rolled_back::read(self.state.as_ref()).await;
        crate::ops::rolled_back::hold(&self.model, &mut plan, &held, scope.retry_rolled_back);
        Ok((plan, obs))
    }
}

impl Session {
    /// The closing lines of every AWS command: "N AWS calls (...) in T s", and with `-v` the
    /// calls by kind, with reads per resource.
    pub fn summary(&self, sh: &Shell) {
        self.calls_lines(sh, Shell::status);
    }

    /// The same lines as part of a run's final summary, which `-q` keeps.
    pub fn final_summary(&self, sh: &Shell) {
        self.calls_lines(sh, Shell::summary);
    }

    fn calls_lines(&self, sh: &Shell, print: fn(&Shell, &str)) {
        print(sh, &self.aws.summary());
        if sh.verbose > 0 {
            print(sh, &self.calls_by_kind());
        }
    }

    /// The AWS calls of this run by kind: resources in the spec, reads, writes, reads per
    /// resource; then discovery's and the session's own (account check) calls.
    pub fn calls_by_kind(&self) -> String {
        let by = self.aws.stats.by_caller();
        let mut count: std::collections::BTreeMap<&str, usize> = Default::default();
        for d in &self.model.decls {
            *count.entry(d.kind).or_default() += 1;
        }
        let mut lines = vec![format!(
            "AWS calls by kind:\n  {:<22} {:>9} {:>6} {:>6} {:>14}",
            "kind", "resources", "reads", "writes", "reads/resource"
        )];
        let mut total = (0, 0, 0);
        for k in crate::resources::registry() {
            let n = count.get(k.kind()).copied().unwrap_or(0);
            let c = by.get(k.kind()).cloned().unwrap_or_default();
            if n == 0 && c.reads + c.writes == 0 {
                continue;
            }
            total = (total.0 + n, total.1 + c.reads, total.2 + c.writes);
            lines.push(format!(
                "  {:<22} {n:>9} {:>6} {:>6} {:>14}",
                k.kind(),
                c.reads,
                c.writes,
                per(c.reads, n)
            ));
        }
        for who in ["discovery", "session"] {
            let c = by.get(who).cloned().unwrap_or_default();
            total = (total.0, total.1 + c.reads, total.2 + c.writes);
            lines.push(format!(
                "  {who:<22} {:>9} {:>6} {:>6} {:>14}",
                "-", c.reads, c.writes, ""
            ));
        }
        lines.push(format!(
            "  {:<22} {:>9} {:>6} {:>6} {:>14}",
            "total",
            total.0,
            total.1,
            total.2,
            per(total.1, total.0)
        ));
        lines.join("\n")
    }
}

fn per(reads: usize, resources: usize) -> String {
    if resources == 0 {
        "-".into()
    } else {
        format!("{:.2}", reads as f64 / resources as f64)
    }
}

/// The loud warning before a plan that deletes anything.
pub fn warn_deletes(plan: &Plan, sh: &Shell) {
    let deletes: Vec<&str> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete || c.action == Action::Replace)
        .map(|c| c.address.as_str())
        .collect();
    if !deletes.is_empty() {
        sh.warn(&format!(
            "this plan DELETES {} live resource(s): {}",
            deletes.len(),
            deletes.join(", ")
        ));
    }
    let extras: Vec<&str> = deletes
        .iter()
        .copied()
        .filter(|a| engine::base_address(a) != *a)
        .collect();
    if !extras.is_empty() {
        sh.warn(&format!(
            "found {} EXTRA COPY(IES) of spec resources: live, tagged with a spec address, but \
             not the resource the spec names (a concurrent or interrupted run made them): {}",
            extras.len(),
            extras.join(", ")
        ));
    }
}

/// Stops a run whose plan has refused changes (protected resources, non-empty buckets, ...)
/// before anything is changed, naming each and what to change. The run records the plan.
pub fn refuse_refused(plan: &Plan, run: &mut Run, verb: &str) -> Result<(), Failure> {
    let refused = plan.refused();
    if refused.is_empty() {
        return Ok(());
    }
    run.record(plan, &[]);
    let lines: Vec<String> = refused
        .iter()
        .map(|c| {
            format!(
                "  {}: {}",
                c.address,
                c.refused.as_deref().unwrap_or_default()
            )
        })
        .collect();
    Err(Failure::Reported(format!(
        "refusing to {verb}: {} change(s) are refused; nothing was changed:\n{}",
        refused.len(),
        lines.join("\n")
    )))
}

/// Asks for `yes` on a terminal unless `auto`; refuses without a terminal.
pub async fn confirm(auto: bool, sh: &Shell, what: &str) -> Result<(), Failure> {
    if auto {
        return Ok(());
    }
    if !sh.stdin_is_terminal() {
        return Err(Failure::Usage(format!(
            "not asking to {what}: standard input is not a terminal; pass --auto-approve"
        )));
    }
    let Some(answer) = sh
        .ask(&format!(
            "Do you want to {what}? Only 'yes' will be accepted:"
        ))
        .await
    else {
        return Err(Failure::Interrupted(
            "interrupted at the confirmation prompt; nothing was changed".into(),
        ));
    };
    if answer == "yes" {
        Ok(crate::interrupt::check("after the confirmation")?)
    } else {
        Err(Failure::Reported("cancelled; nothing was changed".into()))
    }
}

/// The closing lines of apply and destroy: a table of what ran (address, action, result,
/// time), the call summary, then success or every failure. Shown with `-q` too.
pub fn finish(
    plan: &Plan,
    outcomes: Vec<apply::Outcome>,
    s: &Session,
    sh: &Shell,
    verb: &str,
) -> Result<ExitCode, Failure> {
    sh.summary(&summary_table(plan, &outcomes, &sh.finished()));
    s.final_summary(sh);
    if let Some(f) = interrupted(plan, &outcomes, verb) {
        return Err(f);
    }
    let failed: Vec<&apply::Outcome> = outcomes.iter().filter(|o| !o.result.is_done()).collect();
    let ok = outcomes.len() - failed.len();
    if failed.is_empty() {
        sh.summary(&format!(
            "{verb} complete: {ok} resource(s) changed ({} create, {} update, {} replace, {} delete).",
            plan.count(Action::Create),
            plan.count(Action::Update),
            plan.count(Action::Replace),
            plan.count(Action::Delete),
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let lines: Vec<String> = failed
        .iter()
        .map(|o| match o.result.error() {
            Some(e) => format!("  {}: {}", o.address, e),
            None => String::new(),
        })
        .collect();
    Err(Failure::Reported(format!(
        "{verb} failed for {} resource(s) ({ok} succeeded); run it again to resume:\n{}",
        failed.len(),
        lines.join("\n")
    )))
}

/// One row per change that ran (or was skipped), in plan order.
pub fn summary_table(
    plan: &Plan,
    outcomes: &[apply::Outcome],
    times: &[(String, String, std::time::Duration)],
) -> String {
    let mut t = comfy_table::Table::new();
    // Columns and one rule under the header: readable in a terminal and in a CI log.
    t.load_preset("     -             ")
        .set_header(["Address", "Action", "Result", "Time"]);
    for c in plan.changes.iter().filter(|c| c.action != Action::NoOp) {
        let Some(o) = outcomes.iter().find(|o| o.address == c.address) else {
            continue;
        };
        let result = match &o.result {
            apply::ChangeResult::Failed(e) => format!("{}: {}", o.result.status().as_str(), e.code),
            other => other.status().as_str().to_string(),
        };
        let time = times
            .iter()
            .find(|(a, _, _)| a == &c.address)
            .map(|(_, _, d)| crate::shell::clock(*d))
            .unwrap_or_else(|| "-".into());
        let action = serde_json::to_value(c.action)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        t.add_row([c.address.clone(), action, result, time]);
    }
    t.trim_fmt()
}

/// After an interrupt that left changes undone: what finished, what was interrupted, what
/// failed and what never started (`None` when nothing was left undone).
fn interrupted(plan: &Plan, outcomes: &[apply::Outcome], verb: &str) -> Option<Failure> {
    if !crate::interrupt::stopping() {
        return None;
    }
    let (mut finished, mut cut, mut failed, mut never) = (vec![], vec![], vec![], vec![]);
    for c in plan
        .changes
        .iter()
        .filter(|c| !matches!(c.action, Action::NoOp | Action::Conflict))
    {
        let a = c.address.as_str();
        match outcomes
            .iter()
            .find(|o| o.address == c.address)
            .map(|o| &o.result)
        {
            Some(apply::ChangeResult::Done) => finished.push(a.to_string()),
            Some(apply::ChangeResult::Interrupted(e)) => cut.push(format!("{a} ({})", e.message)),
            Some(apply::ChangeResult::Skipped(_)) | None => never.push(a.to_string()),
            Some(apply::ChangeResult::Failed(e)) => failed.push(format!("{a} ({e})")),
        }
    }
    if cut.is_empty() && never.is_empty() {
        return None;
    }
    let mut lines = vec![format!(
        "{} interrupted: {} finished, {} interrupted, {} failed, {} never started; run it \
         again to finish",
        verb.to_lowercase(),
        finished.len(),
        cut.len(),
        failed.len(),
        never.len()
    )];
    for (label, list) in [
        ("finished", &finished),
        ("interrupted", &cut),
        ("failed", &failed),
        ("never started", &never),
    ] {
        if !list.is_empty() {
            lines.push(format!("  {label}: {}", list.join(", ")));
        }
    }
    Some(Failure::Interrupted(lines.join("\n")))
}
