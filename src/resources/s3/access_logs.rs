//! Server access logging: which access-log bucket a bucket logs to ([`log_target_name`]),
//! under which prefix, the spec's rules for the access-log bucket itself, and that bucket's
//! policy statement admitting S3's log delivery ([`LOG_DELIVERY`]) for the buckets that log
//! to it. For a DR twin every name is read in the DR view ([`Names`]).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::resources::kit::refs::bucket_arn;
use crate::resources::Decl;
use crate::spec::model::{AccessLogging, Bucket, Spec};
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

/// The service principal S3 server access logs are delivered by.
pub const LOG_DELIVERY: &str = "logging.s3.amazonaws.com";

/// Server access logging as both the spec and GetBucketLogging are reduced to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Logging {
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_prefix: Option<String>,
}

impl Logging {
    pub const OFF: Logging = Logging {
        enabled: false,
        target_bucket: None,
        target_prefix: None,
    };
}

/// The spec's rules for a bucket marked `access_log_bucket: true` (`name` at `path`): it names
/// no `kms_key`, and it is the only one.
pub(super) fn check_marked(
    spec: &LoadedSpec,
    path: &str,
    name: &str,
    b: &Bucket,
) -> Result<(), SpecError> {
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
        .find(|(n, o)| o.access_log_bucket && n.as_str() < name)
    {
        return Err(spec.error(
            &format!("{path}.access_log_bucket"),
            format!(
                "s3.{other} is already the access-log bucket of {}: one per region",
                spec.spec.region
            ),
        ));
    }
    Ok(())
}

/// The buckets `desired` sees. A twin (rendered in the DR view, see `dr`) logs to the twin of
/// its primary's log target (S3 delivers access logs only within a region), and an access-log
/// twin receives the logs of the twins: in the DR view only buckets with a twin are in view
/// (`dr::has_twin_bucket`: the replicated ones and the access-log buckets they log to), and
/// `s3.<n>.name` is the twin's name.
pub(super) struct Names<'a> {
    pub spec: &'a LoadedSpec,
    pub r: &'a Renderer<'a>,
    pub twin: bool,
}

impl Names<'_> {
    fn in_view(&self, n: &str) -> bool {
        !self.twin || crate::resources::dr::has_twin_bucket(&self.spec.spec, n)
    }

    fn name(&self, n: &str) -> Result<String, SpecError> {
        let key = format!("s3.{n}.name");
        if self.twin {
            self.r.str(&key, &format!("{{{{ s3.{n}.name }}}}"))
        } else {
            self.r.str(&key, &self.spec.spec.s3[n].name)
        }
    }
}

/// The logging `decl` (bucket `b`) should have: to its log target when that is in view.
pub(super) fn logging(names: &Names, decl: &Decl, b: &Bucket) -> Result<Logging, SpecError> {
    Ok(match log_target_name(names.spec, &decl.name)? {
        Some(target) if names.in_view(&target) => Logging {
            enabled: true,
            target_bucket: Some(names.name(&target)?),
            target_prefix: Some(log_prefix(b, &decl.identity)),
        },
        _ => Logging::OFF,
    })
}

/// The access-log bucket `decl`'s statement: only S3's log delivery writes, and only for the
/// buckets in view that log to it, of `account`.
pub(super) fn delivery_statement(
    names: &Names,
    decl: &Decl,
    account: &str,
) -> Result<Value, SpecError> {
    let mut sources = Vec::new();
    for n in names.spec.spec.s3.keys() {
        if names.in_view(n)
            && log_target_name(names.spec, n)?.as_deref() == Some(decl.name.as_str())
        {
            sources.push(bucket_arn(&names.name(n)?));
        }
    }
    Ok(json!({
        "Sid": "S3ServerAccessLogsDelivery",
        "Effect": "Allow",
        "Principal": {"Service": LOG_DELIVERY},
        "Action": "s3:PutObject",
        "Resource": format!("{}/*", bucket_arn(&decl.identity)),
        "Condition": {
            "ArnLike": {"aws:SourceArn": sources},
            "StringEquals": {"aws:SourceAccount": account},
        },
    }))
}

/// The logical name of the access-log bucket `logical` logs to, or `None` when it does not log
/// (turned off, or the region has no access-log bucket). Checks an explicit target.
pub fn log_target_name(spec: &LoadedSpec, logical: &str) -> Result<Option<String>, SpecError> {
    match (
        &spec.spec.s3[logical].access_logging,
        target_of(&spec.spec, logical),
    ) {
        (Some(AccessLogging::Target(t)), None) => {
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
        (_, target) => Ok(target),
    }
}

/// The logical name of the access-log bucket `logical` logs to, unchecked: `None` when it does
/// not log (turned off, the region has no access-log bucket, or its explicit target is not one).
pub fn target_of(spec: &Spec, logical: &str) -> Option<String> {
    let b = spec.s3.get(logical)?;
    match &b.access_logging {
        // An access-log bucket does not log to itself by default: every log object written
        // would be logged again (AWS advises against it), and it could never be emptied.
        None | Some(AccessLogging::Enabled(true)) if b.access_log_bucket => None,
        None | Some(AccessLogging::Enabled(true)) => spec
            .s3
            .iter()
            .find(|(_, o)| o.access_log_bucket)
            .map(|(n, _)| n.clone()),
        Some(AccessLogging::Enabled(false)) => None,
        Some(AccessLogging::Target(t)) => spec
            .s3
            .get(&t.bucket)
            .is_some_and(|o| o.access_log_bucket)
            .then(|| t.bucket.clone()),
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
