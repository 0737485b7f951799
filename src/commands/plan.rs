//! `novactl plan`: what apply would change.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::commands::Common;
use crate::ops::options::GlobalOptions;
use crate::ops::{self, Failure};
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
    /// Save the plan to this file (JSON), for `novactl apply FILE`.
    #[arg(long, value_name = "PLAN")]
    pub out: Option<PathBuf>,
    /// Hold the environment's lock while planning (plan reads without it by default), for
    /// pipelines that serialise plan and apply.
    #[arg(long)]
    pub lock: bool,
    /// Plan the destroy instead: every live resource of the environment a delete, in reverse
    /// dependency order, with destroy's refusals (protected, not novactl's, a non-empty bucket
    /// without --force). Nothing is changed; `novactl apply PLAN` of a plan saved with `--out`
    /// carries it out.
    #[arg(long, conflicts_with_all = ["targets", "adopt", "scan"])]
    pub destroy: bool,
    /// With --destroy: the destroy also empties and deletes buckets that still hold objects
    /// (recorded in the saved plan).
    #[arg(long, requires = "destroy")]
    pub force: bool,
    #[command(flatten)]
    pub common: Common,
}

pub async fn run(g: &GlobalOptions, a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    let opts = ops::plan::Options {
        detailed_exitcode: a.detailed_exitcode,
        json: a.json,
        out: a.out.clone(),
        lock: a.lock,
        scope: (&a.common).into(),
        destroy: a.destroy.then_some(ops::plan::Destroy { force: a.force }),
    };
    ops::plan::plan(g, &opts, sh).await
}
