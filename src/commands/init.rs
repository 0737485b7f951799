//! `novactl init [--example seed] [DIR]`: a working project skeleton to start from.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::ops::{self, Failure};
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where to write `environments/`, `policies/` and `templates/` (made if missing).
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Start from an example: `seed` is the full MentaLLaMA HIPAA stack (KMS, S3, IAM,
    /// SageMaker, SNS, CloudWatch, CloudTrail) with a `local.yaml` for the AWS emulator.
    #[arg(long, value_enum)]
    pub example: Option<Example>,
    /// Overwrite files that already exist.
    #[arg(long)]
    pub force: bool,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Example {
    /// The MentaLLaMA HIPAA stack.
    Seed,
}

impl From<Example> for ops::init::Example {
    fn from(e: Example) -> Self {
        match e {
            Example::Seed => ops::init::Example::Seed,
        }
    }
}

pub fn run(a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    let opts = ops::init::Options {
        dir: a.dir.clone(),
        example: a.example.map(Into::into),
        force: a.force,
    };
    ops::init::init(&opts, sh)
}
