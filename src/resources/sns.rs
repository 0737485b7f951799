//! `sns.*`: an SNS topic for alarm actions, encrypted with a spec KMS key, tagged.
//!
//! The topic's ARN is computable from the spec (`arn:aws:sns:<region>:<account>:<name>`), so
//! alarms can name it before it exists, and `observe` reads it with GetTopicAttributes on that
//! ARN (NotFound is absence).
//!
//! # Caveats
//! CreateTopic is idempotent on AWS for a topic with the same attributes; a topic that exists
//! with the spec's name but without our tags is reported as foreign by `observe`, so `create` is
//! only reached for a topic that does not exist.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_sns::types::Tag;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    desired_tags, from_desired, owner_from_tags, tag_delta, tags_json, Ctx, Decl, DeleteTarget,
    Observed, Reconciler,
};
use crate::aws::AwsError;
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

pub struct Sns;

#[derive(Deserialize)]
struct Desired {
    name: String,
    kms_master_key_id: Option<String>,
    tags: BTreeMap<String, String>,
}

/// The account id from the render context (`{{ account_id }}`).
pub(crate) fn account(r: &Renderer) -> String {
    r.str("account_id", "{{ account_id }}").unwrap_or_default()
}

/// Checks that `kms_key` names a `kms.*` entry; returns its address.
pub(crate) fn kms_ref(spec: &LoadedSpec, key_path: &str, k: &str) -> Result<String, SpecError> {
    if spec.spec.kms.contains_key(k) {
        Ok(format!("kms.{k}"))
    } else {
        let known: Vec<&str> = spec.spec.kms.keys().map(String::as_str).collect();
        Err(spec.error(
            key_path,
            format!(
                "`{k}` is not a key in the spec's `kms` section (defined: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ),
        ))
    }
}

pub fn topic_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:sns:{region}:{account}:{name}")
}

#[async_trait]
impl Reconciler for Sns {
    fn kind(&self) -> &'static str {
        "sns"
    }

    fn decls(&self, spec: &LoadedSpec, r: &Renderer) -> Result<Vec<Decl>, SpecError> {
        let mut out = Vec::new();
        for (name, t) in &spec.spec.sns {
            let path = format!("sns.{name}");
            let topic = r.str(&format!("{path}.name"), &t.name)?;
            let valid = !topic.is_empty()
                && topic.len() <= 256
                && topic
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid {
                return Err(spec.error(
                    &format!("{path}.name"),
                    format!(
                        "`{topic}` is not a valid topic name: 1 to 256 letters, digits, `-` or `_`"
                    ),
                ));
            }
            let mut deps = Vec::new();
            if let Some(k) = &t.kms_key {
                deps.push(kms_ref(spec, &format!("{path}.kms_key"), k)?);
            }
            let arn = topic_arn(&spec.spec.region, &account(r), &topic);
            out.push(Decl {
                address: path.clone(),
                kind: "sns",
                name: name.clone(),
                spec_path: path.clone(),
                region: spec.spec.region.clone(),
                identity: topic.clone(),
                identity_key: format!("{path}.name"),
                deps,
                outputs: json!({ "name": topic, "arn": arn }),
                template_files: Vec::new(),
            });
        }
        Ok(out)
    }

    fn desired(&self, spec: &LoadedSpec, decl: &Decl, r: &Renderer) -> Result<Value, SpecError> {
        let t = &spec.spec.sns[&decl.name];
        let path = &decl.spec_path;
        let kms = match &t.kms_key {
            Some(k) => {
                kms_ref(spec, &format!("{path}.kms_key"), k)?;
                r.str(
                    &format!("{path}.kms_key"),
                    &format!("{{{{ kms.{k}.arn }}}}"),
                )?
            }
            // No key in the spec: the topic is not encrypted.
            None => String::new(),
        };
        Ok(json!({
            "name": decl.identity,
            "kms_master_key_id": kms,
            "tags": desired_tags(spec, &decl.address, &t.tags),
        }))
    }

    async fn observe(&self, cx: &Ctx<'_>, decl: &Decl) -> Result<Observed, AwsError> {
        let sns = &cx.clients(&decl.region).sns;
        let arn = topic_arn(&decl.region, cx.account_id, &decl.identity);
        let attrs = match sns.get_topic_attributes().topic_arn(&arn).send().await {
            Ok(o) => o.attributes.unwrap_or_default(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_not_found_exception()) =>
            {
                return Ok(Observed::absent(&decl.address))
            }
            Err(e) => return Err(AwsError::from_err("sns:GetTopicAttributes", e)),
        };
        let tags = sns
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .map_err(AwsError::from_sdk("sns:ListTagsForResource"))?;
        let tags = tags_json(
            tags.tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string())),
        );
        let owner = owner_from_tags(&tags, &decl.address, cx.environment);
        Ok(Observed {
            address: decl.address.clone(),
            physical_id: arn.clone(),
            state: Some(json!({
                "name": decl.identity,
                "kms_master_key_id": attrs.get("KmsMasterKeyId").cloned().unwrap_or_default(),
                "tags": tags,
            })),
            owner,
            outputs: json!({ "name": decl.identity, "arn": arn }),
        })
    }

    async fn create(&self, cx: &Ctx<'_>, decl: &Decl, desired: &Value) -> Result<Value, AwsError> {
        let d: Desired = from_desired(&decl.address, desired)?;
        let sns = &cx.clients(&decl.region).sns;
        let mut req = sns.create_topic().name(&d.name);
        if let Some(k) = d.kms_master_key_id.as_deref().filter(|k| !k.is_empty()) {
            req = req.attributes("KmsMasterKeyId", k);
        }
        for (k, v) in &d.tags {
            req = req.tags(tag(k, v));
        }
        let out = req
            .send()
            .await
            .map_err(AwsError::from_sdk("sns:CreateTopic"))?;
        let arn = out
            .topic_arn
            .unwrap_or_else(|| topic_arn(&decl.region, cx.account_id, &d.name));
        Ok(json!({ "name": d.name, "arn": arn }))
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
        let sns = &cx.clients(&decl.region).sns;
        let arn = observed.physical_id.as_str();
        let live = observed.state.clone().unwrap_or_default();
        for attr in changed {
            match attr.as_str() {
                "kms_master_key_id" => {
                    sns.set_topic_attributes()
                        .topic_arn(arn)
                        .attribute_name("KmsMasterKeyId")
                        .attribute_value(d.kms_master_key_id.clone().unwrap_or_default())
                        .send()
                        .await
                        .map_err(AwsError::from_sdk("sns:SetTopicAttributes"))?;
                }
                "tags" => {
                    let (set, remove) = tag_delta(&live["tags"], &json!(d.tags));
                    if !set.is_empty() {
                        let mut req = sns.tag_resource().resource_arn(arn);
                        for (k, v) in &set {
                            req = req.tags(tag(k, v));
                        }
                        req.send()
                            .await
                            .map_err(AwsError::from_sdk("sns:TagResource"))?;
                    }
                    if !remove.is_empty() {
                        sns.untag_resource()
                            .resource_arn(arn)
                            .set_tag_keys(Some(remove))
                            .send()
                            .await
                            .map_err(AwsError::from_sdk("sns:UntagResource"))?;
                    }
                }
                _ => {}
            }
        }
        Ok(observed.outputs.clone())
    }

    async fn delete(&self, cx: &Ctx<'_>, t: &DeleteTarget<'_>) -> Result<(), AwsError> {
        let sns = &cx.clients(t.region).sns;
        match sns
            .delete_topic()
            .topic_arn(&t.observed.physical_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_not_found_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(AwsError::from_err("sns:DeleteTopic", e)),
        }
    }
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder()
        .key(k)
        .value(v)
        .build()
        .expect("tag key and value are set")
}
