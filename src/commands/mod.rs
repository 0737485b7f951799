//! One file per command, as Cargo does: the command's arguments (a clap `Args` struct) and a
//! thin `run` that turns them into options and calls one operation in [`crate::ops`].
//! A command file holds no AWS logic of its own.

pub mod apply;
pub mod bootstrap;
pub mod check;
pub mod completions;
pub mod destroy;
pub mod dr;
pub mod drift;
pub mod envs;
pub mod fmt;
pub mod force_unlock;
pub mod graph;
pub mod history;
pub mod import;
pub mod init;
pub mod man;
pub mod multi;
pub mod output;
pub mod permissions;
pub mod plan;
pub mod render;
pub mod report;
pub mod schema;
pub mod show;
pub mod state;
pub mod validate;
#[cfg(test)]
mod workflow_tests;

use crate::ops;

/// Options shared by plan and apply (they become an [`ops::options::Scope`]).
#[derive(clap::Args, Debug, Clone)]
pub struct Common {
    /// Limit to these addresses (and what they depend on).
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// Take over a live resource with the spec's name that novactl did not create.
    #[arg(long = "adopt", value_name = "ADDR")]
    pub adopt: Vec<String>,
    /// Resources worked on at once: read at once by the plan's observation (default 32) and
    /// changed at once by apply (default 10). One value sets both; at least 1.
    #[arg(long, value_name = "N", value_parser = parallelism())]
    pub parallelism: Option<usize>,
    /// Find resources of this environment that left the spec by listing every resource of
    /// every kind in the account (slow in a large account), instead of the tagging API and the
    /// state inventory; finds strays those do not know, e.g. roles made before the inventory.
    #[arg(long)]
    pub scan: bool,
}

/// `--parallelism N`: a whole number of at least 1.
pub fn parallelism() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1000)
}

impl From<&Common> for ops::options::Scope {
    fn from(c: &Common) -> Self {
        ops::options::Scope {
            targets: c.targets.clone(),
            adopt: c.adopt.clone(),
            parallelism: c.parallelism,
            scan: c.scan,
            retry_rolled_back: false,
        }
    }
}
