//! One file per command, as Cargo does: the command's arguments (a clap `Args` struct) and a
//! thin `run` that turns them into options and calls one operation in [`crate::ops`].
//! A command file holds no AWS logic of its own.

pub mod apply;
pub mod bootstrap;
pub mod check;
pub mod completions;
pub mod destroy;
pub mod dr;
pub mod force_unlock;
pub mod history;
pub mod plan;
pub mod report;
pub mod state;
pub mod validate;

/// Options shared by plan and apply.
#[derive(clap::Args, Debug, Clone)]
pub struct Common {
    /// Limit to these addresses (and what they depend on).
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// Take over a live resource with the spec's name that novactl did not create.
    #[arg(long = "adopt", value_name = "ADDR")]
    pub adopt: Vec<String>,
    /// Resources worked on at once: read at once by the plan's observation (default 32) and
    /// changed at once by apply (default 10). One value sets both.
    #[arg(long, value_name = "N")]
    pub parallelism: Option<usize>,
    /// Find resources of this environment that left the spec by listing every resource of
    /// every kind in the account (slow in a large account), instead of the tagging API and the
    /// state inventory; finds strays those do not know, e.g. roles made before the inventory.
    #[arg(long)]
    pub scan: bool,
}

/// Resources read at once when `--parallelism` is not given: reads are cheap, AWS's limits on
/// them are high, and on AWS each round trip costs tens of milliseconds.
pub const READ_PARALLELISM: usize = 32;
/// Resources changed at once when `--parallelism` is not given (AWS throttles writes sooner,
/// IAM's most of all).
pub const WRITE_PARALLELISM: usize = 10;

/// How many resources observe reads at once.
pub fn read_parallelism(given: Option<usize>) -> usize {
    given.unwrap_or(READ_PARALLELISM).max(1)
}

/// How many resources apply and destroy change at once.
pub fn write_parallelism(given: Option<usize>) -> usize {
    given.unwrap_or(WRITE_PARALLELISM).max(1)
}
