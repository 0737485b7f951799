//! `novactl import cloudtrail TRAIL`: a live trail as a spec entry. Its bucket becomes a
//! reference to the spec's `s3` entry and its key to the spec's `kms` entry (import those
//! first); event selectors map to `data_events` when they are of the shape novactl writes.
//! A trail that delivers to CloudWatch Logs gets `log_group` and `log_retention_days`, and
//! `log_role` unless its delivery role is the one novactl makes (see [`log_group_keys`]);
//! `novactl import log_group GROUP` is the entry of the trail delivering to that group.

use serde_json::{json, Map, Value};

use super::{desired_selectors, read_trail, TrailState, DATA_EVENTS};
use crate::aws::AwsError;
use crate::resources::cloudtrail::cis::{CIS_FILTERS, CIS_NAMESPACE};
use crate::resources::cloudtrail::log_group::{read_filters, role_name};
use crate::resources::kit::import::{self, ImportRequest, Imported};
use crate::resources::kit::refs::role_arn;
use crate::resources::kit::tags::TAG_ADDRESS;
use crate::resources::{from_desired, tags_json, Ctx};

pub(super) async fn import_trail(
    cx: &Ctx<'_>,
    req: &ImportRequest<'_>,
) -> Result<Imported, AwsError> {
    let o = read_trail(cx, req.region, "cloudtrail.imported", req.id)
        .await?
        .and_then(|o| o.state)
        .ok_or_else(|| import::not_found("trail", req.id))?;
    let t: TrailState = from_desired("cloudtrail.imported", &o)?;
    let refused = |code: &str, why: String| {
        AwsError::local("novactl:import", code, format!("trail {}: {why}", t.name))
    };
    let mut entry = Map::new();
    let mut comments = Vec::new();
    entry.insert("name".into(), json!(t.name));
    let what = format!("its bucket {}", t.bucket);
    let bucket = import::spec_name_of(req, "s3", &t.bucket)
        .ok_or_else(|| import::dependency_not_in_spec(&what, "s3", &t.bucket))?;
    entry.insert("bucket".into(), json!(bucket));
    if !t.prefix.is_empty() {
        entry.insert("prefix".into(), json!(t.prefix));
    }
    if !t.multi_region {
        entry.insert("multi_region".into(), json!(false));
    }
    if !t.log_file_validation {
        entry.insert("log_file_validation".into(), json!(false));
    }
    if !t.kms_key_id.is_empty() {
        let key = import::spec_key_of(cx, req, &t.kms_key_id)
            .await?
            .ok_or_else(|| import::key_not_in_spec(&t.kms_key_id))?;
        entry.insert("kms_key".into(), json!(key));
    }
    let events = data_events(&t).ok_or_else(|| {
        refused(
            "SelectorsNotExpressible",
            format!(
                "its event selectors are not ones the spec can describe (one selector of all \
                 management events, with the data events of all S3 objects and/or all Lambda \
                 functions): {}",
                serde_json::to_string(&t.event_selectors).unwrap_or_default()
            ),
        )
    })?;
    if !events.is_empty() {
        entry.insert("data_events".into(), json!(events));
    }
    let tags = import::extra_tags(req.spec, &tags_json(t.tags.clone()));
    if !t.cloud_watch_logs.log_group_arn.is_empty() {
        log_group_keys(cx, req, &t, &tags, &mut entry, &mut comments).await?;
    }
    if !tags.is_empty() {
        entry.insert("tags".into(), Value::Object(tags));
    }
    if !t.logging {
        comments.push("the trail is not logging: apply turns logging on".to_string());
    }
    Ok(Imported {
        name: import::logical_name(&t.name),
        entry,
        files: Vec::new(),
        comments,
    })
}

/// The `data_events` whose selectors are exactly the live ones; `None` when none are.
fn data_events(t: &TrailState) -> Option<Vec<String>> {
    // None at all (a trail that never had selectors put, on some endpoints): no data events.
    if t.event_selectors.is_empty() {
        return Some(Vec::new());
    }
    let live: Vec<(&str, &str)> = t
        .event_selectors
        .iter()
        .flat_map(|s| &s.data_resources)
        .flat_map(|d| d.values.iter().map(|v| (d.kind.as_str(), v.as_str())))
        .collect();
    let names: Vec<String> = DATA_EVENTS
        .iter()
        .filter(|(_, ty, val)| live.contains(&(*ty, *val)))
        .map(|(n, _, _)| n.to_string())
        .collect();
    let same = serde_json::to_value(desired_selectors(&names)).ok()
        == serde_json::to_value(&t.event_selectors).ok();
    same.then_some(names)
}

/// The log group name in a trail's `CloudWatchLogsLogGroupArn`
/// (`arn:aws:logs:<region>:<account>:log-group:<name>:*`).
fn group_of_arn(arn: &str) -> &str {
    let rest = arn.split_once(":log-group:").map_or(arn, |(_, r)| r);
    rest.strip_suffix(":*").unwrap_or(rest)
}

/// The keys of a trail delivering to CloudWatch Logs: `log_group`, `log_retention_days`,
/// `log_role` (when the delivery role is not novactl's own `<trail>-CloudWatchLogs`, tagged as
/// a log group's), and `security_alarms: {enabled: false}` when the group lacks the CIS
/// metric filters; what apply would still change (the group's key, tags or other filters) is
/// said in `comments`.
async fn log_group_keys(
    cx: &Ctx<'_>,
    req: &ImportRequest<'_>,
    t: &TrailState,
    trail_tags: &Map<String, Value>,
    entry: &mut Map<String, Value>,
    comments: &mut Vec<String>,
) -> Result<(), AwsError> {
    let name = group_of_arn(&t.cloud_watch_logs.log_group_arn).to_string();
    let logs = &cx.clients(req.region).logs;
    let out = logs
        .describe_log_groups()
        .log_group_name_prefix(&name)
        .send()
        .await
        .map_err(AwsError::from_sdk("logs:DescribeLogGroups"))?;
    let g = out
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name.as_str()))
        .ok_or_else(|| import::not_found("log group (the trail's)", &name))?;
    entry.insert("log_group".into(), json!(name));
    if let Some(days) = g.retention_in_days() {
        entry.insert("log_retention_days".into(), json!(days));
    }
    let group_key = g.kms_key_id().unwrap_or_default();
    if group_key != t.kms_key_id {
        comments.push(match (group_key.is_empty(), t.kms_key_id.is_empty()) {
            (_, true) => format!(
                "log group {name} is encrypted with {group_key}: apply removes the key (the \
                 group is encrypted with the trail's `kms_key`, which it has none of)"
            ),
            (true, false) => {
                format!("log group {name} is not encrypted: apply encrypts it with the trail's key")
            }
            (false, false) => format!(
                "log group {name} is encrypted with {group_key}: apply encrypts it with the \
                 trail's key instead"
            ),
        });
    }
    let group_arn = t.cloud_watch_logs.log_group_arn.trim_end_matches(":*");
    let live_tags = logs
        .list_tags_for_resource()
        .resource_arn(group_arn)
        .send()
        .await
        .map_err(AwsError::from_sdk("logs:ListTagsForResource"))?;
    let group_tags = import::extra_tags(req.spec, &json!(live_tags.tags.unwrap_or_default()));
    if &group_tags != trail_tags {
        comments.push(format!(
            "log group {name} has other tags than the trail ({}): apply gives it the trail's",
            serde_json::to_string(&group_tags).unwrap_or_default()
        ));
    }
    // The delivery role: novactl's own, or one the entry names with `log_role`.
    let role = &t.cloud_watch_logs.role_arn;
    let role_nm = role.rsplit('/').next().unwrap_or_default();
    if !(role_nm == role_name(&t.name) && owned_role(cx, req, role_nm).await?) {
        let as_name = *role == role_arn(cx.account_id, role_nm);
        entry.insert(
            "log_role".into(),
            json!(if as_name { role_nm } else { role.as_str() }),
        );
    }
    // Metric filters: the log group kind owns them all.
    let live = read_filters(cx, req.region, &name).await?;
    let cis = CIS_FILTERS.iter().all(|c| {
        live.get(c.metric).is_some_and(|f| {
            f.pattern == c.pattern
                && f.metric_namespace == CIS_NAMESPACE
                && f.metric_name == format!("{}-{}", t.name, c.metric)
                && f.metric_value == "1"
        })
    }) && live.len() == CIS_FILTERS.len();
    if !cis {
        entry.insert("security_alarms".into(), json!({ "enabled": false }));
        comments.push(
            "the log group lacks novactl's CIS metric filters: `security_alarms` is off; \
             turned on, apply adds the filters and their alarms"
                .to_string(),
        );
        if !live.is_empty() {
            let names: Vec<&str> = live.keys().map(String::as_str).collect();
            comments.push(format!(
                "apply deletes the group's metric filters {} (novactl owns the group's filters)",
                names.join(", ")
            ));
        }
    }
    Ok(())
}

/// Is the role `name` one novactl made for a trail's log group (tagged with a
/// `log_group.*` address)?
async fn owned_role(cx: &Ctx<'_>, req: &ImportRequest<'_>, name: &str) -> Result<bool, AwsError> {
    let out = cx
        .clients(req.region)
        .iam
        .get_role()
        .role_name(name)
        .send()
        .await;
    match out {
        Ok(o) => Ok(o.role.is_some_and(|r| {
            r.tags()
                .iter()
                .any(|t| t.key() == TAG_ADDRESS && t.value().starts_with("log_group."))
        })),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_no_such_entity_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(AwsError::from_err("iam:GetRole", e)),
    }
}

/// `novactl import log_group GROUP`: the entry of the region's trail delivering to `GROUP`.
pub(in crate::resources::cloudtrail) async fn import_by_log_group(
    cx: &Ctx<'_>,
    req: &ImportRequest<'_>,
) -> Result<Imported, AwsError> {
    let out = cx
        .clients(req.region)
        .cloudtrail
        .describe_trails()
        .send()
        .await
        .map_err(AwsError::from_sdk("cloudtrail:DescribeTrails"))?;
    let trail = out
        .trail_list()
        .iter()
        .find(|t| {
            t.cloud_watch_logs_log_group_arn()
                .is_some_and(|a| group_of_arn(a) == req.id)
        })
        .and_then(|t| t.name())
        .ok_or_else(|| {
            AwsError::local(
                "novactl:import",
                "NotFound",
                format!(
                    "no trail of {} delivers to log group `{}`: a log group is imported with \
                     its trail (novactl import cloudtrail TRAIL)",
                    req.region, req.id
                ),
            )
        })?;
    let by_trail = ImportRequest {
        id: trail,
        region: req.region,
        spec: req.spec,
        decls: req.decls,
    };
    import_trail(cx, &by_trail).await
}

#[cfg(test)]
mod tests {
    use super::group_of_arn;

    #[test]
    fn group_names_of_arns() {
        assert_eq!(
            group_of_arn("arn:aws:logs:us-east-1:123456789012:log-group:/a/b:*"),
            "/a/b"
        );
        assert_eq!(
            group_of_arn("arn:aws:logs:us-east-1:123456789012:log-group:g"),
            "g"
        );
    }
}
