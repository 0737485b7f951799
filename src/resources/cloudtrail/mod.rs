//! `cloudtrail.*` and the trail's CloudWatch Logs side, `log_group.*`: two kinds read from the
//! spec's `cloudtrail` section.
//!
//! * [`trail`]: the trail itself (`cloudtrail.<n>`).
//! * [`log_group`]: `log_group.<n>`, the trail's log group with its metric filters and the
//!   IAM role CloudTrail writes to it with.
//! * [`cis`]: the CIS catalogue, the filters and the `cloudwatch_alarm` entries on them.
//!
//! The bucket's policy must let CloudTrail deliver: the `s3` kind adds
//! [`delivery_statements`] (in [`crate::resources::kit::delivery`]) to its TLS-only policy for
//! every trail that names the bucket.
//!
//! This file holds what both kinds share: the `protect` setting of a trail's entry, the
//! trail's ARN (the log group's role trusts CloudTrail for that trail only) and the trail's
//! KMS key ARN.

pub mod cis;
pub mod log_group;
pub mod trail;

pub use cis::security_alarms;
pub use log_group::LogGroup;
pub use trail::Trail;

use crate::resources::kit::refs;
use crate::spec::model::Spec;
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

/// The `protect` of the trail entry `name` (the trail and its log group share it).
fn protect(s: &Spec, name: &str) -> Option<bool> {
    s.cloudtrail.get(name).and_then(|r| r.protect)
}

/// `arn:aws:cloudtrail:<region>:<account>:trail/<name>`.
fn trail_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:cloudtrail:{region}:{account}:trail/{name}")
}

/// The ARN of the trail's `kms_key` (at `<path>.kms_key`), empty when it names none.
fn kms_key_arn(
    spec: &LoadedSpec,
    r: &Renderer,
    path: &str,
    key: Option<&str>,
) -> Result<String, SpecError> {
    match key {
        Some(k) => refs::kms_arn(spec, r, &format!("{path}.kms_key"), k),
        None => Ok(String::new()),
    }
}
