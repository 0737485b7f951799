//! Operations: what each command does, in terms of the pipeline (`engine`, `apply`) and the
//! terminal (`Shell`). The command line (the `commands` module) parses arguments, turns them
//! into the plain options of [`options`] and of each operation, and calls one of these;
//! nothing here knows how arguments are parsed.
//!
//! * [`session`]: load the spec, connect to AWS, check the account, observe, plan.
//! * [`run`]: a writing run: the lock and the audit record.
//! * [`validate`], [`plan`], [`apply`], [`destroy`], [`bootstrap`], [`check`], [`report`],
//!   [`show`], [`output`], [`graph`], [`permissions`], [`fmt`], [`init`], [`schema`]: one
//!   operation per command (`man` and `completions` render the command-line definitions
//!   themselves, so they live with the commands alone).
//! * [`options`]: the global options and a plan's scope, as plain data.
//! * [`state`]: `history`, `state list`, `force-unlock`.
//! * [`dr`]: `dr drill`, `dr failover`, `dr failback`.
//! * [`drift`]: `drift`, plan and `check --live` in one summary for schedules.

pub mod apply;
pub mod bootstrap;
pub mod check;
pub mod destroy;
pub mod dr;
pub mod drift;
pub mod envs;
pub mod fmt;
pub mod graph;
pub mod import;
pub mod init;
pub mod last_applied;
pub mod options;
pub mod output;
pub mod permissions;
pub mod plan;
pub mod render;
pub mod report;
pub mod review;
pub mod rolled_back;
pub mod run;
pub mod schema;
pub mod session;
pub mod show;
pub mod state;
pub mod validate;

use crate::aws::AwsError;
use crate::spec::{SpecError, SpecErrors};

/// Why a command failed; every variant prints one clear message and exits 1.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Every problem found in the spec, one per line.
    #[error("{0}")]
    Spec(#[from] SpecErrors),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Aws(String),
    /// Already reported in detail.
    #[error("{0}")]
    Reported(String),
    /// Stopped by SIGINT/SIGTERM (exit 130); the message says what was and was not done.
    #[error("{0}")]
    Interrupted(String),
}

impl Failure {
    /// The process exit code: 130 for an interrupt, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Interrupted(_) => crate::interrupt::EXIT_CODE,
            _ => 1,
        }
    }

    /// The exit status a writing run records for `result`.
    pub fn status_of<T>(result: &Result<T, Failure>) -> i32 {
        match result {
            Ok(_) => 0,
            Err(f) => f.exit_code().into(),
        }
    }
}

impl From<SpecError> for Failure {
    fn from(e: SpecError) -> Self {
        Failure::Spec(e.into())
    }
}

impl Failure {
    /// The lines `main` prints, each after `error:`.
    pub fn lines(&self) -> Vec<String> {
        match self {
            Failure::Spec(errs) => errs.lines(),
            other => vec![other.to_string()],
        }
    }
}

impl From<crate::interrupt::Stopped> for Failure {
    fn from(s: crate::interrupt::Stopped) -> Self {
        Failure::Interrupted(s.0)
    }
}

impl From<AwsError> for Failure {
    fn from(e: AwsError) -> Self {
        Failure::Aws(e.to_string())
    }
}
