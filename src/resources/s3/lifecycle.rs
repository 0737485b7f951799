//! A bucket's lifecycle rules: the one shape ([`Rule`]) both the spec and GetBucketLifecycleConfiguration
//! are reduced to, the spec's checks ([`check_lifecycle`]), and the conversions to and from
//! the SDK's types.

use std::collections::BTreeSet;

use aws_sdk_s3::types::{
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
    NoncurrentVersionExpiration, TransitionStorageClass,
};
use serde::{Deserialize, Serialize};

use crate::aws::AwsError;
use crate::resources::kit::s3_errors::build_error;
use crate::spec::model::Bucket;
use crate::spec::{LoadedSpec, SpecError};

/// Storage classes a lifecycle transition may name.
pub const STORAGE_CLASSES: &[&str] = &[
    "GLACIER",
    "GLACIER_IR",
    "DEEP_ARCHIVE",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
];

/// A lifecycle rule in the one shape both the spec and AWS's answer are reduced to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Rule {
    pub id: String,
    pub prefix: String,
    pub enabled: bool,
    pub expire_days: Option<i32>,
    /// Sorted by days.
    pub transitions: Vec<RuleTransition>,
    pub noncurrent_expire_days: Option<i32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RuleTransition {
    pub days: i32,
    pub storage_class: String,
}

/// Checks the lifecycle rules of bucket `b` (at `path`): every error names its key.
pub(super) fn check_lifecycle(spec: &LoadedSpec, path: &str, b: &Bucket) -> Result<(), SpecError> {
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

pub(super) fn rule_from_spec(r: &crate::spec::model::LifecycleRule) -> Rule {
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

pub(super) fn rule_from_aws(r: &LifecycleRule) -> Rule {
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

pub(super) fn rule_to_aws(r: &Rule) -> Result<LifecycleRule, AwsError> {
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
