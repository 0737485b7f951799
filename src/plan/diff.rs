//! Attribute-level diff of desired against live state.
//!
//! Rules (the engine's side of the Reconciler contract): every top-level key of `desired` is
//! compared with the same key of the live state; a desired `null` is "not managed" and a key
//! starting with `_` is a setting, neither is compared. Objects are compared key by key so the
//! plan names the leaf that moved; lists and scalars are compared whole. Numbers compare by
//! value (`80` equals `80.0`).

use serde_json::Value;

use super::AttrChange;
use crate::spec::render::is_unknown;

pub fn changes(before: &Value, desired: &Value, replace_on: &[&str]) -> Vec<AttrChange> {
    let mut out = Vec::new();
    let Some(want) = desired.as_object() else {
        return out;
    };
    for (k, w) in want {
        if k.starts_with('_') || w.is_null() {
            continue;
        }
        let b = before.get(k).unwrap_or(&Value::Null);
        let start = out.len();
        walk(k, b, w, &mut out);
        if replace_on.contains(&k.as_str()) {
            for c in &mut out[start..] {
                c.forces_replace = true;
            }
        }
    }
    out
}

fn walk(path: &str, before: &Value, after: &Value, out: &mut Vec<AttrChange>) {
    if is_unknown(after) {
        out.push(AttrChange {
            path: path.to_string(),
            before: Some(before.clone()),
            after: Some(after.clone()),
            forces_replace: false,
        });
        return;
    }
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (k, av) in a {
                let bv = b.get(k).unwrap_or(&Value::Null);
                walk(&format!("{path}.{k}"), bv, av, out);
            }
            for (k, bv) in b {
                if !a.contains_key(k) {
                    out.push(AttrChange {
                        path: format!("{path}.{k}"),
                        before: Some(bv.clone()),
                        after: None,
                        forces_replace: false,
                    });
                }
            }
        }
        _ if json_eq(before, after) => {}
        _ => out.push(AttrChange {
            path: path.to_string(),
            before: (!before.is_null()).then(|| before.clone()),
            after: Some(after.clone()),
            forces_replace: false,
        }),
    }
}

/// Structural equality with numbers compared by value.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// The top-level attributes named by `changes`, in order, without repeats.
pub fn top_level(changes: &[AttrChange]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in changes {
        let top = c.path.split('.').next().unwrap_or(&c.path).to_string();
        if !out.contains(&top) {
            out.push(top);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Case {
        reason: &'static str,
        before: Value,
        desired: Value,
        paths: Vec<&'static str>,
    }

    #[test]
    fn diff_table() {
        let cases = vec![
            Case {
                reason: "equal values give no change",
                before: json!({"a": 1, "b": {"c": true}}),
                desired: json!({"a": 1, "b": {"c": true}}),
                paths: vec![],
            },
            Case {
                reason: "numbers compare by value",
                before: json!({"t": 80}),
                desired: json!({"t": 80.0}),
                paths: vec![],
            },
            Case {
                reason: "nested objects name the leaf",
                before: json!({"pab": {"x": true, "y": false}}),
                desired: json!({"pab": {"x": true, "y": true}}),
                paths: vec!["pab.y"],
            },
            Case {
                reason: "extra live keys inside a managed object are changes",
                before: json!({"tags": {"a": "1", "z": "9"}}),
                desired: json!({"tags": {"a": "1"}}),
                paths: vec!["tags.z"],
            },
            Case {
                reason: "null desired and _settings are not managed",
                before: json!({"policy": {"x": 1}}),
                desired: json!({"policy": null, "_window": 7}),
                paths: vec![],
            },
            Case {
                reason: "lists compare whole",
                before: json!({"l": [1, 2]}),
                desired: json!({"l": [2, 1]}),
                paths: vec!["l"],
            },
            Case {
                reason: "unknown values are always a change",
                before: json!({"k": "arn:1"}),
                desired: json!({"k": crate::spec::render::UNKNOWN}),
                paths: vec!["k"],
            },
        ];
        for c in cases {
            let got: Vec<String> = changes(&c.before, &c.desired, &[])
                .into_iter()
                .map(|a| a.path)
                .collect();
            assert_eq!(got, c.paths, "{}", c.reason);
        }
    }

    #[test]
    fn replace_on_marks_changes() {
        let ch = changes(
            &json!({"region": "a"}),
            &json!({"region": "b"}),
            &["region"],
        );
        assert!(ch[0].forces_replace);
    }
}
