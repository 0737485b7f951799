//! The typed state of an endpoint, desired and observed alike: the endpoint, its config in
//! service, data capture, autoscaling and the superseded versions of ours. [`super::hosting`]
//! converges to it and reads it back; [`super::endpoint`] renders it from the spec.

use serde::{Deserialize, Serialize};

use crate::resources::kit::tags::Tags;
use crate::resources::kit::wait::Wait;

/// An endpoint's state, desired and observed: the endpoint, the config in service, its
/// autoscaling, the superseded versions of ours and its tags. The `_` keys are the desired
/// state's alone (what converge needs to know; observe has none of them).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EndpointState {
    pub name: String,
    pub status: String,
    pub config_name: String,
    pub model_name: String,
    pub variant_name: String,
    pub instance_type: Option<String>,
    pub instance_count: Option<i32>,
    pub kms_key_arn: Option<String>,
    pub data_capture: Capture,
    pub autoscaling: Scaling,
    pub superseded: Superseded,
    /// Live capacity (the variant's desired instance count) to hold; `null`: not managed
    /// (autoscaling moves it). Only a DR standby holds one (see `resources::dr::sizing`).
    #[serde(default)]
    pub capacity: Option<i32>,
    pub tags: Tags,
    #[serde(
        rename = "_timeout_minutes",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout_minutes: Option<u64>,
    /// Base name of the model (versions are `<base>-<hex>`) and its address (tag).
    #[serde(
        rename = "_model_base",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub model_base: Option<String>,
    #[serde(
        rename = "_model_address",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub model_address: Option<String>,
    /// How an update reaches traffic (the spec's `deployment:`); `None`: SageMaker's default.
    #[serde(
        rename = "_deployment",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub deployment: Option<super::deployment::Guard>,
}

impl EndpointState {
    /// How long converge waits for the endpoint (desired: the spec's `timeout_minutes`).
    pub fn wait(&self) -> Wait {
        let guarded = self.deployment.as_ref().map_or(0, |g| g.minutes());
        Wait::minutes(self.timeout_minutes.unwrap_or(DEFAULT_TIMEOUT_MINUTES) + guarded)
    }
}

/// The wait of a delete whose endpoint has left the spec.
pub const DEFAULT_TIMEOUT_MINUTES: u64 = 60;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Capture {
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling_percent: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capture: Vec<String>,
    /// KMS key that encrypts the captured data (DataCaptureConfig.KmsKeyId).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
}

impl Capture {
    /// No data capture.
    pub fn off() -> Capture {
        Capture {
            enabled: false,
            sampling_percent: None,
            destination: None,
            capture: Vec::new(),
            kms_key_arn: None,
        }
    }
}

/// Versions of ours no longer in service (desired: none).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Superseded {
    pub configs: Vec<String>,
    pub models: Vec<String>,
}

/// An endpoint's autoscaling: registered or not, with its target and policy settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Scaling {
    pub registered: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_invocations_per_instance: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_out_cooldown: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_in_cooldown: Option<i32>,
}

impl Scaling {
    /// The spec's autoscaling (or none) in this shape.
    pub fn of(a: Option<&crate::spec::model::Autoscaling>) -> Scaling {
        match a {
            Some(a) => Scaling {
                registered: true,
                min: Some(a.min),
                max: Some(a.max),
                target_invocations_per_instance: Some(a.target_invocations_per_instance),
                scale_out_cooldown: Some(a.scale_out_cooldown),
                scale_in_cooldown: Some(a.scale_in_cooldown),
            },
            None => Scaling::off(),
        }
    }

    /// No autoscaling.
    pub fn off() -> Scaling {
        Scaling {
            registered: false,
            min: None,
            max: None,
            target_invocations_per_instance: None,
            scale_out_cooldown: None,
            scale_in_cooldown: None,
        }
    }
}
