//! The shared kit of every kind. A kind file holds what is its own; anything two kinds need
//! lives here:
//!
//! * [`tags`]: the tags a resource should carry, whose a live one is, and one tag
//!   synchronisation over a [`tags::TagApi`] impl per SDK;
//! * [`wait`]: one waiter for long transitions (budget, backoff, Ctrl-C, progress, typed ends);
//! * [`discover`]: the discovery skeleton (read what discovery found, keep what is ours);
//! * [`refs`]: references between resources (account, KMS keys, ARNs, bucket names);
//! * [`cache`]: the reads an observation shares (one tagging-API read per region, bulk reads);
//! * [`owned_role`]: a role another kind owns (a log group's, a replicated bucket's);
//! * [`delivery`]: the bucket-policy statements that let CloudTrail deliver into a bucket;
//! * [`ec2`]: EC2 tags, security-group rules as sets, deletes an ENI holds;
//! * [`log_group`]: log-group retentions (a trail's group, a network's flow-log group);
//! * [`import`]: what `novactl import` asks a kind for and the helpers of its mappings;
//! * [`s3_errors`]: S3 error helpers several S3-touching rooms share;
//! * [`all_settled`]: independent calls at once, every one waited for.

pub mod cache;
pub mod delivery;
pub mod discover;
pub mod ec2;
pub mod import;
pub mod log_group;
pub mod owned_role;
pub mod refs;
pub mod s3_errors;
pub mod tags;
pub mod wait;

/// Runs `jobs` at once and waits for every one (none is dropped mid-call, as
/// `try_join_all` would on the first error), then gives their values in order, or the first
/// error.
pub async fn all_settled<T, F>(
    jobs: impl IntoIterator<Item = F>,
) -> Result<Vec<T>, crate::aws::AwsError>
where
    F: std::future::Future<Output = Result<T, crate::aws::AwsError>>,
{
    futures::future::join_all(jobs).await.into_iter().collect()
}
