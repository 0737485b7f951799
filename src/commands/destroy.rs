//! `novactl destroy`: delete what the spec describes, in reverse dependency order.

use std::process::ExitCode;

use crate::cli::Global;
use crate::ops::{self, Failure};
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long)]
    pub auto_approve: bool,
    /// Also delete buckets that still hold objects.
    #[arg(long)]
    pub force: bool,
    /// Resources deleted at once (at least 1).
    #[arg(long, default_value_t = 10, value_parser = crate::commands::parallelism())]
    pub parallelism: usize,
}

pub async fn run(g: &Global, a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    let opts = ops::destroy::Options {
        auto_approve: a.auto_approve,
        force: a.force,
        parallelism: a.parallelism,
    };
    ops::destroy::destroy(g, &opts, sh).await
}
