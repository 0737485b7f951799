//! `cloudwatch_alarm.*` and `cloudwatch_dashboard.*` (the spec's `cloudwatch.alarms` and
//! `cloudwatch.dashboards`): [`alarm`] and [`dashboard`], one kind each. This file holds what
//! both share: their outputs (`name`, `arn`).

pub mod alarm;
pub mod dashboard;

pub use alarm::Alarm;
pub use dashboard::Dashboard;

use serde_json::{json, Value};

/// The outputs of an alarm or a dashboard: its name and ARN.
fn name_arn(name: &str, arn: &str) -> Value {
    json!({ "name": name, "arn": arn })
}
