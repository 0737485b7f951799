//! `novactl import s3 BUCKET`: a live bucket as a spec entry. Its encryption key becomes a
//! reference to the spec's `kms` entry (import the key first), its access-log target a
//! reference to the spec's access-log bucket; versioning, Object Ownership, lifecycle rules
//! and tags are copied. The settings novactl always applies (public access block, the
//! TLS-only policy and its delivery statements) have no keys: `apply --adopt` sets them.

use serde_json::{json, Map, Value};

use super::lifecycle::Rule;
use super::{observe_bucket, BucketState};
use crate::aws::AwsError;
use crate::resources::kit::import::{self, ImportRequest, Imported};
use crate::resources::{from_desired, tags_json, Ctx};

/// The default Object Ownership (no key needed).
const OWNER_ENFORCED: &str = "BucketOwnerEnforced";

pub(super) async fn import_bucket(
    cx: &Ctx<'_>,
    req: &ImportRequest<'_>,
) -> Result<Imported, AwsError> {
    let o = observe_bucket(cx, req.region, "s3.imported", req.id, None).await?;
    let state = o.state.ok_or_else(|| import::not_found("bucket", req.id))?;
    if state.get("versioning").is_none() {
        return Err(AwsError::local(
            "novactl:import",
            "AccessDenied",
            format!("bucket {} is not readable from this account", req.id),
        ));
    }
    let b: BucketState = from_desired("s3.imported", &state)?;
    let mut entry = Map::new();
    let mut comments = Vec::new();
    entry.insert("name".into(), json!(b.name));
    let spec_has_log_bucket = req.spec.spec.s3.values().any(|s| s.access_log_bucket);
    let mut access_log_bucket = false;
    match b.encryption.as_ref().and_then(|e| e.kms_key_arn.as_deref()) {
        Some(key) => {
            let name = import::spec_key_of(cx, req, key)
                .await?
                .ok_or_else(|| import::key_not_in_spec(key))?;
            entry.insert("kms_key".into(), json!(name));
        }
        // SSE-S3 (or none): only the access-log bucket goes without a KMS key.
        None if !spec_has_log_bucket => {
            access_log_bucket = true;
            entry.insert("access_log_bucket".into(), json!(true));
            comments.push(format!(
                "{} is not encrypted with a KMS key: it is imported as the region's access-log \
                 bucket (the only bucket the spec encrypts with SSE-S3)",
                b.name
            ));
        }
        None => {
            return Err(AwsError::local(
                "novactl:import",
                "NotKmsEncrypted",
                format!(
                    "bucket {} is not encrypted with a KMS key, and the spec already has its \
                     access-log bucket (the only one without): import the key to use, or \
                     encrypt the bucket with it, then import this again",
                    b.name
                ),
            ))
        }
    }
    if !b.versioning {
        entry.insert("versioning".into(), json!(false));
    }
    if let Some(logging) = access_logging(req, &b, spec_has_log_bucket, access_log_bucket)? {
        entry.insert("access_logging".into(), logging);
    }
    if let Some(own) = b
        .object_ownership
        .as_deref()
        .filter(|o| *o != OWNER_ENFORCED)
    {
        entry.insert("object_ownership".into(), json!(own));
    }
    if !b.lifecycle.is_empty() {
        entry.insert(
            "lifecycle".into(),
            Value::Array(b.lifecycle.iter().map(rule_entry).collect()),
        );
    }
    let tags = import::extra_tags(req.spec, &tags_json(b.tags.clone()));
    if !tags.is_empty() {
        entry.insert("tags".into(), Value::Object(tags));
    }
    Ok(Imported {
        name: import::logical_name(&b.name),
        entry,
        files: Vec::new(),
        comments,
    })
}

/// The `access_logging` key: `None` where the default (the region's access-log bucket, under
/// `<bucket name>/`, or nothing when the spec has none) is what is live.
fn access_logging(
    req: &ImportRequest<'_>,
    b: &BucketState,
    spec_has_log_bucket: bool,
    is_log_bucket: bool,
) -> Result<Option<Value>, AwsError> {
    let Some(target) = b
        .logging
        .target_bucket
        .as_deref()
        .filter(|_| b.logging.enabled)
    else {
        return Ok((spec_has_log_bucket && !is_log_bucket).then(|| json!(false)));
    };
    let what = format!("its access-log target bucket {target}");
    let name = import::spec_name_of(req, "s3", target)
        .ok_or_else(|| import::dependency_not_in_spec(&what, "s3", target))?;
    if !req.spec.spec.s3[&name].access_log_bucket {
        return Err(AwsError::local(
            "novactl:import",
            "NotAnAccessLogBucket",
            format!(
                "{what} is s3.{name}, which the spec does not mark `access_log_bucket: true`: \
                 mark it (the spec's log target must be its access-log bucket), then import \
                 this again"
            ),
        ));
    }
    let prefix = b.logging.target_prefix.clone().unwrap_or_default();
    if prefix == format!("{}/", b.name) && !is_log_bucket {
        return Ok(None);
    }
    Ok(Some(json!({"bucket": name, "prefix": prefix})))
}

/// A lifecycle rule in the spec's shape (defaults left out).
fn rule_entry(r: &Rule) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(r.id));
    if !r.prefix.is_empty() {
        m.insert("prefix".into(), json!(r.prefix));
    }
    if !r.enabled {
        m.insert("enabled".into(), json!(false));
    }
    if !r.transitions.is_empty() {
        let t: Vec<Value> = r
            .transitions
            .iter()
            .map(|t| json!({"days": t.days, "storage_class": t.storage_class}))
            .collect();
        m.insert("transitions".into(), Value::Array(t));
    }
    if let Some(d) = r.expire_days {
        m.insert("expire_days".into(), json!(d));
    }
    if let Some(d) = r.noncurrent_expire_days {
        m.insert("noncurrent_expire_days".into(), json!(d));
    }
    Value::Object(m)
}
