//! `novactl man DIR`: man pages generated from the clap definitions.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::ops::{self, Failure};
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory to write `novactl.1` and one `novactl-<command>.1` per command into (made if
    /// missing). Then: `man -l DIR/novactl.1`, or copy them to e.g. /usr/local/share/man/man1.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

pub fn run(a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    ops::man::man(&a.dir, sh)
}
