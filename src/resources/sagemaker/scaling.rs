//! Application Auto Scaling of an endpoint's variant: the [`Scaling`] part of its state, and the
//! [`Hosting`] calls that read it, register the target and its target-tracking policy, and
//! deregister both (only the parts that exist).

use aws_sdk_applicationautoscaling::operation::describe_scalable_targets::DescribeScalableTargetsOutput;
use aws_sdk_applicationautoscaling::operation::describe_scaling_policies::DescribeScalingPoliciesOutput;
use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ServiceNamespace,
    TargetTrackingScalingPolicyConfiguration,
};

use super::hosting::Hosting;
use super::state::Scaling;
use crate::aws::{ok_if_gone, AwsError};

/// The dimension novactl scales: the variant's instance count.
pub const DIMENSION: &str = "sagemaker:variant:DesiredInstanceCount";

impl Hosting<'_> {
    fn resource_id(name: &str, variant: &str) -> String {
        format!("endpoint/{name}/variant/{variant}")
    }

    fn policy_name(name: &str) -> String {
        format!("{name}-invocations")
    }

    /// The scalable target and our policy as Application Auto Scaling describes them, both
    /// read at once (one round trip).
    async fn describe_scaling(
        &self,
        name: &str,
        variant: &str,
    ) -> Result<(DescribeScalableTargetsOutput, DescribeScalingPoliciesOutput), AwsError> {
        let rid = Self::resource_id(name, variant);
        tokio::try_join!(
            async {
                self.aas
                    .describe_scalable_targets()
                    .service_namespace(ServiceNamespace::Sagemaker)
                    .resource_ids(&rid)
                    .scalable_dimension(ScalableDimension::from(DIMENSION))
                    .send()
                    .await
                    .map_err(AwsError::from_sdk(
                        "application-autoscaling:DescribeScalableTargets",
                    ))
            },
            async {
                self.aas
                    .describe_scaling_policies()
                    .service_namespace(ServiceNamespace::Sagemaker)
                    .resource_id(&rid)
                    .scalable_dimension(ScalableDimension::from(DIMENSION))
                    .policy_names(Self::policy_name(name))
                    .send()
                    .await
                    .map_err(AwsError::from_sdk(
                        "application-autoscaling:DescribeScalingPolicies",
                    ))
            },
        )
    }

    /// The live scaling target and policy, in the desired shape.
    pub async fn read_scaling(&self, name: &str, variant: &str) -> Result<Scaling, AwsError> {
        // The policy answer is unused when there is no target.
        let (targets, policies) = self.describe_scaling(name, variant).await?;
        let Some(t) = targets.scalable_targets().first() else {
            return Ok(Scaling::off());
        };
        // Ours by name: the filter is not honoured everywhere (moto answers every policy of
        // the resource), and a policy of another name is not ours.
        let ours = Self::policy_name(name);
        let tt = policies
            .scaling_policies()
            .iter()
            .find(|p| p.policy_name() == ours)
            .and_then(|p| p.target_tracking_scaling_policy_configuration())
            .filter(|c| {
                c.predefined_metric_specification().is_some_and(|m| {
                    m.predefined_metric_type()
                        == &MetricType::SageMakerVariantInvocationsPerInstance
                })
            });
        Ok(Scaling {
            registered: true,
            min: Some(t.min_capacity()),
            max: Some(t.max_capacity()),
            target_invocations_per_instance: tt.map(|c| c.target_value()),
            scale_out_cooldown: tt.and_then(|c| c.scale_out_cooldown()),
            scale_in_cooldown: tt.and_then(|c| c.scale_in_cooldown()),
        })
    }

    /// Registers the target and puts the policy (both are upserts), or removes both.
    pub async fn apply_scaling(
        &self,
        name: &str,
        variant: &str,
        s: &Scaling,
    ) -> Result<(), AwsError> {
        if !s.registered {
            return self.deregister_scaling(name, variant).await;
        }
        let rid = Self::resource_id(name, variant);
        self.aas
            .register_scalable_target()
            .service_namespace(ServiceNamespace::Sagemaker)
            .resource_id(&rid)
            .scalable_dimension(ScalableDimension::from(DIMENSION))
            .set_min_capacity(s.min)
            .set_max_capacity(s.max)
            .send()
            .await
            .map_err(AwsError::from_sdk(
                "application-autoscaling:RegisterScalableTarget",
            ))?;
        let metric = PredefinedMetricSpecification::builder()
            .predefined_metric_type(MetricType::SageMakerVariantInvocationsPerInstance)
            .build()
            .map_err(build_error)?;
        let config = TargetTrackingScalingPolicyConfiguration::builder()
            .target_value(s.target_invocations_per_instance.unwrap_or(1.0))
            .predefined_metric_specification(metric)
            .set_scale_out_cooldown(s.scale_out_cooldown)
            .set_scale_in_cooldown(s.scale_in_cooldown)
            .build()
            .map_err(build_error)?;
        self.aas
            .put_scaling_policy()
            .policy_name(Self::policy_name(name))
            .service_namespace(ServiceNamespace::Sagemaker)
            .resource_id(&rid)
            .scalable_dimension(ScalableDimension::from(DIMENSION))
            .policy_type(PolicyType::TargetTrackingScaling)
            .target_tracking_scaling_policy_configuration(config)
            .send()
            .await
            .map_err(AwsError::from_sdk(
                "application-autoscaling:PutScalingPolicy",
            ))?;
        Ok(())
    }

    /// Which scaling parts exist now: (scalable target, our target-tracking policy).
    async fn scaling_parts(&self, name: &str, variant: &str) -> Result<(bool, bool), AwsError> {
        let (targets, policies) = self.describe_scaling(name, variant).await?;
        Ok((
            !targets.scalable_targets().is_empty(),
            policies
                .scaling_policies()
                .iter()
                .any(|p| p.policy_name() == Self::policy_name(name)),
        ))
    }

    /// Deletes the policy and deregisters the target, each only when it exists (an endpoint
    /// without autoscaling makes no delete call); either being gone meanwhile is success.
    pub async fn deregister_scaling(&self, name: &str, variant: &str) -> Result<(), AwsError> {
        let rid = Self::resource_id(name, variant);
        let (target, policy) = self.scaling_parts(name, variant).await?;
        if policy {
            ok_if_gone(
                "application-autoscaling:DeleteScalingPolicy",
                self.aas
                    .delete_scaling_policy()
                    .policy_name(Self::policy_name(name))
                    .service_namespace(ServiceNamespace::Sagemaker)
                    .resource_id(&rid)
                    .scalable_dimension(ScalableDimension::from(DIMENSION))
                    .send()
                    .await,
                |se| se.is_object_not_found_exception(),
            )?;
        }
        if target {
            ok_if_gone(
                "application-autoscaling:DeregisterScalableTarget",
                self.aas
                    .deregister_scalable_target()
                    .service_namespace(ServiceNamespace::Sagemaker)
                    .resource_id(&rid)
                    .scalable_dimension(ScalableDimension::from(DIMENSION))
                    .send()
                    .await,
                |se| se.is_object_not_found_exception(),
            )?;
        }
        Ok(())
    }
}

/// A policy part the SDK refused to build.
fn build_error(e: aws_sdk_applicationautoscaling::error::BuildError) -> AwsError {
    AwsError::local(
        "application-autoscaling:PutScalingPolicy",
        "BuildError",
        e.to_string(),
    )
}
