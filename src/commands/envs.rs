//! `novactl envs DIR [--json]`: the environments of a directory. No AWS call.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::ops::{self, Failure};
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The directory of environment specs (e.g. environments/).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// A JSON list of objects: file, environment, account_id, region, backend, dr_region,
    /// profile, role_arn (the input of a CI matrix).
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    ops::envs::run(&a.dir, a.json, sh)
}
