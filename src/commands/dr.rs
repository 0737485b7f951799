//! `novactl dr drill|failover`: disaster recovery (not in this version).

use std::process::ExitCode;

use crate::cli::Global;
use crate::ops::Failure;
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

pub async fn run(_g: &Global, _a: &Args, _sh: &Shell) -> Result<ExitCode, Failure> {
    Err(Failure::not_in_this_version())
}
