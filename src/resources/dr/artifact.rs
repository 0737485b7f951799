//! A DR model's artifact: `dr.sagemaker_model.<m>` has the attribute `artifact`, `in-sync`
//! when the twin bucket holds the current version of the primary's `model_data` object, else
//! `missing` or `out-of-date` ([`artifact_status`]). The model is created only once it is in
//! sync ([`ensure_artifact`] copies and verifies it if needed, with [`super::objects`]). An
//! artifact the primary bucket does not hold yet (a stack applied from empty, before the first
//! upload) is nothing to copy: it counts as in sync, the DR model is made as the primary's is,
//! a warning says so, and the replication rule copies the artifact once it is uploaded
//! (`dr drill` checks it is there).

use super::objects::{copy_verified, head, holds, with_object_perms};
use super::parse_s3_uri;
use crate::aws::AwsError;
use crate::permissions::Perm;
use crate::resources::{Ctx, Decl};

/// A twin model's (`dr.sagemaker_model.<m>`) artifact: read in the primary region, copied into
/// the twin bucket and both checked by SHA-256 (outputs `artifact_source`, `artifact_replica`).
pub const ARTIFACT_PERMISSIONS: &[Perm] = with_object_perms!([], ARTIFACT, REPLICA, ARTIFACT_KEYS);
const ARTIFACT: &str = "{twin}{s3obj:artifact_source}";
const REPLICA: &str = "{twin}{s3obj:artifact_replica}";
const ARTIFACT_KEYS: &str = "{twin}arn:aws:kms:{out.artifact_source_region}:{account}:key/*";

/// The value of a DR model's `artifact` attribute when it is in sync.
pub const IN_SYNC: &str = "in-sync";

/// Where a DR model's artifact comes from and goes to (from its decl's outputs).
struct Artifact {
    src_region: String,
    src: String,
    dst: String,
    key: String,
}

fn artifact_of(decl: &Decl) -> Option<Artifact> {
    let (src, key) = parse_s3_uri(decl.outputs["artifact_source"].as_str()?)?;
    let (dst, _) = parse_s3_uri(decl.outputs["artifact_replica"].as_str()?)?;
    Some(Artifact {
        src_region: decl.outputs["artifact_source_region"].as_str()?.to_string(),
        src: src.to_string(),
        dst: dst.to_string(),
        key: key.to_string(),
    })
}

/// `in-sync` (also when the primary holds no artifact yet), `missing` or `out-of-date` (see
/// the module docs); `None`
/// for a model whose artifact is not a spec bucket's.
pub async fn artifact_status(cx: &Ctx<'_>, decl: &Decl) -> Result<Option<String>, AwsError> {
    let Some(a) = artifact_of(decl) else {
        return Ok(None);
    };
    let (source, twin) = tokio::try_join!(
        head(&cx.clients(&a.src_region).s3, &a.src, &a.key, None),
        head(&cx.clients(&decl.region).s3, &a.dst, &a.key, None),
    )?;
    Ok(Some(
        match (source, twin) {
            // Nothing to copy yet: the twin holds what the primary holds (see the module
            // docs); `ensure_artifact` warns.
            (None, _) => IN_SYNC,
            (Some(_), None) => "missing",
            (Some(s), Some(t)) if holds(&t, &s) => IN_SYNC,
            (Some(_), Some(_)) => "out-of-date",
        }
        .to_string(),
    ))
}

/// Makes sure the twin bucket holds the current version of the model's artifact (copied and
/// verified when it does not): a DR model is never created without it.
pub async fn ensure_artifact(cx: &Ctx<'_>, decl: &Decl) -> Result<(), AwsError> {
    let Some(a) = artifact_of(decl) else {
        return Ok(());
    };
    let src_s3 = &cx.clients(&a.src_region).s3;
    let Some(source) = head(src_s3, &a.src, &a.key, None).await? else {
        tracing::warn!(
            "{}: the model artifact s3://{}/{} is not in the primary bucket yet; the DR model \
             is made without a copy, and replication copies the artifact once it is uploaded \
             (`novactl dr drill` checks it is there)",
            decl.address,
            a.src,
            a.key
        );
        return Ok(());
    };
    let twin = head(&cx.clients(&decl.region).s3, &a.dst, &a.key, None).await?;
    if twin.as_ref().is_some_and(|t| holds(t, &source)) {
        return Ok(());
    }
    let c = copy_verified(
        cx,
        &a.src_region,
        &a.src,
        &a.key,
        &source,
        &decl.region,
        &a.dst,
    )
    .await?;
    tracing::info!(
        address = decl.address,
        key = c.key,
        sha256 = c.sha256,
        "artifact copied"
    );
    Ok(())
}
