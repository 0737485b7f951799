//! `novactl import cloudwatch.alarms NAME`: a live metric alarm as a spec entry. Actions on a
//! topic of the spec become its `sns` reference, other actions stay ARNs; the defaults
//! (`treat_missing_data: missing`, insufficient-data actions equal to `actions`) are left out.

use serde_json::{json, Map, Value};

use super::{describe_alarms, read_alarm, AlarmState};
use crate::aws::AwsError;
use crate::resources::kit::import::{self, ImportRequest, Imported};
use crate::resources::{from_desired, tags_json, Ctx};

pub(super) async fn import_alarm(
    cx: &Ctx<'_>,
    req: &ImportRequest<'_>,
) -> Result<Imported, AwsError> {
    let alarms = describe_alarms(cx, req.region, vec![req.id.to_string()]).await?;
    let a = alarms
        .iter()
        .find(|a| a.alarm_name() == Some(req.id))
        .ok_or_else(|| import::not_found("metric alarm", req.id))?;
    let o = read_alarm(cx, req.region, "cloudwatch_alarm.imported", a).await?;
    let s: AlarmState = from_desired("cloudwatch_alarm.imported", &o.state.unwrap_or_default())?;
    let mut entry = Map::new();
    entry.insert("name".into(), json!(s.name));
    if !s.description.is_empty() {
        entry.insert("description".into(), json!(s.description));
    }
    entry.insert("namespace".into(), json!(s.namespace));
    entry.insert("metric".into(), json!(s.metric));
    entry.insert("statistic".into(), json!(s.statistic));
    if !s.dimensions.is_empty() {
        entry.insert("dimensions".into(), json!(s.dimensions));
    }
    let number = |key: &str, v: Option<i32>| {
        v.ok_or_else(|| {
            AwsError::local(
                "novactl:import",
                "NotAMetricAlarm",
                format!(
                    "alarm {} has no {key}: only single-metric alarms (no metric math) can be \
                     imported",
                    s.name
                ),
            )
        })
    };
    entry.insert("period".into(), json!(number("period", s.period)?));
    entry.insert(
        "evaluation_periods".into(),
        json!(number("evaluation_periods", s.evaluation_periods)?),
    );
    entry.insert("threshold".into(), json!(s.threshold.unwrap_or_default()));
    entry.insert("comparison".into(), json!(s.comparison));
    if s.treat_missing_data != "missing" {
        entry.insert("treat_missing_data".into(), json!(s.treat_missing_data));
    }
    let refs =
        |list: &[String]| -> Vec<String> { list.iter().map(|arn| topic_ref(req, arn)).collect() };
    if !s.actions.is_empty() {
        entry.insert("actions".into(), json!(refs(&s.actions)));
    }
    if !s.ok_actions.is_empty() {
        entry.insert("ok_actions".into(), json!(refs(&s.ok_actions)));
    }
    if s.insufficient_data_actions != s.actions {
        entry.insert(
            "insufficient_data_actions".into(),
            json!(refs(&s.insufficient_data_actions)),
        );
    }
    let tags = import::extra_tags(req.spec, &tags_json(s.tags.clone()));
    if !tags.is_empty() {
        entry.insert("tags".into(), Value::Object(tags));
    }
    Ok(Imported {
        name: import::logical_name(&s.name),
        entry,
        files: Vec::new(),
        comments: Vec::new(),
    })
}

/// An action ARN as the spec writes it: the logical name of the spec's topic with that ARN,
/// else the ARN.
fn topic_ref(req: &ImportRequest<'_>, arn: &str) -> String {
    req.decls
        .iter()
        .find(|d| d.kind == "sns" && d.outputs["arn"].as_str() == Some(arn))
        .map(|d| d.name.clone())
        .unwrap_or_else(|| arn.to_string())
}
