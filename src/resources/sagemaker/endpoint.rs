//! `sagemaker_endpoint.*`: a SageMaker endpoint, the endpoint config it serves (one production
//! variant, KMS volume key, data capture) and its Application Auto Scaling target and
//! target-tracking policy, reconciled as **one** resource so that an update never drops traffic.
//!
//! # Versions
//! Endpoint configs are immutable. The config's live name is `<endpoint name>-<8 hex>` of the
//! sha256 of its canonical content (model version, variant, instance type and count, KMS key
//! ARN, data capture); the model's version name is computed the same way
//! ([`super::versions::model_version`]). A change to the model or to the config content
//! is therefore a new `config_name` in the desired state, and the plan shows one update of this
//! endpoint naming the new config version and the attributes that caused it. The endpoint
//! itself keeps the spec's name.
//!
//! # State
//! `observe` reads DescribeEndpoint → DescribeEndpointConfig (the config in service), the
//! endpoint's tags, the scaling target and policy, and `superseded`: config versions of this
//! endpoint and model versions of its model, tagged ours and no longer in service. Desired
//! `superseded` is always empty, so left-overs of an interrupted update plan as an update
//! (clean-up) of this endpoint.
//!
//! # Expected flow (update, see [`Hosting::converge`] in [`super::hosting`])
//! 1. Read the endpoint again; if it is busy (Creating/Updating/…), wait for it first.
//! 2. If it does not serve the desired config: [`super::rollout`] (`Hosting::switch`):
//!    deregister autoscaling only if the instance type (or variant) changes → create the new
//!    config (if missing) → `UpdateEndpoint` (the live count retained when it is above the
//!    spec's; the spec's `deployment:` as `DeploymentConfig`) → wait for InService within
//!    `timeout_minutes` plus the deployment's time, the step on the progress line → **verify**
//!    DescribeEndpoint names the new config (a rollback is an `UpdateRolledBack` error naming
//!    the alarm or `FailureReason`, after the new config and model version are removed; the
//!    serving ones are never touched).
//! 3. Register autoscaling (target + policy) when it differs from the desired one.
//! 4. Tags.
//! 5. Only now, with the endpoint InService on the desired config: delete superseded configs
//!    (ours, not the desired one, not the one in service) and model versions (ours, not the
//!    desired one, not named by the config of any live endpoint).
//!
//! Create is the same path from nothing (config → CreateEndpoint → wait → verify →
//! autoscaling → clean-up). A `Failed` endpoint cannot be updated: converge deletes and
//! recreates it (it serves no traffic anyway).
//!
//! # Guarantees
//! * Repeat-safe and resumable: every step is decided from what is read at that moment, not
//!   from the plan, so an apply interrupted anywhere finishes on the next run.
//! * The config or model in service is never deleted, and nothing is deleted before the endpoint
//!   is verified to serve the desired config.
//!
//! # Errors
//! * A wait that runs out of budget: `sagemaker:WaitInService` / `Timeout`, naming the address
//!   and the last status.
//! * `Failed`: `sagemaker:WaitInService` / `EndpointFailed` with `FailureReason`.
//! * A rollback: `sagemaker:UpdateEndpoint` / `UpdateRolledBack` with `FailureReason`.
//! * A delete (destroy, or recreating a `Failed` endpoint) that runs out of budget:
//!   `sagemaker:WaitDeleted` / `Timeout`. Both waits end at Ctrl-C with `Interrupted`
//!   ([`crate::resources::kit::wait`]).
//!
//! # Caveats
//! SageMaker reports "not found" and "already exists" as an untyped `ValidationException`;
//! existence is decided by listing (exact name match), never by message text. The wait shows
//! the status and elapsed time on the apply spinner (`Ctx::progress`) and logs it (`tracing`).

use async_trait::async_trait;
use serde_json::{json, Value};

use super::deployment;
use super::hosting::Hosting;
use super::state::{Capture, EndpointState, Scaling, Superseded, DEFAULT_TIMEOUT_MINUTES};
use super::versions::{model_version, versioned_name};
use super::{check_base_name, list_tags, names};
use crate::aws::AwsError;
use crate::permissions::{perm, Implied, Perm};
use crate::resources::kind::KindInfo;
use crate::resources::kit::discover::{read_found, read_tagged};
use crate::resources::kit::tags::desired_tags;
use crate::resources::kit::wait::Wait;
use crate::resources::{
    dr, from_desired, Address, Ctx, Decl, DeleteTarget, Found, Observed, Reconciler,
};
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

/// What the engine knows of `sagemaker_endpoint` (see [`KindInfo`]).
pub const INFO: KindInfo = KindInfo::new("sagemaker_endpoint", "sagemaker.endpoints", |s, n| {
    s.sagemaker.endpoints.get(n).and_then(|r| r.protect)
})
.outputs_under_section()
.tagged_as(&["sagemaker:endpoint"])
.late_outputs(&["arn", "config_name"]);

/// Every AWS call this kind makes and what IAM must allow for it (see [`crate::permissions`]).
/// Application Auto Scaling has no resource-level permissions; registering the first
/// SageMaker target creates its service-linked role.
pub const PERMISSIONS: &[Perm] = &[
    perm("sagemaker:ListEndpoints", &["sagemaker:ListEndpoints"], &["*"]),
    perm("sagemaker:ListEndpointConfigs", &["sagemaker:ListEndpointConfigs"], &["*"]),
    perm("sagemaker:ListModels", &["sagemaker:ListModels"], &["*"]),
    perm("sagemaker:ListTags", &["sagemaker:ListTags"], &[ENDPOINTS, CONFIGS, MODELS]),
    perm("sagemaker:DescribeEndpoint", &["sagemaker:DescribeEndpoint"], &[ENDPOINT]),
    perm("sagemaker:DescribeEndpointConfig", &["sagemaker:DescribeEndpointConfig"], &[CONFIGS]),
    perm("sagemaker:DescribeModel", &["sagemaker:DescribeModel"], &[MODELS]),
    perm("sagemaker:CreateEndpointConfig", &["sagemaker:CreateEndpointConfig", "sagemaker:AddTags"], &[CONFIG]),
    perm("sagemaker:CreateEndpoint", &["sagemaker:CreateEndpoint", "sagemaker:AddTags"], &[ENDPOINT, CONFIG]),
    perm("sagemaker:UpdateEndpoint", &["sagemaker:UpdateEndpoint"], &[ENDPOINT, CONFIG]),
    perm("sagemaker:AddTags", &["sagemaker:AddTags"], &[ENDPOINT, CONFIG, MODELS]),
    perm("sagemaker:DeleteTags", &["sagemaker:DeleteTags"], &[ENDPOINT, CONFIG, MODELS]),
    perm("sagemaker:DeleteEndpoint", &["sagemaker:DeleteEndpoint"], &[ENDPOINT]),
    // Promoting a DR standby (`dr drill`, `dr failover`) and returning it to its warm size.
    perm(
        "sagemaker:UpdateEndpointWeightsAndCapacities",
        &["sagemaker:UpdateEndpointWeightsAndCapacities"],
        &["{twin}arn:aws:sagemaker:{region}:{account}:endpoint/{id_lower}"],
    ),
    perm("sagemaker:DeleteEndpointConfig", &["sagemaker:DeleteEndpointConfig"], &[CONFIG]),
    perm("sagemaker:DeleteModel", &["sagemaker:DeleteModel"], &[MODELS]),
    perm(
        "application-autoscaling:DescribeScalableTargets",
        &["application-autoscaling:DescribeScalableTargets"],
        &["*"],
    ),
    perm(
        "application-autoscaling:DescribeScalingPolicies",
        &["application-autoscaling:DescribeScalingPolicies"],
        &["*"],
    ),
    Perm {
        call: "application-autoscaling:RegisterScalableTarget",
        actions: &["application-autoscaling:RegisterScalableTarget"],
        resources: &["*"],
        implied: &[Implied {
            action: "iam:CreateServiceLinkedRole",
            resources: &["arn:aws:iam::{account}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"],
            condition: Some(("StringLike", "iam:AWSServiceName", "sagemaker.application-autoscaling.amazonaws.com")),
        }],
    },
    perm(
        "application-autoscaling:DeregisterScalableTarget",
        &["application-autoscaling:DeregisterScalableTarget"],
        &["*"],
    ),
    perm(
        "application-autoscaling:PutScalingPolicy",
        &["application-autoscaling:PutScalingPolicy"],
        &["*"],
    ),
    perm(
        "application-autoscaling:DeleteScalingPolicy",
        &["application-autoscaling:DeleteScalingPolicy"],
        &["*"],
    ),
];
const ENDPOINT: &str = "arn:aws:sagemaker:{region}:{account}:endpoint/{id_lower}";
const ENDPOINTS: &str = "arn:aws:sagemaker:{region}:{account}:endpoint/*";
const CONFIG: &str = "arn:aws:sagemaker:{region}:{account}:endpoint-config/{id_lower}-*";
const CONFIGS: &str = "arn:aws:sagemaker:{region}:{account}:endpoint-config/*";
const MODELS: &str = "arn:aws:sagemaker:{region}:{account}:model/*";

pub struct SagemakerEndpoint;

/// Longest `timeout_minutes` novactl waits for an endpoint (a day).
pub const MAX_TIMEOUT_MINUTES: u64 = 24 * 60;

/// The target values Application Auto Scaling accepts for target tracking.
const TARGET_VALUE_MIN: f64 = 8.515920e-109;
const TARGET_VALUE_MAX: f64 = 1.174271e+108;

#[async_trait]
impl Reconciler for SagemakerEndpoint {
    fn permissions(&self) -> &'static [&'static [Perm]] {
        &[PERMISSIONS]
    }

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn decls(&self, spec: &LoadedSpec, r: &Renderer) -> Result<Vec<Decl>, SpecError> {
        let s = &spec.spec;
        let mut out = Vec::new();
        for (logical, e) in &s.sagemaker.endpoints {
            let path = format!("sagemaker.endpoints.{logical}");
            let name = r.str(&format!("{path}.name"), &e.name)?;
            check_base_name(spec, &format!("{path}.name"), &name)?;
            let mut deps = Vec::new();
            if !s.sagemaker.models.contains_key(&e.model) {
                return Err(spec.error(
                    &format!("{path}.model"),
                    format!(
                        "no sagemaker model `{}`; defined models: {}",
                        e.model,
                        names(s.sagemaker.models.keys())
                    ),
                ));
            }
            deps.push(format!("sagemaker_model.{}", e.model));
            if let Some(k) = &e.kms_key {
                if !s.kms.contains_key(k) {
                    return Err(spec.error(
                        &format!("{path}.kms_key"),
                        format!("no kms key `{k}`; defined keys: {}", names(s.kms.keys())),
                    ));
                }
                deps.push(format!("kms.{k}"));
            }
            if e.instance_count < 1 {
                return Err(spec.error(
                    &format!("{path}.instance_count"),
                    format!("{} is out of range: at least 1 instance", e.instance_count),
                ));
            }
            if !e.instance_type.starts_with("ml.") {
                return Err(spec.error(
                    &format!("{path}.instance_type"),
                    format!(
                        "`{}` is not a SageMaker instance type (e.g. ml.g5.2xlarge)",
                        e.instance_type
                    ),
                ));
            }
            if !(1..=MAX_TIMEOUT_MINUTES).contains(&e.timeout_minutes) {
                return Err(spec.error(
                    &format!("{path}.timeout_minutes"),
                    format!(
                        "{} is out of range: 1 to {MAX_TIMEOUT_MINUTES} minutes (a day)",
                        e.timeout_minutes
                    ),
                ));
            }
            if let Some(dc) = &e.data_capture {
                if !s.s3.contains_key(&dc.bucket) {
                    return Err(spec.error(
                        &format!("{path}.data_capture.bucket"),
                        format!(
                            "no s3 bucket `{}`; defined buckets: {}",
                            dc.bucket,
                            names(s.s3.keys())
                        ),
                    ));
                }
                if !(0..=100).contains(&dc.sampling_percent) {
                    return Err(spec.error(
                        &format!("{path}.data_capture.sampling_percent"),
                        format!("{} is out of range: 0 to 100", dc.sampling_percent),
                    ));
                }
                deps.push(format!("s3.{}", dc.bucket));
                if let Some(k) = capture_key(s, e) {
                    if !s.kms.contains_key(&k) {
                        return Err(spec.error(
                            &format!("{path}.data_capture.kms_key"),
                            format!("no kms key `{k}`; defined keys: {}", names(s.kms.keys())),
                        ));
                    }
                    let dep = format!("kms.{k}");
                    if !deps.contains(&dep) {
                        deps.push(dep);
                    }
                }
            }
            deployment::guard(spec, &path, e, r)?;
            if let Some(a) = &e.autoscaling {
                let key = format!("{path}.autoscaling");
                if a.min < 1 {
                    return Err(spec.error(
                        &format!("{key}.min"),
                        format!("{} is out of range: at least 1 instance", a.min),
                    ));
                }
                if a.min > a.max {
                    return Err(spec.error(
                        &format!("{key}.max"),
                        format!("max ({}) is below min ({})", a.max, a.min),
                    ));
                }
                let t = a.target_invocations_per_instance;
                if !(TARGET_VALUE_MIN..=TARGET_VALUE_MAX).contains(&t) {
                    return Err(spec.error(
                        &format!("{key}.target_invocations_per_instance"),
                        format!(
                            "{t} is out of range: Application Auto Scaling takes a target value \
                             from {TARGET_VALUE_MIN:e} to {TARGET_VALUE_MAX:e}"
                        ),
                    ));
                }
                for (k, v) in [
                    ("scale_in_cooldown", a.scale_in_cooldown),
                    ("scale_out_cooldown", a.scale_out_cooldown),
                ] {
                    if v < 0 {
                        return Err(spec.error(
                            &format!("{key}.{k}"),
                            format!("{v} is out of range: a cooldown is 0 seconds or more"),
                        ));
                    }
                }
            }
            out.push(Decl {
                address: format!("sagemaker_endpoint.{logical}"),
                kind: "sagemaker_endpoint",
                name: logical.clone(),
                spec_path: path.clone(),
                region: s.region.clone(),
                identity: name.clone(),
                identity_key: format!("{path}.name"),
                deps,
                outputs: json!({ "name": name }),
                template_files: Vec::new(),
            });
        }
        Ok(out)
    }

    fn desired(&self, spec: &LoadedSpec, decl: &Decl, r: &Renderer) -> Result<Value, SpecError> {
        let e = &spec.spec.sagemaker.endpoints[&decl.name];
        let path = &decl.spec_path;
        let (model_name, _) = model_version(spec, &e.model, r)?;
        let m = &spec.spec.sagemaker.models[&e.model];
        let model_base = r.str(&format!("sagemaker.models.{}.name", e.model), &m.name)?;
        let kms_key_arn = match &e.kms_key {
            Some(k) => Some(r.str(
                &format!("{path}.kms_key"),
                &format!("{{{{ kms.{k}.arn }}}}"),
            )?),
            None => None,
        };
        let data_capture = match &e.data_capture {
            Some(dc) => {
                let bucket = r.str(
                    &format!("{path}.data_capture.bucket"),
                    &format!("{{{{ s3.{}.name }}}}", dc.bucket),
                )?;
                let prefix = r.str(&format!("{path}.data_capture.prefix"), &dc.prefix)?;
                let prefix = prefix.trim_matches('/');
                let kms_key_arn = match capture_key(&spec.spec, e) {
                    Some(k) => Some(r.str(
                        &format!("{path}.data_capture.kms_key"),
                        &format!("{{{{ kms.{k}.arn }}}}"),
                    )?),
                    None => None,
                };
                Capture {
                    enabled: true,
                    sampling_percent: Some(dc.sampling_percent),
                    destination: Some(if prefix.is_empty() {
                        format!("s3://{bucket}")
                    } else {
                        format!("s3://{bucket}/{prefix}")
                    }),
                    capture: vec!["Input".into(), "Output".into()],
                    kms_key_arn,
                }
            }
            None => Capture::off(),
        };
        let twin = dr::twin_view(r);
        let size = dr::sizing(&spec.spec, e, twin.as_ref());
        let config_content = json!({
            "model_name": model_name,
            "variant_name": e.variant_name,
            "instance_type": e.instance_type,
            "instance_count": size.instance_count,
            "kms_key_arn": kms_key_arn,
            "data_capture": data_capture,
        });
        let config_name = versioned_name(&decl.identity, &config_content);
        let autoscaling = Scaling::of(size.autoscaling);
        let prefix = if twin.is_some() { dr::PREFIX } else { "" };
        let d = EndpointState {
            name: decl.identity.clone(),
            status: "InService".into(),
            config_name,
            model_name,
            variant_name: e.variant_name.clone(),
            instance_type: Some(e.instance_type.clone()),
            instance_count: Some(size.instance_count),
            kms_key_arn,
            data_capture,
            autoscaling,
            superseded: Superseded::default(),
            capacity: size.capacity,
            tags: desired_tags(spec, &decl.address, &e.tags),
            timeout_minutes: Some(e.timeout_minutes),
            model_base: Some(model_base),
            model_address: Some(format!("{prefix}sagemaker_model.{}", e.model)),
            deployment: deployment::guard(spec, path, e, r)?,
        };
        Ok(serde_json::to_value(d).expect("desired serializes"))
    }

    /// A config switch: the new fleet's starting count and why, and the deployment strategy.
    fn update_note(&self, live: &Value, desired: &Value) -> Option<String> {
        if live["config_name"] == desired["config_name"] {
            return None;
        }
        let spec = desired["instance_count"].as_i64().unwrap_or(1) as i32;
        let held = desired["capacity"].is_null();
        let live_count = live["capacity"].as_i64().map(|c| c as i32).filter(|_| held);
        let (_, why) = super::rollout::starting_count(spec, live_count);
        let strategy = serde_json::from_value::<deployment::Guard>(desired["_deployment"].clone())
            .map(|g| g.words())
            .unwrap_or_else(|_| "all_at_once (SageMaker's default)".into());
        Some(format!("{why}; deployment: {strategy}"))
    }

    async fn observe(&self, cx: &Ctx<'_>, decl: &Decl) -> Result<Observed, AwsError> {
        let model_address = decl
            .deps
            .iter()
            .find(|d| Address::parse(d).is_some_and(|a| a.is_kind("sagemaker_model")))
            .cloned()
            .unwrap_or_default();
        Hosting::new(cx, &decl.region, &decl.address)
            .observe(&decl.identity, &model_address)
            .await
    }

    async fn create(&self, cx: &Ctx<'_>, decl: &Decl, desired: &Value) -> Result<Value, AwsError> {
        let d: EndpointState = from_desired(&decl.address, desired)?;
        Hosting::new(cx, &decl.region, &decl.address)
            .create_new(&d, &d.wait())
            .await
    }

    async fn update(
        &self,
        cx: &Ctx<'_>,
        decl: &Decl,
        desired: &Value,
        _observed: &Observed,
        _changed: &[String],
    ) -> Result<Value, AwsError> {
        // Converge re-reads everything it acts on: a config switch only when the endpoint does
        // not serve the desired config, scaling only when it differs, clean-up of what is ours
        // and out of service. So drift in scaling alone never touches the endpoint.
        let d: EndpointState = from_desired(&decl.address, desired)?;
        Hosting::new(cx, &decl.region, &decl.address)
            .converge(&d, &d.wait())
            .await
    }

    async fn import(
        &self,
        cx: &Ctx<'_>,
        req: &crate::resources::kit::import::ImportRequest<'_>,
    ) -> Result<crate::resources::kit::import::Imported, AwsError> {
        super::import::import_endpoint(cx, req).await
    }

    async fn delete(&self, cx: &Ctx<'_>, t: &DeleteTarget<'_>) -> Result<(), AwsError> {
        let decode = |v: Option<&Value>| {
            v.and_then(|v| serde_json::from_value::<EndpointState>(v.clone()).ok())
        };
        let state = decode(t.observed.state.as_ref());
        let name = state.as_ref().map_or(&t.observed.physical_id, |s| &s.name);
        let variant = state
            .as_ref()
            .map_or("default", |s| s.variant_name.as_str());
        let wait =
            decode(t.desired).map_or_else(|| Wait::minutes(DEFAULT_TIMEOUT_MINUTES), |d| d.wait());
        Hosting::new(cx, t.region, &t.observed.address)
            .destroy(name, variant, &wait)
            .await
    }

    async fn discover_found(
        &self,
        cx: &Ctx<'_>,
        region: &str,
        found: Vec<Found>,
    ) -> Result<Vec<Observed>, AwsError> {
        read_found(
            cx,
            "sagemaker_endpoint",
            region,
            found,
            &[],
            |f| async move {
                let o = Hosting::new(cx, region, &f.address)
                    .observe(f.name(), "")
                    .await?;
                Ok(o.state.is_some().then_some(o))
            },
        )
        .await
    }

    /// Endpoints tagged with this environment that the spec no longer names.
    async fn discover(&self, cx: &Ctx<'_>, region: &str) -> Result<Vec<Observed>, AwsError> {
        let sm = &cx.clients(region).sagemaker;
        let mut candidates = Vec::new();
        let mut pages = sm.list_endpoints().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(AwsError::from_sdk("sagemaker:ListEndpoints"))?;
            candidates.extend(
                page.endpoints()
                    .iter()
                    // The spec's own endpoints are read by observe.
                    .filter_map(|e| Some((e.endpoint_name()?, e.endpoint_arn()?)))
                    .filter(|(name, _)| !cx.in_spec("sagemaker_endpoint", region, name))
                    .map(|(name, arn)| (name.to_string(), arn.to_string())),
            );
        }
        let listed =
            futures::future::try_join_all(candidates.into_iter().map(|(name, arn)| async move {
                Ok::<_, AwsError>((name, list_tags(sm, &arn).await?))
            }))
            .await?;
        read_tagged(
            cx,
            "sagemaker_endpoint",
            listed,
            &[],
            |name, address| async move {
                let o = Hosting::new(cx, region, &address)
                    .observe(&name, "")
                    .await?;
                Ok(o.state.is_some().then_some(o))
            },
        )
        .await
    }
}

/// The `kms.*` key that encrypts an endpoint's captured data: `data_capture.kms_key`, else the
/// capture bucket's key, else the endpoint's own.
pub fn capture_key(s: &crate::spec::Spec, e: &crate::spec::model::Endpoint) -> Option<String> {
    let dc = e.data_capture.as_ref()?;
    dc.kms_key
        .clone()
        .or_else(|| {
            s.s3.get(&dc.bucket)
                .map(|b| b.kms_key.clone())
                .filter(|k| !k.is_empty())
        })
        .or_else(|| e.kms_key.clone())
}
