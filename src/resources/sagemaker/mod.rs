//! SageMaker hosting: the `sagemaker_model` kind ([`model`]) with its immutable versions
//! ([`versions`]), and the `sagemaker_endpoint` kind ([`endpoint`]) with the client that runs an
//! endpoint's lifecycle ([`hosting`]) and its Application Auto Scaling ([`scaling`]).
//!
//! This file holds what both kinds share: the name rules of versioned names and the reads of
//! SageMaker tags and ownership. Tag writes go through [`crate::resources::kit::tags`]
//! (`SageMakerTags`, `sagemaker_tags`).
//!
//! SageMaker reports "not found" and "already exists" as an untyped `ValidationException`, so
//! both kinds decide existence by listing (exact name match), never by message text.

pub mod deployment;
pub mod endpoint;
pub mod hosting;
mod import;
pub mod model;
pub mod rollout;
pub mod scaling;
pub mod state;
pub mod versions;

use serde_json::Value;

use crate::aws::AwsError;
use crate::resources::kit::tags::{tags_json, SageMakerTags, Tags};
use crate::resources::{TAG_ADDRESS, TAG_ENVIRONMENT};
use crate::spec::{LoadedSpec, SpecError};

/// Longest SageMaker model / endpoint config / endpoint name.
pub const MAX_NAME: usize = 63;
/// `-` plus 8 hex digits.
pub const VERSION_SUFFIX_LEN: usize = 9;

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

/// The spec's names in a list for an error ("a, b", or "(none)").
pub fn names<'a>(it: impl Iterator<Item = &'a String>) -> String {
    let v: Vec<&str> = it.map(String::as_str).collect();
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
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

/// Are these tags (a [`list_tags`] answer) exactly `address` in `environment`?
pub fn tagged_as(tags: &Value, address: &str, environment: &str) -> bool {
    tags.get(TAG_ADDRESS).and_then(Value::as_str) == Some(address)
        && tags.get(TAG_ENVIRONMENT).and_then(Value::as_str) == Some(environment)
}

/// Typed tags from a [`list_tags`] answer.
pub fn tag_map(tags: &Value) -> Tags {
    serde_json::from_value(tags.clone()).unwrap_or_default()
}

/// Brings the tags of `arn` from `live` to `want`.
pub async fn retag(
    sm: &aws_sdk_sagemaker::Client,
    arn: &str,
    live: &Value,
    want: &Value,
) -> Result<(), AwsError> {
    crate::resources::kit::tags::sync(&SageMakerTags { client: sm, arn }, live, want).await
}
