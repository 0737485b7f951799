//! `novactl history`: the audit trail, newest run first.

use std::process::ExitCode;

use crate::ops::options::GlobalOptions;
use crate::ops::{self, Failure};
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the records as JSON.
    #[arg(long)]
    pub json: bool,
    /// At most this many runs.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub limit: usize,
}

pub async fn run(g: &GlobalOptions, a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    let opts = ops::state::HistoryOptions {
        json: a.json,
        limit: a.limit,
    };
    ops::state::history(g, &opts, sh).await
}
