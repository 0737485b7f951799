//! An endpoint's `deployment:` (SageMaker deployment guardrails): the spec's checks (the ranges
//! SageMaker's `DeploymentConfig` accepts, rollback alarms that exist in the spec, a fleet that
//! can roll), the [`Guard`] carried in the desired state, its `DeploymentConfig` for
//! `UpdateEndpoint`, and the words the plan and the progress line use.
//!
//! AWS's ranges: `WaitIntervalInSeconds` and `TerminationWaitInSeconds` 0–3600 s; blue/green
//! `MaximumExecutionTimeoutInSeconds` 600–14400 s, rolling 600–28800 s; a canary at most 50 %
//! of the fleet, a linear step 10–50 %, a rolling batch 5–50 %; 1 to 10 rollback alarms.

use aws_sdk_sagemaker::types::{
    Alarm, AutoRollbackConfig, BlueGreenUpdatePolicy, CapacitySize, CapacitySizeType,
    DeploymentConfig, RollingUpdatePolicy, TrafficRoutingConfig, TrafficRoutingConfigType,
};
use serde::{Deserialize, Serialize};

use crate::spec::model::{Endpoint, Strategy};
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

/// The most rollback alarms SageMaker takes.
const MAX_ALARMS: usize = 10;

/// A step's size: a share of the fleet or a number of instances.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Size {
    Percent(i32),
    Instances(i32),
}

impl Size {
    fn words(self) -> String {
        match self {
            Size::Percent(p) => format!("{p}%"),
            Size::Instances(1) => "1 instance".into(),
            Size::Instances(n) => format!("{n} instances"),
        }
    }

    fn sdk(self) -> CapacitySize {
        let (t, v) = match self {
            Size::Percent(p) => (CapacitySizeType::CapacityPercent, p),
            Size::Instances(n) => (CapacitySizeType::InstanceCount, n),
        };
        CapacitySize::builder().r#type(t).value(v).build()
    }
}

/// How an update reaches traffic, as the desired state carries it (`_deployment`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guard {
    pub strategy: Strategy,
    /// The canary, the linear step or the rolling batch.
    pub step: Option<Size>,
    pub wait_minutes: i64,
    pub bake_minutes: i64,
    pub max_minutes: Option<i64>,
    /// CloudWatch names of the rollback alarms.
    pub rollback_alarms: Vec<String>,
}

fn strategy_name(s: Strategy) -> &'static str {
    match s {
        Strategy::AllAtOnce => "all_at_once",
        Strategy::Canary => "canary",
        Strategy::Linear => "linear",
        Strategy::Rolling => "rolling",
    }
}

/// Checks the endpoint's `deployment:` and turns it into a [`Guard`] (`None` without one).
pub fn guard(
    spec: &LoadedSpec,
    path: &str,
    e: &Endpoint,
    r: &Renderer,
) -> Result<Option<Guard>, SpecError> {
    let Some(d) = &e.deployment else {
        return Ok(None);
    };
    let key = format!("{path}.deployment");
    let err = |k: &str, m: String| spec.error(&format!("{key}.{k}"), m);
    let name = strategy_name(d.strategy);
    // The step keys each strategy takes (percent, instances, AWS's percent range).
    let steps = [
        (
            "canary_percent",
            "canary_instances",
            Strategy::Canary,
            1,
            50,
            d.canary_percent,
            d.canary_instances,
        ),
        (
            "linear_step_percent",
            "linear_step_instances",
            Strategy::Linear,
            10,
            50,
            d.linear_step_percent,
            d.linear_step_instances,
        ),
        (
            "rolling_batch_percent",
            "rolling_batch_instances",
            Strategy::Rolling,
            5,
            50,
            d.rolling_batch_percent,
            d.rolling_batch_instances,
        ),
    ];
    let mut step = None;
    for (pk, ik, s, lo, hi, percent, instances) in steps {
        if s != d.strategy {
            // Another strategy's step (the contract's example gives all three, so that a
            // switch is one line): accepted and unused, but still within AWS's range.
            if let Some(p) = percent.filter(|p| !(lo..=hi).contains(p)) {
                return Err(err(
                    pk,
                    format!(
                        "{p} is out of range: SageMaker takes {lo} to {hi} percent of the fleet \
                         (used with strategy {})",
                        strategy_name(s)
                    ),
                ));
            }
            continue;
        }
        step = Some(match (percent, instances) {
            (Some(_), Some(_)) => {
                return Err(err(ik, format!("give `{pk}` or `{ik}`, not both")));
            }
            (Some(p), None) if !(lo..=hi).contains(&p) => {
                return Err(err(
                    pk,
                    format!(
                        "{p} is out of range: SageMaker takes {lo} to {hi} percent of the fleet"
                    ),
                ));
            }
            (Some(p), None) => Size::Percent(p),
            (None, Some(n)) => {
                // At most half the fleet the spec asks for (SageMaker's limit).
                let fleet = e
                    .autoscaling
                    .as_ref()
                    .map_or(e.instance_count, |a| a.min.max(e.instance_count));
                if n < 1 || 2 * n > fleet.max(1) {
                    return Err(err(
                        ik,
                        format!(
                            "{n} is out of range: 1 to half the fleet ({fleet} instance(s) in the spec)"
                        ),
                    ));
                }
                Size::Instances(n)
            }
            (None, None) => Size::Percent(match s {
                Strategy::Canary => 10,
                _ => 25,
            }),
        });
    }
    if d.strategy == Strategy::Rolling {
        let min = e
            .autoscaling
            .as_ref()
            .map_or(e.instance_count, |a| a.min.min(e.instance_count));
        if min < 2 {
            return Err(err(
                "strategy",
                format!(
                    "rolling needs a fleet that can roll: at least 2 instances (instance_count{}), \
                     this endpoint may run {min}; use canary or linear",
                    if e.autoscaling.is_some() { " and autoscaling.min" } else { "" }
                ),
            ));
        }
        if d.bake_minutes.is_some() {
            return Err(err(
                "bake_minutes",
                "a rolling update has no bake time (it is for canary, linear and all_at_once)"
                    .into(),
            ));
        }
    }
    for (k, v) in [
        ("wait_minutes", d.wait_minutes),
        ("bake_minutes", d.bake_minutes),
    ] {
        if let Some(v) = v {
            if !(0..=60).contains(&v) {
                return Err(err(
                    k,
                    format!("{v} is out of range: SageMaker takes 0 to 60 minutes"),
                ));
            }
        }
    }
    if let Some(m) = d.max_minutes {
        let hi = if d.strategy == Strategy::Rolling {
            480
        } else {
            240
        };
        if !(10..=hi).contains(&m) {
            return Err(err(
                "max_minutes",
                format!("{m} is out of range: SageMaker takes 10 to {hi} minutes for {name}"),
            ));
        }
    }
    if d.rollback_alarms.len() > MAX_ALARMS {
        return Err(err(
            "rollback_alarms",
            format!(
                "{} alarms: SageMaker takes at most {MAX_ALARMS}",
                d.rollback_alarms.len()
            ),
        ));
    }
    let alarms = &spec.spec.cloudwatch.alarms;
    let mut names = Vec::new();
    for (i, a) in d.rollback_alarms.iter().enumerate() {
        let k = format!("rollback_alarms[{i}]");
        let Some(alarm) = alarms.get(a) else {
            return Err(err(
                &k,
                format!(
                    "no cloudwatch alarm `{a}`{}; defined alarms: {}",
                    crate::suggest::did_you_mean(a, alarms.keys().map(String::as_str)),
                    super::names(alarms.keys())
                ),
            ));
        };
        let n = r.str(&format!("cloudwatch.alarms.{a}.name"), &alarm.name)?;
        if names.contains(&n) {
            return Err(err(&k, format!("`{a}` is listed twice")));
        }
        names.push(n);
    }
    let waits = d.strategy != Strategy::AllAtOnce;
    Ok(Some(Guard {
        strategy: d.strategy,
        step,
        wait_minutes: d.wait_minutes.unwrap_or(if waits { 5 } else { 0 }),
        bake_minutes: d.bake_minutes.unwrap_or(0),
        max_minutes: d.max_minutes,
        rollback_alarms: names,
    }))
}

impl Guard {
    /// The plan's words: "canary 10%, 5m between steps, bake 10m, rollback on A, B".
    pub fn words(&self) -> String {
        let mut out = strategy_name(self.strategy).to_string();
        if let Some(s) = self.step {
            out.push(' ');
            out.push_str(&s.words());
        }
        if self.strategy != Strategy::AllAtOnce {
            out.push_str(&format!(", {}m between steps", self.wait_minutes));
        }
        if self.bake_minutes > 0 {
            out.push_str(&format!(", bake {}m", self.bake_minutes));
        }
        if let Some(m) = self.max_minutes {
            out.push_str(&format!(", at most {m}m"));
        }
        if !self.rollback_alarms.is_empty() {
            out.push_str(&format!(
                ", rollback on {}",
                self.rollback_alarms.join(", ")
            ));
        }
        out
    }

    /// The longest the deployment's own steps take (steps, waits, bake), in minutes: added to
    /// the endpoint's wait budget.
    pub fn minutes(&self) -> u64 {
        if let Some(m) = self.max_minutes {
            return m.max(0) as u64;
        }
        let steps: i64 = match (self.strategy, self.step) {
            (Strategy::AllAtOnce, _) => 0,
            (Strategy::Canary, _) => 1,
            (_, Some(Size::Percent(p))) => (100 + p as i64 - 1) / (p as i64).max(1),
            (_, _) => 10,
        };
        (steps * self.wait_minutes + self.bake_minutes).max(0) as u64
    }

    /// `DeploymentConfig` for `UpdateEndpoint`.
    pub fn sdk(&self) -> DeploymentConfig {
        let wait = (self.wait_minutes * 60) as i32;
        let max = self.max_minutes.map(|m| (m * 60) as i32);
        let mut dc = DeploymentConfig::builder();
        if self.strategy == Strategy::Rolling {
            let step = self.step.unwrap_or(Size::Percent(25));
            dc = dc.rolling_update_policy(
                RollingUpdatePolicy::builder()
                    .maximum_batch_size(step.sdk())
                    .wait_interval_in_seconds(wait)
                    .set_maximum_execution_timeout_in_seconds(max)
                    .build(),
            );
        } else {
            let (t, canary, linear) = match self.strategy {
                Strategy::Canary => (TrafficRoutingConfigType::Canary, self.step, None),
                Strategy::Linear => (TrafficRoutingConfigType::Linear, None, self.step),
                _ => (TrafficRoutingConfigType::AllAtOnce, None, None),
            };
            let routing = TrafficRoutingConfig::builder()
                .r#type(t)
                .wait_interval_in_seconds(wait)
                .set_canary_size(canary.map(Size::sdk))
                .set_linear_step_size(linear.map(Size::sdk))
                .build();
            dc = dc.blue_green_update_policy(
                BlueGreenUpdatePolicy::builder()
                    .traffic_routing_configuration(routing)
                    .termination_wait_in_seconds((self.bake_minutes * 60) as i32)
                    .set_maximum_execution_timeout_in_seconds(max)
                    .build(),
            );
        }
        if !self.rollback_alarms.is_empty() {
            dc = dc.auto_rollback_configuration(
                AutoRollbackConfig::builder()
                    .set_alarms(Some(
                        self.rollback_alarms
                            .iter()
                            .map(|a| Alarm::builder().alarm_name(a).build())
                            .collect(),
                    ))
                    .build(),
            );
        }
        dc.build()
    }

    /// The progress line for a pending deployment's variant status: "canary 10%", "baking 3m
    /// of 5m" (`baking_for`: how long the bake has run, as seen by this run).
    pub fn progress(&self, status: &str, message: Option<&str>, baking_for: Option<u64>) -> String {
        if status == "Baking" {
            let m = baking_for.unwrap_or(0) / 60;
            return format!("baking {m}m of {}m", self.bake_minutes);
        }
        match message.filter(|m| !m.is_empty()) {
            Some(m) => m.to_string(),
            None => format!("{} ({status})", strategy_name(self.strategy)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(strategy: Strategy, step: Option<Size>) -> Guard {
        Guard {
            strategy,
            step,
            wait_minutes: 5,
            bake_minutes: 10,
            max_minutes: None,
            rollback_alarms: vec!["A".into(), "B".into()],
        }
    }

    #[test]
    fn words_and_sdk_follow_the_strategy() {
        let c = g(Strategy::Canary, Some(Size::Percent(10)));
        assert_eq!(
            c.words(),
            "canary 10%, 5m between steps, bake 10m, rollback on A, B"
        );
        let dc = c.sdk();
        let bg = dc.blue_green_update_policy().expect("blue/green");
        let r = bg.traffic_routing_configuration().unwrap();
        assert_eq!(r.r#type(), Some(&TrafficRoutingConfigType::Canary));
        assert_eq!(r.wait_interval_in_seconds(), Some(300));
        assert_eq!(r.canary_size().unwrap().value(), Some(10));
        assert_eq!(bg.termination_wait_in_seconds(), Some(600));
        assert_eq!(dc.auto_rollback_configuration().unwrap().alarms().len(), 2);

        let r = g(Strategy::Rolling, Some(Size::Instances(2))).sdk();
        let p = r.rolling_update_policy().expect("rolling");
        assert_eq!(
            p.maximum_batch_size().unwrap().r#type(),
            Some(&CapacitySizeType::InstanceCount)
        );
        assert!(r.blue_green_update_policy().is_none());
        assert_eq!(
            g(Strategy::Linear, Some(Size::Percent(25))).minutes(),
            4 * 5 + 10
        );
    }

    #[test]
    fn progress_names_the_step() {
        let c = g(Strategy::Canary, Some(Size::Percent(10)));
        assert_eq!(
            c.progress("ActivatingTraffic", Some("canary 10%"), None),
            "canary 10%"
        );
        assert_eq!(c.progress("Baking", None, Some(185)), "baking 3m of 10m");
    }
}
