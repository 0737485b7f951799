//! Reaching an environment's account by assuming a role (`aws.assume_role`,
//! `state.s3.assume_role`): aws-config's [`AssumeRoleProvider`] on the base credentials (chain
//! or profile), with the endpoint override, so the emulator's STS answers too. The SDK's
//! credentials cache refreshes the assumed credentials before they expire.

use std::time::Duration;

use aws_config::identity::IdentityCache;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::identity::SharedIdentityCache;

use crate::spec::model::AssumeRole;

use super::AwsError;

/// Who assumed which role, for the audit record and the account guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assumed {
    /// The base identity (the caller that assumed the role).
    pub caller_arn: String,
    pub role_arn: String,
    pub session_name: String,
}

/// The default session name: `novactl-<run id>` (shows in CloudTrail next to the audit
/// record's run id), cut to STS's 64 characters.
pub fn default_session_name(run_id: &str) -> String {
    let mut s = format!("novactl-{run_id}");
    s.truncate(64);
    s
}

/// A credentials provider that assumes `role` with the credentials of `base` (and its
/// endpoint), and the cache every client shares it through.
pub async fn assumed_credentials(
    base: &aws_types::SdkConfig,
    role: &AssumeRole,
) -> (SharedCredentialsProvider, SharedIdentityCache) {
    let mut b = AssumeRoleProvider::builder(role.role_arn.clone()).configure(base);
    if let Some(name) = &role.session_name {
        b = b.session_name(name.clone());
    }
    if let Some(id) = &role.external_id {
        b = b.external_id(id.clone());
    }
    if let Some(d) = role.duration_seconds {
        b = b.session_length(Duration::from_secs(u64::try_from(d).unwrap_or(3600)));
    }
    let provider = b.build().await;
    (
        SharedCredentialsProvider::new(provider),
        IdentityCache::lazy().build(),
    )
}

/// `base` with its credentials replaced by those of `role`.
pub async fn assuming(base: &aws_types::SdkConfig, role: &AssumeRole) -> aws_types::SdkConfig {
    let (creds, cache) = assumed_credentials(base, role).await;
    base.clone()
        .into_builder()
        .credentials_provider(creds)
        .identity_cache(cache)
        .build()
}

impl AwsError {
    /// A failure of a call made with assumed credentials: names the role, the session and
    /// the caller, with what the caller needs.
    pub fn assuming(mut self, a: &Assumed) -> AwsError {
        self.message = format!(
            "with the credentials of role {} (session {}, assumed by {}): {}",
            a.role_arn, a.session_name, a.caller_arn, self.message
        );
        if self.hint.is_none() {
            self.hint = Some(format!(
                "the caller needs sts:AssumeRole on {} and the role's trust policy must allow \
                 the caller (and name the external id, if `external_id` is set)",
                a.role_arn
            ));
        }
        self
    }
}
