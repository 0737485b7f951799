//! CloudWatch Logs groups two kinds make (a trail's `log_group`, a network's flow-log group):
//! the retentions CloudWatch Logs accepts, and setting one.

use crate::aws::AwsError;
use crate::permissions::{perm, Perm};
use crate::resources::Ctx;
use crate::spec::{LoadedSpec, SpecError};

/// The calls on a log group a kind owns and names in its output `log_group`.
pub const LOG_GROUP_CALLS: &[Perm] = &[
    perm(
        "logs:DescribeLogGroups",
        &["logs:DescribeLogGroups"],
        &["arn:aws:logs:{region}:{account}:log-group:*"],
    ),
    perm(
        "logs:CreateLogGroup",
        &["logs:CreateLogGroup", "logs:TagResource"],
        &[GROUP, GROUP_ALL],
    ),
    perm(
        "logs:DeleteLogGroup",
        &["logs:DeleteLogGroup"],
        &[GROUP, GROUP_ALL],
    ),
    perm(
        "logs:PutRetentionPolicy",
        &["logs:PutRetentionPolicy"],
        &[GROUP, GROUP_ALL],
    ),
    perm(
        "logs:DeleteRetentionPolicy",
        &["logs:DeleteRetentionPolicy"],
        &[GROUP, GROUP_ALL],
    ),
    perm(
        "logs:AssociateKmsKey",
        &["logs:AssociateKmsKey"],
        &[GROUP, GROUP_ALL],
    ),
];
const GROUP: &str = "arn:aws:logs:{region}:{account}:log-group:{out.log_group}";
const GROUP_ALL: &str = "arn:aws:logs:{region}:{account}:log-group:{out.log_group}:*";

/// Retention values CloudWatch Logs accepts (PutRetentionPolicy).
pub const RETENTION_DAYS: &[i32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// An error at `key` unless `days` is a retention CloudWatch Logs accepts.
pub fn check_retention(spec: &LoadedSpec, key: &str, days: i32) -> Result<(), SpecError> {
    if RETENTION_DAYS.contains(&days) {
        return Ok(());
    }
    let near = RETENTION_DAYS
        .iter()
        .min_by_key(|d| (*d - days).abs())
        .copied()
        .unwrap_or(1);
    Err(spec.error(
        key,
        format!(
            "{days} is not a retention CloudWatch Logs accepts (nearest: {near}; allowed: {})",
            RETENTION_DAYS
                .iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ))
}

/// Sets the retention of `group` (0: never expire).
pub async fn set_retention(
    cx: &Ctx<'_>,
    region: &str,
    group: &str,
    days: i32,
) -> Result<(), AwsError> {
    let logs = &cx.clients(region).logs;
    if days == 0 {
        logs.delete_retention_policy()
            .log_group_name(group)
            .send()
            .await
            .map_err(AwsError::from_sdk("logs:DeleteRetentionPolicy"))?;
    } else {
        logs.put_retention_policy()
            .log_group_name(group)
            .retention_in_days(days)
            .send()
            .await
            .map_err(AwsError::from_sdk("logs:PutRetentionPolicy"))?;
    }
    Ok(())
}
