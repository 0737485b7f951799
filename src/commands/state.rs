//! `novactl state list`: the inventory of what novactl created.

use std::process::ExitCode;

use crate::ops::options::GlobalOptions;
use crate::ops::{self, Failure};
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub cmd: StateCmd,
}

#[derive(clap::Subcommand, Debug)]
pub enum StateCmd {
    /// Everything novactl created in this environment (kind, region, name, ARN, address, run).
    List {
        /// Print the inventory as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(g: &GlobalOptions, a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    match &a.cmd {
        StateCmd::List { json } => ops::state::list(g, *json, sh).await,
    }
}
