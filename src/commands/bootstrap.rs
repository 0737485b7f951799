//! `novactl bootstrap`: create the S3 state backend the spec names (bucket and key).

use std::process::ExitCode;

use crate::ops::options::GlobalOptions;
use crate::ops::{self, Failure};
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub async fn run(g: &GlobalOptions, _a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    ops::bootstrap::bootstrap(g, sh).await
}
