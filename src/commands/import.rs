//! `novactl import -e F KIND ID [--as NAME] [--write DIR]`: the spec entry of a live resource.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::ops::options::GlobalOptions;
use crate::ops::{self, Failure};
use crate::shell::Shell;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The spec section: s3, kms, iam, sns, cloudwatch.alarms, cloudwatch.dashboards,
    /// sagemaker.models, sagemaker.endpoints, cloudtrail, network, security_groups (or
    /// security_group); or log_group (the trail delivering to that group).
    #[arg(value_name = "KIND")]
    pub kind: String,
    /// The live resource: a bucket name, a key id or alias, a role name, a topic name or ARN,
    /// an alarm, dashboard, model, endpoint or trail name, a log group name, a VPC id
    /// (vpc-...), a security group id (sg-...).
    #[arg(value_name = "ID")]
    pub id: String,
    /// The logical name of the entry (`[a-z0-9_]`); default: derived from the id.
    #[arg(long = "as", value_name = "NAME")]
    pub name: Option<String>,
    /// Write the files the entry needs (a key policy, a dashboard body) into DIR; the entry
    /// refers to them by a path relative to the spec.
    #[arg(long, value_name = "DIR")]
    pub write: Option<PathBuf>,
}

pub async fn run(g: &GlobalOptions, a: &Args, sh: &Shell) -> Result<ExitCode, Failure> {
    let opts = ops::import::Options {
        kind: a.kind.clone(),
        id: a.id.clone(),
        name: a.name.clone(),
        write: a.write.clone(),
    };
    ops::import::import(g, &opts, sh).await
}
