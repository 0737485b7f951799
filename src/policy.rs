//! IAM-style policy documents compared as values, not strings.
//!
//! AWS hands documents back URL-encoded (IAM), re-serialised and reordered, with one-element
//! lists collapsed to scalars. [`normalize`] maps every equivalent spelling to one value.

use serde_json::{Map, Value};

/// Keys whose value is a string-or-list of strings.
const LISTY: &[&str] = &["Action", "NotAction", "Resource", "NotResource"];

pub fn normalize(doc: &Value) -> Value {
    let Some(obj) = doc.as_object() else {
        return doc.clone();
    };
    let mut out = Map::new();
    for (k, v) in obj {
        let v = match k.as_str() {
            "Statement" => {
                let mut stmts: Vec<Value> = match v {
                    Value::Array(a) => a.iter().map(normalize_statement).collect(),
                    other => vec![normalize_statement(other)],
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
    fn url_encoded_documents_parse() {
        let enc = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(
            parse_returned(enc),
            json!({"Version": "2012-10-17", "Statement": []})
        );
    }
}
