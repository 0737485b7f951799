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

use async_trait::async_trait;
use aws_sdk_sns::types::Tag;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{desired_tags, from_desired, Ctx, Decl, DeleteTarget, Observed, Reconciler};
use crate::aws::{ok_if_gone, AwsError};
use crate::permissions::{perm, Perm};
use crate::resources::kind::KindInfo;
use crate::resources::kit::cache::cached_tags;
use crate::resources::kit::discover::{read_found, read_tagged};
use crate::resources::kit::import::{self, ImportRequest, Imported};
use crate::resources::kit::refs::{account, kms_ref, topic_arn};
use crate::resources::kit::tags::{owner_of, tags_json, tags_map, SnsTags, Tags};
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

/// What the engine knows of `sns` (see [`KindInfo`]).
pub const INFO: KindInfo = KindInfo::new("sns", "sns", |s, n| s.sns.get(n).and_then(|r| r.protect))
    .tagged_as(&["sns:topic"]);

/// Every AWS call this kind makes and what IAM must allow for it (see [`crate::permissions`]).
pub const PERMISSIONS: &[Perm] = &[
    perm("sns:ListTopics", &["sns:ListTopics"], &["*"]),
    perm(
        "sns:ListTagsForResource",
        &["sns:ListTagsForResource"],
        &["arn:aws:sns:{region}:{account}:*"],
    ),
    perm(
        "sns:CreateTopic",
        &["sns:CreateTopic", "sns:TagResource"],
        &[TOPIC],
    ),
    perm(
        "sns:GetTopicAttributes",
        &["sns:GetTopicAttributes"],
        &[TOPIC],
    ),
    perm(
        "sns:SetTopicAttributes",
        &["sns:SetTopicAttributes"],
        &[TOPIC],
    ),
    perm("sns:TagResource", &["sns:TagResource"], &[TOPIC]),
    perm("sns:UntagResource", &["sns:UntagResource"], &[TOPIC]),
    perm("sns:DeleteTopic", &["sns:DeleteTopic"], &[TOPIC]),
];
const TOPIC: &str = "arn:aws:sns:{region}:{account}:{id}";

pub struct Sns;

/// A topic's state, desired and observed alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicState {
    pub name: String,
    /// The key's ARN; empty when the topic is not encrypted.
    pub kms_master_key_id: String,
    pub tags: Tags,
}

/// Errors that mean a discovered topic is gone or no longer ours to read.
const GONE: &[&str] = &["NotFound", "AuthorizationError"];

#[async_trait]
impl Reconciler for Sns {
    fn permissions(&self) -> &'static [&'static [Perm]] {
        &[PERMISSIONS]
    }

    fn info(&self) -> &'static KindInfo {
        &INFO
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
        let state = TopicState {
            name: decl.identity.clone(),
            kms_master_key_id: kms,
            tags: desired_tags(spec, &decl.address, &t.tags),
        };
        Ok(serde_json::to_value(state).expect("a topic state serialises"))
    }

    async fn observe(&self, cx: &Ctx<'_>, decl: &Decl) -> Result<Observed, AwsError> {
        let arn = topic_arn(&decl.region, cx.account_id, &decl.identity);
        Ok(read_topic(cx, &decl.region, &decl.address, &arn)
            .await?
            .unwrap_or_else(|| Observed::absent(&decl.address)))
    }

    async fn create(&self, cx: &Ctx<'_>, decl: &Decl, desired: &Value) -> Result<Value, AwsError> {
        let d: TopicState = from_desired(&decl.address, desired)?;
        let sns = &cx.clients(&decl.region).sns;
        let mut req = sns.create_topic().name(&d.name);
        if !d.kms_master_key_id.is_empty() {
            req = req.attributes("KmsMasterKeyId", &d.kms_master_key_id);
        }
        for (k, v) in &d.tags {
            req = req.tags(tag(k, v));
        }
        let out = req
            .send()
            .await
            .map_err(AwsError::from_sdk("sns:CreateTopic"))?;
        crate::faults::point("sns.after_create_topic", &decl.address)?;
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
        let d: TopicState = from_desired(&decl.address, desired)?;
        let sns = &cx.clients(&decl.region).sns;
        let arn = observed.physical_id.as_str();
        let live = observed.state.clone().unwrap_or_default();
        for attr in changed {
            match attr.as_str() {
                "kms_master_key_id" => {
                    sns.set_topic_attributes()
                        .topic_arn(arn)
                        .attribute_name("KmsMasterKeyId")
                        .attribute_value(&d.kms_master_key_id)
                        .send()
                        .await
                        .map_err(AwsError::from_sdk("sns:SetTopicAttributes"))?;
                }
                "tags" => {
                    crate::resources::kit::tags::sync(
                        &SnsTags { client: sns, arn },
                        &live["tags"],
                        &tags_json(&d.tags),
                    )
                    .await?
                }
                _ => {}
            }
        }
        Ok(observed.outputs.clone())
    }

    async fn delete(&self, cx: &Ctx<'_>, t: &DeleteTarget<'_>) -> Result<(), AwsError> {
        let sns = &cx.clients(t.region).sns;
        ok_if_gone(
            "sns:DeleteTopic",
            sns.delete_topic()
                .topic_arn(&t.observed.physical_id)
                .send()
                .await,
            |se| se.is_not_found_exception(),
        )
    }

    async fn discover_found(
        &self,
        cx: &Ctx<'_>,
        region: &str,
        found: Vec<super::Found>,
    ) -> Result<Vec<Observed>, AwsError> {
        read_found(cx, "sns", region, found, GONE, |f| async move {
            read_topic(cx, region, &f.address, &f.arn).await
        })
        .await
    }

    async fn import(&self, cx: &Ctx<'_>, req: &ImportRequest<'_>) -> Result<Imported, AwsError> {
        let arn = if req.id.starts_with("arn:") {
            req.id.to_string()
        } else {
            topic_arn(req.region, cx.account_id, req.id)
        };
        let state = read_topic(cx, req.region, "sns.imported", &arn)
            .await?
            .and_then(|o| o.state)
            .ok_or_else(|| import::not_found("sns topic", req.id))?;
        let t: TopicState = from_desired("sns.imported", &state)?;
        let mut entry = serde_json::Map::new();
        entry.insert("name".into(), json!(t.name));
        if !t.kms_master_key_id.is_empty() {
            let key = import::spec_key_of(cx, req, &t.kms_master_key_id)
                .await?
                .ok_or_else(|| import::key_not_in_spec(&t.kms_master_key_id))?;
            entry.insert("kms_key".into(), json!(key));
        }
        let tags = import::extra_tags(req.spec, &tags_json(&t.tags));
        if !tags.is_empty() {
            entry.insert("tags".into(), Value::Object(tags));
        }
        Ok(Imported {
            name: import::logical_name(&t.name),
            entry,
            files: Vec::new(),
            comments: Vec::new(),
        })
    }

    async fn discover(&self, cx: &Ctx<'_>, region: &str) -> Result<Vec<Observed>, AwsError> {
        let sns = &cx.clients(region).sns;
        let mut arns = Vec::new();
        let mut pages = sns.list_topics().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(AwsError::from_sdk("sns:ListTopics"))?;
            arns.extend(
                page.topics()
                    .iter()
                    .filter_map(|t| t.topic_arn().map(str::to_string))
                    // The spec's own topics are read by observe.
                    .filter(|arn| {
                        !cx.in_spec("sns", region, arn.rsplit(':').next().unwrap_or_default())
                    }),
            );
        }
        let mut listed = Vec::new();
        for arn in arns {
            match topic_tags(cx, region, &arn).await {
                Ok(t) => listed.push((arn, tags_json(t))),
                Err(e) if GONE.contains(&e.code.as_str()) => {}
                Err(e) => return Err(e),
            }
        }
        read_tagged(cx, "sns", listed, &[], |arn, address| async move {
            read_topic(cx, region, &address, &arn).await
        })
        .await
    }
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder()
        .key(k)
        .value(v)
        .build()
        .expect("tag key and value are set")
}

/// The topic's tags; in an observation from the tagging answer when it holds the topic.
async fn topic_tags(cx: &Ctx<'_>, region: &str, arn: &str) -> Result<Tags, AwsError> {
    if let Some(tags) = cached_tags(cx, region, arn).await {
        return Ok(tags);
    }
    let out = cx
        .clients(region)
        .sns
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(AwsError::from_sdk("sns:ListTagsForResource"))?;
    Ok(tags_map(
        out.tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string())),
    ))
}

/// The topic at `arn` as `address` sees it; `None` when it does not exist.
async fn read_topic(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
    arn: &str,
) -> Result<Option<Observed>, AwsError> {
    let sns = &cx.clients(region).sns;
    // Tags from the region's tagging answer when it holds the topic; else read once the
    // topic is known to exist (a missing topic costs one read, not two).
    let attrs = sns.get_topic_attributes().topic_arn(arn).send().await;
    let attrs = match attrs {
        Ok(o) => o.attributes.unwrap_or_default(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_not_found_exception()) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(AwsError::from_err("sns:GetTopicAttributes", e)),
    };
    let tags = topic_tags(cx, region, arn).await?;
    let owner = owner_of(&tags, address, cx.environment);
    let name = arn.rsplit(':').next().unwrap_or_default().to_string();
    Ok(Some(Observed {
        address: address.to_string(),
        physical_id: arn.to_string(),
        state: Some(
            serde_json::to_value(TopicState {
                name: name.clone(),
                kms_master_key_id: attrs.get("KmsMasterKeyId").cloned().unwrap_or_default(),
                tags,
            })
            .expect("a topic state serialises"),
        ),
        owner,
        outputs: json!({ "name": name, "arn": arn }),
    }))
}
