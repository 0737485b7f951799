//! `novactl graph -e F [--format dot|mermaid]`: the dependency graph; no AWS call.

use std::process::ExitCode;

use crate::ops::options::GlobalOptions;
use crate::ops::{self, Failure};
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// `dot` (Graphviz: `novactl graph -e F | dot -Tsvg > graph.svg`) or `mermaid` (for
    /// Markdown pages).
    #[arg(long, value_enum, default_value_t = Format::Dot)]
    pub format: Format,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Dot,
    Mermaid,
}

impl From<Format> for ops::graph::Format {
    fn from(f: Format) -> Self {
        match f {
            Format::Dot => ops::graph::Format::Dot,
            Format::Mermaid => ops::graph::Format::Mermaid,
        }
    }
}

pub fn run(g: &GlobalOptions, a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    ops::graph::graph(g, a.format.into(), sh)
}
