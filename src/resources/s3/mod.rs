//! `s3.*`: a bucket with SSE-KMS default encryption, versioning, the public access block, a
//! lifecycle configuration, a TLS-only bucket policy, server access logging, Object Ownership
//! (BucketOwnerEnforced) and tags. This file is the kind (declarations, desired and observed
//! state in one [`BucketState`], create, update, delete, discovery); its rooms hold the rest:
//! [`lifecycle`] (the lifecycle rules), [`access_logs`] (which bucket logs where, and the
//! access-log bucket's delivery statement), [`settings`] (each setting's reader and writer) and
//! [`contents`] (emptiness and emptying for delete). A DR twin (`dr.s3.<n>`) is this kind too,
//! with the replication of its primary added by [`crate::resources::dr::replication`].
//!
//! # The access-log bucket
//! S3 delivers server access logs only to a target bucket whose default encryption is SSE-S3
//! (AES256), never SSE-KMS. So one bucket per region may be marked `access_log_bucket: true`:
//! it is the one bucket encrypted with SSE-S3, it names no `kms_key`, and its policy lets only
//! S3's log delivery (`logging.s3.amazonaws.com`) write, and only for this account's buckets of
//! the spec that log to it (`aws:SourceAccount`, `aws:SourceArn`), next to the TLS-only
//! statement. Every other bucket of the region logs to it under `<bucket name>/` by default
//! (`access_logging: false` turns that off). The access-log bucket itself does not log by
//! default: every log object written would be logged again, and it could never be emptied;
//! only an explicit `access_logging: { bucket: <itself> }` makes it its own target.
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
//! their AWS error `code()` ([`crate::resources::kit::s3_errors::code_is`]). Where a typed
//! check exists (`HeadBucket` not found, CreateBucket's `BucketAlreadyExists` /
//! `BucketAlreadyOwnedByYou`) it is used.

pub mod access_logs;
mod contents;
mod import;
pub mod lifecycle;
mod settings;

use async_trait::async_trait;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, ServerSideEncryption,
};
use futures::stream::{self, StreamExt, TryStreamExt};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use self::access_logs::{log_target_name, Logging, Names as LogNames};
use self::lifecycle::{check_lifecycle, rule_from_spec, Rule};
use crate::aws::{Attempts, AwsError};
use crate::permissions::{perm, Perm};
use crate::resources::dr::replication::{self as replication, Replication};
use crate::resources::kind::KindInfo;
use crate::resources::kit::cache::cached_tags;
use crate::resources::kit::discover::{read_found, read_tagged};
use crate::resources::kit::refs;
use crate::resources::kit::s3_errors::code_is;
use crate::resources::kit::tags::{owner_of, Tags};
use crate::resources::{
    desired_tags, from_desired, tags_json, Address, Ctx, Decl, DeleteTarget, Found, Observed,
    Owner, Reconciler,
};
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

pub use self::access_logs::LOG_DELIVERY;
/// Kept for code that still names it here; the kit's is the one.
use crate::resources::kit::refs::{bucket_arn, check_bucket_name};

/// What the engine knows of `s3` (see [`KindInfo`]).
pub const INFO: KindInfo = KindInfo::new("s3", "s3", |s, n| s.s3.get(n).and_then(|r| r.protect))
    .global_names()
    .tagged_as(&["s3:bucket"])
    .replace_on(&["region"]);

/// Every AWS call this kind makes and what IAM must allow for it (see [`crate::permissions`]).
/// Discovery reads the tags of every bucket in the account (to find ours that left the spec).
pub const PERMISSIONS: &[Perm] = &[
    perm("s3:ListBuckets", &["s3:ListAllMyBuckets"], &["*"]),
    perm("s3:HeadBucket", &["s3:ListBucket"], &[BUCKET]),
    perm("s3:GetBucketLocation", &["s3:GetBucketLocation"], &[BUCKET]),
    // CreateBucket with `x-amz-object-ownership` is authorised as both actions.
    perm(
        "s3:CreateBucket",
        &["s3:CreateBucket", "s3:PutBucketOwnershipControls"],
        &[BUCKET],
    ),
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

/// Object Ownership settings S3 accepts.
pub const OBJECT_OWNERSHIP: &[&str] = &[
    "BucketOwnerEnforced",
    "BucketOwnerPreferred",
    "ObjectWriter",
];

/// The region S3 reports as an empty location constraint.
const US_EAST_1: &str = "us-east-1";

/// Concurrent GetBucketTagging calls in `discover`.
const DISCOVER_CONCURRENCY: usize = 16;

/// A bucket's state: what `desired` renders and what `observe` reads, in one shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BucketState {
    pub name: String,
    pub region: String,
    /// `None` (null) when the bucket has no default encryption.
    pub encryption: Option<Encryption>,
    pub versioning: bool,
    pub public_access_block: PublicAccessBlock,
    pub lifecycle: Vec<Rule>,
    /// Normalised (see [`bucket_policy`]); `None` (null) when the bucket has none.
    pub policy: Option<Value>,
    pub logging: Logging,
    pub object_ownership: Option<String>,
    /// In their order: sorted, a twin's `novactl:dr-source` (added by its replication) last.
    pub tags: IndexMap<String, String>,
    /// The bucket's replication configuration: absent from a primary's desired state (the DR
    /// twin `dr.s3.<n>` owns it, see [`replication`]), read (`null` when none) for every
    /// bucket; a twin's is its primary's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<Option<Replication>>,
    /// A twin's replication role, in the `iam` kind's shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_role: Option<Value>,
}

/// The state of a bucket this account cannot read: only its name.
#[derive(Serialize)]
struct Unreadable<'a> {
    name: &'a str,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Encryption {
    pub algorithm: String,
    pub kms_key_arn: Option<String>,
    pub bucket_key: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
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
#[async_trait]
impl Reconciler for S3 {
    fn permissions(&self) -> &'static [&'static [Perm]] {
        &[
            PERMISSIONS,
            replication::PERMISSIONS,
            crate::resources::kit::owned_role::OWNED_ROLE,
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
                access_logs::check_marked(spec, &path, name, b)?;
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
        let account = refs::account(r);
        let encryption = if b.access_log_bucket {
            Encryption {
                algorithm: ServerSideEncryption::Aes256.as_str().to_string(),
                kms_key_arn: None,
                bucket_key: false,
            }
        } else {
            Encryption {
                algorithm: ServerSideEncryption::AwsKms.as_str().to_string(),
                kms_key_arn: Some(refs::kms_arn(
                    spec,
                    r,
                    &format!("{path}.kms_key"),
                    &b.kms_key,
                )?),
                bucket_key: true,
            }
        };
        let twin = Address::is_twin_str(&decl.address);
        let names = LogNames { spec, r, twin };
        // TLS-only, CloudTrail's delivery statements for every trail on this bucket (a twin
        // receives none), and on the access-log bucket S3's log delivery for the buckets that
        // log to it.
        let mut extra = if twin {
            Vec::new()
        } else {
            crate::resources::kit::delivery::delivery_statements(
                &spec.spec,
                &decl.name,
                &decl.identity,
                &account,
            )
        };
        if b.access_log_bucket {
            extra.push(access_logs::delivery_statement(&names, decl, &account)?);
        }
        let mut state = BucketState {
            name: decl.identity.clone(),
            region: decl.region.clone(),
            encryption: Some(encryption),
            versioning: b.versioning,
            public_access_block: PublicAccessBlock::ALL,
            lifecycle: b.lifecycle.iter().map(rule_from_spec).collect(),
            policy: Some(bucket_policy(&decl.identity, &extra)),
            logging: access_logs::logging(&names, decl, b)?,
            object_ownership: Some(b.object_ownership.clone()),
            tags: desired_tags(spec, &decl.address, &b.tags)
                .into_iter()
                .collect(),
            replication: None,
            replication_role: None,
        };
        if crate::resources::dr::replicating_twin(decl) {
            let (replication, role) = replication::twin_desired(spec, decl, r, &mut state.tags)?;
            state.replication = Some(Some(replication));
            state.replication_role = Some(role);
        }
        Ok(serde_json::to_value(&state).expect("serialises"))
    }

    async fn observe(&self, cx: &Ctx<'_>, decl: &Decl) -> Result<Observed, AwsError> {
        let twin = crate::resources::dr::replicating_twin(decl).then_some(decl);
        observe_bucket(cx, &decl.region, &decl.address, &decl.identity, twin).await
    }

    async fn create(&self, cx: &Ctx<'_>, decl: &Decl, desired: &Value) -> Result<Value, AwsError> {
        let d: BucketState = from_desired(&decl.address, desired)?;
        let s3 = &cx.clients(&decl.region).s3;
        let mut req = s3.create_bucket().bucket(&d.name);
        if d.region != US_EAST_1 {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(d.region.as_str()))
                    .build(),
            );
        }
        // Object Ownership is set by CreateBucket itself (`x-amz-object-ownership`): no
        // separate PutBucketOwnershipControls for a new bucket.
        if let Some(o) = &d.object_ownership {
            req = req.object_ownership(aws_sdk_s3::types::ObjectOwnership::from(o.as_str()));
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
                let tags = settings::read_tags(s3, &d.name).await?;
                let own_attempt = tries.retried() && tags.is_none();
                if let (Owner::Foreign { reason }, false) = (
                    owner_of(&tags.unwrap_or_default(), &decl.address, cx.environment),
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
        settings::put(s3, &d, "tags").await?;
        settings::put(s3, &d, "public_access_block").await?;
        // CreateBucket set it; a bucket that existed already may differ.
        if existed {
            settings::put(s3, &d, "object_ownership").await?;
        }
        settings::put(s3, &d, "encryption").await?;
        // A new bucket is unversioned; "Suspended" would be a needless (and one-way) change.
        if d.versioning || existed {
            settings::put(s3, &d, "versioning").await?;
        }
        if !d.lifecycle.is_empty() || existed {
            settings::put(s3, &d, "lifecycle").await?;
        }
        settings::put(s3, &d, "policy").await?;
        // After the policy: a bucket that is its own log target must allow delivery first.
        if d.logging.enabled || existed {
            settings::put(s3, &d, "logging").await?;
        }
        if crate::resources::dr::replicating_twin(decl) {
            replication::converge_twin(
                cx,
                decl,
                d.replication.as_ref(),
                d.replication_role.as_ref(),
                None,
            )
            .await?;
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
        let d: BucketState = from_desired(&decl.address, desired)?;
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
        for attr in settings::ORDER
            .iter()
            .filter(|a| changed.iter().any(|c| c == *a))
        {
            settings::put(s3, &d, attr).await?;
        }
        if crate::resources::dr::replicating_twin(decl) {
            replication::converge_twin(
                cx,
                decl,
                d.replication.as_ref(),
                d.replication_role.as_ref(),
                Some(changed),
            )
            .await?;
        }
        Ok(outputs(&d.name))
    }

    async fn delete(&self, cx: &Ctx<'_>, t: &DeleteTarget<'_>) -> Result<(), AwsError> {
        let name = t.observed.physical_id.as_str();
        if t.observed.owner != Owner::Ours {
            return Err(not_ours("s3:DeleteBucket", name, &t.observed.owner));
        }
        let s3 = &cx.clients(t.region).s3;
        let Some(empty) = contents::is_empty(s3, name).await? else {
            return Ok(());
        };
        if !empty && !t.force {
            return Err(AwsError::local(
                "s3:DeleteBucket",
                "BucketNotEmpty",
                contents::not_empty_text(name),
            ));
        }
        // A DR access-log bucket (its desired state has no replication, or it carries no
        // `novactl:dr-source` tag once out of the spec) has no replication to remove.
        let replicated = match t.desired {
            Some(d) => !d["replication"].is_null(),
            None => t
                .observed
                .state
                .as_ref()
                .is_some_and(|s| s["tags"][replication::TAG_SOURCE].is_string()),
        };
        if Address::is_twin_str(&t.observed.address) && replicated {
            // Nothing may replicate into the twin any more: the rule and its role go first.
            replication::delete_twin(cx, &t.observed.address, t.observed).await?;
        }
        if !empty {
            contents::empty_bucket(s3, name).await?;
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
        Ok(match contents::is_empty(s3, name).await? {
            Some(false) => Some(contents::not_empty_text(name)),
            _ => None,
        })
    }

    async fn import(
        &self,
        cx: &Ctx<'_>,
        req: &crate::resources::kit::import::ImportRequest<'_>,
    ) -> Result<crate::resources::kit::import::Imported, AwsError> {
        import::import_bucket(cx, req).await
    }

    async fn discover_found(
        &self,
        cx: &Ctx<'_>,
        region: &str,
        found: Vec<Found>,
    ) -> Result<Vec<Observed>, AwsError> {
        read_found(cx, "s3", region, found, &[], |f| async move {
            read_here(cx, region, &f.address, f.name()).await
        })
        .await
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
                    .filter(|n| !cx.in_spec("s3", region, n)),
            );
        }
        let listed: Vec<(String, Value)> = stream::iter(names)
            .map(|name| async move {
                match settings::read_tags(s3, &name).await {
                    Ok(Some(tags)) => Ok(Some((name, tags_json(tags)))),
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
        read_tagged(cx, "s3", listed, &[], |name, address| async move {
            read_here(cx, region, &address, &name).await
        })
        .await
    }
}

/// A discovered bucket, when it exists, is ours, and is located in `region` (each region's
/// discovery answers for its own buckets only).
async fn read_here(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
    name: &str,
) -> Result<Option<Observed>, AwsError> {
    let o = observe_bucket(cx, region, address, name, None).await?;
    let here = o.owner == Owner::Ours
        && o.state
            .as_ref()
            .is_some_and(|s| s["region"].as_str() == Some(region));
    Ok(here.then_some(o))
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

/// A bucket's outputs: its name and ARN.
fn outputs(bucket: &str) -> Value {
    json!({"name": bucket, "arn": bucket_arn(bucket)})
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

/// Reads a bucket's state (a twin's replication too, when `twin` is its decl). Never writes,
/// whoever owns the bucket.
async fn observe_bucket(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
    name: &str,
    twin: Option<&Decl>,
) -> Result<Observed, AwsError> {
    // The tagging answer of `region` names the bucket with its tags: it exists, in this
    // region, so HeadBucket and GetBucketTagging are implied. A bucket deleted since (the
    // answer is eventually consistent) fails its reads with NoSuchBucket: read it again, fully.
    if let Some(tags) = cached_tags(cx, region, &bucket_arn(name)).await {
        match read_bucket(
            cx,
            region,
            address,
            name,
            twin,
            Some(region.to_string()),
            Some(tags),
        )
        .await
        {
            Err(e) if e.code == "NoSuchBucket" => {}
            r => return r,
        }
    }
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
                    state: Some(serde_json::to_value(Unreadable { name }).expect("serialises")),
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
    read_bucket(cx, region, address, name, twin, head_region, None).await
}

/// Reads a bucket's settings (its tags too unless `known_tags` has them), once its existence
/// and region are known.
async fn read_bucket(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
    name: &str,
    twin: Option<&Decl>,
    head_region: Option<String>,
    known_tags: Option<Tags>,
) -> Result<Observed, AwsError> {
    let s3 = &cx.clients(region).s3;
    let (tags, encryption, versioning, pab, lifecycle, policy, location, logging, ownership, repl) =
        tokio::try_join!(
            async {
                match known_tags {
                    Some(t) => Ok(Some(t)),
                    None => settings::read_tags(s3, name).await,
                }
            },
            settings::read_encryption(s3, name),
            settings::read_versioning(s3, name),
            settings::read_public_access_block(s3, name),
            settings::read_lifecycle(s3, name),
            settings::read_policy(s3, name),
            settings::read_region(s3, name, head_region),
            settings::read_logging(s3, name),
            settings::read_ownership(s3, name),
            replication::read(s3, name),
        )?;
    let tags = tags.unwrap_or_default();
    let mut owner = owner_of(&tags, address, cx.environment);
    let mut state = BucketState {
        name: name.to_string(),
        region: location,
        encryption,
        versioning,
        public_access_block: pab,
        lifecycle,
        policy,
        logging,
        object_ownership: ownership,
        tags: tags.into_iter().collect(),
        // Not managed by `s3.<n>` (its desired state has no `replication`): the DR twin
        // `dr.s3.<n>` owns it. Read here so that every bucket's state shows it.
        replication: Some(repl),
        replication_role: None,
    };
    if let Some(decl) = twin {
        let (replication, role) =
            replication::observe_twin(cx, decl, &state.tags, &mut owner).await?;
        state.replication = Some(replication);
        state.replication_role = Some(role);
    }
    Ok(Observed {
        address: address.to_string(),
        physical_id: name.to_string(),
        state: Some(serde_json::to_value(&state).expect("serialises")),
        owner,
        outputs: outputs(name),
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use aws_sdk_s3::types::{ExpirationStatus, LifecycleExpiration, LifecycleRule};

    use super::lifecycle::{rule_from_aws, rule_to_aws};
    use super::settings::location_region;
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
        let typed: BucketState = from_desired("s3.models", &d).expect("decodes");
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
