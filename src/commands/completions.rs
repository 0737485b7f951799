//! `novactl completions SHELL`: shell completions from the clap definitions.

use std::process::ExitCode;

use crate::ops::Failure;
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn run(a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    let mut cmd = <crate::cli::Cli as clap::CommandFactory>::command();
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "novactl", &mut buf);
    sh.out(&String::from_utf8_lossy(&buf));
    Ok(ExitCode::SUCCESS)
}
