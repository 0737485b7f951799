//! `novactl show PLAN [--format text|json|markdown]`: a saved plan, rendered; no AWS call.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::ops::{self, Failure};
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A plan saved with `novactl plan --out PLAN`.
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// Print the plan as JSON (the same document `plan --json` prints; `--format json`).
    #[arg(long)]
    pub json: bool,
    /// How to print the plan: text (the default), json, or markdown (a pull-request comment;
    /// a saved plan records no HIPAA findings, so it has no findings section).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<crate::commands::plan::Format>,
}

pub fn run(a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    ops::show::show(
        &ops::show::Options {
            plan: a.plan.clone(),
            format: crate::commands::plan::format(a.json, a.format)?,
        },
        sh,
    )
}
