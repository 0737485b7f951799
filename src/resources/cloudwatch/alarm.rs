//! `cloudwatch_alarm.*`: the alarms of the spec's `cloudwatch.alarms` and the trails' CIS
//! alarms ([`crate::resources::cloudtrail::security_alarms`], their keys under the trail's
//! `security_alarms`).
//!
//! Every field of the spec's alarm is an attribute and is diffed; PutMetricAlarm is both
//! create and update (it replaces the whole alarm), so any drift is repaired by one call.
//! `actions` are `sns.*` logical names (resolved to the topic ARN, which is known from the spec)
//! or literal `arn:` strings; they are compared as a sorted list. Tags: PutMetricAlarm tags only
//! a new alarm, so tag drift goes through TagResource / UntagResource.
//!
//! `insufficient_data_actions` default to `actions` (AWS Config's `cloudwatch-alarm-action-check`
//! wants both) and `ok_actions` to none; all three are diffed.
//!
//! In an observation every alarm of the spec in a region is described by one DescribeAlarms
//! (per 100 names), shared by all of them.

use std::collections::BTreeMap;

mod import;

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricAlarm, Statistic};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::name_arn;
use crate::aws::{ok_if_gone, AwsError};
use crate::permissions::{perm, Perm};
use crate::resources::kind::KindInfo;
use crate::resources::kit::cache::cached_tags;
use crate::resources::kit::discover::{read_found, read_tagged};
use crate::resources::kit::refs::account;
use crate::resources::kit::tags::{self, cloudwatch_tag, owner_of, tags_map, CloudWatchTags, Tags};
use crate::resources::{
    desired_tags, from_desired, Ctx, Decl, DeleteTarget, Found, Observed, Reconciler,
};
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

/// What the engine knows of `cloudwatch_alarm` (see [`KindInfo`]).
pub const ALARM_INFO: KindInfo = KindInfo::new("cloudwatch_alarm", "cloudwatch.alarms", |s, n| {
    s.cloudwatch.alarms.get(n).and_then(|r| r.protect)
})
.outputs_under_section()
.tagged_as(&["cloudwatch:alarm"]);

/// Every AWS call the alarm kind makes and what IAM must allow (see [`crate::permissions`]).
/// Discovery lists the region's alarms and reads the tags of those the spec does not name.
pub const ALARM_PERMISSIONS: &[Perm] = &[
    perm(
        "cloudwatch:DescribeAlarms",
        &["cloudwatch:DescribeAlarms"],
        &["*"],
    ),
    perm(
        "cloudwatch:ListTagsForResource",
        &["cloudwatch:ListTagsForResource"],
        &["arn:aws:cloudwatch:{region}:{account}:alarm:*"],
    ),
    perm(
        "cloudwatch:PutMetricAlarm",
        &["cloudwatch:PutMetricAlarm", "cloudwatch:TagResource"],
        &[ALARM],
    ),
    perm(
        "cloudwatch:TagResource",
        &["cloudwatch:TagResource"],
        &[ALARM],
    ),
    perm(
        "cloudwatch:UntagResource",
        &["cloudwatch:UntagResource"],
        &[ALARM],
    ),
    perm(
        "cloudwatch:DeleteAlarms",
        &["cloudwatch:DeleteAlarms"],
        &[ALARM],
    ),
];
const ALARM: &str = "arn:aws:cloudwatch:{region}:{account}:alarm:{id}";

pub struct Alarm;

const COMPARISONS: &[&str] = &[
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
];
const STATISTICS: &[&str] = &["SampleCount", "Average", "Sum", "Minimum", "Maximum"];
const MISSING_DATA: &[&str] = &["breaching", "notBreaching", "ignore", "missing"];

/// An alarm's attributes, desired and observed. `period`, `evaluation_periods` and `threshold`
/// are `null` on a live alarm that has none (a metric-math alarm).
#[derive(Serialize, Deserialize)]
pub struct AlarmState {
    pub name: String,
    pub description: String,
    pub namespace: String,
    pub metric: String,
    pub statistic: String,
    pub dimensions: BTreeMap<String, String>,
    pub period: Option<i32>,
    pub evaluation_periods: Option<i32>,
    pub threshold: Option<f64>,
    pub comparison: String,
    pub treat_missing_data: String,
    pub actions: Vec<String>,
    pub ok_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
    pub tags: Tags,
}

/// Every alarm of the spec: `cloudwatch.alarms` and the trails' CIS alarms, as (logical name,
/// spec path, alarm).
fn alarm_entries(
    spec: &LoadedSpec,
    r: &Renderer,
) -> Result<Vec<(String, String, crate::spec::model::Alarm)>, SpecError> {
    let mut out: Vec<(String, String, crate::spec::model::Alarm)> = spec
        .spec
        .cloudwatch
        .alarms
        .iter()
        .map(|(n, a)| (n.clone(), format!("cloudwatch.alarms.{n}"), a.clone()))
        .collect();
    for (n, path, a) in crate::resources::cloudtrail::security_alarms(spec, r)? {
        if spec.spec.cloudwatch.alarms.contains_key(&n) {
            return Err(spec.error(
                &format!("cloudwatch.alarms.{n}"),
                format!("`{n}` is also the name of a CIS alarm of the trail at {path}; rename it"),
            ));
        }
        out.push((n, path, a));
    }
    Ok(out)
}

fn alarm_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:cloudwatch:{region}:{account}:alarm:{name}")
}

fn one_of(spec: &LoadedSpec, key: &str, value: &str, allowed: &[&str]) -> Result<(), SpecError> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(spec.error(
        key,
        format!(
            "`{value}` is not one of {}{}",
            allowed.join(", "),
            crate::suggest::did_you_mean(value, allowed.iter().copied())
        ),
    ))
}

/// The three action lists of an alarm with the key each is written at: alarm, OK, insufficient
/// data (which defaults to the alarm actions).
fn action_lists<'a>(path: &str, a: &'a crate::spec::model::Alarm) -> [(String, &'a [String]); 3] {
    let insufficient = match &a.insufficient_data_actions {
        Some(l) => (format!("{path}.insufficient_data_actions"), l.as_slice()),
        None => (format!("{path}.actions"), a.actions.as_slice()),
    };
    let key = if path.starts_with("cloudtrail.") {
        format!("{path}.topic")
    } else {
        format!("{path}.actions")
    };
    [
        (key, a.actions.as_slice()),
        (format!("{path}.ok_actions"), a.ok_actions.as_slice()),
        insufficient,
    ]
}

/// An alarm action: the address it depends on (for `sns.*` names) and how it renders.
fn action_ref(
    spec: &LoadedSpec,
    key: &str,
    action: &str,
) -> Result<(Option<String>, String), SpecError> {
    if action.starts_with("arn:") || action.contains("{{") {
        return Ok((None, action.to_string()));
    }
    if spec.spec.sns.contains_key(action) {
        return Ok((
            Some(format!("sns.{action}")),
            format!("{{{{ sns.{action}.arn }}}}"),
        ));
    }
    let known: Vec<&str> = spec.spec.sns.keys().map(String::as_str).collect();
    Err(spec.error(
        key,
        format!(
            "`{action}` is neither a topic in the spec's `sns` section (defined: {}) nor an ARN",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ),
    ))
}

#[async_trait]
impl Reconciler for Alarm {
    fn permissions(&self) -> &'static [&'static [Perm]] {
        &[ALARM_PERMISSIONS]
    }

    fn info(&self) -> &'static KindInfo {
        &ALARM_INFO
    }

    fn decls(&self, spec: &LoadedSpec, r: &Renderer) -> Result<Vec<Decl>, SpecError> {
        let mut out = Vec::new();
        for (name, path, a) in &alarm_entries(spec, r)? {
            let alarm = r.str(&format!("{path}.name"), &a.name)?;
            if alarm.is_empty() || alarm.len() > 255 {
                return Err(spec.error(
                    &format!("{path}.name"),
                    "an alarm name is 1 to 255 characters",
                ));
            }
            one_of(
                spec,
                &format!("{path}.comparison"),
                &a.comparison,
                COMPARISONS,
            )?;
            one_of(spec, &format!("{path}.statistic"), &a.statistic, STATISTICS)?;
            if let Some(t) = &a.treat_missing_data {
                one_of(spec, &format!("{path}.treat_missing_data"), t, MISSING_DATA)?;
            }
            if !(matches!(a.period, 10 | 20 | 30) || (a.period >= 60 && a.period % 60 == 0)) {
                return Err(spec.error(
                    &format!("{path}.period"),
                    format!(
                        "{} is not a valid period: 10, 20, 30 or a multiple of 60 seconds",
                        a.period
                    ),
                ));
            }
            if a.evaluation_periods < 1 {
                return Err(spec.error(&format!("{path}.evaluation_periods"), "must be at least 1"));
            }
            // CloudWatch: at most a day of evaluation for periods under an hour, else a week.
            let window = i64::from(a.period) * i64::from(a.evaluation_periods);
            let max = if a.period < 3600 { 86_400 } else { 604_800 };
            if window > max {
                return Err(spec.error(
                    &format!("{path}.evaluation_periods"),
                    format!(
                        "{} periods of {} s evaluate {window} s; CloudWatch allows at most {max} s \
                         ({})",
                        a.evaluation_periods,
                        a.period,
                        if max == 86_400 {
                            "one day, for periods under an hour"
                        } else {
                            "seven days"
                        }
                    ),
                ));
            }
            if !a.threshold.is_finite() {
                return Err(spec.error(&format!("{path}.threshold"), "must be a finite number"));
            }
            let mut deps = Vec::new();
            for (key, list) in action_lists(path, a) {
                for act in list {
                    if let (Some(dep), _) = action_ref(spec, &key, act)? {
                        if !deps.contains(&dep) {
                            deps.push(dep);
                        }
                    }
                }
            }
            let arn = alarm_arn(&spec.spec.region, &account(r), &alarm);
            out.push(Decl {
                address: format!("cloudwatch_alarm.{name}"),
                kind: "cloudwatch_alarm",
                name: name.clone(),
                spec_path: path.clone(),
                region: spec.spec.region.clone(),
                identity: alarm.clone(),
                identity_key: if path.starts_with("cloudtrail.") {
                    path.replace(".security_alarms", ".name")
                } else {
                    format!("{path}.name")
                },
                deps,
                outputs: name_arn(&alarm, &arn),
                template_files: Vec::new(),
            });
        }
        Ok(out)
    }

    fn desired(&self, spec: &LoadedSpec, decl: &Decl, r: &Renderer) -> Result<Value, SpecError> {
        let entries = alarm_entries(spec, r)?;
        let Some((_, _, a)) = entries.iter().find(|(n, _, _)| n == &decl.name) else {
            return Err(spec.error(&decl.spec_path, "alarm no longer in the spec"));
        };
        let path = &decl.spec_path;
        let mut rendered = Vec::new();
        for (key, list) in action_lists(path, a) {
            let mut out = Vec::new();
            for act in list {
                let (_, template) = action_ref(spec, &key, act)?;
                out.push(r.str(&key, &template)?);
            }
            out.sort();
            rendered.push(out);
        }
        let insufficient = rendered.pop().unwrap_or_default();
        let ok = rendered.pop().unwrap_or_default();
        let actions = rendered.pop().unwrap_or_default();
        let mut dimensions = BTreeMap::new();
        for (k, v) in &a.dimensions {
            dimensions.insert(k.clone(), r.str(&format!("{path}.dimensions.{k}"), v)?);
        }
        let description = match &a.description {
            Some(d) => r.str(&format!("{path}.description"), d)?,
            None => String::new(),
        };
        let state = AlarmState {
            name: decl.identity.clone(),
            description,
            namespace: r.str(&format!("{path}.namespace"), &a.namespace)?,
            metric: r.str(&format!("{path}.metric"), &a.metric)?,
            statistic: a.statistic.clone(),
            dimensions,
            period: Some(a.period),
            evaluation_periods: Some(a.evaluation_periods),
            threshold: Some(a.threshold),
            comparison: a.comparison.clone(),
            // AWS's default.
            treat_missing_data: a
                .treat_missing_data
                .clone()
                .unwrap_or_else(|| "missing".into()),
            actions,
            ok_actions: ok,
            insufficient_data_actions: insufficient,
            tags: desired_tags(spec, &decl.address, &a.tags),
        };
        Ok(serde_json::to_value(&state).unwrap_or_default())
    }

    /// In an observation every alarm of the spec in a region is described by one
    /// DescribeAlarms (per 100 names), shared by all of them.
    async fn observe(&self, cx: &Ctx<'_>, decl: &Decl) -> Result<Observed, AwsError> {
        let alarms = match cx.cache {
            Some(cache) => {
                let names = cache.names(ALARM_INFO.kind, &decl.region).to_vec();
                let key = format!("cloudwatch_alarm@{}", decl.region);
                cache
                    .shared(&key, describe_alarms(cx, &decl.region, names))
                    .await?
            }
            None => {
                let names = vec![decl.identity.clone()];
                std::sync::Arc::new(describe_alarms(cx, &decl.region, names).await?)
            }
        };
        let Some(a) = alarms
            .iter()
            .find(|a| a.alarm_name() == Some(decl.identity.as_str()))
        else {
            return Ok(Observed::absent(&decl.address));
        };
        read_alarm(cx, &decl.region, &decl.address, a).await
    }

    async fn create(&self, cx: &Ctx<'_>, decl: &Decl, desired: &Value) -> Result<Value, AwsError> {
        let d: AlarmState = from_desired(&decl.address, desired)?;
        put_alarm(cx, &decl.region, &d, true).await?;
        crate::faults::point("cloudwatch.after_put_alarm", &decl.address)?;
        Ok(name_arn(
            &d.name,
            &alarm_arn(&decl.region, cx.account_id, &d.name),
        ))
    }

    async fn update(
        &self,
        cx: &Ctx<'_>,
        decl: &Decl,
        desired: &Value,
        observed: &Observed,
        changed: &[String],
    ) -> Result<Value, AwsError> {
        let d: AlarmState = from_desired(&decl.address, desired)?;
        let cw = &cx.clients(&decl.region).cloudwatch;
        if changed.iter().any(|c| c != "tags") {
            // PutMetricAlarm replaces the whole definition.
            put_alarm(cx, &decl.region, &d, false).await?;
        }
        if changed.iter().any(|c| c == "tags") {
            let arn = observed.outputs["arn"].as_str().unwrap_or_default();
            let live = observed.state.as_ref().map(|s| s["tags"].clone());
            let live: Tags = live
                .and_then(|t| serde_json::from_value(t).ok())
                .unwrap_or_default();
            tags::sync_maps(&CloudWatchTags { client: cw, arn }, &live, &d.tags).await?;
        }
        Ok(observed.outputs.clone())
    }

    /// The candidates are described together (one DescribeAlarms per 100 names), then each is
    /// read from that answer.
    async fn import(
        &self,
        cx: &Ctx<'_>,
        req: &crate::resources::kit::import::ImportRequest<'_>,
    ) -> Result<crate::resources::kit::import::Imported, AwsError> {
        import::import_alarm(cx, req).await
    }

    async fn discover_found(
        &self,
        cx: &Ctx<'_>,
        region: &str,
        found: Vec<Found>,
    ) -> Result<Vec<Observed>, AwsError> {
        let names = found
            .iter()
            .filter(|f| !cx.in_spec(ALARM_INFO.kind, region, f.name()))
            .map(|f| f.name().to_string())
            .collect();
        let alarms = &describe_alarms(cx, region, names).await?;
        read_found(cx, ALARM_INFO.kind, region, found, &[], |f| async move {
            let a = alarms.iter().find(|a| a.alarm_name() == Some(f.name()));
            match a {
                Some(a) => read_alarm(cx, region, &f.address, a).await.map(Some),
                None => Ok(None),
            }
        })
        .await
    }

    async fn discover(&self, cx: &Ctx<'_>, region: &str) -> Result<Vec<Observed>, AwsError> {
        let cw = &cx.clients(region).cloudwatch;
        let mut alarms = Vec::new();
        let mut pages = cw.describe_alarms().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(AwsError::from_sdk("cloudwatch:DescribeAlarms"))?;
            // The spec's own alarms are read by observe.
            alarms.extend(
                page.metric_alarms()
                    .iter()
                    .filter(|a| {
                        !cx.in_spec(ALARM_INFO.kind, region, a.alarm_name().unwrap_or_default())
                    })
                    .cloned(),
            );
        }
        let mut listed = Vec::new();
        for a in &alarms {
            let (Some(name), Some(arn)) = (a.alarm_name(), a.alarm_arn()) else {
                continue;
            };
            let tags = alarm_tags(cx, region, arn).await?;
            listed.push((
                name.to_string(),
                serde_json::to_value(tags).unwrap_or_default(),
            ));
        }
        let alarms = &alarms;
        read_tagged(
            cx,
            ALARM_INFO.kind,
            listed,
            &[],
            |name, address| async move {
                let a = alarms
                    .iter()
                    .find(|a| a.alarm_name() == Some(name.as_str()));
                match a {
                    Some(a) => read_alarm(cx, region, &address, a).await.map(Some),
                    None => Ok(None),
                }
            },
        )
        .await
    }

    async fn delete(&self, cx: &Ctx<'_>, t: &DeleteTarget<'_>) -> Result<(), AwsError> {
        let cw = &cx.clients(t.region).cloudwatch;
        ok_if_gone(
            "cloudwatch:DeleteAlarms",
            cw.delete_alarms()
                .alarm_names(&t.observed.physical_id)
                .send()
                .await,
            |se| se.is_resource_not_found(),
        )
    }
}

/// DescribeAlarms accepts at most this many names per call.
const ALARM_NAMES_PER_CALL: usize = 100;

/// The metric alarms named `names` that exist (one DescribeAlarms per 100 names).
async fn describe_alarms(
    cx: &Ctx<'_>,
    region: &str,
    mut names: Vec<String>,
) -> Result<Vec<MetricAlarm>, AwsError> {
    names.sort();
    names.dedup();
    let cw = &cx.clients(region).cloudwatch;
    let mut out = Vec::new();
    for chunk in names.chunks(ALARM_NAMES_PER_CALL) {
        let mut pages = cw
            .describe_alarms()
            .set_alarm_names(Some(chunk.to_vec()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(AwsError::from_sdk("cloudwatch:DescribeAlarms"))?;
            out.extend(page.metric_alarms().iter().cloned());
        }
    }
    Ok(out)
}

/// The tags of the alarm `arn` (without `aws:*` keys).
/// In an observation they come from the tagging answer when it holds the alarm.
async fn alarm_tags(cx: &Ctx<'_>, region: &str, arn: &str) -> Result<Tags, AwsError> {
    if let Some(tags) = cached_tags(cx, region, arn).await {
        return Ok(tags);
    }
    let out = cx
        .clients(region)
        .cloudwatch
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(AwsError::from_sdk("cloudwatch:ListTagsForResource"))?;
    Ok(tags_map(out.tags().iter().map(|t| {
        (
            t.key().unwrap_or_default().to_string(),
            t.value().unwrap_or_default().to_string(),
        )
    })))
}

/// An alarm DescribeAlarms returned, as `address` sees it.
async fn read_alarm(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
    a: &MetricAlarm,
) -> Result<Observed, AwsError> {
    let name = a.alarm_name().unwrap_or_default().to_string();
    let arn = a
        .alarm_arn()
        .map(str::to_string)
        .unwrap_or_else(|| alarm_arn(region, cx.account_id, &name));
    let tags = alarm_tags(cx, region, &arn).await?;
    let owner = owner_of(&tags, address, cx.environment);
    let sorted = |l: &[String]| {
        let mut v = l.to_vec();
        v.sort();
        v
    };
    let state = AlarmState {
        name: name.clone(),
        description: a.alarm_description().unwrap_or_default().to_string(),
        namespace: a.namespace().unwrap_or_default().to_string(),
        metric: a.metric_name().unwrap_or_default().to_string(),
        statistic: a
            .statistic()
            .map(|s| s.as_str())
            .unwrap_or_default()
            .to_string(),
        dimensions: a
            .dimensions()
            .iter()
            .map(|d| {
                (
                    d.name().unwrap_or_default().to_string(),
                    d.value().unwrap_or_default().to_string(),
                )
            })
            .collect(),
        period: a.period(),
        evaluation_periods: a.evaluation_periods(),
        threshold: a.threshold(),
        comparison: a
            .comparison_operator()
            .map(|c| c.as_str())
            .unwrap_or_default()
            .to_string(),
        treat_missing_data: a.treat_missing_data().unwrap_or("missing").to_string(),
        actions: sorted(a.alarm_actions()),
        ok_actions: sorted(a.ok_actions()),
        insufficient_data_actions: sorted(a.insufficient_data_actions()),
        tags,
    };
    Ok(Observed {
        address: address.to_string(),
        physical_id: name.clone(),
        state: Some(serde_json::to_value(&state).unwrap_or_default()),
        owner,
        outputs: name_arn(&name, &arn),
    })
}

async fn put_alarm(
    cx: &Ctx<'_>,
    region: &str,
    d: &AlarmState,
    with_tags: bool,
) -> Result<(), AwsError> {
    let cw = &cx.clients(region).cloudwatch;
    let mut req = cw
        .put_metric_alarm()
        .alarm_name(&d.name)
        .namespace(&d.namespace)
        .metric_name(&d.metric)
        .statistic(Statistic::from(d.statistic.as_str()))
        .set_period(d.period)
        .set_evaluation_periods(d.evaluation_periods)
        .set_threshold(d.threshold)
        .comparison_operator(ComparisonOperator::from(d.comparison.as_str()))
        .treat_missing_data(&d.treat_missing_data)
        .actions_enabled(true)
        .set_alarm_actions(Some(d.actions.clone()))
        .set_ok_actions(Some(d.ok_actions.clone()))
        .set_insufficient_data_actions(Some(d.insufficient_data_actions.clone()));
    if !d.description.is_empty() {
        req = req.alarm_description(&d.description);
    }
    for (k, v) in &d.dimensions {
        req = req.dimensions(Dimension::builder().name(k).value(v).build());
    }
    if with_tags {
        for (k, v) in &d.tags {
            req = req.tags(cloudwatch_tag(k, v));
        }
    }
    req.send()
        .await
        .map_err(AwsError::from_sdk("cloudwatch:PutMetricAlarm"))?;
    Ok(())
}
