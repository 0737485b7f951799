//! An endpoint switching to a new config under load ([`Hosting::switch`]): the capacity kept,
//! autoscaling left registered unless the instance type changes, the spec's deployment
//! guardrails (`DeploymentConfig`) sent, the steps on the progress line, and a rollback
//! reported as a failed change naming the alarm or the reason, after the version that lost
//! (its config and model version) is removed.
//!
//! **Capacity.** `UpdateEndpoint` sizes the new fleet at the new config's
//! `InitialInstanceCount` (the spec's `instance_count`) unless `RetainAllVariantProperties` is
//! set. When the live desired count is higher (autoscaling scaled out), the update retains the
//! variant properties (less `DataCaptureConfig`, which the config carries), so the new fleet
//! starts at the live count; otherwise at the spec's count. A DR standby (desired `capacity`)
//! is sized by converge afterwards, as before.
//!
//! **Autoscaling.** SageMaker updates an endpoint with a registered scalable target as long as
//! the instance type stays; when it changes (or the variant is renamed) the target is
//! deregistered first, the count checked after the switch (raised with
//! UpdateEndpointWeightsAndCapacities if it came back lower) and converge registers the
//! spec's scaling again before the command ends.

use std::sync::Mutex;
use std::time::Instant;

use aws_sdk_sagemaker::types::{VariantProperty, VariantPropertyType};

use super::hosting::{EndpointNow, Hosting};
use super::model::delete_model;
use super::state::EndpointState;
use crate::aws::AwsError;
use crate::resources::kit::wait::Wait;

/// Error code of an update SageMaker rolled back.
pub const ROLLED_BACK: &str = "UpdateRolledBack";

/// The count the new fleet starts with, and why (the plan's words).
pub fn starting_count(spec: i32, live: Option<i32>) -> (i32, String) {
    match live {
        Some(l) if l > spec => (
            l,
            format!("new fleet starts at {l} instances (the live count; the spec asks {spec})"),
        ),
        _ => (
            spec,
            format!("new fleet starts at {spec} instance(s) (the spec's count)"),
        ),
    }
}

impl Hosting<'_> {
    /// Switches the endpoint `now` to the desired config (see the module docs) and waits until
    /// it serves it.
    pub async fn switch(
        &self,
        d: &EndpointState,
        now: &EndpointNow,
        w: &Wait,
    ) -> Result<EndpointNow, AwsError> {
        let live = self.live_variant(&now.config_name).await?;
        let kept_scaling = live.as_ref().is_some_and(|(v, t)| {
            v == &d.variant_name && t.as_deref() == d.instance_type.as_deref()
        });
        if let Some((v, _)) = &live {
            if !kept_scaling {
                self.deregister_scaling(&d.name, v).await?;
            }
        }
        self.ensure_config(d, false).await?;
        let spec = d.instance_count.unwrap_or(1);
        let (start, why) = starting_count(spec, now.capacity.filter(|_| d.capacity.is_none()));
        let mut req = self
            .sm
            .update_endpoint()
            .endpoint_name(&d.name)
            .endpoint_config_name(&d.config_name);
        if start > spec {
            req = req
                .retain_all_variant_properties(true)
                .exclude_retained_variant_properties(
                    VariantProperty::builder()
                        .variant_property_type(VariantPropertyType::DataCaptureConfig)
                        .build(),
                );
        }
        if let Some(g) = &d.deployment {
            req = req.deployment_config(g.sdk());
        }
        tracing::info!(address = self.address, start, "{why}");
        req.send()
            .await
            .map_err(AwsError::from_sdk("sagemaker:UpdateEndpoint"))?;
        crate::faults::point("sagemaker.after_update_endpoint", self.address)?;
        let after = self.wait_switched(d, w).await?;
        if let Err(e) = self.verify_serves(&after.0, &d.config_name) {
            return Err(self.rolled_back(d, &after.0, &after.1, e).await);
        }
        let mut after = after.0;
        if !kept_scaling && after.capacity.is_some_and(|c| c < start) && d.capacity.is_none() {
            after = self.scale_to(&d.name, &d.variant_name, start, w).await?;
        }
        Ok(after)
    }

    /// Waits for InService, the deployment's step on the progress line; also the last step seen.
    async fn wait_switched(
        &self,
        d: &EndpointState,
        w: &Wait,
    ) -> Result<(EndpointNow, String), AwsError> {
        let progress = self.on_status();
        let step = Mutex::new(String::new());
        let walked = Mutex::new(Vec::<String>::new());
        let baking = Mutex::new(None::<Instant>);
        let label = |n: &EndpointNow| {
            let text = match (&n.pending, &d.deployment) {
                (Some((status, message)), Some(g)) => {
                    let since = if status == "Baking" {
                        let mut b = baking.lock().expect("not poisoned");
                        Some(b.get_or_insert_with(Instant::now).elapsed().as_secs())
                    } else {
                        None
                    };
                    g.progress(status, message.as_deref(), since)
                }
                (Some((status, Some(m))), None) if !m.is_empty() => format!("{status}: {m}"),
                _ => n.status.clone(),
            };
            if let Some((status, _)) = &n.pending {
                *step.lock().expect("not poisoned") = text.clone();
                // The steps for the audit record: each once, in order (a bake by its name, not
                // its minutes).
                let name = if status == "Baking" {
                    "baking".to_string()
                } else {
                    text.clone()
                };
                let mut w = walked.lock().expect("not poisoned");
                if w.last() != Some(&name) {
                    w.push(name);
                }
            }
            format!("{}: {text}", n.status).replace(&format!("{0}: {0}", n.status), &n.status)
        };
        // A guarded deployment's steps are worth watching: look at least every 5 s.
        let w = &Wait {
            max_poll: w.max_poll.min(std::time::Duration::from_secs(5)),
            poll: w.poll.min(std::time::Duration::from_secs(1)),
            ..w.clone()
        };
        let now = self
            .wait_in_service_as(&d.name, w, &progress, &label)
            .await
            .map_err(|mut e| {
                // Ctrl-C stops novactl's wait, not SageMaker's deployment: say so.
                if e.code == crate::interrupt::INTERRUPTED && d.deployment.is_some() {
                    e.message.push_str(
                        "; SageMaker's own deployment keeps running (its traffic shifting, \
                         bake and alarm rollback go on without novactl)",
                    );
                }
                e
            })?;
        let step = step.into_inner().expect("not poisoned");
        let walked = walked.into_inner().expect("not poisoned");
        if let (Some(g), false) = (&d.deployment, walked.is_empty()) {
            crate::aws::note_change(format!("deployment {}: {}", g.words(), walked.join(" -> ")));
        }
        Ok((now, step))
    }

    /// A rollback: removes the version that lost (the new config, and the new model version
    /// when no live endpoint uses it) and words the failure: "rolled back by alarm X at step
    /// S" or the FailureReason.
    async fn rolled_back(
        &self,
        d: &EndpointState,
        now: &EndpointNow,
        step: &str,
        verify: AwsError,
    ) -> AwsError {
        let reason = now.failure_reason.clone().unwrap_or_default();
        let alarms: Vec<&str> = d
            .deployment
            .iter()
            .flat_map(|g| g.rollback_alarms.iter())
            .filter(|a| reason.contains(a.as_str()))
            .map(String::as_str)
            .collect();
        let by = if alarms.is_empty() {
            "by SageMaker".to_string()
        } else {
            format!("by alarm {}", alarms.join(", "))
        };
        let at = if step.is_empty() {
            String::new()
        } else {
            format!(" at step `{step}`")
        };
        let mut removed = Vec::new();
        let mut left = Vec::new();
        if now.config_name != d.config_name {
            match self.delete_config(&d.config_name).await {
                Ok(()) => removed.push(d.config_name.clone()),
                Err(e) => left.push(format!("{} ({})", d.config_name, e.code)),
            }
            let in_use = self.models_in_use().await.unwrap_or_default();
            if !in_use.contains(&d.model_name) {
                match delete_model(self.sm, &d.model_name).await {
                    Ok(()) => removed.push(d.model_name.clone()),
                    Err(e) => left.push(format!("{} ({})", d.model_name, e.code)),
                }
            }
        }
        let mut message = format!(
            "{} rolled back {by}{at}; it still serves {} ({})",
            self.address,
            now.config_name,
            if reason.is_empty() {
                verify.message.clone()
            } else {
                format!("FailureReason: {reason}")
            }
        );
        if !removed.is_empty() {
            message.push_str(&format!(
                "; removed the new version: {}",
                removed.join(", ")
            ));
        }
        if !left.is_empty() {
            message.push_str(&format!("; could not remove {}", left.join(", ")));
        }
        AwsError::local("sagemaker:UpdateEndpoint", ROLLED_BACK, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_fleet_never_starts_below_the_live_count() {
        assert_eq!(starting_count(1, Some(4)).0, 4);
        assert!(starting_count(1, Some(4)).1.contains("the live count"));
        assert_eq!(starting_count(3, Some(2)).0, 3);
        assert_eq!(starting_count(2, None).0, 2);
    }
}
