//! The IAM permissions novactl needs, as data: every AWS API call novactl makes is declared
//! once, with the IAM actions it needs and the resources they apply to, next to the code that
//! makes it (each kind's `PERMISSIONS`, returned by `Reconciler::permissions`; the calls every
//! command makes, whatever the spec holds, in `GLOBAL` (`src/ops/permissions/expand.rs`):
//! [`CORE`], discovery's). `novactl permissions` renders them for one spec as a least-privilege
//! policy (expanded there); `tests/permissions.rs` records every call a
//! run of the seed stack makes (`NOVACTL_CALL_LOG`) and checks each is declared and granted,
//! and that nothing else is granted.
//!
//! This module holds the types the kinds declare with and the call log; it needs nothing of
//! the pipeline (the expansion of a model into a policy lives in `ops`).
//!
//! # Adding a call
//! Add a [`Perm`] to the `PERMISSIONS` of the kind that makes it (or of the module, listed in
//! `GLOBAL`): `call` is
//! the operation as the SDK names it (`s3:PutBucketEncryption`; the service prefix is the
//! IAM one), `actions` the IAM actions AWS checks for it (they differ from the operation name
//! more often than one would like: `s3:PutEncryptionConfiguration`), `resources` ARN templates
//! (see `expand` in `src/ops/permissions/expand.rs`), `implied` actions AWS checks besides
//! (e.g. `iam:PassRole` for a call that hands a role to a service).

use std::io::Write;
use std::sync::Mutex;

/// One AWS API operation and what IAM must allow for it.
#[derive(Debug, Clone, Copy)]
pub struct Perm {
    /// `<iam prefix>:<Operation>` as the SDK reports the call.
    pub call: &'static str,
    /// IAM actions AWS evaluates for the call.
    pub actions: &'static [&'static str],
    /// ARN templates, `*` for actions without resource-level permissions (see
    /// `expand` in `src/ops/permissions/expand.rs`).
    pub resources: &'static [&'static str],
    /// Actions AWS checks besides `actions`, each with its resources and a condition, when
    /// the call carries a value that needs them (a role handed to a service).
    pub implied: &'static [Implied],
}

impl Perm {
    /// The call changes nothing: its operation and every action it needs (implied ones too)
    /// are reads ([`is_read`]). The read-only policy (`permissions --for read`) grants these
    /// calls only.
    pub fn is_read(&self) -> bool {
        is_read(self.call)
            && self.actions.iter().all(|a| is_read(a))
            && self.implied.iter().all(|i| is_read(i.action))
    }
}

/// Verbs of the operations and IAM actions that only read (`s3:GetBucketTagging`,
/// `sagemaker:DescribeEndpoint`, `s3:HeadBucket`, `iam:ListRoles`); every other verb (Put,
/// Create, Delete, Update, Tag, Invoke, ...) counts as a write.
pub const READ_VERBS: &[&str] = &["Get", "List", "Describe", "Head"];
/// Read-only IAM actions whose verb is not one of [`READ_VERBS`]: decrypting what a read
/// returns (an object encrypted with a KMS key).
pub const READ_ACTIONS: &[&str] = &["kms:Decrypt"];

/// `service:Operation` (a call or an IAM action) only reads: its verb is one of
/// [`READ_VERBS`] (a whole word: `Get` in `GetObject`, not in `Getaway`), or it is one of
/// [`READ_ACTIONS`].
pub fn is_read(call: &str) -> bool {
    if READ_ACTIONS.contains(&call) {
        return true;
    }
    let op = call.split_once(':').map_or(call, |(_, op)| op);
    READ_VERBS.iter().any(|v| {
        op.strip_prefix(v).is_some_and(|rest| {
            rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_uppercase())
        })
    })
}

#[derive(Debug, Clone, Copy)]
pub struct Implied {
    pub action: &'static str,
    pub resources: &'static [&'static str],
    /// `(operator, condition key, value)`.
    pub condition: Option<(&'static str, &'static str, &'static str)>,
}

/// Shorthand for a [`Perm`] without implied actions.
pub const fn perm(
    call: &'static str,
    actions: &'static [&'static str],
    resources: &'static [&'static str],
) -> Perm {
    Perm {
        call,
        actions,
        resources,
        implied: &[],
    }
}

/// Calls every AWS command makes, whatever the spec holds.
pub const CORE: &[Perm] = &[perm(
    "sts:GetCallerIdentity",
    &["sts:GetCallerIdentity"],
    &["*"],
)];

/// Calls of the S3 state backend (`state.s3`, [`crate::state::s3`]): its objects live under
/// `<prefix><environment>/` in the state bucket, encrypted with the state key. Templates:
/// `{bucket}`, `{root}` (the object prefix), `{region}`, `{account}`, `{key}` (the state key's
/// ARN, or every key of the region when the spec names it by alias).
pub const STATE_S3: &[Perm] = &[
    perm(
        "s3:HeadBucket",
        &["s3:ListBucket"],
        &["arn:aws:s3:::{bucket}"],
    ),
    perm(
        "s3:ListObjectsV2",
        &["s3:ListBucket"],
        &["arn:aws:s3:::{bucket}"],
    ),
    Perm {
        call: "s3:GetObject",
        actions: &["s3:GetObject"],
        resources: &["arn:aws:s3:::{bucket}/{root}*"],
        implied: &[Implied {
            action: "kms:Decrypt",
            resources: &["{key}"],
            condition: None,
        }],
    },
    Perm {
        call: "s3:PutObject",
        actions: &["s3:PutObject"],
        resources: &["arn:aws:s3:::{bucket}/{root}*"],
        implied: &[Implied {
            action: "kms:GenerateDataKey",
            resources: &["{key}"],
            condition: None,
        }],
    },
    perm(
        "s3:DeleteObject",
        &["s3:DeleteObject"],
        &["arn:aws:s3:::{bucket}/{root}*"],
    ),
    perm("kms:DescribeKey", &["kms:DescribeKey"], &["{key}"]),
];

/// The IAM prefix of a service as the SDK names it in call metadata.
pub fn iam_prefix(sdk_service: &str) -> String {
    match sdk_service {
        "Application Auto Scaling" => "application-autoscaling".into(),
        "CloudWatch Logs" => "logs".into(),
        "Resource Groups Tagging API" => "tag".into(),
        "SageMaker Runtime" => "sagemaker-runtime".into(),
        other => other.to_lowercase().replace(' ', ""),
    }
}

/// Logs one call (see [`log_call`]) from the SDK's metadata of it.
pub fn log_metadata(m: &aws_smithy_runtime_api::client::orchestrator::Metadata) {
    log_call(&format!("{}:{}", iam_prefix(m.service()), m.name()));
}

/// `NOVACTL_CALL_LOG=FILE` (tests, audits): every AWS call this process makes is appended to
/// FILE as one `<iam prefix>:<Operation>` line.
pub fn log_call(call: &str) {
    static LOG: Mutex<Option<Option<std::fs::File>>> = Mutex::new(None);
    let Ok(mut g) = LOG.lock() else {
        return;
    };
    let f = g.get_or_insert_with(|| {
        std::env::var_os("NOVACTL_CALL_LOG").and_then(|p| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .ok()
        })
    });
    if let Some(f) = f {
        let _ = writeln!(f, "{call}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_told_from_writes_by_their_verb() {
        for c in [
            "s3:GetObject",
            "s3:HeadBucket",
            "iam:ListRoles",
            "sagemaker:DescribeEndpoint",
            "sts:GetCallerIdentity",
            "kms:Decrypt",
        ] {
            assert!(is_read(c), "{c}");
        }
        for c in [
            "s3:PutObject",
            "kms:GenerateDataKey",
            "sagemaker:InvokeEndpoint",
            "sns:Publish",
            "kms:ScheduleKeyDeletion",
            "s3:Getaway",
            "iam:PassRole",
        ] {
            assert!(!is_read(c), "{c}");
        }
        assert!(STATE_S3
            .iter()
            .find(|p| p.call == "s3:GetObject")
            .unwrap()
            .is_read());
        assert!(!STATE_S3
            .iter()
            .find(|p| p.call == "s3:PutObject")
            .unwrap()
            .is_read());
    }

    #[test]
    fn sdk_service_names_map_to_iam_prefixes() {
        assert_eq!(iam_prefix("S3"), "s3");
        assert_eq!(
            iam_prefix("Application Auto Scaling"),
            "application-autoscaling"
        );
        assert_eq!(iam_prefix("CloudWatch Logs"), "logs");
        assert_eq!(iam_prefix("SageMaker"), "sagemaker");
        assert_eq!(iam_prefix("Resource Groups Tagging API"), "tag");
        assert_eq!(iam_prefix("SageMaker Runtime"), "sagemaker-runtime");
    }
}
