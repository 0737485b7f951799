//! `novactl plan`: what apply would change.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;

use crate::commands::Common;
use crate::ops::options::GlobalOptions;
use crate::ops::{self, Failure};
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Print the plan as JSON (the same as `--format json`).
    #[arg(long)]
    pub json: bool,
    /// How to print the plan: text (the default), json, or markdown (a pull-request comment
    /// of at most 65,000 characters: counts, replaces and deletes first, a table of changes,
    /// the HIPAA findings the change brings or removes, attribute diffs, the apply command).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// Save the plan to this file (JSON), for `novactl apply FILE`.
    #[arg(long, value_name = "PLAN")]
    pub out: Option<PathBuf>,
    /// Hold the environment's lock while planning (plan reads without it by default), for
    /// pipelines that serialise plan and apply.
    #[arg(long)]
    pub lock: bool,
    /// A price file (the shape of the shipped prices/aws-prices.yaml) whose prices override
    /// or extend the shipped table's for the cost line; read locally, never fetched.
    #[arg(long, value_name = "FILE")]
    pub prices: Option<PathBuf>,
    /// Plan the destroy instead: every live resource of the environment a delete, in reverse
    /// dependency order, with destroy's refusals (protected, not novactl's, a non-empty bucket
    /// without --force). Nothing is changed; `novactl apply PLAN` of a plan saved with `--out`
    /// carries it out.
    #[arg(long, conflicts_with_all = ["targets", "adopt", "scan"])]
    pub destroy: bool,
    /// With --destroy: the destroy also empties and deletes buckets that still hold objects
    /// (recorded in the saved plan).
    #[arg(long, requires = "destroy")]
    pub force: bool,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

/// `--format`, with `--json` meaning `--format json` (both at once must agree).
pub fn format(json: bool, format: Option<Format>) -> Result<ops::plan::Format, Failure> {
    Ok(match (json, format) {
        (true, None | Some(Format::Json)) | (false, Some(Format::Json)) => ops::plan::Format::Json,
        (true, Some(other)) => {
            return Err(Failure::Usage(format!(
                "--json means --format json; it cannot go with --format {}",
                other
                    .to_possible_value()
                    .map(|v| v.get_name().to_string())
                    .unwrap_or_default()
            )))
        }
        (false, None | Some(Format::Text)) => ops::plan::Format::Text,
        (false, Some(Format::Markdown)) => ops::plan::Format::Markdown,
    })
}

pub async fn run(g: &GlobalOptions, a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    let opts = ops::plan::Options {
        detailed_exitcode: a.detailed_exitcode,
        format: format(a.json, a.format)?,
        out: a.out.clone(),
        lock: a.lock,
        scope: (&a.common).into(),
        prices: a.prices.clone(),
        destroy: a.destroy.then_some(ops::plan::Destroy { force: a.force }),
    };
    ops::plan::plan(g, &opts, sh).await
}
