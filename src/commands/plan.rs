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
    /// A price file (the shape of the shipped prices/aws-prices.yaml) whose prices override
    /// or extend the shipped table's for the cost line; read locally, never fetched.
    #[arg(long, value_name = "FILE")]
    pub prices: Option<PathBuf>,
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
        prices: a.prices.clone(),
    };
    ops::plan::plan(g, &opts, sh).await
}
