//! `novactl import sagemaker.models NAME`: a live model as a spec entry. The image is literal;
//! the model data is `s3://{{ s3.<n>.name }}/...` when its bucket is the spec's; the execution
//! role must be the spec's (`iam.*`), else the import is refused; environment values whose
//! name looks secret are left as a placeholder; the VPC config is kept as literal ids.
//!
//! # Versions
//! novactl names a model version `<name>-<digest of its content>` and manages only versions
//! tagged as its own. A model made by hand is never one: `apply --adopt` creates the version
//! `<live name>-<digest>` with the same content next to it (the entry's `name` is the live
//! name, so the two never collide), and the hand-made model is left as it is, unmanaged. A
//! second plan is then "No changes.".

use serde_json::{json, Map, Value};

use super::list_tags;
use crate::aws::AwsError;
use crate::resources::kit::import::{self, ImportRequest, Imported};
use crate::resources::Ctx;

/// What a secret-looking environment value is replaced with.
pub const SECRET_PLACEHOLDER: &str = "REPLACE-ME-secret-not-imported";

pub(super) async fn import_model(
    cx: &Ctx<'_>,
    req: &ImportRequest<'_>,
) -> Result<Imported, AwsError> {
    let sm = &cx.clients(req.region).sagemaker;
    let id = req.id.rsplit('/').next().unwrap_or(req.id);
    let m = match sm.describe_model().model_name(id).send().await {
        Ok(m) => m,
        // "Not found" is an untyped ValidationException: decide by listing.
        Err(e) => {
            return Err(if super::model::model_exists(sm, id).await? {
                AwsError::from_err("sagemaker:DescribeModel", e)
            } else {
                import::not_found("SageMaker model", req.id)
            })
        }
    };
    let c = m.primary_container().ok_or_else(|| {
        AwsError::local(
            "novactl:import",
            "NotExpressible",
            format!(
                "model {id} has no primary container (multi-container models are not supported)"
            ),
        )
    })?;
    let mut entry = Map::new();
    let mut comments = vec![format!(
        "novactl manages model versions named `{id}-<digest of the content>`: apply --adopt \
         creates one with this content next to the hand-made `{id}`, which stays as it is \
         (unmanaged: delete it once nothing serves it)"
    )];
    entry.insert("name".into(), json!(id));
    entry.insert("image".into(), json!(c.image().unwrap_or_default()));
    entry.insert(
        "model_data".into(),
        json!(model_data(req, c.model_data_url().unwrap_or_default())),
    );
    let role_arn = m.execution_role_arn().unwrap_or_default();
    let role = role_arn.rsplit('/').next().unwrap_or(role_arn);
    let role_ref = import::spec_name_of(req, "iam", role).ok_or_else(|| {
        AwsError::local(
            "novactl:import",
            "DependencyNotInSpec",
            format!(
                "its execution role {role} is not an `iam` entry of the spec: import the role \
                 first (novactl import iam {role}), paste it, then import this again"
            ),
        )
    })?;
    entry.insert("role".into(), json!(role_ref));
    let mut env = Map::new();
    for (k, v) in c.environment().into_iter().flatten() {
        if crate::redact::key_is_sensitive(k) {
            env.insert(k.clone(), json!(SECRET_PLACEHOLDER));
            comments.push(format!(
                "environment {k} looks secret: its value is not printed; replace \
                 {SECRET_PLACEHOLDER} with it before apply"
            ));
        } else {
            env.insert(k.clone(), json!(v));
        }
    }
    if !env.is_empty() {
        entry.insert("environment".into(), Value::Object(env));
    }
    // An empty config (as some APIs answer) is no VPC.
    if let Some(v) = m.vpc_config().filter(|v| !v.subnets().is_empty()) {
        let mut groups = v.security_group_ids().to_vec();
        let mut subnets = v.subnets().to_vec();
        groups.sort();
        subnets.sort();
        entry.insert(
            "vpc".into(),
            json!({ "security_groups": groups, "subnets": subnets }),
        );
        comments.push(
            "vpc holds literal ids; when they are a spec network's private subnets and its \
             groups, `network: <name>` with the groups' names says the same"
                .to_string(),
        );
    }
    if !m.enable_network_isolation().unwrap_or(false) {
        entry.insert("network_isolation".into(), json!(false));
        comments.push(
            "network isolation is off: `check` reports it (NOVA-SM-003) and apply refuses it \
             unless waived (check.waive) or --allow-noncompliant"
                .to_string(),
        );
    }
    let tags = list_tags(sm, m.model_arn().unwrap_or_default()).await?;
    Ok(imported(req, id, entry, &tags, comments))
}

/// `url` with its bucket as a reference when the bucket is the spec's.
fn model_data(req: &ImportRequest<'_>, url: &str) -> String {
    let Some((bucket, key)) = url
        .strip_prefix("s3://")
        .map(|rest| rest.split_once('/').unwrap_or((rest, "")))
    else {
        return url.to_string();
    };
    match import::spec_name_of(req, "s3", bucket) {
        Some(n) => format!("s3://{{{{ s3.{n}.name }}}}/{key}"),
        None => url.to_string(),
    }
}

/// `novactl import sagemaker.endpoints NAME`: the model it serves (a spec model whose live
/// version, or hand-made model, it is), the variant, the volume key, data capture and
/// autoscaling. novactl serves its own config versions (`<name>-<digest>`): `apply --adopt`
/// switches the endpoint to one with the same content; the hand-made config stays.
pub(super) async fn import_endpoint(
    cx: &Ctx<'_>,
    req: &ImportRequest<'_>,
) -> Result<Imported, AwsError> {
    use aws_sdk_applicationautoscaling::types::{MetricType, ScalableDimension, ServiceNamespace};

    let id = req.id.rsplit('/').next().unwrap_or(req.id);
    let o = super::hosting::Hosting::new(cx, req.region, "sagemaker_endpoint.imported")
        .observe(id, "")
        .await?;
    let e: super::state::EndpointState = match o.state {
        Some(s) => crate::resources::from_desired("sagemaker_endpoint.imported", &s)?,
        None => return Err(import::not_found("SageMaker endpoint", req.id)),
    };
    let model = import::spec_name_of(req, "sagemaker_model", &e.model_name)
        .or_else(|| {
            super::versions::base_of(&e.model_name)
                .and_then(|b| import::spec_name_of(req, "sagemaker_model", b))
        })
        .ok_or_else(|| {
            AwsError::local(
                "novactl:import",
                "DependencyNotInSpec",
                format!(
                    "the model it serves, {m}, is not a `sagemaker.models` entry of the spec \
                     (nor a version of one): import the model first (novactl import \
                     sagemaker.models {m}), paste it, then import this again",
                    m = e.model_name
                ),
            )
        })?;
    let mut comments = vec![format!(
        "novactl serves its own endpoint config versions (`{id}-<digest>`): apply --adopt \
         switches the endpoint to one with this content and the spec model's version; the \
         hand-made config {} stays (unmanaged)",
        e.config_name
    )];
    let mut entry = Map::new();
    entry.insert("name".into(), json!(id));
    entry.insert("model".into(), json!(model));
    entry.insert(
        "instance_type".into(),
        json!(e.instance_type.unwrap_or_default()),
    );
    entry.insert(
        "instance_count".into(),
        json!(e.instance_count.unwrap_or(1)),
    );
    if e.variant_name != "default" {
        entry.insert("variant_name".into(), json!(e.variant_name));
    }
    if let Some(k) = &e.kms_key_arn {
        let name = import::spec_key_of(cx, req, k)
            .await?
            .ok_or_else(|| import::key_not_in_spec(k))?;
        entry.insert("kms_key".into(), json!(name));
    }
    if e.data_capture.enabled {
        let dest = e.data_capture.destination.clone().unwrap_or_default();
        let rest = dest.strip_prefix("s3://").unwrap_or(&dest);
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let b = import::spec_name_of(req, "s3", bucket).ok_or_else(|| {
            import::dependency_not_in_spec(
                &format!("its data capture bucket {bucket}"),
                "s3",
                bucket,
            )
        })?;
        let mut dc = Map::new();
        dc.insert("bucket".into(), json!(b));
        let prefix = prefix.trim_matches('/');
        if !prefix.is_empty() {
            dc.insert("prefix".into(), json!(prefix));
        }
        let sampling = e.data_capture.sampling_percent.unwrap_or(100);
        if sampling != 100 {
            dc.insert("sampling_percent".into(), json!(sampling));
        }
        match &e.data_capture.kms_key_arn {
            Some(k) => {
                let name = import::spec_key_of(cx, req, k)
                    .await?
                    .ok_or_else(|| import::key_not_in_spec(k))?;
                dc.insert("kms_key".into(), json!(name));
            }
            None => comments.push(
                "data capture has no KMS key: novactl's config encrypts it with the bucket's \
                 key (else the endpoint's)"
                    .to_string(),
            ),
        }
        let mut modes = e.data_capture.capture.clone();
        modes.sort();
        if modes != ["Input", "Output"] {
            comments.push(format!(
                "data capture records {}: novactl's config records Input and Output",
                modes.join(" and ")
            ));
        }
        entry.insert("data_capture".into(), Value::Object(dc));
    }
    if e.autoscaling.registered {
        // Any target-tracking policy on invocations per instance (novactl's own is
        // `<name>-invocations`).
        let rid = format!("endpoint/{id}/variant/{}", e.variant_name);
        let policies = cx
            .clients(req.region)
            .autoscaling
            .describe_scaling_policies()
            .service_namespace(ServiceNamespace::Sagemaker)
            .resource_id(&rid)
            .scalable_dimension(ScalableDimension::from(super::scaling::DIMENSION))
            .send()
            .await
            .map_err(AwsError::from_sdk(
                "application-autoscaling:DescribeScalingPolicies",
            ))?;
        let ours = format!("{id}-invocations");
        let p = policies.scaling_policies().iter().find(|p| {
            p.target_tracking_scaling_policy_configuration()
                .and_then(|c| c.predefined_metric_specification())
                .is_some_and(|m| {
                    m.predefined_metric_type()
                        == &MetricType::SageMakerVariantInvocationsPerInstance
                })
        });
        match p.and_then(|p| {
            p.target_tracking_scaling_policy_configuration()
                .map(|c| (p, c))
        }) {
            Some((p, c)) => {
                let mut a = Map::new();
                a.insert("min".into(), json!(e.autoscaling.min.unwrap_or(1)));
                a.insert("max".into(), json!(e.autoscaling.max.unwrap_or(1)));
                a.insert(
                    "target_invocations_per_instance".into(),
                    json!(c.target_value()),
                );
                for (k, v) in [
                    ("scale_out_cooldown", c.scale_out_cooldown()),
                    ("scale_in_cooldown", c.scale_in_cooldown()),
                ] {
                    if let Some(v) = v.filter(|v| *v != 300) {
                        a.insert(k.into(), json!(v));
                    }
                }
                if p.policy_name() != ours {
                    comments.push(format!(
                        "its scaling policy {} is not novactl's `{ours}`: apply --adopt puts \
                         `{ours}` with these settings and leaves {} as it is (delete it)",
                        p.policy_name(),
                        p.policy_name()
                    ));
                }
                entry.insert("autoscaling".into(), Value::Object(a));
            }
            None => comments.push(
                "a scalable target is registered without a target-tracking policy on \
                 invocations per instance: autoscaling is left out"
                    .to_string(),
            ),
        }
    }
    Ok(imported(req, id, entry, &json!(e.tags), comments))
}

/// The entry of live resource `id`, with its own tags (`live_tags`) added.
fn imported(
    req: &ImportRequest<'_>,
    id: &str,
    mut entry: Map<String, Value>,
    live_tags: &Value,
    comments: Vec<String>,
) -> Imported {
    let tags = import::extra_tags(req.spec, live_tags);
    if !tags.is_empty() {
        entry.insert("tags".into(), Value::Object(tags));
    }
    Imported {
        name: import::logical_name(id),
        entry,
        files: Vec::new(),
        comments,
    }
}
