//! Command-line surface (`../shared/cli-contract.md`). Each command parses its arguments and
//! calls one operation; all output goes through [`Shell`].

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::apply;
use crate::aws::{Aws, AwsError, Connect};
use crate::engine::{self, Model, Observations, PlanOptions, OFFLINE_ACCOUNT};
use crate::plan::{render, Action, Change, Plan};
use crate::resources::{Ctx, Owner};
use crate::shell::Shell;
use crate::spec::{LoadedSpec, SpecError};

#[derive(Parser, Debug)]
#[command(
    name = "novactl",
    version,
    about = "Provision a HIPAA-grade ML hosting stack on AWS from a declarative spec",
    propagate_version = true
)]
pub struct Cli {
    /// The environment spec (YAML).
    #[arg(short = 'e', long = "env", env = "NOVACTL_ENV", global = true)]
    pub env: Option<PathBuf>,
    /// AWS endpoint override for every service (else the spec's `endpoint_url`, else
    /// AWS_ENDPOINT_URL).
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
    /// AWS profile (also AWS_PROFILE).
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// No colours (NO_COLOR is honoured too).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Logs on stderr (-v: info, -vv: debug with every AWS call).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only data and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Parse the spec, check references and templates. No AWS calls.
    Validate,
    /// Show what apply would change.
    Plan(PlanArgs),
    /// Make live state match the spec.
    Apply(ApplyArgs),
    /// Delete everything the spec describes (that novactl owns), in reverse dependency order.
    Destroy(DestroyArgs),
    /// HIPAA compliance gate (not in this version: exits 1 with a message).
    #[command(hide = true)]
    Check {
        #[arg(long)]
        live: bool,
        #[arg(long, default_value = "text")]
        format: String,
    },
    /// Disaster-recovery drill and failover (not in this version: exits 1 with a message).
    #[command(hide = true)]
    Dr {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Limit to these addresses (and what they depend on).
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// Take over a live resource with the spec's name that novactl did not create.
    #[arg(long = "adopt", value_name = "ADDR")]
    pub adopt: Vec<String>,
    /// Resources worked on at once.
    #[arg(long, default_value_t = 10)]
    pub parallelism: usize,
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
    /// Save the plan to this file (JSON), for `novactl apply FILE`.
    #[arg(long, value_name = "PLAN")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// Delete non-empty buckets when a change needs it.
    #[arg(long)]
    pub force: bool,
    /// A plan saved with `plan --out`; refused if live state changed since.
    #[arg(value_name = "PLAN")]
    pub plan: Option<PathBuf>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args, Debug)]
pub struct DestroyArgs {
    #[arg(long)]
    pub auto_approve: bool,
    /// Also delete buckets that still hold objects.
    #[arg(long)]
    pub force: bool,
    #[arg(long, default_value_t = 10)]
    pub parallelism: usize,
}

/// Why a command failed; every variant prints one clear message and exits 1.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Spec(#[from] SpecError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Aws(String),
    /// Already reported in detail.
    #[error("{0}")]
    Reported(String),
}

pub async fn run(cli: Cli, sh: &Shell) -> Result<ExitCode, Failure> {
    match &cli.cmd {
        Cmd::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "novactl", &mut buf);
            sh.out(&String::from_utf8_lossy(&buf));
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Validate => validate(&cli, sh),
        Cmd::Check { .. } | Cmd::Dr { .. } => Err(Failure::Usage(
            "this command is part of the CLI contract but not implemented in this version of \
             novactl; nothing was read or changed"
                .into(),
        )),
        Cmd::Plan(a) => plan_cmd(&cli, a, sh).await,
        Cmd::Apply(a) => apply_cmd(&cli, a, sh).await,
        Cmd::Destroy(a) => destroy_cmd(&cli, a, sh).await,
    }
}

fn spec_path(cli: &Cli) -> Result<PathBuf, Failure> {
    cli.env.clone().ok_or_else(|| {
        Failure::Usage("no spec given: pass -e/--env FILE (or set NOVACTL_ENV)".into())
    })
}

/// Loads and fully checks the spec with no AWS call.
fn load(cli: &Cli) -> Result<Model, Failure> {
    let spec = LoadedSpec::load(&spec_path(cli)?)?;
    let account = spec
        .spec
        .account_id
        .clone()
        .unwrap_or_else(|| OFFLINE_ACCOUNT.to_string());
    Ok(Model::build(spec, &account)?)
}

fn validate(cli: &Cli, sh: &Shell) -> Result<ExitCode, Failure> {
    let model = load(cli)?;
    let mut by_kind = std::collections::BTreeMap::<&str, usize>::new();
    for d in &model.decls {
        *by_kind.entry(d.kind).or_default() += 1;
    }
    let kinds: Vec<String> = by_kind.iter().map(|(k, n)| format!("{k}: {n}")).collect();
    warn_unreconciled(&model, sh);
    sh.out(&format!(
        "{}: valid ({} resources; {})",
        model.spec.path.display(),
        model.decls.len(),
        kinds.join(", ")
    ));
    Ok(ExitCode::SUCCESS)
}

fn warn_unreconciled(model: &Model, sh: &Shell) {
    let u = crate::resources::unreconciled_sections(&model.spec.spec);
    if !u.is_empty() {
        sh.warn(&format!(
            "these sections are checked but not reconciled by this version: {}",
            u.join(", ")
        ));
    }
}

/// A session against AWS: the checked model with the real account, and the clients.
struct Session {
    model: Model,
    aws: Aws,
    in_spec: HashSet<(String, String)>,
}

async fn connect(cli: &Cli, sh: &Shell) -> Result<Session, Failure> {
    let offline = load(cli)?;
    warn_unreconciled(&offline, sh);
    let spec = offline.spec.clone();
    let connect = Connect {
        endpoint_url: cli
            .endpoint_url
            .clone()
            .or_else(|| spec.spec.endpoint_url.clone()),
        profile: cli.profile.clone(),
    };
    let regions = offline.regions();
    let aws = Aws::connect(&connect, &spec.spec.region, &regions).await;
    let account = aws
        .account_id()
        .await
        .map_err(|e| Failure::Aws(format!("cannot identify the AWS account: {e}")))?;
    if let Some(want) = &spec.spec.account_id {
        if want != &account {
            return Err(Failure::Usage(format!(
                "{}: account_id: the spec is for account {want}, but the credentials are for \
                 account {account}; nothing was read or changed",
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
    })
}

fn ctx<'a>(s: &'a Session) -> Ctx<'a> {
    Ctx {
        aws: &s.aws,
        environment: &s.model.spec.spec.environment,
        account_id: &s.model.account_id,
        progress: None,
        in_spec: &s.in_spec,
    }
}

async fn observe(s: &Session, parallelism: usize, discover: bool) -> Result<Observations, Failure> {
    engine::observe(&s.model, &ctx(s), parallelism, discover)
        .await
        .map_err(|errs| {
            let lines: Vec<String> = errs.iter().map(|(a, e)| format!("  {a}: {e}")).collect();
            Failure::Aws(format!(
                "reading live state failed for {} resource(s):\n{}",
                errs.len(),
                lines.join("\n")
            ))
        })
}

async fn make_plan(
    cli: &Cli,
    s: &Session,
    common: &Common,
    adopt: &[String],
) -> Result<(Plan, Observations), Failure> {
    let obs = observe(s, common.parallelism, true).await?;
    let plan = engine::make_plan(
        &s.model,
        &obs,
        &PlanOptions {
            adopt,
            targets: &common.targets,
            spec_file: spec_path(cli)?.display().to_string(),
        },
    )?;
    Ok((plan, obs))
}

fn warn_deletes(plan: &Plan, sh: &Shell) {
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
}

async fn plan_cmd(cli: &Cli, a: &PlanArgs, sh: &Shell) -> Result<ExitCode, Failure> {
    let s = connect(cli, sh).await?;
    let (plan, _) = make_plan(cli, &s, &a.common, &a.common.adopt).await?;
    if a.json {
        sh.out(&render::json(&plan));
    } else {
        sh.out(&render::text(&plan, sh));
    }
    warn_deletes(&plan, sh);
    if let Some(out) = &a.out {
        std::fs::write(out, render::json(&plan))
            .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", out.display())))?;
        sh.status(&format!("Saved the plan to {}.", out.display()));
    }
    sh.status(&s.aws.summary());
    Ok(if a.detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

async fn apply_cmd(cli: &Cli, a: &ApplyArgs, sh: &Shell) -> Result<ExitCode, Failure> {
    let s = connect(cli, sh).await?;
    let plan_and_obs = match &a.plan {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", file.display())))?;
            let saved: Plan = serde_json::from_str(&text).map_err(|e| {
                Failure::Usage(format!("{} is not a novactl plan: {e}", file.display()))
            })?;
            if saved.format_version != crate::plan::FORMAT_VERSION {
                return Err(Failure::Usage(format!(
                    "{}: plan format {} is not supported (this novactl writes {})",
                    file.display(),
                    saved.format_version,
                    crate::plan::FORMAT_VERSION
                )));
            }
            if !a.common.targets.is_empty() || !a.common.adopt.is_empty() {
                return Err(Failure::Usage(
                    "a saved plan carries its own --target and --adopt; make a new plan to change them"
                        .into(),
                ));
            }
            let common = Common {
                targets: saved.targets.clone(),
                ..a.common.clone()
            };
            let (fresh, obs) = make_plan(cli, &s, &common, &saved.adopted).await?;
            if let Some(why) = engine::staleness(&saved, &fresh) {
                return Err(Failure::Reported(format!(
                    "the saved plan {} is stale; make a new plan. What moved:\n  {why}",
                    file.display()
                )));
            }
            (fresh, obs)
        }
        None => make_plan(cli, &s, &a.common, &a.common.adopt).await?,
    };
    let (plan, obs) = plan_and_obs;
    sh.out(&render::text(&plan, sh));
    let conflicts: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Conflict)
        .collect();
    if !conflicts.is_empty() {
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
    if !plan.has_changes() {
        sh.status(&s.aws.summary());
        return Ok(ExitCode::SUCCESS);
    }
    warn_deletes(&plan, sh);
    confirm(a.auto_approve, sh, "apply these changes")?;
    let outcomes = apply::execute(
        &s.model,
        &plan,
        &obs,
        &ctx(&s),
        sh,
        &apply::Options {
            parallelism: a.common.parallelism,
            force: a.force,
            destroy: false,
        },
    )
    .await;
    finish(&plan, outcomes, &s, sh, "Apply")
}

fn confirm(auto: bool, sh: &Shell, what: &str) -> Result<(), Failure> {
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

fn finish(
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

async fn destroy_cmd(cli: &Cli, a: &DestroyArgs, sh: &Shell) -> Result<ExitCode, Failure> {
    let s = connect(cli, sh).await?;
    let obs = observe(&s, a.parallelism, false).await?;
    let mut changes = Vec::new();
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
    let plan = Plan {
        format_version: crate::plan::FORMAT_VERSION.into(),
        novactl_version: env!("CARGO_PKG_VERSION").into(),
        environment: s.model.spec.spec.environment.clone(),
        account_id: s.model.account_id.clone(),
        region: s.model.spec.spec.region.clone(),
        spec_file: spec_path(cli)?.display().to_string(),
        spec_digest: s.model.digest.clone(),
        changes,
        targets: Vec::new(),
        adopted: Vec::new(),
        unreconciled: Vec::new(),
    };
    if !plan.has_changes() {
        sh.out("No changes. Nothing to destroy.");
        sh.status(&s.aws.summary());
        return Ok(ExitCode::SUCCESS);
    }
    sh.out(&render::text(&plan, sh));
    warn_deletes(&plan, sh);
    confirm(a.auto_approve, sh, "destroy these resources")?;
    let outcomes = apply::execute(
        &s.model,
        &plan,
        &obs,
        &ctx(&s),
        sh,
        &apply::Options {
            parallelism: a.parallelism,
            force: a.force,
            destroy: true,
        },
    )
    .await;
    finish(&plan, outcomes, &s, sh, "Destroy")
}

impl From<AwsError> for Failure {
    fn from(e: AwsError) -> Self {
        Failure::Aws(e.to_string())
    }
}
