//! `novactl permissions -e F [--json] [--for apply|read] [--out DIR]`: the IAM policies for
//! running novactl on this spec.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::ops::options::GlobalOptions;
use crate::ops::permissions::{Options, Purpose};
use crate::ops::{self, Failure};
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print only the policy documents: a JSON array, each element one managed policy of at
    /// most 6,144 characters (whitespace excluded), e.g. `jq -c '.[0]'` for
    /// `aws iam create-policy --policy-document`.
    #[arg(long)]
    pub json: bool,
    /// Which commands the policies are for: `apply` (default), everything any command may call;
    /// `read`, the read-only policies for plan, check --live, drift, output, history and
    /// report (no write action).
    #[arg(long = "for", value_enum, default_value_t = For::Apply, value_name = "WHAT")]
    pub purpose: For,
    /// Also write one file per policy into DIR, named for what it grants
    /// (`novactl-apply-kms.json`, `novactl-apply-s3-1.json`, ...); created if missing.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Instead of the policy: every AWS API call novactl may make for this spec and the IAM
    /// actions each needs (with --json: `{call: {actions, implied, kinds, read}}`; with
    /// `--for read`, the reads only).
    #[arg(long)]
    pub by_call: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum For {
    Apply,
    Read,
}

pub fn run(g: &GlobalOptions, a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    let o = Options {
        json: a.json,
        by_call: a.by_call,
        purpose: match a.purpose {
            For::Apply => Purpose::Apply,
            For::Read => Purpose::Read,
        },
        out: a.out.clone(),
    };
    ops::permissions::permissions(g, &o, sh)
}
