//! `novactl permissions -e F [--json]`: the IAM policy for running novactl on this spec.

use std::process::ExitCode;

use crate::ops::options::GlobalOptions;
use crate::ops::{self, Failure};
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print only the policy document (JSON), for `aws iam put-role-policy` or Terraform.
    #[arg(long)]
    pub json: bool,
    /// Instead of the policy: every AWS API call novactl may make for this spec and the IAM
    /// actions each needs (with --json: `{call: {actions, implied}}`).
    #[arg(long)]
    pub by_call: bool,
}

pub fn run(g: &GlobalOptions, a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    ops::permissions::permissions(g, a.json, a.by_call, sh)
}
