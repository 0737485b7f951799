//! `log_group.<trail>`: the CloudWatch Logs side of a trail with a `log_group`, addressed by
//! the trail's logical name (`cloudtrail.hipaa` → `log_group.hipaa`), so that the plan names a
//! log-group drift (retention, encryption) on it and the graph orders it before the trail. It
//! holds:
//! * the log group: KMS-encrypted with the trail's `kms_key` (key ARN), retention from
//!   `log_retention_days` (one of CloudWatch Logs' allowed values; 0 in the state means "never
//!   expire"), tags;
//! * the IAM role CloudTrail assumes to write to it (attribute `role`, in the `iam` kind's
//!   shape): named `<trail name>-CloudWatchLogs` (cut to IAM's 64 characters), trusting
//!   `cloudtrail.amazonaws.com` for this trail only, with one inline policy
//!   `cloudtrail-to-logs` allowing `logs:CreateLogStream` and `logs:PutLogEvents` on the
//!   group's streams, ownership-tagged with the log group's address. It is read and written
//!   through the `iam` kind's owned-role helpers (`owned_role_decl`, `ensure_owned_role`,
//!   `delete_owned_role`), not as a resource of its own;
//! * the CIS metric filters (attribute `metric_filters`, see [`super::cis`]), unless
//!   `security_alarms.enabled` is false. Filters cannot be tagged; the group's filters are
//!   owned in full (one added out of band is deleted by `update`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::cis::{cis_on, CIS_FILTERS, CIS_NAMESPACE};
use super::{kms_key_arn, trail_arn};
use crate::aws::{ok_if_gone, AwsError};
use crate::permissions::{perm, Perm};
use crate::resources::kind::KindInfo;
use crate::resources::kit::cache::cached_tags;
use crate::resources::kit::log_group::{check_retention, set_retention};
use crate::resources::kit::owned_role::{
    create_owned_role, delete_owned_role, ensure_owned_role, observe_owned_role, owned_role_decl,
};
use crate::resources::kit::refs::{account, kms_ref, role_arn};
use crate::resources::kit::tags::{self, tags_map, LogsTags, Tags};
use crate::resources::{
    desired_tags, from_desired, Ctx, Decl, DeleteTarget, Observed, Owner, Reconciler,
};
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

/// What the engine knows of `log_group` (see [`KindInfo`]).
pub const LOG_GROUP_INFO: KindInfo = KindInfo::new("log_group", "cloudtrail", super::protect);

/// The AWS calls the log group kind makes besides the kit's on any log group
/// ([`LOG_GROUP_CALLS`](crate::resources::kit::log_group::LOG_GROUP_CALLS)) and its role's,
/// and what IAM must allow (see [`crate::permissions`]).
pub const LOG_GROUP_PERMISSIONS: &[Perm] = &[
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
        "cloudtrail:DescribeTrails",
        &["cloudtrail:DescribeTrails"],
        &["*"],
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

const ROLE_POLICY: &str = "cloudtrail-to-logs";
const ROLE_DESCRIPTION: &str = "CloudTrail delivery to CloudWatch Logs (novactl)";

/// A log group's attributes, desired and observed.
#[derive(Serialize, Deserialize)]
pub struct LogGroupState {
    pub name: String,
    pub kms_key_id: String,
    pub retention_days: i32,
    pub tags: Tags,
    /// The role in the `iam` kind's shape (that kind reads and writes it); `{}` when it does
    /// not exist.
    pub role: Value,
    /// Filter name -> pattern and metric, in the CIS catalogue's order.
    pub metric_filters: IndexMap<String, Filter>,
}

/// One metric filter: its pattern and the metric it counts into.
#[derive(Serialize, Deserialize, PartialEq)]
pub struct Filter {
    pub pattern: String,
    pub metric_namespace: String,
    pub metric_name: String,
    pub metric_value: String,
}

/// The role as the `iam` kind wants it (its desired shape).
#[derive(Serialize)]
struct RoleWant {
    name: String,
    trust_policy: Value,
    inline_policies: BTreeMap<String, Value>,
    description: String,
    tags: Tags,
}

pub(super) fn role_name(trail: &str) -> String {
    let mut n = format!("{trail}-CloudWatchLogs");
    n.truncate(64);
    n
}

/// Is the delivery role novactl's own (no `log_role` in the spec)?
fn role_managed(decl: &Decl) -> bool {
    decl.outputs["role_managed"].as_bool() != Some(false)
}

/// The role a `log_role` (at `key`) names, as (name, ARN): a role name (IAM's characters, up
/// to 64) in this account, or a role ARN.
fn given_role(
    spec: &LoadedSpec,
    key: &str,
    given: &str,
    account: &str,
) -> Result<(String, String), SpecError> {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.len() <= 64
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    };
    if let Some(rest) = given.strip_prefix("arn:") {
        // arn:<partition>:iam::<account>:role/<path/><name>
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        let ok = matches!(parts[..], [partition, "iam", "", acct, res]
        if partition.starts_with("aws")
            && acct.len() == 12
            && acct.chars().all(|c| c.is_ascii_digit())
            && res.strip_prefix("role/").is_some_and(|p| {
                let (dirs, name) = p.rsplit_once('/').unwrap_or(("", p));
                name_ok(name) && dirs.split('/').all(|d| d.is_empty() || name_ok(d))
            }));
        if !ok {
            return Err(spec.error(
                key,
                format!(
                    "`{given}` is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)"
                ),
            ));
        }
        let name = given.rsplit('/').next().unwrap_or_default().to_string();
        return Ok((name, given.to_string()));
    }
    if !name_ok(given) {
        return Err(spec.error(
            key,
            format!(
                "`{given}` is not an IAM role name (1 to 64 of letters, digits and `+=,.@_-`) \
                 or a role ARN"
            ),
        ));
    }
    Ok((given.to_string(), role_arn(account, given)))
}

fn group_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:{name}:*")
}

/// The group's ARN without the `:*` of its streams (what the tagging calls take).
fn bare_group_arn(region: &str, account: &str, name: &str) -> String {
    group_arn(region, account, name)
        .trim_end_matches(":*")
        .to_string()
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

/// The CIS metric filters the trail `name`'s log group should have (none when CIS is off).
fn desired_filters(
    spec: &LoadedSpec,
    r: &Renderer,
    name: &str,
) -> Result<IndexMap<String, Filter>, SpecError> {
    let t = &spec.spec.cloudtrail[name];
    let mut m = IndexMap::new();
    if cis_on(t) {
        let trail = r.str(&format!("cloudtrail.{name}.name"), &t.name)?;
        for c in CIS_FILTERS {
            m.insert(
                c.metric.to_string(),
                Filter {
                    pattern: c.pattern.to_string(),
                    metric_namespace: CIS_NAMESPACE.into(),
                    metric_name: format!("{trail}-{}", c.metric),
                    metric_value: "1".into(),
                },
            );
        }
    }
    Ok(m)
}

#[async_trait]
impl Reconciler for LogGroup {
    fn permissions(&self) -> &'static [&'static [Perm]] {
        &[
            LOG_GROUP_PERMISSIONS,
            crate::resources::kit::log_group::LOG_GROUP_CALLS,
            crate::resources::kit::owned_role::OWNED_ROLE,
        ]
    }

    fn info(&self) -> &'static KindInfo {
        &LOG_GROUP_INFO
    }

    fn decls(&self, spec: &LoadedSpec, r: &Renderer) -> Result<Vec<Decl>, SpecError> {
        let mut out = Vec::new();
        for (name, t) in &spec.spec.cloudtrail {
            let path = format!("cloudtrail.{name}");
            if let Some(days) = t.log_retention_days {
                check_retention(spec, &format!("{path}.log_retention_days"), days)?;
            }
            let Some(group) = &t.log_group else {
                for (key, set) in [
                    ("log_retention_days", t.log_retention_days.is_some()),
                    ("log_role", t.log_role.is_some()),
                ] {
                    if set {
                        return Err(spec.error(
                            &format!("{path}.{key}"),
                            "is set but the trail has no `log_group`",
                        ));
                    }
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
            let acct = account(r);
            let (role, arn) = match &t.log_role {
                Some(given) => given_role(spec, &format!("{path}.log_role"), given, &acct)?,
                None => {
                    let role = role_name(&trail);
                    let arn = role_arn(&acct, &role);
                    (role, arn)
                }
            };
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
                    "log_group": group,
                    "arn": group_arn(&spec.spec.region, &acct, &group),
                    "role_name": role,
                    "role_arn": arn,
                    "role_managed": t.log_role.is_none(),
                }),
                template_files: Vec::new(),
            });
        }
        Ok(out)
    }

    fn desired(&self, spec: &LoadedSpec, decl: &Decl, r: &Renderer) -> Result<Value, SpecError> {
        let t = &spec.spec.cloudtrail[&decl.name];
        let path = &decl.spec_path;
        let tags = desired_tags(spec, &decl.address, &t.tags);
        let acct = account(r);
        let trail = r.str(&format!("{path}.name"), &t.name)?;
        let role = RoleWant {
            name: decl.outputs["role_name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            trust_policy: trust_policy(&acct, &trail_arn(&decl.region, &acct, &trail)),
            inline_policies: BTreeMap::from([(
                ROLE_POLICY.to_string(),
                role_policy(&decl.region, &acct, &decl.identity),
            )]),
            description: ROLE_DESCRIPTION.into(),
            tags: tags.clone(),
        };
        let state = LogGroupState {
            name: decl.identity.clone(),
            kms_key_id: kms_key_arn(spec, r, path, t.kms_key.as_deref())?,
            retention_days: t.log_retention_days.unwrap_or(0),
            tags,
            role: if role_managed(decl) {
                serde_json::to_value(&role).unwrap_or_default()
            } else {
                Value::Object(Default::default())
            },
            metric_filters: desired_filters(spec, r, &decl.name)?,
        };
        Ok(serde_json::to_value(&state).unwrap_or_default())
    }

    async fn observe(&self, cx: &Ctx<'_>, decl: &Decl) -> Result<Observed, AwsError> {
        let logs = &cx.clients(&decl.region).logs;
        let bare_arn = bare_group_arn(&decl.region, cx.account_id, &decl.identity);
        let role = decl.outputs["role_name"].as_str().unwrap_or_default();
        let rd = owned_role_decl(&decl.address, &decl.region, role);
        // The group, its tags, its role and its metric filters at once (the ARN is known from
        // the name) when the region's tagging answer holds the group: one round trip. Else
        // the group is looked up first, and a missing one costs that one read.
        let describe = || async {
            logs.describe_log_groups()
                .log_group_name_prefix(&decl.identity)
                .send()
                .await
                .map_err(AwsError::from_sdk("logs:DescribeLogGroups"))
        };
        let cached = cached_tags(cx, &decl.region, &bare_arn).await;
        let first = match &cached {
            Some(_) => None,
            None => {
                let out = describe().await?;
                if !out
                    .log_groups()
                    .iter()
                    .any(|g| g.log_group_name() == Some(decl.identity.as_str()))
                {
                    return Ok(Observed::absent(&decl.address));
                }
                Some(out)
            }
        };
        let (described, tags, role_state, filters) = tokio::join!(
            async {
                match first {
                    Some(out) => Ok(out),
                    None => describe().await,
                }
            },
            async {
                // In an observation, from the tagging answer when it holds the group.
                if let Some(tags) = cached {
                    return Ok(tags);
                }
                logs.list_tags_for_resource()
                    .resource_arn(&bare_arn)
                    .send()
                    .await
                    .map(|o| tags_map(o.tags.unwrap_or_default()))
                    .map_err(AwsError::from_sdk("logs:ListTagsForResource"))
            },
            async {
                if role_managed(decl) {
                    observe_owned_role(cx, &rd).await
                } else {
                    Ok(Observed::absent(&rd.address))
                }
            },
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
        let mut owner = crate::resources::kit::tags::owner_of(&tags, &decl.address, cx.environment);
        if let (Owner::Ours, Owner::Foreign { reason }) = (&owner, &role_state.owner) {
            if role_state.state.is_some() {
                owner = Owner::Foreign {
                    reason: format!("its role {role}: {reason}"),
                };
            }
        }
        let state = LogGroupState {
            name: decl.identity.clone(),
            kms_key_id: g.kms_key_id().unwrap_or_default().to_string(),
            retention_days: g.retention_in_days().unwrap_or(0),
            tags,
            role: role_state
                .state
                .unwrap_or_else(|| Value::Object(Default::default())),
            metric_filters: filters,
        };
        Ok(Observed {
            address: decl.address.clone(),
            physical_id: decl.identity.clone(),
            state: Some(serde_json::to_value(&state).unwrap_or_default()),
            owner,
            outputs: decl.outputs.clone(),
        })
    }

    async fn create(&self, cx: &Ctx<'_>, decl: &Decl, desired: &Value) -> Result<Value, AwsError> {
        let d: LogGroupState = from_desired(&decl.address, desired)?;
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
        if role_managed(decl) {
            ensure_role(cx, decl, &d.role, true).await?;
        }
        // In name order.
        let mut filters: Vec<_> = d.metric_filters.iter().collect();
        filters.sort_by(|a, b| a.0.cmp(b.0));
        for (name, f) in filters {
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
        let d: LogGroupState = from_desired(&decl.address, desired)?;
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
                    let arn = &bare_group_arn(&decl.region, cx.account_id, &d.name);
                    let live_tags: Tags =
                        serde_json::from_value(live["tags"].clone()).unwrap_or_default();
                    tags::sync_maps(&LogsTags { client: logs, arn }, &live_tags, &d.tags).await?;
                }
                "role" if role_managed(decl) => ensure_role(cx, decl, &d.role, false).await?,
                "metric_filters" => {
                    let live_filters: IndexMap<String, Filter> =
                        serde_json::from_value(live["metric_filters"].clone()).unwrap_or_default();
                    let mut want: Vec<_> = d.metric_filters.iter().collect();
                    want.sort_by(|a, b| a.0.cmp(b.0));
                    for (name, f) in want {
                        if live_filters.get(name) != Some(f) {
                            put_filter(cx, &decl.region, &d.name, name, f).await?;
                        }
                    }
                    for name in live_filters.keys() {
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

    /// `novactl import log_group GROUP`: the entry of the trail that delivers to it.
    async fn import(
        &self,
        cx: &Ctx<'_>,
        req: &crate::resources::kit::import::ImportRequest<'_>,
    ) -> Result<crate::resources::kit::import::Imported, AwsError> {
        super::trail::import::import_by_log_group(cx, req).await
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
        // A `log_role` of the spec is not ours to delete (and never tagged as ours).
        let managed = t.observed.outputs["role_managed"].as_bool() != Some(false);
        if let Some(role) = t.observed.outputs["role_name"].as_str().filter(|_| managed) {
            delete_owned_role(cx, &owned_role_decl(&t.observed.address, t.region, role)).await?;
        }
        Ok(())
    }
}

/// The metric filters of `group`, in the order CloudWatch Logs lists them.
pub(super) async fn read_filters(
    cx: &Ctx<'_>,
    region: &str,
    group: &str,
) -> Result<IndexMap<String, Filter>, AwsError> {
    let logs = &cx.clients(region).logs;
    let mut out = IndexMap::new();
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
                Filter {
                    pattern: f.filter_pattern().unwrap_or_default().to_string(),
                    metric_namespace: t.map(|t| t.metric_namespace()).unwrap_or_default().into(),
                    metric_name: t.map(|t| t.metric_name()).unwrap_or_default().into(),
                    metric_value: t.map(|t| t.metric_value()).unwrap_or_default().into(),
                },
            );
        }
    }
    Ok(out)
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

/// Makes the log group's role match `want` from whatever exists, through the `iam` kind's
/// owned-role helper (the role is owned by the log group's address).
/// With `fresh` (the group was just made) the role is created without a read first (see
/// `create_owned_role`).
async fn ensure_role(cx: &Ctx<'_>, decl: &Decl, want: &Value, fresh: bool) -> Result<(), AwsError> {
    let rd = owned_role_decl(
        &decl.address,
        &decl.region,
        want["name"].as_str().unwrap_or_default(),
    );
    if fresh {
        create_owned_role(cx, &rd, want).await
    } else {
        ensure_owned_role(cx, &rd, want).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_role_is_a_role_name_or_arn() {
        let spec = LoadedSpec::from_text(
            std::path::Path::new("env.yaml"),
            "environment: t\nregion: us-east-1\n".into(),
        )
        .unwrap();
        let acct = "123456789012";
        let ok = |g: &str| given_role(&spec, "cloudtrail.t.log_role", g, acct).unwrap();
        assert_eq!(
            ok("Trail-Logs"),
            (
                "Trail-Logs".into(),
                "arn:aws:iam::123456789012:role/Trail-Logs".into()
            )
        );
        assert_eq!(
            ok("arn:aws:iam::210987654321:role/ops/Trail-Logs"),
            (
                "Trail-Logs".into(),
                "arn:aws:iam::210987654321:role/ops/Trail-Logs".into()
            )
        );
        for bad in [
            "",
            "has space",
            &"x".repeat(65),
            "arn:aws:s3:::bucket",
            "arn:aws:iam::12345:role/x",
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:iam::123456789012:role/",
        ] {
            let e = given_role(&spec, "cloudtrail.t.log_role", bad, acct).unwrap_err();
            assert_eq!(e.key, "cloudtrail.t.log_role", "{bad}: {e}");
        }
    }

    #[test]
    fn role_name_fits_iam() {
        assert_eq!(role_name("T"), "T-CloudWatchLogs");
        assert_eq!(role_name(&"x".repeat(100)).len(), 64);
    }
}
