//! `novactl report`: the evidence report from live reads.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::ops::options::GlobalOptions;
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
    /// Resources read at once (at least 1).
    #[arg(long, default_value_t = 10, value_parser = crate::commands::parallelism())]
    pub parallelism: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Md,
    Html,
    Json,
}

impl From<Format> for ops::report::Format {
    fn from(f: Format) -> Self {
        match f {
            Format::Md => ops::report::Format::Md,
            Format::Html => ops::report::Format::Html,
            Format::Json => ops::report::Format::Json,
        }
    }
}

pub async fn run(g: &GlobalOptions, a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    let opts = ops::report::Options {
        format: a.format.into(),
        out: a.out.clone(),
        parallelism: a.parallelism,
        history: a.history,
    };
    ops::report::report(g, &opts, sh).await
}
