//! `s3.*`: a bucket with SSE-KMS default encryption, versioning, the public access block, a
//! lifecycle configuration, a TLS-only bucket policy, server access logging, Object Ownership
//! (BucketOwnerEnforced) and tags.
//!
//! # The access-log bucket
//! S3 delivers server access logs only to a target bucket whose default encryption is SSE-S3
//! (AES256), never SSE-KMS. So one bucket per region may be marked `access_log_bucket: true`:
//! it is the one bucket encrypted with SSE-S3, it names no `kms_key`, and its policy lets only
//! S3's log delivery (`logging.s3.amazonaws.com`) write, and only for this account's buckets of
//! the spec (`aws:SourceAccount`, `aws:SourceArn`), next to the TLS-only statement. Every
//! bucket of the region logs to it under `<bucket name>/` by default, the access-log bucket
//! itself included (AWS allows a bucket to be its own target; each delivery is then logged
//! too, a trickle its lifecycle rule bounds; `access_logging: false` turns it off).
//!
//! # Policy form
//! The bucket policy is written in the plain form ([`crate::policy::wire`]): one-item values
//! as scalars, e.g. `"aws:SecureTransport": "false"`, which is what scanners such as Prowler
//! read. It is compared in that form too, so a bucket carrying the list form `["false"]` (from
//! an earlier version) shows `policy` drift and apply rewrites it.
//!
//! # Ownership
//! A bucket name is global, so the spec's name may already belong to someone else. `observe`
//! reads the bucket's tags and reports any bucket that is not tagged with this address and
//! environment as [`Owner::Foreign`]; it never writes. `create` treats "already exists" as
//! success only for a bucket that carries our tags, and `delete` refuses a foreign bucket.
//!
//! # Crash safety
//! The ownership tags are written right after CreateBucket, before any other setting. A run
//! that dies between the two leaves an untagged bucket, which the next plan reports as a
//! conflict; `apply --adopt s3.<name>` takes it over. (In us-east-1 AWS answers a repeated
//! CreateBucket from the owning account with 200, so `create` cannot tell such a bucket from
//! its own; it relies on `observe` having reported the name free.) Elsewhere a resent
//! CreateBucket (its first answer lost) meets `BucketAlreadyOwnedByYou`; a bucket with no tag
//! set at that moment is the call's own ([`crate::aws::Attempts`] says it was resent).
//!
//! # Errors matched by code
//! The S3 model declares no typed errors for missing bucket configuration
//! (`NoSuchTagSet`, `ServerSideEncryptionConfigurationNotFoundError`,
//! `NoSuchPublicAccessBlockConfiguration`, `NoSuchLifecycleConfiguration`,
//! `NoSuchBucketPolicy`) nor for `NoSuchBucket` on most operations, so those are matched by
//! their AWS error `code()`. Where a typed check exists (`HeadBucket` not found, CreateBucket's
//! `BucketAlreadyExists` / `BucketAlreadyOwnedByYou`) it is used.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, BucketLoggingStatus,
    BucketVersioningStatus, CreateBucketConfiguration, Delete, ExpirationStatus,
    LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, LoggingEnabled,
    NoncurrentVersionExpiration, ObjectIdentifier, ObjectOwnership, OwnershipControls,
    OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging, TransitionStorageClass, VersioningConfiguration,
};
use aws_sdk_s3::Client;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{
    desired_tags, from_desired, owner_from_tags, tags_json, Ctx, Decl, DeleteTarget, Found,
    Observed, Owner, Reconciler,
};
use crate::aws::{Attempts, AwsError};
use crate::permissions::{perm, Perm};
use crate::resources::kind::{Deletion, KindInfo, Names};
use crate::spec::model::{AccessLogging, Bucket};
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

/// What the engine knows of `s3` (see [`KindInfo`]).
pub const INFO: KindInfo = KindInfo {
    kind: "s3",
    section: "s3",
    section_in_context: false,
    names: Names::Global,
    deletion: Deletion::Immediate,
    protect: |s, n| s.s3.get(n).and_then(|r| r.protect),
    sensitive: crate::resources::kind::no_sensitive,
};

/// Every AWS call this kind makes and what IAM must allow for it (see [`crate::permissions`]).
/// Discovery reads the tags of every bucket in the account (to find ours that left the spec).
pub const PERMISSIONS: &[Perm] = &[
    perm("s3:ListBuckets", &["s3:ListAllMyBuckets"], &["*"]),
    perm("s3:HeadBucket", &["s3:ListBucket"], &[BUCKET]),
    perm("s3:GetBucketLocation", &["s3:GetBucketLocation"], &[BUCKET]),
    perm("s3:CreateBucket", &["s3:CreateBucket"], &[BUCKET]),
    perm("s3:DeleteBucket", &["s3:DeleteBucket"], &[BUCKET]),
    perm(
        "s3:GetBucketEncryption",
        &["s3:GetEncryptionConfiguration"],
        &[BUCKET],
    ),
    perm(
        "s3:PutBucketEncryption",
        &["s3:PutEncryptionConfiguration"],
        &[BUCKET],
    ),
    perm(
        "s3:GetBucketVersioning",
        &["s3:GetBucketVersioning"],
        &[BUCKET],
    ),
    perm(
        "s3:PutBucketVersioning",
        &["s3:PutBucketVersioning"],
        &[BUCKET],
    ),
    perm(
        "s3:GetPublicAccessBlock",
        &["s3:GetBucketPublicAccessBlock"],
        &[BUCKET],
    ),
    perm(
        "s3:PutPublicAccessBlock",
        &["s3:PutBucketPublicAccessBlock"],
        &[BUCKET],
    ),
    perm(
        "s3:GetBucketLifecycleConfiguration",
        &["s3:GetLifecycleConfiguration"],
        &[BUCKET],
    ),
    perm(
        "s3:PutBucketLifecycleConfiguration",
        &["s3:PutLifecycleConfiguration"],
        &[BUCKET],
    ),
    perm(
        "s3:DeleteBucketLifecycle",
        &["s3:PutLifecycleConfiguration"],
        &[BUCKET],
    ),
    perm("s3:GetBucketPolicy", &["s3:GetBucketPolicy"], &[BUCKET]),
    perm("s3:PutBucketPolicy", &["s3:PutBucketPolicy"], &[BUCKET]),
    perm(
        "s3:GetBucketTagging",
        &["s3:GetBucketTagging"],
        &["arn:aws:s3:::*"],
    ),
    perm("s3:PutBucketTagging", &["s3:PutBucketTagging"], &[BUCKET]),
    perm("s3:GetBucketLogging", &["s3:GetBucketLogging"], &[BUCKET]),
    perm("s3:PutBucketLogging", &["s3:PutBucketLogging"], &[BUCKET]),
    perm(
        "s3:GetBucketOwnershipControls",
        &["s3:GetBucketOwnershipControls"],
        &[BUCKET],
    ),
    perm(
        "s3:PutBucketOwnershipControls",
        &["s3:PutBucketOwnershipControls"],
        &[BUCKET],
    ),
    perm(
        "s3:ListObjectVersions",
        &["s3:ListBucketVersions"],
        &[BUCKET],
    ),
    perm(
        "s3:DeleteObjects",
        &["s3:DeleteObject", "s3:DeleteObjectVersion"],
        &[OBJECTS],
    ),
];
const BUCKET: &str = "arn:aws:s3:::{id}";
const OBJECTS: &str = "arn:aws:s3:::{id}/*";

pub struct S3;

/// Storage classes a lifecycle transition may name.
pub const STORAGE_CLASSES: &[&str] = &[
    "GLACIER",
    "GLACIER_IR",
    "DEEP_ARCHIVE",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
];

/// Object Ownership settings S3 accepts.
pub const OBJECT_OWNERSHIP: &[&str] = &[
    "BucketOwnerEnforced",
    "BucketOwnerPreferred",
    "ObjectWriter",
];

/// The service principal S3 server access logs are delivered by.
pub const LOG_DELIVERY: &str = "logging.s3.amazonaws.com";

/// The region S3 reports as an empty location constraint.
const US_EAST_1: &str = "us-east-1";

/// Concurrent GetBucketTagging calls in `discover`.
const DISCOVER_CONCURRENCY: usize = 16;

/// DeleteObjects accepts at most 1000 keys per call; ListObjectVersions returns at most 1000.
const DELETE_BATCH: i32 = 1000;

#[derive(Debug, Clone, Deserialize)]
struct Desired {
    name: String,
    region: String,
    encryption: Encryption,
    versioning: bool,
    public_access_block: PublicAccessBlock,
    lifecycle: Vec<Rule>,
    policy: Value,
    logging: Logging,
    object_ownership: Option<String>,
    tags: BTreeMap<String, String>,
}

/// Server access logging as both the spec and GetBucketLogging are reduced to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Logging {
    enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target_bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target_prefix: Option<String>,
}

impl Logging {
    const OFF: Logging = Logging {
        enabled: false,
        target_bucket: None,
        target_prefix: None,
    };
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Encryption {
    algorithm: String,
    kms_key_arn: Option<String>,
    bucket_key: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct PublicAccessBlock {
    block_public_acls: bool,
    ignore_public_acls: bool,
    block_public_policy: bool,
    restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    const ALL: PublicAccessBlock = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };
    const NONE: PublicAccessBlock = PublicAccessBlock {
        block_public_acls: false,
        ignore_public_acls: false,
        block_public_policy: false,
        restrict_public_buckets: false,
    };
}

/// A lifecycle rule in the one shape both the spec and AWS's answer are reduced to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Rule {
    id: String,
    prefix: String,
    enabled: bool,
    expire_days: Option<i32>,
    /// Sorted by days.
    transitions: Vec<RuleTransition>,
    noncurrent_expire_days: Option<i32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct RuleTransition {
    days: i32,
    storage_class: String,
}

#[async_trait]
impl Reconciler for S3 {
    fn permissions(&self) -> &'static [&'static [Perm]] {
        &[
            PERMISSIONS,
            super::replication::PERMISSIONS,
            super::iam::OWNED_ROLE,
        ]
    }

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn decls(&self, spec: &LoadedSpec, r: &Renderer) -> Result<Vec<Decl>, SpecError> {
        let mut out = Vec::new();
        for (name, b) in &spec.spec.s3 {
            let path = format!("s3.{name}");
            let bucket = r.str(&format!("{path}.name"), &b.name)?;
            if let Err(why) = check_bucket_name(&bucket) {
                return Err(spec.error(
                    &format!("{path}.name"),
                    format!("`{bucket}` is not a valid S3 bucket name: {why}"),
                ));
            }
            let mut deps = Vec::new();
            if b.access_log_bucket {
                if !b.kms_key.is_empty() {
                    return Err(spec.error(
                        &format!("{path}.kms_key"),
                        "an access-log bucket names no kms_key: S3 delivers server access logs \
                         only to a bucket encrypted with SSE-S3 (AES256), so this one bucket is",
                    ));
                }
                if let Some((other, _)) = spec
                    .spec
                    .s3
                    .iter()
                    .find(|(n, o)| o.access_log_bucket && n.as_str() < name.as_str())
                {
                    return Err(spec.error(
                        &format!("{path}.access_log_bucket"),
                        format!(
                            "s3.{other} is already the access-log bucket of {}: one per region",
                            spec.spec.region
                        ),
                    ));
                }
            } else if b.kms_key.is_empty() {
                return Err(spec.error(
                    &format!("{path}.kms_key"),
                    "is required: the logical name of the `kms` key for SSE-KMS default \
                     encryption (only an `access_log_bucket: true` bucket goes without)",
                ));
            } else if !spec.spec.kms.contains_key(&b.kms_key) {
                let defined: Vec<&str> = spec.spec.kms.keys().map(String::as_str).collect();
                let defined = if defined.is_empty() {
                    "none".to_string()
                } else {
                    defined.join(", ")
                };
                return Err(spec.error(
                    &format!("{path}.kms_key"),
                    format!("no kms key `{}`; defined keys: {defined}", b.kms_key),
                ));
            } else {
                deps.push(format!("kms.{}", b.kms_key));
            }
            if !OBJECT_OWNERSHIP.contains(&b.object_ownership.as_str()) {
                return Err(spec.error(
                    &format!("{path}.object_ownership"),
                    format!(
                        "`{}` is not an Object Ownership setting; use one of {}",
                        b.object_ownership,
                        OBJECT_OWNERSHIP.join(", ")
                    ),
                ));
            }
            if let Some(target) = log_target_name(spec, name)? {
                if &target != name {
                    deps.push(format!("s3.{target}"));
                }
            }
            check_lifecycle(spec, &path, b)?;
            out.push(Decl {
                address: path.clone(),
                kind: "s3",
                name: name.clone(),
                spec_path: path.clone(),
                region: spec.spec.region.clone(),
                identity: bucket.clone(),
                identity_key: format!("{path}.name"),
                deps,
                outputs: outputs(&bucket),
                template_files: Vec::new(),
            });
        }
        // The state backend's bucket is its own, never one of the spec's.
        if let Some(b) = spec
            .spec
            .state
            .as_ref()
            .and_then(|s| s.s3.as_ref())
            .map(|s| &s.bucket)
        {
            if out.iter().any(|d| &d.identity == b) {
                return Err(spec.error(
                    "state.s3.bucket",
                    format!(
                        "`{b}` is also a bucket of the spec (s3.*); the state bucket must be its own"
                    ),
                ));
            }
        }
        Ok(out)
    }

    fn desired(&self, spec: &LoadedSpec, decl: &Decl, r: &Renderer) -> Result<Value, SpecError> {
        let b = &spec.spec.s3[&decl.name];
        let path = &decl.spec_path;
        let account = crate::resources::kit::refs::account(r);
        let encryption = if b.access_log_bucket {
            Encryption {
                algorithm: ServerSideEncryption::Aes256.as_str().to_string(),
                kms_key_arn: None,
                bucket_key: false,
            }
        } else {
            Encryption {
                algorithm: ServerSideEncryption::AwsKms.as_str().to_string(),
                kms_key_arn: Some(r.str(
                    &format!("{path}.kms_key"),
                    &format!("{{{{ kms.{}.arn }}}}", b.kms_key),
                )?),
                bucket_key: true,
            }
        };
        let lifecycle: Vec<Rule> = b.lifecycle.iter().map(rule_from_spec).collect();
        // A twin (rendered in the DR view, see `dr`) logs to the twin of its primary's log
        // target (S3 delivers access logs only within a region); an access-log twin receives
        // the logs of the twins; a twin receives no CloudTrail deliveries.
        let twin = super::dr::is_twin(&decl.address);
        let in_view = |n: &str| !twin || super::dr::replicated_bucket(&spec.spec, n);
        // In the DR view `s3.<n>.name` is the twin's name.
        let name_of = |n: &str| {
            let key = format!("s3.{n}.name");
            if twin {
                r.str(&key, &format!("{{{{ s3.{n}.name }}}}"))
            } else {
                r.str(&key, &spec.spec.s3[n].name)
            }
        };
        let logging = match log_target_name(spec, &decl.name)? {
            Some(target) if in_view(&target) => Logging {
                enabled: true,
                target_bucket: Some(name_of(&target)?),
                target_prefix: Some(log_prefix(b, &decl.identity)),
            },
            _ => Logging::OFF,
        };
        // TLS-only, CloudTrail's delivery statements for every trail on this bucket, and on
        // the access-log bucket S3's log delivery for the buckets that log to it.
        let mut extra = if twin {
            Vec::new()
        } else {
            super::cloudtrail::delivery_statements(&spec.spec, &decl.name, &decl.identity, &account)
        };
        if b.access_log_bucket {
            let mut sources = Vec::new();
            for n in spec.spec.s3.keys() {
                if in_view(n) && log_target_name(spec, n)?.as_deref() == Some(decl.name.as_str()) {
                    sources.push(bucket_arn(&name_of(n)?));
                }
            }
            extra.push(log_delivery_statement(&decl.identity, &account, &sources));
        }
        let mut d = json!({
            "name": decl.identity,
            "region": decl.region,
            "encryption": encryption,
            "versioning": b.versioning,
            "public_access_block": PublicAccessBlock::ALL,
            "lifecycle": lifecycle,
            "policy": bucket_policy(&decl.identity, &extra),
            "logging": logging,
            "object_ownership": b.object_ownership,
            "tags": desired_tags(spec, &decl.address, &b.tags),
        });
        if twin {
            super::replication::twin_desired(spec, decl, r, &mut d)?;
        }
        Ok(d)
    }

    fn replace_on(&self) -> &'static [&'static str] {
        &["region"]
    }

    async fn observe(&self, cx: &Ctx<'_>, decl: &Decl) -> Result<Observed, AwsError> {
        let mut o = observe_bucket(cx, &decl.region, &decl.address, &decl.identity).await?;
        if super::dr::is_twin(&decl.address) {
            super::replication::observe_twin(cx, decl, &mut o).await?;
        }
        Ok(o)
    }

    async fn create(&self, cx: &Ctx<'_>, decl: &Decl, desired: &Value) -> Result<Value, AwsError> {
        let d: Desired = from_desired(&decl.address, desired)?;
        let s3 = &cx.clients(&decl.region).s3;
        let mut req = s3.create_bucket().bucket(&d.name);
        if d.region != US_EAST_1 {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(d.region.as_str()))
                    .build(),
            );
        }
        let tries = Attempts::default();
        let existed = match req.customize().interceptor(tries.clone()).send().await {
            Ok(_) => false,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_bucket_already_owned_by_you()) =>
            {
                // Ours if it carries our tags, or if it has none and this very call was sent
                // again after a lost answer (the lost attempt made it; tags come next).
                // Anything else in this account is left alone.
                let tags = bucket_tags(s3, &d.name).await?;
                let own_attempt = tries.retried() && tags.is_none();
                let tags = tags.unwrap_or_else(|| json!({}));
                if let (Owner::Foreign { reason }, false) = (
                    owner_from_tags(&tags, &decl.address, cx.environment),
                    own_attempt,
                ) {
                    return Err(AwsError::local(
                        "s3:CreateBucket",
                        "BucketAlreadyOwnedByYou",
                        format!(
                            "bucket {} already exists in this account and is not {}'s: {reason}; \
                             adopt it with `--adopt {}` or choose another name",
                            d.name, decl.address, decl.address
                        ),
                    ));
                }
                !own_attempt
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_bucket_already_exists()) =>
            {
                return Err(AwsError::local(
                    "s3:CreateBucket",
                    "BucketAlreadyExists",
                    format!(
                        "bucket name {} is taken by another AWS account; choose another name",
                        d.name
                    ),
                ));
            }
            Err(e) => return Err(AwsError::from_err("s3:CreateBucket", e)),
        };
        crate::faults::point("s3.after_create_bucket", &decl.address)?;
        // Tags first: they record ownership.
        put_tags(s3, &d).await?;
        put_public_access_block(s3, &d).await?;
        put_ownership(s3, &d).await?;
        put_encryption(s3, &d).await?;
        // A new bucket is unversioned; "Suspended" would be a needless (and one-way) change.
        if d.versioning || existed {
            put_versioning(s3, &d).await?;
        }
        if !d.lifecycle.is_empty() || existed {
            put_lifecycle(s3, &d).await?;
        }
        put_policy(s3, &d).await?;
        // After the policy: a bucket that is its own log target must allow delivery first.
        if d.logging.enabled || existed {
            put_logging(s3, &d).await?;
        }
        if super::dr::is_twin(&decl.address) {
            super::replication::converge_twin(cx, decl, desired, None).await?;
        }
        Ok(outputs(&d.name))
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
        if changed.iter().any(|c| c == "region") {
            return Err(AwsError::local(
                "s3:UpdateBucket",
                "RequiresReplacement",
                format!(
                    "bucket {} is in {}; a bucket cannot move to {} without being replaced",
                    d.name,
                    observed
                        .state
                        .as_ref()
                        .map_or(&Value::Null, |s| &s["region"]),
                    d.region
                ),
            ));
        }
        // A foreign bucket reaches update only when the user adopts it (`--adopt`): the engine
        // plans a conflict otherwise. Its tags then differ, and are written first.
        let s3 = &cx.clients(&decl.region).s3;
        // Tags first, as in create; then in the order create uses.
        let order = [
            "tags",
            "public_access_block",
            "object_ownership",
            "encryption",
            "versioning",
            "lifecycle",
            "policy",
            "logging",
        ];
        for attr in order.iter().filter(|a| changed.iter().any(|c| c == *a)) {
            match *attr {
                "tags" => put_tags(s3, &d).await?,
                "public_access_block" => put_public_access_block(s3, &d).await?,
                "object_ownership" => put_ownership(s3, &d).await?,
                "logging" => put_logging(s3, &d).await?,
                "encryption" => put_encryption(s3, &d).await?,
                "versioning" => put_versioning(s3, &d).await?,
                "lifecycle" => put_lifecycle(s3, &d).await?,
                "policy" => put_policy(s3, &d).await?,
                _ => unreachable!("listed above"),
            }
        }
        if super::dr::is_twin(&decl.address) {
            super::replication::converge_twin(cx, decl, desired, Some(changed)).await?;
        }
        Ok(outputs(&d.name))
    }

    async fn delete(&self, cx: &Ctx<'_>, t: &DeleteTarget<'_>) -> Result<(), AwsError> {
        let name = t.observed.physical_id.as_str();
        if t.observed.owner != Owner::Ours {
            return Err(not_ours("s3:DeleteBucket", name, &t.observed.owner));
        }
        let s3 = &cx.clients(t.region).s3;
        let Some(empty) = is_empty(s3, name).await? else {
            return Ok(());
        };
        if !empty && !t.force {
            return Err(AwsError::local(
                "s3:DeleteBucket",
                "BucketNotEmpty",
                not_empty_text(name),
            ));
        }
        if super::dr::is_twin(&t.observed.address) {
            // Nothing may replicate into the twin any more: the rule and its role go first.
            super::replication::delete_twin(cx, &t.observed.address, t.observed).await?;
        }
        if !empty {
            empty_bucket(s3, name).await?;
        }
        match s3.delete_bucket().bucket(name).send().await {
            Ok(_) => Ok(()),
            Err(e) if code_is(&e, "NoSuchBucket") => Ok(()),
            Err(e) => Err(AwsError::from_err("s3:DeleteBucket", e)),
        }
    }

    async fn refuse_delete(
        &self,
        cx: &Ctx<'_>,
        t: &DeleteTarget<'_>,
    ) -> Result<Option<String>, AwsError> {
        let name = t.observed.physical_id.as_str();
        if t.observed.owner != Owner::Ours {
            return Ok(Some(
                not_ours("s3:DeleteBucket", name, &t.observed.owner).message,
            ));
        }
        if t.force {
            return Ok(None);
        }
        let s3 = &cx.clients(t.region).s3;
        Ok(match is_empty(s3, name).await? {
            Some(false) => Some(not_empty_text(name)),
            _ => None,
        })
    }

    fn tagging_types(&self) -> &'static [&'static str] {
        &["s3:bucket"]
    }

    async fn discover_found(
        &self,
        cx: &Ctx<'_>,
        region: &str,
        found: Vec<Found>,
    ) -> Result<Vec<Observed>, AwsError> {
        let observed: Vec<Observed> = stream::iter(found)
            .filter(|f| std::future::ready(!cx.in_spec("s3", f.name())))
            .map(|f| async move { observe_bucket(cx, region, &f.address, f.name()).await })
            .buffer_unordered(DISCOVER_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(observed
            .into_iter()
            .filter(|o| still_ours_here(o, region))
            .collect())
    }

    async fn discover(&self, cx: &Ctx<'_>, region: &str) -> Result<Vec<Observed>, AwsError> {
        let s3 = &cx.clients(region).s3;
        let mut names = Vec::new();
        let mut pages = s3
            .list_buckets()
            .bucket_region(region)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(AwsError::from_sdk("s3:ListBuckets"))?;
            names.extend(
                page.buckets()
                    .iter()
                    // An endpoint that ignores the region filter still names each bucket's
                    // region; one that names none is checked by location below.
                    .filter(|b| b.bucket_region().is_none_or(|r| r == region))
                    .filter_map(|b| b.name().map(str::to_string))
                    // The spec's own buckets are read by observe.
                    .filter(|n| !cx.in_spec("s3", n)),
            );
        }
        let tagged: Vec<(String, String)> = stream::iter(names)
            .map(|name| async move {
                match bucket_tags(s3, &name).await {
                    Ok(Some(tags)) => {
                        Ok(super::ours_of_kind(&tags, cx.environment, "s3").map(|a| (name, a)))
                    }
                    Ok(None) => Ok(None),
                    // Deleted since the listing, or not readable from here: not ours to manage.
                    Err(e)
                        if ["NoSuchBucket", "AccessDenied", "PermanentRedirect"]
                            .contains(&e.code.as_str()) =>
                    {
                        Ok(None)
                    }
                    Err(e) => Err(e),
                }
            })
            .buffer_unordered(DISCOVER_CONCURRENCY)
            .try_filter_map(|x| async move { Ok(x) })
            .try_collect()
            .await?;
        let observed: Vec<Observed> = stream::iter(tagged)
            .map(|(name, address)| async move { observe_bucket(cx, region, &address, &name).await })
            .buffer_unordered(DISCOVER_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(observed
            .into_iter()
            .filter(|o| still_ours_here(o, region))
            .collect())
    }
}

/// A discovered bucket that exists, is ours, and is located in `region` (each region's
/// discovery answers for its own buckets only).
fn still_ours_here(o: &Observed, region: &str) -> bool {
    o.owner == Owner::Ours
        && o.state
            .as_ref()
            .is_some_and(|s| s["region"].as_str() == Some(region))
}

/// The bucket policy novactl applies: deny every request that does not use TLS, plus `extra`
/// statements (a CloudTrail trail's delivery statements, for instance). Returned normalised
/// (see [`crate::policy::normalize`]), ready to diff against what `observe` reads back.
pub fn bucket_policy(bucket: &str, extra: &[Value]) -> Value {
    let arn = bucket_arn(bucket);
    let mut statements = vec![json!({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn, format!("{arn}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    })];
    statements.extend(extra.iter().cloned());
    crate::policy::wire(&json!({
        "Version": "2012-10-17",
        "Statement": statements,
    }))
}

/// The access-log bucket's statement: only S3's log delivery writes, and only for `sources`
/// (bucket ARNs) of `account`.
fn log_delivery_statement(bucket: &str, account: &str, sources: &[String]) -> Value {
    json!({
        "Sid": "S3ServerAccessLogsDelivery",
        "Effect": "Allow",
        "Principal": {"Service": LOG_DELIVERY},
        "Action": "s3:PutObject",
        "Resource": format!("{}/*", bucket_arn(bucket)),
        "Condition": {
            "ArnLike": {"aws:SourceArn": sources},
            "StringEquals": {"aws:SourceAccount": account},
        },
    })
}

/// The logical name of the access-log bucket `logical` logs to, or `None` when it does not log
/// (turned off, or the region has no access-log bucket). Checks an explicit target.
pub fn log_target_name(spec: &LoadedSpec, logical: &str) -> Result<Option<String>, SpecError> {
    let b = &spec.spec.s3[logical];
    let default = || {
        spec.spec
            .s3
            .iter()
            .find(|(_, o)| o.access_log_bucket)
            .map(|(n, _)| n.clone())
    };
    match &b.access_logging {
        // An access-log bucket does not log to itself by default: every log object written
        // would be logged again (AWS advises against it), and it could never be emptied.
        None | Some(AccessLogging::Enabled(true)) if b.access_log_bucket => Ok(None),
        None | Some(AccessLogging::Enabled(true)) => Ok(default()),
        Some(AccessLogging::Enabled(false)) => Ok(None),
        Some(AccessLogging::Target(t)) => match spec.spec.s3.get(&t.bucket) {
            Some(target) if target.access_log_bucket => Ok(Some(t.bucket.clone())),
            _ => {
                let marked: Vec<&str> = spec
                    .spec
                    .s3
                    .iter()
                    .filter(|(_, o)| o.access_log_bucket)
                    .map(|(n, _)| n.as_str())
                    .collect();
                Err(spec.error(
                    &format!("s3.{logical}.access_logging.bucket"),
                    format!(
                        "`{}` is not an access-log bucket of the spec (marked \
                         `access_log_bucket: true`: {})",
                        t.bucket,
                        if marked.is_empty() {
                            "none".to_string()
                        } else {
                            marked.join(", ")
                        }
                    ),
                ))
            }
        },
    }
}

fn log_prefix(b: &Bucket, bucket_name: &str) -> String {
    match &b.access_logging {
        Some(AccessLogging::Target(t)) if t.prefix.is_some() => {
            t.prefix.clone().unwrap_or_default()
        }
        _ => format!("{bucket_name}/"),
    }
}

pub fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

fn outputs(bucket: &str) -> Value {
    json!({"name": bucket, "arn": bucket_arn(bucket)})
}

/// S3's naming rules for general purpose buckets; the reason when `name` breaks one.
pub fn check_bucket_name(name: &str) -> Result<(), String> {
    if !(3..=63).contains(&name.len()) {
        return Err(format!(
            "it has {} characters; 3 to 63 are allowed",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        return Err(format!(
            "`{c}` is not allowed; use lowercase letters, digits, dots and hyphens"
        ));
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !alnum(name.chars().next()) || !alnum(name.chars().last()) {
        return Err("it must begin and end with a letter or digit".into());
    }
    if name.contains("..") {
        return Err("it must not contain two adjacent dots".into());
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err("it must not look like an IP address".into());
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return Err(format!("the prefix `{prefix}` is reserved by AWS"));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            return Err(format!("the suffix `{suffix}` is reserved by AWS"));
        }
    }
    Ok(())
}

fn check_lifecycle(spec: &LoadedSpec, path: &str, b: &Bucket) -> Result<(), SpecError> {
    let mut ids = BTreeSet::new();
    for (i, rule) in b.lifecycle.iter().enumerate() {
        let at = |key: &str| format!("{path}.lifecycle.{i}.{key}");
        if rule.id.is_empty() || rule.id.len() > 255 {
            return Err(spec.error(&at("id"), "a rule id must have 1 to 255 characters"));
        }
        if !ids.insert(rule.id.as_str()) {
            return Err(spec.error(
                &at("id"),
                format!("duplicate lifecycle rule id `{}`", rule.id),
            ));
        }
        if let Some(d) = rule.expire_days {
            if d <= 0 {
                return Err(spec.error(
                    &at("expire_days"),
                    format!("{d} is not a number of days; it must be greater than 0"),
                ));
            }
        }
        if let Some(d) = rule.noncurrent_expire_days {
            if d <= 0 {
                return Err(spec.error(
                    &at("noncurrent_expire_days"),
                    format!("{d} is not a number of days; it must be greater than 0"),
                ));
            }
        }
        let mut classes = BTreeSet::new();
        for (j, t) in rule.transitions.iter().enumerate() {
            let tat = |key: &str| at(&format!("transitions.{j}.{key}"));
            if t.days <= 0 {
                return Err(spec.error(
                    &tat("days"),
                    format!(
                        "{} is not a number of days; it must be greater than 0",
                        t.days
                    ),
                ));
            }
            if !STORAGE_CLASSES.contains(&t.storage_class.as_str()) {
                return Err(spec.error(
                    &tat("storage_class"),
                    format!(
                        "`{}` is not a transition storage class; use one of {}",
                        t.storage_class,
                        STORAGE_CLASSES.join(", ")
                    ),
                ));
            }
            if !classes.insert(t.storage_class.as_str()) {
                return Err(spec.error(
                    &tat("storage_class"),
                    format!("two transitions to {} in one rule", t.storage_class),
                ));
            }
            if matches!(t.storage_class.as_str(), "STANDARD_IA" | "ONEZONE_IA") && t.days < 30 {
                return Err(spec.error(
                    &tat("days"),
                    format!(
                        "S3 moves objects to {} after 30 days at the earliest",
                        t.storage_class
                    ),
                ));
            }
            if let Some(e) = rule.expire_days {
                if e <= t.days {
                    return Err(spec.error(
                        &at("expire_days"),
                        format!(
                            "objects expire after {e} days, not after the transition to {} \
                             at {} days; S3 requires expiry to come later",
                            t.storage_class, t.days
                        ),
                    ));
                }
            }
        }
        if rule.expire_days.is_none()
            && rule.transitions.is_empty()
            && rule.noncurrent_expire_days.is_none()
        {
            return Err(spec.error(
                &format!("{path}.lifecycle.{i}"),
                "the rule does nothing: give it expire_days, transitions or noncurrent_expire_days",
            ));
        }
    }
    Ok(())
}

fn rule_from_spec(r: &crate::spec::model::LifecycleRule) -> Rule {
    let mut transitions: Vec<RuleTransition> = r
        .transitions
        .iter()
        .map(|t| RuleTransition {
            days: t.days,
            storage_class: t.storage_class.clone(),
        })
        .collect();
    transitions.sort_by(|a, b| (a.days, &a.storage_class).cmp(&(b.days, &b.storage_class)));
    Rule {
        id: r.id.clone(),
        prefix: r.prefix.clone(),
        enabled: r.enabled,
        expire_days: r.expire_days,
        transitions,
        noncurrent_expire_days: r.noncurrent_expire_days,
    }
}

fn rule_from_aws(r: &LifecycleRule) -> Rule {
    #[allow(deprecated)] // the rule-level Prefix is what older configurations use
    let prefix = r
        .filter()
        .and_then(|f| f.prefix())
        .or(r.prefix())
        .unwrap_or_default()
        .to_string();
    let mut transitions: Vec<RuleTransition> = r
        .transitions()
        .iter()
        .map(|t| RuleTransition {
            days: t.days().unwrap_or_default(),
            storage_class: t
                .storage_class()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
        })
        .collect();
    transitions.sort_by(|a, b| (a.days, &a.storage_class).cmp(&(b.days, &b.storage_class)));
    Rule {
        id: r.id().unwrap_or_default().to_string(),
        prefix,
        enabled: r.status() == &ExpirationStatus::Enabled,
        expire_days: r.expiration().and_then(|e| e.days()),
        transitions,
        noncurrent_expire_days: r
            .noncurrent_version_expiration()
            .and_then(|n| n.noncurrent_days()),
    }
}

fn rule_to_aws(r: &Rule) -> Result<LifecycleRule, AwsError> {
    let mut b = LifecycleRule::builder()
        .id(&r.id)
        .filter(LifecycleRuleFilter::builder().prefix(&r.prefix).build())
        .status(if r.enabled {
            ExpirationStatus::Enabled
        } else {
            ExpirationStatus::Disabled
        });
    if let Some(days) = r.expire_days {
        b = b.expiration(LifecycleExpiration::builder().days(days).build());
    }
    for t in &r.transitions {
        b = b.transitions(
            aws_sdk_s3::types::Transition::builder()
                .days(t.days)
                .storage_class(TransitionStorageClass::from(t.storage_class.as_str()))
                .build(),
        );
    }
    if let Some(days) = r.noncurrent_expire_days {
        b = b.noncurrent_version_expiration(
            NoncurrentVersionExpiration::builder()
                .noncurrent_days(days)
                .build(),
        );
    }
    b.build()
        .map_err(|e| build_error("s3:PutBucketLifecycleConfiguration", e))
}

pub(crate) fn build_error(op: &str, e: impl std::fmt::Display) -> AwsError {
    AwsError::local(op, "InternalError", format!("request does not build: {e}"))
}

/// Does this SDK error carry the AWS error code `code`? Used only where the S3 model has no
/// typed error for the case (see the module docs).
pub(crate) fn code_is<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>, code: &str) -> bool {
    e.as_service_error().and_then(|se| se.code()) == Some(code)
}

fn not_ours(op: &str, bucket: &str, owner: &Owner) -> AwsError {
    let reason = match owner {
        Owner::Foreign { reason } => reason.as_str(),
        Owner::Ours => "",
    };
    AwsError::local(
        op,
        "NotOwned",
        format!("bucket {bucket} is not novactl's ({reason}); refusing to change it"),
    )
}

/// Does the bucket hold no object version or delete marker? `None` when it is gone.
async fn is_empty(s3: &Client, name: &str) -> Result<Option<bool>, AwsError> {
    match s3
        .list_object_versions()
        .bucket(name)
        .max_keys(1)
        .send()
        .await
    {
        Ok(out) => Ok(Some(
            out.versions().is_empty() && out.delete_markers().is_empty(),
        )),
        Err(e) if code_is(&e, "NoSuchBucket") => Ok(None),
        Err(e) => Err(AwsError::from_err("s3:ListObjectVersions", e)),
    }
}

fn not_empty_text(name: &str) -> String {
    format!(
        "bucket {name} is not empty; destroy refuses to delete data without --force (or empty \
         the bucket first)"
    )
}

/// Reads a bucket's state. Never writes, whoever owns the bucket.
async fn observe_bucket(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
    name: &str,
) -> Result<Observed, AwsError> {
    let s3 = &cx.clients(region).s3;
    // HeadBucket names the bucket's region (x-amz-bucket-region): no GetBucketLocation needed.
    let head_region = match s3.head_bucket().bucket(name).send().await {
        Ok(out) => out.bucket_region().map(str::to_string),
        Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => {
            return Ok(Observed::absent(address));
        }
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            let located = e
                .raw_response()
                .and_then(|r| r.headers().get("x-amz-bucket-region"))
                .map(str::to_string);
            return match (status, located) {
                (Some(403), _) => Ok(Observed {
                    address: address.to_string(),
                    physical_id: name.to_string(),
                    state: Some(json!({"name": name})),
                    owner: Owner::Foreign {
                        reason: "the name belongs to a bucket this account cannot read \
                                 (another AWS account's)"
                            .into(),
                    },
                    outputs: outputs(name),
                }),
                (Some(301), Some(other)) => Err(AwsError::local(
                    "s3:HeadBucket",
                    "PermanentRedirect",
                    format!("bucket {name} exists in {other}, not in {region}"),
                )),
                _ => Err(AwsError::from_err("s3:HeadBucket", e)),
            };
        }
    };
    let (
        tags,
        encryption,
        versioning,
        pab,
        lifecycle,
        policy,
        location,
        logging,
        ownership,
        replication,
    ) = tokio::try_join!(
        async {
            bucket_tags(s3, name)
                .await
                .map(|t| t.unwrap_or_else(|| json!({})))
        },
        async {
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
        },
        async {
            s3.get_bucket_versioning()
                .bucket(name)
                .send()
                .await
                .map(|o| o.status() == Some(&BucketVersioningStatus::Enabled))
                .map_err(AwsError::from_sdk("s3:GetBucketVersioning"))
        },
        async {
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
        },
        async {
            match s3
                .get_bucket_lifecycle_configuration()
                .bucket(name)
                .send()
                .await
            {
                Ok(out) => Ok(out.rules().iter().map(rule_from_aws).collect::<Vec<_>>()),
                Err(e) if code_is(&e, "NoSuchLifecycleConfiguration") => Ok(Vec::new()),
                Err(e) => Err(AwsError::from_err("s3:GetBucketLifecycleConfiguration", e)),
            }
        },
        async {
            match s3.get_bucket_policy().bucket(name).send().await {
                Ok(out) => Ok(out.policy().map(crate::policy::parse_returned_exact)),
                Err(e) if code_is(&e, "NoSuchBucketPolicy") => Ok(None),
                Err(e) => Err(AwsError::from_err("s3:GetBucketPolicy", e)),
            }
        },
        async {
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
        },
        async {
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
        },
        async {
            match s3.get_bucket_ownership_controls().bucket(name).send().await {
                Ok(out) => Ok(out
                    .ownership_controls()
                    .and_then(|c| c.rules().first())
                    .map(|r| r.object_ownership().as_str().to_string())),
                Err(e) if code_is(&e, "OwnershipControlsNotFoundError") => Ok(None),
                Err(e) => Err(AwsError::from_err("s3:GetBucketOwnershipControls", e)),
            }
        },
        super::replication::read(s3, name),
    )?;
    let owner = owner_from_tags(&tags, address, cx.environment);
    Ok(Observed {
        address: address.to_string(),
        physical_id: name.to_string(),
        state: Some(json!({
            "name": name,
            "region": location,
            "encryption": encryption,
            "versioning": versioning,
            "public_access_block": pab,
            "lifecycle": lifecycle,
            "policy": policy,
            "logging": logging,
            "object_ownership": ownership,
            "tags": tags,
            // Not managed by `s3.<n>` (its desired state has no `replication`): the DR twin
            // `dr.s3.<n>` owns it. Read here so that every bucket's state shows it.
            "replication": replication,
        })),
        owner,
        outputs: outputs(name),
    })
}

/// GetBucketLocation's answer as a region name: empty means us-east-1, `EU` is eu-west-1.
fn location_region(c: Option<&BucketLocationConstraint>) -> String {
    match c.map(|c| c.as_str()) {
        None | Some("") => US_EAST_1.to_string(),
        Some("EU") => "eu-west-1".to_string(),
        Some(r) => r.to_string(),
    }
}

/// A bucket's tags as JSON; `None` when it has no tag set.
async fn bucket_tags(s3: &Client, name: &str) -> Result<Option<Value>, AwsError> {
    match s3.get_bucket_tagging().bucket(name).send().await {
        Ok(out) => Ok(Some(tags_json(
            out.tag_set()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string())),
        ))),
        Err(e) if code_is(&e, "NoSuchTagSet") => Ok(None),
        Err(e) => Err(AwsError::from_err("s3:GetBucketTagging", e)),
    }
}

async fn put_tags(s3: &Client, d: &Desired) -> Result<(), AwsError> {
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

async fn put_ownership(s3: &Client, d: &Desired) -> Result<(), AwsError> {
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
async fn put_logging(s3: &Client, d: &Desired) -> Result<(), AwsError> {
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

async fn put_public_access_block(s3: &Client, d: &Desired) -> Result<(), AwsError> {
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

async fn put_encryption(s3: &Client, d: &Desired) -> Result<(), AwsError> {
    const OP: &str = "s3:PutBucketEncryption";
    let mut by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::from(d.encryption.algorithm.as_str()));
    if let Some(arn) = &d.encryption.kms_key_arn {
        by_default = by_default.kms_master_key_id(arn);
    }
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(
            by_default.build().map_err(|e| build_error(OP, e))?,
        )
        .bucket_key_enabled(d.encryption.bucket_key)
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

async fn put_versioning(s3: &Client, d: &Desired) -> Result<(), AwsError> {
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
async fn put_lifecycle(s3: &Client, d: &Desired) -> Result<(), AwsError> {
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

async fn put_policy(s3: &Client, d: &Desired) -> Result<(), AwsError> {
    s3.put_bucket_policy()
        .bucket(&d.name)
        .policy(d.policy.to_string())
        .send()
        .await
        .map_err(AwsError::from_sdk("s3:PutBucketPolicy"))?;
    Ok(())
}

/// Deletes every object version and delete marker, a page (at most 1000) at a time.
///
/// Each round lists from the start rather than from the previous page's markers: what was
/// listed has been deleted, and a marker naming a deleted version is not a stable place to
/// resume from (moto then ends the listing early). It stops when a listing comes back empty.
async fn empty_bucket(s3: &Client, name: &str) -> Result<(), AwsError> {
    const OP: &str = "s3:DeleteObjects";
    loop {
        let page = s3
            .list_object_versions()
            .bucket(name)
            .max_keys(DELETE_BATCH)
            .send()
            .await
            .map_err(AwsError::from_sdk("s3:ListObjectVersions"))?;
        let versions = page
            .versions()
            .iter()
            .map(|v| (v.key(), v.version_id()))
            .chain(
                page.delete_markers()
                    .iter()
                    .map(|m| (m.key(), m.version_id())),
            );
        let mut objects = Vec::new();
        for (key, version) in versions {
            let Some(key) = key else { continue };
            objects.push(
                ObjectIdentifier::builder()
                    .key(key)
                    .set_version_id(version.map(str::to_string))
                    .build()
                    .map_err(|e| build_error(OP, e))?,
            );
        }
        if objects.is_empty() {
            return Ok(());
        }
        let out = s3
            .delete_objects()
            .bucket(name)
            .delete(
                Delete::builder()
                    .set_objects(Some(objects))
                    .quiet(true)
                    .build()
                    .map_err(|e| build_error(OP, e))?,
            )
            .send()
            .await
            .map_err(AwsError::from_sdk(OP))?;
        if let Some(err) = out.errors().first() {
            return Err(AwsError::local(
                OP,
                err.code().unwrap_or("Unknown"),
                format!(
                    "could not delete {} (version {}) from bucket {name}: {} ({} objects failed)",
                    err.key().unwrap_or_default(),
                    err.version_id().unwrap_or("null"),
                    err.message().unwrap_or_default(),
                    out.errors().len()
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/abc";

    fn load(yaml: &str) -> LoadedSpec {
        LoadedSpec::from_text(Path::new("t.yaml"), yaml.to_string()).expect("spec loads")
    }

    fn ctx(spec: &LoadedSpec) -> Value {
        json!({
            "environment": spec.spec.environment,
            "region": spec.spec.region,
            "account_id": "123456789012",
            "vars": spec.spec.vars,
            "kms": {"phi": {"arn": KEY_ARN}},
        })
    }

    fn decls(yaml: &str) -> Result<Vec<Decl>, SpecError> {
        let spec = load(yaml);
        let c = ctx(&spec);
        let r = Renderer::new(&spec, &c);
        S3.decls(&spec, &r)
    }

    fn desired_of(yaml: &str, logical: &str) -> Value {
        let spec = load(yaml);
        let c = ctx(&spec);
        let r = Renderer::new(&spec, &c);
        let all = S3.decls(&spec, &r).expect("decls");
        let d = all.iter().find(|d| d.name == logical).expect("decl");
        S3.desired(&spec, d, &r).expect("desired")
    }

    const BASE: &str = r#"
environment: prod
region: us-east-1
vars: { project: novamind }
tags: { Project: NOVAMIND }
kms:
  phi: { alias: alias/novamind-phi }
s3:
  models:
    name: "{{ vars.project }}-{{ environment }}-models"
    kms_key: phi
  results:
    name: "{{ vars.project }}-{{ environment }}-results"
    kms_key: phi
    versioning: false
    tags: { Data: results }
    lifecycle:
      - id: DeleteOldResults
        prefix: results/
        expire_days: 30
      - id: TransitionToGlacier
        prefix: archive/
        transitions:
          - { days: 90, storage_class: DEEP_ARCHIVE }
          - { days: 30, storage_class: GLACIER }
        expire_days: 365
"#;

    #[test]
    fn decls_render_names_deps_and_outputs() {
        let d = decls(BASE).expect("decls");
        assert_eq!(d.len(), 2);
        let m = d.iter().find(|d| d.name == "models").unwrap();
        assert_eq!(m.address, "s3.models");
        assert_eq!(m.identity, "novamind-prod-models");
        assert_eq!(m.identity_key, "s3.models.name");
        assert_eq!(m.region, "us-east-1");
        assert_eq!(m.deps, vec!["kms.phi"]);
        assert_eq!(
            m.outputs,
            json!({"name": "novamind-prod-models", "arn": "arn:aws:s3:::novamind-prod-models"})
        );
    }

    #[test]
    fn desired_has_the_full_shape() {
        let d = desired_of(BASE, "models");
        assert_eq!(
            d,
            json!({
                "name": "novamind-prod-models",
                "region": "us-east-1",
                "encryption": {"algorithm": "aws:kms", "kms_key_arn": KEY_ARN, "bucket_key": true},
                "versioning": true,
                "public_access_block": {
                    "block_public_acls": true, "ignore_public_acls": true,
                    "block_public_policy": true, "restrict_public_buckets": true,
                },
                "lifecycle": [],
                "policy": bucket_policy("novamind-prod-models", &[]),
                "logging": {"enabled": false},
                "object_ownership": "BucketOwnerEnforced",
                "tags": {
                    "Project": "NOVAMIND",
                    "novactl:address": "s3.models",
                    "novactl:environment": "prod",
                },
            })
        );
        // It decodes back into what create/update use.
        let typed: Desired = from_desired("s3.models", &d).expect("decodes");
        assert_eq!(typed.public_access_block, PublicAccessBlock::ALL);
    }

    const WITH_LOG_BUCKET: &str = r#"
environment: prod
region: us-east-1
kms:
  phi: { alias: alias/novamind-phi }
s3:
  models: { name: nm-models, kms_key: phi }
  quiet: { name: nm-quiet, kms_key: phi, access_logging: false }
  access_logs:
    name: nm-access-logs
    access_log_bucket: true
    lifecycle: [{ id: expire, expire_days: 365 }]
"#;

    #[test]
    fn every_bucket_logs_to_the_sse_s3_access_log_bucket_which_admits_only_log_delivery() {
        let m = desired_of(WITH_LOG_BUCKET, "models");
        assert_eq!(
            m["logging"],
            json!({"enabled": true, "target_bucket": "nm-access-logs", "target_prefix": "nm-models/"})
        );
        assert_eq!(m["object_ownership"], "BucketOwnerEnforced");
        assert_eq!(
            desired_of(WITH_LOG_BUCKET, "quiet")["logging"],
            json!({"enabled": false})
        );
        let l = desired_of(WITH_LOG_BUCKET, "access_logs");
        assert_eq!(
            l["encryption"],
            json!({"algorithm": "AES256", "kms_key_arn": null, "bucket_key": false})
        );
        // It does not log into itself (every log object would be logged again).
        assert_eq!(l["logging"], json!({"enabled": false}));
        let delivery = l["policy"]["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "S3ServerAccessLogsDelivery")
            .expect("log delivery statement");
        assert_eq!(
            delivery["Principal"],
            json!({"Service": "logging.s3.amazonaws.com"})
        );
        assert_eq!(delivery["Resource"], "arn:aws:s3:::nm-access-logs/*");
        assert_eq!(
            delivery["Condition"]["ArnLike"]["aws:SourceArn"],
            json!("arn:aws:s3:::nm-models"),
            "the buckets that log here, not the ones that do not (itself, quiet)"
        );
        assert_eq!(
            delivery["Condition"]["StringEquals"]["aws:SourceAccount"],
            "123456789012"
        );
        // The source buckets depend on the log bucket (its policy must exist first).
        let d = decls(WITH_LOG_BUCKET).unwrap();
        let models = d.iter().find(|d| d.name == "models").unwrap();
        assert_eq!(models.deps, vec!["kms.phi", "s3.access_logs"]);
        let logs = d.iter().find(|d| d.name == "access_logs").unwrap();
        assert!(logs.deps.is_empty(), "{:?}", logs.deps);
    }

    #[test]
    fn access_log_bucket_rules_are_located_errors() {
        let cases: &[(&str, &str, &str, &str)] = &[
            (
                "access_log_bucket: true",
                "nope",
                "s3.access_logs.kms_key",
                "SSE-S3",
            ),
            ("kms_key: phi", "", "s3.quiet.kms_key", "is required"),
        ];
        for (from, to, key, msg) in cases {
            let yaml = WITH_LOG_BUCKET.replace(
                "name: nm-quiet, kms_key: phi",
                &format!(
                    "name: nm-quiet, kms_key: {}",
                    if to.is_empty() { "\"\"" } else { "phi" }
                ),
            );
            let yaml = if *from == "access_log_bucket: true" {
                yaml.replace(
                    "    access_log_bucket: true",
                    "    access_log_bucket: true\n    kms_key: phi",
                )
            } else {
                yaml
            };
            let e = decls(&yaml).expect_err(key);
            assert_eq!(&e.key, key);
            assert!(e.message.contains(msg), "{}", e.message);
            assert!(e.line.is_some());
        }
        let e = decls(&WITH_LOG_BUCKET.replace(
            "access_logging: false",
            "access_logging: { bucket: models }",
        ))
        .unwrap_err();
        assert_eq!(e.key, "s3.quiet.access_logging.bucket");
        assert!(e.message.contains("access_logs"), "{}", e.message);
        let e = decls(&WITH_LOG_BUCKET.replace(
            "{ name: nm-models, kms_key: phi }",
            "{ name: nm-models, access_log_bucket: true }",
        ))
        .unwrap_err();
        assert_eq!(e.key, "s3.models.access_log_bucket");
        let e = decls(&WITH_LOG_BUCKET.replace(
            "{ name: nm-models, kms_key: phi }",
            "{ name: nm-models, kms_key: phi, object_ownership: Everyone }",
        ))
        .unwrap_err();
        assert_eq!(e.key, "s3.models.object_ownership");
    }

    #[test]
    fn lifecycle_is_normalised_in_spec_order() {
        let d = desired_of(BASE, "results");
        assert_eq!(d["versioning"], json!(false));
        assert_eq!(d["tags"]["Data"], json!("results"));
        assert_eq!(
            d["lifecycle"],
            json!([
                {"id": "DeleteOldResults", "prefix": "results/", "enabled": true,
                 "expire_days": 30, "transitions": [], "noncurrent_expire_days": null},
                {"id": "TransitionToGlacier", "prefix": "archive/", "enabled": true,
                 "expire_days": 365,
                 "transitions": [{"days": 30, "storage_class": "GLACIER"},
                                 {"days": 90, "storage_class": "DEEP_ARCHIVE"}],
                 "noncurrent_expire_days": null},
            ])
        );
    }

    #[test]
    fn lifecycle_round_trips_through_the_sdk_types() {
        let d = desired_of(BASE, "results");
        let rules: Vec<Rule> = serde_json::from_value(d["lifecycle"].clone()).unwrap();
        for r in &rules {
            assert_eq!(&rule_from_aws(&rule_to_aws(r).unwrap()), r);
        }
        // A rule written with the old rule-level prefix reads the same as one with a filter.
        #[allow(deprecated)]
        let old = LifecycleRule::builder()
            .id("x")
            .prefix("logs/")
            .status(ExpirationStatus::Enabled)
            .expiration(LifecycleExpiration::builder().days(7).build())
            .build()
            .unwrap();
        assert_eq!(rule_from_aws(&old).prefix, "logs/");
    }

    #[test]
    fn policy_is_tls_only_and_takes_extra_statements() {
        let p = bucket_policy("b1", &[]);
        assert_eq!(
            p,
            json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": ["arn:aws:s3:::b1", "arn:aws:s3:::b1/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }],
            })
        );
        // AWS's spelling of the same document reads back equal.
        let returned = r#"{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecureTransport",
            "Effect":"Deny","Principal":"*","Action":"s3:*",
            "Resource":["arn:aws:s3:::b1/*","arn:aws:s3:::b1"],
            "Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
        assert_eq!(crate::policy::parse_returned_exact(returned), p);
        // The one-item list form an earlier version wrote is drift.
        let old = returned.replace(r#":"false""#, r#":["false"]"#);
        assert_ne!(crate::policy::parse_returned_exact(&old), p);

        let extra = json!({"Sid": "AWSCloudTrailWrite", "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::b1/cloudtrail/*"});
        let merged = bucket_policy("b1", &[extra]);
        let sids: Vec<&str> = merged["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Sid"].as_str().unwrap())
            .collect();
        assert_eq!(sids.len(), 2);
        assert!(sids.contains(&"DenyInsecureTransport") && sids.contains(&"AWSCloudTrailWrite"));
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        let cases: &[(&str, bool, &str)] = &[
            ("novamind-prod-models", true, "typical name"),
            ("a.b-c.9", true, "dots and hyphens inside"),
            ("abc", true, "three characters"),
            ("ab", false, "too short"),
            (&"a".repeat(64), false, "too long"),
            ("Novamind-models", false, "uppercase"),
            ("nova_mind", false, "underscore"),
            ("-models", false, "starts with a hyphen"),
            ("models.", false, "ends with a dot"),
            ("a..b", false, "adjacent dots"),
            ("192.168.1.1", false, "IP address"),
            ("xn--models", false, "reserved prefix"),
            ("models-s3alias", false, "reserved suffix"),
        ];
        for (name, ok, reason) in cases {
            assert_eq!(check_bucket_name(name).is_ok(), *ok, "{reason}: {name}");
        }
    }

    #[test]
    fn bad_names_and_references_are_located_errors() {
        let yaml = |name: &str, key: &str| {
            format!(
                "environment: prod\nregion: us-east-1\nkms:\n  phi: {{ alias: alias/p }}\n  logs: {{ alias: alias/l }}\ns3:\n  models:\n    name: {name}\n    kms_key: {key}\n"
            )
        };
        let e = decls(&yaml("Bad_Name", "phi")).unwrap_err();
        assert_eq!(e.key, "s3.models.name");
        assert_eq!(e.line, Some(8));
        assert!(e.message.contains("Bad_Name"), "{}", e.message);

        let e = decls(&yaml("good-name", "nope")).unwrap_err();
        assert_eq!(e.key, "s3.models.kms_key");
        assert_eq!(e.line, Some(9));
        assert_eq!(e.message, "no kms key `nope`; defined keys: logs, phi");
    }

    #[test]
    fn lifecycle_checks_point_at_the_key() {
        let with_rules = |rules: &str| {
            format!(
                "environment: prod\nregion: us-east-1\nkms:\n  phi: {{ alias: alias/p }}\ns3:\n  r:\n    name: rr-bucket\n    kms_key: phi\n    lifecycle:\n{rules}"
            )
        };
        let cases: &[(&str, &str, &str)] = &[
            (
                "      - { id: a, expire_days: 1 }\n      - { id: a, expire_days: 2 }\n",
                "s3.r.lifecycle.1.id",
                "duplicate",
            ),
            ("      - { id: a, expire_days: 0 }\n", "s3.r.lifecycle.0.expire_days", "greater than 0"),
            (
                "      - { id: a, noncurrent_expire_days: -3 }\n",
                "s3.r.lifecycle.0.noncurrent_expire_days",
                "greater than 0",
            ),
            (
                "      - id: a\n        transitions: [{ days: 0, storage_class: GLACIER }]\n",
                "s3.r.lifecycle.0.transitions.0.days",
                "greater than 0",
            ),
            (
                "      - id: a\n        transitions: [{ days: 10, storage_class: COLD }]\n",
                "s3.r.lifecycle.0.transitions.0.storage_class",
                "GLACIER, GLACIER_IR",
            ),
            (
                "      - id: a\n        transitions: [{ days: 10, storage_class: STANDARD_IA }]\n",
                "s3.r.lifecycle.0.transitions.0.days",
                "30 days",
            ),
            (
                "      - id: a\n        expire_days: 30\n        transitions: [{ days: 30, storage_class: GLACIER }]\n",
                "s3.r.lifecycle.0.expire_days",
                "later",
            ),
            ("      - { id: a, prefix: x/ }\n", "s3.r.lifecycle.0", "does nothing"),
        ];
        for (rules, key, msg) in cases {
            let e = decls(&with_rules(rules)).expect_err(key);
            assert_eq!(&e.key, key, "{rules}");
            assert!(e.message.contains(msg), "{key}: {}", e.message);
            assert!(e.line.is_some(), "{key} is located");
        }
        assert!(decls(&with_rules(
            "      - id: a\n        transitions: [{ days: 30, storage_class: GLACIER }]\n"
        ))
        .is_ok());
    }

    #[test]
    fn location_constraints_map_to_regions() {
        assert_eq!(location_region(None), "us-east-1");
        assert_eq!(
            location_region(Some(&BucketLocationConstraint::from(""))),
            "us-east-1"
        );
        assert_eq!(
            location_region(Some(&BucketLocationConstraint::from("EU"))),
            "eu-west-1"
        );
        assert_eq!(
            location_region(Some(&BucketLocationConstraint::EuWest1)),
            "eu-west-1"
        );
    }

    #[test]
    fn only_this_environments_tags_are_discovered() {
        let t = json!({"novactl:address": "s3.models", "novactl:environment": "prod"});
        let ours = |t: &Value, env: &str| crate::resources::ours_of_kind(t, env, "s3");
        assert_eq!(ours(&t, "prod").as_deref(), Some("s3.models"));
        assert_eq!(ours(&t, "staging"), None);
        assert_eq!(ours(&json!({"Project": "x"}), "prod"), None);
        // Another kind's resource (a log group's role, say) is not a bucket.
        let role = json!({"novactl:address": "log_group.hipaa", "novactl:environment": "prod"});
        assert_eq!(ours(&role, "prod"), None);
    }
}
