//! `novactl output -e F [--json] [NAME]`: names and ARNs of the spec's resources, for scripts.

use std::process::ExitCode;

use crate::ops::options::GlobalOptions;
use crate::ops::{self, Failure};
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// One resource (`kms.phi`) or one attribute (`kms.phi.arn`); a single attribute prints
    /// its bare value.
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// Print JSON: `{address: {attribute: value}}` (or the bare value for one attribute).
    #[arg(long)]
    pub json: bool,
}

pub async fn run(g: &GlobalOptions, a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    let opts = ops::output::Options {
        name: a.name.clone(),
        json: a.json,
    };
    ops::output::output(g, &opts, sh).await
}
