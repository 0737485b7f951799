//! References between resources, checked and resolved in one place: the account of the
//! render context, a `kms_key:` naming a spec key, ARNs computable from the spec.

use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

/// The account id from the render context (`{{ account_id }}`).
pub fn account(r: &Renderer) -> String {
    r.str("account_id", "{{ account_id }}").unwrap_or_default()
}

/// Checks that `k` (at `key_path`) names a `kms.*` entry of the spec; returns its address.
pub fn kms_ref(spec: &LoadedSpec, key_path: &str, k: &str) -> Result<String, SpecError> {
    if spec.spec.kms.contains_key(k) {
        Ok(format!("kms.{k}"))
    } else {
        let known: Vec<&str> = spec.spec.kms.keys().map(String::as_str).collect();
        Err(spec.error(
            key_path,
            format!(
                "`{k}` is not a key in the spec's `kms` section (defined: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ),
        ))
    }
}

/// The ARN of a spec key `k` as the render context knows it (`{{ kms.<k>.arn }}`: known
/// after the key is made), after checking the reference.
pub fn kms_arn(
    spec: &LoadedSpec,
    r: &Renderer,
    key_path: &str,
    k: &str,
) -> Result<String, SpecError> {
    kms_ref(spec, key_path, k)?;
    r.str(key_path, &format!("{{{{ kms.{k}.arn }}}}"))
}

/// `arn:aws:s3:::<bucket>`.
pub fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

/// `arn:aws:iam::<account>:role/<name>`.
pub fn role_arn(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:role/{name}")
}

/// `arn:aws:sns:<region>:<account>:<name>`.
pub fn topic_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:sns:{region}:{account}:{name}")
}
