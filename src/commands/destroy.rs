//! `novactl destroy`: delete what the spec describes, in reverse dependency order.

use std::process::ExitCode;

use crate::ops::options::GlobalOptions;
use crate::ops::{self, Failure};
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long)]
    pub auto_approve: bool,
    /// Also delete buckets that still hold objects.
    #[arg(long)]
    pub force: bool,
    /// Resources read at once (default 32) and deleted at once (default 10); at least 1.
    #[arg(long, value_name = "N", value_parser = crate::commands::parallelism())]
    pub parallelism: Option<usize>,
}

pub async fn run(g: &GlobalOptions, a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    let opts = ops::destroy::Options {
        auto_approve: a.auto_approve,
        force: a.force,
        parallelism: a.parallelism,
    };
    ops::destroy::destroy(g, &opts, sh).await
}
