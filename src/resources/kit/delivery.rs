//! The bucket policy statements CloudTrail needs to deliver its logs: the `s3` kind merges
//! them into a bucket's policy for every trail of the spec that writes to the bucket.

use serde_json::{json, Value};

use super::refs::bucket_arn;
use crate::spec::model::Spec;

/// Bucket policy statements CloudTrail needs to deliver to `bucket_name`, for every trail in
/// `spec` whose `bucket` is `bucket_logical_name`: GetBucketAcl on the bucket, and PutObject
/// under `<prefix>/AWSLogs/<account>/` with the `bucket-owner-full-control` ACL. The `s3` kind
/// merges them with its TLS-only statements. A trail's `prefix` is used as written (not
/// rendered).
pub fn delivery_statements(
    spec: &Spec,
    bucket_logical_name: &str,
    bucket_name: &str,
    account: &str,
) -> Vec<Value> {
    let mut out = Vec::new();
    for (name, t) in &spec.cloudtrail {
        if t.bucket != bucket_logical_name {
            continue;
        }
        let sid: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
        let path = match t.prefix.as_deref().map(|p| p.trim_matches('/')) {
            Some(p) if !p.is_empty() => format!("{p}/AWSLogs/{account}/*"),
            _ => format!("AWSLogs/{account}/*"),
        };
        let bucket = bucket_arn(bucket_name);
        out.push(json!({
            "Sid": format!("CloudTrailAclCheck{sid}"),
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:GetBucketAcl",
            "Resource": bucket,
        }));
        out.push(json!({
            "Sid": format!("CloudTrailWrite{sid}"),
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": format!("{bucket}/{path}"),
            "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> Spec {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn delivery_statements_cover_every_trail_on_the_bucket() {
        let s = spec(
            "environment: t\nregion: us-east-1\ncloudtrail:\n  a: {name: TrailA, bucket: logs, prefix: ct}\n  b: {name: TrailB, bucket: other}\n",
        );
        let st = delivery_statements(&s, "logs", "my-logs", "123456789012");
        assert_eq!(st.len(), 2, "one trail: acl check + write");
        assert_eq!(st[0]["Action"], "s3:GetBucketAcl");
        assert_eq!(st[0]["Resource"], "arn:aws:s3:::my-logs");
        assert_eq!(
            st[1]["Resource"],
            "arn:aws:s3:::my-logs/ct/AWSLogs/123456789012/*"
        );
        assert_eq!(
            st[1]["Condition"]["StringEquals"]["s3:x-amz-acl"],
            "bucket-owner-full-control"
        );
        assert!(delivery_statements(&s, "models", "m", "1").is_empty());
        let other = delivery_statements(&s, "other", "o", "1");
        assert_eq!(other[1]["Resource"], "arn:aws:s3:::o/AWSLogs/1/*");
    }
}
