//! `sagemaker_model.*`: a SageMaker model (image, model data, execution role, environment, VPC,
//! network isolation), kept as immutable *versions*.
//!
//! # Versions
//! A SageMaker model cannot change in place. The live name is `<spec name>-<8 hex>`, the hex
//! being the first 8 digits of the sha256 of the canonical desired content (image, model data,
//! role ARN, environment, VPC, isolation: see [`model_version`]). Any change of content is a
//! new name, so the plan shows an update of `name` plus the attributes that caused it, and
//! apply creates the new version next to the old one (the endpoint still serves the old one).
//!
//! # Expected flow
//! * `observe` lists the versions tagged with this address and environment and reports the
//!   newest (by creation time) as the live state; absence when there is none.
//! * `create`/`update` create the desired version when it is missing (repeat-safe: a version
//!   that already exists with our tags is success). `update` of tags only tags the live version.
//! * Superseded versions are **not** deleted here: the endpoint that uses the model deletes them
//!   once it verifiably serves the new version (see `sagemaker_endpoint`). `delete` (destroy,
//!   or the model left the spec) removes every version of ours.
//!
//! # Caveats
//! SageMaker has no typed "not found"/"already exists" errors for models (both are a generic
//! `ValidationException`), so existence is decided by listing (ListModels, exact name match),
//! never by reading error messages.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_sagemaker::types::{ContainerDefinition, Tag, VpcConfig};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{
    desired_tags, from_desired, owner_from_tags, tags_json, Ctx, Decl, DeleteTarget, Observed,
    Reconciler, TAG_ADDRESS, TAG_ENVIRONMENT,
};
use crate::aws::AwsError;
use crate::permissions::{perm, Implied, Perm};
use crate::resources::kind::{Deletion, KindInfo, Names};
use crate::spec::render::{is_unknown, Renderer, UNKNOWN};
use crate::spec::{LoadedSpec, SpecError};

/// What the engine knows of `sagemaker_model` (see [`KindInfo`]).
pub const INFO: KindInfo = KindInfo {
    kind: "sagemaker_model",
    section: "sagemaker.models",
    section_in_context: true,
    names: Names::Regional,
    deletion: Deletion::Immediate,
    protect: |s, n| s.sagemaker.models.get(n).and_then(|r| r.protect),
    sensitive: |s, n| {
        s.sagemaker
            .models
            .get(n)
            .map(|m| m.sensitive.clone())
            .unwrap_or_default()
    },
};

/// Every AWS call this kind makes and what IAM must allow for it (see [`crate::permissions`]).
/// Models are versioned (`<name>-<digest>`); SageMaker ARNs are lower case.
pub const PERMISSIONS: &[Perm] = &[
    perm("sagemaker:ListModels", &["sagemaker:ListModels"], &["*"]),
    perm(
        "sagemaker:ListTags",
        &["sagemaker:ListTags"],
        &["arn:aws:sagemaker:{region}:{account}:model/*"],
    ),
    perm(
        "sagemaker:DescribeModel",
        &["sagemaker:DescribeModel"],
        &[MODEL],
    ),
    Perm {
        call: "sagemaker:CreateModel",
        actions: &["sagemaker:CreateModel", "sagemaker:AddTags"],
        resources: &[MODEL],
        implied: &[Implied {
            action: "iam:PassRole",
            resources: &["{dep:iam.arn}"],
            condition: Some((
                "StringEquals",
                "iam:PassedToService",
                "sagemaker.amazonaws.com",
            )),
        }],
    },
    perm("sagemaker:AddTags", &["sagemaker:AddTags"], &[MODEL]),
    perm("sagemaker:DeleteTags", &["sagemaker:DeleteTags"], &[MODEL]),
    perm(
        "sagemaker:DeleteModel",
        &["sagemaker:DeleteModel"],
        &[MODEL],
    ),
];
const MODEL: &str = "arn:aws:sagemaker:{region}:{account}:model/{id_lower}-*";

pub struct SagemakerModel;

/// Longest SageMaker model / endpoint config / endpoint name.
pub const MAX_NAME: usize = 63;
/// `-` plus 8 hex digits.
pub const VERSION_SUFFIX_LEN: usize = 9;

#[derive(Deserialize)]
struct Desired {
    name: String,
    image: String,
    model_data: String,
    role_arn: String,
    environment: BTreeMap<String, String>,
    vpc: Option<Vpc>,
    network_isolation: bool,
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Vpc {
    security_groups: Vec<String>,
    subnets: Vec<String>,
}

/// `<base>-<first 8 hex of sha256(content)>`; when `content` still holds an unknown value the
/// version is unknown too (it renders as "(known after apply)").
pub fn versioned_name(base: &str, content: &Value) -> String {
    if is_unknown(content) {
        return format!("{base}-{UNKNOWN}");
    }
    let digest = Sha256::digest(content.to_string().as_bytes());
    format!("{base}-{}", &hex::encode(digest)[..8])
}

/// Is `name` a version of `base` (`<base>-<8 lowercase hex>`)?
pub fn is_version_of(name: &str, base: &str) -> bool {
    name.strip_prefix(base)
        .and_then(|r| r.strip_prefix('-'))
        .is_some_and(|h| {
            h.len() == 8
                && h.chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        })
}

/// The desired content of model `logical` and its version name. Shared with the endpoint,
/// which must name the model version it will serve without waiting for the model's outputs.
pub fn model_version(
    spec: &LoadedSpec,
    logical: &str,
    r: &Renderer,
) -> Result<(String, Value), SpecError> {
    let m = &spec.spec.sagemaker.models[logical];
    let path = format!("sagemaker.models.{logical}");
    let name = r.str(&format!("{path}.name"), &m.name)?;
    let mut image = r.str(&format!("{path}.image"), &m.image)?;
    let twin = super::dr::twin_view(r);
    if let Some(t) = &twin {
        // The DR model pulls from the DR region's registry, as the seed does.
        image = super::dr::image_in_region(&image, &t.primary_region, &t.region);
    }
    let model_data = r.str(&format!("{path}.model_data"), &m.model_data)?;
    let role_arn = r.str(
        &format!("{path}.role"),
        &format!("{{{{ iam.{}.arn }}}}", m.role),
    )?;
    let mut environment = BTreeMap::new();
    for (k, v) in &m.environment {
        environment.insert(k.clone(), r.str(&format!("{path}.environment.{k}"), v)?);
    }
    // VPC ids are regional: a twin runs in `dr.vpc`.
    let dr_vpc = spec.spec.dr.as_ref().and_then(|d| d.vpc.as_ref());
    let vpc = match (&m.vpc, &twin) {
        (Some(_), Some(_)) => dr_vpc,
        (v, _) => v.as_ref(),
    };
    let vpc = match vpc {
        Some(v) => {
            let mut sg = v.security_groups.clone();
            let mut sn = v.subnets.clone();
            sg.sort();
            sn.sort();
            json!({"security_groups": sg, "subnets": sn})
        }
        None => Value::Null,
    };
    // Fixed key order (json! keeps insertion order): the digest must not depend on map order.
    let content = json!({
        "image": image,
        "model_data": model_data,
        "role_arn": role_arn,
        "environment": environment,
        "vpc": vpc,
        "network_isolation": m.network_isolation,
    });
    Ok((versioned_name(&name, &content), content))
}

#[async_trait]
impl Reconciler for SagemakerModel {
    fn permissions(&self) -> &'static [&'static [Perm]] {
        &[PERMISSIONS, super::replication::ARTIFACT_PERMISSIONS]
    }

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn late_outputs(&self) -> &'static [&'static str] {
        &["name", "arn"]
    }

    fn decls(&self, spec: &LoadedSpec, r: &Renderer) -> Result<Vec<Decl>, SpecError> {
        let mut out = Vec::new();
        for (logical, m) in &spec.spec.sagemaker.models {
            let path = format!("sagemaker.models.{logical}");
            let name = r.str(&format!("{path}.name"), &m.name)?;
            check_base_name(spec, &format!("{path}.name"), &name)?;
            if !spec.spec.iam.contains_key(&m.role) {
                return Err(spec.error(
                    &format!("{path}.role"),
                    format!(
                        "no iam role `{}`; defined roles: {}",
                        m.role,
                        names(spec.spec.iam.keys())
                    ),
                ));
            }
            if let Some(v) = &m.vpc {
                if v.subnets.is_empty() || v.security_groups.is_empty() {
                    return Err(spec.error(
                        &format!("{path}.vpc"),
                        "a VPC config needs at least one subnet and one security group",
                    ));
                }
            }
            let address = format!("sagemaker_model.{logical}");
            out.push(Decl {
                address: address.clone(),
                kind: "sagemaker_model",
                name: logical.clone(),
                spec_path: path.clone(),
                region: spec.spec.region.clone(),
                identity: name.clone(),
                identity_key: format!("{path}.name"),
                deps: vec![format!("iam.{}", m.role)],
                outputs: json!({ "base_name": name }),
                template_files: Vec::new(),
            });
        }
        Ok(out)
    }

    fn desired(&self, spec: &LoadedSpec, decl: &Decl, r: &Renderer) -> Result<Value, SpecError> {
        let m = &spec.spec.sagemaker.models[&decl.name];
        let (version, content) = model_version(spec, &decl.name, r)?;
        let mut d = json!({ "name": version });
        if let (Value::Object(dst), Value::Object(src)) = (&mut d, content) {
            dst.extend(src);
        }
        d["tags"] = json!(desired_tags(spec, &decl.address, &m.tags));
        if super::dr::is_twin(&decl.address) && decl.outputs.get("artifact_source").is_some() {
            // The twin bucket holds the primary's current artifact (see `replication`).
            d["artifact"] = json!(super::replication::IN_SYNC);
        }
        Ok(d)
    }

    async fn observe(&self, cx: &Ctx<'_>, decl: &Decl) -> Result<Observed, AwsError> {
        let sm = &cx.clients(&decl.region).sagemaker;
        let versions =
            versions_of(cx.cache, sm, &decl.identity, &decl.address, cx.environment).await?;
        // The newest version is the live one; older ones wait for the endpoint's clean-up.
        let Some(v) = versions
            .iter()
            .max_by(|a, b| a.created.total_cmp(&b.created))
            .cloned()
        else {
            return Ok(Observed::absent(&decl.address));
        };
        let m = sm
            .describe_model()
            .model_name(&v.name)
            .send()
            .await
            .map_err(AwsError::from_sdk("sagemaker:DescribeModel"))?;
        let c = m.primary_container();
        let vpc = m.vpc_config().map(|v| {
            let mut sg = v.security_group_ids().to_vec();
            let mut sn = v.subnets().to_vec();
            sg.sort();
            sn.sort();
            json!({"security_groups": sg, "subnets": sn})
        });
        let environment: BTreeMap<String, String> = c
            .and_then(|c| c.environment())
            .map(|e| e.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let owner = owner_from_tags(&v.tags, &decl.address, cx.environment);
        let artifact = if super::dr::is_twin(&decl.address) {
            super::replication::artifact_status(cx, decl).await?
        } else {
            None
        };
        let mut state = json!({
            "name": v.name,
            "image": c.and_then(|c| c.image()).unwrap_or_default(),
            "model_data": c.and_then(|c| c.model_data_url()).unwrap_or_default(),
            "role_arn": m.execution_role_arn().unwrap_or_default(),
            "environment": environment,
            "vpc": vpc,
            "network_isolation": m.enable_network_isolation().unwrap_or(false),
            "tags": v.tags,
        });
        if let Some(a) = artifact {
            state["artifact"] = json!(a);
        }
        Ok(Observed {
            address: decl.address.clone(),
            physical_id: v.name.clone(),
            state: Some(state),
            owner,
            outputs: json!({ "name": v.name, "arn": v.arn }),
        })
    }

    async fn create(&self, cx: &Ctx<'_>, decl: &Decl, desired: &Value) -> Result<Value, AwsError> {
        let d: Desired = from_desired(&decl.address, desired)?;
        let sm = &cx.clients(&decl.region).sagemaker;
        if super::dr::is_twin(&decl.address) {
            super::replication::ensure_artifact(cx, decl).await?;
        }
        ensure_version(sm, &decl.identity, &decl.address, cx.environment, &d).await
    }

    async fn update(
        &self,
        cx: &Ctx<'_>,
        decl: &Decl,
        desired: &Value,
        observed: &Observed,
        changed: &[String],
    ) -> Result<Value, AwsError> {
        let d: Desired = from_desired(&decl.address, desired)?;
        let sm = &cx.clients(&decl.region).sagemaker;
        if super::dr::is_twin(&decl.address) {
            super::replication::ensure_artifact(cx, decl).await?;
        }
        if d.name != observed.physical_id {
            // New content: a new version; the old one stays until the endpoint moves off it.
            return ensure_version(sm, &decl.identity, &decl.address, cx.environment, &d).await;
        }
        if changed.iter().any(|c| c == "tags") {
            let arn = observed.outputs["arn"].as_str().unwrap_or_default();
            let live = observed.state.as_ref().map(|s| s["tags"].clone());
            retag(sm, arn, &live.unwrap_or_default(), &json!(d.tags)).await?;
        }
        Ok(observed.outputs.clone())
    }

    fn tagging_types(&self) -> &'static [&'static str] {
        &["sagemaker:model"]
    }

    /// Like [`Reconciler::discover`], from the versions the tagging API found.
    async fn discover_found(
        &self,
        cx: &Ctx<'_>,
        region: &str,
        found: Vec<super::Found>,
    ) -> Result<Vec<Observed>, AwsError> {
        let sm = &cx.clients(region).sagemaker;
        let mut out: Vec<Observed> = Vec::new();
        for f in found {
            let name = f.name();
            // Older versions of the spec's own models are the endpoint's to clean up.
            let in_spec = name.rsplit_once('-').is_some_and(|(base, _)| {
                is_version_of(name, base) && cx.in_spec("sagemaker_model", base)
            });
            if in_spec || out.iter().any(|o| o.address == f.address) {
                continue;
            }
            // Read the tags again: the tagging API may lag behind a retag.
            let tags = list_tags(sm, &f.arn).await?;
            if super::ours_of_kind(&tags, cx.environment, "sagemaker_model").as_ref()
                != Some(&f.address)
            {
                continue;
            }
            out.push(Observed {
                address: f.address.clone(),
                physical_id: name.to_string(),
                state: Some(json!({ "name": name, "tags": tags })),
                owner: super::Owner::Ours,
                outputs: json!({ "name": name, "arn": f.arn }),
            });
        }
        Ok(out)
    }

    /// Model versions tagged with this environment whose model the spec no longer names; one
    /// entry per address (delete removes every version of it).
    async fn discover(&self, cx: &Ctx<'_>, region: &str) -> Result<Vec<Observed>, AwsError> {
        let sm = &cx.clients(region).sagemaker;
        let mut candidates = Vec::new();
        let mut pages = sm.list_models().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(AwsError::from_sdk("sagemaker:ListModels"))?;
            for m in page.models() {
                let name = m.model_name().unwrap_or_default();
                // Versions of the spec's own models are read by observe.
                let in_spec = name.rsplit_once('-').is_some_and(|(base, _)| {
                    is_version_of(name, base) && cx.in_spec("sagemaker_model", base)
                });
                if !in_spec {
                    candidates.push((
                        name.to_string(),
                        m.model_arn().unwrap_or_default().to_string(),
                    ));
                }
            }
        }
        let mut out: Vec<Observed> = Vec::new();
        for (name, arn) in candidates {
            let tags = list_tags(sm, &arn).await?;
            let Some(address) = super::ours_of_kind(&tags, cx.environment, "sagemaker_model")
            else {
                continue;
            };
            if out.iter().any(|o| o.address == address) {
                continue;
            }
            out.push(Observed {
                address,
                physical_id: name.clone(),
                state: Some(json!({ "name": name, "tags": tags })),
                owner: super::Owner::Ours,
                outputs: json!({ "name": name, "arn": arn }),
            });
        }
        Ok(out)
    }

    async fn delete(&self, cx: &Ctx<'_>, t: &DeleteTarget<'_>) -> Result<(), AwsError> {
        let sm = &cx.clients(t.region).sagemaker;
        let base = t
            .observed
            .physical_id
            .rsplit_once('-')
            .map(|(b, _)| b.to_string())
            .unwrap_or_default();
        if base.is_empty() {
            return Ok(());
        }
        for v in our_versions(sm, &base, &t.observed.address, cx.environment).await? {
            delete_model(sm, &v.name).await?;
        }
        Ok(())
    }
}

fn names<'a>(it: impl Iterator<Item = &'a String>) -> String {
    let v: Vec<&str> = it.map(String::as_str).collect();
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}

/// A base name must leave room for the version suffix and follow SageMaker's name rule.
pub fn check_base_name(spec: &LoadedSpec, key: &str, name: &str) -> Result<(), SpecError> {
    let ok_chars = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !ok_chars {
        return Err(spec.error(
            key,
            format!("`{name}` is not a valid SageMaker name (letters, digits and inner '-' only)"),
        ));
    }
    if name.len() + VERSION_SUFFIX_LEN > MAX_NAME {
        return Err(spec.error(
            key,
            format!(
                "`{name}` is {} characters; at most {} leave room for the version suffix \
                 (`-` and 8 hex digits) within SageMaker's {MAX_NAME}",
                name.len(),
                MAX_NAME - VERSION_SUFFIX_LEN
            ),
        ));
    }
    Ok(())
}

/// One live version of ours.
#[derive(Debug, Clone)]
pub struct Version {
    pub name: String,
    pub arn: String,
    pub created: f64,
    pub tags: Value,
}

/// [`our_versions`], read once per observation when `cache` is given (the model's observe and
/// its endpoint's both need them).
pub async fn versions_of(
    cache: Option<&crate::resources::ReadCache>,
    sm: &aws_sdk_sagemaker::Client,
    base: &str,
    address: &str,
    environment: &str,
) -> Result<std::sync::Arc<Vec<Version>>, AwsError> {
    let read = our_versions(sm, base, address, environment);
    match cache {
        Some(c) => {
            let region = sm
                .config()
                .region()
                .map(|r| r.to_string())
                .unwrap_or_default();
            c.shared(&format!("sagemaker_model@{region}/{base}/{address}"), read)
                .await
        }
        None => Ok(std::sync::Arc::new(read.await?)),
    }
}

/// Live model versions of `base` tagged with `address` in `environment`.
pub async fn our_versions(
    sm: &aws_sdk_sagemaker::Client,
    base: &str,
    address: &str,
    environment: &str,
) -> Result<Vec<Version>, AwsError> {
    let mut found = Vec::new();
    let mut pages = sm.list_models().name_contains(base).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(AwsError::from_sdk("sagemaker:ListModels"))?;
        for m in page.models() {
            let name = m.model_name().unwrap_or_default();
            if is_version_of(name, base) {
                found.push((
                    name.to_string(),
                    m.model_arn().unwrap_or_default().to_string(),
                    m.creation_time().map(|t| t.as_secs_f64()).unwrap_or(0.0),
                ));
            }
        }
    }
    let read =
        futures::future::try_join_all(found.into_iter().map(|(name, arn, created)| async move {
            let tags = list_tags(sm, &arn).await?;
            Ok::<_, AwsError>(Version {
                name,
                arn,
                created,
                tags,
            })
        }))
        .await?;
    Ok(read
        .into_iter()
        .filter(|v| {
            v.tags.get(TAG_ADDRESS).and_then(Value::as_str) == Some(address)
                && v.tags.get(TAG_ENVIRONMENT).and_then(Value::as_str) == Some(environment)
        })
        .collect())
}

/// Tags of a SageMaker resource as a JSON object.
pub async fn list_tags(sm: &aws_sdk_sagemaker::Client, arn: &str) -> Result<Value, AwsError> {
    let mut tags = Vec::new();
    let mut token = None;
    loop {
        let out = sm
            .list_tags()
            .resource_arn(arn)
            .set_next_token(token)
            .send()
            .await
            .map_err(AwsError::from_sdk("sagemaker:ListTags"))?;
        tags.extend(out.tags().iter().map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        }));
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(tags_json(tags))
}

pub fn sm_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Brings the tags of `arn` from `live` to `want`.
pub async fn retag(
    sm: &aws_sdk_sagemaker::Client,
    arn: &str,
    live: &Value,
    want: &Value,
) -> Result<(), AwsError> {
    crate::resources::kit::tags::sync(
        &crate::resources::kit::tags::SageMakerTags { client: sm, arn },
        live,
        want,
    )
    .await
}

/// Creates the desired version unless it exists (as ours) already.
async fn ensure_version(
    sm: &aws_sdk_sagemaker::Client,
    base: &str,
    address: &str,
    environment: &str,
    d: &Desired,
) -> Result<Value, AwsError> {
    if let Some(v) = our_versions(sm, base, address, environment)
        .await?
        .into_iter()
        .find(|v| v.name == d.name)
    {
        return Ok(json!({ "name": v.name, "arn": v.arn }));
    }
    let mut container = ContainerDefinition::builder()
        .image(&d.image)
        .model_data_url(&d.model_data);
    for (k, v) in &d.environment {
        container = container.environment(k, v);
    }
    let mut req = sm
        .create_model()
        .model_name(&d.name)
        .execution_role_arn(&d.role_arn)
        .primary_container(container.build())
        .enable_network_isolation(d.network_isolation)
        .set_tags(Some(sm_tags(&d.tags)));
    if let Some(v) = &d.vpc {
        req = req.vpc_config(
            VpcConfig::builder()
                .set_security_group_ids(Some(v.security_groups.clone()))
                .set_subnets(Some(v.subnets.clone()))
                .build(),
        );
    }
    let made = match req.send().await {
        Ok(out) => json!({ "name": d.name, "arn": out.model_arn().unwrap_or_default() }),
        Err(e) => {
            // "Already exists" is an untyped ValidationException: look. A version of ours by
            // this name is the one wanted (the name is the content's digest), made by an
            // attempt whose answer was lost.
            match our_versions(sm, base, address, environment)
                .await?
                .into_iter()
                .find(|v| v.name == d.name)
            {
                Some(v) => json!({ "name": v.name, "arn": v.arn }),
                None => return Err(AwsError::from_err("sagemaker:CreateModel", e)),
            }
        }
    };
    crate::faults::point("sagemaker.after_create_model", address)?;
    Ok(made)
}

/// Deletes a model; one that is already gone is success (checked by listing: SageMaker has no
/// typed "not found" error).
pub async fn delete_model(sm: &aws_sdk_sagemaker::Client, name: &str) -> Result<(), AwsError> {
    match sm.delete_model().model_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) => {
            if model_exists(sm, name).await? {
                Err(AwsError::from_err("sagemaker:DeleteModel", e))
            } else {
                Ok(())
            }
        }
    }
}

async fn model_exists(sm: &aws_sdk_sagemaker::Client, name: &str) -> Result<bool, AwsError> {
    let mut pages = sm.list_models().name_contains(name).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(AwsError::from_sdk("sagemaker:ListModels"))?;
        if page.models().iter().any(|m| m.model_name() == Some(name)) {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_stable_and_content_sensitive() {
        let a = json!({"image": "i", "environment": {"A": "1"}});
        let b = json!({"image": "i", "environment": {"A": "2"}});
        let va = versioned_name("m", &a);
        assert_eq!(
            va,
            versioned_name("m", &a.clone()),
            "same content, same name"
        );
        assert_ne!(va, versioned_name("m", &b), "content change, new name");
        assert!(is_version_of(&va, "m"), "{va}");
        assert!(!is_version_of("m-model-0123abcd", "m"), "other base");
        assert!(!is_version_of("m-0123ABCD", "m"), "uppercase is not ours");
        let unknown = json!({"role_arn": UNKNOWN});
        assert!(is_unknown(&json!(versioned_name("m", &unknown))));
    }
}
