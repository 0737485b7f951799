//! Operations: what each command does, in terms of the pipeline (`engine`, `apply`) and the
//! terminal (`Shell`). Commands in [`crate::commands`] parse arguments and call one of these.
//!
//! * [`session`]: load the spec, connect to AWS, check the account, observe, plan.
//! * [`run`]: a writing run: the lock and the audit record.
//! * [`validate`], [`plan`], [`apply`], [`destroy`], [`bootstrap`], [`check`], [`report`]: one
//!   operation per command.
//! * [`state`]: `history`, `state list`, `force-unlock`.
//! * [`dr`]: `dr drill`, `dr failover`, `dr failback`.

pub mod apply;
pub mod bootstrap;
pub mod check;
pub mod destroy;
pub mod dr;
pub mod plan;
pub mod report;
pub mod run;
pub mod session;
pub mod state;
pub mod validate;

use crate::aws::AwsError;
use crate::spec::SpecError;

/// Why a command failed; every variant prints one clear message and exits 1.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Spec(#[from] SpecError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Aws(String),
    /// Already reported in detail.
    #[error("{0}")]
    Reported(String),
}

impl From<AwsError> for Failure {
    fn from(e: AwsError) -> Self {
        Failure::Aws(e.to_string())
    }
}
