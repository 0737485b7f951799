//! `cloudwatch_alarm.*` and `cloudwatch_dashboard.*` (the spec's `cloudwatch.alarms` and
//! `cloudwatch.dashboards`).
//!
//! # Alarms
//! Every field of the spec's alarm is an attribute and is diffed; PutMetricAlarm is both
//! create and update (it replaces the whole alarm), so any drift is repaired by one call.
//! `actions` are `sns.*` logical names (resolved to the topic ARN, which is known from the spec)
//! or literal `arn:` strings; they are compared as a sorted list. Tags: PutMetricAlarm tags only
//! a new alarm, so tag drift goes through TagResource / UntagResource.
//!
//! `insufficient_data_actions` default to `actions` (AWS Config's `cloudwatch-alarm-action-check`
//! wants both) and `ok_actions` to none; all three are diffed.
//!
//! Besides the spec's `cloudwatch.alarms`, every trail with a log group contributes its two CIS
//! alarms ([`super::cloudtrail::security_alarms`]); their keys live under the trail's
//! `security_alarms`.
//!
//! # Dashboards
//! The body is rendered from the spec's `template` (tera, with the spec context) and diffed as
//! JSON, not text. Its `widgets` list becomes the attribute `widgets`, keyed by widget title,
//! so that the plan names the widget that changed (`widgets.PHI Entities Detected and
//! Masked.properties.stacked`, or just `widgets.<title>` for a widget added or removed); the
//! other top-level keys of the body go to `options`.
//!
//! ## Ownership
//! CloudWatch cannot tag dashboards (TagResource takes alarms, Contributor Insights rules and
//! metric streams only), and a body may not carry extra top-level keys for a marker. So a
//! dashboard is identified by its name alone: a dashboard with the spec's name is treated as
//! ours. This is safe enough because a dashboard holds no data (PutDashboard from the spec
//! recreates it entirely) and any difference from the spec shows in the plan before apply.
//! A dashboard that left the spec is found through the state backend's inventory of what
//! novactl created (no tag to find it by), and deleted.
//!
//! ## Templates and other kinds
//! The template may use any context value. A template that names a resource of a kind the spec
//! does not declare must guard it (`{% if sagemaker.endpoints.x is defined %}`) or use `vars`
//! with defaults; the dashboard takes no dependency on what its template names (a dashboard only
//! names metrics, it needs nothing to exist first).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic, Tag};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::kit::refs::account;
use super::ours_of_kind;
use super::{
    desired_tags, from_desired, owner_from_tags, tags_json, Ctx, Decl, DeleteTarget, Observed,
    Owner, Reconciler,
};
use crate::aws::{ok_if_gone, AwsError};
use crate::permissions::{perm, Perm};
use crate::resources::kind::{Deletion, KindInfo, Names};
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

/// What the engine knows of `cloudwatch_alarm` (see [`KindInfo`]).
pub const ALARM_INFO: KindInfo = KindInfo {
    kind: "cloudwatch_alarm",
    section: "cloudwatch.alarms",
    section_in_context: true,
    names: Names::Regional,
    deletion: Deletion::Immediate,
    protect: |s, n| s.cloudwatch.alarms.get(n).and_then(|r| r.protect),
    sensitive: crate::resources::kind::no_sensitive,
};

/// What the engine knows of `cloudwatch_dashboard` (see [`KindInfo`]).
pub const DASHBOARD_INFO: KindInfo = KindInfo {
    kind: "cloudwatch_dashboard",
    section: "cloudwatch.dashboards",
    section_in_context: true,
    names: Names::Regional,
    deletion: Deletion::Immediate,
    protect: |s, n| s.cloudwatch.dashboards.get(n).and_then(|r| r.protect),
    sensitive: crate::resources::kind::no_sensitive,
};

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

/// Every AWS call the dashboard kind makes and what IAM must allow (see
/// [`crate::permissions`]). Dashboard ARNs have no region.
pub const DASHBOARD_PERMISSIONS: &[Perm] = &[
    perm(
        "cloudwatch:GetDashboard",
        &["cloudwatch:GetDashboard"],
        &[DASHBOARD],
    ),
    perm(
        "cloudwatch:PutDashboard",
        &["cloudwatch:PutDashboard"],
        &[DASHBOARD],
    ),
    perm(
        "cloudwatch:DeleteDashboards",
        &["cloudwatch:DeleteDashboards"],
        &[DASHBOARD],
    ),
];
const DASHBOARD: &str = "arn:aws:cloudwatch::{account}:dashboard/{id}";

pub struct Dashboard;

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

#[derive(Deserialize)]
struct AlarmDesired {
    name: String,
    description: String,
    namespace: String,
    metric: String,
    statistic: String,
    dimensions: BTreeMap<String, String>,
    period: i32,
    evaluation_periods: i32,
    threshold: f64,
    comparison: String,
    treat_missing_data: String,
    actions: Vec<String>,
    ok_actions: Vec<String>,
    insufficient_data_actions: Vec<String>,
    tags: BTreeMap<String, String>,
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
    for (n, path, a) in super::cloudtrail::security_alarms(spec, r)? {
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
                outputs: json!({ "name": alarm, "arn": arn }),
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
        Ok(json!({
            "name": decl.identity,
            "description": description,
            "namespace": r.str(&format!("{path}.namespace"), &a.namespace)?,
            "metric": r.str(&format!("{path}.metric"), &a.metric)?,
            "statistic": a.statistic,
            "dimensions": dimensions,
            "period": a.period,
            "evaluation_periods": a.evaluation_periods,
            "threshold": a.threshold,
            "comparison": a.comparison,
            // AWS's default.
            "treat_missing_data": a.treat_missing_data.clone().unwrap_or_else(|| "missing".into()),
            "actions": actions,
            "ok_actions": ok,
            "insufficient_data_actions": insufficient,
            "tags": desired_tags(spec, &decl.address, &a.tags),
        }))
    }

    /// In an observation every alarm of the spec in a region is described by one
    /// DescribeAlarms (per 100 names), shared by all of them.
    async fn observe(&self, cx: &Ctx<'_>, decl: &Decl) -> Result<Observed, AwsError> {
        let alarms = match cx.cache {
            Some(cache) => {
                let names = cache.names("cloudwatch_alarm", &decl.region).to_vec();
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
        let d: AlarmDesired = from_desired(&decl.address, desired)?;
        put_alarm(cx, &decl.region, &d, true).await?;
        crate::faults::point("cloudwatch.after_put_alarm", &decl.address)?;
        Ok(json!({
            "name": d.name,
            "arn": alarm_arn(&decl.region, cx.account_id, &d.name),
        }))
    }

    async fn update(
        &self,
        cx: &Ctx<'_>,
        decl: &Decl,
        desired: &Value,
        observed: &Observed,
        changed: &[String],
    ) -> Result<Value, AwsError> {
        let d: AlarmDesired = from_desired(&decl.address, desired)?;
        let cw = &cx.clients(&decl.region).cloudwatch;
        if changed.iter().any(|c| c != "tags") {
            // PutMetricAlarm replaces the whole definition.
            put_alarm(cx, &decl.region, &d, false).await?;
        }
        if changed.iter().any(|c| c == "tags") {
            let arn = observed.outputs["arn"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let live = observed.state.clone().unwrap_or_default();
            let arn = &arn;
            crate::resources::kit::tags::sync(
                &crate::resources::kit::tags::CloudWatchTags { client: cw, arn },
                &live["tags"],
                &json!(d.tags),
            )
            .await?;
        }
        Ok(observed.outputs.clone())
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

    fn tagging_types(&self) -> &'static [&'static str] {
        &["cloudwatch:alarm"]
    }

    async fn discover_found(
        &self,
        cx: &Ctx<'_>,
        region: &str,
        found: Vec<super::Found>,
    ) -> Result<Vec<Observed>, AwsError> {
        let found: Vec<&super::Found> = found
            .iter()
            .filter(|f| !cx.in_spec("cloudwatch_alarm", f.name()))
            .collect();
        let names = found.iter().map(|f| f.name().to_string()).collect();
        let mut out = Vec::new();
        for a in describe_alarms(cx, region, names).await? {
            let Some(f) = found.iter().find(|f| a.alarm_name() == Some(f.name())) else {
                continue;
            };
            let o = read_alarm(cx, region, &f.address, &a).await?;
            if o.owner == Owner::Ours {
                out.push(o);
            }
        }
        Ok(out)
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
                    .filter(|a| !cx.in_spec("cloudwatch_alarm", a.alarm_name().unwrap_or_default()))
                    .cloned(),
            );
        }
        let mut out = Vec::new();
        for a in &alarms {
            let Some(arn) = a.alarm_arn() else { continue };
            let tags = cw
                .list_tags_for_resource()
                .resource_arn(arn)
                .send()
                .await
                .map_err(AwsError::from_sdk("cloudwatch:ListTagsForResource"))?;
            let tags = tags_json(tags.tags().iter().map(|t| {
                (
                    t.key().unwrap_or_default().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            }));
            if let Some(address) = ours_of_kind(&tags, cx.environment, "cloudwatch_alarm") {
                out.push(read_alarm(cx, region, &address, a).await?);
            }
        }
        Ok(out)
    }
}

/// DescribeAlarms accepts at most this many names per call.
const ALARM_NAMES_PER_CALL: usize = 100;

/// The metric alarms named `names` that exist (one DescribeAlarms per 100 names).
async fn describe_alarms(
    cx: &Ctx<'_>,
    region: &str,
    mut names: Vec<String>,
) -> Result<Vec<aws_sdk_cloudwatch::types::MetricAlarm>, AwsError> {
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

/// An alarm DescribeAlarms returned, as `address` sees it.
async fn read_alarm(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
    a: &aws_sdk_cloudwatch::types::MetricAlarm,
) -> Result<Observed, AwsError> {
    let cw = &cx.clients(region).cloudwatch;
    let name = a.alarm_name().unwrap_or_default().to_string();
    let arn = a
        .alarm_arn()
        .map(str::to_string)
        .unwrap_or_else(|| alarm_arn(region, cx.account_id, &name));
    let tags = cw
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .map_err(AwsError::from_sdk("cloudwatch:ListTagsForResource"))?;
    let tags = tags_json(tags.tags().iter().map(|t| {
        (
            t.key().unwrap_or_default().to_string(),
            t.value().unwrap_or_default().to_string(),
        )
    }));
    let owner = owner_from_tags(&tags, address, cx.environment);
    let dimensions: BTreeMap<String, String> = a
        .dimensions()
        .iter()
        .map(|d| {
            (
                d.name().unwrap_or_default().to_string(),
                d.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let sorted = |l: &[String]| {
        let mut v = l.to_vec();
        v.sort();
        v
    };
    let actions = sorted(a.alarm_actions());
    Ok(Observed {
        address: address.to_string(),
        physical_id: name.clone(),
        state: Some(json!({
            "name": a.alarm_name(),
            "description": a.alarm_description().unwrap_or_default(),
            "namespace": a.namespace().unwrap_or_default(),
            "metric": a.metric_name().unwrap_or_default(),
            "statistic": a.statistic().map(|s| s.as_str()).unwrap_or_default(),
            "dimensions": dimensions,
            "period": a.period(),
            "evaluation_periods": a.evaluation_periods(),
            "threshold": a.threshold(),
            "comparison": a.comparison_operator().map(|c| c.as_str()).unwrap_or_default(),
            "treat_missing_data": a.treat_missing_data().unwrap_or("missing"),
            "actions": actions,
            "ok_actions": sorted(a.ok_actions()),
            "insufficient_data_actions": sorted(a.insufficient_data_actions()),
            "tags": tags,
        })),
        owner,
        outputs: json!({ "name": name, "arn": arn }),
    })
}

async fn put_alarm(
    cx: &Ctx<'_>,
    region: &str,
    d: &AlarmDesired,
    with_tags: bool,
) -> Result<(), AwsError> {
    let cw = &cx.clients(region).cloudwatch;
    let mut req = cw
        .put_metric_alarm()
        .alarm_name(&d.name)
        .namespace(&d.namespace)
        .metric_name(&d.metric)
        .statistic(Statistic::from(d.statistic.as_str()))
        .period(d.period)
        .evaluation_periods(d.evaluation_periods)
        .threshold(d.threshold)
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
            req = req.tags(cw_tag(k, v));
        }
    }
    req.send()
        .await
        .map_err(AwsError::from_sdk("cloudwatch:PutMetricAlarm"))?;
    Ok(())
}

fn cw_tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

/// A dashboard body as attributes: `widgets` keyed by title (the rest in `options`), so that the
/// plan names the widget that changed. A widget without a title is keyed `<type>@<index>`; a
/// repeated key gets ` #2`, ` #3`... Widget order is the map's order (the template's).
pub fn body_to_state(body: &Value) -> (Value, Value) {
    let mut widgets = Map::new();
    let mut options = Map::new();
    if let Some(obj) = body.as_object() {
        for (k, v) in obj {
            if k == "widgets" {
                for (i, w) in v.as_array().into_iter().flatten().enumerate() {
                    let base = widget_key(i, w);
                    let mut key = base.clone();
                    let mut n = 1;
                    while widgets.contains_key(&key) {
                        n += 1;
                        key = format!("{base} #{n}");
                    }
                    widgets.insert(key, w.clone());
                }
            } else {
                options.insert(k.clone(), v.clone());
            }
        }
    }
    (Value::Object(widgets), Value::Object(options))
}

fn widget_key(i: usize, w: &Value) -> String {
    let key = match w["properties"]["title"].as_str() {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => format!("{}@{i}", w["type"].as_str().unwrap_or("widget")),
    };
    // `.` separates attribute path segments in the plan.
    key.replace('.', "_")
}

/// The inverse of [`body_to_state`].
pub fn state_to_body(widgets: &Value, options: &Value) -> Value {
    let mut body = options.as_object().cloned().unwrap_or_default();
    let list: Vec<Value> = widgets
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, w)| w.clone())
        .collect();
    body.insert("widgets".into(), Value::Array(list));
    Value::Object(body)
}

fn dashboard_arn(account: &str, name: &str) -> String {
    format!("arn:aws:cloudwatch::{account}:dashboard/{name}")
}

#[async_trait]
impl Reconciler for Dashboard {
    fn permissions(&self) -> &'static [&'static [Perm]] {
        &[DASHBOARD_PERMISSIONS]
    }

    fn info(&self) -> &'static KindInfo {
        &DASHBOARD_INFO
    }

    fn decls(&self, spec: &LoadedSpec, r: &Renderer) -> Result<Vec<Decl>, SpecError> {
        let mut out = Vec::new();
        for (name, d) in &spec.spec.cloudwatch.dashboards {
            let path = format!("cloudwatch.dashboards.{name}");
            let dash = r.str(&format!("{path}.name"), &d.name)?;
            let valid = !dash.is_empty()
                && dash.len() <= 255
                && dash
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid {
                return Err(spec.error(
                    &format!("{path}.name"),
                    format!(
                        "`{dash}` is not a valid dashboard name: 1 to 255 letters, digits, `-` or `_`"
                    ),
                ));
            }
            out.push(Decl {
                address: format!("cloudwatch_dashboard.{name}"),
                kind: "cloudwatch_dashboard",
                name: name.clone(),
                spec_path: path.clone(),
                region: spec.spec.region.clone(),
                identity: dash.clone(),
                identity_key: format!("{path}.name"),
                deps: Vec::new(),
                outputs: json!({ "name": dash, "arn": dashboard_arn(&account(r), &dash) }),
                template_files: vec![spec.template_path(&d.template)],
            });
        }
        Ok(out)
    }

    fn desired(&self, spec: &LoadedSpec, decl: &Decl, r: &Renderer) -> Result<Value, SpecError> {
        let d = &spec.spec.cloudwatch.dashboards[&decl.name];
        let key = format!("{}.template", decl.spec_path);
        let body = r.json_file(&key, &d.template)?;
        if !body.get("widgets").is_some_and(Value::is_array) {
            return Err(spec.error(
                &key,
                "the dashboard body must be a JSON object with a `widgets` list",
            ));
        }
        let (widgets, options) = body_to_state(&body);
        Ok(json!({
            "name": decl.identity,
            "widgets": widgets,
            "options": options,
        }))
    }

    async fn observe(&self, cx: &Ctx<'_>, decl: &Decl) -> Result<Observed, AwsError> {
        Ok(
            read_dashboard(cx, &decl.region, &decl.address, &decl.identity)
                .await?
                .unwrap_or_else(|| Observed::absent(&decl.address)),
        )
    }

    /// Dashboards carry no tags, so the tagging API cannot find them: the ones that left the
    /// spec are those the state inventory says novactl created (the inventory is the proof
    /// they are ours).
    async fn discover_found(
        &self,
        cx: &Ctx<'_>,
        region: &str,
        found: Vec<super::Found>,
    ) -> Result<Vec<Observed>, AwsError> {
        let mut out = Vec::new();
        for f in found
            .iter()
            .filter(|f| !cx.in_spec("cloudwatch_dashboard", f.name()))
        {
            out.extend(read_dashboard(cx, region, &f.address, f.name()).await?);
        }
        Ok(out)
    }

    async fn create(&self, cx: &Ctx<'_>, decl: &Decl, desired: &Value) -> Result<Value, AwsError> {
        put_dashboard(cx, decl, desired).await?;
        crate::faults::point("cloudwatch.after_put_dashboard", &decl.address)?;
        Ok(json!({
            "name": decl.identity,
            "arn": dashboard_arn(cx.account_id, &decl.identity),
        }))
    }

    async fn update(
        &self,
        cx: &Ctx<'_>,
        decl: &Decl,
        desired: &Value,
        observed: &Observed,
        _changed: &[String],
    ) -> Result<Value, AwsError> {
        // PutDashboard replaces the whole body.
        put_dashboard(cx, decl, desired).await?;
        Ok(observed.outputs.clone())
    }

    async fn delete(&self, cx: &Ctx<'_>, t: &DeleteTarget<'_>) -> Result<(), AwsError> {
        let cw = &cx.clients(t.region).cloudwatch;
        match cw
            .delete_dashboards()
            .dashboard_names(&t.observed.physical_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // DeleteDashboardsError models no not-found variant; AWS answers a missing
            // dashboard with the query-compatible code `ResourceNotFound` (DashboardNotFoundError).
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.code() == Some("ResourceNotFound")) =>
            {
                Ok(())
            }
            Err(e) => Err(AwsError::from_err("cloudwatch:DeleteDashboards", e)),
        }
    }
}

/// The dashboard `name` as `address` sees it; `None` when there is none.
async fn read_dashboard(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
    name: &str,
) -> Result<Option<Observed>, AwsError> {
    let cw = &cx.clients(region).cloudwatch;
    let out = match cw.get_dashboard().dashboard_name(name).send().await {
        Ok(o) => o,
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_dashboard_not_found_error()) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(AwsError::from_err("cloudwatch:GetDashboard", e)),
    };
    let body: Value = out
        .dashboard_body()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    let (widgets, options) = body_to_state(&body);
    Ok(Some(Observed {
        address: address.to_string(),
        physical_id: name.to_string(),
        state: Some(json!({
            "name": out.dashboard_name().unwrap_or(name),
            "widgets": widgets,
            "options": options,
        })),
        // See "Ownership" above: dashboards cannot carry tags.
        owner: Owner::Ours,
        outputs: json!({
            "name": name,
            "arn": out.dashboard_arn().map(str::to_string)
                .unwrap_or_else(|| dashboard_arn(cx.account_id, name)),
        }),
    }))
}

async fn put_dashboard(cx: &Ctx<'_>, decl: &Decl, desired: &Value) -> Result<(), AwsError> {
    let body = state_to_body(&desired["widgets"], &desired["options"]);
    let out = cx
        .clients(&decl.region)
        .cloudwatch
        .put_dashboard()
        .dashboard_name(&decl.identity)
        .dashboard_body(body.to_string())
        .send()
        .await
        .map_err(AwsError::from_sdk("cloudwatch:PutDashboard"))?;
    if let Some(msgs) = out.dashboard_validation_messages.filter(|m| !m.is_empty()) {
        let text: Vec<String> = msgs
            .iter()
            .map(|m| {
                format!(
                    "{}: {}",
                    m.data_path().unwrap_or("body"),
                    m.message().unwrap_or_default()
                )
            })
            .collect();
        tracing::warn!(dashboard = %decl.identity, "dashboard validation: {}", text.join("; "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_round_trips_through_state() {
        let body = json!({"start": "-PT6H", "widgets": [
            {"type": "metric", "properties": {"title": "A.b"}},
            {"type": "text", "properties": {"markdown": "x"}},
        ]});
        let (w, o) = body_to_state(&body);
        assert_eq!(
            w.as_object().unwrap().keys().collect::<Vec<_>>(),
            vec!["A_b", "text@1"]
        );
        assert_eq!(o, json!({"start": "-PT6H"}));
        assert_eq!(state_to_body(&w, &o), body);
    }

    #[test]
    fn removed_widget_is_named_in_the_diff() {
        let body = json!({"widgets": [
            {"type": "metric", "properties": {"title": "One"}},
            {"type": "metric", "properties": {"title": "Two"}},
        ]});
        let (w, o) = body_to_state(&body);
        let desired = json!({"widgets": w, "options": o});
        let live_body = json!({"widgets": [{"type": "metric", "properties": {"title": "One"}}]});
        let (lw, lo) = body_to_state(&live_body);
        let live = json!({"widgets": lw, "options": lo});
        let paths: Vec<String> = crate::plan::diff::changes(&live, &desired, &[])
            .into_iter()
            .map(|c| c.path)
            .collect();
        assert_eq!(paths, vec!["widgets.Two"]);
    }
}
