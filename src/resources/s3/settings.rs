//! A bucket's settings, each read (for `observe`) and written (for `create` and `update`) in
//! [`super::BucketState`]'s shape: tags, the public access block, Object Ownership, default
//! encryption, versioning, lifecycle, the bucket policy and server access logging. [`ORDER`]
//! is the order they are written in; [`put`] writes one.

use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, BucketLoggingStatus,
    BucketVersioningStatus, LoggingEnabled, ObjectOwnership, OwnershipControls,
    OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging, VersioningConfiguration,
};
use aws_sdk_s3::Client;
use serde_json::Value;

use super::access_logs::Logging;
use super::lifecycle::{rule_from_aws, rule_to_aws, Rule};
use super::{BucketState, Encryption, PublicAccessBlock, US_EAST_1};
use crate::aws::AwsError;
use crate::resources::kit::s3_errors::{build_error, code_is};
use crate::resources::kit::tags::{tags_map, Tags};

/// The order settings are written in: tags first (they record ownership), the policy before
/// logging (a log target must admit delivery first).
pub(super) const ORDER: [&str; 8] = [
    "tags",
    "public_access_block",
    "object_ownership",
    "encryption",
    "versioning",
    "lifecycle",
    "policy",
    "logging",
];

/// Writes the setting `attr` (one of [`ORDER`]) of `d`.
pub(super) async fn put(s3: &Client, d: &BucketState, attr: &str) -> Result<(), AwsError> {
    match attr {
        "tags" => put_tags(s3, d).await,
        "public_access_block" => put_public_access_block(s3, d).await,
        "object_ownership" => put_ownership(s3, d).await,
        "logging" => put_logging(s3, d).await,
        "encryption" => put_encryption(s3, d).await,
        "versioning" => put_versioning(s3, d).await,
        "lifecycle" => put_lifecycle(s3, d).await,
        "policy" => put_policy(s3, d).await,
        _ => unreachable!("one of ORDER"),
    }
}

/// A bucket's tags; `None` when it has no tag set.
pub(super) async fn read_tags(s3: &Client, name: &str) -> Result<Option<Tags>, AwsError> {
    match s3.get_bucket_tagging().bucket(name).send().await {
        Ok(out) => Ok(Some(tags_map(
            out.tag_set()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string())),
        ))),
        Err(e) if code_is(&e, "NoSuchTagSet") => Ok(None),
        Err(e) => Err(AwsError::from_err("s3:GetBucketTagging", e)),
    }
}

pub(super) async fn read_encryption(
    s3: &Client,
    name: &str,
) -> Result<Option<Encryption>, AwsError> {
    match s3.get_bucket_encryption().bucket(name).send().await {
        Ok(out) => Ok(out
            .server_side_encryption_configuration()
            .and_then(|c| c.rules().first())
            .map(|rule| {
                let by_default = rule.apply_server_side_encryption_by_default();
                Encryption {
                    algorithm: by_default
                        .map(|d| d.sse_algorithm().as_str().to_string())
                        .unwrap_or_default(),
                    kms_key_arn: by_default
                        .and_then(|d| d.kms_master_key_id())
                        .map(str::to_string),
                    bucket_key: rule.bucket_key_enabled().unwrap_or(false),
                }
            })),
        Err(e) if code_is(&e, "ServerSideEncryptionConfigurationNotFoundError") => Ok(None),
        Err(e) => Err(AwsError::from_err("s3:GetBucketEncryption", e)),
    }
}

pub(super) async fn read_versioning(s3: &Client, name: &str) -> Result<bool, AwsError> {
    s3.get_bucket_versioning()
        .bucket(name)
        .send()
        .await
        .map(|o| o.status() == Some(&BucketVersioningStatus::Enabled))
        .map_err(AwsError::from_sdk("s3:GetBucketVersioning"))
}

pub(super) async fn read_public_access_block(
    s3: &Client,
    name: &str,
) -> Result<PublicAccessBlock, AwsError> {
    match s3.get_public_access_block().bucket(name).send().await {
        Ok(out) => Ok(out
            .public_access_block_configuration()
            .map(|c| PublicAccessBlock {
                block_public_acls: c.block_public_acls().unwrap_or(false),
                ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
                block_public_policy: c.block_public_policy().unwrap_or(false),
                restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
            })
            .unwrap_or(PublicAccessBlock::NONE)),
        Err(e) if code_is(&e, "NoSuchPublicAccessBlockConfiguration") => {
            Ok(PublicAccessBlock::NONE)
        }
        Err(e) => Err(AwsError::from_err("s3:GetPublicAccessBlock", e)),
    }
}

pub(super) async fn read_lifecycle(s3: &Client, name: &str) -> Result<Vec<Rule>, AwsError> {
    match s3
        .get_bucket_lifecycle_configuration()
        .bucket(name)
        .send()
        .await
    {
        Ok(out) => Ok(out.rules().iter().map(rule_from_aws).collect()),
        Err(e) if code_is(&e, "NoSuchLifecycleConfiguration") => Ok(Vec::new()),
        Err(e) => Err(AwsError::from_err("s3:GetBucketLifecycleConfiguration", e)),
    }
}

pub(super) async fn read_policy(s3: &Client, name: &str) -> Result<Option<Value>, AwsError> {
    match s3.get_bucket_policy().bucket(name).send().await {
        Ok(out) => Ok(out.policy().map(crate::policy::parse_returned_exact)),
        Err(e) if code_is(&e, "NoSuchBucketPolicy") => Ok(None),
        Err(e) => Err(AwsError::from_err("s3:GetBucketPolicy", e)),
    }
}

/// The bucket's region: the one HeadBucket named, else GetBucketLocation's.
pub(super) async fn read_region(
    s3: &Client,
    name: &str,
    head_region: Option<String>,
) -> Result<String, AwsError> {
    match head_region.filter(|r| !r.is_empty()) {
        Some(r) => Ok(r),
        None => s3
            .get_bucket_location()
            .bucket(name)
            .send()
            .await
            .map(|o| location_region(o.location_constraint()))
            .map_err(AwsError::from_sdk("s3:GetBucketLocation")),
    }
}

/// GetBucketLocation's answer as a region name: empty means us-east-1, `EU` is eu-west-1.
pub(super) fn location_region(c: Option<&BucketLocationConstraint>) -> String {
    match c.map(|c| c.as_str()) {
        None | Some("") => US_EAST_1.to_string(),
        Some("EU") => "eu-west-1".to_string(),
        Some(r) => r.to_string(),
    }
}

pub(super) async fn read_logging(s3: &Client, name: &str) -> Result<Logging, AwsError> {
    s3.get_bucket_logging()
        .bucket(name)
        .send()
        .await
        .map(|o| match o.logging_enabled() {
            Some(l) => Logging {
                enabled: true,
                target_bucket: Some(l.target_bucket().to_string()),
                target_prefix: Some(l.target_prefix().to_string()),
            },
            None => Logging::OFF,
        })
        .map_err(AwsError::from_sdk("s3:GetBucketLogging"))
}

pub(super) async fn read_ownership(s3: &Client, name: &str) -> Result<Option<String>, AwsError> {
    match s3.get_bucket_ownership_controls().bucket(name).send().await {
        Ok(out) => Ok(out
            .ownership_controls()
            .and_then(|c| c.rules().first())
            .map(|r| r.object_ownership().as_str().to_string())),
        Err(e) if code_is(&e, "OwnershipControlsNotFoundError") => Ok(None),
        Err(e) => Err(AwsError::from_err("s3:GetBucketOwnershipControls", e)),
    }
}

async fn put_tags(s3: &Client, d: &BucketState) -> Result<(), AwsError> {
    const OP: &str = "s3:PutBucketTagging";
    let mut tagging = Tagging::builder();
    for (k, v) in &d.tags {
        tagging = tagging.tag_set(
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| build_error(OP, e))?,
        );
    }
    s3.put_bucket_tagging()
        .bucket(&d.name)
        .tagging(tagging.build().map_err(|e| build_error(OP, e))?)
        .send()
        .await
        .map_err(AwsError::from_sdk(OP))?;
    Ok(())
}

async fn put_ownership(s3: &Client, d: &BucketState) -> Result<(), AwsError> {
    const OP: &str = "s3:PutBucketOwnershipControls";
    let Some(ownership) = &d.object_ownership else {
        return Ok(());
    };
    let rule = OwnershipControlsRule::builder()
        .object_ownership(ObjectOwnership::from(ownership.as_str()))
        .build()
        .map_err(|e| build_error(OP, e))?;
    s3.put_bucket_ownership_controls()
        .bucket(&d.name)
        .ownership_controls(
            OwnershipControls::builder()
                .rules(rule)
                .build()
                .map_err(|e| build_error(OP, e))?,
        )
        .send()
        .await
        .map_err(AwsError::from_sdk(OP))?;
    Ok(())
}

/// Puts server access logging, or turns it off (an empty status).
async fn put_logging(s3: &Client, d: &BucketState) -> Result<(), AwsError> {
    const OP: &str = "s3:PutBucketLogging";
    let mut status = BucketLoggingStatus::builder();
    if let (true, Some(target)) = (d.logging.enabled, &d.logging.target_bucket) {
        status = status.logging_enabled(
            LoggingEnabled::builder()
                .target_bucket(target)
                .target_prefix(d.logging.target_prefix.clone().unwrap_or_default())
                .build()
                .map_err(|e| build_error(OP, e))?,
        );
    }
    s3.put_bucket_logging()
        .bucket(&d.name)
        .bucket_logging_status(status.build())
        .send()
        .await
        .map_err(AwsError::from_sdk(OP))?;
    Ok(())
}

async fn put_public_access_block(s3: &Client, d: &BucketState) -> Result<(), AwsError> {
    let p = &d.public_access_block;
    s3.put_public_access_block()
        .bucket(&d.name)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(p.block_public_acls)
                .ignore_public_acls(p.ignore_public_acls)
                .block_public_policy(p.block_public_policy)
                .restrict_public_buckets(p.restrict_public_buckets)
                .build(),
        )
        .send()
        .await
        .map_err(AwsError::from_sdk("s3:PutPublicAccessBlock"))?;
    Ok(())
}

async fn put_encryption(s3: &Client, d: &BucketState) -> Result<(), AwsError> {
    const OP: &str = "s3:PutBucketEncryption";
    let Some(enc) = &d.encryption else {
        return Ok(());
    };
    let mut by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::from(enc.algorithm.as_str()));
    if let Some(arn) = &enc.kms_key_arn {
        by_default = by_default.kms_master_key_id(arn);
    }
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(
            by_default.build().map_err(|e| build_error(OP, e))?,
        )
        .bucket_key_enabled(enc.bucket_key)
        .build();
    s3.put_bucket_encryption()
        .bucket(&d.name)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .map_err(|e| build_error(OP, e))?,
        )
        .send()
        .await
        .map_err(AwsError::from_sdk(OP))?;
    Ok(())
}

async fn put_versioning(s3: &Client, d: &BucketState) -> Result<(), AwsError> {
    let status = if d.versioning {
        BucketVersioningStatus::Enabled
    } else {
        BucketVersioningStatus::Suspended
    };
    s3.put_bucket_versioning()
        .bucket(&d.name)
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .map_err(AwsError::from_sdk("s3:PutBucketVersioning"))?;
    Ok(())
}

/// Puts the lifecycle rules, or deletes the configuration when there are none.
async fn put_lifecycle(s3: &Client, d: &BucketState) -> Result<(), AwsError> {
    const OP: &str = "s3:PutBucketLifecycleConfiguration";
    if d.lifecycle.is_empty() {
        s3.delete_bucket_lifecycle()
            .bucket(&d.name)
            .send()
            .await
            .map_err(AwsError::from_sdk("s3:DeleteBucketLifecycle"))?;
        return Ok(());
    }
    let mut conf = BucketLifecycleConfiguration::builder();
    for r in &d.lifecycle {
        conf = conf.rules(rule_to_aws(r)?);
    }
    s3.put_bucket_lifecycle_configuration()
        .bucket(&d.name)
        .lifecycle_configuration(conf.build().map_err(|e| build_error(OP, e))?)
        .send()
        .await
        .map_err(AwsError::from_sdk(OP))?;
    Ok(())
}

async fn put_policy(s3: &Client, d: &BucketState) -> Result<(), AwsError> {
    s3.put_bucket_policy()
        .bucket(&d.name)
        .policy(d.policy.as_ref().unwrap_or(&Value::Null).to_string())
        .send()
        .await
        .map_err(AwsError::from_sdk("s3:PutBucketPolicy"))?;
    Ok(())
}
