//! `sagemaker_endpoint.*`: a SageMaker endpoint, the endpoint config it serves (one production
//! variant, KMS volume key, data capture) and its Application Auto Scaling target and
//! target-tracking policy, reconciled as **one** resource so that an update never drops traffic.
//!
//! # Versions
//! Endpoint configs are immutable. The config's live name is `<endpoint name>-<8 hex>` of the
//! sha256 of its canonical content (model version, variant, instance type and count, KMS key
//! ARN, data capture); the model's version name is computed the same way
//! ([`super::sagemaker_model::model_version`]). A change to the model or to the config content
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
//! # Expected flow (update, see [`Hosting::converge`])
//! 1. Read the endpoint again; if it is busy (Creating/Updating/…), wait for it first.
//! 2. If it does not serve the desired config: deregister autoscaling (if registered) → create
//!    the new config (if missing) → `UpdateEndpoint` → wait for InService within
//!    `timeout_minutes` (polling with backoff) → **verify** DescribeEndpoint names the new
//!    config (SageMaker rolls back silently: the old config there is an error carrying
//!    `FailureReason`; nothing is deleted).
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
//!
//! # Caveats
//! SageMaker reports "not found" and "already exists" as an untyped `ValidationException`;
//! existence is decided by listing (exact name match), never by message text. The wait shows
//! the status and elapsed time on the apply spinner (`Ctx::progress`) and logs it (`tracing`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_applicationautoscaling as aas;
use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ServiceNamespace,
    TargetTrackingScalingPolicyConfiguration,
};
use aws_sdk_sagemaker as sagemaker;
use aws_sdk_sagemaker::types::{
    CaptureMode, CaptureOption, DataCaptureConfig, EndpointStatus, ProductionVariant,
    ProductionVariantInstanceType,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::sagemaker_model::{
    check_base_name, delete_model, is_version_of, list_tags, model_version, retag, sm_tags,
    versioned_name, versions_of,
};
use super::{
    desired_tags, from_desired, owner_from_tags, Ctx, Decl, DeleteTarget, Observed, Reconciler,
    TAG_ADDRESS, TAG_ENVIRONMENT,
};
use crate::aws::{ok_if_gone, AwsError};
use crate::permissions::{perm, Implied, Perm};
use crate::resources::kind::{Deletion, KindInfo, Names};
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

/// What the engine knows of `sagemaker_endpoint` (see [`KindInfo`]).
pub const INFO: KindInfo = KindInfo {
    kind: "sagemaker_endpoint",
    section: "sagemaker.endpoints",
    section_in_context: true,
    names: Names::Regional,
    deletion: Deletion::Immediate,
    protect: |s, n| s.sagemaker.endpoints.get(n).and_then(|r| r.protect),
    sensitive: crate::resources::kind::no_sensitive,
};

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

const DIMENSION: &str = "sagemaker:variant:DesiredInstanceCount";

/// Longest `timeout_minutes` novactl waits for an endpoint (a day).
pub const MAX_TIMEOUT_MINUTES: u64 = 24 * 60;

/// The target values Application Auto Scaling accepts for target tracking.
const TARGET_VALUE_MIN: f64 = 8.515920e-109;
const TARGET_VALUE_MAX: f64 = 1.174271e+108;

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Desired {
    pub name: String,
    pub status: String,
    pub config_name: String,
    pub model_name: String,
    pub variant_name: String,
    pub instance_type: String,
    pub instance_count: i32,
    pub kms_key_arn: Option<String>,
    pub data_capture: Capture,
    pub autoscaling: Scaling,
    pub superseded: Superseded,
    /// Live capacity (the variant's desired instance count) to hold; `null`: not managed
    /// (autoscaling moves it). Only a DR standby holds one (see `resources::dr::sizing`).
    #[serde(default)]
    pub capacity: Option<i32>,
    pub tags: BTreeMap<String, String>,
    #[serde(rename = "_timeout_minutes")]
    pub timeout_minutes: u64,
    /// Base name of the model (versions are `<base>-<hex>`) and its address (tag).
    #[serde(rename = "_model_base")]
    pub model_base: String,
    #[serde(rename = "_model_address")]
    pub model_address: String,
}

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

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Superseded {
    pub configs: Vec<String>,
    pub models: Vec<String>,
}

#[async_trait]
impl Reconciler for SagemakerEndpoint {
    fn permissions(&self) -> &'static [&'static [Perm]] {
        &[PERMISSIONS]
    }

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn late_outputs(&self) -> &'static [&'static str] {
        &["arn", "config_name"]
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
                        list(s.sagemaker.models.keys())
                    ),
                ));
            }
            deps.push(format!("sagemaker_model.{}", e.model));
            if let Some(k) = &e.kms_key {
                if !s.kms.contains_key(k) {
                    return Err(spec.error(
                        &format!("{path}.kms_key"),
                        format!("no kms key `{k}`; defined keys: {}", list(s.kms.keys())),
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
                            list(s.s3.keys())
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
                            format!("no kms key `{k}`; defined keys: {}", list(s.kms.keys())),
                        ));
                    }
                    let dep = format!("kms.{k}");
                    if !deps.contains(&dep) {
                        deps.push(dep);
                    }
                }
            }
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
            None => Capture {
                enabled: false,
                sampling_percent: None,
                destination: None,
                capture: Vec::new(),
                kms_key_arn: None,
            },
        };
        let twin = super::dr::twin_view(r);
        let size = super::dr::sizing(&spec.spec, e, twin.as_ref());
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
        let prefix = if twin.is_some() {
            super::dr::PREFIX
        } else {
            ""
        };
        let d = Desired {
            name: decl.identity.clone(),
            status: "InService".into(),
            config_name,
            model_name,
            variant_name: e.variant_name.clone(),
            instance_type: e.instance_type.clone(),
            instance_count: size.instance_count,
            kms_key_arn,
            data_capture,
            autoscaling,
            superseded: Superseded::default(),
            capacity: size.capacity,
            tags: desired_tags(spec, &decl.address, &e.tags),
            timeout_minutes: e.timeout_minutes,
            model_base,
            model_address: format!("{prefix}sagemaker_model.{}", e.model),
        };
        Ok(serde_json::to_value(d).expect("desired serializes"))
    }

    async fn observe(&self, cx: &Ctx<'_>, decl: &Decl) -> Result<Observed, AwsError> {
        let c = cx.clients(&decl.region);
        let h = Hosting {
            sm: &c.sagemaker,
            aas: &c.autoscaling,
            address: &decl.address,
            environment: cx.environment,
            progress: cx.progress,
            cache: cx.cache,
        };
        let model_address = decl
            .deps
            .iter()
            .find(|d| super::Address::parse(d).is_some_and(|a| a.is_kind("sagemaker_model")))
            .cloned()
            .unwrap_or_default();
        h.observe(&decl.identity, &model_address).await
    }

    async fn create(&self, cx: &Ctx<'_>, decl: &Decl, desired: &Value) -> Result<Value, AwsError> {
        let d: Desired = from_desired(&decl.address, desired)?;
        let c = cx.clients(&decl.region);
        let h = Hosting {
            sm: &c.sagemaker,
            aas: &c.autoscaling,
            address: &decl.address,
            environment: cx.environment,
            progress: cx.progress,
            cache: cx.cache,
        };
        h.converge(&d, &Wait::minutes(d.timeout_minutes)).await
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
        self.create(cx, decl, desired).await
    }

    async fn delete(&self, cx: &Ctx<'_>, t: &DeleteTarget<'_>) -> Result<(), AwsError> {
        let c = cx.clients(t.region);
        let h = Hosting {
            sm: &c.sagemaker,
            aas: &c.autoscaling,
            address: &t.observed.address,
            environment: cx.environment,
            progress: cx.progress,
            cache: cx.cache,
        };
        let state = t.observed.state.clone().unwrap_or_default();
        let name = state["name"].as_str().unwrap_or(&t.observed.physical_id);
        let variant = state["variant_name"].as_str().unwrap_or("default");
        let minutes = t
            .desired
            .and_then(|d| d["_timeout_minutes"].as_u64())
            .unwrap_or(60);
        h.destroy(name, variant, &Wait::minutes(minutes)).await
    }

    fn tagging_types(&self) -> &'static [&'static str] {
        &["sagemaker:endpoint"]
    }

    async fn discover_found(
        &self,
        cx: &Ctx<'_>,
        region: &str,
        found: Vec<super::Found>,
    ) -> Result<Vec<Observed>, AwsError> {
        let c = cx.clients(region);
        let mut out = Vec::new();
        for f in found
            .iter()
            .filter(|f| !cx.in_spec("sagemaker_endpoint", f.name()))
        {
            let h = Hosting {
                sm: &c.sagemaker,
                aas: &c.autoscaling,
                address: &f.address,
                environment: cx.environment,
                progress: cx.progress,
                cache: cx.cache,
            };
            let o = h.observe(f.name(), "").await?;
            if o.state.is_some() && o.owner == super::Owner::Ours {
                out.push(o);
            }
        }
        Ok(out)
    }

    /// Endpoints tagged with this environment that the spec no longer names.
    async fn discover(&self, cx: &Ctx<'_>, region: &str) -> Result<Vec<Observed>, AwsError> {
        let c = cx.clients(region);
        let mut candidates = Vec::new();
        let mut pages = c.sagemaker.list_endpoints().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(AwsError::from_sdk("sagemaker:ListEndpoints"))?;
            candidates.extend(
                page.endpoints()
                    .iter()
                    // The spec's own endpoints are read by observe.
                    .filter_map(|e| Some((e.endpoint_name()?, e.endpoint_arn()?)))
                    .filter(|(name, _)| !cx.in_spec("sagemaker_endpoint", name))
                    .map(|(name, arn)| (name.to_string(), arn.to_string())),
            );
        }
        let mut out = Vec::new();
        for (name, arn) in candidates {
            let tags = list_tags(&c.sagemaker, &arn).await?;
            let Some(address) = super::ours_of_kind(&tags, cx.environment, "sagemaker_endpoint")
            else {
                continue;
            };
            let h = Hosting {
                sm: &c.sagemaker,
                aas: &c.autoscaling,
                address: &address,
                environment: cx.environment,
                progress: cx.progress,
                cache: cx.cache,
            };
            let o = h.observe(&name, "").await?;
            if o.state.is_some() {
                out.push(o);
            }
        }
        Ok(out)
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

fn list<'a>(it: impl Iterator<Item = &'a String>) -> String {
    let v: Vec<&str> = it.map(String::as_str).collect();
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}

/// Time budget and polling for waits.
#[derive(Debug, Clone)]
pub struct Wait {
    pub budget: Duration,
    /// First poll interval; doubles up to `max_poll`.
    pub poll: Duration,
    pub max_poll: Duration,
}

impl Wait {
    pub fn minutes(m: u64) -> Wait {
        Wait {
            budget: Duration::from_secs(m * 60),
            poll: Duration::from_secs(2),
            max_poll: Duration::from_secs(30),
        }
    }

    fn budget_text(&self) -> String {
        let s = self.budget.as_secs_f64();
        if s >= 60.0 {
            format!("{} minutes", (s / 60.0).round())
        } else {
            format!("{s:.1} seconds")
        }
    }
}

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
        Ok(EndpointNow {
            arn: d.endpoint_arn().unwrap_or_default().to_string(),
            status: d
                .endpoint_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            config_name: d.endpoint_config_name().unwrap_or_default().to_string(),
            failure_reason: d.failure_reason().map(str::to_string),
            variant: d
                .production_variants()
                .first()
                .and_then(|v| v.variant_name())
                .map(str::to_string),
            capacity: d
                .production_variants()
                .first()
                .and_then(|v| v.desired_instance_count()),
            current: d
                .production_variants()
                .first()
                .and_then(|v| v.current_instance_count()),
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
        let started = Instant::now();
        let mut poll = w.poll;
        loop {
            let now = self.describe(name).await?;
            let elapsed = started.elapsed();
            on_status(&now.status, elapsed);
            if now.status == EndpointStatus::InService.as_str() {
                return Ok(now);
            }
            if !is_busy(&now.status) {
                let code = if now.status == EndpointStatus::Failed.as_str() {
                    "EndpointFailed"
                } else {
                    "EndpointNotInService"
                };
                return Err(AwsError::local(
                    "sagemaker:WaitInService",
                    code,
                    format!(
                        "{} ({name}) is {}: {}",
                        self.address,
                        now.status,
                        now.failure_reason
                            .as_deref()
                            .unwrap_or("SageMaker gave no FailureReason")
                    ),
                ));
            }
            if crate::interrupt::stopping() {
                return Err(AwsError::local(
                    "sagemaker:WaitInService",
                    crate::interrupt::INTERRUPTED,
                    format!(
                        "stopped waiting for {} ({name}, status {}); it is left as it is and the \
                         next apply resumes from there",
                        self.address, now.status
                    ),
                ));
            }
            if elapsed >= w.budget {
                return Err(AwsError::local(
                    "sagemaker:WaitInService",
                    "Timeout",
                    format!(
                        "{} did not reach InService within {} (last status {})",
                        self.address,
                        w.budget_text(),
                        now.status
                    ),
                ));
            }
            crate::interrupt::sleep(poll.min(w.budget.saturating_sub(elapsed))).await;
            poll = (poll * 2).min(w.max_poll);
        }
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

    fn on_status(&self) -> impl Fn(&str, Duration) + Sync + '_ {
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
    pub async fn converge(&self, d: &Desired, w: &Wait) -> Result<Value, AwsError> {
        let progress = self.on_status();
        let mut now = self.endpoint_now(&d.name).await?;
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
                self.ensure_config(d).await?;
                if let Err(e) = self
                    .sm
                    .create_endpoint()
                    .endpoint_name(&d.name)
                    .endpoint_config_name(&d.config_name)
                    .set_tags(Some(sm_tags(&d.tags)))
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
            Some(n) if n.config_name != d.config_name => {
                if let Some(v) = self.live_variant(&n.config_name).await? {
                    self.deregister_scaling(&d.name, &v).await?;
                }
                self.ensure_config(d).await?;
                self.sm
                    .update_endpoint()
                    .endpoint_name(&d.name)
                    .endpoint_config_name(&d.config_name)
                    .send()
                    .await
                    .map_err(AwsError::from_sdk("sagemaker:UpdateEndpoint"))?;
                crate::faults::point("sagemaker.after_update_endpoint", self.address)?;
                let after = self.wait_in_service(&d.name, w, &progress).await?;
                self.verify_serves(&after, &d.config_name)?;
                after
            }
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
        if self.read_scaling(&d.name, &d.variant_name).await? != d.autoscaling {
            self.apply_scaling(&d.name, &d.variant_name, &d.autoscaling)
                .await?;
        }
        let live_tags = list_tags(self.sm, &now.arn).await?;
        let want_tags = json!(d.tags);
        if live_tags != want_tags {
            retag(self.sm, &now.arn, &live_tags, &want_tags).await?;
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
    async fn ensure_config(&self, d: &Desired) -> Result<(), AwsError> {
        if self
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
            .initial_instance_count(d.instance_count)
            .instance_type(ProductionVariantInstanceType::from(
                d.instance_type.as_str(),
            ))
            .initial_variant_weight(1.0)
            .build();
        let mut req = self
            .sm
            .create_endpoint_config()
            .endpoint_config_name(&d.config_name)
            .production_variants(variant)
            .set_kms_key_id(d.kms_key_arn.clone())
            .set_tags(Some(sm_tags(&d.tags)));
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
        Ok(
            tags.get(TAG_ADDRESS).and_then(Value::as_str) == Some(self.address)
                && tags.get(TAG_ENVIRONMENT).and_then(Value::as_str) == Some(self.environment),
        )
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
            .filter(|(_, tags)| {
                tags.get(TAG_ADDRESS).and_then(Value::as_str) == Some(self.address)
                    && tags.get(TAG_ENVIRONMENT).and_then(Value::as_str) == Some(self.environment)
            })
            .map(|(n, _)| n)
            .collect())
    }

    /// Model names in the configs of every live endpoint in the region.
    async fn models_in_use(&self) -> Result<BTreeSet<String>, AwsError> {
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
            let c = self
                .sm
                .describe_endpoint_config()
                .endpoint_config_name(&cfg)
                .send()
                .await
                .map_err(AwsError::from_sdk("sagemaker:DescribeEndpointConfig"))?;
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
    async fn cleanup(&self, d: &Desired, serving: &str) -> Result<(), AwsError> {
        let keep = [serving, d.config_name.as_str(), d.model_name.as_str()];
        let s = self
            .superseded(&d.name, &d.model_base, &d.model_address, &keep)
            .await?;
        for c in &s.configs {
            self.delete_config(c).await?;
        }
        for m in &s.models {
            delete_model(self.sm, m).await?;
        }
        Ok(())
    }

    async fn delete_config(&self, name: &str) -> Result<(), AwsError> {
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

    /// The variant name of a config, if the config is readable.
    async fn live_variant(&self, config: &str) -> Result<Option<String>, AwsError> {
        let c = self
            .sm
            .describe_endpoint_config()
            .endpoint_config_name(config)
            .send()
            .await
            .map_err(AwsError::from_sdk("sagemaker:DescribeEndpointConfig"))?;
        Ok(c.production_variants()
            .first()
            .and_then(|v| v.variant_name().map(str::to_string)))
    }

    fn resource_id(name: &str, variant: &str) -> String {
        format!("endpoint/{name}/variant/{variant}")
    }

    fn policy_name(name: &str) -> String {
        format!("{name}-invocations")
    }

    /// The live scaling target and policy, in the desired shape.
    pub async fn read_scaling(&self, name: &str, variant: &str) -> Result<Scaling, AwsError> {
        let rid = Self::resource_id(name, variant);
        // Both at once: one round trip; the policy answer is unused when there is no target.
        let (targets, policies) = tokio::try_join!(
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
        )?;
        let Some(t) = targets.scalable_targets().first() else {
            return Ok(Scaling::off());
        };
        let tt = policies
            .scaling_policies()
            .first()
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
            .map_err(|e| {
                AwsError::local(
                    "application-autoscaling:PutScalingPolicy",
                    "BuildError",
                    e.to_string(),
                )
            })?;
        let config = TargetTrackingScalingPolicyConfiguration::builder()
            .target_value(s.target_invocations_per_instance.unwrap_or(1.0))
            .predefined_metric_specification(metric)
            .set_scale_out_cooldown(s.scale_out_cooldown)
            .set_scale_in_cooldown(s.scale_in_cooldown)
            .build()
            .map_err(|e| {
                AwsError::local(
                    "application-autoscaling:PutScalingPolicy",
                    "BuildError",
                    e.to_string(),
                )
            })?;
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
        let rid = Self::resource_id(name, variant);
        let targets = self
            .aas
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Sagemaker)
            .resource_ids(&rid)
            .scalable_dimension(ScalableDimension::from(DIMENSION))
            .send()
            .await
            .map_err(AwsError::from_sdk(
                "application-autoscaling:DescribeScalableTargets",
            ))?;
        let policies = self
            .aas
            .describe_scaling_policies()
            .service_namespace(ServiceNamespace::Sagemaker)
            .resource_id(&rid)
            .scalable_dimension(ScalableDimension::from(DIMENSION))
            .policy_names(Self::policy_name(name))
            .send()
            .await
            .map_err(AwsError::from_sdk(
                "application-autoscaling:DescribeScalingPolicies",
            ))?;
        Ok((
            !targets.scalable_targets().is_empty(),
            !policies.scaling_policies().is_empty(),
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
        let started = Instant::now();
        let mut poll = w.poll;
        while let Some(n) = self.endpoint_now(name).await? {
            if started.elapsed() >= w.budget {
                return Err(AwsError::local(
                    "sagemaker:WaitDeleted",
                    "Timeout",
                    format!(
                        "{} was not deleted within {} (last status {})",
                        self.address,
                        w.budget_text(),
                        n.status
                    ),
                ));
            }
            tokio::time::sleep(poll).await;
            poll = (poll * 2).min(w.max_poll);
        }
        Ok(())
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
    /// Reads go in three rounds of concurrent calls (on AWS each round costs one round trip):
    /// the endpoint (ListEndpoints decides absence, DescribeEndpoint at the same time); its
    /// tags, config and config versions; the scaling target and policy, the config versions'
    /// tags and the model's versions (read once with the model's own observe).
    pub async fn observe(&self, name: &str, model_address: &str) -> Result<Observed, AwsError> {
        let (listed, described) = tokio::join!(self.endpoint_listed(name), self.describe(name));
        if !listed? {
            return Ok(Observed::absent(self.address));
        }
        let now = described?;
        let (tags, cfg, configs) = tokio::try_join!(
            list_tags(self.sm, &now.arn),
            async {
                self.sm
                    .describe_endpoint_config()
                    .endpoint_config_name(&now.config_name)
                    .send()
                    .await
                    .map_err(AwsError::from_sdk("sagemaker:DescribeEndpointConfig"))
            },
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
            _ => Capture {
                enabled: false,
                sampling_percent: None,
                destination: None,
                capture: Vec::new(),
                kms_key_arn: None,
            },
        };
        let model_base = model_name
            .rsplit_once('-')
            .filter(|_| is_version_of(model_name, model_name.rsplit_once('-').map_or("", |p| p.0)))
            .map(|(b, _)| b)
            .unwrap_or_default();
        let keep = [now.config_name.as_str(), model_name];
        let (autoscaling, superseded) = tokio::try_join!(
            self.read_scaling(name, variant_name),
            self.superseded_of(configs, model_base, model_address, &keep),
        )?;
        let state = json!({
            "name": name,
            "status": now.status,
            "config_name": now.config_name,
            "model_name": model_name,
            "variant_name": variant_name,
            "instance_type": v.and_then(|v| v.instance_type()).map(|t| t.as_str().to_string()),
            "instance_count": v.and_then(|v| v.initial_instance_count()),
            "kms_key_arn": cfg.kms_key_id(),
            "data_capture": data_capture,
            "autoscaling": autoscaling,
            "superseded": superseded,
            "capacity": now.capacity,
            "tags": tags,
        });
        Ok(Observed {
            address: self.address.to_string(),
            physical_id: name.to_string(),
            state: Some(state),
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
    use aws_sdk_applicationautoscaling::types::{ScalableTarget, ScalingPolicy};
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

    use super::*;

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

    fn desired(autoscaling: bool) -> Desired {
        Desired {
            name: EP.into(),
            status: "InService".into(),
            config_name: NEW_CFG.into(),
            model_name: NEW_MODEL.into(),
            variant_name: "default".into(),
            instance_type: "ml.g5.2xlarge".into(),
            instance_count: 1,
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
            timeout_minutes: 60,
            model_base: "mentallama-model".into(),
            model_address: MODEL_ADDR.into(),
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
                "DeleteScalingPolicy",
                "DeregisterScalableTarget",
                &format!("CreateEndpointConfig {NEW_CFG}"),
                &format!("UpdateEndpoint {NEW_CFG}"),
                "RegisterScalableTarget",
                "PutScalingPolicy",
                &format!("DeleteEndpointConfig {OLD_CFG}"),
                &format!("DeleteModel {OLD_MODEL}"),
            ],
            "deregister → new config → switch → (wait, verify) → re-register → clean-up"
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
                .any(|c| c.starts_with("Delete") && !c.contains("Scal")),
            "nothing but the scaling registration may be deleted after a rollback: {calls:?}"
        );
        assert_eq!(calls.last().unwrap(), &format!("UpdateEndpoint {NEW_CFG}"));
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
