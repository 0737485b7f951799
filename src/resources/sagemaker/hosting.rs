//! The `Hosting` client: all of one endpoint's SageMaker work, callable with mock clients.
//! Its lifecycle (read, wait for InService, create, update, verify, delete), its config
//! versions and their clean-up, [`Hosting::converge`] (the order is in [`super::endpoint`]'s
//! docs) and the calls the DR promotion (`ops::dr`) makes: [`Hosting::request_capacity`],
//! [`Hosting::scale_to`]. Its Application Auto Scaling calls are in [`super::scaling`].

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_sdk_applicationautoscaling as aas;
use aws_sdk_sagemaker as sagemaker;
use aws_sdk_sagemaker::types::{
    CaptureMode, CaptureOption, DataCaptureConfig, EndpointStatus, ProductionVariant,
    ProductionVariantInstanceType,
};
use serde_json::{json, Value};

use super::model::delete_model;
use super::state::{Capture, EndpointState, Superseded};
use super::versions::{base_of, is_version_of, versions_of};
use super::{list_tags, retag, tag_map, tagged_as};
use crate::aws::AwsError;
use crate::resources::kit::tags::{owner_from_tags, sagemaker_tags};
use crate::resources::kit::wait::{Probe, Wait, Waiter};
use crate::resources::{Ctx, Observed};

/// What DescribeEndpoint says now.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointNow {
    pub arn: String,
    pub status: String,
    pub config_name: String,
    pub failure_reason: Option<String>,
    /// The first production variant: its name, desired and current instance counts.
    pub variant: Option<String>,
    pub capacity: Option<i32>,
    pub current: Option<i32>,
    /// A deployment under way (`PendingDeploymentSummary`): its first variant's status and
    /// status message ("ActivatingTraffic", "canary 10%").
    pub pending: Option<(String, Option<String>)>,
}

/// The SageMaker and Auto Scaling clients for one endpoint address: all the endpoint's AWS
/// work, callable with mock clients.
pub struct Hosting<'a> {
    pub sm: &'a sagemaker::Client,
    pub aas: &'a aas::Client,
    pub address: &'a str,
    pub environment: &'a str,
    /// The apply spinner's status line, when there is one.
    pub progress: Option<&'a (dyn Fn(&str) + Sync)>,
    /// In an observation: reads shared with the model's own observe (its versions).
    pub cache: Option<&'a crate::resources::ReadCache>,
}

impl<'a> Hosting<'a> {
    /// The endpoint at `address` in `region`, with the run's progress line and read cache.
    pub fn new(cx: &'a Ctx<'a>, region: &str, address: &'a str) -> Hosting<'a> {
        let c = cx.clients(region);
        Hosting {
            sm: &c.sagemaker,
            aas: &c.autoscaling,
            address,
            environment: cx.environment,
            progress: cx.progress,
            cache: cx.cache,
        }
    }

    /// The same, reading everything fresh (no shared reads of an observation): for the `dr`
    /// commands, which act on what they read.
    pub fn fresh(self) -> Hosting<'a> {
        Hosting {
            cache: None,
            ..self
        }
    }
}

/// Is the endpoint in a transition (Creating, Updating, SystemUpdating, RollingBack)?
pub fn is_busy(status: &str) -> bool {
    matches!(
        EndpointStatus::from(status),
        EndpointStatus::Creating
            | EndpointStatus::Updating
            | EndpointStatus::SystemUpdating
            | EndpointStatus::RollingBack
    )
}

impl Hosting<'_> {
    /// DescribeEndpoint, or `None` when no endpoint has this name (decided by ListEndpoints).
    pub async fn endpoint_now(&self, name: &str) -> Result<Option<EndpointNow>, AwsError> {
        if !self.endpoint_listed(name).await? {
            return Ok(None);
        }
        self.describe(name).await.map(Some)
    }

    /// Does ListEndpoints name an endpoint `name`? (DescribeEndpoint answers a missing one
    /// with an untyped ValidationException.)
    async fn endpoint_listed(&self, name: &str) -> Result<bool, AwsError> {
        let mut pages = self
            .sm
            .list_endpoints()
            .name_contains(name)
            .into_paginator()
            .send();
        let mut found = false;
        while let Some(page) = pages.next().await {
            let page = page.map_err(AwsError::from_sdk("sagemaker:ListEndpoints"))?;
            found |= page
                .endpoints()
                .iter()
                .any(|e| e.endpoint_name() == Some(name));
        }
        Ok(found)
    }

    /// DescribeEndpoint (the endpoint must exist).
    pub async fn describe(&self, name: &str) -> Result<EndpointNow, AwsError> {
        let d = self
            .sm
            .describe_endpoint()
            .endpoint_name(name)
            .send()
            .await
            .map_err(AwsError::from_sdk("sagemaker:DescribeEndpoint"))?;
        let v = d.production_variants().first();
        Ok(EndpointNow {
            arn: d.endpoint_arn().unwrap_or_default().to_string(),
            status: d
                .endpoint_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            config_name: d.endpoint_config_name().unwrap_or_default().to_string(),
            failure_reason: d.failure_reason().map(str::to_string),
            variant: v.and_then(|v| v.variant_name()).map(str::to_string),
            capacity: v.and_then(|v| v.desired_instance_count()),
            current: v.and_then(|v| v.current_instance_count()),
            pending: d
                .pending_deployment_summary()
                .and_then(|p| p.production_variants().first())
                .and_then(|v| v.variant_status().first())
                .map(|s| {
                    (
                        s.status()
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_default(),
                        s.status_message().map(str::to_string),
                    )
                }),
        })
    }

    /// Polls DescribeEndpoint (backoff from `w.poll` to `w.max_poll`) until the endpoint is
    /// InService. `Failed` and other terminal states are errors carrying `FailureReason`;
    /// running out of `w.budget` is a `Timeout` naming the address and the last status.
    /// `on_status` sees every status read (for a spinner or the log).
    pub async fn wait_in_service(
        &self,
        name: &str,
        w: &Wait,
        on_status: &(dyn Fn(&str, Duration) + Sync),
    ) -> Result<EndpointNow, AwsError> {
        self.wait_in_service_as(name, w, on_status, &|n| n.status.clone())
            .await
    }

    /// [`Self::wait_in_service`], with the pending status in the words of `label`.
    pub async fn wait_in_service_as(
        &self,
        name: &str,
        w: &Wait,
        on_status: &(dyn Fn(&str, Duration) + Sync),
        label: &(dyn Fn(&EndpointNow) -> String + Sync),
    ) -> Result<EndpointNow, AwsError> {
        let started = Instant::now();
        let waiter = Waiter {
            operation: "sagemaker:WaitInService",
            address: self.address,
            name,
            goal: "reach InService",
            wait: w,
            on_status,
        };
        waiter
            .until(|| async {
                let now = self.describe(name).await?;
                if now.status == EndpointStatus::InService.as_str() {
                    // The waiter reports the statuses on the way; this one ends it.
                    on_status(&now.status, started.elapsed());
                    return Ok(Probe::Done(now));
                }
                if is_busy(&now.status) {
                    return Ok(Probe::Pending(label(&now)));
                }
                on_status(&now.status, started.elapsed());
                let code = if now.status == EndpointStatus::Failed.as_str() {
                    "EndpointFailed"
                } else {
                    "EndpointNotInService"
                };
                Ok(Probe::Failed {
                    code,
                    message: format!(
                        "{} ({name}) is {}: {}",
                        self.address,
                        now.status,
                        now.failure_reason
                            .as_deref()
                            .unwrap_or("SageMaker gave no FailureReason")
                    ),
                })
            })
            .await
    }

    /// Did the update take? SageMaker rolls a failed update back silently: the endpoint comes
    /// back InService on the old config.
    pub fn verify_serves(&self, now: &EndpointNow, want: &str) -> Result<(), AwsError> {
        if now.config_name == want {
            return Ok(());
        }
        Err(AwsError::local(
            "sagemaker:UpdateEndpoint",
            "UpdateRolledBack",
            format!(
                "{} rolled back: it serves {} instead of {want} ({}); the serving config is \
                 kept, nothing was deleted",
                self.address,
                now.config_name,
                now.failure_reason
                    .as_deref()
                    .map(|r| format!("FailureReason: {r}"))
                    .unwrap_or_else(|| "SageMaker gave no FailureReason".into())
            ),
        ))
    }

    pub(super) fn on_status(&self) -> impl Fn(&str, Duration) + Sync + '_ {
        move |status: &str, elapsed: Duration| {
            let secs = elapsed.as_secs();
            // The progress line has its own clock: the status alone.
            if let Some(p) = self.progress {
                p(status);
            }
            tracing::info!(
                address = self.address,
                status,
                elapsed_s = secs,
                "waiting for InService"
            );
        }
    }

    /// Reaches the desired state from whatever is live (see the module docs for the order).
    pub async fn converge(&self, d: &EndpointState, w: &Wait) -> Result<Value, AwsError> {
        self.converge_from(d, w, false).await
    }

    /// [`Self::converge`] for an endpoint this run's observe found absent: nothing is read
    /// again before the creates (a config of ours by the wanted name is found only when its
    /// create fails), and nothing the creates set is read back (scaling is off, the tags are
    /// the create's). What stays: the wait until InService and its verification (crash
    /// safety). Superseded versions of an earlier endpoint by this name are left for its next
    /// update to remove.
    pub async fn create_new(&self, d: &EndpointState, w: &Wait) -> Result<Value, AwsError> {
        self.converge_from(d, w, true).await
    }

    async fn converge_from(
        &self,
        d: &EndpointState,
        w: &Wait,
        fresh: bool,
    ) -> Result<Value, AwsError> {
        let progress = self.on_status();
        let mut now = if fresh {
            None
        } else {
            self.endpoint_now(&d.name).await?
        };
        if let Some(n) = &now {
            if is_busy(&n.status) {
                // Another operation is running (ours, interrupted, or SageMaker's): let it end.
                now = Some(self.wait_in_service(&d.name, w, &progress).await?);
            }
        }
        if let Some(n) = &now {
            if n.status == EndpointStatus::Failed.as_str() {
                // A failed endpoint cannot be updated and serves nothing: recreate it.
                tracing::warn!(
                    address = self.address,
                    reason = n.failure_reason.as_deref().unwrap_or("none given"),
                    "recreating a Failed endpoint"
                );
                self.delete_endpoint(&d.name, w).await?;
                now = None;
            }
        }
        let now = match now {
            None => {
                self.ensure_config(d, fresh).await?;
                if let Err(e) = self
                    .sm
                    .create_endpoint()
                    .endpoint_name(&d.name)
                    .endpoint_config_name(&d.config_name)
                    .set_tags(Some(sagemaker_tags(&d.tags)))
                    .send()
                    .await
                {
                    // "Already exists" is an untyped ValidationException: look. An endpoint of
                    // ours by this name was made by an attempt whose answer was lost.
                    if !self.is_ours(&d.name).await? {
                        return Err(AwsError::from_err("sagemaker:CreateEndpoint", e));
                    }
                }
                crate::faults::point("sagemaker.after_create_endpoint", self.address)?;
                let n = self.wait_in_service(&d.name, w, &progress).await?;
                self.verify_serves(&n, &d.config_name)?;
                n
            }
            Some(n) if n.config_name != d.config_name => self.switch(d, &n, w).await?,
            Some(n) => n,
        };
        if now.status != EndpointStatus::InService.as_str() {
            return Err(AwsError::local(
                "sagemaker:WaitInService",
                "EndpointNotInService",
                format!("{} is {}, not InService", self.address, now.status),
            ));
        }
        // From here the endpoint verifiably serves the desired config.
        let mut now = now;
        if let Some(want) = d.capacity {
            if now.capacity.is_some_and(|c| c != want) {
                // Autoscaling would move it again: it goes first (a standby has none).
                if self
                    .read_scaling(&d.name, &d.variant_name)
                    .await?
                    .registered
                {
                    self.deregister_scaling(&d.name, &d.variant_name).await?;
                }
                now = self.scale_to(&d.name, &d.variant_name, want, w).await?;
            }
        }
        let live_scaling = if fresh {
            super::state::Scaling::off()
        } else {
            self.read_scaling(&d.name, &d.variant_name).await?
        };
        if live_scaling != d.autoscaling {
            self.apply_scaling(&d.name, &d.variant_name, &d.autoscaling)
                .await?;
        }
        if fresh {
            return Ok(json!({ "name": d.name, "arn": now.arn, "config_name": now.config_name }));
        }
        let live_tags = list_tags(self.sm, &now.arn).await?;
        let want_tags = json!(d.tags);
        if live_tags != want_tags {
            retag(self.sm, &now.arn, &live_tags, &want_tags).await?;
            // The config in service carries the endpoint's tags too: a new address (`moved:`)
            // re-tags it, so that it stays this endpoint's version.
            if let Some(arn) = self
                .describe_config(&now.config_name)
                .await?
                .endpoint_config_arn()
            {
                let live = list_tags(self.sm, arn).await?;
                if live != want_tags {
                    retag(self.sm, arn, &live, &want_tags).await?;
                }
            }
        }
        crate::faults::point("sagemaker.before_cleanup", self.address)?;
        self.cleanup(d, &now.config_name).await?;
        Ok(json!({ "name": d.name, "arn": now.arn, "config_name": now.config_name }))
    }

    /// Sets the variant's instance count in place (UpdateEndpointWeightsAndCapacities, which
    /// keeps every other variant property, unlike UpdateEndpoint) and waits until the endpoint
    /// is InService again.
    pub async fn scale_to(
        &self,
        name: &str,
        variant: &str,
        count: i32,
        w: &Wait,
    ) -> Result<EndpointNow, AwsError> {
        self.request_capacity(name, variant, count).await?;
        self.wait_in_service(name, w, &self.on_status()).await
    }

    /// UpdateEndpointWeightsAndCapacities for one variant's instance count (no wait).
    pub async fn request_capacity(
        &self,
        name: &str,
        variant: &str,
        count: i32,
    ) -> Result<(), AwsError> {
        const OP: &str = "sagemaker:UpdateEndpointWeightsAndCapacities";
        let capacity = sagemaker::types::DesiredWeightAndCapacity::builder()
            .variant_name(variant)
            .desired_instance_count(count)
            .build();
        self.sm
            .update_endpoint_weights_and_capacities()
            .endpoint_name(name)
            .desired_weights_and_capacities(capacity)
            .send()
            .await
            .map_err(AwsError::from_sdk(OP))?;
        Ok(())
    }

    /// Creates the desired endpoint config unless it exists as ours.
    /// `fresh`: the endpoint was found absent; the config is created without looking first.
    pub(super) async fn ensure_config(
        &self,
        d: &EndpointState,
        fresh: bool,
    ) -> Result<(), AwsError> {
        if !fresh
            && self
                .our_configs(&d.name)
                .await?
                .iter()
                .any(|c| c == &d.config_name)
        {
            return Ok(());
        }
        let variant = ProductionVariant::builder()
            .variant_name(&d.variant_name)
            .model_name(&d.model_name)
            .set_initial_instance_count(d.instance_count)
            .set_instance_type(
                d.instance_type
                    .as_deref()
                    .map(ProductionVariantInstanceType::from),
            )
            .initial_variant_weight(1.0)
            .build();
        let mut req = self
            .sm
            .create_endpoint_config()
            .endpoint_config_name(&d.config_name)
            .production_variants(variant)
            .set_kms_key_id(d.kms_key_arn.clone())
            .set_tags(Some(sagemaker_tags(&d.tags)));
        if d.data_capture.enabled {
            let mut dc = DataCaptureConfig::builder()
                .enable_capture(true)
                .set_initial_sampling_percentage(d.data_capture.sampling_percent)
                .set_destination_s3_uri(d.data_capture.destination.clone())
                .set_kms_key_id(d.data_capture.kms_key_arn.clone());
            for mode in &d.data_capture.capture {
                dc = dc.capture_options(
                    CaptureOption::builder()
                        .capture_mode(CaptureMode::from(mode.as_str()))
                        .build(),
                );
            }
            req = req.data_capture_config(dc.build());
        }
        if let Err(e) = req.send().await {
            // An attempt whose answer was lost may have made it (the error is untyped): look.
            if !self.our_configs(&d.name).await?.contains(&d.config_name) {
                return Err(AwsError::from_err("sagemaker:CreateEndpointConfig", e));
            }
        }
        crate::faults::point("sagemaker.after_create_endpoint_config", self.address)?;
        Ok(())
    }

    /// Is there an endpoint `name` tagged with this address and environment?
    async fn is_ours(&self, name: &str) -> Result<bool, AwsError> {
        let Some(now) = self.endpoint_now(name).await? else {
            return Ok(false);
        };
        let tags = list_tags(self.sm, &now.arn).await?;
        Ok(tagged_as(&tags, self.address, self.environment))
    }

    /// Config versions of endpoint `name` tagged with this address and environment.
    pub async fn our_configs(&self, name: &str) -> Result<Vec<String>, AwsError> {
        let mut found = Vec::new();
        let mut pages = self
            .sm
            .list_endpoint_configs()
            .name_contains(name)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(AwsError::from_sdk("sagemaker:ListEndpointConfigs"))?;
            for c in page.endpoint_configs() {
                let n = c.endpoint_config_name().unwrap_or_default();
                if is_version_of(n, name) {
                    found.push((
                        n.to_string(),
                        c.endpoint_config_arn().unwrap_or_default().to_string(),
                    ));
                }
            }
        }
        let tagged = futures::future::try_join_all(found.into_iter().map(|(n, arn)| async move {
            Ok::<_, AwsError>((n, list_tags(self.sm, &arn).await?))
        }))
        .await?;
        Ok(tagged
            .into_iter()
            .filter(|(_, tags)| tagged_as(tags, self.address, self.environment))
            .map(|(n, _)| n)
            .collect())
    }

    /// Model names in the configs of every live endpoint in the region.
    pub(super) async fn models_in_use(&self) -> Result<BTreeSet<String>, AwsError> {
        let mut names = Vec::new();
        let mut pages = self.sm.list_endpoints().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(AwsError::from_sdk("sagemaker:ListEndpoints"))?;
            names.extend(
                page.endpoints()
                    .iter()
                    .filter_map(|e| e.endpoint_name().map(str::to_string)),
            );
        }
        let mut used = BTreeSet::new();
        for n in names {
            let cfg = self.describe(&n).await?.config_name;
            if cfg.is_empty() {
                continue;
            }
            let c = self.describe_config(&cfg).await?;
            used.extend(
                c.production_variants()
                    .iter()
                    .filter_map(|v| v.model_name().map(str::to_string)),
            );
        }
        Ok(used)
    }

    /// Superseded versions: configs of ours other than those in `keep`; model versions of
    /// `model_base` of ours that no live endpoint's config names and that are not in `keep`.
    async fn superseded(
        &self,
        name: &str,
        model_base: &str,
        model_address: &str,
        keep: &[&str],
    ) -> Result<Superseded, AwsError> {
        let configs = self.our_configs(name).await?;
        self.superseded_of(configs, model_base, model_address, keep)
            .await
    }

    /// [`Self::superseded`], given the endpoint's config versions of ours.
    async fn superseded_of(
        &self,
        configs: Vec<String>,
        model_base: &str,
        model_address: &str,
        keep: &[&str],
    ) -> Result<Superseded, AwsError> {
        let configs: Vec<String> = configs
            .into_iter()
            .filter(|c| !keep.contains(&c.as_str()))
            .collect();
        let mut models: Vec<String> = Vec::new();
        if !model_base.is_empty() {
            let candidates: Vec<String> = versions_of(
                self.cache,
                self.sm,
                model_base,
                model_address,
                self.environment,
            )
            .await?
            .iter()
            .map(|v| v.name.clone())
            .filter(|n| !keep.contains(&n.as_str()))
            .collect();
            if !candidates.is_empty() {
                let used = self.models_in_use().await?;
                models = candidates
                    .into_iter()
                    .filter(|m| !used.contains(m))
                    .collect();
            }
        }
        let mut s = Superseded { configs, models };
        s.configs.sort();
        s.models.sort();
        Ok(s)
    }

    /// Deletes superseded versions. Called only when the endpoint is InService on
    /// `serving` (== the desired config).
    async fn cleanup(&self, d: &EndpointState, serving: &str) -> Result<(), AwsError> {
        let keep = [serving, d.config_name.as_str(), d.model_name.as_str()];
        let s = self
            .superseded(
                &d.name,
                d.model_base.as_deref().unwrap_or_default(),
                d.model_address.as_deref().unwrap_or_default(),
                &keep,
            )
            .await?;
        for c in &s.configs {
            self.delete_config(c).await?;
        }
        for m in &s.models {
            delete_model(self.sm, m).await?;
        }
        Ok(())
    }

    pub(super) async fn delete_config(&self, name: &str) -> Result<(), AwsError> {
        match self
            .sm
            .delete_endpoint_config()
            .endpoint_config_name(name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                // Gone already is success; SageMaker's error is untyped, so look.
                let still = self
                    .sm
                    .list_endpoint_configs()
                    .name_contains(name)
                    .send()
                    .await
                    .map_err(AwsError::from_sdk("sagemaker:ListEndpointConfigs"))?
                    .endpoint_configs()
                    .iter()
                    .any(|c| c.endpoint_config_name() == Some(name));
                if still {
                    Err(AwsError::from_err("sagemaker:DeleteEndpointConfig", e))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// DescribeEndpointConfig (the config must exist).
    async fn describe_config(
        &self,
        config: &str,
    ) -> Result<
        sagemaker::operation::describe_endpoint_config::DescribeEndpointConfigOutput,
        AwsError,
    > {
        self.sm
            .describe_endpoint_config()
            .endpoint_config_name(config)
            .send()
            .await
            .map_err(AwsError::from_sdk("sagemaker:DescribeEndpointConfig"))
    }

    /// The variant name and instance type of a config.
    pub(super) async fn live_variant(
        &self,
        config: &str,
    ) -> Result<Option<(String, Option<String>)>, AwsError> {
        let c = self.describe_config(config).await?;
        Ok(c.production_variants().first().and_then(|v| {
            Some((
                v.variant_name()?.to_string(),
                v.instance_type().map(|t| t.as_str().to_string()),
            ))
        }))
    }

    /// DeleteEndpoint and wait until it is gone (within the budget).
    async fn delete_endpoint(&self, name: &str, w: &Wait) -> Result<(), AwsError> {
        if self.endpoint_now(name).await?.is_none() {
            return Ok(());
        }
        self.sm
            .delete_endpoint()
            .endpoint_name(name)
            .send()
            .await
            .map_err(AwsError::from_sdk("sagemaker:DeleteEndpoint"))?;
        let waiter = Waiter {
            operation: "sagemaker:WaitDeleted",
            address: self.address,
            name,
            goal: "finish deleting",
            wait: w,
            on_status: &|_, _| {},
        };
        waiter
            .until(|| async {
                Ok(match self.endpoint_now(name).await? {
                    None => Probe::Done(()),
                    Some(n) => Probe::Pending(n.status),
                })
            })
            .await
    }

    /// Destroy: autoscaling, endpoint, configs (models are `sagemaker_model`'s).
    pub async fn destroy(&self, name: &str, variant: &str, w: &Wait) -> Result<(), AwsError> {
        // Only the scaling parts that exist are deleted (a standby has none).
        self.deregister_scaling(name, variant).await?;
        self.delete_endpoint(name, w).await?;
        for c in self.our_configs(name).await? {
            self.delete_config(&c).await?;
        }
        Ok(())
    }

    /// Live state in the desired shape (absent when there is no endpoint of that name).
    ///
    /// Reads go in four rounds of concurrent calls (on AWS each round costs one round trip):
    /// the endpoint (ListEndpoints decides absence, then DescribeEndpoint); its
    /// tags, config and config versions; the scaling target and policy, the config versions'
    /// tags and the model's versions (read once with the model's own observe).
    pub async fn observe(&self, name: &str, model_address: &str) -> Result<Observed, AwsError> {
        // ListEndpoints first: a missing endpoint needs no further read.
        if !self.endpoint_listed(name).await? {
            return Ok(Observed::absent(self.address));
        }
        let now = self.describe(name).await?;
        let (tags, cfg, configs) = tokio::try_join!(
            list_tags(self.sm, &now.arn),
            self.describe_config(&now.config_name),
            self.our_configs(name),
        )?;
        let owner = owner_from_tags(&tags, self.address, self.environment);
        let v = cfg.production_variants().first();
        let variant_name = v.and_then(|v| v.variant_name()).unwrap_or_default();
        let model_name = v.and_then(|v| v.model_name()).unwrap_or_default();
        let data_capture = match cfg.data_capture_config() {
            Some(dc) if dc.enable_capture().unwrap_or(false) => Capture {
                enabled: true,
                sampling_percent: dc.initial_sampling_percentage(),
                destination: dc.destination_s3_uri().map(str::to_string),
                capture: dc
                    .capture_options()
                    .iter()
                    .filter_map(|o| o.capture_mode().map(|m| m.as_str().to_string()))
                    .collect(),
                kms_key_arn: dc.kms_key_id().map(str::to_string),
            },
            _ => Capture::off(),
        };
        let model_base = base_of(model_name).unwrap_or_default();
        let keep = [now.config_name.as_str(), model_name];
        let (autoscaling, superseded) = tokio::try_join!(
            self.read_scaling(name, variant_name),
            self.superseded_of(configs, model_base, model_address, &keep),
        )?;
        let state = EndpointState {
            name: name.to_string(),
            status: now.status.clone(),
            config_name: now.config_name.clone(),
            model_name: model_name.to_string(),
            variant_name: variant_name.to_string(),
            instance_type: v
                .and_then(|v| v.instance_type())
                .map(|t| t.as_str().to_string()),
            instance_count: v.and_then(|v| v.initial_instance_count()),
            kms_key_arn: cfg.kms_key_id().map(str::to_string),
            data_capture,
            autoscaling,
            superseded,
            capacity: now.capacity,
            tags: tag_map(&tags),
            timeout_minutes: None,
            model_base: None,
            model_address: None,
            deployment: None,
        };
        Ok(Observed {
            address: self.address.to_string(),
            physical_id: name.to_string(),
            state: Some(serde_json::to_value(state).expect("state serializes")),
            owner,
            outputs: json!({ "name": name, "arn": now.arn, "config_name": now.config_name }),
        })
    }
}

/// What moto cannot show (state transitions, rollback, a budget that runs out, resuming an
/// interrupted update), driven through `aws-smithy-mocks`.
#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use aws_sdk_applicationautoscaling::operation::{
        delete_scaling_policy::DeleteScalingPolicyOutput,
        deregister_scalable_target::DeregisterScalableTargetOutput,
        describe_scalable_targets::DescribeScalableTargetsOutput,
        describe_scaling_policies::DescribeScalingPoliciesOutput,
        put_scaling_policy::PutScalingPolicyOutput,
        register_scalable_target::RegisterScalableTargetOutput,
    };
    use aws_sdk_applicationautoscaling::types::{
        PolicyType, ScalableDimension, ScalableTarget, ScalingPolicy, ServiceNamespace,
    };
    use aws_sdk_sagemaker::operation::{
        create_endpoint_config::CreateEndpointConfigOutput,
        delete_endpoint_config::DeleteEndpointConfigOutput, delete_model::DeleteModelOutput,
        describe_endpoint::DescribeEndpointOutput,
        describe_endpoint_config::DescribeEndpointConfigOutput,
        list_endpoint_configs::ListEndpointConfigsOutput, list_endpoints::ListEndpointsOutput,
        list_models::ListModelsOutput, list_tags::ListTagsOutput,
        update_endpoint::UpdateEndpointOutput,
    };
    use aws_sdk_sagemaker::types::{EndpointConfigSummary, EndpointSummary, ModelSummary, Tag};
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

    use super::super::scaling::DIMENSION;
    use super::super::state::Scaling;
    use super::*;
    use crate::resources::{TAG_ADDRESS, TAG_ENVIRONMENT};
    use std::collections::BTreeMap;

    const EP: &str = "mentallama-endpoint";
    const ADDR: &str = "sagemaker_endpoint.mentallama";
    const MODEL_ADDR: &str = "sagemaker_model.mentallama";
    const OLD_CFG: &str = "mentallama-endpoint-0000aaaa";
    const NEW_CFG: &str = "mentallama-endpoint-1111bbbb";
    const OLD_MODEL: &str = "mentallama-model-2222cccc";
    const NEW_MODEL: &str = "mentallama-model-3333dddd";

    fn fast() -> Wait {
        Wait {
            budget: Duration::from_secs(5),
            poll: Duration::from_millis(1),
            max_poll: Duration::from_millis(4),
        }
    }

    fn desired(autoscaling: bool) -> EndpointState {
        EndpointState {
            name: EP.into(),
            status: "InService".into(),
            config_name: NEW_CFG.into(),
            model_name: NEW_MODEL.into(),
            variant_name: "default".into(),
            instance_type: Some("ml.g5.2xlarge".into()),
            instance_count: Some(1),
            kms_key_arn: Some("arn:aws:kms:us-east-1:123456789012:key/k".into()),
            data_capture: Capture {
                enabled: true,
                sampling_percent: Some(100),
                destination: Some("s3://logs/datacapture".into()),
                capture: vec!["Input".into(), "Output".into()],
                kms_key_arn: None,
            },
            autoscaling: if autoscaling {
                Scaling {
                    registered: true,
                    min: Some(1),
                    max: Some(5),
                    target_invocations_per_instance: Some(80.0),
                    scale_out_cooldown: Some(300),
                    scale_in_cooldown: Some(600),
                }
            } else {
                Scaling::off()
            },
            superseded: Superseded::default(),
            capacity: None,
            tags: BTreeMap::from([
                (TAG_ADDRESS.to_string(), ADDR.to_string()),
                (TAG_ENVIRONMENT.to_string(), "prod".to_string()),
            ]),
            timeout_minutes: Some(60),
            model_base: Some("mentallama-model".into()),
            model_address: Some(MODEL_ADDR.into()),
            deployment: None,
        }
    }

    fn arn(kind: &str, name: &str) -> String {
        format!("arn:aws:sagemaker:us-east-1:123456789012:{kind}/{name}")
    }

    fn described(
        config: &str,
        status: EndpointStatus,
        reason: Option<&str>,
    ) -> DescribeEndpointOutput {
        DescribeEndpointOutput::builder()
            .endpoint_name(EP)
            .endpoint_arn(arn("endpoint", EP))
            .endpoint_config_name(config)
            .endpoint_status(status)
            .set_failure_reason(reason.map(str::to_string))
            .build()
    }

    /// Records the order of write calls.
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<String>>>);
    impl Log {
        fn push(&self, s: impl Into<String>) {
            self.0.lock().unwrap().push(s.into());
        }
        fn calls(&self) -> Vec<String> {
            self.0.lock().unwrap().clone()
        }
    }

    fn list_endpoints() -> Rule {
        mock!(sagemaker::Client::list_endpoints).then_output(|| {
            ListEndpointsOutput::builder()
                .endpoints(
                    EndpointSummary::builder()
                        .endpoint_name(EP)
                        .endpoint_arn(arn("endpoint", EP))
                        .build(),
                )
                .build()
        })
    }

    /// Tags: configs carry the endpoint's address, models the model's.
    fn list_tags() -> Rule {
        mock!(sagemaker::Client::list_tags).then_compute_output(|req| {
            let a = req.resource_arn().unwrap_or_default();
            let addr = if a.contains(":model/") {
                MODEL_ADDR
            } else {
                ADDR
            };
            ListTagsOutput::builder()
                .tags(Tag::builder().key(TAG_ADDRESS).value(addr).build())
                .tags(Tag::builder().key(TAG_ENVIRONMENT).value("prod").build())
                .build()
        })
    }

    fn list_configs(names: &'static [&'static str]) -> Rule {
        mock!(sagemaker::Client::list_endpoint_configs).then_output(move || {
            let mut b = ListEndpointConfigsOutput::builder();
            for n in names {
                b = b.endpoint_configs(
                    EndpointConfigSummary::builder()
                        .endpoint_config_name(*n)
                        .endpoint_config_arn(arn("endpoint-config", n))
                        .build(),
                );
            }
            b.build()
        })
    }

    fn list_models(names: &'static [&'static str]) -> Rule {
        mock!(sagemaker::Client::list_models).then_output(move || {
            let mut b = ListModelsOutput::builder();
            for n in names {
                b = b.models(
                    ModelSummary::builder()
                        .model_name(*n)
                        .model_arn(arn("model", n))
                        .build(),
                );
            }
            b.build()
        })
    }

    /// DescribeEndpointConfig: a config names the model version of the same age.
    fn describe_config() -> Rule {
        mock!(sagemaker::Client::describe_endpoint_config).then_compute_output(|req| {
            let c = req.endpoint_config_name().unwrap_or_default();
            let model = if c == NEW_CFG { NEW_MODEL } else { OLD_MODEL };
            DescribeEndpointConfigOutput::builder()
                .endpoint_config_name(c)
                .production_variants(
                    ProductionVariant::builder()
                        .variant_name("default")
                        .model_name(model)
                        .initial_instance_count(1)
                        .instance_type(ProductionVariantInstanceType::MlG52Xlarge)
                        .build(),
                )
                .kms_key_id("arn:aws:kms:us-east-1:123456789012:key/k")
                .data_capture_config(
                    DataCaptureConfig::builder()
                        .enable_capture(true)
                        .initial_sampling_percentage(100)
                        .destination_s3_uri("s3://logs/datacapture")
                        .capture_options(
                            CaptureOption::builder()
                                .capture_mode(CaptureMode::Input)
                                .build(),
                        )
                        .capture_options(
                            CaptureOption::builder()
                                .capture_mode(CaptureMode::Output)
                                .build(),
                        )
                        .build(),
                )
                .build()
        })
    }

    fn target() -> ScalableTarget {
        ScalableTarget::builder()
            .service_namespace(ServiceNamespace::Sagemaker)
            .resource_id(format!("endpoint/{EP}/variant/default"))
            .scalable_dimension(ScalableDimension::from(DIMENSION))
            .min_capacity(1)
            .max_capacity(5)
            .role_arn("arn:aws:iam::123456789012:role/aas")
            .creation_time(aws_smithy_types::DateTime::from_secs(0))
            .build()
            .unwrap()
    }

    fn policy() -> ScalingPolicy {
        ScalingPolicy::builder()
            .policy_arn("arn:aws:autoscaling:policy")
            .policy_name(format!("{EP}-invocations"))
            .service_namespace(ServiceNamespace::Sagemaker)
            .resource_id(format!("endpoint/{EP}/variant/default"))
            .scalable_dimension(ScalableDimension::from(DIMENSION))
            .policy_type(PolicyType::TargetTrackingScaling)
            .creation_time(aws_smithy_types::DateTime::from_secs(0))
            .build()
            .unwrap()
    }

    /// Auto Scaling writes, logged; reads from `targets` (in order, last one repeats).
    fn aas_rules(log: &Log, registered_first: bool) -> Vec<Rule> {
        let (l1, l2, l3, l4) = (log.clone(), log.clone(), log.clone(), log.clone());
        let mut seq = mock!(aas::Client::describe_scalable_targets).sequence();
        if registered_first {
            seq = seq.output(|| {
                DescribeScalableTargetsOutput::builder()
                    .scalable_targets(target())
                    .build()
            });
        }
        let targets = seq
            .output(|| DescribeScalableTargetsOutput::builder().build())
            .repeatedly()
            .build();
        let mut seq = mock!(aas::Client::describe_scaling_policies).sequence();
        if registered_first {
            seq = seq.output(|| {
                DescribeScalingPoliciesOutput::builder()
                    .scaling_policies(policy())
                    .build()
            });
        }
        let policies = seq
            .output(|| DescribeScalingPoliciesOutput::builder().build())
            .repeatedly()
            .build();
        vec![
            targets,
            policies,
            mock!(aas::Client::delete_scaling_policy).then_compute_output(move |_| {
                l1.push("DeleteScalingPolicy");
                DeleteScalingPolicyOutput::builder().build()
            }),
            mock!(aas::Client::deregister_scalable_target).then_compute_output(move |_| {
                l2.push("DeregisterScalableTarget");
                DeregisterScalableTargetOutput::builder().build()
            }),
            mock!(aas::Client::register_scalable_target).then_compute_output(move |_| {
                l3.push("RegisterScalableTarget");
                RegisterScalableTargetOutput::builder().build()
            }),
            mock!(aas::Client::put_scaling_policy).then_compute_output(move |_| {
                l4.push("PutScalingPolicy");
                PutScalingPolicyOutput::builder()
                    .policy_arn("arn:aws:autoscaling:policy")
                    .build()
                    .unwrap()
            }),
        ]
    }

    /// SageMaker writes, logged with the name they act on.
    fn sm_writes(log: &Log) -> Vec<Rule> {
        let (l1, l2, l3, l4) = (log.clone(), log.clone(), log.clone(), log.clone());
        vec![
            mock!(sagemaker::Client::create_endpoint_config).then_compute_output(move |r| {
                l1.push(format!(
                    "CreateEndpointConfig {}",
                    r.endpoint_config_name().unwrap()
                ));
                CreateEndpointConfigOutput::builder().build()
            }),
            mock!(sagemaker::Client::update_endpoint).then_compute_output(move |r| {
                l2.push(format!(
                    "UpdateEndpoint {}",
                    r.endpoint_config_name().unwrap()
                ));
                UpdateEndpointOutput::builder().build()
            }),
            mock!(sagemaker::Client::delete_endpoint_config).then_compute_output(move |r| {
                l3.push(format!(
                    "DeleteEndpointConfig {}",
                    r.endpoint_config_name().unwrap()
                ));
                DeleteEndpointConfigOutput::builder().build()
            }),
            mock!(sagemaker::Client::delete_model).then_compute_output(move |r| {
                l4.push(format!("DeleteModel {}", r.model_name().unwrap()));
                DeleteModelOutput::builder().build()
            }),
        ]
    }

    fn clients(sm_rules: &[Rule], aas_rules: &[Rule]) -> (sagemaker::Client, aas::Client) {
        let sm = mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, sm_rules.iter());
        let aas = mock_client!(
            aws_sdk_applicationautoscaling,
            RuleMode::MatchAny,
            aas_rules.iter()
        );
        (sm, aas)
    }

    fn hosting<'a>(sm: &'a sagemaker::Client, aas: &'a aas::Client) -> Hosting<'a> {
        Hosting {
            sm,
            aas,
            address: ADDR,
            environment: "prod",
            progress: None,
            cache: None,
        }
    }

    #[tokio::test]
    async fn create_waits_through_creating_to_in_service() {
        let describe = mock!(sagemaker::Client::describe_endpoint)
            .sequence()
            .output(|| described(NEW_CFG, EndpointStatus::Creating, None))
            .times(3)
            .output(|| described(NEW_CFG, EndpointStatus::InService, None))
            .build();
        let (sm, aas) = clients(std::slice::from_ref(&describe), &[]);
        let seen = Mutex::new(Vec::new());
        let now = hosting(&sm, &aas)
            .wait_in_service(EP, &fast(), &|s, _| {
                seen.lock().unwrap().push(s.to_string())
            })
            .await
            .expect("reaches InService");
        assert_eq!(now.config_name, NEW_CFG);
        assert_eq!(
            seen.into_inner().unwrap(),
            ["Creating", "Creating", "Creating", "InService"],
            "every poll reports its status"
        );
        assert_eq!(describe.num_calls(), 4, "stops polling once InService");
    }

    #[tokio::test]
    async fn failed_endpoint_is_an_error_with_failure_reason() {
        let describe = mock!(sagemaker::Client::describe_endpoint)
            .sequence()
            .output(|| described(NEW_CFG, EndpointStatus::Creating, None))
            .output(|| {
                described(
                    NEW_CFG,
                    EndpointStatus::Failed,
                    Some("CUDA out of memory on ml.g5.2xlarge"),
                )
            })
            .build();
        let (sm, aas) = clients(&[describe], &[]);
        let err = hosting(&sm, &aas)
            .wait_in_service(EP, &fast(), &|_, _| {})
            .await
            .unwrap_err();
        assert_eq!(err.code, "EndpointFailed", "{err}");
        assert!(err.message.contains("CUDA out of memory"), "{err}");
        assert!(err.message.contains(ADDR), "{err}");
    }

    #[tokio::test]
    async fn wait_budget_running_out_names_the_endpoint() {
        let describe = mock!(sagemaker::Client::describe_endpoint)
            .then_output(|| described(NEW_CFG, EndpointStatus::Updating, None));
        let (sm, aas) = clients(&[describe], &[]);
        let w = Wait {
            budget: Duration::from_millis(40),
            ..fast()
        };
        let started = Instant::now();
        let err = hosting(&sm, &aas)
            .wait_in_service(EP, &w, &|_, _| {})
            .await
            .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the budget bounds the wait"
        );
        assert_eq!(
            (err.operation.as_str(), err.code.as_str()),
            ("sagemaker:WaitInService", "Timeout")
        );
        assert!(
            err.message
                .starts_with("sagemaker_endpoint.mentallama did not reach InService within"),
            "{err}"
        );
        assert!(err.message.contains("last status Updating"), "{err}");
    }

    #[tokio::test]
    async fn update_runs_the_sequence_in_order() {
        let log = Log::default();
        let describe = mock!(sagemaker::Client::describe_endpoint)
            .sequence()
            .output(|| described(OLD_CFG, EndpointStatus::InService, None))
            .output(|| described(NEW_CFG, EndpointStatus::Updating, None))
            .times(2)
            .output(|| described(NEW_CFG, EndpointStatus::InService, None))
            .repeatedly()
            .build();
        let mut sm_rules = vec![
            describe,
            list_endpoints(),
            describe_config(),
            list_tags(),
            list_configs(&[OLD_CFG]),
            list_models(&[OLD_MODEL, NEW_MODEL]),
        ];
        sm_rules.extend(sm_writes(&log));
        let (sm, aas) = clients(&sm_rules, &aas_rules(&log, true));
        hosting(&sm, &aas)
            .converge(&desired(true), &fast())
            .await
            .expect("update succeeds");
        assert_eq!(
            log.calls(),
            [
                &format!("CreateEndpointConfig {NEW_CFG}"),
                &format!("UpdateEndpoint {NEW_CFG}"),
                "RegisterScalableTarget",
                "PutScalingPolicy",
                &format!("DeleteEndpointConfig {OLD_CFG}"),
                &format!("DeleteModel {OLD_MODEL}"),
            ],
            "same instance type: scaling stays registered → new config → switch → (wait, \
             verify) → scaling as the spec asks → clean-up"
        );
    }

    #[tokio::test]
    async fn rollback_is_a_failure_and_keeps_the_old_config() {
        let log = Log::default();
        let describe = mock!(sagemaker::Client::describe_endpoint)
            .sequence()
            .output(|| described(OLD_CFG, EndpointStatus::InService, None))
            .output(|| described(NEW_CFG, EndpointStatus::Updating, None))
            .output(|| described(OLD_CFG, EndpointStatus::RollingBack, None))
            .output(|| {
                described(
                    OLD_CFG,
                    EndpointStatus::InService,
                    Some("The primary container for production variant default did not pass the ping health check."),
                )
            })
            .repeatedly()
            .build();
        let mut sm_rules = vec![
            describe,
            list_endpoints(),
            describe_config(),
            list_tags(),
            list_configs(&[OLD_CFG]),
            list_models(&[OLD_MODEL, NEW_MODEL]),
        ];
        sm_rules.extend(sm_writes(&log));
        let (sm, aas) = clients(&sm_rules, &aas_rules(&log, true));
        let err = hosting(&sm, &aas)
            .converge(&desired(true), &fast())
            .await
            .unwrap_err();
        assert_eq!(err.code, "UpdateRolledBack", "{err}");
        assert!(
            err.message.contains("did not pass the ping health check"),
            "{err}"
        );
        assert!(
            err.message.contains(OLD_CFG) && err.message.contains(NEW_CFG),
            "{err}"
        );
        let calls = log.calls();
        assert!(
            !calls
                .iter()
                .any(|c| c.starts_with("Delete") && (c.contains(OLD_CFG) || c.contains(OLD_MODEL))),
            "the serving version is never deleted after a rollback: {calls:?}"
        );
        assert_eq!(
            &calls[calls.len() - 3..],
            [
                format!("UpdateEndpoint {NEW_CFG}"),
                format!("DeleteEndpointConfig {NEW_CFG}"),
                format!("DeleteModel {NEW_MODEL}"),
            ],
            "the version that lost is removed"
        );
    }

    #[tokio::test]
    async fn resume_after_interruption_between_update_and_cleanup() {
        // The last run died after UpdateEndpoint: the endpoint serves the new config, the old
        // config and model are still there, autoscaling was deregistered and not re-registered.
        let log = Log::default();
        let describe = mock!(sagemaker::Client::describe_endpoint)
            .then_output(|| described(NEW_CFG, EndpointStatus::InService, None));
        let mut sm_rules = vec![
            describe,
            list_endpoints(),
            describe_config(),
            list_tags(),
            list_configs(&[OLD_CFG, NEW_CFG]),
            list_models(&[OLD_MODEL, NEW_MODEL]),
        ];
        sm_rules.extend(sm_writes(&log));
        let (sm, aas) = clients(&sm_rules, &aas_rules(&log, false));
        let h = hosting(&sm, &aas);

        let observed = h.observe(EP, MODEL_ADDR).await.expect("observe");
        let state = observed.state.expect("live");
        let want = serde_json::to_value(desired(true)).unwrap();
        let changed = crate::plan::diff::top_level(&crate::plan::diff::changes(&state, &want, &[]));
        assert_eq!(changed, ["autoscaling", "superseded"], "plan: {state:#}");
        assert!(log.calls().is_empty(), "observe writes nothing");

        h.converge(&desired(true), &fast()).await.expect("resume");
        assert_eq!(
            log.calls(),
            [
                "RegisterScalableTarget",
                "PutScalingPolicy",
                &format!("DeleteEndpointConfig {OLD_CFG}"),
                &format!("DeleteModel {OLD_MODEL}"),
            ],
            "no second UpdateEndpoint; scaling back, then clean-up"
        );
    }

    /// Destroy touches only the parts it finds: no DeleteScalingPolicy or
    /// DeregisterScalableTarget for an endpoint without autoscaling, both for one with it.
    #[tokio::test]
    async fn destroy_deletes_only_the_scaling_parts_that_exist() {
        for with_scaling in [false, true] {
            let log = Log::default();
            let l1 = log.clone();
            // Listed until DeleteEndpoint, gone after.
            let listing = mock!(sagemaker::Client::list_endpoints)
                .sequence()
                .output(|| {
                    ListEndpointsOutput::builder()
                        .endpoints(
                            EndpointSummary::builder()
                                .endpoint_name(EP)
                                .endpoint_arn(arn("endpoint", EP))
                                .build(),
                        )
                        .build()
                })
                .output(|| ListEndpointsOutput::builder().build())
                .repeatedly()
                .build();
            let mut sm_rules = vec![
                listing,
                mock!(sagemaker::Client::describe_endpoint)
                    .then_output(|| described(NEW_CFG, EndpointStatus::InService, None)),
                mock!(sagemaker::Client::delete_endpoint).then_compute_output(move |_| {
                    l1.push("DeleteEndpoint");
                    sagemaker::operation::delete_endpoint::DeleteEndpointOutput::builder().build()
                }),
                list_tags(),
                list_configs(&[NEW_CFG]),
            ];
            sm_rules.extend(sm_writes(&log));
            let (sm, aas) = clients(&sm_rules, &aas_rules(&log, with_scaling));
            hosting(&sm, &aas)
                .destroy(EP, "default", &fast())
                .await
                .expect("destroy succeeds");
            let mut want = vec![];
            if with_scaling {
                want.extend(["DeleteScalingPolicy", "DeregisterScalableTarget"]);
            }
            want.extend(["DeleteEndpoint"]);
            let cfg = format!("DeleteEndpointConfig {NEW_CFG}");
            want.push(&cfg);
            assert_eq!(log.calls(), want, "with autoscaling: {with_scaling}");
        }
    }
}
