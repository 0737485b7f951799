//! What a bucket holds, for `delete` and `refuse_delete`: whether it is empty, and emptying it
//! (every object version and delete marker) when `--force` says so.

use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use aws_sdk_s3::Client;

use crate::aws::AwsError;
use crate::resources::kit::s3_errors::{build_error, code_is};

/// DeleteObjects accepts at most 1000 keys per call; ListObjectVersions returns at most 1000.
const DELETE_BATCH: i32 = 1000;

/// Does the bucket hold no object version or delete marker? `None` when it is gone.
pub(super) async fn is_empty(s3: &Client, name: &str) -> Result<Option<bool>, AwsError> {
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

pub(super) fn not_empty_text(name: &str) -> String {
    format!(
        "bucket {name} is not empty; destroy refuses to delete data without --force (or empty \
         the bucket first)"
    )
}

/// Deletes every object version and delete marker, a page (at most 1000) at a time.
///
/// Each round lists from the start rather than from the previous page's markers: what was
/// listed has been deleted, and a marker naming a deleted version is not a stable place to
/// resume from (moto then ends the listing early). It stops when a listing comes back empty.
pub(super) async fn empty_bucket(s3: &Client, name: &str) -> Result<(), AwsError> {
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
