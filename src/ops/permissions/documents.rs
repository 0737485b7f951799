//! The policy split into managed policies AWS accepts: AWS limits a managed policy to
//! [`MAX_CHARS`] characters (whitespace excluded), so the statements of [`expand::grants`] are
//! grouped by service into documents named for what they grant (`novactl-apply-kms`), a group
//! too large for one document split in parts (`novactl-apply-s3-1`, `novactl-apply-s3-2`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::expand::{self, Key};
use crate::engine::Model;

/// The most characters (whitespace excluded) AWS accepts in a managed policy document.
pub const MAX_CHARS: usize = 6144;

/// Which commands a policy is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Purpose {
    /// Every call a run of any command may make (plan, apply, destroy, the `dr` commands, ...).
    #[default]
    Apply,
    /// The calls of the commands that only read: plan, check --live, drift, output, history,
    /// report (every kind's and discovery's reads, STS, the state backend's reads).
    Read,
}

impl Purpose {
    pub fn name(self) -> &'static str {
        match self {
            Purpose::Apply => "apply",
            Purpose::Read => "read",
        }
    }
}

/// Services whose actions share one document: the document's name, its services, and what it
/// grants for `apply` and for `read`. A service not listed gets a document of its own, named
/// for its IAM prefix.
const GROUPS: &[(&str, &[&str], &str, &str)] = &[
    (
        "discovery",
        &["sts", "tag"],
        "the account check (STS) and resource discovery (the tagging API)",
        "the account check (STS) and resource discovery (the tagging API)",
    ),
    (
        "kms",
        &["kms"],
        "KMS keys and aliases, and the keys that encrypt what novactl reads and writes",
        "reads of KMS keys and aliases, and decrypting the state and objects novactl reads",
    ),
    (
        "s3",
        &["s3"],
        "S3 buckets, their settings and objects, and the state backend's objects",
        "reads of S3 buckets and their settings, and of the state backend's objects",
    ),
    (
        "iam",
        &["iam"],
        "IAM roles and their policies, and handing roles to services (iam:PassRole)",
        "reads of IAM roles and their policies",
    ),
    (
        "sagemaker",
        &["sagemaker", "application-autoscaling"],
        "SageMaker models, endpoints and endpoint autoscaling",
        "reads of SageMaker models, endpoints and endpoint autoscaling",
    ),
    (
        "monitoring",
        &["cloudwatch", "logs", "cloudtrail", "sns"],
        "CloudWatch alarms, dashboards and metrics, CloudWatch Logs, CloudTrail and SNS topics",
        "reads of CloudWatch alarms and dashboards, CloudWatch Logs, CloudTrail and SNS topics",
    ),
];

/// One managed policy.
#[derive(Debug, Clone)]
pub struct Document {
    /// `novactl-<purpose>-<group>[-<part>]`: the policy's name and its file's stem.
    pub name: String,
    /// What it grants, in words.
    pub grants: String,
    pub policy: Value,
}

impl Document {
    /// Characters AWS counts against [`MAX_CHARS`].
    pub fn chars(&self) -> usize {
        size(&self.policy)
    }

    pub fn statements(&self) -> usize {
        self.policy["Statement"].as_array().map_or(0, Vec::len)
    }
}

/// Characters of a policy serialised without whitespace, as AWS counts them.
pub fn size(policy: &Value) -> usize {
    serde_json::to_string(policy)
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .count()
}

/// Actions granted on resources (under a condition): one statement before any split.
type Grant = (BTreeSet<String>, Key);

/// The managed policies for `purpose` on `model`, each at most [`MAX_CHARS`] characters (a
/// single statement of one action on one resource apart, which no spec comes near).
pub fn documents(model: &Model, account: &str, purpose: Purpose) -> Vec<Document> {
    // (group order, group name) -> statements (actions, resources and condition)
    let mut groups: BTreeMap<(usize, String), Vec<Grant>> = BTreeMap::new();
    for (key, actions) in expand::grants(model, account, purpose == Purpose::Read) {
        let mut by_group: BTreeMap<(usize, String), BTreeSet<String>> = BTreeMap::new();
        for a in actions {
            by_group.entry(group_of(&a)).or_default().insert(a);
        }
        for (g, actions) in by_group {
            groups.entry(g).or_default().push((actions, key.clone()));
        }
    }
    let mut out = Vec::new();
    for ((i, group), statements) in groups {
        let base = format!("novactl-{}-{group}", purpose.name());
        let grants = match (GROUPS.get(i), purpose) {
            (Some(g), Purpose::Apply) => g.2.to_string(),
            (Some(g), Purpose::Read) => g.3.to_string(),
            (None, Purpose::Apply) => format!("{group} actions"),
            (None, Purpose::Read) => format!("reads of {group}"),
        };
        let parts = pack(&base, statements);
        let n = parts.len();
        for (p, statements) in parts.into_iter().enumerate() {
            let name = if n == 1 {
                base.clone()
            } else {
                format!("{base}-{}", p + 1)
            };
            let statements: Vec<Value> = statements
                .into_iter()
                .enumerate()
                .map(|(k, mut s)| {
                    s["Sid"] = json!(sid(&name, k + 1));
                    s
                })
                .collect();
            out.push(Document {
                grants: if n == 1 {
                    grants.clone()
                } else {
                    format!("{grants} (part {} of {n})", p + 1)
                },
                name,
                policy: json!({"Version": "2012-10-17", "Statement": statements}),
            });
        }
    }
    out
}

/// The group of an action: its place in [`GROUPS`] (after them for a service not listed) and
/// its name.
fn group_of(action: &str) -> (usize, String) {
    let service = action.split_once(':').map_or(action, |(s, _)| s);
    GROUPS
        .iter()
        .position(|(_, services, ..)| services.contains(&service))
        .map_or_else(
            || (GROUPS.len(), service.to_string()),
            |i| (i, GROUPS[i].0.to_string()),
        )
}

/// A statement id naming its document: `novactl-apply-s3-2`, 4 -> `NovactlApplyS3Part2Stmt4`.
fn sid(name: &str, n: usize) -> String {
    let mut out = String::new();
    for w in name.split('-') {
        if w.chars().all(|c| c.is_ascii_digit()) {
            out.push_str("Part");
            out.push_str(w);
        } else {
            let mut cs = w.chars().filter(char::is_ascii_alphanumeric);
            if let Some(c) = cs.next() {
                out.push(c.to_ascii_uppercase());
                out.extend(cs);
            }
        }
    }
    format!("{out}Stmt{n}")
}

/// The statements of one group packed, in order, into documents that each fit: a statement too
/// large alone is first split by resources. Sizes are measured with the longest statement id
/// the documents may get.
fn pack(base: &str, statements: Vec<Grant>) -> Vec<Vec<Value>> {
    let widest = sid(&format!("{base}-99"), 9999);
    let measure = |ss: &[Value]| {
        let with_ids: Vec<Value> = ss
            .iter()
            .map(|s| {
                let mut s = s.clone();
                s["Sid"] = json!(widest);
                s
            })
            .collect();
        size(&json!({"Version": "2012-10-17", "Statement": with_ids}))
    };
    let mut fitted = Vec::new();
    for (actions, (resources, cond)) in statements {
        let whole = expand::statement(&actions, &(resources.clone(), cond.clone()));
        if measure(std::slice::from_ref(&whole)) <= MAX_CHARS {
            fitted.push(whole);
            continue;
        }
        let mut chunk: BTreeSet<String> = BTreeSet::new();
        for r in resources {
            chunk.insert(r.clone());
            let s = expand::statement(&actions, &(chunk.clone(), cond.clone()));
            if chunk.len() > 1 && measure(&[s]) > MAX_CHARS {
                chunk.remove(&r);
                fitted.push(expand::statement(&actions, &(chunk, cond.clone())));
                chunk = BTreeSet::from([r]);
            }
        }
        if !chunk.is_empty() {
            fitted.push(expand::statement(&actions, &(chunk, cond.clone())));
        }
    }
    let mut parts: Vec<Vec<Value>> = Vec::new();
    for s in fitted {
        match parts.last_mut() {
            Some(last) => {
                last.push(s);
                if measure(last) > MAX_CHARS && last.len() > 1 {
                    let s = last.pop().expect("just pushed");
                    parts.push(vec![s]);
                }
            }
            None => parts.push(vec![s]),
        }
    }
    parts
}

/// Every IAM action the documents grant.
pub fn granted_actions(docs: &[Document]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for d in docs {
        for s in d.policy["Statement"].as_array().into_iter().flatten() {
            match &s["Action"] {
                Value::String(a) => {
                    out.insert(a.clone());
                }
                Value::Array(v) => {
                    out.extend(v.iter().filter_map(Value::as_str).map(str::to_string))
                }
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::OFFLINE_ACCOUNT;
    use crate::spec::LoadedSpec;

    /// A seed spec's model, built as `permissions` builds it, and the account its policies name.
    fn seed(file: &str) -> (Model, String) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let spec = LoadedSpec::load_with(&path, &[]).expect("seed spec");
        let named = spec.spec.account_id.clone();
        let model = Model::build(spec, named.as_deref().unwrap_or(OFFLINE_ACCOUNT)).unwrap();
        (model, named.unwrap_or_else(|| "*".into()))
    }

    const SEEDS: &[&str] = &["environments/prod.yaml", "environments/local.yaml"];

    /// Verbs of IAM actions that change something: none may be in the read policy.
    const WRITE_VERBS: &[&str] = &[
        "Put",
        "Create",
        "Delete",
        "Update",
        "Tag",
        "Untag",
        "Schedule",
        "Enable",
        "Disable",
        "Attach",
        "Detach",
        "Register",
        "Deregister",
        "Add",
        "Remove",
        "Start",
        "Stop",
        "Publish",
        "Copy",
        "Restore",
        "Cancel",
        "Set",
        "Invoke",
        "Associate",
        "Disassociate",
        "Generate",
        "Encrypt",
        "ReEncrypt",
        "Pass",
        "Modify",
        "Upload",
        "Send",
        "Import",
        "Replicate",
    ];

    fn looks_like_a_write(action: &str) -> bool {
        let op = action.split_once(':').map_or(action, |(_, op)| op);
        WRITE_VERBS.iter().any(|v| op.starts_with(v))
    }

    /// Every (action, resource, condition) a set of documents grants.
    fn triples(docs: &[Document]) -> BTreeSet<(String, String, String)> {
        let mut out = BTreeSet::new();
        for d in docs {
            for s in d.policy["Statement"].as_array().unwrap() {
                let list = |v: &Value| -> Vec<String> {
                    match v {
                        Value::String(a) => vec![a.clone()],
                        Value::Array(v) => v.iter().map(|a| a.as_str().unwrap().into()).collect(),
                        _ => panic!("{v}"),
                    }
                };
                for a in list(&s["Action"]) {
                    for r in list(&s["Resource"]) {
                        out.insert((a.clone(), r, s["Condition"].to_string()));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn every_seed_document_fits_a_managed_policy_and_the_split_loses_nothing() {
        for file in SEEDS {
            let (model, account) = seed(file);
            for purpose in [Purpose::Apply, Purpose::Read] {
                let docs = documents(&model, &account, purpose);
                assert!(
                    docs.len() > 3,
                    "{file} {purpose:?}: {} documents",
                    docs.len()
                );
                let mut names = BTreeSet::new();
                for d in &docs {
                    assert!(
                        d.chars() <= MAX_CHARS,
                        "{file}: {} has {} characters",
                        d.name,
                        d.chars()
                    );
                    assert!(d.name.starts_with(&format!("novactl-{}-", purpose.name())));
                    assert!(names.insert(d.name.clone()), "{} twice", d.name);
                    let sids: BTreeSet<&str> = d.policy["Statement"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| s["Sid"].as_str().unwrap())
                        .collect();
                    assert_eq!(sids.len(), d.statements(), "{}: Sids repeat", d.name);
                }
                // The documents grant exactly what the unsplit statements grant.
                let mut whole = BTreeSet::new();
                for ((resources, cond), actions) in
                    expand::grants(&model, &account, purpose == Purpose::Read)
                {
                    let cond = cond.map_or(Value::Null, |(op, k, v)| json!({ op: { k: v } }));
                    for a in &actions {
                        for r in &resources {
                            whole.insert((a.clone(), r.clone(), cond.to_string()));
                        }
                    }
                }
                assert_eq!(triples(&docs), whole, "{file} {purpose:?}");
            }
        }
    }

    #[test]
    fn the_read_policy_grants_no_write_action() {
        for file in SEEDS {
            let (model, account) = seed(file);
            let read = granted_actions(&documents(&model, &account, Purpose::Read));
            let writes: Vec<&String> = read
                .iter()
                .filter(|a| looks_like_a_write(a) || !crate::permissions::is_read(a))
                .collect();
            assert!(
                writes.is_empty(),
                "{file}: writes in the read policy: {writes:?}"
            );
            // It is the apply policy's reads: the state backend's objects and key, discovery.
            for a in [
                "s3:GetObject",
                "s3:ListBucket",
                "kms:Decrypt",
                "tag:GetResources",
                "sts:GetCallerIdentity",
            ] {
                assert!(read.contains(a), "{file}: the read policy lacks {a}");
            }
            let apply = granted_actions(&documents(&model, &account, Purpose::Apply));
            assert!(read.is_subset(&apply));
            assert!(apply.iter().any(|a| looks_like_a_write(a)));
        }
    }

    #[test]
    fn a_call_that_reads_needs_only_reads() {
        for (kind, p) in expand::registry() {
            if !crate::permissions::is_read(p.call) {
                continue;
            }
            assert!(p.is_read(), "{kind}: {} reads but needs a write", p.call);
            for a in p.actions.iter().chain(p.implied.iter().map(|i| &i.action)) {
                assert!(!looks_like_a_write(a), "{kind}: {} needs {a}", p.call);
            }
        }
    }

    /// Without `account_id` the account is unknown: a role handed to a service is named in any
    /// account (`*`), never the offline stand-in `000000000000`; with it, in that account.
    #[test]
    fn pass_role_names_the_spec_account_or_any() {
        for (file, account) in [
            ("environments/prod.yaml", "*"),
            ("environments/local.yaml", "123456789012"),
        ] {
            let (model, named) = seed(file);
            assert_eq!(named, account, "{file}");
            let docs = documents(&model, &named, Purpose::Apply);
            let text =
                serde_json::to_string(&docs.iter().map(|d| &d.policy).collect::<Vec<_>>()).unwrap();
            assert!(!text.contains(OFFLINE_ACCOUNT), "{file}: {text}");
            let passed: Vec<String> = triples(&docs)
                .into_iter()
                .filter(|(a, ..)| a == "iam:PassRole")
                .map(|(_, r, _)| r)
                .collect();
            assert!(passed.len() >= 2, "{file}: {passed:?}");
            for r in passed {
                assert!(
                    r.starts_with(&format!("arn:aws:iam::{account}:role/")),
                    "{file}: {r}"
                );
            }
        }
    }

    #[test]
    fn a_group_too_large_is_split_in_parts_that_fit() {
        let actions: BTreeSet<String> = ["s3:GetBucketTagging", "s3:PutBucketTagging"]
            .map(String::from)
            .into();
        let many: BTreeSet<String> = (0..400)
            .map(|i| format!("arn:aws:s3:::novamind-prod-bucket-number-{i:04}"))
            .collect();
        let few: BTreeSet<String> = BTreeSet::from(["arn:aws:s3:::one".to_string()]);
        let parts = pack(
            "novactl-apply-s3",
            vec![
                (actions.clone(), (many.clone(), None)),
                (actions, (few, None)),
            ],
        );
        assert!(parts.len() >= 3, "{} parts", parts.len());
        let mut seen = BTreeSet::new();
        for p in &parts {
            let doc = json!({"Version": "2012-10-17", "Statement": p});
            assert!(size(&doc) <= MAX_CHARS - 40 * p.len(), "{}", size(&doc));
            for s in p {
                for r in s["Resource"].as_array().unwrap() {
                    seen.insert(r.as_str().unwrap().to_string());
                }
            }
        }
        assert_eq!(seen.len(), 401);
        assert!(many.iter().all(|r| seen.contains(r)));
    }

    #[test]
    fn statement_ids_name_their_document() {
        assert_eq!(sid("novactl-apply-kms", 3), "NovactlApplyKmsStmt3");
        assert_eq!(sid("novactl-read-s3-2", 1), "NovactlReadS3Part2Stmt1");
        assert_eq!(
            sid("novactl-apply-application-autoscaling", 1),
            "NovactlApplyApplicationAutoscalingStmt1"
        );
    }
}
