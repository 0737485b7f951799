//! S3 cross-region replication of a twin's primary bucket.
//!
//! # What `dr.s3.<n>` holds besides its twin bucket
//! * `replication`: the replication configuration **of the primary bucket** `s3.<n>`: one rule
//!   `novactl-dr-<n>` (every object, priority 1) replicating into the twin, selecting SSE-KMS
//!   objects and re-encrypting them with the DR key (`ReplicaKmsKeyID`), with Replication Time
//!   Control (15 minutes) and its metrics, and delete-marker replication as `dr.
//!   delete_marker_replication` says. novactl owns the primary bucket's replication
//!   configuration whole: another rule there is drift. The primary's own observed state
//!   carries the same configuration under `replication` (read by [`read`]; `s3.<n>` does not
//!   manage it).
//! * `replication_role`: the IAM role S3 assumes (`novactl-<env>-replication-<n>`), in the `iam`
//!   kind's shape and written through that kind: trust `s3.amazonaws.com` for this account only
//!   (`aws:SourceAccount`), and one inline policy `replication` with nothing more than
//!   replication needs: read the primary's configuration and object versions, replicate into
//!   the twin, decrypt with the primary key and encrypt with the DR key only through S3 in
//!   each region and only for these buckets.
//! * The twin bucket carries the tag `novactl:dr-source` naming its primary bucket, so a twin
//!   that left the spec is still found with its replication.
//!
//! # Objects that existed before the rule
//! S3 replication copies only objects written after the rule exists. Whenever novactl puts the
//! rule (on create, or when a deleted or changed rule is repaired) it copies, once, every
//! current object of the primary that the twin does not hold ([`backfill`]), each verified by
//! SHA-256 ([`super::objects::copy_verified`]).

use std::collections::BTreeMap;

use aws_sdk_s3::types::{
    DeleteMarkerReplication, DeleteMarkerReplicationStatus, Destination, EncryptionConfiguration,
    Metrics, MetricsStatus, ReplicationConfiguration, ReplicationRule, ReplicationRuleFilter,
    ReplicationRuleStatus, ReplicationTime, ReplicationTimeStatus, ReplicationTimeValue,
    SourceSelectionCriteria, SseKmsEncryptedObjects, SseKmsEncryptedObjectsStatus,
};
use aws_sdk_s3::Client;
use futures::stream::{self, StreamExt, TryStreamExt};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::objects::{copy_verified, head, holds, with_object_perms};
use crate::aws::AwsError;
use crate::permissions::{perm, Implied, Perm};
use crate::resources::kit::owned_role::{
    delete_owned_role, ensure_owned_role, observe_owned_role, owned_role_decl,
};
use crate::resources::kit::refs::{bucket_arn, role_arn};
use crate::resources::kit::s3_errors::{build_error, code_is};
use crate::resources::{Address, Ctx, Decl, Observed, Owner};
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

/// The calls a twin bucket (`dr.s3.<n>`) makes besides the `s3` kind's own, with what IAM must
/// allow (see [`crate::permissions`]): the replication configuration of its primary bucket
/// (handing S3 the replication role), and object reads and copies in both buckets (backfill,
/// SHA-256 checks, the drill's canaries). The replication role's own calls are
/// [`crate::resources::kit::owned_role::OWNED_ROLE`]. Only twins have `source_name`, so none of this is granted for a
/// primary bucket.
pub const PERMISSIONS: &[Perm] = with_object_perms!(
    [
        perm(
            "s3:GetBucketReplication",
            &["s3:GetReplicationConfiguration"],
            &[SOURCE],
        ),
        Perm {
            call: "s3:PutBucketReplication",
            actions: &["s3:PutReplicationConfiguration"],
            resources: &[SOURCE],
            implied: &[Implied {
                action: "iam:PassRole",
                resources: &["arn:aws:iam::{account}:role/{out.role_name}"],
                condition: Some(("StringEquals", "iam:PassedToService", "s3.amazonaws.com")),
            }],
        },
        // S3 checks PutReplicationConfiguration for DeleteBucketReplication.
        perm(
            "s3:DeleteBucketReplication",
            &["s3:PutReplicationConfiguration"],
            &[SOURCE],
        ),
    ],
    SOURCE_OBJECTS,
    TWIN_OBJECTS,
    SOURCE_KEYS,
);
const SOURCE: &str = "arn:aws:s3:::{out.source_name}";
const SOURCE_OBJECTS: &str = "arn:aws:s3:::{out.source_name}/*";
const TWIN_OBJECTS: &str = "{twin}arn:aws:s3:::{id}/*";
const SOURCE_KEYS: &str = "arn:aws:kms:{out.source_region}:{account}:key/*";

/// Rule ids novactl writes: `novactl-dr-<logical name>`.
pub const RULE_PREFIX: &str = "novactl-dr-";
/// Tag on a twin bucket: the name of the primary bucket it is the twin of.
pub const TAG_SOURCE: &str = "novactl:dr-source";
/// Replication Time Control's threshold (the only value S3 accepts).
pub const RTC_MINUTES: i32 = 15;
/// Objects copied at once by [`backfill`].
const COPY_CONCURRENCY: usize = 8;

/// A bucket's replication configuration, in the shape desired and observed states share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replication {
    pub role_arn: String,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    pub priority: Option<i32>,
    pub status: String,
    /// Key prefix the rule selects (`""`: every object).
    pub prefix: String,
    pub delete_marker_replication: bool,
    /// Destination bucket ARN.
    pub destination_bucket: String,
    /// `ReplicaKmsKeyID`: the key replicas are encrypted with.
    pub replica_kms_key_id: Option<String>,
    /// SSE-KMS objects are selected (S3 skips them otherwise).
    pub sse_kms_encrypted_objects: bool,
    /// Replication Time Control threshold, when RTC is on.
    pub replication_time_minutes: Option<i32>,
    /// Replication metrics event threshold, when metrics are on.
    pub metrics_minutes: Option<i32>,
}

pub fn rule_id(logical: &str) -> String {
    format!("{RULE_PREFIX}{logical}")
}

fn from_aws(c: &ReplicationConfiguration) -> Replication {
    let rules = c
        .rules()
        .iter()
        .map(|r| {
            let dest = r.destination();
            #[allow(deprecated)] // the rule-level Prefix of V1 configurations
            let prefix = r
                .filter()
                .and_then(|f| f.prefix())
                .or(r.prefix())
                .unwrap_or_default()
                .to_string();
            Rule {
                id: r.id().unwrap_or_default().to_string(),
                priority: r.priority(),
                status: r.status().as_str().to_string(),
                prefix,
                delete_marker_replication: r
                    .delete_marker_replication()
                    .and_then(|d| d.status())
                    .is_some_and(|s| s == &DeleteMarkerReplicationStatus::Enabled),
                destination_bucket: dest.map(|d| d.bucket().to_string()).unwrap_or_default(),
                replica_kms_key_id: dest
                    .and_then(|d| d.encryption_configuration())
                    .and_then(|e| e.replica_kms_key_id())
                    .map(str::to_string),
                sse_kms_encrypted_objects: r
                    .source_selection_criteria()
                    .and_then(|s| s.sse_kms_encrypted_objects())
                    .is_some_and(|s| s.status() == &SseKmsEncryptedObjectsStatus::Enabled),
                replication_time_minutes: dest
                    .and_then(|d| d.replication_time())
                    .filter(|t| t.status() == &ReplicationTimeStatus::Enabled)
                    .and_then(|t| t.time())
                    .and_then(|t| t.minutes()),
                metrics_minutes: dest
                    .and_then(|d| d.metrics())
                    .filter(|m| m.status() == &MetricsStatus::Enabled)
                    .and_then(|m| m.event_threshold())
                    .and_then(|t| t.minutes()),
            }
        })
        .collect();
    Replication {
        role_arn: c.role().to_string(),
        rules,
    }
}

fn to_aws(r: &Replication) -> Result<ReplicationConfiguration, AwsError> {
    const OP: &str = "s3:PutBucketReplication";
    let err = |e| build_error(OP, e);
    let mut conf = ReplicationConfiguration::builder().role(&r.role_arn);
    for rule in &r.rules {
        let mut dest = Destination::builder().bucket(&rule.destination_bucket);
        if let Some(k) = &rule.replica_kms_key_id {
            dest = dest.encryption_configuration(
                EncryptionConfiguration::builder()
                    .replica_kms_key_id(k)
                    .build(),
            );
        }
        if let Some(m) = rule.replication_time_minutes {
            dest = dest.replication_time(
                ReplicationTime::builder()
                    .status(ReplicationTimeStatus::Enabled)
                    .time(ReplicationTimeValue::builder().minutes(m).build())
                    .build()
                    .map_err(err)?,
            );
        }
        if let Some(m) = rule.metrics_minutes {
            dest = dest.metrics(
                Metrics::builder()
                    .status(MetricsStatus::Enabled)
                    .event_threshold(ReplicationTimeValue::builder().minutes(m).build())
                    .build()
                    .map_err(err)?,
            );
        }
        let mut b = ReplicationRule::builder()
            .id(&rule.id)
            .set_priority(rule.priority)
            .status(ReplicationRuleStatus::from(rule.status.as_str()))
            .filter(
                ReplicationRuleFilter::builder()
                    .prefix(&rule.prefix)
                    .build(),
            )
            .delete_marker_replication(
                DeleteMarkerReplication::builder()
                    .status(if rule.delete_marker_replication {
                        DeleteMarkerReplicationStatus::Enabled
                    } else {
                        DeleteMarkerReplicationStatus::Disabled
                    })
                    .build(),
            )
            .destination(dest.build().map_err(err)?);
        if rule.sse_kms_encrypted_objects {
            b = b.source_selection_criteria(
                SourceSelectionCriteria::builder()
                    .sse_kms_encrypted_objects(
                        SseKmsEncryptedObjects::builder()
                            .status(SseKmsEncryptedObjectsStatus::Enabled)
                            .build()
                            .map_err(err)?,
                    )
                    .build(),
            );
        }
        conf = conf.rules(b.build().map_err(err)?);
    }
    conf.build().map_err(err)
}

/// The replication configuration of `bucket`; `None` when it has none.
pub async fn read(s3: &Client, bucket: &str) -> Result<Option<Replication>, AwsError> {
    match s3.get_bucket_replication().bucket(bucket).send().await {
        Ok(out) => Ok(out.replication_configuration().map(from_aws)),
        Err(e) if code_is(&e, "ReplicationConfigurationNotFoundError") => Ok(None),
        Err(e) => Err(AwsError::from_err("s3:GetBucketReplication", e)),
    }
}

async fn put(s3: &Client, bucket: &str, r: &Replication) -> Result<(), AwsError> {
    s3.put_bucket_replication()
        .bucket(bucket)
        .replication_configuration(to_aws(r)?)
        .send()
        .await
        .map_err(AwsError::from_sdk("s3:PutBucketReplication"))?;
    Ok(())
}

/// Where a twin's primary bucket is, from its decl (or, for a twin that left the spec, from
/// its `novactl:dr-source` tag).
struct Source {
    bucket: String,
    region: String,
    logical: String,
    role: String,
}

fn source_of(cx: &Ctx<'_>, address: &str, outputs: &Value, tagged: Option<&str>) -> Source {
    let logical = Address::parse(address)
        .map(|a| a.name().to_string())
        .unwrap_or_default();
    Source {
        bucket: outputs["source_name"]
            .as_str()
            .or(tagged)
            .unwrap_or_default()
            .to_string(),
        region: outputs["source_region"]
            .as_str()
            .unwrap_or(&cx.aws.primary)
            .to_string(),
        role: outputs["role_name"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| super::replication_role_name(cx.environment, &logical)),
        logical,
    }
}

/// The replication role in the `iam` kind's shape (its desired state).
#[derive(Serialize)]
struct RoleState<'a> {
    name: &'a str,
    trust_policy: Value,
    inline_policies: BTreeMap<&'static str, Value>,
    description: String,
    tags: &'a IndexMap<String, String>,
}

/// What a twin bucket has beyond its primary's settings: its `novactl:dr-source` tag (added
/// to `tags`), and the `replication` of its primary and the `replication_role` (returned, in
/// the `iam` kind's shape). `r` renders in the DR view (see [`super`]).
pub fn twin_desired(
    spec: &LoadedSpec,
    decl: &Decl,
    r: &Renderer,
    tags: &mut IndexMap<String, String>,
) -> Result<(Replication, Value), SpecError> {
    let b = &spec.spec.s3[&decl.name];
    let drs = spec.spec.dr.as_ref().expect("a twin implies a dr section");
    let key_ref = format!("{{{{ kms.{}.arn }}}}", b.kms_key);
    let key_path = format!("{}.kms_key", decl.spec_path);
    let replica_key = r.str(&key_path, &key_ref)?;
    let primary_ctx = super::primary_context(r).unwrap_or_default();
    let source_key = Renderer::new(spec, &primary_ctx).str(&key_path, &key_ref)?;
    let account = crate::resources::kit::refs::account(r);
    let source = decl.outputs["source_name"].as_str().unwrap_or_default();
    let source_region = decl.outputs["source_region"].as_str().unwrap_or_default();
    let role = decl.outputs["role_name"].as_str().unwrap_or_default();
    let twin = &decl.identity;
    let replication = Replication {
        role_arn: role_arn(&account, role),
        rules: vec![Rule {
            id: rule_id(&decl.name),
            priority: Some(1),
            status: "Enabled".into(),
            prefix: String::new(),
            delete_marker_replication: drs.delete_marker_replication,
            destination_bucket: bucket_arn(twin),
            replica_kms_key_id: Some(replica_key.clone()),
            sse_kms_encrypted_objects: true,
            replication_time_minutes: Some(RTC_MINUTES),
            metrics_minutes: Some(RTC_MINUTES),
        }],
    };
    tags.insert(TAG_SOURCE.into(), source.into());
    let src = bucket_arn(source);
    let dst = bucket_arn(twin);
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadSourceConfiguration",
                "Effect": "Allow",
                "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                "Resource": src,
            },
            {
                "Sid": "ReadSourceVersions",
                "Effect": "Allow",
                "Action": [
                    "s3:GetObjectVersionForReplication",
                    "s3:GetObjectVersionAcl",
                    "s3:GetObjectVersionTagging",
                ],
                "Resource": format!("{src}/*"),
            },
            {
                "Sid": "WriteReplicas",
                "Effect": "Allow",
                "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                "Resource": format!("{dst}/*"),
            },
            {
                "Sid": "DecryptWithThePrimaryKey",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": source_key,
                "Condition": {"StringLike": {
                    "kms:ViaService": format!("s3.{source_region}.amazonaws.com"),
                    "kms:EncryptionContext:aws:s3:arn": [src.clone(), format!("{src}/*")],
                }},
            },
            {
                "Sid": "EncryptWithTheDrKey",
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
                "Resource": replica_key,
                "Condition": {"StringLike": {
                    "kms:ViaService": format!("s3.{}.amazonaws.com", decl.region),
                    "kms:EncryptionContext:aws:s3:arn": [dst.clone(), format!("{dst}/*")],
                }},
            },
        ],
    });
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account}},
        }],
    });
    let role = RoleState {
        name: role,
        trust_policy: crate::policy::normalize(&trust),
        inline_policies: BTreeMap::from([("replication", crate::policy::normalize(&policy))]),
        description: format!("S3 replication of {source} into {twin} (novactl DR)"),
        tags,
    };
    Ok((
        replication,
        serde_json::to_value(&role).expect("serialises"),
    ))
}

/// The twin's `replication` (the primary bucket's configuration) and `replication_role`, to
/// add to what `observe` read of the twin bucket (`tags`). A role of that name that is not
/// the twin's makes the twin foreign.
pub async fn observe_twin(
    cx: &Ctx<'_>,
    decl: &Decl,
    tags: &IndexMap<String, String>,
    owner: &mut Owner,
) -> Result<(Option<Replication>, Value), AwsError> {
    let tagged = tags.get(TAG_SOURCE).map(String::as_str);
    let src = source_of(cx, &decl.address, &decl.outputs, tagged);
    let rd = owned_role_decl(&decl.address, &src.region, &src.role);
    let (replication, role) = tokio::try_join!(
        read(&cx.clients(&src.region).s3, &src.bucket),
        observe_owned_role(cx, &rd),
    )?;
    if let (Owner::Ours, Owner::Foreign { reason }, true) =
        (&*owner, &role.owner, role.state.is_some())
    {
        *owner = Owner::Foreign {
            reason: format!("its replication role {}: {reason}", src.role),
        };
    }
    Ok((replication, role.state.unwrap_or_else(|| json!({}))))
}

/// Brings the twin's role and the primary's replication to their desired state
/// (`replication`, `role`: the twin bucket's; all of it on create, `changed` on update); when
/// the rule was put, copies the objects it will not replicate.
pub async fn converge_twin(
    cx: &Ctx<'_>,
    decl: &Decl,
    replication: Option<&Option<Replication>>,
    role: Option<&Value>,
    changed: Option<&[String]>,
) -> Result<(), AwsError> {
    let (Some(Some(replication)), Some(role)) = (replication, role) else {
        return Err(AwsError::local(
            "novactl:desired",
            "InternalError",
            format!(
                "{}: desired state does not decode: a twin has `replication` and \
                 `replication_role`",
                decl.address
            ),
        ));
    };
    let wants = |attr: &str| changed.is_none_or(|c| c.iter().any(|x| x == attr));
    let src = source_of(cx, &decl.address, &decl.outputs, None);
    if wants("replication_role") || wants("replication") {
        // The rule names the role: it must exist first.
        let rd = owned_role_decl(&decl.address, &src.region, &src.role);
        ensure_owned_role(cx, &rd, role).await?;
    }
    if wants("replication") {
        put(&cx.clients(&src.region).s3, &src.bucket, replication).await?;
        let n = backfill(cx, &src.region, &src.bucket, &decl.region, &decl.identity).await?;
        tracing::info!(
            address = decl.address,
            copied = n,
            "objects that existed before replication copied and verified"
        );
    }
    Ok(())
}

/// Removes the twin's rule from its primary bucket and deletes its role (both only if they
/// are the twin's).
pub async fn delete_twin(cx: &Ctx<'_>, address: &str, observed: &Observed) -> Result<(), AwsError> {
    let tagged = observed
        .state
        .as_ref()
        .and_then(|s| s["tags"][TAG_SOURCE].as_str());
    let src = source_of(cx, address, &observed.outputs, tagged);
    if !src.bucket.is_empty() {
        let s3 = &cx.clients(&src.region).s3;
        let live = match read(s3, &src.bucket).await {
            Ok(l) => l,
            Err(e) if e.code == "NoSuchBucket" => None,
            Err(e) => return Err(e),
        };
        if let Some(mut live) = live {
            let ours = rule_id(&src.logical);
            let before = live.rules.len();
            live.rules.retain(|r| r.id != ours);
            if live.rules.is_empty() {
                s3.delete_bucket_replication()
                    .bucket(&src.bucket)
                    .send()
                    .await
                    .map_err(AwsError::from_sdk("s3:DeleteBucketReplication"))?;
            } else if live.rules.len() != before {
                put(s3, &src.bucket, &live).await?;
            }
        }
    }
    delete_owned_role(cx, &owned_role_decl(address, &src.region, &src.role)).await
}

/// Copies every current object of `src` that `dst` does not hold yet, each verified. Returns
/// how many were copied.
pub async fn backfill(
    cx: &Ctx<'_>,
    src_region: &str,
    src: &str,
    dst_region: &str,
    dst: &str,
) -> Result<usize, AwsError> {
    let s3 = &cx.clients(src_region).s3;
    let mut current = Vec::new();
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let page = s3
            .list_object_versions()
            .bucket(src)
            .set_key_marker(key_marker)
            .set_version_id_marker(version_marker)
            .send()
            .await
            .map_err(AwsError::from_sdk("s3:ListObjectVersions"))?;
        current.extend(
            page.versions()
                .iter()
                .filter(|v| v.is_latest() == Some(true))
                .filter_map(|v| v.key().map(str::to_string)),
        );
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_string);
        version_marker = page.next_version_id_marker().map(str::to_string);
    }
    let copied: Vec<bool> = stream::iter(current)
        .map(|key| async move {
            let Some(source) = head(s3, src, &key, None).await? else {
                return Ok(false); // deleted since the listing
            };
            let twin = head(&cx.clients(dst_region).s3, dst, &key, None).await?;
            if twin.as_ref().is_some_and(|t| holds(t, &source)) {
                return Ok(false);
            }
            copy_verified(cx, src_region, src, &key, &source, dst_region, dst).await?;
            Ok::<bool, AwsError>(true)
        })
        .buffer_unordered(COPY_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(copied.into_iter().filter(|c| *c).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> Rule {
        Rule {
            id: rule_id("models"),
            priority: Some(1),
            status: "Enabled".into(),
            prefix: String::new(),
            delete_marker_replication: true,
            destination_bucket: bucket_arn("twin"),
            replica_kms_key_id: Some("arn:aws:kms:us-west-2:123456789012:key/k".into()),
            sse_kms_encrypted_objects: true,
            replication_time_minutes: Some(RTC_MINUTES),
            metrics_minutes: Some(RTC_MINUTES),
        }
    }

    #[test]
    fn configuration_round_trips_through_the_sdk_types() {
        let cases = [
            ("novactl's rule", rule()),
            (
                "no RTC, no metrics, no replica key, no delete markers",
                Rule {
                    delete_marker_replication: false,
                    replica_kms_key_id: None,
                    sse_kms_encrypted_objects: false,
                    replication_time_minutes: None,
                    metrics_minutes: None,
                    prefix: "logs/".into(),
                    ..rule()
                },
            ),
        ];
        for (reason, r) in cases {
            let c = Replication {
                role_arn: "arn:aws:iam::123456789012:role/r".into(),
                rules: vec![r],
            };
            assert_eq!(from_aws(&to_aws(&c).unwrap()), c, "{reason}");
        }
    }
}
