//! A run against AWS: the checked model with the real account, the clients, and the steps
//! every AWS command shares (observe, plan, confirm, the closing summary).

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::apply;
use crate::aws::{Aws, Caller, Connect};
use crate::cli::Global;
use crate::commands::Common;
use crate::engine::{self, Model, Observations, PlanOptions, OFFLINE_ACCOUNT};
use crate::ops::run::state_failure;
use crate::ops::Failure;
use crate::plan::{Action, Plan};
use crate::resources::Ctx;
use crate::shell::Shell;
use crate::spec::LoadedSpec;
use crate::state::{self, Backend};

pub fn spec_path(g: &Global) -> Result<PathBuf, Failure> {
    g.env.clone().ok_or_else(|| {
        Failure::Usage("no spec given: pass -e/--env FILE (or set NOVACTL_ENV)".into())
    })
}

/// Loads and fully checks the spec with no AWS call.
pub fn load(g: &Global) -> Result<Model, Failure> {
    let spec = LoadedSpec::load(&spec_path(g)?)?;
    let account = spec
        .spec
        .account_id
        .clone()
        .unwrap_or_else(|| OFFLINE_ACCOUNT.to_string());
    Ok(Model::build(spec, &account)?)
}

/// Endpoint and profile: `--endpoint-url`, else the spec's `endpoint_url`.
pub fn connect_of(g: &Global, spec: &LoadedSpec) -> Connect {
    Connect {
        endpoint_url: g
            .endpoint_url
            .clone()
            .or_else(|| spec.spec.endpoint_url.clone()),
        profile: g.profile.clone(),
    }
}

/// A session against AWS: the checked model with the real account, and the clients.
pub struct Session {
    pub model: Model,
    pub aws: Aws,
    pub in_spec: HashSet<(String, String)>,
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
    pub async fn connect(g: &Global, sh: &Shell) -> Result<Session, Failure> {
        let offline = load(g)?;
        let spec = offline.spec.clone();
        let connect = connect_of(g, &spec);
        let state = state::open(&spec, &connect, &spec_path(g)?.display().to_string()).await;
        state.check_ready().await.map_err(state_failure)?;
        let mut s = Session::for_spec(g, spec, state).await?;
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
        g: &Global,
        spec: LoadedSpec,
        state: Arc<dyn Backend>,
    ) -> Result<Session, Failure> {
        let connect = connect_of(g, &spec);
        let regions = Model::build(spec.clone(), OFFLINE_ACCOUNT)?.regions();
        let aws = Aws::connect(&connect, &spec.spec.region, &regions).await;
        let caller = aws
            .caller()
            .await
            .map_err(|e| Failure::Aws(format!("cannot identify the AWS account: {e}")))?;
        let account = caller.account.clone();
        if let Some(want) = &spec.spec.account_id {
            if want != &account {
                return Err(Failure::Usage(format!(
                    "{}: account_id: the spec is for account {want}, but the credentials are \
                     for account {account}; nothing was read or changed",
                    spec.path.display()
                )));
            }
        }
        let model = Model::build(spec, &account)?;
        let in_spec = model
            .decls
            .iter()
            .map(|d| (d.kind.to_string(), d.identity.clone()))
            .collect();
        Ok(Session {
            model,
            aws,
            in_spec,
            spec_file: spec_path(g)?,
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
            state: None,
            run_id: "",
        }
    }

    /// Live state of the spec's resources (and, with `discover`, of ours that left it).
    pub async fn observe(
        &self,
        parallelism: usize,
        discover: bool,
    ) -> Result<Observations, Failure> {
        let cx = self.ctx();
        let (obs, intents) = tokio::join!(
            engine::observe(&self.model, &cx, parallelism, discover),
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
        common: &Common,
        adopt: &[String],
    ) -> Result<(Plan, Observations), Failure> {
        let obs = self.observe(common.parallelism, true).await?;
        let plan = engine::make_plan(
            &self.model,
            &obs,
            &PlanOptions {
                adopt,
                targets: &common.targets,
                spec_file: self.spec_file.display().to_string(),
            },
        )?;
        Ok((plan, obs))
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

/// Asks for `yes` on a terminal unless `auto`; refuses without a terminal.
pub fn confirm(auto: bool, sh: &Shell, what: &str) -> Result<(), Failure> {
    if auto {
        return Ok(());
    }
    if !sh.stdin_is_terminal() {
        return Err(Failure::Usage(format!(
            "not asking to {what}: standard input is not a terminal; pass --auto-approve"
        )));
    }
    let answer = sh.ask(&format!(
        "Do you want to {what}? Only 'yes' will be accepted:"
    ));
    if answer == "yes" {
        Ok(())
    } else {
        Err(Failure::Reported("cancelled; nothing was changed".into()))
    }
}

/// The closing lines of apply and destroy: the call summary, then success or every failure.
pub fn finish(
    plan: &Plan,
    outcomes: Vec<apply::Outcome>,
    s: &Session,
    sh: &Shell,
    verb: &str,
) -> Result<ExitCode, Failure> {
    let failed: Vec<&apply::Outcome> = outcomes.iter().filter(|o| o.result.is_err()).collect();
    let ok = outcomes.len() - failed.len();
    sh.status(&s.aws.summary());
    if failed.is_empty() {
        sh.status(&format!(
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
        .map(|o| match &o.result {
            Err(e) => format!("  {}: {}", o.address, e),
            Ok(()) => String::new(),
        })
        .collect();
    Err(Failure::Reported(format!(
        "{verb} failed for {} resource(s) ({ok} succeeded); run it again to resume:\n{}",
        failed.len(),
        lines.join("\n")
    )))
}
