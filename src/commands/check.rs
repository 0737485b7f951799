//! `novactl check`: the HIPAA gate (not in this version).

use std::process::ExitCode;

use crate::cli::Global;
use crate::ops::Failure;
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long)]
    pub live: bool,
    #[arg(long, default_value = "text")]
    pub format: String,
}

pub async fn run(_g: &Global, _a: &Args, _sh: &Shell) -> Result<ExitCode, Failure> {
    Err(Failure::not_in_this_version())
}
