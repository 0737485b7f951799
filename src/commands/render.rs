//! `novactl render -e F [--show-origin]`: the spec after `extend:` and `--var`, as YAML.

use std::process::ExitCode;

use crate::ops::options::GlobalOptions;
use crate::ops::{self, Failure};
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// After each key, a comment naming the file and line its value came from (or the
    /// `--var` / `NOVACTL_VAR_<KEY>` that set it).
    #[arg(long)]
    pub show_origin: bool,
}

pub fn run(g: &GlobalOptions, a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    ops::render::render(g, a.show_origin, sh)
}
