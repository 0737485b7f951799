//! The S3 object library of the DR stack: read an object's head ([`head`]), its SHA-256
//! (stored, or computed by reading it: [`compute_sha256`], [`sha256_of`]), whether a twin's
//! object holds a source version ([`holds`]), and a copy into the twin verified by SHA-256
//! ([`copy_verified`]). Replication's backfill, the DR model's artifact and `dr drill` use it;
//! [`with_object_perms`] declares the IAM each use needs for these calls.
//!
//! A verified copy must have the SHA-256 of its source: the primary's stored full-object
//! checksum, or one computed by reading the object, must equal the checksum S3 computed for
//! the copy. Copies carry their source version in the metadata (`novactl-source-version`);
//! replicas made by S3 keep the source's version id. Either way the twin "holds" the object.

use std::collections::HashMap;

use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, MetadataDirective};
use aws_sdk_s3::Client;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::aws::AwsError;
use crate::resources::kit::s3_errors::code_is;
use crate::resources::Ctx;

/// The keys a copy into a twin is encrypted with: any of the DR region's.
pub(super) const TWIN_KEYS: &str = "{twin}arn:aws:kms:{region}:{account}:key/*";

/// A permission group (`&[Perm]`): the `$lead` perms, then what the object calls of this module
/// need, reading from `$source` objects (encrypted with `$source_keys`) and copying into
/// `$replica` objects (encrypted with [`TWIN_KEYS`]): HeadObject and GetObject on both,
/// CopyObject into the replica.
macro_rules! with_object_perms {
    ([$($lead:expr),* $(,)?], $source:expr, $replica:expr, $source_keys:expr $(,)?) => {
        &[
            $($lead,)*
            $crate::permissions::perm(
                "s3:HeadObject",
                &["s3:GetObject", "s3:GetObjectVersion"],
                &[$source, $replica],
            ),
            $crate::permissions::Perm {
                call: "s3:GetObject",
                actions: &["s3:GetObject", "s3:GetObjectVersion"],
                resources: &[$source, $replica],
                implied: &[$crate::permissions::Implied {
                    action: "kms:Decrypt",
                    resources: &[$source_keys, $crate::resources::dr::objects::TWIN_KEYS],
                    condition: None,
                }],
            },
            $crate::permissions::Perm {
                call: "s3:CopyObject",
                actions: &["s3:PutObject"],
                resources: &[$replica],
                implied: &[
                    $crate::permissions::Implied {
                        action: "s3:GetObject",
                        resources: &[$source],
                        condition: None,
                    },
                    $crate::permissions::Implied {
                        action: "s3:GetObjectVersion",
                        resources: &[$source],
                        condition: None,
                    },
                    $crate::permissions::Implied {
                        action: "kms:Decrypt",
                        resources: &[$source_keys],
                        condition: None,
                    },
                    $crate::permissions::Implied {
                        action: "kms:GenerateDataKey",
                        resources: &[$crate::resources::dr::objects::TWIN_KEYS],
                        condition: None,
                    },
                ],
            },
        ]
    };
}
pub(crate) use with_object_perms;

/// Object metadata on copies novactl makes: the source object's version id and SHA-256.
pub const META_SOURCE_VERSION: &str = "novactl-source-version";
pub const META_SOURCE_SHA256: &str = "novactl-source-sha256";
/// CopyObject copies objects up to 5 GiB.
const MAX_COPY_BYTES: i64 = 5 * 1024 * 1024 * 1024;

/// An object as HeadObject saw it.
#[derive(Debug, Clone)]
pub struct Head {
    pub version_id: String,
    pub size: i64,
    /// Stored full-object SHA-256 (base64), when the object has one.
    pub sha256: Option<String>,
    pub replication_status: Option<String>,
    pub content_type: Option<String>,
    pub metadata: HashMap<String, String>,
}

/// HeadObject (with checksums); `None` when there is no such object (or bucket).
pub async fn head(
    s3: &Client,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> Result<Option<Head>, AwsError> {
    let out = match s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version.map(str::to_string))
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => return Ok(None),
        Err(e) if code_is(&e, "NoSuchBucket") || code_is(&e, "NoSuchVersion") => return Ok(None),
        Err(e) => return Err(AwsError::from_err("s3:HeadObject", e)),
    };
    Ok(Some(Head {
        version_id: out.version_id().unwrap_or("null").to_string(),
        size: out.content_length().unwrap_or(0),
        // A composite (multipart) checksum ends in `-<parts>` and is not the object's SHA-256.
        sha256: out
            .checksum_sha256()
            .filter(|c| !c.contains('-'))
            .map(str::to_string),
        replication_status: out.replication_status().map(|s| s.as_str().to_string()),
        content_type: out.content_type().map(str::to_string),
        metadata: out.metadata().cloned().unwrap_or_default(),
    }))
}

/// SHA-256 (base64) of an object version, computed by reading it.
pub async fn compute_sha256(
    s3: &Client,
    bucket: &str,
    key: &str,
    version: &str,
) -> Result<String, AwsError> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_version_id((version != "null").then(|| version.to_string()))
        .send()
        .await
        .map_err(AwsError::from_sdk("s3:GetObject"))?;
    let mut body = out.body;
    let mut h = Sha256::new();
    while let Some(chunk) = body.try_next().await.map_err(|e| {
        AwsError::local(
            "s3:GetObject",
            "ReadError",
            format!("reading s3://{bucket}/{key}: {e}"),
        )
    })? {
        h.update(&chunk);
    }
    Ok(aws_smithy_types::base64::encode(h.finalize()))
}

/// The SHA-256 (base64) of an object version: its stored checksum, else computed. Returns the
/// checksum and how it was obtained (`stored` or `computed`).
pub async fn sha256_of(
    s3: &Client,
    bucket: &str,
    key: &str,
    h: &Head,
) -> Result<(String, &'static str), AwsError> {
    match &h.sha256 {
        Some(s) => Ok((s.clone(), "stored")),
        None => Ok((
            compute_sha256(s3, bucket, key, &h.version_id).await?,
            "computed",
        )),
    }
}

/// Does the twin's object (`twin`) hold the source version `source`?
pub fn holds(twin: &Head, source: &Head) -> bool {
    twin.version_id == source.version_id
        || twin.metadata.get(META_SOURCE_VERSION) == Some(&source.version_id)
}

/// What a verified copy rests on.
#[derive(Debug, Clone, Serialize)]
pub struct Copied {
    pub key: String,
    pub source_version: String,
    pub replica_version: String,
    pub sha256: String,
    pub sha256_source: &'static str,
}

fn encode_key(key: &str) -> String {
    urlencoding::encode(key).replace("%2F", "/")
}

/// Copies one version of `src/key` into `dst` (CopyObject in the DR region; the twin's default
/// encryption applies) and verifies that S3's SHA-256 of the copy equals the source's.
#[allow(clippy::too_many_arguments)]
pub async fn copy_verified(
    cx: &Ctx<'_>,
    src_region: &str,
    src: &str,
    key: &str,
    source: &Head,
    dst_region: &str,
    dst: &str,
) -> Result<Copied, AwsError> {
    const OP: &str = "s3:CopyObject";
    if source.size > MAX_COPY_BYTES {
        return Err(AwsError::local(
            OP,
            "ObjectTooLarge",
            format!(
                "s3://{src}/{key} is {} bytes; CopyObject copies at most 5 GiB: copy it with S3 \
                 Batch Replication, then apply again",
                source.size
            ),
        ));
    }
    let (want, how) = sha256_of(&cx.clients(src_region).s3, src, key, source).await?;
    let mut metadata = source.metadata.clone();
    metadata.insert(META_SOURCE_VERSION.into(), source.version_id.clone());
    metadata.insert(META_SOURCE_SHA256.into(), want.clone());
    let mut copy_source = format!("{src}/{}", encode_key(key));
    if source.version_id != "null" {
        copy_source.push_str(&format!("?versionId={}", source.version_id));
    }
    let out = cx
        .clients(dst_region)
        .s3
        .copy_object()
        .bucket(dst)
        .key(key)
        .copy_source(copy_source)
        .metadata_directive(MetadataDirective::Replace)
        .set_metadata(Some(metadata))
        .set_content_type(source.content_type.clone())
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .send()
        .await
        .map_err(AwsError::from_sdk(OP))?;
    let got = out
        .copy_object_result()
        .and_then(|r| r.checksum_sha256())
        .map(str::to_string);
    if got.as_deref() != Some(want.as_str()) {
        return Err(AwsError::local(
            OP,
            "ChecksumMismatch",
            format!(
                "the copy of s3://{src}/{key} into {dst} has SHA-256 {} but the source has {want}; \
                 the copy is not trusted (run apply again to retry)",
                got.unwrap_or_else(|| "(none reported)".into())
            ),
        ));
    }
    Ok(Copied {
        key: key.to_string(),
        source_version: source.version_id.clone(),
        replica_version: out.version_id().unwrap_or("null").to_string(),
        sha256: want,
        sha256_source: how,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_and_replicas_both_hold_the_source() {
        let src = Head {
            version_id: "v1".into(),
            size: 1,
            sha256: None,
            replication_status: None,
            content_type: None,
            metadata: HashMap::new(),
        };
        let replica = Head {
            version_id: "v1".into(),
            ..src.clone()
        };
        let copy = Head {
            version_id: "v9".into(),
            metadata: HashMap::from([(META_SOURCE_VERSION.to_string(), "v1".to_string())]),
            ..src.clone()
        };
        let stale = Head {
            version_id: "v0".into(),
            ..src.clone()
        };
        assert!(holds(&replica, &src), "S3 replica: same version id");
        assert!(
            holds(&copy, &src),
            "novactl copy: source version in metadata"
        );
        assert!(!holds(&stale, &src), "another version");
        assert_eq!(encode_key("models/a b+c.tar.gz"), "models/a%20b%2Bc.tar.gz");
    }
}
