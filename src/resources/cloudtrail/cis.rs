//! The CIS alarm catalogue of a trail with a log group: the metric filters (root account use,
//! CIS 4.3; console authentication failures, CIS 4.6) counting into
//! `CloudTrailMetrics/<trail>-<metric>`, and the `cloudwatch_alarm` entries on them
//! ([`security_alarms`]) that notify `security_alarms.topic`.

use std::collections::BTreeMap;

use crate::spec::model::{Alarm, Trail};
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

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

/// Does the trail get the CIS filters and alarms (it has a log group, and
/// `security_alarms.enabled` is not false)?
pub fn cis_on(t: &Trail) -> bool {
    t.log_group.is_some() && t.security_alarms.as_ref().is_none_or(|a| a.enabled)
}

/// The alarms on the CIS metrics of every trail with a log group, as `cloudwatch.alarms`
/// entries: (logical name, spec path their keys live under, alarm).
pub fn security_alarms(
    spec: &LoadedSpec,
    r: &Renderer,
) -> Result<Vec<(String, String, Alarm)>, SpecError> {
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
                Alarm {
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
