//! `cloudtrail.*` and the trail's CloudWatch Logs side, `log_group.*`.
//!
//! # `log_group.<trail>`
//! A trail with a `log_group` gets its own resource, addressed by the trail's logical name
//! (`cloudtrail.hipaa` → `log_group.hipaa`), so that the plan names a log-group drift
//! (retention, encryption) on it and the graph orders it before the trail. It holds:
//! * the log group: KMS-encrypted with the trail's `kms_key` (key ARN), retention from
//!   `log_retention_days` (one of CloudWatch Logs' allowed values; 0 in the state means "never
//!   expire"), tags;
//! * the IAM role CloudTrail assumes to write to it (attribute `role`): named
//!   `<trail name>-CloudWatchLogs` (cut to IAM's 64 characters), trusting
//!   `cloudtrail.amazonaws.com`, with one inline policy `cloudtrail-to-logs` allowing
//!   `logs:CreateLogStream` and `logs:PutLogEvents` on the group's streams, ownership-tagged.
//!   It is made here with aws-sdk-iam directly, not through the `iam` kind.
//!
//! * the CIS metric filters (attribute `metric_filters`, unless `security_alarms.enabled` is
//!   false): root account use (CIS 4.3) and console authentication failures (CIS 4.6), each
//!   counting into `CloudTrailMetrics/<trail>-<metric>`. Each filter gets an alarm of the
//!   `cloudwatch_alarm` kind (`cloudwatch_alarm.<trail>_root_usage`,
//!   `cloudwatch_alarm.<trail>_console_auth_failures`, see [`security_alarms`]) notifying
//!   `security_alarms.topic` on ALARM and INSUFFICIENT_DATA. Filters cannot be tagged; the
//!   group's filters are owned in full (one added out of band is deleted by `update`).
//!
//! # `cloudtrail.<n>`
//! Bucket (an `s3.*` logical name), prefix, multi-region, log file validation, KMS key,
//! CloudWatch Logs integration (group + role from `log_group.<n>`), data events as one event
//! selector (ReadWriteType All, management events included), logging on, tags. Stopped logging
//! (`logging`) and replaced selectors (`event_selectors`) are drift that update repairs.
//! Selectors are read with GetEventSelectors: moto never updates `HasCustomEventSelectors`.
//!
//! The bucket's policy must let CloudTrail deliver: the `s3` kind adds
//! [`delivery_statements`] to its TLS-only policy for every trail that names the bucket.
//!
//! # Errors
//! A freshly created role can take seconds to be usable by CloudTrail on AWS
//! (InvalidCloudWatchLogsRoleArn / InsufficientEncryptionPolicy right after creation): create
//! and update retry those for up to [`IAM_PROPAGATION`], then report the last error.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_cloudtrail::types::{DataResource, EventSelector, ReadWriteType};
use serde::Deserialize;
use serde_json::{json, Value};

use super::iam::{delete_owned_role, ensure_owned_role, owned_role_decl, Iam};
use super::kit::refs::{account, kms_ref};
use super::ours_of_kind;
use super::{
    desired_tags, from_desired, owner_from_tags, tags_json, Ctx, Decl, DeleteTarget, Observed,
    Owner, Reconciler,
};
use crate::aws::{ok_if_gone, AwsError};
use crate::permissions::{perm, Implied, Perm};
use crate::resources::kind::{Deletion, KindInfo, Names};
use crate::spec::model::Spec;
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

/// What the engine knows of `log_group` (see [`KindInfo`]).
pub const LOG_GROUP_INFO: KindInfo = KindInfo {
    kind: "log_group",
    section: "cloudtrail",
    section_in_context: false,
    names: Names::Regional,
    deletion: Deletion::Immediate,
    protect: |s, n| s.cloudtrail.get(n).and_then(|r| r.protect),
    sensitive: crate::resources::kind::no_sensitive,
};

/// What the engine knows of `cloudtrail` (see [`KindInfo`]).
pub const TRAIL_INFO: KindInfo = KindInfo {
    kind: "cloudtrail",
    section: "cloudtrail",
    section_in_context: false,
    names: Names::Regional,
    deletion: Deletion::Immediate,
    protect: |s, n| s.cloudtrail.get(n).and_then(|r| r.protect),
    sensitive: crate::resources::kind::no_sensitive,
};

/// Every AWS call the log group kind makes (the group, and the role CloudTrail writes to it
/// with, through the iam kind's code) and what IAM must allow (see [`crate::permissions`]).
pub const LOG_GROUP_PERMISSIONS: &[Perm] = &[
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
    perm(
        "logs:DisassociateKmsKey",
        &["logs:DisassociateKmsKey"],
        &[GROUP, GROUP_ALL],
    ),
    perm(
        "logs:ListTagsForResource",
        &["logs:ListTagsForResource"],
        &[GROUP, GROUP_ALL],
    ),
    perm(
        "logs:TagResource",
        &["logs:TagResource"],
        &[GROUP, GROUP_ALL],
    ),
    perm(
        "logs:UntagResource",
        &["logs:UntagResource"],
        &[GROUP, GROUP_ALL],
    ),
    perm(
        "logs:DescribeMetricFilters",
        &["logs:DescribeMetricFilters"],
        &[GROUP, GROUP_ALL],
    ),
    perm(
        "logs:PutMetricFilter",
        &["logs:PutMetricFilter"],
        &[GROUP, GROUP_ALL],
    ),
    perm(
        "logs:DeleteMetricFilter",
        &["logs:DeleteMetricFilter"],
        &[GROUP, GROUP_ALL],
    ),
];
const GROUP: &str = "arn:aws:logs:{region}:{account}:log-group:{id}";
const GROUP_ALL: &str = "arn:aws:logs:{region}:{account}:log-group:{id}:*";

pub struct LogGroup;

/// Every AWS call the trail kind makes and what IAM must allow (see [`crate::permissions`]).
/// Handing CloudTrail the log group's role needs `iam:PassRole` on that role.
pub const TRAIL_PERMISSIONS: &[Perm] = &[
    perm("cloudtrail:ListTrails", &["cloudtrail:ListTrails"], &["*"]),
    perm(
        "cloudtrail:ListTags",
        &["cloudtrail:ListTags"],
        &["arn:aws:cloudtrail:{region}:{account}:trail/*"],
    ),
    perm("cloudtrail:GetTrail", &["cloudtrail:GetTrail"], &[TRAIL]),
    perm(
        "cloudtrail:GetTrailStatus",
        &["cloudtrail:GetTrailStatus"],
        &[TRAIL],
    ),
    perm(
        "cloudtrail:GetEventSelectors",
        &["cloudtrail:GetEventSelectors"],
        &[TRAIL],
    ),
    Perm {
        call: "cloudtrail:CreateTrail",
        actions: &["cloudtrail:CreateTrail", "cloudtrail:AddTags"],
        resources: &[TRAIL],
        implied: &[PASS_LOGS_ROLE],
    },
    Perm {
        call: "cloudtrail:UpdateTrail",
        actions: &["cloudtrail:UpdateTrail"],
        resources: &[TRAIL],
        implied: &[PASS_LOGS_ROLE],
    },
    perm(
        "cloudtrail:PutEventSelectors",
        &["cloudtrail:PutEventSelectors"],
        &[TRAIL],
    ),
    perm(
        "cloudtrail:StartLogging",
        &["cloudtrail:StartLogging"],
        &[TRAIL],
    ),
    perm(
        "cloudtrail:StopLogging",
        &["cloudtrail:StopLogging"],
        &[TRAIL],
    ),
    perm("cloudtrail:AddTags", &["cloudtrail:AddTags"], &[TRAIL]),
    perm(
        "cloudtrail:RemoveTags",
        &["cloudtrail:RemoveTags"],
        &[TRAIL],
    ),
    perm(
        "cloudtrail:DeleteTrail",
        &["cloudtrail:DeleteTrail"],
        &[TRAIL],
    ),
];
const TRAIL: &str = "arn:aws:cloudtrail:{region}:{account}:trail/{id}";
const PASS_LOGS_ROLE: Implied = Implied {
    action: "iam:PassRole",
    resources: &["{dep:log_group.role_arn}"],
    condition: Some((
        "StringEquals",
        "iam:PassedToService",
        "cloudtrail.amazonaws.com",
    )),
};

pub struct Trail;

/// Retention values CloudWatch Logs accepts (PutRetentionPolicy).
pub const RETENTION_DAYS: &[i32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// How long create/update wait for a new role to become usable by CloudTrail.
pub const IAM_PROPAGATION: Duration = Duration::from_secs(60);

const ROLE_POLICY: &str = "cloudtrail-to-logs";

/// Namespace of the CIS metrics.
pub const CIS_NAMESPACE: &str = "CloudTrailMetrics";

/// The CIS filters: (alarm suffix, filter and metric name, pattern, what it catches).
pub const CIS_FILTERS: &[(&str, &str, &str, &str)] = &[
    (
        "root_usage",
        "RootAccountUsage",
        r#"{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }"#,
        "the root account was used (CIS 4.3)",
    ),
    (
        "console_auth_failures",
        "ConsoleAuthenticationFailures",
        r#"{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }"#,
        "console sign-in failed authentication (CIS 4.6)",
    ),
];

fn cis_on(t: &crate::spec::model::Trail) -> bool {
    t.log_group.is_some() && t.security_alarms.as_ref().is_none_or(|a| a.enabled)
}

/// The alarms on the CIS metrics of every trail with a log group, as `cloudwatch.alarms`
/// entries: (logical name, spec path their keys live under, alarm).
pub fn security_alarms(
    spec: &LoadedSpec,
    r: &Renderer,
) -> Result<Vec<(String, String, crate::spec::model::Alarm)>, SpecError> {
    let mut out = Vec::new();
    for (name, t) in &spec.spec.cloudtrail {
        if !cis_on(t) {
            continue;
        }
        let path = format!("cloudtrail.{name}.security_alarms");
        let trail = r.str(&format!("cloudtrail.{name}.name"), &t.name)?;
        // The spec's topic; with none named, the spec's only topic if it has exactly one.
        let only = (spec.spec.sns.len() == 1)
            .then(|| spec.spec.sns.keys().next().cloned())
            .flatten();
        let topic: Vec<String> = t
            .security_alarms
            .as_ref()
            .and_then(|a| a.topic.clone())
            .or(only)
            .into_iter()
            .collect();
        for (suffix, metric, _, what) in CIS_FILTERS {
            out.push((
                format!("{name}_{suffix}"),
                path.clone(),
                crate::spec::model::Alarm {
                    name: format!("{trail}-{metric}"),
                    description: Some(format!("CloudTrail {trail}: {what}")),
                    namespace: CIS_NAMESPACE.into(),
                    metric: format!("{trail}-{metric}"),
                    statistic: "Sum".into(),
                    dimensions: BTreeMap::new(),
                    period: 300,
                    evaluation_periods: 1,
                    threshold: 1.0,
                    comparison: "GreaterThanOrEqualToThreshold".into(),
                    treat_missing_data: Some("notBreaching".into()),
                    actions: topic.clone(),
                    ok_actions: Vec::new(),
                    insufficient_data_actions: None,
                    tags: t.tags.clone(),
                    protect: t.protect,
                },
            ));
        }
    }
    Ok(out)
}

fn desired_filters(spec: &LoadedSpec, r: &Renderer, name: &str) -> Result<Value, SpecError> {
    let t = &spec.spec.cloudtrail[name];
    let mut m = serde_json::Map::new();
    if cis_on(t) {
        let trail = r.str(&format!("cloudtrail.{name}.name"), &t.name)?;
        for (_, metric, pattern, _) in CIS_FILTERS {
            m.insert(
                metric.to_string(),
                json!({
                    "pattern": pattern,
                    "metric_namespace": CIS_NAMESPACE,
                    "metric_name": format!("{trail}-{metric}"),
                    "metric_value": "1",
                }),
            );
        }
    }
    Ok(Value::Object(m))
}
const ROLE_DESCRIPTION: &str = "CloudTrail delivery to CloudWatch Logs (novactl)";

/// Data event names in the spec and the selector they stand for.
const DATA_EVENTS: &[(&str, &str, &str)] = &[
    ("s3", "AWS::S3::Object", "arn:aws:s3:::"),
    ("lambda", "AWS::Lambda::Function", "arn:aws:lambda"),
];

fn role_name(trail: &str) -> String {
    let mut n = format!("{trail}-CloudWatchLogs");
    n.truncate(64);
    n
}

fn group_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:{name}:*")
}

fn trail_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:cloudtrail:{region}:{account}:trail/{name}")
}

/// Bucket policy statements CloudTrail needs to deliver to `bucket_name`, for every trail in
/// `spec` whose `bucket` is `bucket_logical_name`: GetBucketAcl on the bucket, and PutObject
/// under `<prefix>/AWSLogs/<account>/` with the `bucket-owner-full-control` ACL. The `s3` kind
/// merges them with its TLS-only statements. A trail's `prefix` is used as written (not
/// rendered).
pub fn delivery_statements(
    spec: &Spec,
    bucket_logical_name: &str,
    bucket_name: &str,
    account: &str,
) -> Vec<Value> {
    let mut out = Vec::new();
    for (name, t) in &spec.cloudtrail {
        if t.bucket != bucket_logical_name {
            continue;
        }
        let sid: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
        let path = match t.prefix.as_deref().map(|p| p.trim_matches('/')) {
            Some(p) if !p.is_empty() => format!("{p}/AWSLogs/{account}/*"),
            _ => format!("AWSLogs/{account}/*"),
        };
        out.push(json!({
            "Sid": format!("CloudTrailAclCheck{sid}"),
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:GetBucketAcl",
            "Resource": format!("arn:aws:s3:::{bucket_name}"),
        }));
        out.push(json!({
            "Sid": format!("CloudTrailWrite{sid}"),
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": format!("arn:aws:s3:::{bucket_name}/{path}"),
            "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
        }));
    }
    out
}

/// CloudTrail may assume the role only for `trail` of `account` (confused-deputy guard).
fn trust_policy(account: &str, trail: &str) -> Value {
    crate::policy::normalize(&json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": trail},
            },
        }],
    }))
}

fn role_policy(region: &str, account: &str, group: &str) -> Value {
    crate::policy::normalize(&json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "CloudTrailWritesLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": group_arn(region, account, group),
        }],
    }))
}

fn kms_arn(
    spec: &LoadedSpec,
    r: &Renderer,
    key: &str,
    k: &Option<String>,
) -> Result<String, SpecError> {
    match k {
        Some(k) => {
            kms_ref(spec, key, k)?;
            r.str(key, &format!("{{{{ kms.{k}.arn }}}}"))
        }
        None => Ok(String::new()),
    }
}

// ---------------------------------------------------------------------------------------------
// log_group

#[derive(Deserialize)]
struct GroupDesired {
    name: String,
    kms_key_id: String,
    retention_days: i32,
    tags: BTreeMap<String, String>,
    /// The role in the `iam` kind's desired shape.
    role: Value,
    /// Filter name -> pattern and metric.
    metric_filters: BTreeMap<String, Filter>,
}

#[derive(Deserialize)]
struct Filter {
    pattern: String,
    metric_namespace: String,
    metric_name: String,
    metric_value: String,
}

#[async_trait]
impl Reconciler for LogGroup {
    fn permissions(&self) -> &'static [&'static [Perm]] {
        &[LOG_GROUP_PERMISSIONS, super::iam::OWNED_ROLE]
    }

    fn info(&self) -> &'static KindInfo {
        &LOG_GROUP_INFO
    }

    fn decls(&self, spec: &LoadedSpec, r: &Renderer) -> Result<Vec<Decl>, SpecError> {
        let mut out = Vec::new();
        for (name, t) in &spec.spec.cloudtrail {
            let path = format!("cloudtrail.{name}");
            if let Some(days) = t.log_retention_days {
                if !RETENTION_DAYS.contains(&days) {
                    let near = RETENTION_DAYS
                        .iter()
                        .min_by_key(|d| (*d - days).abs())
                        .copied()
                        .unwrap_or(1);
                    return Err(spec.error(
                        &format!("{path}.log_retention_days"),
                        format!(
                            "{days} is not a retention CloudWatch Logs accepts (nearest: {near}; \
                             allowed: {})",
                            RETENTION_DAYS
                                .iter()
                                .map(i32::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
            }
            let Some(group) = &t.log_group else {
                if t.log_retention_days.is_some() {
                    return Err(spec.error(
                        &format!("{path}.log_retention_days"),
                        "is set but the trail has no `log_group`",
                    ));
                }
                continue;
            };
            let group = r.str(&format!("{path}.log_group"), group)?;
            let valid = !group.is_empty()
                && group.len() <= 512
                && group
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-/.#".contains(c));
            if !valid {
                return Err(spec.error(
                    &format!("{path}.log_group"),
                    format!(
                        "`{group}` is not a valid log group name: 1 to 512 of letters, digits, \
                         `_ - / . #`"
                    ),
                ));
            }
            let mut deps = Vec::new();
            if let Some(k) = &t.kms_key {
                deps.push(kms_ref(spec, &format!("{path}.kms_key"), k)?);
            }
            let trail = r.str(&format!("{path}.name"), &t.name)?;
            let role = role_name(&trail);
            let acct = account(r);
            out.push(Decl {
                address: format!("log_group.{name}"),
                kind: "log_group",
                name: name.clone(),
                spec_path: path.clone(),
                region: spec.spec.region.clone(),
                identity: group.clone(),
                identity_key: format!("{path}.log_group"),
                deps,
                outputs: json!({
                    "name": group,
                    "arn": group_arn(&spec.spec.region, &acct, &group),
                    "role_name": role,
                    "role_arn": format!("arn:aws:iam::{acct}:role/{role}"),
                }),
                template_files: Vec::new(),
            });
        }
        Ok(out)
    }

    fn desired(&self, spec: &LoadedSpec, decl: &Decl, r: &Renderer) -> Result<Value, SpecError> {
        let t = &spec.spec.cloudtrail[&decl.name];
        let path = &decl.spec_path;
        let kms = kms_arn(spec, r, &format!("{path}.kms_key"), &t.kms_key)?;
        let tags = desired_tags(spec, &decl.address, &t.tags);
        Ok(json!({
            "name": decl.identity,
            "kms_key_id": kms,
            "retention_days": t.log_retention_days.unwrap_or(0),
            "tags": tags,
            // In the `iam` kind's shape: that kind reads and writes the role.
            "role": {
                "name": decl.outputs["role_name"],
                "trust_policy": trust_policy(
                    &account(r),
                    &trail_arn(
                        &decl.region,
                        &account(r),
                        &r.str(&format!("{path}.name"), &t.name)?,
                    ),
                ),
                "inline_policies": {
                    ROLE_POLICY: role_policy(&decl.region, &account(r), &decl.identity),
                },
                "description": ROLE_DESCRIPTION,
                "tags": tags,
            },
            "metric_filters": desired_filters(spec, r, &decl.name)?,
        }))
    }

    async fn observe(&self, cx: &Ctx<'_>, decl: &Decl) -> Result<Observed, AwsError> {
        let logs = &cx.clients(&decl.region).logs;
        let bare_arn = group_arn(&decl.region, cx.account_id, &decl.identity)
            .trim_end_matches(":*")
            .to_string();
        let role = decl.outputs["role_name"].as_str().unwrap_or_default();
        let rd = role_decl(decl, role);
        // The group, its tags, its role and its metric filters at once (the ARN is known from
        // the name): one round trip. A missing group makes the other reads fail; their answers
        // are then unused.
        let (described, tags, role_state, filters) = tokio::join!(
            async {
                logs.describe_log_groups()
                    .log_group_name_prefix(&decl.identity)
                    .send()
                    .await
                    .map_err(AwsError::from_sdk("logs:DescribeLogGroups"))
            },
            async {
                logs.list_tags_for_resource()
                    .resource_arn(&bare_arn)
                    .send()
                    .await
                    .map(|o| tags_json(o.tags.unwrap_or_default()))
                    .map_err(AwsError::from_sdk("logs:ListTagsForResource"))
            },
            Iam.observe(cx, &rd),
            read_filters(cx, &decl.region, &decl.identity),
        );
        let out = described?;
        let Some(g) = out
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(decl.identity.as_str()))
        else {
            return Ok(Observed::absent(&decl.address));
        };
        let (tags, role_state, filters) = (tags?, role_state?, filters?);
        let mut owner = owner_from_tags(&tags, &decl.address, cx.environment);
        if let (Owner::Ours, Owner::Foreign { reason }) = (&owner, &role_state.owner) {
            if role_state.state.is_some() {
                owner = Owner::Foreign {
                    reason: format!("its role {role}: {reason}"),
                };
            }
        }
        let role_state = role_state.state;
        Ok(Observed {
            address: decl.address.clone(),
            physical_id: decl.identity.clone(),
            state: Some(json!({
                "name": decl.identity,
                "kms_key_id": g.kms_key_id().unwrap_or_default(),
                "retention_days": g.retention_in_days().unwrap_or(0),
                "tags": tags,
                "role": role_state.unwrap_or_else(|| json!({})),
                "metric_filters": filters,
            })),
            owner,
            outputs: decl.outputs.clone(),
        })
    }

    async fn create(&self, cx: &Ctx<'_>, decl: &Decl, desired: &Value) -> Result<Value, AwsError> {
        let d: GroupDesired = from_desired(&decl.address, desired)?;
        let logs = &cx.clients(&decl.region).logs;
        let mut req = logs.create_log_group().log_group_name(&d.name);
        if !d.kms_key_id.is_empty() {
            req = req.kms_key_id(&d.kms_key_id);
        }
        for (k, v) in &d.tags {
            req = req.tags(k, v);
        }
        match req.send().await {
            Ok(_) => {}
            // A run that died after CreateLogGroup: observe found it gone or foreign, so only
            // our own group (same name, just made) can get here.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_already_exists_exception()) => {}
            Err(e) => return Err(AwsError::from_err("logs:CreateLogGroup", e)),
        }
        crate::faults::point("logs.after_create_log_group", &decl.address)?;
        set_retention(cx, &decl.region, &d.name, d.retention_days).await?;
        ensure_role(cx, decl, &d.role).await?;
        for (name, f) in &d.metric_filters {
            put_filter(cx, &decl.region, &d.name, name, f).await?;
        }
        Ok(decl.outputs.clone())
    }

    async fn update(
        &self,
        cx: &Ctx<'_>,
        decl: &Decl,
        desired: &Value,
        observed: &Observed,
        changed: &[String],
    ) -> Result<Value, AwsError> {
        let d: GroupDesired = from_desired(&decl.address, desired)?;
        let logs = &cx.clients(&decl.region).logs;
        let live = observed.state.clone().unwrap_or_default();
        for attr in changed {
            match attr.as_str() {
                "kms_key_id" if d.kms_key_id.is_empty() => {
                    logs.disassociate_kms_key()
                        .log_group_name(&d.name)
                        .send()
                        .await
                        .map_err(AwsError::from_sdk("logs:DisassociateKmsKey"))?;
                }
                "kms_key_id" => {
                    logs.associate_kms_key()
                        .log_group_name(&d.name)
                        .kms_key_id(&d.kms_key_id)
                        .send()
                        .await
                        .map_err(AwsError::from_sdk("logs:AssociateKmsKey"))?;
                }
                "retention_days" => {
                    set_retention(cx, &decl.region, &d.name, d.retention_days).await?
                }
                "tags" => {
                    let arn = group_arn(&decl.region, cx.account_id, &d.name)
                        .trim_end_matches(":*")
                        .to_string();
                    let arn = &arn;
                    crate::resources::kit::tags::sync(
                        &crate::resources::kit::tags::LogsTags { client: logs, arn },
                        &live["tags"],
                        &json!(d.tags),
                    )
                    .await?;
                }
                "role" => ensure_role(cx, decl, &d.role).await?,
                "metric_filters" => {
                    let live_filters = &live["metric_filters"];
                    for (name, f) in &d.metric_filters {
                        let want = desired["metric_filters"].get(name);
                        if live_filters.get(name) != want {
                            put_filter(cx, &decl.region, &d.name, name, f).await?;
                        }
                    }
                    for name in live_filters.as_object().into_iter().flat_map(|m| m.keys()) {
                        if !d.metric_filters.contains_key(name) {
                            logs.delete_metric_filter()
                                .log_group_name(&d.name)
                                .filter_name(name)
                                .send()
                                .await
                                .map_err(AwsError::from_sdk("logs:DeleteMetricFilter"))?;
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(decl.outputs.clone())
    }

    async fn delete(&self, cx: &Ctx<'_>, t: &DeleteTarget<'_>) -> Result<(), AwsError> {
        let logs = &cx.clients(t.region).logs;
        ok_if_gone(
            "logs:DeleteLogGroup",
            logs.delete_log_group()
                .log_group_name(&t.observed.physical_id)
                .send()
                .await,
            |se| se.is_resource_not_found_exception(),
        )?;
        if let Some(role) = t.observed.outputs["role_name"].as_str() {
            delete_owned_role(cx, &owned_role_decl(&t.observed.address, t.region, role)).await?;
        }
        Ok(())
    }
}

/// The metric filters of `group`, in the desired shape.
async fn read_filters(cx: &Ctx<'_>, region: &str, group: &str) -> Result<Value, AwsError> {
    let logs = &cx.clients(region).logs;
    let mut out = serde_json::Map::new();
    let mut pages = logs
        .describe_metric_filters()
        .log_group_name(group)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(AwsError::from_sdk("logs:DescribeMetricFilters"))?;
        for f in page.metric_filters() {
            // Another group whose name starts with this one's is not ours to read.
            if f.log_group_name() != Some(group) {
                continue;
            }
            let t = f.metric_transformations().first();
            out.insert(
                f.filter_name().unwrap_or_default().to_string(),
                json!({
                    "pattern": f.filter_pattern().unwrap_or_default(),
                    "metric_namespace": t.map(|t| t.metric_namespace()).unwrap_or_default(),
                    "metric_name": t.map(|t| t.metric_name()).unwrap_or_default(),
                    "metric_value": t.map(|t| t.metric_value()).unwrap_or_default(),
                }),
            );
        }
    }
    Ok(Value::Object(out))
}

async fn put_filter(
    cx: &Ctx<'_>,
    region: &str,
    group: &str,
    name: &str,
    f: &Filter,
) -> Result<(), AwsError> {
    const OP: &str = "logs:PutMetricFilter";
    let t = aws_sdk_cloudwatchlogs::types::MetricTransformation::builder()
        .metric_namespace(&f.metric_namespace)
        .metric_name(&f.metric_name)
        .metric_value(&f.metric_value)
        .build()
        .map_err(|e| {
            AwsError::local(OP, "InternalError", format!("request does not build: {e}"))
        })?;
    cx.clients(region)
        .logs
        .put_metric_filter()
        .log_group_name(group)
        .filter_name(name)
        .filter_pattern(&f.pattern)
        .metric_transformations(t)
        .send()
        .await
        .map_err(AwsError::from_sdk(OP))?;
    Ok(())
}

async fn set_retention(cx: &Ctx<'_>, region: &str, group: &str, days: i32) -> Result<(), AwsError> {
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

/// The log group's role as a resource of the `iam` kind, owned by the log group's address.
fn role_decl(decl: &Decl, role: &str) -> Decl {
    owned_role_decl(&decl.address, &decl.region, role)
}

/// Makes the log group's role match `want` from whatever exists, through the `iam` kind.
async fn ensure_role(cx: &Ctx<'_>, decl: &Decl, want: &Value) -> Result<(), AwsError> {
    let rd = role_decl(decl, want["name"].as_str().unwrap_or_default());
    ensure_owned_role(cx, &rd, want).await
}

// ---------------------------------------------------------------------------------------------
// cloudtrail

#[derive(Deserialize)]
struct TrailDesired {
    name: String,
    bucket: String,
    prefix: String,
    multi_region: bool,
    log_file_validation: bool,
    kms_key_id: String,
    cloud_watch_logs: Cwl,
    event_selectors: Vec<Selector>,
    logging: bool,
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Cwl {
    log_group_arn: String,
    role_arn: String,
}

#[derive(Deserialize)]
struct Selector {
    read_write_type: String,
    include_management_events: bool,
    data_resources: Vec<DataRes>,
}

#[derive(Deserialize)]
struct DataRes {
    #[serde(rename = "type")]
    kind: String,
    values: Vec<String>,
}

fn selectors_json(sel: &[EventSelector]) -> Value {
    Value::Array(
        sel.iter()
            .map(|s| {
                let mut res: Vec<Value> = s
                    .data_resources()
                    .iter()
                    .map(|d| {
                        let mut values = d.values().to_vec();
                        values.sort();
                        json!({"type": d.r#type().unwrap_or_default(), "values": values})
                    })
                    .collect();
                res.sort_by_key(|v| v.to_string());
                json!({
                    "read_write_type": s.read_write_type().map(|r| r.as_str()).unwrap_or("All"),
                    "include_management_events": s.include_management_events().unwrap_or(true),
                    "data_resources": res,
                })
            })
            .collect(),
    )
}

fn desired_selectors(data_events: &[String]) -> Value {
    let mut res: Vec<Value> = DATA_EVENTS
        .iter()
        .filter(|(n, _, _)| data_events.iter().any(|e| e == n))
        .map(|(_, ty, val)| json!({"type": ty, "values": [val]}))
        .collect();
    res.sort_by_key(|v| v.to_string());
    json!([{
        "read_write_type": "All",
        "include_management_events": true,
        "data_resources": res,
    }])
}

#[async_trait]
impl Reconciler for Trail {
    fn permissions(&self) -> &'static [&'static [Perm]] {
        &[TRAIL_PERMISSIONS]
    }

    fn info(&self) -> &'static KindInfo {
        &TRAIL_INFO
    }

    fn decls(&self, spec: &LoadedSpec, r: &Renderer) -> Result<Vec<Decl>, SpecError> {
        let mut out = Vec::new();
        for (name, t) in &spec.spec.cloudtrail {
            let path = format!("cloudtrail.{name}");
            let trail = r.str(&format!("{path}.name"), &t.name)?;
            let valid = (3..=128).contains(&trail.len())
                && trail
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                && trail.starts_with(|c: char| c.is_ascii_alphanumeric());
            if !valid {
                return Err(spec.error(
                    &format!("{path}.name"),
                    format!(
                        "`{trail}` is not a valid trail name: 3 to 128 letters, digits, `.`, `_` \
                         or `-`, starting with a letter or digit"
                    ),
                ));
            }
            if !spec.spec.s3.contains_key(&t.bucket) {
                let known: Vec<&str> = spec.spec.s3.keys().map(String::as_str).collect();
                return Err(spec.error(
                    &format!("{path}.bucket"),
                    format!(
                        "`{}` is not a bucket in the spec's `s3` section (defined: {})",
                        t.bucket,
                        if known.is_empty() {
                            "none".into()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
            for e in &t.data_events {
                if !DATA_EVENTS.iter().any(|(n, _, _)| n == e) {
                    return Err(spec.error(
                        &format!("{path}.data_events"),
                        format!("`{e}` is not a data event novactl knows: s3, lambda"),
                    ));
                }
            }
            let mut deps = vec![format!("s3.{}", t.bucket)];
            if let Some(k) = &t.kms_key {
                deps.push(kms_ref(spec, &format!("{path}.kms_key"), k)?);
            }
            if t.log_group.is_some() {
                deps.push(format!("log_group.{name}"));
            }
            out.push(Decl {
                address: path.clone(),
                kind: "cloudtrail",
                name: name.clone(),
                spec_path: path.clone(),
                region: spec.spec.region.clone(),
                identity: trail.clone(),
                identity_key: format!("{path}.name"),
                deps,
                outputs: json!({
                    "name": trail,
                    "arn": trail_arn(&spec.spec.region, &account(r), &trail),
                }),
                template_files: Vec::new(),
            });
        }
        Ok(out)
    }

    fn desired(&self, spec: &LoadedSpec, decl: &Decl, r: &Renderer) -> Result<Value, SpecError> {
        let t = &spec.spec.cloudtrail[&decl.name];
        let path = &decl.spec_path;
        let bucket = r.str(
            &format!("s3.{}.name", t.bucket),
            &spec.spec.s3[&t.bucket].name,
        )?;
        let prefix = match &t.prefix {
            Some(p) => r.str(&format!("{path}.prefix"), p)?,
            None => String::new(),
        };
        let (group_arn, role_arn) = if t.log_group.is_some() {
            (
                r.str(path, &format!("{{{{ log_group.{}.arn }}}}", decl.name))?,
                r.str(path, &format!("{{{{ log_group.{}.role_arn }}}}", decl.name))?,
            )
        } else {
            (String::new(), String::new())
        };
        Ok(json!({
            "name": decl.identity,
            "bucket": bucket,
            "prefix": prefix,
            "multi_region": t.multi_region,
            "log_file_validation": t.log_file_validation,
            "kms_key_id": kms_arn(spec, r, &format!("{path}.kms_key"), &t.kms_key)?,
            "cloud_watch_logs": {"log_group_arn": group_arn, "role_arn": role_arn},
            "event_selectors": desired_selectors(&t.data_events),
            "logging": true,
            "tags": desired_tags(spec, &decl.address, &t.tags),
        }))
    }

    async fn observe(&self, cx: &Ctx<'_>, decl: &Decl) -> Result<Observed, AwsError> {
        Ok(read_trail(cx, &decl.region, &decl.address, &decl.identity)
            .await?
            .unwrap_or_else(|| Observed::absent(&decl.address)))
    }

    fn tagging_types(&self) -> &'static [&'static str] {
        &["cloudtrail:trail"]
    }

    async fn discover_found(
        &self,
        cx: &Ctx<'_>,
        region: &str,
        found: Vec<super::Found>,
    ) -> Result<Vec<Observed>, AwsError> {
        let mut out = Vec::new();
        for f in found.iter().filter(|f| !cx.in_spec("cloudtrail", f.name())) {
            if let Some(o) = read_trail(cx, region, &f.address, f.name()).await? {
                if o.owner == Owner::Ours {
                    out.push(o);
                }
            }
        }
        Ok(out)
    }

    async fn discover(&self, cx: &Ctx<'_>, region: &str) -> Result<Vec<Observed>, AwsError> {
        let ct = &cx.clients(region).cloudtrail;
        let mut arns = Vec::new();
        let mut pages = ct.list_trails().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(AwsError::from_sdk("cloudtrail:ListTrails"))?;
            arns.extend(
                page.trails()
                    .iter()
                    .filter(|t| t.home_region().is_none_or(|r| r == region))
                    // The spec's own trails are read by observe.
                    .filter(|t| !cx.in_spec("cloudtrail", t.name().unwrap_or_default()))
                    .filter_map(|t| t.trail_arn().map(str::to_string)),
            );
        }
        let mut out = Vec::new();
        for chunk in arns.chunks(20) {
            let tags = ct
                .list_tags()
                .set_resource_id_list(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(AwsError::from_sdk("cloudtrail:ListTags"))?;
            for rt in tags.resource_tag_list() {
                let t = tags_json(rt.tags_list().iter().map(|t| {
                    (
                        t.key().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                }));
                let (Some(address), Some(arn)) = (
                    ours_of_kind(&t, cx.environment, "cloudtrail"),
                    rt.resource_id(),
                ) else {
                    continue;
                };
                let name = arn.rsplit('/').next().unwrap_or_default();
                if let Some(o) = read_trail(cx, region, &address, name).await? {
                    out.push(o);
                }
            }
        }
        Ok(out)
    }

    async fn create(&self, cx: &Ctx<'_>, decl: &Decl, desired: &Value) -> Result<Value, AwsError> {
        let d: TrailDesired = from_desired(&decl.address, desired)?;
        let ct = &cx.clients(&decl.region).cloudtrail;
        let started = Instant::now();
        let arn = loop {
            let mut req = ct
                .create_trail()
                .name(&d.name)
                .s3_bucket_name(&d.bucket)
                .include_global_service_events(true)
                .is_multi_region_trail(d.multi_region)
                .enable_log_file_validation(d.log_file_validation);
            if !d.prefix.is_empty() {
                req = req.s3_key_prefix(&d.prefix);
            }
            if !d.kms_key_id.is_empty() {
                req = req.kms_key_id(&d.kms_key_id);
            }
            if !d.cloud_watch_logs.log_group_arn.is_empty() {
                req = req
                    .cloud_watch_logs_log_group_arn(&d.cloud_watch_logs.log_group_arn)
                    .cloud_watch_logs_role_arn(&d.cloud_watch_logs.role_arn);
            }
            for (k, v) in &d.tags {
                req = req.tags_list(ct_tag(k, v));
            }
            match req.send().await {
                Ok(o) => {
                    break o
                        .trail_arn
                        .unwrap_or_else(|| trail_arn(&decl.region, cx.account_id, &d.name))
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_trail_already_exists_exception()) =>
                {
                    // Made by a run that died before it finished: converge it.
                    update_trail(cx, &decl.region, &d).await?;
                    break trail_arn(&decl.region, cx.account_id, &d.name);
                }
                Err(e)
                    if started.elapsed() < IAM_PROPAGATION
                        && e.as_service_error().is_some_and(|se| {
                            se.is_invalid_cloud_watch_logs_role_arn_exception()
                                || se.is_insufficient_encryption_policy_exception()
                        }) =>
                {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                }
                Err(e) => return Err(AwsError::from_err("cloudtrail:CreateTrail", e)),
            }
        };
        crate::faults::point("cloudtrail.after_create_trail", &decl.address)?;
        put_selectors(cx, &decl.region, &arn, &d.event_selectors).await?;
        set_logging(cx, &decl.region, &arn, d.logging).await?;
        Ok(json!({ "name": d.name, "arn": arn }))
    }

    async fn update(
        &self,
        cx: &Ctx<'_>,
        decl: &Decl,
        desired: &Value,
        observed: &Observed,
        changed: &[String],
    ) -> Result<Value, AwsError> {
        let d: TrailDesired = from_desired(&decl.address, desired)?;
        let ct = &cx.clients(&decl.region).cloudtrail;
        let arn = observed.outputs["arn"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| trail_arn(&decl.region, cx.account_id, &d.name));
        let settings = [
            "bucket",
            "prefix",
            "multi_region",
            "log_file_validation",
            "kms_key_id",
            "cloud_watch_logs",
        ];
        if changed.iter().any(|c| settings.contains(&c.as_str())) {
            update_trail(cx, &decl.region, &d).await?;
        }
        if changed.iter().any(|c| c == "event_selectors") {
            put_selectors(cx, &decl.region, &arn, &d.event_selectors).await?;
        }
        if changed.iter().any(|c| c == "logging") {
            set_logging(cx, &decl.region, &arn, d.logging).await?;
        }
        if changed.iter().any(|c| c == "tags") {
            let live = observed.state.clone().unwrap_or_default();
            let arn = &arn;
            crate::resources::kit::tags::sync(
                &crate::resources::kit::tags::CloudTrailTags { client: ct, arn },
                &live["tags"],
                &json!(d.tags),
            )
            .await?;
        }
        Ok(json!({ "name": d.name, "arn": arn }))
    }

    async fn delete(&self, cx: &Ctx<'_>, t: &DeleteTarget<'_>) -> Result<(), AwsError> {
        let ct = &cx.clients(t.region).cloudtrail;
        ok_if_gone(
            "cloudtrail:DeleteTrail",
            ct.delete_trail().name(&t.observed.physical_id).send().await,
            |se| se.is_trail_not_found_exception(),
        )
    }
}

/// The trail named `name` as `address` sees it; `None` when it does not exist.
async fn read_trail(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
    name: &str,
) -> Result<Option<Observed>, AwsError> {
    let ct = &cx.clients(region).cloudtrail;
    let trail = match ct.get_trail().name(name).send().await {
        Ok(o) => o.trail,
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_trail_not_found_exception()) =>
        {
            None
        }
        Err(e) => return Err(AwsError::from_err("cloudtrail:GetTrail", e)),
    };
    let Some(trail) = trail.filter(|t| t.name() == Some(name)) else {
        return Ok(None);
    };
    let arn = trail
        .trail_arn()
        .map(str::to_string)
        .unwrap_or_else(|| trail_arn(region, cx.account_id, name));
    let (status, selectors, tags) = tokio::try_join!(
        async {
            ct.get_trail_status()
                .name(&arn)
                .send()
                .await
                .map_err(AwsError::from_sdk("cloudtrail:GetTrailStatus"))
        },
        async {
            ct.get_event_selectors()
                .trail_name(&arn)
                .send()
                .await
                .map_err(AwsError::from_sdk("cloudtrail:GetEventSelectors"))
        },
        async {
            ct.list_tags()
                .resource_id_list(&arn)
                .send()
                .await
                .map_err(AwsError::from_sdk("cloudtrail:ListTags"))
        },
    )?;
    let tags = tags_json(
        tags.resource_tag_list()
            .iter()
            .filter(|rt| rt.resource_id() == Some(arn.as_str()))
            .flat_map(|rt| rt.tags_list())
            .map(|t| {
                (
                    t.key().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            }),
    );
    let owner = owner_from_tags(&tags, address, cx.environment);
    Ok(Some(Observed {
        address: address.to_string(),
        physical_id: name.to_string(),
        state: Some(json!({
            "name": name,
            "bucket": trail.s3_bucket_name().unwrap_or_default(),
            "prefix": trail.s3_key_prefix().unwrap_or_default(),
            "multi_region": trail.is_multi_region_trail().unwrap_or(false),
            "log_file_validation": trail.log_file_validation_enabled().unwrap_or(false),
            "kms_key_id": trail.kms_key_id().unwrap_or_default(),
            "cloud_watch_logs": {
                "log_group_arn": trail.cloud_watch_logs_log_group_arn().unwrap_or_default(),
                "role_arn": trail.cloud_watch_logs_role_arn().unwrap_or_default(),
            },
            "event_selectors": selectors_json(selectors.event_selectors()),
            "logging": status.is_logging().unwrap_or(false),
            "tags": tags,
        })),
        owner,
        outputs: json!({ "name": name, "arn": arn }),
    }))
}

fn ct_tag(k: &str, v: &str) -> aws_sdk_cloudtrail::types::Tag {
    aws_sdk_cloudtrail::types::Tag::builder()
        .key(k)
        .value(v)
        .build()
        .expect("tag key is set")
}

async fn update_trail(cx: &Ctx<'_>, region: &str, d: &TrailDesired) -> Result<(), AwsError> {
    let ct = &cx.clients(region).cloudtrail;
    let started = Instant::now();
    loop {
        // Empty strings clear a setting on UpdateTrail.
        let r = ct
            .update_trail()
            .name(&d.name)
            .s3_bucket_name(&d.bucket)
            .s3_key_prefix(&d.prefix)
            .include_global_service_events(true)
            .is_multi_region_trail(d.multi_region)
            .enable_log_file_validation(d.log_file_validation)
            .kms_key_id(&d.kms_key_id)
            .cloud_watch_logs_log_group_arn(&d.cloud_watch_logs.log_group_arn)
            .cloud_watch_logs_role_arn(&d.cloud_watch_logs.role_arn)
            .send()
            .await;
        match r {
            Ok(_) => return Ok(()),
            Err(e)
                if started.elapsed() < IAM_PROPAGATION
                    && e.as_service_error().is_some_and(|se| {
                        se.is_invalid_cloud_watch_logs_role_arn_exception()
                            || se.is_insufficient_encryption_policy_exception()
                    }) =>
            {
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            Err(e) => return Err(AwsError::from_err("cloudtrail:UpdateTrail", e)),
        }
    }
}

async fn put_selectors(
    cx: &Ctx<'_>,
    region: &str,
    arn: &str,
    selectors: &[Selector],
) -> Result<(), AwsError> {
    let ct = &cx.clients(region).cloudtrail;
    let mut req = ct.put_event_selectors().trail_name(arn);
    for s in selectors {
        let mut b = EventSelector::builder()
            .read_write_type(ReadWriteType::from(s.read_write_type.as_str()))
            .include_management_events(s.include_management_events);
        for d in &s.data_resources {
            b = b.data_resources(
                DataResource::builder()
                    .r#type(&d.kind)
                    .set_values(Some(d.values.clone()))
                    .build(),
            );
        }
        req = req.event_selectors(b.build());
    }
    req.send()
        .await
        .map_err(AwsError::from_sdk("cloudtrail:PutEventSelectors"))?;
    Ok(())
}

async fn set_logging(cx: &Ctx<'_>, region: &str, arn: &str, on: bool) -> Result<(), AwsError> {
    let ct = &cx.clients(region).cloudtrail;
    if on {
        ct.start_logging()
            .name(arn)
            .send()
            .await
            .map_err(AwsError::from_sdk("cloudtrail:StartLogging"))?;
    } else {
        ct.stop_logging()
            .name(arn)
            .send()
            .await
            .map_err(AwsError::from_sdk("cloudtrail:StopLogging"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> Spec {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn delivery_statements_cover_every_trail_on_the_bucket() {
        let s = spec(
            "environment: t\nregion: us-east-1\ncloudtrail:\n  a: {name: TrailA, bucket: logs, prefix: ct}\n  b: {name: TrailB, bucket: other}\n",
        );
        let st = delivery_statements(&s, "logs", "my-logs", "123456789012");
        assert_eq!(st.len(), 2, "one trail: acl check + write");
        assert_eq!(st[0]["Action"], "s3:GetBucketAcl");
        assert_eq!(st[0]["Resource"], "arn:aws:s3:::my-logs");
        assert_eq!(
            st[1]["Resource"],
            "arn:aws:s3:::my-logs/ct/AWSLogs/123456789012/*"
        );
        assert_eq!(
            st[1]["Condition"]["StringEquals"]["s3:x-amz-acl"],
            "bucket-owner-full-control"
        );
        assert!(delivery_statements(&s, "models", "m", "1").is_empty());
        let other = delivery_statements(&s, "other", "o", "1");
        assert_eq!(other[1]["Resource"], "arn:aws:s3:::o/AWSLogs/1/*");
    }

    #[test]
    fn selectors_from_data_events() {
        let v = desired_selectors(&["lambda".into(), "s3".into()]);
        assert_eq!(v[0]["read_write_type"], "All");
        assert_eq!(v[0]["include_management_events"], true);
        let types: Vec<&str> = v[0]["data_resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, vec!["AWS::Lambda::Function", "AWS::S3::Object"]);
    }

    #[test]
    fn role_name_fits_iam() {
        assert_eq!(role_name("T"), "T-CloudWatchLogs");
        assert_eq!(role_name(&"x".repeat(100)).len(), 64);
    }
}
