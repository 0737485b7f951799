//! Versioned names: a model version is `<base>-<8 hex>` of the sha256 of its content (the
//! endpoint's config versions are named the same way), and the reads that find the live
//! versions of ours ([`our_versions`], [`versions_of`] shared within an observation).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{list_tags, tag_map, tagged_as};
use crate::aws::AwsError;
use crate::resources::kit::tags::Tags;
use crate::spec::render::{is_unknown, Renderer, UNKNOWN};
use crate::spec::{LoadedSpec, SpecError};

/// What a model version is made of; its digest is the version. Field order is the digest's
/// key order: it must not change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelContent {
    pub image: String,
    pub model_data: String,
    pub role_arn: String,
    pub environment: BTreeMap<String, String>,
    pub vpc: Option<Vpc>,
    pub network_isolation: bool,
}

/// A model's VPC config (ids sorted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vpc {
    pub security_groups: Vec<String>,
    pub subnets: Vec<String>,
}

impl Vpc {
    /// From unsorted id lists.
    pub fn sorted(mut security_groups: Vec<String>, mut subnets: Vec<String>) -> Vpc {
        security_groups.sort();
        subnets.sort();
        Vpc {
            security_groups,
            subnets,
        }
    }
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

/// The base of a versioned name (`m-0123abcd` -> `m`), when it is one.
pub fn base_of(name: &str) -> Option<&str> {
    name.rsplit_once('-')
        .map(|(base, _)| base)
        .filter(|base| is_version_of(name, base))
}

/// The desired content of model `logical` and its version name. Shared with the endpoint,
/// which must name the model version it will serve without waiting for the model's outputs.
pub fn model_version(
    spec: &LoadedSpec,
    logical: &str,
    r: &Renderer,
) -> Result<(String, ModelContent), SpecError> {
    let m = &spec.spec.sagemaker.models[logical];
    let path = format!("sagemaker.models.{logical}");
    let name = r.str(&format!("{path}.name"), &m.name)?;
    let mut image = r.str(&format!("{path}.image"), &m.image)?;
    let twin = crate::resources::dr::twin_view(r);
    if let Some(t) = &twin {
        // The DR model pulls from the DR region's registry, as the seed does.
        image = crate::resources::dr::image_in_region(&image, &t.primary_region, &t.region);
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
    // VPC ids are regional: a twin runs in `dr.vpc` when the spec gives one, else in the twin
    // of its network (`dr.replicate.networks`: the DR view resolves the names to the twins).
    let dr_vpc = spec.spec.dr.as_ref().and_then(|d| d.vpc.as_ref());
    let vpc = match (&m.vpc, &twin, dr_vpc) {
        (Some(_), Some(_), Some(d)) => Some(d),
        (v, _, _) => v.as_ref(),
    };
    let content = ModelContent {
        image,
        model_data,
        role_arn,
        environment,
        vpc: vpc.map(|v| {
            let (groups, subnets) = crate::resources::kit::refs::vpc_ids(r, v);
            Vpc::sorted(groups, subnets)
        }),
        network_isolation: m.network_isolation,
    };
    let digest_of = serde_json::to_value(&content).expect("model content serializes");
    Ok((versioned_name(&name, &digest_of), content))
}

/// One live version of ours.
#[derive(Debug, Clone)]
pub struct Version {
    pub name: String,
    pub arn: String,
    pub created: f64,
    pub tags: Tags,
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
            Ok::<_, AwsError>((name, arn, created, tags))
        }))
        .await?;
    Ok(read
        .into_iter()
        .filter(|(.., tags)| tagged_as(tags, address, environment))
        .map(|(name, arn, created, tags)| Version {
            name,
            arn,
            created,
            tags: tag_map(&tags),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
