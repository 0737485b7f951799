//! `novactl report`: the evidence report from live reads.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::Global;
use crate::ops::report::Format;
use crate::ops::{self, Failure};
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long, value_enum, default_value = "md")]
    pub format: Format,
    /// Write the report to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Audit records in the run history.
    #[arg(long, default_value_t = 20)]
    pub history: usize,
    #[arg(long, default_value_t = 10)]
    pub parallelism: usize,
}

pub async fn run(g: &Global, a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    let opts = ops::report::Options {
        format: a.format,
        out: a.out.clone(),
        parallelism: a.parallelism,
        history: a.history,
    };
    ops::report::report(g, &opts, sh).await
}
