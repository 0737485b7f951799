//! Secrets stay secret: values that are sensitive print as `(sensitive)` everywhere novactl
//! writes (plan text and JSON, saved plans, apply and destroy output, logs, audit records).
//!
//! A value is sensitive when
//! * its key looks secret: [`key_is_sensitive`] (`token`, `secret`, `password`, `passwd`,
//!   `api_key`/`api-key`/`apikey`, `private_key`, `credential`, any case, anywhere in the key);
//! * the spec marks it: `sensitive: [NAME, ...]` on a SageMaker model names environment
//!   variables, `sensitive_vars: [NAME, ...]` at the top names `vars` entries.
//!
//! Two layers apply:
//! 1. **By key**, on data: [`redact_value`] replaces the value of every sensitive key in a JSON
//!    document (a plan's `before`/`after`, its attribute changes).
//! 2. **By value**, on text: every sensitive value of the spec (at least [`MIN_SCRUB_LEN`]
//!    characters) is registered once per run ([`register`]); [`scrub`] replaces it wherever it
//!    appears — inside a rendered description, an AWS error message, a log line. The shell,
//!    the log writer and the audit record pass all their text through it.
//!
//! Changes stay visible: the plan compares the real values, so a changed secret is an update
//! (`(sensitive) -> (sensitive)`), and a saved plan carries a digest of the live state it was
//! made from ([`crate::plan::Change::before_digest`]) so that `apply PLAN` still notices a
//! secret that moved since.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::RwLock;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// What a sensitive value prints as.
pub const SENSITIVE: &str = "(sensitive)";

/// Values shorter than this are redacted by key only, never searched for in text (a value of
/// `prod` would otherwise blank out every mention of the environment).
pub const MIN_SCRUB_LEN: usize = 6;

static VALUES: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Does this key name a secret? `(?i)token|secret|password|passwd|api[_-]?key|private[_-]?key|
/// credential`, as a substring.
pub fn key_is_sensitive(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "token",
        "secret",
        "password",
        "passwd",
        "apikey",
        "api_key",
        "api-key",
        "privatekey",
        "private_key",
        "private-key",
        "credential",
    ]
    .iter()
    .any(|p| k.contains(p))
}

/// Adds sensitive values to the ones [`scrub`] replaces (longest first, so a value that
/// contains another is replaced whole).
pub fn register<I: IntoIterator<Item = String>>(values: I) {
    let mut all = VALUES.write().unwrap_or_else(|e| e.into_inner());
    let mut set: BTreeSet<String> = all.drain(..).collect();
    set.extend(
        values
            .into_iter()
            .filter(|v| v.chars().count() >= MIN_SCRUB_LEN),
    );
    let mut v: Vec<String> = set.into_iter().collect();
    v.sort_by_key(|s| std::cmp::Reverse(s.len()));
    *all = v;
}

/// `text` with every registered sensitive value (and its JSON-escaped form) replaced.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let values = VALUES.read().unwrap_or_else(|e| e.into_inner());
    let mut out = Cow::Borrowed(text);
    for v in values.iter() {
        let escaped = serde_json::to_string(v).unwrap_or_default();
        let escaped = escaped.trim_matches('"');
        for needle in [v.as_str(), escaped] {
            if out.contains(needle) {
                out = Cow::Owned(out.replace(needle, SENSITIVE));
            }
        }
    }
    out
}

/// Is `key` sensitive for a resource whose spec lists `marked` keys as sensitive?
fn sensitive(key: &str, marked: &[String]) -> bool {
    key_is_sensitive(key) || marked.iter().any(|m| m == key)
}

/// Replaces, in place, the value of every sensitive key (at any depth) with [`SENSITIVE`],
/// and scrubs registered values out of every string. Returns whether anything changed.
pub fn redact_value(v: &mut Value, marked: &[String]) -> bool {
    match v {
        Value::Object(m) => {
            let mut changed = false;
            for (k, item) in m.iter_mut() {
                if sensitive(k, marked) && !item.is_null() && item.as_str() != Some(SENSITIVE) {
                    *item = Value::String(SENSITIVE.into());
                    changed = true;
                } else {
                    changed |= redact_value(item, marked);
                }
            }
            changed
        }
        Value::Array(a) => a.iter_mut().fold(false, |c, x| redact_value(x, marked) | c),
        Value::String(s) => match scrub(s) {
            Cow::Owned(clean) => {
                *s = clean;
                true
            }
            Cow::Borrowed(_) => false,
        },
        _ => false,
    }
}

/// Is any segment of a dotted attribute path sensitive?
pub fn path_is_sensitive(path: &str, marked: &[String]) -> bool {
    path.split('.').any(|seg| sensitive(seg, marked))
}

/// The string values of every sensitive key in `v` (for [`register`]).
pub fn values_of(v: &Value, marked: &[String], out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, item) in m {
                if sensitive(k, marked) {
                    leaves(item, out);
                } else {
                    values_of(item, marked, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| values_of(x, marked, out)),
        _ => {}
    }
}

fn leaves(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(a) => a.iter().for_each(|x| leaves(x, out)),
        Value::Object(m) => m.values().for_each(|x| leaves(x, out)),
        _ => {}
    }
}

/// A digest of `v` for `address`, to notice that a redacted value changed without keeping it.
pub fn digest(address: &str, v: &Value) -> String {
    let mut h = Sha256::new();
    h.update(b"novactl-sensitive-v1\0");
    h.update(address.as_bytes());
    h.update(b"\0");
    h.update(v.to_string().as_bytes());
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// An `io::Write` that scrubs what it writes (for the log writer).
pub struct Scrubbed<W>(pub W);

impl<W: std::io::Write> std::io::Write for Scrubbed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(scrub(&text).as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_looking_keys() {
        for k in [
            "HF_TOKEN",
            "db_password",
            "Passwd",
            "API_KEY",
            "api-key",
            "apikey",
            "PRIVATE_KEY",
            "aws_credentials",
            "clientSecret",
        ] {
            assert!(key_is_sensitive(k), "{k}");
        }
        for k in ["HF_TASK", "QUANTIZATION", "name", "key", "api", "private"] {
            assert!(!key_is_sensitive(k), "{k}");
        }
    }

    #[test]
    fn values_are_redacted_by_key_and_by_value() {
        register(["s3cr3t-value-xyz".to_string(), "tiny".to_string()]);
        let mut v = json!({
            "environment": {"HF_TOKEN": "hf_abc", "MY_VAR": "plain", "OTHER": "x"},
            "description": "uses s3cr3t-value-xyz inside",
            "short": "tiny",
        });
        assert!(redact_value(&mut v, &["OTHER".into()]));
        assert_eq!(
            v,
            json!({
                "environment": {"HF_TOKEN": SENSITIVE, "MY_VAR": "plain", "OTHER": SENSITIVE},
                "description": "uses (sensitive) inside",
                "short": "tiny",
            })
        );
        assert_eq!(
            scrub("error: bad s3cr3t-value-xyz"),
            "error: bad (sensitive)"
        );
        assert!(!redact_value(&mut v, &["OTHER".into()]), "idempotent");
    }
}
