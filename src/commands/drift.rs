//! `novactl drift`: for schedules, what drifted and what is non-compliant now.

use std::process::ExitCode;

use crate::ops::options::{GlobalOptions, Scope};
use crate::ops::{self, Failure};
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Exit codes: 0 clean (a spec change not applied yet is reported, not \
    counted), 2 drift or compliance violations, 1 error. Takes no lock and writes nothing \
    (except the --notify publish). The record of the last apply is read from the state \
    backend: use the S3 backend (state.s3) for jobs on a fresh checkout."
)]
pub struct Args {
    /// Publish the summary (text, secrets redacted) to this topic of the spec (`sns.<name>`).
    #[arg(long, value_name = "sns.NAME")]
    pub notify: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Resources read at once (default 32; at least 1).
    #[arg(long, value_name = "N", value_parser = crate::commands::parallelism())]
    pub parallelism: Option<usize>,
    /// Find resources of this environment that left the spec by listing every resource of
    /// every kind in the account, instead of the tagging API and the state inventory.
    #[arg(long)]
    pub scan: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

pub async fn run(g: &GlobalOptions, a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    let opts = ops::drift::Options {
        format: match a.format {
            Format::Text => ops::drift::Format::Text,
            Format::Json => ops::drift::Format::Json,
            Format::Markdown => ops::drift::Format::Markdown,
        },
        notify: a.notify.clone(),
        scope: Scope {
            parallelism: a.parallelism,
            scan: a.scan,
            ..Scope::default()
        },
    };
    ops::drift::drift(g, &opts, sh).await
}
