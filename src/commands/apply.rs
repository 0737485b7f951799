//! `novactl apply`: make live state match the spec (or a saved plan).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::commands::Common;
use crate::ops::options::GlobalOptions;
use crate::ops::{self, Failure};
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// Delete non-empty buckets when a change needs it.
    #[arg(long)]
    pub force: bool,
    /// A plan saved with `plan --out`; refused if live state changed since.
    #[arg(value_name = "PLAN")]
    pub plan: Option<PathBuf>,
    /// Apply even when the spec has unwaived error-severity compliance findings (each is
    /// written to the audit record).
    #[arg(long)]
    pub allow_noncompliant: bool,
    /// Try again an endpoint update SageMaker rolled back (an alarm fired or the new fleet
    /// failed); without it, the same spec plans no change for that endpoint.
    #[arg(long)]
    pub retry_rolled_back: bool,
    #[command(flatten)]
    pub common: Common,
}

pub async fn run(g: &GlobalOptions, a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    let opts = ops::apply::Options {
        auto_approve: a.auto_approve,
        force: a.force,
        plan_file: a.plan.clone(),
        allow_noncompliant: a.allow_noncompliant,
        scope: ops::options::Scope {
            retry_rolled_back: a.retry_rolled_back,
            ..(&a.common).into()
        },
    };
    ops::apply::apply(g, &opts, sh).await
}
