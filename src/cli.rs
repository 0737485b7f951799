//! Command-line surface: the global options and the list of commands. Each command lives in
//! its own file under [`crate::commands`] (its arguments and a thin `run` that calls one
//! operation in [`crate::ops`]); all output goes through [`Shell`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands;
use crate::ops::options::GlobalOptions;
use crate::ops::Failure;
use crate::shell::Shell;

#[derive(Parser, Debug)]
#[command(
    name = "novactl",
    version,
    about = "Provision a HIPAA-grade ML hosting stack on AWS from a declarative spec",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// Options every command takes (before or after the subcommand).
#[derive(clap::Args, Debug, Clone)]
pub struct Global {
    /// The environment spec (YAML). `validate`, `plan` and `check` take it several times:
    /// each environment runs on its own, concurrently, with one summary (exit: the worst).
    #[arg(short = 'e', long = "env", env = "NOVACTL_ENV", global = true,
          action = clap::ArgAction::Append, value_name = "FILE")]
    pub env: Vec<PathBuf>,
    /// AWS endpoint override for every service (else the spec's `endpoint_url`, else
    /// AWS_ENDPOINT_URL).
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
    /// AWS profile (also AWS_PROFILE).
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// Primary AWS region; overrides the spec's `region` (AWS_REGION does not: a different
    /// AWS_REGION is only a warning).
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// No colours (NO_COLOR is honoured too).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Logs on stderr (-v: info, -vv: debug with every AWS call).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only data and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Attempts per AWS call, the first included (else AWS_MAX_ATTEMPTS, else 10); 1 turns
    /// retries off.
    #[arg(long, global = true, value_name = "N")]
    pub max_attempts: Option<u32>,
    /// Commands that take the environment's lock wait this long for another run's lock
    /// (e.g. `30s`, `5m`) instead of refusing at once.
    #[arg(long, global = true, value_name = "DURATION", env = "NOVACTL_LOCK_TIMEOUT",
          value_parser = parse_duration)]
    pub lock_timeout: Option<std::time::Duration>,
    /// Set `vars.KEY` to VALUE (repeatable). Precedence: --var, then NOVACTL_VAR_<KEY>, then
    /// the spec file, then the files it extends.
    #[arg(long = "var", global = true, value_name = "KEY=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))?;
    if !crate::ops::options::var_name_ok(k) {
        return Err(format!(
            "`{k}` is not a variable name (letters, digits and `_`, not starting with a digit)"
        ));
    }
    Ok((k.to_string(), v.to_string()))
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("`{s}` is not a duration (e.g. 30s, 5m, 1h): {e}"))
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Parse the spec, check references and templates. No AWS calls.
    Validate,
    /// Show what apply would change.
    Plan(commands::plan::Args),
    /// Make live state match the spec.
    Apply(commands::apply::Args),
    /// Delete everything the spec describes (that novactl owns), in reverse dependency order.
    Destroy(commands::destroy::Args),
    /// HIPAA compliance gate on the spec, or with --live on live state (exit 0 / 3 / 1).
    Check(commands::check::Args),
    /// Evidence report: every control with the live read it rests on (md, html, json).
    Report(commands::report::Args),
    /// Disaster recovery: drill (measure RTO and RPO), failover, failback.
    Dr(commands::dr::Args),
    /// For schedules: what drifted since the last apply and what is non-compliant now (plan
    /// without the lock + check --live; exit 0 clean, 2 drift or violations, 1 error).
    Drift(commands::drift::Args),
    /// Render a saved plan (text or JSON). No AWS calls.
    Show(commands::show::Args),
    /// Names, ARNs and ids of the spec's resources, for scripts (reads live state).
    Output(commands::output::Args),
    /// Print the spec entry describing a live resource (to paste, then `apply --adopt`).
    /// Reads only.
    Import(commands::import::Args),
    /// The dependency graph (Graphviz DOT or Mermaid). No AWS calls.
    Graph(commands::graph::Args),
    /// The least-privilege IAM policy for running novactl on this spec. No AWS calls.
    Permissions(commands::permissions::Args),
    /// Rewrite the spec in canonical key order and indentation, keeping comments.
    Fmt(commands::fmt::Args),
    /// Write a working project skeleton (environments/, policies/, templates/).
    Init(commands::init::Args),
    /// Print the spec after `extend:` and `--var` as YAML (with --show-origin, each key's
    /// file:line). No AWS calls.
    Render(commands::render::Args),
    /// Print the JSON Schema of the spec (for editors and CI).
    Schema,
    /// Write man pages into a directory.
    Man(commands::man::Args),
    /// Create the S3 state backend the spec names (`state.s3`): bucket and key. Idempotent.
    Bootstrap(commands::bootstrap::Args),
    /// Remove the environment's lock left behind by a run that died (asks first).
    ForceUnlock(commands::force_unlock::Args),
    /// The audit trail: one record per apply, destroy, dr and bootstrap run, newest first.
    History(commands::history::Args),
    /// The state backend's inventory of what novactl created.
    State(commands::state::Args),
    /// Print shell completions (install lines: `novactl completions --help`).
    Completions(commands::completions::Args),
    /// The environments of a directory (file, environment, account, region, state backend):
    /// the input of a CI matrix. No AWS calls.
    Envs(commands::envs::Args),
}

impl From<&Global> for GlobalOptions {
    fn from(g: &Global) -> Self {
        GlobalOptions {
            env: g.env.last().cloned(),
            endpoint_url: g.endpoint_url.clone(),
            profile: g.profile.clone(),
            region: g.region.clone(),
            max_attempts: g.max_attempts,
            lock_timeout: g.lock_timeout,
            vars: g.vars.clone(),
        }
    }
}

pub async fn run(cli: Cli, sh: &Shell) -> Result<ExitCode, Failure> {
    if cli.global.env.len() > 1 {
        return commands::multi::run(&cli, sh);
    }
    let g = &GlobalOptions::from(&cli.global);
    match &cli.cmd {
        Cmd::Validate => commands::validate::run(g, sh),
        Cmd::Plan(a) => commands::plan::run(g, a, sh).await,
        Cmd::Apply(a) => commands::apply::run(g, a, sh).await,
        Cmd::Destroy(a) => commands::destroy::run(g, a, sh).await,
        Cmd::Check(a) => commands::check::run(g, a, sh).await,
        Cmd::Report(a) => commands::report::run(g, a, sh).await,
        Cmd::Dr(a) => commands::dr::run(g, a, sh).await,
        Cmd::Drift(a) => commands::drift::run(g, a, sh).await,
        Cmd::Show(a) => commands::show::run(a, sh),
        Cmd::Output(a) => commands::output::run(g, a, sh).await,
        Cmd::Import(a) => commands::import::run(g, a, sh).await,
        Cmd::Graph(a) => commands::graph::run(g, a, sh),
        Cmd::Permissions(a) => commands::permissions::run(g, a, sh),
        Cmd::Fmt(a) => commands::fmt::run(g, a, sh),
        Cmd::Init(a) => commands::init::run(a, sh),
        Cmd::Render(a) => commands::render::run(g, a, sh),
        Cmd::Schema => commands::schema::run(sh),
        Cmd::Man(a) => commands::man::run(a, &<Cli as clap::CommandFactory>::command(), sh),
        Cmd::Bootstrap(a) => commands::bootstrap::run(g, a, sh).await,
        Cmd::ForceUnlock(a) => commands::force_unlock::run(g, a, sh).await,
        Cmd::History(a) => commands::history::run(g, a, sh).await,
        Cmd::State(a) => commands::state::run(g, a, sh).await,
        Cmd::Envs(a) => commands::envs::run(a, sh),
        Cmd::Completions(a) => {
            commands::completions::run(a, <Cli as clap::CommandFactory>::command(), sh)
        }
    }
}
