//! `novactl force-unlock LOCK_ID`: remove the environment's lock left by a run that died.

use std::process::ExitCode;

use crate::ops::options::GlobalOptions;
use crate::ops::{self, Failure};
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The lock id, as printed by the run that was refused (and by `history`).
    #[arg(value_name = "LOCK_ID")]
    pub lock_id: String,
    /// Do not ask for confirmation.
    #[arg(long, short = 'f', visible_alias = "force")]
    pub auto_approve: bool,
}

pub async fn run(g: &GlobalOptions, a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    ops::state::force_unlock(g, &a.lock_id, a.auto_approve, sh).await
}
