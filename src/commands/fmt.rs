//! `novactl fmt -e F [--check]`: the spec in canonical key order and indentation.

use std::process::ExitCode;

use crate::ops::options::GlobalOptions;
use crate::ops::{self, Failure};
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Change nothing: exit 1 and print the diff when the file is not formatted (for CI).
    #[arg(long)]
    pub check: bool,
}

pub fn run(g: &GlobalOptions, a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    ops::fmt::fmt(g, a.check, sh)
}
