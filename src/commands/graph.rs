//! `novactl graph -e F [--format dot|mermaid]`: the dependency graph; no AWS call.

use std::process::ExitCode;

use crate::cli::Global;
use crate::ops::{self, Failure};
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// `dot` (Graphviz: `novactl graph -e F | dot -Tsvg > graph.svg`) or `mermaid` (for
    /// Markdown pages).
    #[arg(long, value_enum, default_value_t = ops::graph::Format::Dot)]
    pub format: ops::graph::Format,
}

pub fn run(g: &Global, a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    ops::graph::graph(g, a.format, sh)
}
