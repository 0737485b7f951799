//! `novactl import cloudtrail TRAIL`: a live trail as a spec entry. Its bucket becomes a
//! reference to the spec's `s3` entry and its key to the spec's `kms` entry (import those
//! first); event selectors map to `data_events` when they are of the shape novactl writes.
//! A trail that delivers to CloudWatch Logs is refused: the spec's `log_group` is a group and
//! a delivery role novactl makes itself, which an import cannot take over.

use serde_json::{json, Map, Value};

use super::{desired_selectors, read_trail, TrailState, DATA_EVENTS};
use crate::aws::AwsError;
use crate::resources::kit::import::{self, ImportRequest, Imported};
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
    if !t.cloud_watch_logs.log_group_arn.is_empty() {
        return Err(refused(
            "LogGroupNotImportable",
            format!(
                "it delivers to CloudWatch Logs ({}); the spec's `log_group` is a group and a \
                 delivery role novactl makes itself, so a trail with one cannot be imported yet \
                 (write the entry by hand with `log_group:`, or stop the delivery first)",
                t.cloud_watch_logs.log_group_arn
            ),
        ));
    }
    let mut entry = Map::new();
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
    if !tags.is_empty() {
        entry.insert("tags".into(), Value::Object(tags));
    }
    let mut comments = Vec::new();
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
