//! `novactl check`: the HIPAA compliance gate (spec, or live with `--live`).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::compliance::Severity;
use crate::ops::options::GlobalOptions;
use crate::ops::{self, Failure};
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Check what is live in AWS (read-only) instead of the spec.
    #[arg(long)]
    pub live: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Write the result to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print the rule catalogue (Markdown) and exit.
    #[arg(long)]
    pub catalogue: bool,
    /// Exit 3 on unwaived findings of this severity or worse.
    #[arg(long, value_enum, default_value = "warning")]
    pub fail_on: FailOn,
    /// Resources read at once (at least 1).
    #[arg(long, default_value_t = 10, value_parser = crate::commands::parallelism())]
    pub parallelism: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

impl From<Format> for ops::check::Format {
    fn from(f: Format) -> Self {
        match f {
            Format::Text => ops::check::Format::Text,
            Format::Json => ops::check::Format::Json,
            Format::Sarif => ops::check::Format::Sarif,
        }
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
}

pub async fn run(g: &GlobalOptions, a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    let opts = ops::check::Options {
        live: a.live,
        format: a.format.into(),
        out: a.out.clone(),
        catalogue: a.catalogue,
        fail_on: match a.fail_on {
            FailOn::Error => Severity::Error,
            FailOn::Warning => Severity::Warning,
        },
        parallelism: a.parallelism,
    };
    ops::check::check(g, &opts, sh).await
}
