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
    if let Some(v) = m.vpc_config() {
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
    }
    let tags = list_tags(sm, m.model_arn().unwrap_or_default()).await?;
    let tags = import::extra_tags(req.spec, &tags);
    if !tags.is_empty() {
        entry.insert("tags".into(), Value::Object(tags));
    }
    Ok(Imported {
        name: import::logical_name(id),
        entry,
        files: Vec::new(),
        comments,
    })
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
