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
//!   once it verifiably serves the new version (see [`super::endpoint`]). `delete` (destroy,
//!   or the model left the spec) removes every version of ours.
//!
//! # Caveats
//! SageMaker has no typed "not found"/"already exists" errors for models (both are a generic
//! `ValidationException`), so existence is decided by listing (ListModels, exact name match),
//! never by reading error messages.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_sagemaker::types::{ContainerDefinition, VpcConfig};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::versions::{base_of, model_version, our_versions, versions_of, ModelContent, Vpc};
use super::{check_base_name, list_tags, names, retag};
use crate::aws::AwsError;
use crate::permissions::{perm, Implied, Perm};
use crate::resources::kind::KindInfo;
use crate::resources::kit::discover::{read_found, read_tagged};
use crate::resources::kit::tags::{desired_tags, ours_of_kind, owner_of, sagemaker_tags, Tags};
use crate::resources::{
    dr, from_desired, Ctx, Decl, DeleteTarget, Found, Observed, Owner, Reconciler,
};
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

/// What the engine knows of `sagemaker_model` (see [`KindInfo`]).
pub const INFO: KindInfo = KindInfo::new("sagemaker_model", "sagemaker.models", |s, n| {
    s.sagemaker.models.get(n).and_then(|r| r.protect)
})
.outputs_under_section()
.with_sensitive(|s, n| {
    s.sagemaker
        .models
        .get(n)
        .map(|m| m.sensitive.clone())
        .unwrap_or_default()
})
.tagged_as(&["sagemaker:model"])
.late_outputs(&["name", "arn"]);

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

/// A model's state, desired and observed: the live version's name, its content, its tags and,
/// for a DR twin, whether its artifact is in sync (`replication`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelState {
    pub name: String,
    #[serde(flatten)]
    pub content: ModelContent,
    pub tags: Tags,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
}

/// What discovery knows of a model version it found: its name and tags.
#[derive(Debug, Clone, Serialize)]
struct FoundModel<'a> {
    name: &'a str,
    tags: &'a Value,
}

/// The outputs of a model version.
fn outputs(name: &str, arn: &str) -> Value {
    json!({ "name": name, "arn": arn })
}

/// Is `name` a version of a model the spec names (observe reads those; older versions are the
/// endpoint's to clean up)?
fn version_in_spec(cx: &Ctx<'_>, region: &str, name: &str) -> bool {
    base_of(name).is_some_and(|base| cx.in_spec("sagemaker_model", region, base))
}

/// A version found by discovery, tagged as `address`.
fn found_model(address: String, name: &str, arn: &str, tags: &Value) -> Observed {
    Observed {
        address,
        physical_id: name.to_string(),
        state: Some(serde_json::to_value(FoundModel { name, tags }).expect("state serializes")),
        owner: Owner::Ours,
        outputs: outputs(name, arn),
    }
}

/// One entry per address (delete removes every version of it), the first found.
fn one_per_address(found: Vec<Observed>) -> Vec<Observed> {
    let mut out: Vec<Observed> = Vec::new();
    for o in found {
        if !out.iter().any(|x| x.address == o.address) {
            out.push(o);
        }
    }
    out
}

#[async_trait]
impl Reconciler for SagemakerModel {
    fn permissions(&self) -> &'static [&'static [Perm]] {
        &[PERMISSIONS, dr::artifact::ARTIFACT_PERMISSIONS]
    }

    fn info(&self) -> &'static KindInfo {
        &INFO
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
            let mut deps = vec![format!("iam.{}", m.role)];
            if let Some(v) = &m.vpc {
                deps.extend(crate::resources::kit::refs::vpc_refs(
                    spec,
                    &format!("{path}.vpc"),
                    v,
                )?);
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
                deps,
                outputs: json!({ "base_name": name }),
                template_files: Vec::new(),
            });
        }
        Ok(out)
    }

    fn desired(&self, spec: &LoadedSpec, decl: &Decl, r: &Renderer) -> Result<Value, SpecError> {
        let m = &spec.spec.sagemaker.models[&decl.name];
        let (name, content) = model_version(spec, &decl.name, r)?;
        let state = ModelState {
            name,
            content,
            tags: desired_tags(spec, &decl.address, &m.tags),
            // The twin bucket holds the primary's current artifact (see `replication`).
            artifact: (dr::is_twin(&decl.address) && decl.outputs.get("artifact_source").is_some())
                .then(|| dr::artifact::IN_SYNC.to_string()),
        };
        Ok(serde_json::to_value(state).expect("desired serializes"))
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
        let environment: BTreeMap<String, String> = c
            .and_then(|c| c.environment())
            .map(|e| e.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let owner = owner_of(&v.tags, &decl.address, cx.environment);
        let artifact = if dr::is_twin(&decl.address) {
            dr::artifact::artifact_status(cx, decl).await?
        } else {
            None
        };
        let state = ModelState {
            name: v.name.clone(),
            content: ModelContent {
                image: c.and_then(|c| c.image()).unwrap_or_default().to_string(),
                model_data: c
                    .and_then(|c| c.model_data_url())
                    .unwrap_or_default()
                    .to_string(),
                role_arn: m.execution_role_arn().unwrap_or_default().to_string(),
                environment,
                vpc: m
                    .vpc_config()
                    .map(|v| Vpc::sorted(v.security_group_ids().to_vec(), v.subnets().to_vec())),
                network_isolation: m.enable_network_isolation().unwrap_or(false),
            },
            tags: v.tags.clone(),
            artifact,
        };
        Ok(Observed {
            address: decl.address.clone(),
            physical_id: v.name.clone(),
            state: Some(serde_json::to_value(state).expect("state serializes")),
            owner,
            outputs: outputs(&v.name, &v.arn),
        })
    }

    async fn create(&self, cx: &Ctx<'_>, decl: &Decl, desired: &Value) -> Result<Value, AwsError> {
        let d: ModelState = from_desired(&decl.address, desired)?;
        let sm = &cx.clients(&decl.region).sagemaker;
        if dr::is_twin(&decl.address) {
            dr::artifact::ensure_artifact(cx, decl).await?;
        }
        // Observe found no version of ours: create without looking first (a version made by
        // an attempt whose answer was lost is found when the create fails).
        ensure_version(sm, &decl.identity, &decl.address, cx.environment, &d, false).await
    }

    async fn update(
        &self,
        cx: &Ctx<'_>,
        decl: &Decl,
        desired: &Value,
        observed: &Observed,
        changed: &[String],
    ) -> Result<Value, AwsError> {
        let d: ModelState = from_desired(&decl.address, desired)?;
        let sm = &cx.clients(&decl.region).sagemaker;
        if dr::is_twin(&decl.address) {
            dr::artifact::ensure_artifact(cx, decl).await?;
        }
        if d.name != observed.physical_id {
            // New content: a new version; the old one stays until the endpoint moves off it.
            return ensure_version(sm, &decl.identity, &decl.address, cx.environment, &d, true)
                .await;
        }
        if changed.iter().any(|c| c == "tags") {
            let arn = observed.outputs["arn"].as_str().unwrap_or_default();
            let live = observed.state.as_ref().map(|s| s["tags"].clone());
            retag(sm, arn, &live.unwrap_or_default(), &json!(d.tags)).await?;
        }
        Ok(observed.outputs.clone())
    }

    /// Like [`Reconciler::discover`], from the versions the tagging API found.
    async fn discover_found(
        &self,
        cx: &Ctx<'_>,
        region: &str,
        found: Vec<Found>,
    ) -> Result<Vec<Observed>, AwsError> {
        let sm = &cx.clients(region).sagemaker;
        let found = found
            .into_iter()
            .filter(|f| !version_in_spec(cx, region, f.name()))
            .collect();
        let read = read_found(cx, "sagemaker_model", region, found, &[], |f| async move {
            // Read the tags again: the tagging API may lag behind a retag.
            let tags = list_tags(sm, &f.arn).await?;
            let ours = ours_of_kind(&tags, cx.environment, "sagemaker_model");
            Ok((ours.as_ref() == Some(&f.address))
                .then(|| found_model(f.address.clone(), f.name(), &f.arn, &tags)))
        })
        .await?;
        Ok(one_per_address(read))
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
                if !version_in_spec(cx, region, name) {
                    candidates.push((
                        name.to_string(),
                        m.model_arn().unwrap_or_default().to_string(),
                    ));
                }
            }
        }
        let arns: BTreeMap<String, String> = candidates.iter().cloned().collect();
        let listed =
            futures::future::try_join_all(candidates.into_iter().map(|(name, arn)| async move {
                Ok::<_, AwsError>((name, list_tags(sm, &arn).await?))
            }))
            .await?;
        let tags: BTreeMap<String, Value> = listed.iter().cloned().collect();
        let (arns, tags) = (&arns, &tags);
        let read = read_tagged(
            cx,
            "sagemaker_model",
            listed,
            &[],
            |name, address| async move {
                Ok(Some(found_model(
                    address,
                    &name,
                    &arns[&name],
                    &tags[&name],
                )))
            },
        )
        .await?;
        Ok(one_per_address(read))
    }

    async fn import(
        &self,
        cx: &Ctx<'_>,
        req: &crate::resources::kit::import::ImportRequest<'_>,
    ) -> Result<crate::resources::kit::import::Imported, AwsError> {
        super::import::import_model(cx, req).await
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

/// Creates the desired version unless it exists (as ours) already.
async fn ensure_version(
    sm: &aws_sdk_sagemaker::Client,
    base: &str,
    address: &str,
    environment: &str,
    d: &ModelState,
    look_first: bool,
) -> Result<Value, AwsError> {
    let existing = || async {
        Ok::<_, AwsError>(
            our_versions(sm, base, address, environment)
                .await?
                .into_iter()
                .find(|v| v.name == d.name)
                .map(|v| outputs(&v.name, &v.arn)),
        )
    };
    if look_first {
        if let Some(made) = existing().await? {
            return Ok(made);
        }
    }
    let c = &d.content;
    let mut container = ContainerDefinition::builder()
        .image(&c.image)
        .model_data_url(&c.model_data);
    for (k, v) in &c.environment {
        container = container.environment(k, v);
    }
    let mut req = sm
        .create_model()
        .model_name(&d.name)
        .execution_role_arn(&c.role_arn)
        .primary_container(container.build())
        .enable_network_isolation(c.network_isolation)
        .set_tags(Some(sagemaker_tags(&d.tags)));
    if let Some(v) = &c.vpc {
        req = req.vpc_config(
            VpcConfig::builder()
                .set_security_group_ids(Some(v.security_groups.clone()))
                .set_subnets(Some(v.subnets.clone()))
                .build(),
        );
    }
    let made = match req.send().await {
        Ok(out) => outputs(&d.name, out.model_arn().unwrap_or_default()),
        // "Already exists" is an untyped ValidationException: look. A version of ours by this
        // name is the one wanted (the name is the content's digest), made by an attempt whose
        // answer was lost.
        Err(e) => match existing().await? {
            Some(made) => made,
            None => return Err(AwsError::from_err("sagemaker:CreateModel", e)),
        },
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

pub(super) async fn model_exists(
    sm: &aws_sdk_sagemaker::Client,
    name: &str,
) -> Result<bool, AwsError> {
    let mut pages = sm.list_models().name_contains(name).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(AwsError::from_sdk("sagemaker:ListModels"))?;
        if page.models().iter().any(|m| m.model_name() == Some(name)) {
            return Ok(true);
        }
    }
    Ok(false)
}
