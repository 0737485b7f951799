//! `novactl dr drill|failover|failback`: the disaster-recovery operations.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::ops::dr::{drill, failover};
use crate::ops::options::GlobalOptions;
use crate::ops::Failure;
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub cmd: DrCmd,
}

#[derive(Subcommand, Debug)]
pub enum DrCmd {
    /// Measure RPO (canary objects) and RTO (promoting the standby) against the spec's
    /// objectives, check model artifacts by SHA-256, and write an evidence report. Exit 0 when
    /// both objectives are met, 3 when one is missed, 1 on error.
    Drill(DrillArgs),
    /// Promote the standby for real: primary capacity, primary autoscaling; prints the
    /// endpoint to route traffic to. Safe to repeat.
    Failover,
    /// Return the standby to its warm size once traffic is back on the primary.
    Failback(FailbackArgs),
}

#[derive(clap::Args, Debug)]
pub struct DrillArgs {
    /// Write the evidence report to FILE (JSON) and beside it as Markdown (FILE with .md).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Afterwards return the standby to its warm size and delete the canary objects.
    #[arg(long)]
    pub teardown: bool,
}

#[derive(clap::Args, Debug)]
pub struct FailbackArgs {
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
}

pub async fn run(g: &GlobalOptions, a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    match &a.cmd {
        DrCmd::Drill(d) => {
            let o = drill::Options {
                report: d.report.clone(),
                teardown: d.teardown,
            };
            drill::drill(g, &o, sh).await
        }
        DrCmd::Failover => failover::failover(g, sh).await,
        DrCmd::Failback(f) => {
            let o = failover::FailbackOptions {
                auto_approve: f.auto_approve,
            };
            failover::failback(g, &o, sh).await
        }
    }
}
