//! `novactl import`: what a kind's [`crate::resources::Reconciler::import`] gets and returns,
//! and the helpers every kind's mapping shares (logical names, extra tags, references to the
//! spec's keys). Reads only: an import never writes to AWS.

use serde_json::{Map, Value};

use crate::aws::AwsError;
use crate::resources::{Ctx, Decl};
use crate::spec::LoadedSpec;

/// What `import` asks a kind for.
pub struct ImportRequest<'a> {
    /// The id the user gave (a bucket name, a key id or alias, a topic name or ARN ...).
    pub id: &'a str,
    /// The region to read in (the spec's primary region).
    pub region: &'a str,
    pub spec: &'a LoadedSpec,
    /// The spec's resources, to turn ids into references (`kms_key: phi`).
    pub decls: &'a [Decl],
}

/// The spec entry a kind made of a live resource.
pub struct Imported {
    /// The logical name derived from the live name (`--as` overrides it).
    pub name: String,
    /// The entry's keys, in the spec's shape.
    pub entry: Map<String, Value>,
    /// Template files the entry refers to: (key in `entry`, suggested file name, contents); a
    /// key `a.b` is `b` in the map `a` (an IAM role's `policies.<policy name>`).
    /// Written with `--write DIR`; without it the key is left out (not managed) and a comment
    /// says so.
    pub files: Vec<(String, String, String)>,
    /// Remarks printed as comments above the entry (a secret left out, a key not managed).
    pub comments: Vec<String>,
}

/// The error of a kind without an import mapping.
pub fn unsupported(kind: &str) -> AwsError {
    AwsError::local(
        "novactl:import",
        "ImportNotSupported",
        format!("import is not supported for kind {kind} yet"),
    )
}

/// The error of an id that names nothing live.
pub fn not_found(kind: &str, id: &str) -> AwsError {
    AwsError::local(
        "novactl:import",
        "NotFound",
        format!("no {kind} `{id}` in this account and region"),
    )
}

/// The error of a reference to a KMS key the spec does not hold.
pub fn key_not_in_spec(key: &str) -> AwsError {
    AwsError::local(
        "novactl:import",
        "KeyNotInSpec",
        format!(
            "it is encrypted with KMS key {key}, which no `kms:` entry of the spec names: import \
             the key first (novactl import kms {key}), paste it, then import this again"
        ),
    )
}

/// A logical name from a live name: lower case, `[a-z0-9_]` only, no leading digit.
pub fn logical_name(id: &str) -> String {
    let base = id.rsplit(['/', ':']).next().unwrap_or(id);
    let mut out = String::new();
    for c in base.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_string();
    match out.chars().next() {
        None => "imported".into(),
        Some(c) if c.is_ascii_digit() => format!("r_{out}"),
        Some(_) => out,
    }
}

/// The live tags the entry must list itself: all but novactl's own and the spec-wide `tags`
/// (with the same value).
pub fn extra_tags(spec: &LoadedSpec, live: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in live.as_object().into_iter().flatten() {
        if k.starts_with("novactl:") || k.starts_with("aws:") {
            continue;
        }
        if spec
            .spec
            .tags
            .get(k)
            .is_some_and(|s| Some(s.as_str()) == v.as_str())
        {
            continue;
        }
        out.insert(k.clone(), v.clone());
    }
    out
}

/// `doc` as the text of a template file: pretty JSON, kept verbatim by the template engine
/// (`{% raw %}`) when it holds template syntax.
pub fn template_text(doc: &Value) -> String {
    let text = serde_json::to_string_pretty(doc).unwrap_or_default();
    if text.contains("{{") || text.contains("{%") || text.contains("{#") {
        format!("{{% raw %}}{text}{{% endraw %}}\n")
    } else {
        text + "\n"
    }
}

/// The logical name of the spec's `kind` resource (in the primary region) whose live id is
/// `identity` (a bucket name, a role name, a topic name ...); `None` when the spec has none.
pub fn spec_name_of(req: &ImportRequest<'_>, kind: &str, identity: &str) -> Option<String> {
    req.decls
        .iter()
        .find(|d| d.kind == kind && d.region == req.region && d.identity == identity)
        .map(|d| d.name.clone())
}

/// The error of a live reference (`what`, e.g. "its access-log target bucket x") to a
/// resource of `kind` the spec does not hold: import that one first.
pub fn dependency_not_in_spec(what: &str, kind: &str, id: &str) -> AwsError {
    AwsError::local(
        "novactl:import",
        "DependencyNotInSpec",
        format!(
            "{what} is not a `{kind}` entry of the spec: import it first (novactl import \
             {kind} {id}), paste it, then import this again"
        ),
    )
}

/// The spec's KMS key (its logical name) whose alias resolves to `key` (an id or ARN), read
/// in `region`; `None` when no spec key is that key.
pub async fn spec_key_of(
    cx: &Ctx<'_>,
    req: &ImportRequest<'_>,
    key: &str,
) -> Result<Option<String>, AwsError> {
    let kms = &cx.clients(req.region).kms;
    // An alias or ARN: the key id it names.
    let id = match kms.describe_key().key_id(key).send().await {
        Ok(o) => o.key_metadata.map(|m| m.key_id).unwrap_or_default(),
        Err(e) => return Err(AwsError::from_err("kms:DescribeKey", e)),
    };
    for d in req
        .decls
        .iter()
        .filter(|d| d.kind == "kms" && d.region == req.region)
    {
        let found = kms.describe_key().key_id(&d.identity).send().await;
        let key_id = match found {
            Ok(o) => o.key_metadata.map(|m| m.key_id).unwrap_or_default(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_not_found_exception()) =>
            {
                continue
            }
            Err(e) => return Err(AwsError::from_err("kms:DescribeKey", e)),
        };
        if key_id == id {
            return Ok(Some(d.name.clone()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_names_are_lower_case_words() {
        assert_eq!(logical_name("Novamind-PHI.Alerts"), "novamind_phi_alerts");
        assert_eq!(logical_name("alias/novamind-phi"), "novamind_phi");
        assert_eq!(
            logical_name("arn:aws:sns:us-east-1:123456789012:alerts"),
            "alerts"
        );
        assert_eq!(logical_name("1234abcd-12ab"), "r_1234abcd_12ab");
        assert_eq!(logical_name("--"), "imported");
    }
}
