//! `novactl show PLAN [--json]`: a saved plan, rendered; no AWS call.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::ops::{self, Failure};
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A plan saved with `novactl plan --out PLAN`.
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// Print the plan as JSON (the same document `plan --json` prints).
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    ops::show::show(
        &ops::show::Options {
            plan: a.plan.clone(),
            json: a.json,
        },
        sh,
    )
}
