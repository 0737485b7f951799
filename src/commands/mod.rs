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
    /// Resources worked on at once.
    #[arg(long, default_value_t = 10)]
    pub parallelism: usize,
}
