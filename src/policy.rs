//! IAM-style policy documents compared as values, not strings.
//!
//! AWS hands documents back URL-encoded (IAM), re-serialised and reordered, with one-element
//! lists collapsed to scalars. [`normalize`] maps every equivalent spelling to one value.

use serde_json::{Map, Value};

/// Keys whose value is a string-or-list of strings.
const LISTY: &[&str] = &["Action", "NotAction", "Resource", "NotResource"];

pub fn normalize(doc: &Value) -> Value {
    map_statements(doc, normalize_statement)
}

/// `doc` with every statement passed through `f` (a lone statement becomes a list of one) and
/// the statements sorted; other keys as they are.
fn map_statements(doc: &Value, f: fn(&Value) -> Value) -> Value {
    let Some(obj) = doc.as_object() else {
        return doc.clone();
    };
    let mut out = Map::new();
    for (k, v) in obj {
        let v = match k.as_str() {
            "Statement" => {
                let mut stmts: Vec<Value> = match v {
                    Value::Array(a) => a.iter().map(f).collect(),
                    other => vec![f(other)],
                };
                stmts.sort_by_key(|s| s.to_string());
                Value::Array(stmts)
            }
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    Value::Object(out)
}

fn normalize_statement(s: &Value) -> Value {
    let Some(obj) = s.as_object() else {
        return s.clone();
    };
    let mut out = Map::new();
    for (k, v) in obj {
        let v = if LISTY.contains(&k.as_str()) {
            string_set(v)
        } else if k == "Principal" || k == "NotPrincipal" {
            match v {
                Value::Object(p) => Value::Object(
                    p.iter()
                        .map(|(pk, pv)| (pk.clone(), string_set(pv)))
                        .collect(),
                ),
                other => other.clone(),
            }
        } else if k == "Condition" {
            match v {
                Value::Object(ops) => Value::Object(
                    ops.iter()
                        .map(|(op, kv)| {
                            let kv = match kv {
                                Value::Object(m) => Value::Object(
                                    m.iter()
                                        .map(|(ck, cv)| (ck.clone(), string_set(cv)))
                                        .collect(),
                                ),
                                other => other.clone(),
                            };
                            (op.clone(), kv)
                        })
                        .collect(),
                ),
                other => other.clone(),
            }
        } else {
            v.clone()
        };
        out.insert(k.clone(), v);
    }
    Value::Object(out)
}

/// A string or list of strings (or booleans, as conditions may hold) as a sorted list of
/// strings.
fn string_set(v: &Value) -> Value {
    let mut items: Vec<String> = match v {
        Value::Array(a) => a.iter().map(scalar_string).collect(),
        other => vec![scalar_string(other)],
    };
    items.sort();
    items.dedup();
    Value::Array(items.into_iter().map(Value::String).collect())
}

fn scalar_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The form a document is written in: every one-item list (in `Action`, `Resource`,
/// principals and condition values) as its plain value, the way AWS itself prints documents and
/// the way compliance scanners read them (Prowler's `s3_bucket_secure_transport_policy` accepts
/// only `"aws:SecureTransport": "false"`, not `["false"]`). Statements sorted, lists sorted.
pub fn wire(doc: &Value) -> Value {
    normalize_exact(&collapse(&normalize(doc)))
}

fn collapse(v: &Value) -> Value {
    match v {
        Value::Array(a) if a.len() == 1 && !a[0].is_object() => a[0].clone(),
        Value::Array(a) => Value::Array(a.iter().map(collapse).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    // The statement list keeps its shape whatever its length.
                    let v = if k == "Statement" {
                        match v {
                            Value::Array(a) => Value::Array(a.iter().map(collapse).collect()),
                            other => collapse(other),
                        }
                    } else {
                        collapse(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Like [`normalize`] (statements and lists sorted) but keeps each value's form: a scalar stays
/// a scalar, a list a list. Used where the form itself matters (S3 bucket policies: a
/// `["false"]` TLS condition is drift from the plain `"false"` novactl writes).
pub fn normalize_exact(doc: &Value) -> Value {
    map_statements(doc, sort_lists)
}

fn sort_lists(v: &Value) -> Value {
    match v {
        Value::Array(a) if a.iter().all(|x| !x.is_object() && !x.is_array()) => {
            let mut items: Vec<Value> = a.clone();
            items.sort_by_key(|x| x.to_string());
            items.dedup();
            Value::Array(items)
        }
        Value::Array(a) => Value::Array(a.iter().map(sort_lists).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), sort_lists(v))).collect())
        }
        other => other.clone(),
    }
}

/// Parses a policy as AWS returns it, keeping each value's form ([`normalize_exact`]).
pub fn parse_returned_exact(text: &str) -> Value {
    let parsed = serde_json::from_str::<Value>(text).or_else(|_| {
        let decoded = urlencoding::decode(text)
            .map(|c| c.into_owned())
            .unwrap_or_default();
        serde_json::from_str::<Value>(&decoded)
    });
    match parsed {
        Ok(v) => normalize_exact(&v),
        Err(_) => Value::String(text.to_string()),
    }
}

/// Parses a policy document as AWS returns it: plain JSON, or URL-encoded JSON (IAM).
pub fn parse_returned(text: &str) -> Value {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return normalize(&v);
    }
    let decoded = urlencoding::decode(text)
        .map(|c| c.into_owned())
        .unwrap_or_default();
    serde_json::from_str::<Value>(&decoded)
        .map(|v| normalize(&v))
        .unwrap_or(Value::String(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equivalent_spellings_normalize_equal() {
        let a = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*", "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Condition": {"Bool": {"aws:SecureTransport": false}}}});
        let b = json!({"Statement": [{"Principal": {"Service": ["sagemaker.amazonaws.com"]},
            "Resource": ["arn:aws:s3:::b/*"], "Action": ["s3:GetObject"], "Effect": "Allow",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}], "Version": "2012-10-17"});
        assert_eq!(normalize(&a), normalize(&b));
    }

    #[test]
    fn different_documents_stay_different() {
        let a = json!({"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"]}]});
        let b = json!({"Statement": [{"Effect": "Allow", "Action": ["s3:PutObject"]}]});
        assert_ne!(normalize(&a), normalize(&b));
    }

    #[test]
    fn wire_form_writes_one_item_lists_plain_and_exact_keeps_the_form() {
        let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny",
            "Principal": "*", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
            "Condition": {"Bool": {"aws:SecureTransport": ["false"]}}}]});
        let w = wire(&doc);
        let st = &w["Statement"][0];
        assert_eq!(
            st["Condition"]["Bool"]["aws:SecureTransport"],
            json!("false")
        );
        assert_eq!(st["Action"], json!("s3:*"));
        assert_eq!(
            st["Resource"],
            json!(["arn:aws:s3:::b", "arn:aws:s3:::b/*"])
        );
        // A one-statement document keeps its statement list.
        assert!(w["Statement"].is_array());
        // The list spelling is a different document in the exact form, the same in `normalize`.
        assert_ne!(normalize_exact(&doc), w);
        assert_eq!(normalize(&doc), normalize(&w));
        assert_eq!(parse_returned_exact(&w.to_string()), w);
    }

    #[test]
    fn url_encoded_documents_parse() {
        let enc = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(
            parse_returned(enc),
            json!({"Version": "2012-10-17", "Statement": []})
        );
    }
}
